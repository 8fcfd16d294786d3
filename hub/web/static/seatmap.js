// Seat map: pick seats, keep colours current by polling the seat JSON every 2 s.
(function () {
  const form = document.getElementById("seat-form");
  if (!form) return;
  const max = parseInt(form.dataset.max, 10) || 20;
  const inputs = document.getElementById("picked-inputs");
  const count = document.getElementById("picked-count");
  const submit = document.getElementById("hold-picked");
  const updated = document.getElementById("map-updated");
  const buttons = new Map();
  form.querySelectorAll("button.seat").forEach((b) => buttons.set(b.dataset.index, b));
  const picked = new Set();

  // Size seats so the widest row fits (hub.css reads --cols); say so when the map still scrolls sideways.
  const map = document.getElementById("seatmap");
  const hint = document.getElementById("map-scroll-hint");
  const limit = document.getElementById("pick-limit");
  const widest = Math.max(1, ...[...map.querySelectorAll(".row")].map((row) => row.querySelectorAll("button.seat").length));
  map.style.setProperty("--cols", String(widest));
  function showScrollHint() { hint.hidden = map.scrollWidth <= map.clientWidth + 1; }
  window.addEventListener("resize", showScrollHint);
  showScrollHint();

  function render() {
    inputs.replaceChildren(...[...picked].map((index) => {
      const input = document.createElement("input");
      input.type = "hidden"; input.name = "seat"; input.value = index;
      return input;
    }));
    count.textContent = picked.size;
    submit.disabled = picked.size === 0;
  }

  form.addEventListener("click", (event) => {
    const seat = event.target.closest("button.seat");
    if (!seat || seat.disabled) return;
    const index = seat.dataset.index;
    limit.hidden = true;
    if (picked.has(index)) {
      picked.delete(index);
    } else if (picked.size < max) {
      picked.add(index);
    } else {
      limit.hidden = false;  // say why the seat did not turn blue
    }
    seat.classList.toggle("picked", picked.has(index));
    seat.setAttribute("aria-pressed", picked.has(index));
    render();
  });

  async function refresh() {
    try {
      const response = await fetch(form.dataset.seatsUrl, { cache: "no-store" });
      if (!response.ok) throw new Error(response.status);
      const data = await response.json();
      for (const seat of data.seats) {
        const button = buttons.get(String(seat.index));
        if (!button) continue;
        for (const status of ["available", "held", "sold"]) button.classList.toggle(status, seat.status === status);
        button.disabled = seat.status !== "available";
        if (button.disabled && picked.delete(String(seat.index))) {
          button.classList.remove("picked");
          button.setAttribute("aria-pressed", "false");
          render();
        }
      }
      updated.textContent = "updated " + new Date().toLocaleTimeString();
      form.dataset.refreshed = String((parseInt(form.dataset.refreshed || "0", 10)) + 1);
    } catch (error) {
      updated.textContent = "offline, retrying";
    }
  }
  setInterval(refresh, 2000);
  render();
})();
