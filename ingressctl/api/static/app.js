// ingressctl dashboard: polls /api/rawdata every 2 s and renders it as text (never as HTML).
"use strict";

const REFRESH_MS = 2000;
const state = { data: null, rendered: {}, query: "", lastOk: 0, failures: 0, etags: {}, docs: {}, traffic: null, sort: {} };
// Thousands of rows are slow to lay out and useless to scroll: show the first MAX_ROWS, filter for the rest.
const MAX_ROWS = 500;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === "") continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const STATUS_CLASS = {
  enabled: "ok", ok: "ok", up: "ok", ready: "ok", healthy: "ok",
  warning: "warn", degraded: "warn", fallback: "warn",
  error: "err", down: "err", unhealthy: "err", ejected: "err", failing: "err", info: "info",
};

function badge(text) {
  return el("span", { class: "badge " + (STATUS_CLASS[text] || "") }, text);
}

function ago(iso) {
  if (!iso) return "never";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return seconds + " s ago";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
  if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
  return Math.floor(seconds / 86400) + " d ago";
}

function fillBody(table, rows, emptyText) {
  const tbody = document.querySelector("#" + table + " tbody");
  const cols = document.querySelectorAll("#" + table + " thead th").length;
  if (!rows.length) rows = [el("tr", { class: "empty" }, el("td", { colspan: cols }, emptyText))];
  tbody.replaceChildren(...rows);
}

// Build at most MAX_ROWS rows; a last row says how many more the filter would reveal.
function limitedRows(table, items, makeRow) {
  const rows = items.slice(0, MAX_ROWS).map(makeRow);
  if (items.length > MAX_ROWS) {
    const cols = document.querySelectorAll("#" + table + " thead th").length;
    rows.push(el("tr", { class: "empty more" }, el("td", { colspan: cols },
      "Showing " + MAX_ROWS + " of " + items.length + "; type in the filter to find the others.")));
  }
  return rows;
}

// ------------------------------------------------------------------ search

function terms() {
  return state.query.toLowerCase().split(/\s+/).filter(Boolean);
}

function matches(text, words) {
  return words.every((w) => text.includes(w));
}

function routerText(r) {
  return [r.id, r.host || "*", r.path, r.path_type, r.service, r.status, r.tls || "", r.rule,
    r.middlewares.join(" "), r.chain.map((m) => m.name).join(" "), r.entrypoints.join(" "),
    r.source ? r.source.namespace + "/" + r.source.name : "", r.problem || "",
    r.diagnostics.map((d) => d.code + " " + d.message).join(" ")].join(" ").toLowerCase();
}

function serviceText(s) {
  return [s.name, s.status, s.problem || "", s.routers.join(" "),
    s.endpoints.map((e) => e.address + " " + e.state).join(" ")].join(" ").toLowerCase();
}

// ------------------------------------------------------------------ sorting

const SEVERITY = { error: 0, down: 0, warning: 1, degraded: 1, enabled: 2, up: 2 };
const SORT_KEYS = {
  routers: {
    status: (r) => SEVERITY[r.status] ?? 3,
    host: (r) => r.host || "~",
    path: (r) => r.path,
    type: (r) => r.path_type,
    service: (r) => r.service,
    tls: (r) => r.tls || "~",
    traffic: (r) => -(trafficOf(r.id)?.requests || 0),
    source: (r) => (r.source ? r.source.namespace + "/" + r.source.name : ""),
  },
  services: {
    status: (s) => SEVERITY[s.status] ?? 3,
    name: (s) => s.name,
    endpoints: (s) => -s.endpoints.length,
    routers: (s) => -s.routers.length,
  },
};

function trafficOf(routerId) {
  return state.traffic ? state.traffic.byRouter[routerId] : undefined;
}

function sorted(table, items) {
  const sort = state.sort[table];
  if (!sort) return items;
  const key = SORT_KEYS[table][sort.key];
  const direction = sort.descending ? -1 : 1;
  return items
    .map((item, index) => [key(item), index, item])
    .sort((a, b) => (a[0] < b[0] ? -direction : a[0] > b[0] ? direction : a[1] - b[1]))
    .map((entry) => entry[2]);
}

// Sortable headers become buttons (keyboard reachable) and announce their order with aria-sort.
function setupSorting() {
  for (const table of Object.keys(SORT_KEYS)) {
    for (const th of document.querySelectorAll("#" + table + " th[data-sort]")) {
      const button = el("button", { type: "button", class: "sort" }, th.textContent);
      th.replaceChildren(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", () => {
        const current = state.sort[table];
        const descending = current && current.key === th.dataset.sort ? !current.descending : false;
        state.sort[table] = { key: th.dataset.sort, descending };
        for (const other of document.querySelectorAll("#" + table + " th[data-sort]")) {
          other.setAttribute("aria-sort", other === th ? (descending ? "descending" : "ascending") : "none");
        }
        render(true);
      });
    }
  }
}

