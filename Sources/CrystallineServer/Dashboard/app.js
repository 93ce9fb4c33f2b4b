// The dashboard: four pages over the server's JSON API and one server-sent event stream.
"use strict";
const $ = s => document.querySelector(s);
const state = { runs: [], selected: new Set(), metrics: {}, chat: [], abort: null };
const chart = new LineChart($("#chart"));

async function api(path, options = {}) {
  const headers = Object.assign({ "Content-Type": "application/json" }, options.headers || {});
  const r = await fetch(path, Object.assign({}, options, { headers }));
  if (r.status === 204) return null;
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error ? body.error.message : `HTTP ${r.status}`);
  return body;
}
const fmt = (x, d = 4) => x === null || x === undefined ? "–" : Number(x).toFixed(d);
const bytes = n => n > 1e9 ? (n / 1e9).toFixed(1) + " GB" : n > 1e6 ? (n / 1e6).toFixed(1) + " MB" : (n / 1e3).toFixed(0) + " kB";
const escapeHTML = s => String(s).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

// ---- pages and theme
document.querySelectorAll("nav button").forEach(b => b.addEventListener("click", () => show(b.dataset.page)));
function show(page) {
  document.querySelectorAll("nav button").forEach(b => b.classList.toggle("active", b.dataset.page === page));
  document.querySelectorAll(".page").forEach(p => p.classList.toggle("active", p.id === "page-" + page));
  if (page === "models") loadModels();
  if (page === "lattice") drawLattice();
  if (page === "chat") loadChatModels();
  location.hash = page;
}
$("#theme").addEventListener("click", () => {
  const root = document.documentElement;
  const dark = root.dataset.theme ? root.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
  root.dataset.theme = dark ? "light" : "dark";
  localStorage.setItem("theme", root.dataset.theme);
  chart.draw();
});
if (localStorage.getItem("theme")) document.documentElement.dataset.theme = localStorage.getItem("theme");

// ---- runs
async function loadRuns() {
  state.runs = await api("/api/runs");
  const body = $("#runs-table tbody");
  // Rows are updated in place, keyed by run, so that a button stays the same element while
  // events keep the numbers moving (a click is never lost to a redraw).
  const rows = new Map([...body.querySelectorAll("tr")].map(tr => [tr.dataset.run, tr]));
  for (const r of state.runs) {
    let tr = rows.get(r.name);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.run = r.name;
      tr.innerHTML = `<td><input type="checkbox"></td><td>${escapeHTML(r.name)}</td><td class="status"></td><td class="step"></td><td class="best"></td><td class="actions"></td>`;
      tr.querySelector("input").addEventListener("change", e => {
        e.target.checked ? state.selected.add(r.name) : state.selected.delete(r.name);
        tr.classList.toggle("selected", e.target.checked);
        refreshChart();
      });
      body.appendChild(tr);
    }
    rows.delete(r.name);
    tr.querySelector("input").checked = state.selected.has(r.name);
    tr.classList.toggle("selected", state.selected.has(r.name));
    tr.querySelector(".step").textContent = `${r.step}${r.total_steps ? "/" + r.total_steps : ""}`;
    tr.querySelector(".best").textContent = fmt(r.best_val_loss);
    if (tr.dataset.status !== r.status) {
      tr.dataset.status = r.status;
      tr.querySelector(".status").innerHTML = `<span class="pill ${r.status}">${r.status}</span>`;
      const live = r.status === "running" || r.status === "paused";
      const actions = tr.querySelector(".actions");
      actions.innerHTML = live
        ? `<button data-act="${r.status === "paused" ? "resume" : "pause"}">${r.status === "paused" ? "resume" : "pause"}</button> <button data-act="stop">stop</button>`
        : `<button data-act="resume">resume</button> <a href="/api/runs/${encodeURIComponent(r.name)}/metrics.csv">csv</a> <button data-act="delete">delete</button>`;
      actions.querySelectorAll("button").forEach(b => b.addEventListener("click", () => runAction(r.name, b.dataset.act)));
    }
  }
  for (const gone of rows.values()) gone.remove();
  if (state.selected.size === 0 && state.runs.length) { state.selected.add(state.runs[state.runs.length - 1].name); loadRuns(); refreshChart(); }
}
async function runAction(name, act) {
  try {
    if (act === "delete") {
      if (!confirm(`Delete run ${name} and its files?`)) return;
      await api(`/api/runs/${encodeURIComponent(name)}`, { method: "DELETE" });
      state.selected.delete(name);
    } else if (act === "resume") {
      const run = state.runs.find(r => r.name === name);
      let more = {};
      if (run && run.status !== "paused" && run.status !== "stopped") {
        const steps = prompt("Resume for how many steps in total?", String((run.total_steps || run.step) + 500));
        if (!steps) return;
        more = { max_steps: Number(steps) };
      }
      await api(`/api/runs/${encodeURIComponent(name)}/resume`, { method: "POST", body: JSON.stringify(more) });
    } else {
      await api(`/api/runs/${encodeURIComponent(name)}/${act}`, { method: "POST", body: "{}" });
    }
  } catch (e) { alert(e.message); }
  loadRuns();
}
async function refreshChart() {
  for (const name of state.selected) {
    if (!state.metrics[name]) state.metrics[name] = await api(`/api/runs/${encodeURIComponent(name)}/metrics?points=2000`);
  }
  const metric = $("#metric").value, x = $("#xaxis").value;
  chart.xLabel = x === "step" ? "step" : "time (s)";
  chart.log = $("#logscale").checked;
  chart.smoothing = metric === "val_loss" ? 0 : Number($("#smoothing").value);
  chart.setSeries([...state.selected].map(name => ({
    name, points: (state.metrics[name] || []).filter(r => r[metric] !== undefined && r[metric] !== null).map(r => [r[x], r[metric]])
  })));
  const last = [...state.selected].pop();
  if (last) {
    const d = await api(`/api/runs/${encodeURIComponent(last)}`).catch(() => null);
    if (d) $("#run-detail").innerHTML = `<h3>${escapeHTML(last)}</h3><pre class="small muted">${escapeHTML(JSON.stringify(d.config || "(started from the command line; its settings are in its checkpoint)", null, 1))}</pre>`;
  }
}
["#metric", "#xaxis", "#logscale", "#smoothing"].forEach(s => $(s).addEventListener("input", refreshChart));
$("#zoom-reset").addEventListener("click", () => chart.resetZoom());

