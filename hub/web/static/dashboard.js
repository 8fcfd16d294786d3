// Live dashboard: each "changed" ping (a gate synced) re-fetches the server-rendered panel.
"use strict";
(function () {
  const panel = document.getElementById("panel");
  const link = document.getElementById("link");
  let busy = false, again = false;

  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const reply = await fetch(panel.dataset.panelUrl, { credentials: "same-origin", cache: "no-store" });
      if (reply.ok) {
        panel.innerHTML = await reply.text();  // our own escaped template, same origin
        panel.dataset.version = String(Number(panel.dataset.version || 0) + 1);
      }
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }

  // A stream the hub refuses (503 when all its stream slots are open) or one that answers with
  // something else (a login page) closes the EventSource for good; the browser only reconnects by
  // itself after a dropped connection or a stream the hub ended. So try again ourselves, after
  // about the hub's Retry-After, spread out so that refused tabs do not all come back at once.
  const retryMs = 1000 * Number(panel.dataset.retrySeconds || 10);

  function showLive(live) {
    link.textContent = live ? "live" : "reconnecting…";
    link.className = "badge live-link " + (live ? "online" : "offline");
    document.body.dataset.live = live ? "1" : "";
  }

  function connect() {
    const events = new EventSource(panel.dataset.streamUrl);
    events.addEventListener("changed", refresh);
    events.addEventListener("tick", refresh);
    events.onopen = () => showLive(true);
    events.onerror = () => {
      showLive(false);
      if (events.readyState === EventSource.CLOSED) {
        setTimeout(connect, retryMs * (0.5 + Math.random()));
      }
    };
  }

  connect();
})();
