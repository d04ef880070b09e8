// gridkeeper dashboard. Plain JS, no build step, no dependencies. Every URL is relative, so the
// page works under any path prefix a reverse proxy puts in front of it.
"use strict";

const state = { instances: [], alerts: null, events: [], grid: null, prices: [], page: "overview" };
const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function fmtNum(v, digits = 1) {
  if (v === null || v === undefined || v === "") return "–";
  const n = Number(v);
  return Number.isFinite(n) ? n.toFixed(digits) : String(v);
}
function fmtDuration(s) {
  if (s === null || s === undefined) return "–";
  s = Math.floor(s);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h" + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m";
  return Math.floor(s / 86400) + "d" + Math.floor(s % 86400 / 3600) + "h";
}
function fmtTime(t) {
  if (!t) return "–";
  const d = typeof t === "number" ? new Date(t > 1e12 ? t : t * 1000) : new Date(t);
  return d.toLocaleString();
}
function pnlClass(v) { const n = Number(v); return !Number.isFinite(n) || n === 0 ? "" : n > 0 ? "pos" : "neg"; }

// -- requests --------------------------------------------------------------------------------
async function api(path, method = "GET", body = undefined) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (method !== "GET") {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body || {});
  }
  const answer = await fetch(path, opts);
  if (answer.status === 401) { location.href = "login"; throw new Error("not logged in"); }
  let data = null;
  try { data = await answer.json(); } catch (e) { data = { error: answer.statusText }; }
  if (!answer.ok) {
    const err = new Error((data && data.error) || ("HTTP " + answer.status));
    err.status = answer.status; err.data = data;
    throw err;
  }
  return data;
}

const banners = new Map();
function setBanner(source, message) {
  if (message) banners.set(source, message); else banners.delete(source);
  $("#banner").textContent = [...banners.values()].join(" · ");
}

// -- confirmation dialog -----------------------------------------------------------------------
function confirmDialog(title, body, okLabel = "Confirm", okEnabled = true) {
  const dialog = $("#confirm");
  $("#c-title").textContent = title;
  const holder = $("#c-body");
  holder.replaceChildren(...(Array.isArray(body) ? body : [body]));
  const ok = $("#c-ok");
  ok.textContent = okLabel;
  ok.disabled = !okEnabled;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

async function runAction(label, fn) {
  try {
    const result = await fn();
    setBanner("action", null);
    return result;
  } catch (err) {
    setBanner("action", label + ": " + err.message);
    return null;
  }
}

// -- instance actions --------------------------------------------------------------------------
async function instanceAction(name, verb) {
  if (verb === "stop") return stopDialog(name);
  const ok = await confirmDialog(verb[0].toUpperCase() + verb.slice(1) + " " + name + "?",
    el("p", {}, verb === "restart" ? "The process is stopped, then started again." : "The keeper starts it."));
  if (!ok) return;
  await runAction(verb + " " + name, () => api("api/instances/" + encodeURIComponent(name) + "/" + verb, "POST"));
}

async function stopDialog(name) {
  const row = state.instances.find((r) => r.name === name);
  const isGrid = row && row.grid;
  const cancel = el("input", { type: "checkbox", id: "stop-cancel" });
  const flatten = el("input", { type: "checkbox", id: "stop-flatten" });
  const body = [el("p", {}, "The keeper stops the process (SIGTERM, then SIGKILL after its stop timeout).")];
  if (isGrid) {
    body.push(el("p", {}, el("label", {}, cancel, " cancel the grid's open orders first")),
      el("p", {}, el("label", {}, flatten, " flatten: close the grid's position at market first")),
      el("p", { class: "dim" }, "Neither: the orders stay on the book for the next start."));
  }
  if (!(await confirmDialog("Stop " + name + "?", body, "Stop"))) return;
  await runAction("stop " + name, () => api("api/instances/" + encodeURIComponent(name) + "/stop", "POST",
    { cancel_orders: cancel.checked, flatten: flatten.checked }));
}

// -- overview ----------------------------------------------------------------------------------
function renderInstances() {
  const body = $("#instances tbody");
  const rows = state.instances.map((r) => {
    const g = r.grid;
    let gridCell = "–", price = "–", pnl = "–";
    if (g && g.answered) {
      gridCell = el("span", {}, el("span", { class: "badge" }, g.trading), " ", g.range ? g.range + " " + g.lower + "–" + g.upper : "");
      price = g.price ?? "–";
      pnl = el("span", { class: pnlClass(g.total_pnl) }, fmtNum(g.total_pnl, 2));
    } else if (g) {
      gridCell = el("span", { class: "dim" }, g.error || "?");
    }
    const name = g ? el("a", { href: "#/grid/" + encodeURIComponent(r.name) }, r.name) : r.name;
    const actions = el("div", { class: "actions" },
      ...["start", "restart", "stop"].map((v) => el("button", {
        "data-action": v, onclick: () => instanceAction(r.name, v) }, v)));
    return el("tr", { "data-name": r.name, "data-state": r.state },
      el("td", { class: "name" }, name),
      el("td", { class: "state" }, el("span", { class: "badge s-" + r.state }, r.state)),
      el("td", { class: "num pid" }, r.pid ?? "–"),
      el("td", { class: "num uptime" }, fmtDuration(r.uptime_s)),
      el("td", { class: "num restarts" }, r.restarts ?? 0),
      el("td", { class: "num cpu" }, fmtNum(r.cpu_percent)),
      el("td", { class: "num rss" }, fmtNum(r.rss_mb)),
      el("td", { class: "health" }, r.health ?? "–"),
      el("td", { class: "grid" }, gridCell),
      el("td", { class: "num price" }, price),
      el("td", { class: "num pnl" }, pnl),
      el("td", {}, actions));
  });
  body.replaceChildren(...rows);
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: 12, class: "dim" }, "no instances: gridkeeper start")));
}