// ------------------------------------------------------------------ sections

function renderSummary(o) {
  const cards = [
    ["Routers", o.routers], ["Services", o.services], ["Certificates", o.certificates],
    ["Diagnostics", o.diagnostics],
  ];
  const nodes = [];
  for (const [title, counts] of cards) {
    const parts = [];
    for (const [key, value] of Object.entries(counts)) {
      if (key !== "total" && value) parts.push(el("span", { class: "pill " + (STATUS_CLASS[key] || "") }, value + " " + key));
    }
    nodes.push(el("div", { class: "card" },
      el("dt", {}, title), el("dd", {}, el("strong", {}, counts.total), " ", ...parts)));
  }
  document.getElementById("cards").replaceChildren(...nodes);
}

function renderHeader(o) {
  const ready = document.getElementById("ready");
  ready.textContent = o.ready ? "ready" : "not ready";
  ready.className = "badge " + (o.ready ? "ok" : "err");
  const reload = document.getElementById("reload");
  reload.textContent = o.last_reload ? "configuration applied " + ago(o.last_reload) : "no configuration applied yet";
  reload.title = o.last_reload || "";
  document.getElementById("version").textContent = "v" + o.version + " · up " + Math.round(o.uptime_seconds / 60) + " min";
  const banner = document.getElementById("banner");
  if (o.last_error) {
    banner.hidden = false;
    banner.textContent = "Last reload failed; still serving the previous configuration: " + o.last_error;
  } else {
    banner.hidden = true;
  }
}

function problemsCell(problem, detail, diagnostics) {
  const items = [];
  // With findings attached, the problem's code is enough: the finding already says it in words.
  if (problem && (diagnostics || []).length) items.push(el("li", { class: "err" }, el("code", {}, problem)));
  else if (problem) items.push(el("li", { class: "err" }, problem + (detail ? ": " + detail : "")));
  for (const d of diagnostics || []) {
    items.push(el("li", { class: STATUS_CLASS[d.severity] || "" },
      el("code", {}, d.code), " ", d.message, d.hint ? el("span", { class: "hint" }, " — " + d.hint) : null));
  }
  return el("td", { class: "problems" }, items.length ? el("ul", {}, items) : "");
}

function renderRouters(routers, words) {
  const shown = sorted("routers", routers.filter((r) => matches(routerText(r), words)));
  const rows = limitedRows("routers", shown, (r) => el("tr", { "data-router": r.id, class: "status-" + r.status },
    el("td", {}, badge(r.status)),
    el("td", { class: "host", title: r.rule }, r.default_backend && !r.host ? "(default backend)" : (r.host || "*")),
    el("td", { class: "mono" }, r.default_backend ? "—" : (r.path || "/")),
    el("td", {}, r.default_backend ? "default backend" : r.path_type),
    el("td", { class: "mono" }, r.service),
    // The chain in the order the proxy applies it; each stage's effect on hover.
    el("td", { class: "chain", title: r.chain.map((m, i) => (i + 1) + ". " + m.name + ": " + m.effect).join("\n") },
      r.chain.map((m) => m.name).join(" → ")),
    el("td", {}, (r.tls || "—") + (r.tls_only ? " (TLS only)" : "")),
    el("td", {}, r.entrypoints.length ? r.entrypoints.join(", ") : "default"),
    el("td", { class: "traffic num" }),
    el("td", { class: "source", title: r.location || "" },
      r.source ? r.source.namespace + "/" + r.source.name : "", r.location ? el("div", { class: "muted small" }, r.location) : null),
    problemsCell(r.problem, r.problem_detail, r.diagnostics)));
  fillBody("routers", rows, routers.length ? "No router matches the filter." : "No routers.");
  document.getElementById("routers-count").textContent =
    words.length ? shown.length + " of " + routers.length : String(routers.length);
  return shown.length;
}

function plural(n, word) {
  return n + " " + word + (n === 1 ? "" : "s");
}

// A working endpoint's past failures (from /api/upstreams): history, shown muted.
function failureNote(f) {
  if (!f) return null;
  const text = plural(f.failures, "failure") + ", last " + f.last_failure_kind + " " + ago(f.last_failure);
  return el("span", { class: "failure muted", title: f.last_failure }, " ", text);
}

