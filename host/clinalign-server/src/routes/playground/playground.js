// The principle playground: calls this server's /v1/explain, /v1/grade and /healthz. Every
// piece of text from a request or a reply goes into the page as text (textContent), never as
// markup. The DOM carries data-* attributes (set hash, reload outcome, labels, items, score)
// that the end-to-end browser test reads.
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;

const state = {
  examples: [],
  // The conversation of the rubric on screen, re-explained when the principle set changes.
  shown: null,
  items: [],
  setHash: null,
  reloadSeen: null,
  judge: null,
  renders: 0,
};

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") e.className = v;
    // Styles through the CSSOM: the page's CSP forbids inline style attributes.
    else if (k === "style") Object.assign(e.style, v);
    else if (k.startsWith("data-") || k === "title") e.setAttribute(k, String(v));
    else e[k] = v;
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function headers() {
  const h = { "content-type": "application/json" };
  const token = $("token").value.trim();
  if (token) h.authorization = "Bearer " + token;
  return h;
}

// POSTs JSON; an error reply becomes an Error whose message names the field and row.
async function post(path, body) {
  const resp = await fetch(path, { method: "POST", headers: headers(), body: JSON.stringify(body) });
  let data = null;
  try {
    data = await resp.json();
  } catch (_) {
    data = null;
  }
  if (!resp.ok) {
    const e = data && data.error;
    const where = e && e.field ? e.field + ": " : "";
    throw new Error(e ? where + e.message : `${resp.status} ${resp.statusText}`);
  }
  return data;
}