function renderAlerts() {
  const body = $("#alerts tbody");
  const data = state.alerts;
  if (!data) return;
  if (!data.monitor) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "dim" }, "no monitor.db yet: the monitor has not run")));
    return;
  }
  const rows = data.alerts.map((a) => el("tr", { "data-alert": a.id },
    el("td", {}, a.id),
    el("td", {}, a.state),
    el("td", {}, el("span", { class: "badge l-" + a.level }, a.level)),
    el("td", {}, a.rule), el("td", {}, a.subject),
    el("td", { style: "white-space:normal" }, a.summary),
    el("td", {}, fmtTime(a.fired_at)),
    el("td", {}, el("div", { class: "actions" },
      a.state === "firing" && !a.acked_at ? el("button", { "data-ack": a.id, onclick: () => ackAlert(a) }, "ack") : (a.acked_at ? el("span", { class: "dim" }, "acked") : null),
      el("button", { onclick: () => silenceAlert(a) }, "silence")))));
  body.replaceChildren(...rows);
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: 8, class: "dim" }, "no alerts in the last day")));
  $("#silences").textContent = data.silences.length
    ? "Silenced: " + data.silences.map((s) => s.pattern + " until " + fmtTime(s.expires_at)).join(", ")
    : "";
}

async function ackAlert(a) {
  if (!(await confirmDialog("Acknowledge alert #" + a.id + "?", el("p", {}, a.summary + " — no more reminders.")))) return;
  await runAction("ack", () => api("api/alerts/" + a.id + "/ack", "POST"));
  state.alerts = await api("api/alerts"); renderAlerts();
}

async function silenceAlert(a) {
  const pattern = el("input", { value: a.rule + ":" + a.subject, size: 36 });
  const duration = el("input", { value: "1h", size: 6 });
  const comment = el("input", { size: 30 });
  const body = el("div", {}, el("p", {}, el("label", {}, "Pattern ", pattern)),
    el("p", {}, el("label", {}, "For ", duration), " (30m, 1h, 1d)"), el("p", {}, el("label", {}, "Comment ", comment)));
  if (!(await confirmDialog("Silence", body, "Silence"))) return;
  await runAction("silence", () => api("api/silences", "POST",
    { pattern: pattern.value, duration: duration.value, comment: comment.value }));
  state.alerts = await api("api/alerts"); renderAlerts();
}

// [label, digits, scale]: the monitor stores ratios 0-1 (Prometheus base units); shown as %.
const HOST_LABELS = {
  gridkeeper_host_cpu_used_ratio: ["CPU %", 1, 100], gridkeeper_host_memory_used_ratio: ["memory %", 1, 100],
  gridkeeper_host_load1: ["load 1m", 2, 1], gridkeeper_host_filesystem_used_ratio: ["disk %", 1, 100],
  gridkeeper_keeper_up: ["keeper up", 0, 1],
};
function renderHost(rows) {
  if (!rows.length) return;
  $("#host").replaceChildren(...rows.map((r) => {
    const [label, digits, scale] = HOST_LABELS[r.name] || [r.name, 2, 1];
    const where = r.labels && r.labels.mountpoint ? " " + r.labels.mountpoint : "";
    return el("div", { class: "card", "data-metric": r.name }, el("div", { class: "v" }, fmtNum(r.value * scale, digits)), el("div", { class: "k" }, label + where));
  }));
}

