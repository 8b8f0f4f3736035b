// Load generator UI: control panel, live numbers and charts from /ws, conversation viewer (#/conversations).
"use strict";

const $ = (id) => document.getElementById(id);
const TURNS = ["1", "2", "3", "4", "5"];
const HISTORY = 120; // points kept in the time-series charts (~2 min at 1/s)
const state = { status: null, presets: [], dirty: false, token: localStorage.getItem("loadgenToken") || "", router: "kv" };

// ---------- API ----------
async function api(path, body) {
  const opts = { method: body === undefined ? "GET" : "POST", headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  if (state.token) opts.headers["Authorization"] = "Bearer " + state.token;
  const res = await fetch(path, opts);
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (res.status === 401) {
    $("token-row").hidden = false;
    $("token").focus();
    throw new Error("Control token required (401): enter it below.");
  }
  if (!res.ok) throw new Error((data && (data.message || data.detail)) || ("HTTP " + res.status));
  return data;
}

function say(text, ok) {
  const el = $("message");
  el.textContent = text;
  el.className = "message" + (ok ? " ok" : "");
  el.hidden = !text;
  if (ok) setTimeout(() => { if (el.textContent === text) el.hidden = true; }, 2500);
}

// Run a control call; `sendsForm` actions make the server config the new form baseline.
async function act(path, body, okText, sendsForm) {
  try {
    const status = await api(path, body);
    if (sendsForm) state.dirty = false;
    render(status, null);
    say(okText, true);
  } catch (err) {
    say(err.message, false);
  }
}

// ---------- form ----------
function formConfig() {
  const a = +$("mix-a").value, b = +$("mix-b").value, c = +$("mix-c").value;
  const sum = a + b + c || 1;
  const mix = { a: +(a / sum).toFixed(4), b: +(b / sum).toFixed(4) };
  mix.c = +(1 - mix.a - mix.b).toFixed(4);
  const cfg = { totalRPS: +$("rps").value, maxConcurrency: +$("concurrency").value, mix: mix, router: state.router };
  const opening = $("opening").value.trim();
  cfg.openingTokens = opening === "" ? null : +opening;
  return cfg;
}

function fillForm(cfg) {
  $("rps").value = cfg.totalRPS; $("rps-range").value = cfg.totalRPS;
  $("concurrency").value = cfg.maxConcurrency; $("concurrency-range").value = Math.min(cfg.maxConcurrency, 100);
  for (const k of ["a", "b", "c"]) { $("mix-" + k).value = Math.round(cfg.mix[k] * 100); }
  $("opening").value = cfg.openingTokens == null ? "" : cfg.openingTokens;
  setRouter(cfg.router);
  showMix();
}

function showMix() {
  const vals = ["a", "b", "c"].map((k) => +$("mix-" + k).value);
  const sum = vals.reduce((x, y) => x + y, 0) || 1;
  ["a", "b", "c"].forEach((k, i) => { $("mix-" + k + "-out").textContent = Math.round((vals[i] / sum) * 100) + "%"; });
}

function setRouter(router) {
  state.router = router;
  document.querySelectorAll("#router button").forEach((b) => b.classList.toggle("selected", b.dataset.router === router));
}

function markDirty() { state.dirty = true; showMix(); }

function bindPair(rangeId, numberId) {
  $(rangeId).addEventListener("input", () => { $(numberId).value = $(rangeId).value; markDirty(); });
  $(numberId).addEventListener("input", () => { $(rangeId).value = $(numberId).value; markDirty(); });
}

// ---------- charts ----------
let charts = {};
function makeCharts() {
  if (!window.Chart) return;
  Chart.defaults.color = "#8a93a6";
  Chart.defaults.borderColor = "#262b36";
  const common = { animation: false, responsive: true, maintainAspectRatio: true, plugins: { legend: { position: "bottom" } } };
  charts.ttft = new Chart($("chart-ttft"), {
    type: "bar",
    data: { labels: TURNS.map((t) => "turn " + t), datasets: [
      { label: "KV-aware", data: [], backgroundColor: "#76b900" },
      { label: "Round-robin", data: [], backgroundColor: "#f2a33a" } ] },
    options: { ...common, scales: { y: { beginAtZero: true, title: { display: true, text: "ms" } } } },
  });
  const line = (labels) => ({
    type: "line",
    data: { labels: [], datasets: labels.map(([label, color]) => ({ label, data: [], borderColor: color, backgroundColor: color, pointRadius: 0, tension: 0.2, spanGaps: true })) },
    options: { ...common, scales: { x: { ticks: { maxTicksLimit: 6 } }, y: { beginAtZero: true } } },
  });
  charts.itl = new Chart($("chart-itl"), line([["KV-aware ms", "#76b900"], ["Round-robin ms", "#f2a33a"]]));
  charts.load = new Chart($("chart-load"), line([["in flight", "#4ea1ff"], ["req/s", "#e6e8ee"]]));
}

function pushPoint(chart, label, values) {
  if (!chart) return;
  chart.data.labels.push(label);
  values.forEach((v, i) => chart.data.datasets[i].data.push(v));
  if (chart.data.labels.length > HISTORY) {
    chart.data.labels.shift();
    chart.data.datasets.forEach((d) => d.data.shift());
  }
  chart.update("none");
}

// ---------- rendering ----------
const fmt = (v, digits = 1) => (v == null ? "–" : (+v).toFixed(digits));
const pct = (v) => (v == null ? "–" : Math.round(v * 100) + "%");
function mmss(s) { if (s == null) return ""; const m = Math.floor(s / 60); return m + ":" + String(s % 60).padStart(2, "0"); }

function render(status, live) {
  if (!status) return;
  const first = !state.status;
  state.status = status;
  if (window.showUpstreams) window.showUpstreams(status);
  const cfg = status.config;
  if (first || !state.dirty) fillForm(cfg); // never overwrite edits the presenter has not sent yet
  else setRouter(cfg.router);

  $("model").textContent = "model " + status.model;
  const rs = $("run-state");
  rs.textContent = status.state;
  rs.className = "pill" + (status.running ? " running" : "");
  document.querySelectorAll("#router button").forEach((b) => { b.disabled = !status.routers.includes(b.dataset.router); });
  $("token-row").hidden = !status.authRequired && !state.token;

  const sc = status.scenario;
  const auto = sc.mode === "auto";
  $("phase-pill").textContent = sc.phase;
  $("phase-pill").className = "pill phase" + (auto ? " auto" : "");
  $("phase-label").textContent = sc.label;
  $("phase-description").textContent = sc.description;
  $("phase-countdown").textContent = auto ? mmss(sc.countdown) + " left" : "";
  $("phase-cycle").textContent = auto ? "cycle " + sc.cycle : "";
  $("auto").textContent = auto ? "Stop auto mode" : "Start auto mode";
  $("auto").classList.toggle("on", auto);

  const mix = cfg.mix;
  $("server-config").textContent = `Server: ${cfg.totalRPS} RPS · concurrency ${cfg.maxConcurrency} · router ${cfg.router} · mix A ${Math.round(mix.a * 100)}% B ${Math.round(mix.b * 100)}% C ${Math.round(mix.c * 100)}%` +
    (cfg.openingTokens ? ` · opening ${cfg.openingTokens} tok` : "") + ` · follow-ups: ${status.followupSource}`;

  const c = status.counters;
  $("inflight").textContent = c.inflightRequests;
  $("active").textContent = c.activeSessions;
  $("requests-ok").textContent = c.requestsOk;
  $("errors").textContent = c.requestsError;
  $("error-kinds").textContent = Object.entries(c.errorsByKind).map(([k, v]) => k + " " + v).join(", ") || "\u00a0";
  $("skipped").textContent = c.arrivalsSkipped;
  $("fallbacks").textContent = c.followupFallbacks;
  $("followup-source").textContent = status.followupSource === "gradient" ? `template fallbacks (${c.followupsRemote} from API)` : "from templates (no API key)";

  if (!live) return;
  const kv = live.routers.kv, rr = live.routers["round-robin"];
  $("rate-kv").textContent = fmt(kv.requestRate);
  $("rate-rr").textContent = fmt(rr.requestRate);
  $("cached-kv").textContent = pct(kv.cachedShare);
  $("cached-rr").textContent = pct(rr.cachedShare);
  $("window-note").textContent = `(last ${live.windowSeconds}s)`;
  if (charts.ttft) {
    charts.ttft.data.datasets[0].data = TURNS.map((t) => kv.ttftMeanByTurn[t]);
    charts.ttft.data.datasets[1].data = TURNS.map((t) => rr.ttftMeanByTurn[t]);
    charts.ttft.update("none");
  }
  const now = new Date().toLocaleTimeString([], { hour12: false });
  pushPoint(charts.itl, now, [kv.itlP50, rr.itlP50]);
  pushPoint(charts.load, now, [c.inflightRequests, +(kv.requestRate + rr.requestRate).toFixed(2)]);
}

// ---------- live feed ----------
let pollTimer = null;
function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onopen = () => { $("ws-state").textContent = "live"; if (pollTimer) { clearInterval(pollTimer); pollTimer = null; } };
  ws.onmessage = (ev) => { const msg = JSON.parse(ev.data); if (msg.type === "snapshot") render(msg.status, msg.live); };
  ws.onclose = () => {
    $("ws-state").textContent = "offline";
    if (!pollTimer) pollTimer = setInterval(async () => { try { render(await api("/api/status"), await api("/api/live")); } catch (e) { /* keep trying */ } }, 2000);
    setTimeout(connect, 2000);
  };
}

