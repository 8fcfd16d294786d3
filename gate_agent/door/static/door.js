// Door screen: verdicts arrive by server-sent events; the manual field posts to the same pipeline.
// The screen never claims more than it knows: READY only while the agent is heard from (it sends
// something at least every 0.5 s), ONLINE only while the hub answered recently, and a camera
// that stopped or sees nothing is shown instead of READY.
"use strict";
const HEADLINES = { green: "Admit", red: "Stop", amber: "Check" };
const IDLE_AFTER_MS = 8000;
const ALIVE_TIMEOUT_MS = 1500;  // silence after which the gate agent counts as hung or gone
const MANUAL_TIMEOUT_MS = 3000;  // a typed code with no answer by then is reported as unchecked
const CAMERA_HEADLINES = { stopped: "Camera stopped", no_frames: "No camera picture", dark: "Camera covered", frozen: "Camera frozen" };
const $ = (id) => document.getElementById(id);
const hasCamera = document.body.dataset.camera === "1";
let idleTimer = null;
let showingVerdict = false;
let lastSeq = 0;
let lastHeard = performance.now();  // the page load counts: grace until the stream opens
let alive = true;
let camera = null;

function hhmm(epoch) {
  return new Date(epoch * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

function setPanel(kind, state, headline, message, seat) {
  const panel = $("panel");
  panel.className = "panel " + kind;
  panel.dataset.state = state;
  $("headline").textContent = headline;
  $("message").textContent = message;
  $("seat").textContent = seat || "";
}

function flash() {
  // a repeated verdict looks exactly like the last one: restart a short flash so staff see it is new
  const panel = $("panel");
  panel.animate([{ filter: "brightness(1.9)" }, { filter: "none" }], { duration: 450, easing: "ease-out" });
  panel.dataset.shown = String(Number(panel.dataset.shown || 0) + 1);
}

// What shows when no verdict does (or, for a dead gate, instead of the verdict): worst first.
function showIdle() {
  const panel = $("panel");
  if (!alive || !showingVerdict) document.dispatchEvent(new CustomEvent("door:idle"));  // helpdesk.js: no stale undo
  if (!alive) {
    panel.dataset.verdict = "";
    setPanel("fault", "dead", "Gate not responding", "Use the backup list / call supervisor");
  } else if (showingVerdict) {
    return;
  } else if (camera && !camera.ok) {
    panel.dataset.verdict = "";
    setPanel("fault", "camera", CAMERA_HEADLINES[camera.state] || "Camera problem", camera.message);
  } else {
    panel.dataset.verdict = "";
    setPanel("idle", "ready", "Ready", hasCamera ? "Show the ticket QR to the camera" : "Type or paste the code below");
  }
}

function renderVerdict(r) {
  if (r.seq <= lastSeq) return;  // the same scan can come from SSE and the POST reply
  lastSeq = r.seq;
  const parts = [];
  if (r.seat_label && !r.message.includes(r.seat_label)) parts.push(r.seat_label);
  if (r.zones && r.zones.length) parts.push("Zone " + r.zones.join(", "));
  showingVerdict = true;
  setPanel(r.colour, "verdict", HEADLINES[r.colour] || r.verdict, r.message, parts.join(" · "));
  const panel = $("panel");
  panel.dataset.verdict = r.verdict;
  panel.dataset.scanId = r.scan_id;
  flash();
  document.dispatchEvent(new CustomEvent("door:verdict", { detail: r }));  // helpdesk.js: type, name, undo
  beep(r.colour);
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => { showingVerdict = false; showIdle(); }, IDLE_AFTER_MS);
}

// The hub link and the camera: sent with every state and by the agent's heartbeat.
function renderLink(s) {
  const badge = $("badge");
  const backlog = s.backlog ? " · " + s.backlog + " to sync" : "";
  let text;
  if (s.device_revoked) text = "device revoked";
  else if (s.online) text = "online" + backlog;
  else if (!s.enrolled) text = "offline · not enrolled with a hub" + backlog;
  else text = (s.last_sync_at ? "offline since " + hhmm(s.last_sync_at) : "offline · never synced")
    + " — revocations may be out of date" + backlog;
  badge.textContent = text;
  badge.className = "badge " + (s.online && !s.device_revoked ? "online" : "offline");
  badge.dataset.online = s.online && !s.device_revoked ? "1" : "";
  camera = s.camera || null;
  if ($("preview")) $("preview").classList.toggle("stale", !!camera && !camera.ok);  // an old picture, not the door now
  showIdle();
}

function renderState(s) {
  $("count").textContent = s.direction === "exit" ? s.exits : s.admitted;
  const list = $("recent");
  list.replaceChildren(...s.recent.map((scan) => {
    const li = document.createElement("li");
    li.className = scan.colour;
    const when = document.createElement("time");
    const at = new Date(scan.at);  // "invalid time" for a time a broken clock recorded
    when.textContent = isNaN(at) ? "—" : at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    const what = document.createElement("span");
    what.textContent = scan.label + (scan.ticket_id != null ? " #" + scan.ticket_id : "");
    li.append(when, what);
    return li;
  }));
  renderLink(s);
}

function heard() {
  lastHeard = performance.now();
  if (!alive) {  // the verdict shown before the silence is stale by now: back to the idle screen
    alive = true;
    showingVerdict = false;
    document.body.dataset.alive = "1";
    showIdle();
  }
}

let events = null;
function connect() {
  events = new EventSource("/events");
  events.addEventListener("state", (e) => { heard(); renderState(JSON.parse(e.data)); });
  events.addEventListener("alive", (e) => { heard(); renderLink(JSON.parse(e.data)); });
  events.addEventListener("verdict", (e) => {
    heard();
    const d = JSON.parse(e.data);
    renderVerdict(d.result);
    renderState(d.state);
  });
  events.onopen = () => { $("link").className = "link"; document.body.dataset.live = "1"; };
  events.onerror = () => { $("link").className = "link down"; document.body.dataset.live = ""; };
}

// A hung agent keeps the connection open and says nothing; a dead one drops it. Both end here.
setInterval(() => {
  if (alive && performance.now() - lastHeard > ALIVE_TIMEOUT_MS) {
    alive = false;
    document.body.dataset.alive = "";
    $("link").className = "link down";
    const badge = $("badge");  // what the silent agent last said about the hub is stale too
    badge.textContent = "hub link unknown";
    badge.className = "badge offline";
    badge.dataset.online = "";
    showIdle();
  }
}, 250);

$("manual").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("code");
  const text = input.value.trim();
  $("manual-error").textContent = "";
  if (!text) return;
  const button = $("check");
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), MANUAL_TIMEOUT_MS);
  $("manual-status").textContent = "Checking…";
  button.disabled = true;
  try {
    const reply = await fetch("/api/scan", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text }), signal: stop.signal,
    });
    const body = await reply.json();
    if (!reply.ok) { $("manual-error").textContent = body.error.message; return; }
    renderVerdict(body);
    input.value = "";
  } catch (err) {
    $("manual-error").textContent = stop.signal.aborted
      ? "No answer from the gate in " + MANUAL_TIMEOUT_MS / 1000 + " s: do not let anyone in on this code. Use the backup list / call supervisor."
      : "The gate agent is not answering: use the backup list / call supervisor.";
  } finally {
    clearTimeout(timer);
    $("manual-status").textContent = "";
    button.disabled = false;
  }
  input.focus();
});