function renderEvents() {
  $("#events").replaceChildren(...state.events.slice(0, 100).map((e) =>
    el("li", {}, el("span", { class: "dim" }, new Date(e.ts).toLocaleTimeString() + " "), el("b", {}, e.instance), " " + e.kind + ": " + e.message)));
}

// -- grid page ---------------------------------------------------------------------------------
const SVGNS = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

function drawLines(target, series, opts = {}) {
  // series: [{points: [[t, v]...], stroke, dots}]; opts.hlines: [{v, stroke, label, dash}], opts.band: [lo, hi]
  const W = 600, H = 260, L = 60, R = 10, T = 10, B = 22;
  target.setAttribute("viewBox", `0 0 ${W} ${H}`);
  target.replaceChildren();
  const pts = series.flatMap((s) => s.points);
  const vals = pts.map((p) => p[1]).concat((opts.hlines || []).map((h) => h.v));
  if (!vals.length) { target.append(svg("text", { x: L, y: H / 2 }, opts.empty || "no data yet")); return; }
  let lo = Math.min(...vals), hi = Math.max(...vals);
  if (lo === hi) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.05; lo -= pad; hi += pad;
  const ts = pts.map((p) => p[0]);
  let t0 = ts.length ? Math.min(...ts) : 0, t1 = ts.length ? Math.max(...ts) : 1;
  if (t0 === t1) { t0 -= 1; t1 += 1; }
  const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);
  const y = (v) => T + (hi - v) / (hi - lo) * (H - T - B);
  if (opts.band) target.append(svg("rect", { x: L, y: y(opts.band[1]), width: W - L - R, height: Math.max(0, y(opts.band[0]) - y(opts.band[1])), fill: "#3b82f6", "fill-opacity": 0.08 }));
  for (const h of opts.hlines || []) {
    target.append(svg("line", { x1: L, x2: W - R, y1: y(h.v), y2: y(h.v), stroke: h.stroke, "stroke-width": 1, "stroke-dasharray": h.dash || "" }));
    if (h.label) target.append(svg("text", { x: 2, y: y(h.v) + 4 }, h.label));
  }
  for (let i = 0; i <= 4; i++) {
    const v = lo + (hi - lo) * i / 4;
    if (!(opts.hlines || []).some((h) => h.label)) target.append(svg("text", { x: 2, y: y(v) + 4 }, v.toFixed(2)));
  }
  for (const s of series) {
    if (!s.points.length) continue;
    if (s.dots) {
      for (const p of s.points) target.append(svg("circle", { cx: x(p[0]), cy: y(p[1]), r: 3, fill: p[2] || s.stroke }));
    } else {
      const d = s.points.map((p, i) => (i ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1)).join(" ");
      target.append(svg("path", { d, fill: "none", stroke: s.stroke, "stroke-width": 1.6 }));
    }
  }
  if (ts.length) {
    target.append(svg("text", { x: L, y: H - 6 }, new Date(t0).toLocaleTimeString()));
    target.append(svg("text", { x: W - R - 60, y: H - 6 }, new Date(t1).toLocaleTimeString()));
  }
}

