// The sampling knobs in the browser: the same functions as lib/sampling/knobs.py, in generate()'s order. Scores
// stay float32 (Float32Array) and the knobs that change them (repetition penalty, temperature) do torch's float32
// arithmetic (Math.fround after each operation), so surviving scores are bit for bit generate()'s. The cuts
// (top-p, min-p, typical-p) add probabilities up in double precision: torch's float32 sums depend on the CPU's
// vector width and its own exp, which JavaScript cannot reproduce; a cut decided in float64 is exact for the
// float32 scores. Pure functions, no DOM: the knob panel (knob_panel.js) draws with them, and
// tests/e2e/test_knob_js_oracle.py checks them in Chromium against transformers' own logits processors.
// Removed tokens become -Infinity; inputs are never modified.

const f32 = Math.fround;

/** Float32Array from the base64 of little-endian float32 bytes (what the server sends, once per prompt). */
export function decodeFloat32(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

/** Indices of x in ascending order of value (ties in index order; torch's tie order is its own). */
export function ascendingOrder(x) {
  const order = new Uint32Array(x.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => (x[a] < x[b] ? -1 : x[a] > x[b] ? 1 : a - b));
}

/** RepetitionPenaltyLogitsProcessor: each id of the context once; negative scores * penalty, others / penalty. */
export function repetitionPenalty(x, contextIds, penalty) {
  const out = Float32Array.from(x);
  const p = f32(penalty);
  for (const id of new Set(contextIds)) {
    if (id >= 0 && id < x.length) out[id] = x[id] < 0 ? f32(x[id] * p) : f32(x[id] / p);
  }
  return out;
}

/** TemperatureLogitsWarper: scores / T, in float32; T = 0 is greedy (only the first argmax survives). */
export function temperature(x, t) {
  if (t === 0) return greedy(x);
  const out = new Float32Array(x.length);
  const tt = f32(t);
  for (let i = 0; i < x.length; i++) out[i] = f32(x[i] / tt);
  return out;
}

export function greedy(x) {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  const out = new Float32Array(x.length).fill(-Infinity);
  out[best] = x[best];
  return out;
}

function removeWhere(x, remove) {
  const out = Float32Array.from(x);
  for (let i = 0; i < x.length; i++) if (remove(i)) out[i] = -Infinity;
  return out;
}

/** TopKLogitsWarper: drop every score below the k-th largest (ties with it stay). `order` ascending, optional. */
export function topK(x, k, order = ascendingOrder(x)) {
  const kk = Math.min(Math.max(k, 1), x.length);
  const kth = x[order[x.length - kk]];
  return removeWhere(x, (i) => x[i] < kth);
}

/** Softmax in double precision over x taken in `order` (or as it is): exp(x - max) / sum. */
function softmax64(x, order) {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  const out = new Float64Array(x.length);
  let sum = 0;
  for (let j = 0; j < x.length; j++) {
    out[j] = Math.exp(x[order ? order[j] : j] - max);
    sum += out[j];
  }
  for (let j = 0; j < out.length; j++) out[j] /= sum;
  return out;
}

/** TopPLogitsWarper: sort ascending, drop the low tail whose cumulative probability is <= 1 - p. */
export function topP(x, p, order = ascendingOrder(x)) {
  const probs = softmax64(x, order);
  const limit = 1 - p;
  const remove = new Uint8Array(x.length);
  let cum = 0;
  for (let j = 0; j < x.length - 1; j++) {  // the last (most likely) token always stays
    cum += probs[j];
    if (cum <= limit) remove[order[j]] = 1;
  }
  return removeWhere(x, (i) => remove[i] === 1);
}

/** MinPLogitsWarper: drop tokens less likely than p times the top token (the top token always passes). */
export function minP(x, p) {
  const probs = softmax64(x, null);
  let top = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > top) top = probs[i];
  return removeWhere(x, (i) => probs[i] < p * top);
}

/**
 * TypicalLogitsWarper: keep the tokens whose surprise is closest to the entropy until their mass reaches `mass`.
 * The shifted score |-log p - H| falls and then rises with the logit, so given x's ascending `order` the shifted
 * order is a merge of two runs (each rounded step is monotone): no sort per pointer move.
 */
