// The knob panel (st.components.v2): every knob reshapes the distribution here, in the browser, on every
// pointer move, with knob_math.js (concatenated before this file, so applyKnobs & co. are in scope). The server
// hears of a knob only when it is released (or, from the keyboard, 300 ms after the last key): one message.
// Token labels are user text: they only ever reach the page through textContent.

const panels = new WeakMap(); // parentElement -> the panel's state, kept across the server's reruns
// digest -> Float32Array: the server sends a prompt's scores once per tab. On the window, so a fresh copy of this
// module finds them too (tests/e2e/test_knob_panel.py empties it to check that the panel asks again).
const scoresById = (window.llmxKnobScores ??= new Map());
const KEEP_SCORES = 4;        // prompts kept (GPT-2's are 200 KB each); an evicted one is asked for again

function el(tag, attrs = {}, text = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}

function fmt(value, step) {
  const digits = step >= 1 ? 0 : Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
  return Number(value).toFixed(digits);
}

const pct = (p) => `${(100 * p).toFixed(1)}%`;

function knobRow(state, row) {
  const box = el("div", { class: `kp-knob kp-${row.name}` });
  const id = `kp-${state.uid}-${row.name}`;
  const head = el("div", { class: "kp-head" });
  if (row.switch) {
    const sw = el("input", { type: "checkbox", role: "switch", id: `${id}-on`, "aria-label": `${row.label} on` });
    sw.checked = row.enabled;
    sw.addEventListener("change", () => {
      state.enabled[row.name] = sw.checked;
      range.disabled = !sw.checked;
      redraw(state);
      send(state, 0);
    });
    head.append(sw, el("label", { for: `${id}-on`, class: "kp-label" }, row.label));
  } else {
    head.append(el("label", { for: id, class: "kp-label", id: `${id}-label` }, row.slider_label));
  }
  const output = el("output", { for: id, class: "kp-value" }, fmt(row.value, row.step));
  head.append(output);
  const range = el("input", { type: "range", id, min: row.lo, max: row.hi, step: row.step,
    "aria-label": row.slider_label, "aria-valuemin": row.lo, "aria-valuemax": row.hi });
  range.value = row.value;
  range.disabled = row.switch && !row.enabled;
  const show = () => {
    output.textContent = fmt(range.value, row.step);
    range.setAttribute("aria-valuenow", range.value);
    range.setAttribute("aria-valuetext", output.textContent);
  };
  show();
  range.addEventListener("pointerdown", () => { state.pointer = true; });
  range.addEventListener("input", () => {
    state.values[row.name] = Number(range.value);
    show();
    schedule(state);
  });
  range.addEventListener("change", () => {
    const released = state.pointer;
    state.pointer = false;
    send(state, released ? 0 : 300);
  });
  box.append(head, range);
  return box;
}

function build(state, data) {
  const root = state.parent;
  const panel = el("div", { class: "kp" });
  const first = el("div", { class: "kp-first" });
  const rest = el("div", { class: "kp-rest" });
  data.knobs.forEach((row, i) => (i === 0 ? first : rest).append(knobRow(state, row)));
  const chart = el("div", { class: "kp-chart" });
  state.summary = el("p", { class: "kp-summary", "aria-live": "polite", role: "status" });
  const legend = el("div", { class: "kp-legend", "aria-hidden": "true" });
  legend.append(el("span", { class: "kp-key kp-model" }), el("span", {}, "model"),
    el("span", { class: "kp-key kp-after" }), el("span", {}, "after knobs"));
  state.bars = el("div", { class: "kp-bars", role: "img",
    "aria-label": "Probability of the most likely tokens before and after the knobs; the summary above says it in words" });
  state.rows = [...data.setup.top.map((t) => t.label), "everything else"].map((label) => {
    const row = el("div", { class: "kp-row" });
    const name = el("div", { class: "kp-token", title: label }, label);
    const model = el("div", { class: "kp-bar kp-model" });
    const after = el("div", { class: "kp-bar kp-after" });
    const modelValue = el("span", { class: "kp-num" });
    const afterValue = el("span", { class: "kp-num kp-after-num" });
    const lines = el("div", { class: "kp-lines" });
    const l1 = el("div", { class: "kp-line" });
    const l2 = el("div", { class: "kp-line" });
    l1.append(model, modelValue);
    l2.append(after, afterValue);
    lines.append(l1, l2);
    row.append(name, lines);
    state.bars.append(row);
    return { row, model, after, modelValue, afterValue };
  });
  chart.append(state.summary, legend, state.bars);
  panel.append(first, chart, rest);
  root.querySelector(".kp")?.remove();
  root.append(panel);
}

