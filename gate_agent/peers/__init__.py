"""Gate-to-gate exchange of admissions and exits on the LAN (docs/peers.md).

While the hub is unreachable, gates of one event still learn each other's movements
directly: each gate sends its own admissions and exits, signed with its device key, to
the event's other gates, and accepts only messages signed by a device the hub listed in
its configuration (the roster, ``peers.json``). Received movements are folded into
gate.db by the offline store like pulled ones (once per scan id), so the hub, once back,
still receives each scan once: from the gate that made it.
"""

from .messages import PeerRefused, sign_message, verify_message
from .roster import Peer, Roster, install_roster, load_roster, verify_roster

__all__ = [
    "Peer",
    "PeerRefused",
    "Roster",
    "install_roster",
    "load_roster",
    "sign_message",
    "verify_message",
    "verify_roster",
]