// Camera preview: a still fetched again once the previous one arrived (an MJPEG <img> never
// finishes loading, so the tab would spin forever and "load" would never fire).
function pollPreview() {
  const img = $("preview");
  if (!img) return;
  const next = new Image();
  next.onload = () => { img.src = next.src; setTimeout(pollPreview, 200); };
  next.onerror = () => setTimeout(pollPreview, 1000);  // no frame yet, or the agent is gone
  next.src = img.dataset.src + "?t=" + Date.now();
}

// Sound cue: a high beep to admit, a low double beep to refuse. On by default when the gate is
// run with GATE_SOUND=on; what staff choose on this screen is remembered.
let audio = null;
const stored = localStorage.getItem("door-sound");
let soundOn = stored ? stored === "on" : document.body.dataset.sound === "on";
function showSound() { $("sound").textContent = soundOn ? "Sound on" : "Sound off"; $("sound").setAttribute("aria-pressed", String(soundOn)); }
$("sound").addEventListener("click", () => {
  soundOn = !soundOn;
  localStorage.setItem("door-sound", soundOn ? "on" : "off");
  showSound();
});
// Browsers start audio only after a gesture (unless the kiosk allows autoplay): the first touch
// or key on the page unlocks it.
function unlockAudio() { if (soundOn) { audio = audio || new AudioContext(); audio.resume(); } }
document.addEventListener("pointerdown", unlockAudio, { once: true });
document.addEventListener("keydown", unlockAudio, { once: true });
function beep(colour) {
  if (!soundOn) return;
  audio = audio || new AudioContext();
  const tones = colour === "green" ? [[880, 0]] : colour === "red" ? [[220, 0], [220, 0.25]] : [[520, 0]];
  document.body.dataset.beeps = (document.body.dataset.beeps || "") + colour[0];
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
window.addEventListener("load", pollPreview);
