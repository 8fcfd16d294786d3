// Waiting room: ask the hub for this browser's place when it says to (soon near the front, seldom far
// back), show the people ahead and the estimated wait, and step in when the turn has come.
(function () {
  const box = document.getElementById("queue");
  if (!box) return;
  const ahead = document.getElementById("queue-ahead");
  const wait = document.getElementById("queue-wait");
  const updated = document.getElementById("queue-updated");

  function waitText(seconds) {
    if (seconds === null) return "paused for now";
    if (seconds < 60) return "less than a minute";
    if (seconds < 3600) return "about " + Math.ceil(seconds / 60) + " min";
    return "about " + (seconds / 3600).toFixed(1) + " h";
  }

  function show(status) {
    if (status.position === null) {
      ahead.textContent = "drawn when sales open";
    } else {
      ahead.textContent = String(status.ahead);
      wait.textContent = waitText(status.estimated_wait_seconds);
    }
    updated.textContent = "Updated " + new Date().toLocaleTimeString();
  }

  async function ask() {
    let next = 10;
    try {
      const response = await fetch(box.dataset.statusUrl, {headers: {"X-Queue-Ticket": box.dataset.ticket},
                                                            cache: "no-store"});
      if (response.status === 403) {  // the ticket is no longer good (the hub's key changed): start again
        window.location.reload();
        return;
      }
      if (response.ok) {
        const status = await response.json();
        if (status.status === "admitted") { window.location.assign(box.dataset.enterUrl); return; }
        if (status.status === "off") { window.location.assign(box.dataset.eventUrl); return; }
        show(status);
        next = status.poll_after_seconds;
      } else {
        next = parseInt(response.headers.get("Retry-After") || "10", 10);
      }
    } catch (error) {
      updated.textContent = "Connection lost; trying again shortly. Your place is kept.";
    }
    setTimeout(ask, 1000 * next);
  }

  setTimeout(ask, 1000 * (parseInt(box.dataset.pollAfter, 10) || 2));
})();