function schedule(state) {
  if (state.frame) return;
  state.frame = requestAnimationFrame(() => {
    state.frame = 0;
    redraw(state);
  });
}

function settings(state) {
  const knobs = {};
  for (const row of state.data.knobs) {
    knobs[row.name] = row.switch && !state.enabled[row.name] ? null : state.values[row.name];
  }
  return knobs;
}

function redraw(state) {
  const { data } = state;
  const knobs = settings(state);
  const out = applyKnobs(state.scores, knobs, data.setup.context, data.setup.order, data.setup.off, state.cache);
  const mass = data.known_mass;
  const shown = data.setup.top.map((t) => t.index);
  const model = [...shown.map((i) => state.original[i])];
  const after = [...shown.map((i) => out.probs[i] * mass)];
  const kept = shown.map((i) => out.scores[i] !== -Infinity);
  model.push(Math.max(0, mass - model.reduce((a, b) => a + b, 0)));
  after.push(Math.max(0, mass - after.reduce((a, b) => a + b, 0)));
  const survivors = out.stages[out.stages.length - 1].survivors;
  kept.push(survivors > kept.filter(Boolean).length);
  const top = Math.max(...model, ...after, 1e-12);
  state.rows.forEach((r, i) => {
    r.model.style.width = `${(80 * model[i]) / top}%`;
    r.modelValue.textContent = pct(model[i]);
    r.row.classList.toggle("kp-removed", !kept[i]);
    r.after.style.display = kept[i] ? "" : "none";
    r.after.style.width = `${(80 * after[i]) / top}%`;
    r.afterValue.textContent = kept[i] ? pct(after[i]) : "removed";
  });
  const best = after.slice(0, -1).reduce((b, p, i) => (kept[i] && p > after[b] ? i : b), 0);
  const bestLabel = data.setup.top[best].label;
  state.summary.textContent = `${bestLabel.trim() || bestLabel} is most likely at ` +
    `${pct(after[best])} (model: ${pct(model[best])}); ${survivors.toLocaleString("en-US")} of ` +
    `${state.scores.length.toLocaleString("en-US")} tokens kept; entropy ${entropy(out.probs).toFixed(2)} nats.`;
  state.draws += 1;
  state.parent.querySelector(".kp").setAttribute("data-draws", String(state.draws));
}

function send(state, delay) {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => state.setStateValue("knobs", settings(state)), delay);
}

/** The scores under `data.id`: sent with this run, or kept from an earlier one; null when neither. */
function scoresFor(data) {
  if (data.scores) {
    scoresById.delete(data.id);
    scoresById.set(data.id, decodeFloat32(data.scores));
    while (scoresById.size > KEEP_SCORES) scoresById.delete(scoresById.keys().next().value);
  }
  return scoresById.get(data.id) || null;
}

export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  let state = panels.get(parentElement);
  if (!state || state.data.id !== data.id || state.data.setup.top.length !== data.setup.top.length) {
    const scores = scoresFor(data);
    if (!scores) {  // this tab lost them (or never got them): ask once, the rerun brings them
      setTriggerValue("missing", data.id);
      return;
    }
    const old = state;
    state = { parent: parentElement, uid: Math.random().toString(36).slice(2, 8), data, draws: 0, cache: {},
      values: {}, enabled: {}, pointer: false, scores };
    for (const row of data.knobs) {
      state.values[row.name] = old ? old.values[row.name] : row.value;
      state.enabled[row.name] = old ? old.enabled[row.name] : row.enabled;
      row.value = state.values[row.name];
      row.enabled = state.enabled[row.name];
    }
    state.original = probabilities(state.scores).map((p) => p * data.known_mass);
    panels.set(parentElement, state);
    build(state, data);
  }
  state.setStateValue = setStateValue;
  redraw(state);
}