// ---- the new-run form, built from the server's settings and their defaults
async function buildForm() {
  const sections = await api("/api/settings");
  const common = { model: ["n_layer", "n_head", "n_embd", "block_size", "dropout"], run: ["max_steps", "batch_size", "eval_interval", "eval_iters", "precision", "seed"],
                   optimization: ["lr", "min_lr", "warmup_steps", "scheduler", "optimizer", "weight_decay", "grad_clip"], data: ["corpus", "tokenizer", "vocab_size"] };
  const choices = { tokenizer: ["char", "word", "bpe"], optimizer: ["adamw", "adam", "sgd"], scheduler: ["cosine", "linear", "step", "none"],
                    precision: ["fp32", "bf16"], embedding_init: ["standard", "lattice"], positional: ["learned", "lattice"],
                    attention_bias: ["none", "angular", "linear"], vocab_order: ["standard", "ulam"] };
  const box = $("#settings-fields");
  for (const section of ["data", "model", "optimization", "run"]) {
    const fs = document.createElement("fieldset");
    fs.innerHTML = `<legend>${section}</legend>`;
    const keys = Object.keys(sections[section] || {}).filter(k => k !== "out" && k !== "sample_tokens");
    keys.sort((a, b) => (common[section].includes(b) - common[section].includes(a)) || a.localeCompare(b));
    for (const key of keys) {
      const value = sections[section][key];
      const label = document.createElement("label");
      label.textContent = key;
      let input;
      if (choices[key]) { input = document.createElement("select"); choices[key].forEach(c => input.add(new Option(c, c, c === value, c === value))); }
      else if (typeof value === "boolean") { input = document.createElement("input"); input.type = "checkbox"; input.checked = value; }
      else { input = document.createElement("input"); input.value = value === null ? "" : value; input.placeholder = value === null ? "(none)" : ""; }
      input.name = key; input.dataset.default = JSON.stringify(value);
      label.appendChild(input); fs.appendChild(label);
    }
    box.appendChild(fs);
  }
}
$("#run-form").addEventListener("submit", async e => {
  e.preventDefault();
  const settings = {};
  for (const input of $("#settings-fields").querySelectorAll("input, select")) {
    const original = JSON.parse(input.dataset.default);
    let v = input.type === "checkbox" ? input.checked : input.value;
    if (input.type !== "checkbox") {
      if (v === "") { if (original === null) continue; v = original; }
      else if (typeof original === "number" || (original === null && !isNaN(Number(v)) && input.name !== "corpus" && input.name !== "val" && input.name !== "tokenizer_from")) v = Number(v);
    }
    if (JSON.stringify(v) !== input.dataset.default) settings[input.name] = v;
  }
  $("#run-form-error").textContent = "";
  const name = e.target.name.value;
  try {
    await api("/api/runs", { method: "POST", body: JSON.stringify({ name, settings }) });
    state.selected = new Set([name]); delete state.metrics[name];
    loadRuns(); refreshChart();
  } catch (err) { $("#run-form-error").textContent = err.message; }
});

