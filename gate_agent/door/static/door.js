// Door screen: verdicts arrive by server-sent events; the manual field posts to the same pipeline.
"use strict";
const HEADLINES = { green: "Admit", red: "Stop", amber: "Check" };
const IDLE_AFTER_MS = 8000;
const $ = (id) => document.getElementById(id);
let idleTimer = null;
let lastSeq = 0;

function renderVerdict(r) {
  if (r.seq <= lastSeq) return;  // the same scan can come from SSE and the POST reply
  lastSeq = r.seq;
  const panel = $("panel");
  panel.className = "panel " + r.colour;
  panel.dataset.verdict = r.verdict;
  panel.dataset.scanId = r.scan_id;
  $("headline").textContent = HEADLINES[r.colour] || r.verdict;
  $("message").textContent = r.message;
  const parts = [];
  if (r.seat_label && !r.message.includes(r.seat_label)) parts.push(r.seat_label);
  if (r.zones && r.zones.length) parts.push("Zone " + r.zones.join(", "));
  $("seat").textContent = parts.join(" · ");
  document.dispatchEvent(new CustomEvent("door:verdict", { detail: r }));  // helpdesk.js: type, name, undo
  beep(r.colour);
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    panel.className = "panel idle";
    panel.dataset.verdict = "";
    $("headline").textContent = "Ready";
    $("message").textContent = "Show the ticket QR to the camera";
    $("seat").textContent = "";
  }, IDLE_AFTER_MS);
}

function renderState(s) {
  $("count").textContent = s.direction === "exit" ? s.exits : s.admitted;
  const badge = $("badge");
  badge.textContent = s.device_revoked ? "device revoked" : (s.online ? "online" : "offline")
    + (s.backlog ? " · " + s.backlog + " to sync" : "")
    + (!s.online && s.last_sync_at ? " · last sync " + new Date(s.last_sync_at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }) : "");
  badge.className = "badge " + (s.online && !s.device_revoked ? "online" : "offline");
  const list = $("recent");
  list.replaceChildren(...s.recent.map((scan) => {
    const li = document.createElement("li");
    li.className = scan.colour;
    const when = document.createElement("time");
    const at = new Date(scan.at);  // "invalid time" for a time a broken clock recorded
    when.textContent = isNaN(at) ? "—" : at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    const what = document.createElement("span");
    what.textContent = scan.verdict.replace(/_/g, " ") + (scan.ticket_id != null ? " #" + scan.ticket_id : "");
    li.append(when, what);
    return li;
  }));
}

function connect() {
  const events = new EventSource("/events");
  events.addEventListener("state", (e) => renderState(JSON.parse(e.data)));
  events.addEventListener("verdict", (e) => {
    const d = JSON.parse(e.data);
    renderVerdict(d.result);
    renderState(d.state);
  });
  events.onopen = () => { $("link").className = "link"; document.body.dataset.live = "1"; };
  events.onerror = () => { $("link").className = "link down"; document.body.dataset.live = ""; };
}

$("manual").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("code");
  const text = input.value.trim();
  $("manual-error").textContent = "";
  if (!text) return;
  try {
    const reply = await fetch("/api/scan", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text }),
    });
    const body = await reply.json();
    if (!reply.ok) { $("manual-error").textContent = body.error.message; return; }
    renderVerdict(body);
    input.value = "";
  } catch (err) {
    $("manual-error").textContent = "The gate agent is not answering: " + err;
  }
  input.focus();
});

// Sound cue, off by default: a high beep to admit, a low double beep to refuse.
let audio = null;
let soundOn = localStorage.getItem("door-sound") === "on";
function showSound() { $("sound").textContent = soundOn ? "Sound on" : "Sound off"; $("sound").setAttribute("aria-pressed", String(soundOn)); }
$("sound").addEventListener("click", () => {
  soundOn = !soundOn;
  localStorage.setItem("door-sound", soundOn ? "on" : "off");
  showSound();
});
function beep(colour) {
  if (!soundOn) return;
  audio = audio || new AudioContext();
  const tones = colour === "green" ? [[880, 0]] : colour === "red" ? [[220, 0], [220, 0.25]] : [[520, 0]];
  for (const [freq, at] of tones) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = freq;
    gain.gain.value = 0.2;
    osc.connect(gain).connect(audio.destination);
    osc.start(audio.currentTime + at);
    osc.stop(audio.currentTime + at + 0.18);
  }
}

showSound();
connect();
