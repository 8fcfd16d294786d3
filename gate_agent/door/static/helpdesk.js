// Search and supervisor actions at the door (docs/operations.md, "A way out of every mistake").
// door.js renders verdicts and announces each one with a "door:verdict" event; this file adds the
// ticket type and name under it, guest search with check-in, and undo / force with the supervisor PIN.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const FORCIBLE = new Set(["already_admitted", "revoked", "wrong_zone", "not_yet_valid", "expired"]);
  const DETAILS_FOR_MS = 8000;  // as long as door.js shows the verdict
  let last = null;  // the verdict on screen
  let detailsTimer = null;
  let pending = null;  // {kind: "annul" | "force", ticket_id}

  async function post(path, body) {
    const reply = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const data = await reply.json();
    if (!reply.ok) throw new Error(data.error ? data.error.message : "the gate refused");
    return data;
  }

  function showVerdict(r) {
    last = r;
    // a festival gate or a double bill: which event, by its title
    const event = r.several_events && r.verdict !== "wrong_event" ? r.event_name : null;
    $("details").textContent = [event, r.ticket_type_name, r.attendee_name].filter(Boolean).join(" · ");
    const canUndo = r.verdict === "admitted" && r.supervisor;
    const canForce = FORCIBLE.has(r.verdict) && r.supervisor && r.ticket_id != null;
    $("undo").hidden = !canUndo;
    $("force").hidden = !canForce;
    $("supervisor-actions").hidden = !(canUndo || canForce);
    clearTimeout(detailsTimer);
    detailsTimer = setTimeout(hideDetails, DETAILS_FOR_MS);
  }
  function hideDetails() {
    $("details").textContent = "";
    $("supervisor-actions").hidden = true;
  }
  document.addEventListener("door:verdict", (e) => showVerdict(e.detail));
  // door.js went back to its idle screen, or the agent fell silent: the verdict's details are stale
  document.addEventListener("door:idle", () => { if (!$("supervisor").open) { clearTimeout(detailsTimer); hideDetails(); } });

  function askSupervisor(kind, ticketId, title) {
    pending = { kind, ticket_id: ticketId };
    $("supervisor-title").textContent = title;
    $("reason-row").hidden = kind !== "force";
    $("supervisor-reason").value = "";
    $("supervisor-pin").value = "";
    $("supervisor-error").textContent = "";
    clearTimeout(detailsTimer);  // keep the buttons while the supervisor decides
    $("supervisor").showModal();
    (kind === "force" ? $("supervisor-reason") : $("supervisor-pin")).focus();
  }
  $("undo").addEventListener("click", () => askSupervisor("annul", last.ticket_id, "Undo the admission of ticket #" + last.ticket_id));
  $("force").addEventListener("click", () => askSupervisor("force", last.ticket_id, "Let ticket #" + last.ticket_id + " in anyway"));
  $("supervisor-cancel").addEventListener("click", () => $("supervisor").close());
  $("supervisor-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { ticket_id: pending.ticket_id, pin: $("supervisor-pin").value };
    if (pending.kind === "force") body.reason = $("supervisor-reason").value;
    try {
      await post(pending.kind === "force" ? "/api/force" : "/api/annul", body);  // the verdict arrives by door.js
      $("supervisor").close();
    } catch (err) {
      $("supervisor-error").textContent = err.message;
    }
  });

  $("search").addEventListener("submit", async (e) => {
    e.preventDefault();
    const list = $("search-results");
    const reply = await fetch("/api/search?q=" + encodeURIComponent($("search-q").value));
    const data = await reply.json();
    if (!reply.ok) { list.replaceChildren(Object.assign(document.createElement("li"), { textContent: data.error.message })); return; }
    if (!data.items.length) { list.replaceChildren(Object.assign(document.createElement("li"), { textContent: "Nobody found on this gate's list" })); return; }
    list.replaceChildren(...data.items.map((t) => {
      const li = document.createElement("li");
      li.dataset.ticketId = t.ticket_id;
      li.className = t.inside ? "inside" : "";
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = `${t.name} · #${t.ticket_id} · order ${t.order} · ${t.short_code}` + (t.ticket_type_name ? " · " + t.ticket_type_name : "");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Check in";
      button.addEventListener("click", async () => {
        try { await post("/api/checkin", { ticket_id: t.ticket_id }); list.replaceChildren(); $("search-q").value = ""; }
        catch (err) { who.textContent += " — " + err.message; }
      });
      li.append(who, button);
      return li;
    }));
  });
})();
