// Security and upstream bits of the page, kept apart from app.js: the control token handed over in the URL
// fragment by `make demo` (never sent to the server in a URL, removed from the address bar at once), and the
// banner shown while a frontend is unreachable. Loaded before app.js.
"use strict";

(function takeTokenFromFragment() {
  const m = location.hash.match(/^#token=([A-Za-z0-9_\-.~]+)$/);
  if (!m) return;
  localStorage.setItem("loadgenToken", m[1]);
  history.replaceState(null, "", location.pathname + location.search);
})();

// Called by app.js render(status) on every status update.
window.showUpstreams = function showUpstreams(status) {
  const el = document.getElementById("upstream-banner");
  if (!el || !status || !status.upstreams) return;
  const name = (router) => (router === "kv" ? "KV-aware" : "round-robin");
  const down = Object.entries(status.upstreams).filter(([, u]) => !u.reachable);
  // A frozen frontend accepts requests and never answers: shown once a first token is overdue (a few seconds).
  const stalled = Object.entries(status.upstreams).filter(([, u]) => u.reachable && u.stalledSeconds != null);
  el.hidden = down.length === 0 && stalled.length === 0;
  el.textContent = [
    ...down.map(([router, u]) =>
      `Frontend ${name(router)} unreachable for ${Math.round(u.downSeconds || 0)}s ` +
      `(${u.failures} failed requests; last: ${u.lastError || "?"}). New sessions back off until it answers.`),
    ...stalled.map(([router, u]) =>
      `Frontend ${name(router)}: no first token for ${Math.round(u.stalledSeconds)}s (stalled or overloaded).`),
  ].join(" ");
};