// What the proxy sees of an endpoint now: healthy (its readiness badge), or ejected/failing.
function endpointHealth(e, history) {
  if (e.state === "healthy") return [badge(e.health), failureNote(history)];
  const details = [];
  if (e.ejected_until) details.push("until " + new Date(e.ejected_until).toLocaleTimeString());
  details.push(plural(e.consecutive_failures, "failure") + " in a row");
  if (e.last_error) details.push("last " + e.last_error.kind + " " + ago(e.last_error.at));
  return [badge(e.state), el("span", { class: "failure err", title: e.last_error ? e.last_error.at : "" },
    " " + details.join(" · "))];
}

// Traffic changes on every poll: update those cells in place instead of rebuilding the table.
function updateTraffic(traffic) {
  const now = Date.now();
  const byRouter = Object.fromEntries(traffic.map((t) => [t.router, t]));
  const previous = state.traffic;
  const seconds = previous ? (now - previous.time) / 1000 : 0;
  for (const row of document.querySelectorAll("#routers tr[data-router]")) {
    const t = byRouter[row.dataset.router];
    const cell = row.querySelector("td.traffic");
    if (!t) { cell.replaceChildren(el("span", { class: "muted" }, "—")); continue; }
    const before = previous && previous.byRouter[t.router];
    const rate = before && seconds > 0 ? (t.requests - before.requests) / seconds : null;
    const details = [rate === null ? null : rate.toFixed(1) + "/s", t.mean_ms.toFixed(1) + " ms"].filter(Boolean);
    const lines = [
      el("div", {}, t.requests.toLocaleString("en-US") + " req"),
      el("div", { class: "muted small" }, details.join(" · ")),
    ];
    if (t.server_errors) lines.push(el("div", { class: "small err" }, "5xx " + t.server_errors.toLocaleString("en-US")));
    cell.replaceChildren(...lines);
  }
  state.traffic = { time: now, byRouter };
}

function renderServices(services, upstreams, words) {
  const failures = Object.fromEntries(upstreams.map((u) => [u.address, u]));
  const shown = sorted("services", services.filter((s) => matches(serviceText(s), words)));
  const rows = limitedRows("services", shown, (s) => el("tr", { "data-service": s.name, class: "status-" + s.status },
    el("td", {}, badge(s.status)),
    el("td", { class: "mono" }, s.name, s.scheme && s.scheme !== "http"
      ? el("div", { class: "muted small", "data-scheme": s.scheme }, s.scheme + (s.tls ? " · " + s.tls : ""))
      : null, s.split.length
      ? el("div", { class: "muted small" }, "split: " + s.split.map((x) => x.service + " " + x.percent + "%").join(", "))
      : null),
    el("td", {}, s.endpoints.length
      ? el("ul", { class: "endpoints" }, s.endpoints.map((e) => el("li", { "data-endpoint": e.address, "data-state": e.state },
          el("span", { class: "mono" }, e.address), " ",
          el("span", { class: "muted" }, "w" + e.weight + " · " + Math.round(e.share * 100) + "%"), " ",
          endpointHealth(e, failures[e.address]))))
      : el("span", { class: "muted" }, "no endpoints")),
    el("td", {}, s.routers.length),
    el("td", { class: "problems" }, s.problem ? s.problem + (s.problem_detail ? ": " + s.problem_detail : "") : "")));
  fillBody("services", rows, services.length ? "No service matches the filter." : "No services.");
  document.getElementById("services-count").textContent =
    words.length ? shown.length + " of " + services.length : String(services.length);
  return shown.length;
}

function renderCertificates(certs) {
  const rows = certs.map((c) => el("tr", {},
    el("td", {}, badge(c.status)),
    el("td", {}, el("span", { class: "mono" }, c.main),
      c.sans.length ? el("div", { class: "muted small" }, c.sans.join(", ")) : null),
    el("td", {}, c.issuer),
    el("td", { title: c.origin }, c.source),
    el("td", { class: "nowrap", title: c.not_after }, c.not_after.slice(0, 10)),
    el("td", { class: "num " + (c.days_left < 0 ? "err" : c.days_left < 14 ? "warn" : "") }, c.days_left),
    el("td", { class: "problems" }, c.problems.join("; "))));
  fillBody("certificates", rows, "No certificates.");
  document.getElementById("certs-count").textContent = String(certs.length);
}

function renderProviders(providers) {
  fillBody("providers", providers.map((p) => el("tr", {},
    el("td", {}, p.provider),
    el("td", {}, badge(p.healthy ? "healthy" : "unhealthy")),
    el("td", { title: p.last_sync || "" }, ago(p.last_sync)),
    el("td", { class: "problems" }, p.message))), "No providers.");
}