// ---- live events: one stream for the page; the browser reconnects with Last-Event-ID
function connectEvents() {
  const source = new EventSource("/api/events");
  source.onopen = () => { $("#status").textContent = "connected"; };
  source.onerror = () => { $("#status").textContent = "reconnecting…"; };
  const handle = e => {
    const ev = JSON.parse(e.data);
    if (ev.type === "step") {
      const list = state.metrics[ev.run] || (state.metrics[ev.run] = []);
      if (!list.length || list[list.length - 1].step < ev.record.step) list.push(ev.record);
      $("#status").textContent = `${ev.run}: step ${ev.record.step}/${ev.total_steps}, loss ${fmt(ev.record.train_loss)}`;
      if (state.selected.has(ev.run)) throttledChart();
    } else if (ev.type === "diagnostics") {
      $("#diagnostics").innerHTML = `<table><thead><tr><th>tensor</th><th>‖w‖</th><th>‖g‖</th><th>max|g|</th><th>nonzero</th><th>update/weight</th></tr></thead><tbody>` +
        ev.tensors.map(t => `<tr><td>${escapeHTML(t.name)}</td><td>${fmt(t.weight_norm, 3)}</td><td>${fmt(t.grad_norm, 4)}</td><td>${fmt(t.max_abs_grad, 4)}</td><td>${fmt(t.nonzero_grad_fraction, 3)}</td><td>${Number(t.update_ratio).toExponential(2)}</td></tr>`).join("") + "</tbody></table>";
    } else {
      loadRuns();
    }
  };
  for (const t of ["started", "step", "evaluated", "diagnostics", "model_saved", "checkpoint_saved", "early_stopped", "paused", "resumed", "interrupted", "finished", "failed", "data_added"]) {
    source.addEventListener(t, handle);
  }
}
let chartTimer = null;
function throttledChart() { if (!chartTimer) chartTimer = setTimeout(() => { chartTimer = null; refreshChart(); }, 250); }

// ---- chat: fetch with a streamed body (EventSource cannot POST), stop with an AbortController
async function loadChatModels() {
  const models = await api("/v1/models");
  for (const sel of [$("#chat-model"), $("#lattice-model")]) {
    const current = sel.value;
    sel.innerHTML = "";
    models.data.forEach(m => sel.add(new Option(`${m.id} (${m.meta.parameters.toLocaleString()} params, context ${m.meta.context_length})`, m.id)));
    if (current) sel.value = current;
  }
}
function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.textContent = text;
  $("#chat-log").appendChild(div);
  $("#chat-log").scrollTop = $("#chat-log").scrollHeight;
  return div;
}
$("#chat-input").addEventListener("keydown", e => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("#chat-form").requestSubmit(); } });
$("#chat-reset").addEventListener("click", () => { state.chat = []; $("#chat-log").innerHTML = ""; });
$("#chat-stop").addEventListener("click", () => state.abort && state.abort.abort());
$("#chat-form").addEventListener("submit", async e => {
  e.preventDefault();
  const text = $("#chat-input").value.trim();
  if (!text || state.abort) return;
  $("#chat-input").value = "";
  state.chat.push({ role: "user", content: text });
  addMessage("user", text);
  const out = addMessage("assistant", "");
  const request = { model: $("#chat-model").value, messages: state.chat, stream: true, stream_options: { include_usage: true },
                    temperature: Number($("#temperature").value), top_k: Number($("#top_k").value), top_p: Number($("#top_p").value),
                    max_tokens: Number($("#max_tokens").value) };
  if ($("#seed").value !== "") request.seed = Number($("#seed").value);
  state.abort = new AbortController();
  $("#chat-stop").disabled = false; $("#chat-send").disabled = true;
  let reply = "", meta = "", chunks = 0;
  try {
    const r = await fetch("/v1/chat/completions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request), signal: state.abort.signal });
    if (!r.ok) throw new Error((await r.json()).error.message);
    const reader = r.body.getReader(), decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        const data = event.split("\n").filter(l => l.startsWith("data: ")).map(l => l.slice(6)).join("");
        if (!data || data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        for (const c of chunk.choices || []) if (c.delta && c.delta.content) { reply += c.delta.content; out.textContent = reply; chunks++; }
        if (chunk.timings) meta = `${chunk.timings.predicted_n} tokens, ${chunk.timings.predicted_per_second.toFixed(0)} tokens/s, streamed in ${chunks} chunks, ${chunk.choices[0].finish_reason}`;
      }
      $("#chat-log").scrollTop = $("#chat-log").scrollHeight;
    }
  } catch (err) {
    meta = err.name === "AbortError" ? "stopped" : "error: " + err.message;
  }
  state.chat.push({ role: "assistant", content: reply });
  const m = document.createElement("span"); m.className = "meta"; m.textContent = meta; out.appendChild(m);
  state.abort = null; $("#chat-stop").disabled = true; $("#chat-send").disabled = false;
});

