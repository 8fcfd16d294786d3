// Hold countdown: shows the time left and disables buying when the hold has expired.
(function () {
  const box = document.getElementById("hold-timer");
  if (!box) return;
  // Count down the seconds the hub said were left, from when the page loaded: the phone's own clock may be off.
  const expires = Date.now() + 1000 * parseInt(box.dataset.secondsLeft, 10);
  const label = document.getElementById("countdown");
  const buy = document.getElementById("buy");
  function tick() {
    const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
    label.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
    if (left === 0) {
      box.textContent = box.dataset.expiredText || "Your cart ran out of time. Go back to the event to pick seats again.";
      box.classList.add("flash", "error");
      if (buy) buy.disabled = true;
      clearInterval(timer);
    }
  }
  const timer = setInterval(tick, 1000);
  tick();
})();
