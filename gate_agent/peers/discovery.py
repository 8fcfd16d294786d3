"""Finding the event's other gates by mDNS (python-zeroconf): announce this gate, browse for others.

A gate announces ``ticketgate-<key fingerprint>`` of type ``common.protocol.PEER_MDNS_TYPE``
with its peer port and the TXT properties ``key`` (the fingerprint of its device key,
``roster.key_fingerprint``), ``device_id`` and ``event_id``. The service sends only to an
announcement whose key is on its roster (device ids repeat across hubs; keys do not). What
the browser finds is still only a hint where to send: who may speak is decided by the
roster and the signature, so an announcement by anyone else gets no message accepted (a
forged one could receive this gate's own movements: docs/peers.md, "What travels over the LAN").
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading

from common.protocol import PEER_MDNS_TYPE

log = logging.getLogger(__name__)

INFO_ATTEMPTS = 5  # questions for an announced gate's address, 3 s each, before it is left for its next announcement


class MdnsPeers:
    """Announces this gate and keeps the addresses of the gates it finds, by key fingerprint."""

    def __init__(self, device_id: int, fingerprint: str, event_ids: set[int], host: str, port: int):
        self.device_id = device_id
        self.fingerprint = fingerprint
        self.event_ids = event_ids
        self.host = host
        self.port = port
        self._found: dict[str, str] = {}
        self._lock = threading.Lock()
        self._zeroconf = None
        self._browser = None

    def addresses(self) -> dict[str, str]:
        with self._lock:
            return dict(self._found)

    def start(self) -> MdnsPeers:
        from zeroconf import InterfaceChoice, IPVersion, ServiceBrowser, ServiceInfo, Zeroconf, get_all_addresses

        loopback = ipaddress.ip_address(self.host).is_loopback if _is_ip(self.host) else False
        bound = self.host not in ("0.0.0.0", "")
        # on the interface the peer server listens on: a loopback gate never multicasts on the LAN
        interfaces = [self.host] if bound else InterfaceChoice.All
        # its own loop thread, never a loop the calling thread may have (the blocking calls below need it)
        self._zeroconf = Zeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only, use_asyncio=False)
        addresses = [self.host] if bound else [a for a in get_all_addresses() if not a.startswith("127.")]
        info = ServiceInfo(
            PEER_MDNS_TYPE,
            f"ticketgate-{self.fingerprint}.{PEER_MDNS_TYPE}",
            addresses=[socket.inet_aton(a) for a in addresses],
            port=self.port,
            properties={
                "key": self.fingerprint,
                "device_id": str(self.device_id),
                "event_id": ",".join(map(str, sorted(self.event_ids))),
            },
        )
        self._zeroconf.register_service(info)
        self._browser = ServiceBrowser(self._zeroconf, PEER_MDNS_TYPE, handlers=[self._on_change])
        log.info("announced on mDNS as %s (%s)", info.name, "loopback only" if loopback else ", ".join(addresses))
        return self

    def _on_change(self, zeroconf, service_type: str, name: str, state_change) -> None:
        from zeroconf import ServiceStateChange

        fingerprint = name.removeprefix("ticketgate-").split(".", 1)[0]
        if state_change is ServiceStateChange.Removed:
            with self._lock:
                self._found.pop(fingerprint, None)
            return
        # the answer to our question can be late on a busy gate: ask again rather than lose the peer
        for _ in range(INFO_ATTEMPTS):
            info = zeroconf.get_service_info(service_type, name, timeout=3000)
            if info is not None:
                break
        else:
            log.warning("a gate announced %s on mDNS but did not answer for its address", name)
            return
        announced = (info.properties or {}).get(b"key", b"").decode("ascii", "replace")
        addresses = info.parsed_addresses()
        if announced != fingerprint or fingerprint == self.fingerprint or not addresses or not info.port:
            return
        with self._lock:
            self._found[fingerprint] = f"{addresses[0]}:{info.port}"
        log.info("found a gate at %s by mDNS (key %s)", self._found[fingerprint], fingerprint)

    def stop(self) -> None:
        if self._zeroconf is not None:
            if self._browser is not None:
                self._browser.cancel()
            self._zeroconf.unregister_all_services()
            self._zeroconf.close()
            self._zeroconf = None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
