// Seat map: drawn from the cached layout and status (/api/v1/events/{id}/seatmap/...), kept current
// from the stream of changes (server-sent events) when the hub has one, else by asking for the changes
// since our version every 2 s. Either way a version we cannot follow from makes us reload the status.
//
// The buyer's cart: seats the cart already holds (data-mine, from the page) show as theirs, picked and
// changeable, although the status calls them held. A big hall is drawn a part at a time (tabs above the
// map: a section, or rows of a huge section), so a phone draws about a thousand seats, not ten thousand;
// picks in other parts are kept.
(function () {
  const form = document.getElementById("seat-form");
  if (!form) return;
  const max = parseInt(form.dataset.max, 10) || 20;
  const currency = form.dataset.currency || "EUR";
  const choices = JSON.parse(form.dataset.choices || "{}");  // section ("" = every section) -> [{id, name, price, label}]
  const mine = new Map(Object.entries(JSON.parse(form.dataset.mine || "{}")));  // seat index -> ticket type id
  const inputs = document.getElementById("picked-inputs");
  const list = document.getElementById("picked-list");
  const count = document.getElementById("picked-count");
  const noun = document.getElementById("picked-noun");
  const total = document.getElementById("picked-total");
  const submit = document.getElementById("hold-picked");
  const updated = document.getElementById("map-updated");
  const map = document.getElementById("seatmap");
  const hint = document.getElementById("map-scroll-hint");
  const limit = document.getElementById("pick-limit");
  const info = document.getElementById("seat-info");
  const tabs = document.getElementById("section-tabs");
  const priceLegend = document.getElementById("price-legend");
  const POLL_MS = 2000;
  const STREAM_RETRY_MS = 30000;  // after the stream failed, poll and try it again this much later
  const SECTION_FIRST_SEATS = 1500;  // a bigger map is drawn one part at a time
  const PART_SEATS = 1000;  // ... a part being a section, or as many of a section's rows as stay under this
  const LEVELS = 4;  // price-level colours (hub.css .level-0 ... .level-3)
  const buttons = new Map();  // seat index (string) -> button, for the seats drawn
  const seats = new Map();  // seat index (string) -> {section, row, label}
  const picked = new Map();  // seat index (string) -> chosen ticket type id (null: the cheapest)
  const NAMES = { a: "available", h: "held", s: "sold" };
  let codes = "";  // the status: one character per seat index
  let layout = null;
  let parts = [];  // [{name, section, rows}]: what one tab draws
  let shown = null;  // the index of the part drawn (big maps), else null: all
  let levels = [];  // distinct "from" prices, cheapest first
  let version = null;
  let stream = null;
  let pollTimer = null;

  for (const [index, type] of mine) picked.set(index, type);
  for (const index of JSON.parse(form.dataset.picks || "[]")) picked.set(String(index), null);

  // Amounts as the hub writes them (hub/services/money.py format_money, CLDR's English: "€12.50",
  // "¥21,900"): the browser's Intl knows each currency's symbol and decimal places.
  const moneyFormat = new Intl.NumberFormat("en", { style: "currency", currency: currency });
  const minorUnits = 10 ** moneyFormat.resolvedOptions().maximumFractionDigits;
  function money(minor) {
    return moneyFormat.format(minor / minorUnits);
  }

  async function getJSON(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(url + ": " + response.status);
    return response.json();
  }

  function typesFor(section) {
    return choices[section] || choices[""] || [];
  }

  function typeOf(index) {
    const options = typesFor(seats.get(index).section);
    const chosen = picked.get(index);
    return options.find((t) => t.id === chosen) || options[0] || null;
  }

  // What the seat is to this buyer: "yours" for the cart's own seats and the picks.
  function statusOf(index) {
    const code = codes[parseInt(index, 10)];
    if (code === "h" && mine.has(index)) return "yours";
    return NAMES[code] || "available";
  }

  function describe(index) {
    const seat = seats.get(index);
    const from = typesFor(seat.section)[0];
    const status = picked.has(index) ? "yours" : statusOf(index);
    return "Section " + seat.section + ", row " + seat.row + ", seat " + seat.label + ", " + status +
      (from ? ", " + (typesFor(seat.section).length > 1 ? "from " : "") + money(from.price) : "");
  }

  function seatButton(index, section, row, label, column) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "seat";
    button.dataset.index = index;
    button.textContent = label;
    if (column) button.style.gridColumn = String(column);
    const from = typesFor(section)[0];
    if (from) button.classList.add("level-" + Math.min(LEVELS - 1, levels.indexOf(from.price)));
    buttons.set(index, button);
    return button;
  }

  // A row keeps its real offsets when its seats are numbered: seat 2 sits under seat 2 of the row before.
  function columns(section) {
    const numbers = section.rows.flatMap((row) => row.seats.map(Number));
    if (!numbers.every((n) => Number.isInteger(n) && n >= 0 && n < 10000)) return null;
    return Math.min(...numbers);
  }

  function learn(newLayout) {
    layout = newLayout;
    seats.clear();
    for (const section of layout.sections) {
      for (const row of section.rows) {
        row.seats.forEach((label, i) => {
          const index = String(row.indexes ? row.indexes[i] : row.first + i);
          seats.set(index, { section: section.name, row: row.name, label });
        });
      }
    }
    levels = [...new Set(layout.sections.map((s) => (typesFor(s.name)[0] || {}).price).filter((p) => p !== undefined))]
      .sort((a, b) => a - b);
    priceLegend.replaceChildren(...levels.slice(0, LEVELS).map((price, i) => {
      const span = document.createElement("span");
      span.className = "l-level-" + i;
      span.textContent = (i === LEVELS - 1 && levels.length > LEVELS ? "from " : "") + money(price);
      return span;
    }));
    const big = layout.num_seats > SECTION_FIRST_SEATS;
    tabs.hidden = !big;
    parts = [];
    for (const section of layout.sections) {
      const chunks = [];
      for (const row of section.rows) {
        const last = chunks[chunks.length - 1];
        if (last && (!big || last.size + row.seats.length <= PART_SEATS)) {
          last.rows.push(row);
          last.size += row.seats.length;
        } else {
          chunks.push({ rows: [row], size: row.seats.length });
        }
      }
      for (const chunk of chunks) {
        const name = chunks.length === 1 ? section.name :
          section.name + " · rows " + chunk.rows[0].name + "–" + chunk.rows[chunk.rows.length - 1].name;
        parts.push({ name, section, rows: chunk.rows });
      }
    }
    if (!big) {
      shown = null;
    } else {
      const first = [...picked.keys()].map((i) => seats.get(i)).find(Boolean);
      const home = first ? parts.findIndex((p) => p.section.name === first.section &&
        p.rows.some((r) => r.name === first.row)) : 0;
      if (shown === null || shown >= parts.length) shown = Math.max(0, home);
      tabs.replaceChildren(...parts.map((part, i) => {
        const tab = document.createElement("button");
        tab.type = "button";
        tab.className = "section-tab secondary";
        tab.dataset.part = String(i);
        tab.textContent = part.name;
        return tab;
      }));
    }
  }

  function draw() {
    buttons.clear();
    const boxes = [map.querySelector(".stage")];
    let widest = 1;
    for (const [i, part] of parts.entries()) {
      if (shown !== null && i !== shown) continue;
      const section = part.section;
      const box = document.createElement("div");
      box.className = "section";
      const name = document.createElement("strong");
      name.textContent = part.name;
      box.append(name);
      const offset = columns(section);
      for (const row of part.rows) {
        const line = document.createElement("div");
        line.className = "row";
        line.setAttribute("role", "group");
        line.setAttribute("aria-label", "Section " + section.name + ", row " + row.name);
        const rowName = document.createElement("span");
        rowName.className = "row-name";
        rowName.textContent = row.name;
        line.append(rowName);
        row.seats.forEach((label, i) => {
          const index = String(row.indexes ? row.indexes[i] : row.first + i);
          const column = offset === null ? i + 1 : Number(label) - offset + 1;
          widest = Math.max(widest, column);
          line.append(seatButton(index, section.name, row.name, label, column + 1));
        });
        box.append(line);
      }
      boxes.push(box);
    }
    map.replaceChildren(...boxes);
    for (const tab of tabs.children) tab.setAttribute("aria-pressed", String(Number(tab.dataset.part) === shown));
    // Size seats so the widest row fits (hub.css reads --cols), never under 24 px; say so when the map scrolls sideways.
    map.style.setProperty("--cols", String(widest));
    for (const index of buttons.keys()) paint(index);
    showScrollHint();
  }

  function showScrollHint() { hint.hidden = map.scrollWidth <= map.clientWidth + 1; }
  window.addEventListener("resize", showScrollHint);

  function paint(index) {
    const button = buttons.get(index);
    if (!button) return;
    const status = statusOf(index);
    for (const name of ["available", "held", "sold"]) button.classList.toggle(name, name === status);
    button.classList.toggle("mine", status === "yours");
    button.classList.toggle("picked", picked.has(index));
    button.setAttribute("aria-pressed", String(picked.has(index)));
    button.disabled = status !== "available" && status !== "yours";
    const text = describe(index);
    button.setAttribute("aria-label", text);
    button.title = text;
  }

  function setSeat(index, code) {
    index = String(index);
    if (!seats.has(index) || !NAMES[code]) return;
    if (code !== "h") mine.delete(index);  // the cart let it go (sold by us, or ran out)
    const status = statusOf(index);
    if (status !== "available" && status !== "yours" && picked.delete(index)) render();
    paint(index);
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
    if (!layout || status.layout !== layout.layout) {
      learn(await getJSON(form.dataset.layoutUrl + "?v=" + encodeURIComponent(status.layout)));
      codes = status.status;
      for (const index of [...picked.keys()]) if (!seats.has(index)) picked.delete(index);
      draw();
    } else {
      codes = status.status;
      for (const index of seats.keys()) setSeat(index, codes[parseInt(index, 10)]);
    }
    for (const index of [...picked.keys()]) setSeat(index, codes[parseInt(index, 10)]);
    render();
    applied(status.version);
  }

  function applyChanges(data) {
    if (!layout || data.layout !== layout.layout) return false;
    const next = codes.split("");
    for (const [index, code] of data.changes) next[index] = code;
    codes = next.join("");
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

  // The picks: hidden inputs for the form, a list with each seat's ticket type and price, the bar's total.
  function render() {
    const order = [...picked.keys()].filter((index) => seats.has(index)).sort((a, b) => a - b);
    inputs.replaceChildren(...order.map((index) => {
      const input = document.createElement("input");
      input.type = "hidden"; input.name = "seat"; input.value = index;
      return input;
    }));
    list.replaceChildren(...order.map((index) => {
      const seat = seats.get(index);
      const item = document.createElement("li");
      item.dataset.index = index;
      const label = document.createElement("span");
      label.className = "picked-seat";
      label.textContent = "Section " + seat.section + " · Row " + seat.row + " · Seat " + seat.label;
      item.append(label);
      const options = typesFor(seat.section);
      const type = typeOf(index);
      if (options.length > 1) {
        const select = document.createElement("select");
        select.name = "type-" + index;
        select.className = "seat-type";
        select.setAttribute("aria-label", "Ticket type for " + label.textContent);
        for (const option of options) select.add(new Option(option.label, String(option.id), false, option === type));
        item.append(select);
      } else if (type) {
        const price = document.createElement("span");
        price.className = "seat-price";
        price.textContent = type.label;
        item.append(price);
      }
      return item;
    }));
    const sum = order.reduce((cents, index) => cents + ((typeOf(index) || {}).price || 0), 0);
    count.textContent = picked.size;
    noun.textContent = picked.size === 1 ? "seat" : "seats";
    total.textContent = money(sum);
    submit.disabled = picked.size === 0;
  }

  list.addEventListener("change", (event) => {
    const select = event.target.closest("select.seat-type");
    if (!select) return;
    picked.set(select.closest("li").dataset.index, parseInt(select.value, 10));
    render();
  });

  tabs.addEventListener("click", (event) => {
    const tab = event.target.closest("button.section-tab");
    if (!tab) return;
    shown = Number(tab.dataset.part);
    draw();
  });

  map.addEventListener("click", (event) => {
    const seat = event.target.closest("button.seat");
    if (!seat || seat.disabled) return;
    const index = seat.dataset.index;
    limit.hidden = true;
    if (picked.has(index)) {
      picked.delete(index);
    } else if (picked.size < max) {
      picked.set(index, null);
    } else {
      limit.hidden = false;  // say why the seat did not turn blue
    }
    paint(index);
    info.textContent = describe(index);  // a phone has no hover: say what was tapped, with its price
    render();
  });

  // Arrow keys move between seats: left and right along the row, up and down to the nearest seat of the next row.
  map.addEventListener("keydown", (event) => {
    const seat = event.target.closest("button.seat");
    if (!seat || !["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(event.key)) return;
    let target = null;
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      const sibling = event.key === "ArrowLeft" ? "previousElementSibling" : "nextElementSibling";
      target = seat[sibling];
      if (target && !target.matches("button.seat")) target = null;
    } else {
      const rows = [...map.querySelectorAll(".row")];
      const next = rows[rows.indexOf(seat.parentElement) + (event.key === "ArrowUp" ? -1 : 1)];
      if (next) {
        const x = seat.getBoundingClientRect().left;
        const candidates = [...next.querySelectorAll("button.seat")];
        target = candidates.reduce((best, b) =>
          !best || Math.abs(b.getBoundingClientRect().left - x) < Math.abs(best.getBoundingClientRect().left - x) ? b : best, null);
      }
    }
    if (target) { event.preventDefault(); target.focus(); }
  });

  // Back from checkout may show this page from the browser's memory: load it again, so the cart shows as it is now.
  window.addEventListener("pageshow", (event) => { if (event.persisted) window.location.reload(); });

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
