// Seat map: drawn from the cached layout and status (/api/v1/events/{id}/seatmap/...), kept current
// from the stream of changes (server-sent events) when the hub has one, else by asking for the changes
// since our version every 2 s. Either way a version we cannot follow from makes us reload the status.
(function () {
  const form = document.getElementById("seat-form");
  if (!form) return;
  const max = parseInt(form.dataset.max, 10) || 20;
  const inputs = document.getElementById("picked-inputs");
  const count = document.getElementById("picked-count");
  const submit = document.getElementById("hold-picked");
  const updated = document.getElementById("map-updated");
  const map = document.getElementById("seatmap");
  const hint = document.getElementById("map-scroll-hint");
  const limit = document.getElementById("pick-limit");
  const POLL_MS = 2000;
  const STREAM_RETRY_MS = 30000;  // after the stream failed, poll and try it again this much later
  const buttons = new Map();  // seat index (string) -> button
  const picked = new Set();
  let layoutTag = null;
  let version = null;
  let stream = null;
  let pollTimer = null;

  async function getJSON(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(url + ": " + response.status);
    return response.json();
  }

  function seatButton(index, section, row, label) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "seat";
    button.dataset.index = String(index);
    button.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-label", "Section " + section + ", row " + row + ", seat " + label);
    button.textContent = label;
    buttons.set(String(index), button);
    return button;
  }

  function draw(layout) {
    buttons.clear();
    const parts = [map.querySelector(".stage")];
    for (const section of layout.sections) {
      const box = document.createElement("div");
      box.className = "section";
      const name = document.createElement("strong");
      name.textContent = section.name;
      box.append(name);
      for (const row of section.rows) {
        const line = document.createElement("div");
        line.className = "row";
        const rowName = document.createElement("span");
        rowName.className = "row-name";
        rowName.textContent = row.name;
        line.append(rowName);
        row.seats.forEach((label, i) => {
          const index = row.indexes ? row.indexes[i] : row.first + i;
          line.append(seatButton(index, section.name, row.name, label));
        });
        box.append(line);
      }
      parts.push(box);
    }
    map.replaceChildren(...parts);
    layoutTag = layout.layout;
    // Size seats so the widest row fits (hub.css reads --cols); say so when the map still scrolls sideways.
    const widest = Math.max(1, ...[...map.querySelectorAll(".row")].map((row) => row.querySelectorAll("button.seat").length));
    map.style.setProperty("--cols", String(widest));
    showScrollHint();
  }

  function showScrollHint() { hint.hidden = map.scrollWidth <= map.clientWidth + 1; }
  window.addEventListener("resize", showScrollHint);

  const NAMES = { a: "available", h: "held", s: "sold" };
  function setSeat(index, code) {
    const button = buttons.get(String(index));
    const status = NAMES[code];
    if (!button || !status) return;
    for (const name of ["available", "held", "sold"]) button.classList.toggle(name, name === status);
    button.disabled = status !== "available";
    if (button.disabled && picked.delete(String(index))) {
      button.classList.remove("picked");
      button.setAttribute("aria-pressed", "false");
      render();
    }
  }

  function applied(newVersion) {
    version = newVersion;
    map.dataset.version = version;
    map.setAttribute("aria-busy", "false");
    updated.textContent = (stream ? "live, " : "") + "updated " + new Date().toLocaleTimeString();
    form.dataset.refreshed = String((parseInt(form.dataset.refreshed || "0", 10)) + 1);
  }

  // The whole status (and the layout, when the status names another one).
  async function reload() {
    const status = await getJSON(form.dataset.statusUrl);
    if (status.layout !== layoutTag) {
      draw(await getJSON(form.dataset.layoutUrl + "?v=" + encodeURIComponent(status.layout)));
    }
    for (let i = 0; i < status.status.length; i++) setSeat(i, status.status[i]);
    applied(status.version);
  }

  function applyChanges(data) {
    if (data.layout !== layoutTag) return false;
    for (const [index, code] of data.changes) setSeat(index, code);
    applied(data.version);
    return true;
  }

  async function poll() {
    pollTimer = null;
    try {
      const data = await getJSON(form.dataset.changesUrl + "?since=" + encodeURIComponent(version));
      if (data.reload || !applyChanges(data)) await reload();
    } catch (error) {
      updated.textContent = "offline, retrying";
    }
    if (!stream) pollTimer = setTimeout(poll, POLL_MS);
  }

  function openStream() {
    if (!form.dataset.streamUrl || !window.EventSource) return false;
    if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; }
    const source = new EventSource(form.dataset.streamUrl + "?since=" + encodeURIComponent(version));
    stream = source;
    let failures = 0;
    source.addEventListener("changes", (event) => {
      failures = 0;
      const data = JSON.parse(event.data);
      if (!applyChanges(data)) source.dispatchEvent(new Event("reload"));
    });
    source.addEventListener("reload", async () => {
      source.close();
      stream = null;
      try { await reload(); } catch (error) { /* the stream or the poll below tries again */ }
      if (!openStream()) poll();
    });
    source.addEventListener("error", () => {
      failures += 1;  // EventSource reconnects by itself (from its last version); give up after a few
      if (source.readyState === EventSource.CLOSED || failures > 3) {
        source.close();
        if (stream === source) stream = null;
        poll();
        setTimeout(() => { if (!stream) openStream(); }, STREAM_RETRY_MS);
      }
    });
    return true;
  }

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

  async function start() {
    try {
      await reload();
    } catch (error) {
      updated.textContent = "offline, retrying";
      setTimeout(start, POLL_MS);
      return;
    }
    if (!openStream()) pollTimer = setTimeout(poll, POLL_MS);
  }
  render();
  start();
})();