function readConversation() {
  const text = $("conversation").value.trim();
  if (!text) throw new Error("Type a message or pick a bundled example first.");
  if (text.startsWith("[")) {
    let turns;
    try {
      turns = JSON.parse(text);
    } catch (e) {
      throw new Error("The conversation starts like a JSON list but does not parse: " + e.message);
    }
    if (!Array.isArray(turns) || !turns.every((t) => t && typeof t.role === "string" && typeof t.content === "string")) {
      throw new Error('A JSON conversation is a list of {"role": …, "content": …} turns.');
    }
    return turns;
  }
  return [{ role: "user", content: text }];
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function rendered() {
  state.renders += 1;
  document.body.dataset.renders = String(state.renders);
}

function tagValue(tags, prefix) {
  const t = (tags || []).find((x) => x.startsWith(prefix));
  return t ? t.slice(prefix.length) : "";
}

// --- the rubric -----------------------------------------------------------------------------

// The conversation typed, or null after saying what is wrong with it.
function conversationOrSay() {
  try {
    return readConversation();
  } catch (e) {
    showError(e.message);
    return null;
  }
}

// Asks for the conversation's explanation and shows it.
async function showRubricOf(messages) {
  const row = await post("/v1/explain", { id: "playground", messages });
  state.shown = messages;
  renderExplanation(row.explanation);
}

async function explain() {
  showError("");
  const messages = conversationOrSay();
  if (!messages) return;
  $("explain-state").textContent = "writing…";
  try {
    await showRubricOf(messages);
    $("explain-state").textContent = "";
  } catch (e) {
    $("explain-state").textContent = "";
    showError("Could not write the rubric: " + e.message);
  }
}

function renderExplanation(x) {
  renderScenario(x.scenario || []);
  state.items = (x.rubric && x.rubric.items) || [];
  renderRubric(state.items, null);
  renderPool(x.pool || [], x.principles_in_set);
  const panel = $("result-panel");
  panel.dataset.principleSet = x.principle_set || "";
  $("score").hidden = true;
  rendered();
}

function renderScenario(labels) {
  const box = $("scenario");
  box.replaceChildren();
  for (const l of labels) {
    const pct = Math.round((l.confidence || 0) * 100);
    box.append(
      el(
        "div",
        { class: "label", "data-dimension": l.dimension, "data-value": l.value, "data-confidence": l.confidence, title: l.rule || "given with the query" },
        el("span", { class: "dim" }, l.dimension.replace(/_/g, " ")),
        el("span", { class: "val" }, l.value.replace(/_/g, " ")),
        el("span", { class: "bar" }, el("span", { class: "fill", style: { width: pct + "%" } })),
        el("span", { class: "pct" }, pct + "%"),
        l.rule ? el("span", { class: "rule muted" }, l.rule) : el("span", { class: "rule muted" }, "given with the query"),
      ),
    );
  }
}

function renderRubric(items, graded) {
  const body = $("rubric").querySelector("tbody");
  body.replaceChildren();
  items.forEach((item, i) => {
    const g = graded ? graded[i] : null;
    const p = g && typeof g.p_met === "number" ? g.p_met : g && typeof g.criteria_met === "boolean" ? (g.criteria_met ? 1 : 0) : null;
    const principle = tagValue(item.tags, "principle:");
    const tr = el(
      "tr",
      { class: item.points < 0 ? "penalty" : "", "data-points": item.points, "data-principle": principle, "data-p-met": p === null ? null : p.toFixed(3) },
      el("td", { class: "num" }, item.points > 0 ? "+" + item.points : String(item.points)),
      el("td", { class: "criterion" }, item.criterion),
      el("td", {}, tagValue(item.tags, "axis:").replace(/_/g, " ")),
      el("td", { class: "principle" }, principle),
      el("td", { class: "num pmet" }, p === null ? "" : el("span", { class: "meter", "data-met": p >= 0.5 ? "yes" : "no" }, p.toFixed(2))),
    );
    body.append(tr);
  });
  const pos = items.filter((i) => i.points > 0).reduce((s, i) => s + i.points, 0);
  const pen = items.filter((i) => i.points < 0).length;
  $("rubric-summary").textContent = items.length
    ? `${items.length} items · ${pos} positive points · ${pen} penalt${pen === 1 ? "y" : "ies"}`
    : "no items: no principle of the pool spoke for this conversation";
  $("rubric").dataset.items = String(items.length);
}

// The principles that took part first (spoke, failed, silent); those the gate skipped, the
// most, folded away under one line.
function renderPool(pool, inSet) {
  const list = $("pool");
  list.replaceChildren();
  const counts = { emitted: 0, silent: 0, "gated-out": 0, failed: 0 };
  const order = { emitted: 0, failed: 1, silent: 2, "gated-out": 3 };
  const steps = [...pool].sort((a, b) => (order[a.status] ?? 9) - (order[b.status] ?? 9));
  const skipped = el("ul", { class: "pool" });
  for (const step of steps) {
    counts[step.status] = (counts[step.status] || 0) + 1;
    let detail = "";
    if (step.status === "emitted") detail = `${(step.items || []).length} item(s)`;
    else if (step.status === "silent") detail = step.why || "";
    else if (step.status === "gated-out") {
      const terms = step.gate_terms || [];
      detail = "none of its gate terms occurs: " + terms.slice(0, 6).join(", ") + (terms.length > 6 ? ", …" : "");
    } else if (step.status === "failed") detail = step.error || "";
    const badge = { emitted: "spoke", "gated-out": "skipped" }[step.status] || step.status;
    const li = el(
      "li",
      { class: "step " + step.status, "data-principle": step.principle, "data-status": step.status, title: detail },
      el("span", { class: "badge" }, badge),
      el("span", { class: "pid" }, step.principle),
      el("span", { class: "why muted" }, detail),
    );
    (step.status === "gated-out" ? skipped : list).append(li);
  }
  if (counts["gated-out"]) {
    list.append(
      el(
        "li",
        { class: "skipped-group" },
        el("details", {}, el("summary", {}, `${counts["gated-out"]} skipped by their gate (not called)`), skipped),
      ),
    );
  }
  $("pool-summary").textContent =
    `${pool.length} of ${inSet || "?"} principles in the pool · ${counts.emitted} spoke · ${counts.silent} silent · ` +
    `${counts["gated-out"]} skipped by the gate` + (counts.failed ? ` · ${counts.failed} failed` : "");
}

// --- grading --------------------------------------------------------------------------------

async function grade() {
  showError("");
  if (!state.judge) {
    showError("This server has no judge: start it with --judge local:smollm2 (or openai:URL) to grade responses.");
    return;
  }
  const response = $("response").value.trim();
  if (!response) {
    showError("Paste a response to grade first.");
    return;
  }
  const messages = conversationOrSay();
  if (!messages) return;
  $("grade-state").textContent = "grading…";
  try {
    if (!state.shown || JSON.stringify(state.shown) !== JSON.stringify(messages)) await showRubricOf(messages);
    const row = await post("/v1/grade", { id: "playground", messages, response, rubrics: state.items });
    renderRubric(state.items, row.rubrics);
    const soft = row.grade && row.grade.soft_score;
    const hard = row.grade && row.grade.score;
    const box = $("score");
    box.hidden = false;
    box.dataset.score = typeof soft === "number" ? soft.toFixed(4) : "";
    box.replaceChildren(
      el("span", { class: "big" }, typeof soft === "number" ? soft.toFixed(2) : "–"),
      el("span", {}, " soft score (Σ points·p_met / Σ positive points)"),
      el("span", { class: "muted" }, typeof hard === "number" ? ` · met/unmet score ${hard.toFixed(2)}` : ""),
      el("span", { class: "muted" }, row.grade && row.grade.judge ? ` · judge ${row.grade.judge}` : ""),
    );
    $("grade-state").textContent = "";
    rendered();
  } catch (e) {
    $("grade-state").textContent = "";
    showError("Could not grade: " + e.message);
  }
}

// --- the live principle set -----------------------------------------------------------------

async function poll() {
  try {
    const resp = await fetch("/healthz", { cache: "no-store" });
    const h = await resp.json();
    renderStatus(h);
  } catch (e) {
    const box = $("set-status");
    box.dataset.state = "offline";
    box.replaceChildren(el("span", { class: "dot off" }), el("span", {}, "server unreachable: " + e.message));
  }
  setTimeout(poll, POLL_MS);
}

function renderStatus(h) {
  const set = h.principle_set || {};
  const box = $("set-status");
  box.dataset.state = "online";
  box.dataset.hash = set.hash || "";
  state.judge = h.judge || null;
  $("grade").disabled = !state.judge;
  $("grade").title = state.judge ? "" : "start the server with --judge to grade";
  box.replaceChildren(
    el("span", { class: "dot on" }),
    el("span", {}, "set "),
    el("code", { title: set.hash || "" }, (set.hash || "").slice(0, 12)),
    el("span", {}, ` · ${set.principles} principles` + (set.left_out ? ` (${set.left_out} left out)` : "")),
    el("span", {}, h.watching ? " · watching for changes" : " · not watching (start with --watch)"),
    el("span", {}, state.judge ? ` · judge ${state.judge}` : " · no judge"),
  );
  const last = h.last_reload;
  const stamp = last ? `${last.finished_at_ms}:${last.outcome && last.outcome.status}` : null;
  if (last && stamp !== state.reloadSeen) {
    state.reloadSeen = stamp;
    renderReload(last);
  }
  if (state.setHash !== null && set.hash !== state.setHash && state.shown) {
    // A new set went live: show the rubric it writes.
    $("conversation").value = conversationText(state.shown);
    explain();
  }
  state.setHash = set.hash;
}

function renderReload(r) {
  const box = $("reload-status");
  const when = new Date(r.finished_at_ms).toLocaleTimeString();
  const o = r.outcome || {};
  box.hidden = false;
  box.dataset.outcome = o.status || "";
  box.className = "banner " + (o.status === "rejected" ? "error" : "info");
  if (o.status === "rejected") {
    box.replaceChildren(
      el("strong", {}, `Reload rejected at ${when}; the live set stays. `),
      el("span", { class: "reason" }, r.error || o.reason || ""),
    );
  } else if (o.status === "live") {
    const c = r.changes || {};
    const parts = [];
    if ((c.added || []).length) parts.push("added " + c.added.join(", "));
    if ((c.changed || []).length) parts.push("changed " + c.changed.join(", "));
    if ((c.removed || []).length) parts.push("removed " + c.removed.join(", "));
    box.replaceChildren(
      el("strong", {}, `Reloaded at ${when} (${r.duration_ms} ms): `),
      el("span", {}, `set ${(o.principle_set || "").slice(0, 12)} is live` + (parts.length ? "; " + parts.join("; ") : "")),
    );
  } else {
    box.replaceChildren(el("span", {}, `Reload at ${when}: nothing changed.`));
  }
}

function conversationText(turns) {
  return turns.length === 1 && turns[0].role === "user" ? turns[0].content : JSON.stringify(turns, null, 1);
}

// --- start ----------------------------------------------------------------------------------

async function loadExamples() {
  try {
    const resp = await fetch("/playground/examples.json");
    state.examples = (await resp.json()).examples || [];
  } catch (_) {
    state.examples = [];
  }
  const select = $("example");
  for (const e of state.examples) select.append(el("option", { value: e.id }, e.title));
}

function start() {
  $("explain").addEventListener("click", explain);
  $("grade").addEventListener("click", grade);
  $("example").addEventListener("change", (ev) => {
    const e = state.examples.find((x) => x.id === ev.target.value);
    if (!e) return;
    $("conversation").value = conversationText(e.messages);
    explain();
  });
  $("conversation").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) explain();
  });
  loadExamples().then(() => {
    document.body.dataset.ready = "yes";
  });
  poll();
}

document.addEventListener("DOMContentLoaded", start);
