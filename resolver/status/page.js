// The status page's behaviour. Every value from the server is hostile: it is shown with
// textContent (never parsed as markup), and nothing is fetched from anywhere but this listener.
"use strict";

const MAX_RECENT = 50;
const recent = []; // [time, id, old, new, reason], newest first, when the server keeps none
let lastChecks = null;
const CHECK_LABELS = ["Check", "State", "Since", "Last result", "Reason", "Override"];

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function when(value) {
  if (value === null || value === undefined) return "-";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

function row(cells, labels) {
  const tr = document.createElement("tr");
  for (const [i, cell] of cells.entries()) {
    const td = document.createElement("td");
    if (labels) td.dataset.label = labels[i];
    if (cell instanceof Node) td.appendChild(cell); else td.textContent = String(cell);
    tr.appendChild(td);
  }
  return tr;
}

function authHeaders() {
  const headers = { "Content-Type": "application/json" };
  const token = sessionStorage.getItem("policydns-token");
  if (token) headers["Authorization"] = "Bearer " + token;
  return headers;
}

async function setOverride(id, state) {
  const msg = document.getElementById("override-msg");
  msg.textContent = "";
  try {
    const resp = await fetch("/api/v1/health-checks/" + encodeURIComponent(id) + "/override", {
      method: "PUT", headers: authHeaders(), body: JSON.stringify({ state: state }),
      credentials: "same-origin",
    });
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (!resp.ok) {
      msg.className = "error";
      msg.textContent = "override " + id + ": " + resp.status +
        (body && body.error ? " " + body.error : "");
    } else {
      msg.className = "";
      msg.textContent = "override " + id + " = " + state;
    }
  } catch (e) {
    msg.className = "error";
    msg.textContent = "override failed: " + e;
  }
}

function overrideButtons(id) {
  const span = el("span");
  for (const state of ["healthy", "unhealthy", "none"]) {
    const b = el("button", state);
    b.type = "button";
    b.dataset.check = id;
    b.dataset.state = state;
    b.addEventListener("click", () => setOverride(id, state));
    span.appendChild(b);
  }
  return span;
}

function renderChecks(checks) {
  const body = document.querySelector("#checks tbody");
  body.replaceChildren();
  for (const [id, s] of Object.entries(checks)) {
    let shown = s.status;
    if (s.override) {
      shown += " (override by " + s.override.who + "; probes say " + (s.probed ?? "?") + ")";
    }
    const state = el("span", shown, s.status === "healthy" ? "healthy" : "unhealthy");
    const result = s.last_result === true ? "passed" : s.last_result === false ? "failed" : (s.last_result ?? "-");
    const tr = row([id, state, when(s.since), result, s.reason ?? "", overrideButtons(id)], CHECK_LABELS);
    tr.dataset.check = id;
    tr.dataset.status = s.status;
    body.appendChild(tr);
  }
}

function noteChanges(checks) {
  if (lastChecks) {
    for (const [id, s] of Object.entries(checks)) {
      const before = lastChecks[id];
      if (before && before.status !== s.status) {
        recent.unshift([Date.now() / 1000, id, before.status, s.status, s.reason]);
      }
    }
    recent.length = Math.min(recent.length, MAX_RECENT);
  }
  lastChecks = checks;
}

function renderRecent(items) {
  const list = document.getElementById("recent");
  list.replaceChildren();
  if (!items.length) list.appendChild(el("li", "no changes seen yet"));
  for (const [t, id, old, now, reason] of items) {
    const o = typeof old === "boolean" ? (old ? "healthy" : "unhealthy") : old;
    const n = typeof now === "boolean" ? (now ? "healthy" : "unhealthy") : now;
    list.appendChild(el("li", when(t) + "  " + id + ": " + o + " \u2192 " + n + (reason ? " (" + reason + ")" : "")));
  }
}

function onHealth(payload) {
  noteChanges(payload.checks);
  renderChecks(payload.checks);
  if (Array.isArray(payload.recent)) {
    renderRecent(payload.recent.slice().reverse().map((r) => [r.time, r.id, r.old, r.new, r.reason]));
  } else {
    renderRecent(recent);
  }
}

function connect() {
  const live = document.getElementById("live");
  const source = new EventSource("/api/v1/events");
  source.addEventListener("health", (event) => {
    live.textContent = "live";
    live.className = "pill on";
    onHealth(JSON.parse(event.data));
  });
  source.addEventListener("error", () => {
    live.textContent = "reconnecting";
    live.className = "pill";
  });
}

async function loadZones() {
  const resp = await fetch("/api/v1/zones");
  const zones = await resp.json();
  const body = document.querySelector("#zones tbody");
  body.replaceChildren();
  for (const z of zones) body.appendChild(row([z.name, z.serial, z.record_sets]));
}

async function loadStats() {
  try {
    const resp = await fetch("/api/v1/stats");
    if (!resp.ok) return;
    const stats = await resp.json();
    const rate = stats.cache.hit_rate;
    document.getElementById("hit-rate").textContent =
      rate === null ? "no lookups yet" : (rate * 100).toFixed(1) + "% of " + (stats.cache.hits + stats.cache.misses);
    const body = document.querySelector("#stats tbody");
    body.replaceChildren();
    for (const [policy, total] of Object.entries(stats.queries)) {
      body.appendChild(row([policy, (stats.qps[policy] ?? 0).toFixed(2), total]));
    }
  } catch (e) { /* the next poll retries */ }
}

// The explain JSON as a nested list: keys bold, values as text.
function tree(value) {
  if (value === null || typeof value !== "object") return el("span", value === null ? "null" : value);
  const ul = el("ul");
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i + 1), v]) : Object.entries(value);
  for (const [k, v] of entries) {
    const li = el("li");
    li.appendChild(el("span", k + ": ", "key"));
    li.appendChild(tree(v));
    ul.appendChild(li);
  }
  return ul;
}

async function runExplain(event) {
  event.preventDefault();
  const out = document.getElementById("explain-out");
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(event.target)) if (String(v).trim()) params.set(k, String(v).trim());
  out.replaceChildren(el("p", "asking\u2026"));
  try {
    const resp = await fetch("/api/v1/explain?" + params.toString());
    const body = await resp.json();
    out.replaceChildren();
    if (!resp.ok) { out.appendChild(el("p", body.error || resp.status, "error")); return; }
    const summary = el("p", body.question.name + " " + body.question.type + " \u2192 " + body.rcode + ": " + (body.answer.length ? body.answer.join("; ") : "(no records)"));
    summary.id = "explain-summary";
    out.appendChild(summary);
    out.appendChild(tree({ decisions: body.decisions, client: body.client, location: body.location }));
  } catch (e) {
    out.replaceChildren(el("p", "explain failed: " + e, "error"));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const token = document.getElementById("token");
  token.value = sessionStorage.getItem("policydns-token") || "";
  token.addEventListener("input", () => sessionStorage.setItem("policydns-token", token.value));
  document.getElementById("explain").addEventListener("submit", runExplain);
  connect();
  loadZones();
  loadStats();
  setInterval(loadStats, 2000);
  setInterval(loadZones, 30000);
});
