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

  const events = new EventSource(panel.dataset.streamUrl);
  events.addEventListener("changed", refresh);
  events.addEventListener("tick", refresh);
  events.onopen = () => { link.textContent = "live"; link.className = "badge live-link online"; document.body.dataset.live = "1"; };
  events.onerror = () => { link.textContent = "reconnecting…"; link.className = "badge live-link offline"; document.body.dataset.live = ""; };
})();