export function typicalP(x, mass, order = ascendingOrder(x)) {
  const n = x.length;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < n; i++) if (x[i] > max) max = x[i];
  for (let i = 0; i < n; i++) sum += Math.exp(x[i] - max);
  const logSum = Math.log(sum);
  const normalized = new Float64Array(n);  // log_softmax
  let ent = 0;
  for (let i = 0; i < n; i++) {
    normalized[i] = x[i] - max - logSum;
    if (x[i] !== -Infinity) ent -= normalized[i] * Math.exp(normalized[i]);  // -inf * 0 is NaN: nansum skips it
  }
  const shifted = new Float64Array(n);  // |surprise - entropy|
  for (let i = 0; i < n; i++) shifted[i] = Math.abs(-normalized[i] - ent);
  const byShifted = mergeV(order, shifted, (i) => -normalized[i] - ent <= 0);
  const probs = softmax64(x, null);
  let last = 0;
  let cum = 0;
  for (let j = 0; j < n; j++) {
    cum += probs[byShifted[j]];
    if (cum < mass) last++;
  }
  const threshold = shifted[byShifted[Math.min(last, n - 1)]];
  return removeWhere(x, (i) => i !== byShifted[0] && shifted[i] > threshold);
}

/** Indices in ascending order of `key`, where key falls then rises along `order` (`rising(i)` from the turn on):
 *  the rising run as it is, the falling run reversed, merged. */
function mergeV(order, key, rising) {
  const n = order.length;
  let turn = 0;
  while (turn < n && !rising(order[turn])) turn++;
  const out = new Uint32Array(n);
  let up = turn;
  let down = turn - 1;
  for (let j = 0; j < n; j++) {
    if (down < 0 || (up < n && key[order[up]] <= key[order[down]])) out[j] = order[up++];
    else out[j] = order[down--];
  }
  return out;
}

/** Which knobs change anything: the server's off values, or a switch that is off. */
export function isActive(name, value, offValues) {
  return value !== null && value !== undefined && value !== offValues[name];
}

/**
 * Every active knob in `order` (generate()'s: repetition penalty, temperature, top-k, top-p, min-p, typical-p).
 * `cache` (optional, one object per prompt) keeps the ascending order of the penalised scores between calls:
 * dividing by a temperature > 0, top-k, top-p and min-p all keep that order valid (they are monotone, or cut a
 * prefix), so a temperature drag sorts nothing. Returns the final scores, the survivors after each stage and
 * the probabilities over the whole vocabulary.
 */
export function applyKnobs(scores, knobs, contextIds, order, offValues, cache = {}) {
  let x = scores;
  const stages = [{ name: "model", survivors: countFinite(x) }];
  const penalty = isActive("repetition_penalty", knobs.repetition_penalty, offValues) ? knobs.repetition_penalty : 1;
  let penalised = x;   // the scores the cached order belongs to
  let sorted = null;   // an ascending order valid for the current x, or null
  let cacheValid = true;
  const sortedNow = () => sorted || (sorted = cacheValid ? penalisedOrder(penalised, cache, penalty) : ascendingOrder(x));
  for (const name of order) {
    const value = knobs[name];
    if (!isActive(name, value, offValues)) continue;
    if (name === "repetition_penalty") penalised = x = repetitionPenalty(x, contextIds, value);
    if (name === "temperature") {
      x = temperature(x, value);
      if (value === 0) [sorted, cacheValid] = [null, false];  // greedy is not monotone
    }
    if (name === "top_k") x = topK(x, value, sortedNow());
    if (name === "top_p") x = topP(x, value, sortedNow());
    if (name === "min_p") x = minP(x, value);
    if (name === "typical_p") [x, sorted, cacheValid] = [typicalP(x, value, sortedNow()), null, false];
    stages.push({ name, survivors: countFinite(x) });
  }
  return { scores: x, stages, probs: probabilities(x) };
}

/** The ascending order of the penalised scores, sorted once per penalty value. */
function penalisedOrder(x, cache, penalty) {
  if (cache.penalty !== penalty || !cache.order || cache.order.length !== x.length) {
    cache.penalty = penalty;
    cache.order = ascendingOrder(x);
  }
  return cache.order;
}

export function countFinite(x) {
  let n = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== -Infinity) n++;
  return n;
}

/** Softmax over the whole vocabulary in double precision (the server's readouts do the same in float64). */
export function probabilities(x) {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  const out = new Float64Array(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    out[i] = x[i] === -Infinity ? 0 : Math.exp(x[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < x.length; i++) out[i] /= sum;
  return out;
}

/** Entropy in nats of a probability vector (0 log 0 = 0). */
export function entropy(probs) {
  let h = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > 0) h -= probs[i] * Math.log(probs[i]);
  return h;
}