// ---- models
async function loadModels() {
  const models = await api("/api/models");
  const body = $("#models-table tbody");
  body.innerHTML = "";
  for (const m of models) {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td><a href="#" data-act="info">${escapeHTML(m.name)}</a></td><td>${bytes(m.bytes)}</td><td>${m.parameters.toLocaleString()}</td>
      <td>${m.tokenizer || "–"}</td><td>${m.training_steps ?? "–"}</td><td>${fmt(m.best_val_loss)}</td><td>${(m.created || "").replace("T", " ").replace("Z", "")}</td>
      <td><a href="/api/models/${encodeURIComponent(m.name)}/gguf?type=f16">GGUF f16</a> <a href="/api/models/${encodeURIComponent(m.name)}/archive">HF .tar</a> <button data-act="delete">delete</button></td>`;
    tr.querySelector('[data-act="info"]').addEventListener("click", e => {
      e.preventDefault();
      $("#model-info").innerHTML = `<h3>${escapeHTML(m.name)}</h3><pre class="small">${escapeHTML(JSON.stringify(m, null, 1))}</pre>`;
    });
    tr.querySelector('[data-act="delete"]').addEventListener("click", async () => {
      if (!confirm(`Delete model ${m.name}? Its directory and files are removed.`)) return;
      try { await api(`/api/models/${encodeURIComponent(m.name)}`, { method: "DELETE" }); } catch (e) { alert(e.message); }
      loadModels();
    });
    body.appendChild(tr);
  }
}

// ---- lattice: the server draws SVG; the page zooms and pans it
const view = { scale: 1, x: 0, y: 0 };
async function drawLattice() {
  await loadChatModels();
  const kind = $("#lattice-view").value;
  $("#ulam-size-label").style.display = kind === "ulam" ? "" : "none";
  $("#lattice-model-label").style.display = kind === "tokens" ? "" : "none";
  const url = kind === "ulam" ? `/api/lattice/ulam.svg?size=${$("#ulam-size").value}` : kind === "clock" ? "/api/lattice/clock.svg?count=120"
            : `/api/models/${encodeURIComponent($("#lattice-model").value)}/tokens.svg`;
  const r = await fetch(url);
  $("#lattice").innerHTML = r.ok ? await r.text() : `<p class="error">${escapeHTML((await r.json()).error.message)}</p>`;
  Object.assign(view, { scale: 1, x: 0, y: 0 }); applyView();
}
function applyView() { $("#lattice").style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`; }
["#lattice-view", "#ulam-size", "#lattice-model"].forEach(s => $(s).addEventListener("change", drawLattice));
$(".lattice-frame").addEventListener("wheel", e => { e.preventDefault(); view.scale *= e.deltaY < 0 ? 1.15 : 1 / 1.15; applyView(); }, { passive: false });
let pan = null;
$(".lattice-frame").addEventListener("mousedown", e => { pan = { x: e.clientX - view.x, y: e.clientY - view.y }; });
window.addEventListener("mousemove", e => { if (pan) { view.x = e.clientX - pan.x; view.y = e.clientY - pan.y; applyView(); } });
window.addEventListener("mouseup", () => { pan = null; });

// ---- start
(async () => {
  try {
    await buildForm();
    await loadRuns();
    await refreshChart();
    connectEvents();
    const page = location.hash.slice(1);
    if (["train", "chat", "models", "lattice"].includes(page)) show(page);
  } catch (e) { $("#status").textContent = "error: " + e.message; }
})();