function gridName() { const m = location.hash.match(/^#\/grid\/(.+)$/); return m ? decodeURIComponent(m[1]) : null; }

async function loadGrid() {
  const name = gridName();
  if (!name) return;
  $("#g-title").textContent = name;
  const path = "api/grid/" + encodeURIComponent(name);
  try {
    const view = await api(path);
    if (gridName() !== name) return;
    state.grid = view;
    setBanner("grid", null);
    const price = Number(view.mark_price || view.last_price);
    if (Number.isFinite(price)) {
      state.prices.push([Date.now(), price]);
      if (state.prices.length > 2000) state.prices.shift();
    }
    renderGrid(view);
  } catch (err) {
    setBanner("grid", name + ": " + err.message);
  }
  try {
    const base = state.grid && state.grid.symbol ? "?base=" + encodeURIComponent(state.grid.symbol.split("_")[0]) : "";
    const f = await api(path + "/fills" + base);
    state.fills = f;
    renderFills(f);
  } catch (err) { setBanner("fills", "fills: " + err.message); }
  try {
    const log = await api(path + "/log?lines=200");
    const pre = $("#g-log");
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = log.lines.join("\n") || "(no log yet)";
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  } catch (err) { $("#g-log").textContent = "log: " + err.message; }
}

function renderGrid(v) {
  const row = state.instances.find((r) => r.name === v.instance) || {};
  $("#g-state").replaceChildren(el("span", { class: "badge s-" + (row.state || "") }, row.state || "?"), " ",
    el("span", { class: "badge", id: "g-trading" }, v.status), v.reason ? " " + v.reason : "");
  const p = v.profit || {};
  const cards = [["symbol", v.symbol], ["range", v.grid_lower_price + " – " + v.grid_upper_price], ["levels", v.grid_num],
    ["price", v.mark_price || v.last_price], ["position", v.position], ["total PnL", fmtNum(p.total_pnl, 4)],
    ["realized", fmtNum(p.realized_grid_profit, 4)], ["fees", fmtNum(p.fees, 4)]];
  $("#g-cards").replaceChildren(...cards.map(([k, val]) => el("div", { class: "card", "data-card": k }, el("div", { class: "v" }, val ?? "–"), el("div", { class: "k" }, k))));
  const form = $("#adjust");
  for (const key of ["grid_lower_price", "grid_upper_price"]) {
    const input = form.elements[key];
    if (!input.value && document.activeElement !== input) input.value = v[key];
  }
  const levels = new Set();
  for (const l of v.levels || []) { if (l.buy) levels.add(Number(l.buy)); if (l.sell) levels.add(Number(l.sell)); }
  const hlines = [...levels].map((lv) => ({ v: lv, stroke: "#3b4652", dash: "3 3" }));
  hlines.push({ v: Number(v.grid_lower_price), stroke: "#60a5fa", label: "low " + v.grid_lower_price });
  hlines.push({ v: Number(v.grid_upper_price), stroke: "#60a5fa", label: "up " + v.grid_upper_price });
  for (const o of v.open_orders || []) if (o.status === "live") hlines.push({ v: Number(o.price), stroke: o.side === "Bid" ? "#34d399" : "#f87171" });
  const fillDots = ((state.fills && state.fills.fills) || []).slice(0, 300).map((f) => [f.ts_ms, Number(f.price), f.side === "Bid" ? "#34d399" : "#f87171"]);
  const t0 = state.prices.length ? state.prices[0][0] - 3600e3 : 0;
  drawLines($("#g-chart"), [
    { points: state.prices, stroke: "#fbbf24" },
    { points: fillDots.filter((d) => d[0] >= t0), stroke: "#34d399", dots: true },
  ], { hlines, band: [Number(v.grid_lower_price), Number(v.grid_upper_price)] });
  $("#g-orders tbody").replaceChildren(...(v.open_orders || []).map((o) => el("tr", {},
    el("td", { class: o.side === "Bid" ? "pos" : "neg" }, o.side === "Bid" ? "buy" : "sell"),
    el("td", { class: "num" }, o.price), el("td", { class: "num" }, o.quantity), el("td", { class: "num" }, o.filled),
    el("td", {}, o.status), el("td", { class: "num" }, o.slot))));
}

function renderFills(f) {
  $("#g-fills tbody").replaceChildren(...f.fills.slice(0, 100).map((x) => el("tr", {},
    el("td", {}, fmtTime(x.ts_ms)), el("td", { class: x.side === "Bid" ? "pos" : "neg" }, x.side === "Bid" ? "buy" : "sell"),
    el("td", { class: "num" }, x.price), el("td", { class: "num" }, x.quantity), el("td", { class: "num" }, x.fee + " " + x.fee_symbol))));
  if (!f.fills.length) $("#g-fills tbody").append(el("tr", {}, el("td", { colspan: 5, class: "dim" }, "no fills yet")));
  drawLines($("#g-pnl"), [{ points: f.pnl.map((p) => [p.ts_ms, Number(p.pnl)]), stroke: "#34d399" }],
    { empty: "no fills yet", hlines: [{ v: 0, stroke: "#3b4652", dash: "2 2" }] });
}

async function gridAction(verb) {
  const name = gridName();
  if (verb === "pause" || verb === "resume") {
    const text = verb === "pause" ? "Opening orders are cancelled; closing orders keep resting." : "The grid is rebuilt from the real position and trades again.";
    if (!(await confirmDialog(verb[0].toUpperCase() + verb.slice(1) + " " + name + "?", el("p", {}, text)))) return;
    await runAction(verb, () => api("api/grid/" + encodeURIComponent(name) + "/" + verb, "POST"));
    return loadGrid();
  }
  await instanceAction(name, verb);
}

function list(title, items, fmt) {
  if (!items || !items.length) return el("p", { class: "dim" }, title + ": none");
  return el("div", {}, el("b", {}, title + " (" + items.length + ")"), el("ul", {}, ...items.slice(0, 50).map((i) => el("li", {}, fmt(i)))));
}
function describeOrder(o) {
  if (typeof o !== "object" || o === null) return String(o);
  return [o.side, o.quantity, "@", o.price, o.slot !== undefined ? "(slot " + o.slot + ")" : ""].filter((x) => x !== undefined).join(" ");
}

async function adjustSubmit(ev) {
  ev.preventDefault();
  const name = gridName();
  const form = ev.target;
  const body = { grid_lower_price: form.elements.grid_lower_price.value.trim(), grid_upper_price: form.elements.grid_upper_price.value.trim() };
  if (form.elements.grid_num.value.trim()) body.grid_num = Number(form.elements.grid_num.value.trim());
  if (form.elements.position.value) body.position = form.elements.position.value;
  const path = "api/grid/" + encodeURIComponent(name) + "/adjust";
  let preview;
  try {
    preview = await api(path, "POST", { ...body, dry_run: true });
  } catch (err) {
    const field = err.data && err.data.detail && err.data.detail.field;
    if (err.status === 400 && field === "dry_run") {
      preview = null; // a bot from before the preview: it refused the field, changed nothing
    } else {
      await confirmDialog("Adjust " + name + ": refused", el("p", { class: "neg", id: "adjust-error" }, err.message), "OK", false);
      return;
    }
  }
  const refused = preview && preview.refused;
  const parts = [el("p", {}, "New range " + body.grid_lower_price + " – " + body.grid_upper_price + (body.grid_num ? ", " + body.grid_num + " levels" : ""))];
  if (!preview || preview.dry_run !== true) {
    parts.push(el("p", { class: "neg", id: "no-preview" }, "This bot has no dry-run preview (it refused dry_run and changed nothing); Apply sends the change directly."));
  } else {
    if (refused) parts.push(el("p", { class: "neg", id: "adjust-refused" }, "Refused: " + refused));
    parts.push(list("Cancel", preview.cancel, describeOrder), list("Place", preview.place, describeOrder),
      list("Covers", preview.covers, describeOrder), list("Warnings", preview.warnings, String));
  }
  if (!(await confirmDialog("Adjust " + name + "?", parts, "Apply", !refused))) return;
  const done = await runAction("adjust " + name, () => api(path, "POST", body));
  if (done) { form.elements.grid_lower_price.value = ""; form.elements.grid_upper_price.value = ""; }
  await loadGrid();
}

// -- routing and the live feed ----------------------------------------------------------------
function route() {
  const name = gridName();
  $("#overview").hidden = !!name;
  $("#gridpage").hidden = !name;
  if (name && state.page !== name) { state.prices = []; state.fills = null; state.grid = null; $("#g-log").textContent = ""; }
  state.page = name || "overview";
  if (name) loadGrid();
}

function connect() {
  const source = new EventSource("api/events");
  const conn = $("#conn");
  source.addEventListener("open", () => { conn.textContent = "live"; conn.className = "conn live"; });
  source.addEventListener("error", () => { conn.textContent = "reconnecting…"; conn.className = "conn down"; });
  source.addEventListener("instances", (e) => {
    state.instances = JSON.parse(e.data);
    renderInstances();
    if (gridName()) loadGrid();
  });
  source.addEventListener("alerts", (e) => { state.alerts = JSON.parse(e.data); renderAlerts(); });
  source.addEventListener("host", (e) => renderHost(JSON.parse(e.data)));
  source.addEventListener("keeper", (e) => { state.events.unshift(JSON.parse(e.data)); state.events.length = Math.min(state.events.length, 200); renderEvents(); });
  source.addEventListener("problem", (e) => {
    const d = JSON.parse(e.data);
    setBanner(d.source, d.message);
  });
}

document.addEventListener("DOMContentLoaded", async () => {
  for (const b of document.querySelectorAll("[data-grid-action]")) b.addEventListener("click", () => gridAction(b.dataset.gridAction));
  $("#adjust").addEventListener("submit", adjustSubmit);
  window.addEventListener("hashchange", route);
  route();
  connect();
  try { const info = await api("api/info"); $("#version").textContent = "v" + info.version; } catch (e) { /* shown by the feed */ }
});