// ---------- conversations ----------
let convTimer = null;
async function showConversations() {
  const data = await api("/api/conversations?limit=100");
  $("conv-total").textContent = `(${data.total} kept, newest first)`;
  const body = $("conv-table").querySelector("tbody");
  body.innerHTML = "";
  for (const conv of data.conversations) {
    const tr = document.createElement("tr");
    tr.dataset.id = conv.id;
    const cells = [conv.id, conv.router, conv.workload, conv.status, `${conv.completed_turns}/${conv.planned_turns}`,
      conv.turns.map((t) => (t.error ? "err" : fmt(t.ttft_ms, 0))).join(" · "),
      conv.turns.map((t) => (t.cached_tokens == null ? "–" : t.cached_tokens)).join(" · "),
      new Date(conv.started_at * 1000).toLocaleTimeString([], { hour12: false })];
    for (const v of cells) { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); }
    tr.addEventListener("click", () => { location.hash = "#/conversations/" + conv.id; });
    body.appendChild(tr);
  }
}

async function showConversation(id) {
  let conv;
  try { conv = await api("/api/conversations/" + encodeURIComponent(id)); } catch (e) { say(e.message, false); return; }
  $("conv-id").textContent = conv.id;
  $("conv-meta").textContent = `${conv.workload} · router ${conv.router} · ${conv.status} · source ${conv.source} · ${conv.completed_turns}/${conv.planned_turns} turns`;
  const body = $("turn-table").querySelector("tbody");
  body.innerHTML = "";
  for (const t of conv.turns) {
    const tr = document.createElement("tr");
    for (const v of [t.turn, t.router, fmt(t.ttft_ms), fmt(t.itl_ms, 2), fmt(t.e2e_ms, 0), t.prompt_tokens ?? "–", t.cached_tokens ?? "–", t.completion_tokens ?? "–", t.question_source, t.error || ""]) {
      const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  const box = $("messages");
  box.innerHTML = "";
  if (conv.messagesHidden) {
    const note = document.createElement("p");
    note.className = "muted"; note.textContent = "Message texts are shown to the control-token holder only.";
    box.appendChild(note);
  }
  for (const m of conv.messages) {
    const div = document.createElement("div");
    div.className = "msg " + m.role;
    const role = document.createElement("span"); role.className = "role"; role.textContent = m.role;
    div.appendChild(role);
    div.appendChild(document.createTextNode(m.content));
    box.appendChild(div);
  }
}

function route() {
  const hash = location.hash || "#/";
  const detail = hash.match(/^#\/conversations\/(.+)$/);
  const list = hash === "#/conversations";
  $("view-dashboard").hidden = !!(detail || list);
  $("view-conversations").hidden = !list;
  $("view-conversation").hidden = !detail;
  $("nav-dashboard").classList.toggle("active", !(detail || list));
  $("nav-conversations").classList.toggle("active", !!(detail || list));
  if (convTimer) { clearInterval(convTimer); convTimer = null; }
  if (list) { showConversations().catch((e) => say(e.message, false)); convTimer = setInterval(() => showConversations().catch(() => {}), 2000); }
  if (detail) showConversation(decodeURIComponent(detail[1]));
}

// ---------- wiring ----------
async function init() {
  bindPair("rps-range", "rps");
  bindPair("concurrency-range", "concurrency");
  ["mix-a", "mix-b", "mix-c"].forEach((id) => $(id).addEventListener("input", markDirty));
  $("opening").addEventListener("input", markDirty);
  document.querySelectorAll("#router button").forEach((b) => b.addEventListener("click", () => {
    setRouter(b.dataset.router);
    act("/api/workload/config", { router: b.dataset.router }, "Router: " + b.textContent);
  }));
  $("token").value = state.token;
  $("token").addEventListener("change", () => { state.token = $("token").value.trim(); localStorage.setItem("loadgenToken", state.token); });
  $("start").addEventListener("click", () => act("/api/workload/start", formConfig(), "Started", true));
  $("apply").addEventListener("click", () => act("/api/workload/config", formConfig(), "Applied", true));
  $("stop").addEventListener("click", () => act("/api/workload/stop", {}, "Stopped"));
  $("reset").addEventListener("click", () => act("/api/workload/reset", {}, "Reset"));
  $("auto").addEventListener("click", () => {
    const auto = state.status && state.status.scenario.mode === "auto";
    act(auto ? "/api/scenario/stop" : "/api/scenario/auto", {}, auto ? "Auto mode stopped" : "Auto mode started");
  });

  makeCharts();
  try { render(await api("/api/status"), await api("/api/live")); } catch (e) { say(e.message, false); }
  try {
    state.presets = (await api("/api/presets")).presets;
  } catch (e) { say(e.message, false); }
  const box = $("presets");
  for (const p of state.presets) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.preset = p.id;
    b.innerHTML = `<span></span><small></small>`;
    b.firstChild.textContent = p.label;
    b.lastChild.textContent = `${p.totalRPS} RPS · ${p.maxConcurrency} conc`;
    b.addEventListener("click", () => act("/api/workload/config", { totalRPS: p.totalRPS, mix: p.mix, maxConcurrency: p.maxConcurrency }, p.label, true));
    box.appendChild(b);
  }
  window.addEventListener("hashchange", route);
  route();
  connect();
}

init();