function renderEntrypoints(eps) {
  fillBody("entrypoints", eps.map((e) => el("tr", {},
    el("td", {}, e.name),
    el("td", { class: "mono" }, e.address),
    el("td", {}, e.tls ? "TLS " + e.tls_min_version + "+" : "—"),
    el("td", {}, (e.protocols || []).join(", ")),
    el("td", {}, e.redirect ? "→ " + e.redirect : "—"),
    el("td", {}, e.auth ? "basic, " + e.auth.users + (e.auth.users === 1 ? " user" : " users") : "—"),
    // Stages the entrypoint adds around every route's chain; each effect on hover.
    el("td", { class: "chain", title: (e.chain || []).map((m) => m.name + ": " + m.effect).join("\n") },
      (e.chain || []).map((m) => m.name).join(" → ") || "—"),
    el("td", { class: "num" }, e.open_connections))), "No entrypoints.");
}

function renderDiagnostics(diags) {
  fillBody("diagnostics", limitedRows("diagnostics", diags, (d) => el("tr", {},
    el("td", {}, badge(d.severity)),
    el("td", { class: "mono" }, d.code),
    el("td", {}, d.message),
    el("td", { class: "mono small" }, d.location || ""),
    el("td", { class: "muted" }, d.hint))), "No findings.");
  document.getElementById("diagnostics-count").textContent = String(diags.length);
}

// Re-render a section only when its data changed, so selection and scrolling survive refreshes.
function changed(key, value) {
  const text = JSON.stringify(value);
  if (state.rendered[key] === text) return false;
  state.rendered[key] = text;
  return true;
}

function render(force) {
  const d = state.data;
  if (!d) return;
  const words = terms();
  renderHeader(d.overview);
  if (changed("summary", [d.overview.routers, d.overview.services, d.overview.certificates, d.overview.diagnostics])) {
    renderSummary(d.overview);
  }
  if (changed("routers", d.routers) || force) renderRouters(d.routers, words);
  updateTraffic(d.traffic);
  if (changed("services", [d.services, d.upstreams]) || force) renderServices(d.services, d.upstreams, words);
  if (changed("certificates", d.certificates)) renderCertificates(d.certificates);
  renderProviders(d.overview.providers);
  if (changed("entrypoints", d.entrypoints)) renderEntrypoints(d.entrypoints);
  if (changed("diagnostics", d.diagnostics)) renderDiagnostics(d.diagnostics);
}

// Large documents carry an ETag: the browser revalidates them (a 304 without a body while the
// configuration is unchanged) and an unchanged ETag skips parsing altogether.
const SOURCES = ["overview", "routers", "services", "certificates", "entrypoints", "diagnostics", "upstreams", "traffic"];

async function load(name) {
  const response = await fetch("/api/" + name, { cache: "no-cache", credentials: "same-origin" });
  if (!response.ok) throw new Error("HTTP " + response.status + " for /api/" + name);
  const etag = response.headers.get("ETag");
  if (etag && state.etags[name] === etag && state.docs[name] !== undefined) return state.docs[name];
  const body = await response.json();
  const value = name === "overview" ? body : body[name];
  state.etags[name] = etag;
  state.docs[name] = value;
  return value;
}

async function refresh() {
  const live = document.getElementById("live");
  try {
    const values = await Promise.all(SOURCES.map(load));
    state.data = Object.fromEntries(SOURCES.map((name, i) => [name, values[i]]));
    state.lastOk = Date.now();
    state.failures = 0;
    render(false);
    live.textContent = "updated " + new Date(state.lastOk).toLocaleTimeString();
    live.className = "muted";
    document.body.dataset.loaded = "true";
  } catch (err) {
    state.failures += 1;
    live.textContent = "cannot reach the API (" + err.message + "), retrying…";
    live.className = "err";
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupSorting();
  const search = document.getElementById("search");
  const params = new URLSearchParams(location.hash.slice(1));
  search.value = params.get("q") || "";
  state.query = search.value;
  search.addEventListener("input", () => {
    state.query = search.value;
    history.replaceState(null, "", state.query ? "#q=" + encodeURIComponent(state.query) : location.pathname);
    render(true);
  });
  // "/" jumps to the filter, as on GitHub and in most consoles.
  document.addEventListener("keydown", (event) => {
    if (event.key === "/" && document.activeElement !== search) {
      event.preventDefault();
      search.focus();
      search.select();
    }
  });
  refresh();
});
