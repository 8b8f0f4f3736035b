// Two layers panel: TTFT (KV routing) beside ITL (speculative decoding) for both routers, saved runs and the
// before/after ITL line (loadgen/workload/itl_runs.py). Self-contained: it inserts its own panel into the dashboard.
"use strict";

(() => {
  const ROUTERS = [["kv", "KV router"], ["round-robin", "Round-robin"]];
  const METHOD = { "none": "no speculative decoding", "draft-target": "draft model (Llama 3.1 8B)", "eagle3": "EAGLE3" };
  const el = (tag, attrs = {}, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const ms = (v) => (v == null ? "–" : `${Number(v).toFixed(1)} ms`);

  function build() {
    // The booth view is one 1080p screen: the panel lives in the "More" drawer's slot when there is one.
    const host = document.getElementById("itl-slot") || document.getElementById("view-dashboard");
    if (!host || document.getElementById("itl-panel")) return null;
    const panel = el("section", { class: "panel wide layers", id: "itl-panel", "data-testid": "itl-panel" });
    const title = el("h2", {}, "Two layers: TTFT from KV routing, ITL from speculative decoding ");
    title.append(el("span", { class: "muted", id: "itl-method", "data-testid": "itl-method" }));
    const table = el("table", { class: "conv-table", id: "itl-table" });
    const head = el("tr");
    for (const h of ["", "TTFT p50", "ITL p50"]) head.append(el("th", {}, h));
    table.append(head);
    for (const [key, name] of ROUTERS) {
      const row = el("tr");
      row.append(el("td", {}, name), el("td", { id: `itl-ttft-${key}`, "data-testid": `ttft-p50-${key}` }, "–"),
                 el("td", { id: `itl-itl-${key}`, "data-testid": `itl-p50-${key}` }, "–"));
      table.append(row);
    }
    const line = el("p", { class: "itl-line", id: "itl-line", "data-testid": "itl-line" },
                    "Save a run without and one with speculative decoding to see the ITL before/after.");
    const actions = el("div", { class: "row" });
    const method = el("select", { id: "itl-save-method", "aria-label": "speculative decoding of this run" });
    for (const [key, name] of Object.entries(METHOD)) method.append(el("option", { value: key }, name));
    const save = el("button", { type: "button", id: "itl-save" }, "Save this run");
    const exportLink = el("a", { href: "/api/itl/export", download: "itl-runs.json", id: "itl-export" }, "Export runs (JSON)");
    const importLabel = el("label", {}, "Import runs ");
    const importInput = el("input", { type: "file", id: "itl-import", accept: "application/json" });
    importLabel.append(importInput);
    actions.append(method, save, exportLink, importLabel);
    const list = el("ul", { class: "muted", id: "itl-runs", "data-testid": "itl-runs" });
    panel.append(title, table, line, actions, list);
    const anchor = host.querySelector(".chart-panel");  // null in the slot: appended
    host.insertBefore(panel, anchor);
    save.addEventListener("click", () => post("/api/itl/runs", { method: method.value }));
    importInput.addEventListener("change", async () => {
      const file = importInput.files[0];
      if (!file) return;
      try { await post("/api/itl/import", JSON.parse(await file.text())); } catch (e) { note(`Import failed: ${e.message}`); }
      importInput.value = "";
    });
    return panel;
  }

  function note(text) {
    const line = document.getElementById("itl-line");
    if (line) line.textContent = text;
  }

  async function post(path, body) {
    const headers = { "Content-Type": "application/json" };
    const token = localStorage.getItem("loadgenToken");
    if (token) headers["Authorization"] = "Bearer " + token;
    const res = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
    const data = await res.json().catch(() => null);
    if (!res.ok) { note((data && (data.message || data.detail)) || `HTTP ${res.status}`); return; }
    render(data);
  }

  let methodShown = false;
  function render(view) {
    document.getElementById("itl-method").textContent = `· configured: ${METHOD[view.method] || view.method}`;
    if (!methodShown) { document.getElementById("itl-save-method").value = view.method; methodShown = true; }
    const list = document.getElementById("itl-runs");
    list.replaceChildren(...view.runs.slice(-6).reverse().map((r) => el("li", {},
      `${r.label}: ITL p50 KV ${ms(r.routers.kv && r.routers.kv.itl_p50_ms)}, ` +
      `RR ${ms(r.routers["round-robin"] && r.routers["round-robin"].itl_p50_ms)}; ` +
      `TTFT turns 2+ KV ${ms(r.routers.kv && r.routers.kv.ttft_later_turns_mean_ms)}, ` +
      `RR ${ms(r.routers["round-robin"] && r.routers["round-robin"].ttft_later_turns_mean_ms)}`)));
    const line = view.line.kv || view.line["round-robin"];
    if (line) note(line);
  }

  async function refresh() {
    try {
      const live = await (await fetch("/api/live")).json();
      for (const [key] of ROUTERS) {
        const r = (live.routers || {})[key] || {};
        document.getElementById(`itl-ttft-${key}`).textContent = ms(r.ttftP50);
        document.getElementById(`itl-itl-${key}`).textContent = ms(r.itlP50);
      }
    } catch (e) { /* the main view shows connection problems */ }
  }

  async function start() {
    if (!build()) return;
    try { render(await (await fetch("/api/itl/runs")).json()); } catch (e) { /* retried by the next save */ }
    refresh();
    setInterval(refresh, 2000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
