// Booth UI: headline, TTFT by turn, routing map, auto-mode caption, presets (click or key); "More" drawer; conversation viewer.
"use strict";

const $ = (id) => document.getElementById(id);
const TURNS = ["1", "2", "3", "4", "5"];
const HISTORY = 120; // points kept in the time-series charts (~2 min at 1/s)
const WORKER_COLORS = ["#4ea1ff", "#e056fd", "#f9ca24", "#1dd1a1", "#ff6b6b", "#c8d6e5", "#a29bfe", "#ff9f43"];
const state = { status: null, presets: [], dirty: false, token: localStorage.getItem("loadgenToken") || "", router: "ab", events: 0 };

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
    state.refused = true;
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

// ---------- form (the "More" drawer) ----------
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

function toggleDrawer(open) {
  const drawer = $("advanced");
  drawer.hidden = open === undefined ? !drawer.hidden : !open;
}

// ---------- charts ----------
let charts = {};
function makeCharts() {
  if (!window.Chart) return;
  Chart.defaults.color = "#aab2c3";
  Chart.defaults.borderColor = "#262b36";
  Chart.defaults.font.size = 18;
  const common = { animation: false, responsive: true, maintainAspectRatio: false, plugins: { legend: { position: "top", labels: { font: { size: 20 } } } } };
  charts.ttft = new Chart($("chart-ttft"), {
    type: "bar",
    data: { labels: TURNS.map((t) => "turn " + t), datasets: [
      { label: "KV-aware", data: [], backgroundColor: "#76b900" },
      { label: "Round-robin", data: [], backgroundColor: "#f2a33a" } ] },
    options: { ...common, scales: { x: { ticks: { font: { size: 20 } } }, y: { beginAtZero: true, title: { display: true, text: "ms" } } } },
  });
  const small = { ...common, plugins: { legend: { position: "bottom", labels: { font: { size: 12 } } } } };
  const line = (labels) => ({
    type: "line",
    data: { labels: [], datasets: labels.map(([label, color]) => ({ label, data: [], borderColor: color, backgroundColor: color, pointRadius: 0, tension: 0.2, spanGaps: true })) },
    options: { ...small, scales: { x: { ticks: { maxTicksLimit: 6, font: { size: 11 } } }, y: { beginAtZero: true, ticks: { font: { size: 11 } } } } },
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
function tokens(n) {
  if (n == null) return "–";
  if (n >= 1e6) return (n / 1e6).toFixed(n >= 1e7 ? 1 : 2) + " M";
  if (n >= 1e4) return Math.round(n / 1e3) + " k";
  return String(n);
}

// The one number source (loadgen/stats/slice_pool.py): completed twin slices pooled over the cycles so far (the last
// 16 pairs: auto mode keeps that many). Once a
// pair has completed, the headline, the TTFT-by-turn chart and the slice table's first row all read it.
function pooledFrom(status) {
  const p = status && status.scenario && status.scenario.pooled;
  return p && p.pairs > 0 ? p : null;
}
const signedPct = (ratio) => (ratio >= 1 ? "+" : "−") + Math.abs(Math.round((1 - ratio) * 100)) + "%";

function renderHeadline(live) {
  const pooled = pooledFrom(state.status);
  if (pooled) return renderPooledHeadline(pooled, live);
  const h = live.headline;
  const drop = h.followupTtftDrop;
  $("hl-drop").textContent = drop == null ? "–" : (drop >= 0 ? "−" : "+") + Math.abs(Math.round(drop * 100)) + "%";
  $("hl-drop").className = drop == null || drop >= 0 ? "kv" : "bad";
  $("hl-cached").textContent = tokens(h.cachedTokens.kv);
  const minutes = Math.round(live.windowSeconds / 60);
  $("hl-window").textContent = `KV-aware over the last ${minutes} min (round-robin: ${tokens(h.cachedTokens["round-robin"])} from cache)`;
  const f = h.followupTtftMs, t2 = h.turn2TtftMs, n = h.followupSamples || {};
  const sliced = state.status && state.status.scenario.mode === "auto" && state.status.scenario.comparison === "sliced";
  $("hl-detail").textContent = sliced
    ? "waiting for the first pair of time slices to complete…"
    : f.kv == null || f["round-robin"] == null
      ? "waiting for follow-up turns on both routers…"
      : `follow-ups ${Math.round(f.kv)} ms vs ${Math.round(f["round-robin"])} ms (${n.kv ?? "–"} vs ${n["round-robin"] ?? "–"} requests)` +
        (t2.kv != null && t2["round-robin"] != null ? ` · turn 2: ${Math.round(t2.kv)} ms vs ${Math.round(t2["round-robin"])} ms` : "") +
        " · same conversations on both routers";
  if (sliced) { $("hl-drop").textContent = "–"; $("hl-drop").className = "kv"; }
}

function renderPooledHeadline(pooled, live) {
  const g = pooled.groups["2+"];
  const shown = g.enough && g.ratio != null;
  $("hl-drop").textContent = shown ? signedPct(g.ratio) : "–";
  $("hl-drop").className = !shown || g.ratio <= 1 ? "kv" : "bad";
  $("hl-cached").textContent = tokens(live.headline.cachedTokens.kv);
  $("hl-window").textContent = `prompt tokens from cache: KV-aware over the last ${Math.round(live.windowSeconds / 60)} min ` +
    `(round-robin: ${tokens(live.headline.cachedTokens["round-robin"])})`;
  const pairs = `${pooled.pairs} pair${pooled.pairs === 1 ? "" : "s"} of time slices`;
  $("hl-detail").textContent = shown
    ? `follow-ups ${Math.round(g.kvMs)} ms vs ${Math.round(g.rrMs)} ms · 90%: ${signedPct(g.high)} to ${signedPct(g.low)} · ` +
      `${g.kvRequests} vs ${g.rrRequests} requests over ${pairs}`
    : `too few follow-ups yet to compare (${g.kvRequests} vs ${g.rrRequests} requests, at least ${pooled.minRequests} each) over ${pairs}`;
}

function renderTurnChart(live) {
  if (!charts.ttft) return;
  const pooled = pooledFrom(state.status);
  const note = $("ttft-note");
  if (!pooled) {
    const kv = live.routers.kv, rr = live.routers["round-robin"];
    charts.ttft.data.datasets[0].data = TURNS.map((t) => kv.ttftMeanByTurn[t]);
    charts.ttft.data.datasets[1].data = TURNS.map((t) => rr.ttftMeanByTurn[t]);
    note.textContent = `mean TTFT over the last ${Math.round(live.windowSeconds / 60)} min`;
    $("window-note").textContent = `(last ${Math.round(live.windowSeconds / 60)} min)`;
  } else {
    // A turn with too few requests on either side is left out (its bars would be a result it is not).
    const few = TURNS.filter((t) => !pooled.groups[t].enough && (pooled.groups[t].kvRequests || pooled.groups[t].rrRequests));
    charts.ttft.data.datasets[0].data = TURNS.map((t) => (pooled.groups[t].enough ? pooled.groups[t].kvMs : null));
    charts.ttft.data.datasets[1].data = TURNS.map((t) => (pooled.groups[t].enough ? pooled.groups[t].rrMs : null));
    $("window-note").textContent = "(completed time slices)";
    note.textContent = `mean TTFT over ${pooled.pairs} pair${pooled.pairs === 1 ? "" : "s"} of time slices` +
      (few.length ? " · too few requests to compare: " +
        few.map((t) => `turn ${t} (${pooled.groups[t].kvRequests} vs ${pooled.groups[t].rrRequests})`).join(", ") : "");
  }
  charts.ttft.update("none");
}

const ROUTER_NAMES = { kv: "KV-aware", "round-robin": "Round-robin" };
function renderSlices(sc, auto) {
  const live = $("slice-live");
  live.hidden = !auto;
  if (auto && sc.live && sc.live.router) {
    live.className = "slice-live " + (sc.live.router === "kv" ? "kv" : "rr");
    live.textContent = sc.live.draining
      ? `${ROUTER_NAMES[sc.live.router]}: finishing its conversations before the other router takes the replicas`
      : `Now: ${ROUTER_NAMES[sc.live.router]} alone on both replicas · ${mmss(sc.countdown)} left in its slice`;
  } else if (auto) {
    live.className = "slice-live";
    live.textContent = "Side by side: both routers at once on shared replicas";
  }
  const pairs = sc.slices || [];
  $("slices-panel").hidden = pairs.length === 0;
  const body = $("slices-body");
  body.textContent = "";
  const pooled = sc.pooled && sc.pooled.pairs > 0 ? sc.pooled : null;
  if (pooled) {
    const g = pooled.groups, ms = (key, side) => fmt(g[key][side], 0);
    const ratio = (key) => (g[key].ratio == null ? "–" : g[key].enough
      ? `×${g[key].ratio.toFixed(2)} [${g[key].low.toFixed(2)}-${g[key].high.toFixed(2)}]` : "too few");
    const tr = document.createElement("tr");
    tr.className = "pooled";
    for (const text of [`all ${pooled.pairs} so far (90%)`, `${ms("1", "kvMs")} · ${ms("1", "rrMs")}`,
      `${ms("2", "kvMs")} · ${ms("2", "rrMs")}`, ratio("2"), ratio("2+")]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  const least = (sc.pooled && sc.pooled.minRequests) || 0;
  for (const p of pairs.slice(0, pooled ? 7 : 8)) {
    const tr = document.createElement("tr");
    const ms = (side, turns) => fmt(p[side].ttftMeanMs[turns], 0);
    const enough = (turns) => Math.min(p.kv.samples[turns], p.roundRobin.samples[turns]) >= least;
    const ratio = (turns) => (p.ratio[turns] == null ? "–" : enough(turns) ? "×" + p.ratio[turns].toFixed(2) : "too few");
    const phase = (sc.phases.find((x) => x.name === p.phase) || { label: p.phase }).label;
    for (const text of [`${phase} · cycle ${p.cycle}`, `${ms("kv", "1")} · ${ms("roundRobin", "1")}`,
      `${ms("kv", "2")} · ${ms("roundRobin", "2")}`, ratio("2"), ratio("2+")]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

function workerColor(name) {
  const n = name ? parseInt(name.slice(1), 10) : 0;
  return n ? WORKER_COLORS[(n - 1) % WORKER_COLORS.length] : "#555";
}

function renderMap(live) {
  const workers = new Set();
  const notes = {};
  for (const [router, id] of [["kv", "map-kv"], ["round-robin", "map-rr"]]) {
    const rows = (live.routingMap && live.routingMap[router]) || [];
    const box = $(id);
    box.textContent = "";
    let follow = 0, stayed = 0;
    for (const row of rows) {
      const div = document.createElement("div");
      div.className = "map-row";
      const cid = document.createElement("span");
      cid.className = "cid";
      cid.textContent = row.id.slice(0, 6);
      div.appendChild(cid);
      const home = row.turns.length ? row.turns[0].worker : null;
      for (const t of row.turns) {
        const dot = document.createElement("span");
        const hit = t.turn > 1 && t.prompt && t.cached != null && t.cached >= 0.5 * t.prompt;
        dot.className = "dot" + (t.turn > 1 && !hit ? " miss" : "");
        dot.style.background = workerColor(t.worker);
        dot.style.borderColor = workerColor(t.worker);
        dot.title = `turn ${t.turn} · ${t.worker || "?"} · TTFT ${fmt(t.ttftMs, 0)} ms · cached ${t.cached ?? "–"} of ${t.prompt ?? "–"}`;
        div.appendChild(dot);
        if (t.worker) workers.add(t.worker);
        if (t.turn > 1) { follow += 1; if (t.worker === home) stayed += 1; }
      }
      box.appendChild(div);
    }
    notes[router] = follow ? `${Math.round((100 * stayed) / follow)}% of follow-ups on their conversation's first replica` : "";
  }
  $("map-note-kv").textContent = notes.kv;
  $("map-note-rr").textContent = notes["round-robin"];
  const legend = $("map-legend");
  legend.textContent = "";
  for (const w of [...workers].sort()) {
    const item = document.createElement("span");
    const dot = document.createElement("span");
    dot.className = "dot";
    dot.style.background = workerColor(w);
    item.appendChild(dot);
    item.appendChild(document.createTextNode(" replica " + w));
    legend.appendChild(item);
  }
  const miss = document.createElement("span");
  const ring = document.createElement("span");
  ring.className = "dot miss";
  ring.style.borderColor = "#aab2c3"; // CSSOM, not a style attribute: the page's CSP allows only 'self' styles
  miss.appendChild(ring);
  miss.appendChild(document.createTextNode(" follow-up re-prefilled (cache miss)"));
  legend.appendChild(miss);
}

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
  $("token-row").hidden = !((status.authRequired && !state.token) || state.refused); // asked for while missing or refused

  const sc = status.scenario;
  const auto = sc.mode === "auto";
  $("phase-pill").textContent = sc.phase;
  $("phase-pill").className = "pill phase" + (auto ? " auto" : "");
  $("phase-card").classList.toggle("auto", auto);
  $("phase-label").textContent = auto ? sc.label : (status.running ? "Manual" : sc.label);
  $("phase-description").textContent = auto ? sc.description : (status.running ? manualCaption(cfg) : sc.description);
  $("phase-countdown").textContent = auto ? mmss(sc.countdown) + " left" : "";
  $("phase-cycle").textContent = auto ? "cycle " + sc.cycle : "";
  renderSlices(sc, auto);
  $("auto").firstChild.textContent = auto ? "Stop auto mode " : "Start auto mode ";
  $("auto").classList.toggle("on", auto);

  const mix = cfg.mix;
  $("server-config").textContent = `Server: ${cfg.totalRPS} RPS · concurrency ${cfg.maxConcurrency} · router ${cfg.router} · mix A ${Math.round(mix.a * 100)}% B ${Math.round(mix.b * 100)}% C ${Math.round(mix.c * 100)}%` +
    (cfg.openingTokens ? ` · opening ${cfg.openingTokens} tok` : "") + ` · follow-ups: ${status.followupSource}`;

  const c = status.counters;
  $("inflight").textContent = c.inflightRequests;
  $("active").textContent = c.activeSessions;
  $("requests-ok").textContent = c.requestsOk;
  $("errors").textContent = c.requestsError;
  $("error-kinds").textContent = Object.entries(c.errorsByKind).map(([k, v]) => k + " " + v).join(", ");
  $("skipped").textContent = c.arrivalsSkipped;
  $("fallbacks").textContent = c.followupFallbacks;
  $("followup-source").textContent = status.followupSource === "gradient" ? `template fallbacks (${c.followupsRemote} from API)` : "from templates (no API key)";

  if (!live) return;
  const kv = live.routers.kv, rr = live.routers["round-robin"];
  $("rate-kv").textContent = fmt(kv.requestRate);
  $("rate-rr").textContent = fmt(rr.requestRate);
  $("itl-kv").textContent = fmt(kv.itlP50);
  $("itl-rr").textContent = fmt(rr.itlP50);
  $("cached-kv").textContent = pct(kv.cachedShare);
  $("cached-rr").textContent = pct(rr.cachedShare);
  renderHeadline(live);
  renderMap(live);
  renderTurnChart(live);
  const now = new Date().toLocaleTimeString([], { hour12: false });
  pushPoint(charts.itl, now, [kv.itlP50, rr.itlP50]);
  pushPoint(charts.load, now, [c.inflightRequests, +(kv.requestRate + rr.requestRate).toFixed(2)]);
}

function manualCaption(cfg) {
  const both = cfg.router === "ab" ? "both routers, same conversations" : "router " + cfg.router;
  return `${cfg.totalRPS} requests/s · ${both} · openings of ~${cfg.openingTokens || 7000} tokens`;
}

// ---------- live feed ----------
let pollTimer = null;
function connect() {
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  // The token holder's screen offers its token as a subprotocol (a browser cannot set Authorization on a
  // websocket): the server keeps slots for it that no anonymous crowd can fill.
  let ws;
  try { ws = state.token ? new WebSocket(url, ["loadgen", "bearer." + state.token]) : new WebSocket(url); }
  catch (e) { ws = new WebSocket(url); } // a token with characters a subprotocol cannot carry
  ws.onopen = () => { $("ws-state").textContent = "live"; if (pollTimer) { clearInterval(pollTimer); pollTimer = null; } };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "snapshot") render(msg.status, msg.live);
    else if (msg.type === "turn") state.events += 1; // per-request events, for external consumers; the page counts them
  };
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
      conv.turns.map((t) => t.worker || "–").join(" · "),
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
    for (const v of [t.turn, t.router, t.worker || "–", fmt(t.ttft_ms), fmt(t.server_ttft_ms), fmt(t.itl_ms, 2), fmt(t.e2e_ms, 0), t.prompt_tokens ?? "–", t.cached_tokens ?? "–", t.completion_tokens ?? "–", t.question_source, t.error || ""]) {
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
  if (detail || list) toggleDrawer(false);
  if (convTimer) { clearInterval(convTimer); convTimer = null; }
  if (list) { showConversations().catch((e) => say(e.message, false)); convTimer = setInterval(() => showConversations().catch(() => {}), 2000); }
  if (detail) showConversation(decodeURIComponent(detail[1]));
}

// ---------- presenter controls: one click or one key each ----------
function applyPreset(p) { act("/api/presets/" + p.id, {}, p.label, true); }
function toggleAuto() {
  const auto = state.status && state.status.scenario.mode === "auto";
  act(auto ? "/api/scenario/stop" : "/api/scenario/auto", {}, auto ? "Auto mode stopped" : "Auto mode started");
}

function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const tag = (ev.target && ev.target.tagName) || "";
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
  const key = ev.key.toLowerCase();
  const preset = state.presets.find((p) => p.key === key);
  if (preset) applyPreset(preset);
  else if (key === "a") toggleAuto();
  else if (key === "s") act("/api/workload/stop", {}, "Stopped");
  else if (key === "r") act("/api/workload/reset", {}, "Reset");
  else if (key === "d") toggleDrawer();
  else if (key === "escape") toggleDrawer(false);
  else return;
  ev.preventDefault();
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
  $("token").addEventListener("change", () => { state.token = $("token").value.trim(); state.refused = false; localStorage.setItem("loadgenToken", state.token); });
  $("start").addEventListener("click", () => act("/api/workload/start", formConfig(), "Started", true));
  $("apply").addEventListener("click", () => act("/api/workload/config", formConfig(), "Applied", true));
  $("stop").addEventListener("click", () => act("/api/workload/stop", {}, "Stopped"));
  $("reset").addEventListener("click", () => act("/api/workload/reset", {}, "Reset"));
  $("auto").addEventListener("click", toggleAuto);
  $("auto-shared").addEventListener("click", () => act("/api/scenario/auto?comparison=side-by-side", {}, "Auto mode, side by side"));
  $("advanced-toggle").addEventListener("click", () => toggleDrawer());
  $("advanced-close").addEventListener("click", () => toggleDrawer(false));
  document.addEventListener("keydown", onKey);

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
    b.title = "key " + p.key;
    b.innerHTML = `<span></span><small></small>`;
    b.firstChild.textContent = p.label;
    b.firstChild.appendChild(Object.assign(document.createElement("kbd"), { textContent: p.key }));
    b.lastChild.textContent = p.hint;
    b.addEventListener("click", () => applyPreset(p));
    box.appendChild(b);
  }
  window.addEventListener("hashchange", route);
  route();
  connect();
}

init();
