// Latency page: producer -> consumer delay per topic, partition, consumer
// and producer (GET /api/v1/latency: every batch, while the agent holds
// the exchanges) or, over longer ranges, per topic, partition and consumer
// (GET /api/v1/history/delay: p99 and max per step, from the agent's
// history), and request latency p50/p99 per API and broker (GET
// /api/v1/history/requests), all over time.

import { api, refresh, param, setParams, onParams, h, replace, fmtSeconds, DEFAULT_SINCE } from './common.js';
import { lineChart, colorOf, bucket, align, secs, stepFor } from './charts.js';

const FILTERS = ['topic', 'consumer', 'producer'];

// durationSeconds reads "15m", "1h", "90s", "24h" (the range control's
// values); NaN for anything else.
function durationSeconds(s) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(String(s).trim());
  if (!m) return NaN;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2]];
}

// ---- producer -> consumer delay ----

// Ranges up to RAW_MAX_SECONDS chart every fetched batch: the agent holds
// the exchanges for tens of seconds to minutes. Longer ones chart the
// delay history, which lasts as long as the overview's parts (an hour and
// more), a p99 and a max per step.
const RAW_MAX_SECONDS = 120;

function historyMode() {
  const span = durationSeconds(param('since', DEFAULT_SINCE));
  return Number.isFinite(span) && span > RAW_MAX_SECONDS && !delay.noHistory;
}

// The delay series are fetched whole once, then only what is new (with an
// overlap, since a fetch is stored when its response arrives): a window of
// an hour holds thousands of points per line, the next 5 seconds a few.
const OVERLAP_SECONDS = 30;

const delay = {
  chart: null,
  cacheKey: '',
  series: new Map(), // key -> {meta, points: [{t, delay, exact, off}]}
  to: 0, // the server's window end, Unix seconds
  span: 0, // the window's length, seconds
  indexed: 0,
  dropped: 0,
  history: null, // the last GET /api/v1/history/delay answer
  noHistory: false, // the agent has no delay history (404): raw points only
};

function seriesKey(s) { return `${s.topic}\u0000${s.partition}\u0000${s.consumer}\u0000${s.producer}`; }

function seriesLabel(m) {
  // Partition -1: the agent's minute parts, all partitions together.
  const part = m.partition < 0 ? ' (all partitions)' : `/${m.partition}`;
  return `${m.topic}${part} ${m.consumer}${m.producer ? ' ← ' + m.producer : ''}`;
}

function filters() {
  return { topic: param('topic'), consumer: param('consumer'), producer: param('producer'), since: param('since', DEFAULT_SINCE) };
}

function merge(view, incremental, fromSecs) {
  delay.indexed = view.indexed_ranges || 0;
  for (const s of view.series || []) {
    const k = seriesKey(s);
    let c = delay.series.get(k);
    if (!c) {
      c = { meta: { topic: s.topic, partition: s.partition, consumer: s.consumer, client_id: s.client_id, producer: s.producer }, points: [], dropped: 0 };
      delay.series.set(k, c);
    }
    c.dropped = incremental ? c.dropped : (s.dropped_points || 0);
    const seen = new Set();
    if (incremental) for (const p of c.points) if (p.t >= fromSecs) seen.add(`${p.t}|${p.off}`);
    let sorted = true;
    for (const p of s.points || []) {
      const q = { t: secs(p.time), delay: p.delay_seconds, exact: p.exact_delay_seconds, off: p.base_offset };
      if (seen.has(`${q.t}|${q.off}`)) continue;
      const n = c.points.length;
      if (n && c.points[n - 1].t > q.t) sorted = false;
      c.points.push(q);
    }
    if (!sorted) c.points.sort((a, b) => a.t - b.t);
  }
  // Forget what left the window, and lines with nothing left.
  const start = delay.to - delay.span;
  for (const [k, c] of delay.series) {
    let i = 0;
    while (i < c.points.length && c.points[i].t < start) i++;
    if (i) c.points.splice(0, i);
    if (c.points.length === 0) delay.series.delete(k);
  }
}

async function loadDelay() {
  if (historyMode()) return loadDelayHistory();
  delay.history = null;
  const f = filters();
  const key = JSON.stringify(f);
  const incremental = key === delay.cacheKey && delay.to > 0;
  const params = { topic: f.topic, consumer: f.consumer, producer: f.producer };
  let fromSecs = 0;
  if (incremental) {
    fromSecs = delay.to - OVERLAP_SECONDS;
    params.since = new Date(fromSecs * 1000).toISOString();
  } else {
    params.since = f.since;
  }
  let view;
  try {
    view = await api('/api/v1/latency', params);
  } catch (e) {
    if (e.status === 503 || e.status === 400) {
      delay.cacheKey = '';
      showDelayMessage(e.message);
      return;
    }
    throw e;
  }
  if (!incremental) {
    delay.series.clear();
    delay.cacheKey = key;
    delay.span = Math.max(1, secs(view.to) - secs(view.from));
    const want = durationSeconds(f.since);
    if (Number.isFinite(want)) delay.span = want;
  }
  delay.to = secs(view.to);
  merge(view, incremental, fromSecs);
  await drawDelay();
}

async function loadDelayHistory() {
  const f = filters();
  let view;
  try {
    view = await api('/api/v1/history/delay', { since: f.since, topic: f.topic, consumer: f.consumer });
  } catch (e) {
    if (e.status === 404) {
      // An agent from before the delay history: its raw points, as far
      // back as they go.
      delay.noHistory = true;
      return loadDelay();
    }
    if (e.status === 503 || e.status === 400) {
      showDelayMessage(e.message);
      return;
    }
    throw e;
  }
  // The raw points' cache starts over when the range comes back under
  // RAW_MAX_SECONDS.
  delay.cacheKey = '';
  delay.series.clear();
  delay.to = 0;
  delay.history = view;
  await drawDelayHistory();
}

function setMode(text) {
  document.getElementById('latency-mode').textContent = text;
}

async function drawDelayHistory() {
  const view = delay.history;
  if (!view) return;
  const showMax = param('delaymax') === '1';
  const list = (view.series || []).map((s) => ({ ...s, producer: '' }));
  const pairs = [];
  const series = [];
  list.forEach((s, i) => {
    const at = (q) => s.points.map((p) => [secs(p.time), p.batches > 0 ? p[q + '_seconds'] : null]);
    pairs.push(at('p99'));
    series.push({ key: seriesKey(s) + '\u0000p99', label: `${seriesLabel(s)} p99`, color: colorOf(i) });
    if (showMax) {
      pairs.push(at('max'));
      series.push({ key: seriesKey(s) + '\u0000max', label: `${seriesLabel(s)} max`, color: colorOf(i), dash: true });
    }
  });
  const { xs, ys } = align(pairs);
  series.forEach((s, i) => { s.values = ys[i]; });
  updateDatalists(list);
  const step = fmtSeconds(view.step_seconds);
  setMode(`Over more than ${fmtSeconds(RAW_MAX_SECONDS)}: the agent's delay history, p99${showMax ? ' and max' : ''} of the batches fetched per ${step}` +
    ` (merged from ${fmtSeconds(view.resolution_seconds)} parts), measured from the batch timestamp, ` +
    (list.some((s) => s.partition < 0)
      ? 'per topic and consumer (parts of a minute or longer keep partitions together)'
      : 'per topic, partition and consumer') +
    ` (no producer). Choose ${fmtSeconds(RAW_MAX_SECONDS)} or less for every batch.`);
  const summary = document.getElementById('latency-summary');
  if (list.length === 0) {
    summary.textContent = param('topic') || param('consumer')
      ? 'No consumer fetched a matching record batch in this window.'
      : 'No consumer fetched a record batch in this window.';
  } else {
    let worst = null;
    list.forEach((s) => {
      for (let j = s.points.length - 1; j >= 0; j--) {
        const p = s.points[j];
        if (p.batches === 0) continue;
        if (!worst || p.p99_seconds > worst.v) worst = { v: p.p99_seconds, label: seriesLabel(s) };
        break;
      }
    });
    const unit = list.some((s) => s.partition < 0) ? 'consumer topic' : 'consumer partition';
    const parts = [`${list.length} ${unit}${list.length === 1 ? '' : 's'}`];
    if (worst) parts.push(`latest p99 at most ${fmtSeconds(worst.v)} (${worst.label})`);
    if (view.dropped_series) parts.push(`${view.dropped_series} with smaller delays left out by the agent`);
    if (param('producer')) parts.push(`the producer filter applies to ${fmtSeconds(RAW_MAX_SECONDS)} or less`);
    if (param('measure') === 'exact') parts.push(`the exact delay is shown for ${fmtSeconds(RAW_MAX_SECONDS)} or less`);
    summary.textContent = parts.join('; ') + '.';
  }
  if (!delay.chart) {
    delay.chart = lineChart(document.getElementById('latency-chart'), {
      label: 'Producer to consumer delay', yFormat: fmtSeconds, testid: 'latency-chart', height: 300,
    });
  }
  await delay.chart.update(xs, series);
}

function redrawDelay() {
  return delay.history && historyMode() ? drawDelayHistory() : drawDelay();
}

function showDelayMessage(text) {
  document.getElementById('latency-summary').textContent = text;
  if (delay.chart) { delay.chart.destroy(); delay.chart = null; }
}

async function drawDelay() {
  const exact = param('measure') === 'exact';
  const step = stepFor(delay.span);
  const list = [...delay.series.values()].sort((a, b) => {
    const x = a.meta; const y = b.meta;
    return x.topic.localeCompare(y.topic) || x.partition - y.partition || x.consumer.localeCompare(y.consumer) || x.producer.localeCompare(y.producer);
  });
  const pairs = list.map((c) => bucket(c.points.map((p) => [p.t, exact ? p.exact : p.delay]), step));
  const { xs, ys } = align(pairs);
  const series = list.map((c, i) => ({ key: seriesKey(c.meta), label: seriesLabel(c.meta), values: ys[i], color: colorOf(i) }));
  updateDatalists(list.map((c) => c.meta));
  setMode(`Every batch fetched${delay.noHistory ? '' : ` (ranges of ${fmtSeconds(RAW_MAX_SECONDS)} or less)`}, from the exchanges the agent still holds` +
    (delay.noHistory ? ': this agent keeps no delay history.' : '; longer ranges chart its history.'));
  const summary = document.getElementById('latency-summary');
  if (list.length === 0) {
    summary.textContent = param('topic') || param('consumer') || param('producer')
      ? 'No consumer fetched a matching record batch in this window.'
      : 'No consumer fetched a record batch in this window.';
  } else {
    let worst = null;
    list.forEach((c, i) => {
      const vals = pairs[i];
      if (!vals.length) return;
      const v = vals[vals.length - 1][1];
      if (!worst || v > worst.v) worst = { v, label: seriesLabel(c.meta) };
    });
    const parts = [`${list.length} line${list.length === 1 ? '' : 's'}`];
    if (worst) parts.push(`latest delay at most ${fmtSeconds(worst.v)} (${worst.label})`);
    else if (exact) parts.push(delay.indexed ? 'no exact delay: this agent saw none of these batches produced' : 'no exact delay: this agent saw no Produce request');
    if (step > 1) parts.push(`largest delay per ${fmtSeconds(step)}`);
    const dropped = list.reduce((n, c) => n + (c.dropped || 0), 0);
    if (dropped) parts.push(`${dropped} older points left out by the agent`);
    summary.textContent = parts.join('; ') + '.';
  }
  if (!delay.chart) {
    delay.chart = lineChart(document.getElementById('latency-chart'), {
      label: 'Producer to consumer delay', yFormat: fmtSeconds, testid: 'latency-chart', height: 300,
    });
  }
  await delay.chart.update(xs, series);
}

const lists = { topics: new Set(), consumers: new Set(), producers: new Set() };

function updateDatalists(metas) {
  for (const m of metas) {
    lists.topics.add(m.topic);
    lists.consumers.add(m.consumer);
    if (m.producer) lists.producers.add(m.producer);
  }
  for (const [name, set] of Object.entries(lists)) {
    const dl = document.getElementById('dl-' + name);
    if (dl.options.length === set.size) continue;
    replace(dl, [...set].sort().map((v) => h('option', { value: v })));
  }
}

function bindFilters() {
  const form = document.getElementById('latency-filters');
  const measure = document.getElementById('f-measure');
  const showMax = document.getElementById('f-max');
  const sync = () => {
    for (const k of FILTERS) document.getElementById('f-' + k).value = param(k);
    measure.value = param('measure', 'timestamp');
    showMax.checked = param('delaymax') === '1';
  };
  sync();
  onParams(sync);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = {};
    for (const k of FILTERS) p[k] = document.getElementById('f-' + k).value.trim();
    setParams(p);
  });
  document.getElementById('f-clear').addEventListener('click', () => setParams({ topic: null, consumer: null, producer: null }));
  measure.addEventListener('change', () => {
    setParams({ measure: measure.value === 'timestamp' ? null : measure.value });
  });
  showMax.addEventListener('change', () => setParams({ delaymax: showMax.checked ? '1' : null }));
}

// ---- request latency ----

const req = { chart: null, data: null };

async function loadRequests() {
  const status = document.getElementById('request-status');
  let view;
  try {
    view = await api('/api/v1/history/requests', { since: param('since', DEFAULT_SINCE) });
  } catch (e) {
    if (e.status === 404 || e.status === 503) {
      // 404: an agent without request history; keep asking, it may be
      // upgraded under the same address.
      status.replaceChildren(h('p', { class: 'notice' }, e.status === 404
        ? 'Request latency over time is not available from this agent.'
        : e.message));
      if (req.chart) { req.chart.destroy(); req.chart = null; }
      return;
    }
    throw e;
  }
  req.data = view;
  await drawRequests();
}

async function drawRequests() {
  const view = req.data;
  if (!view) return;
  const status = document.getElementById('request-status');
  const sel = document.getElementById('req-api');
  const apis = [...new Set(view.series.map((s) => s.api))].sort();
  if (apis.length === 0) {
    status.replaceChildren(h('p', { class: 'notice' }, 'No request in this window.'));
    if (req.chart) { req.chart.destroy(); req.chart = null; }
    replace(sel);
    return;
  }
  let cur = param('api');
  if (!apis.includes(cur)) cur = apis.includes('Produce') ? 'Produce' : apis[0];
  if ([...sel.options].map((o) => o.value).join() !== apis.join()) {
    replace(sel, apis.map((a) => h('option', { value: a }, a)));
  }
  sel.value = cur;
  const rows = view.series.filter((s) => s.api === cur);
  const pairs = [];
  const series = [];
  rows.forEach((s, i) => {
    const b = s.broker === '' || s.broker === null || s.broker === undefined ? '?' : s.broker;
    for (const [q, dash] of [['p99', false], ['p50', true]]) {
      pairs.push(s.points.map((p) => [secs(p.time), p.requests > 0 ? p[q + '_seconds'] : null]));
      series.push({ key: `${s.broker}\u0000${q}`, label: `broker ${b} ${q}`, color: colorOf(i), dash });
    }
  });
  const { xs, ys } = align(pairs);
  series.forEach((s, i) => { s.values = ys[i]; });
  const total = rows.reduce((n, s) => n + s.points.reduce((m, p) => m + p.requests, 0), 0);
  const errors = rows.reduce((n, s) => n + s.points.reduce((m, p) => m + p.errors, 0), 0);
  status.replaceChildren(h('p', { class: 'muted' },
    `${cur}: ${total.toLocaleString()} requests${errors ? `, ${errors.toLocaleString()} with an error` : ''}, one point per ${fmtSeconds(view.step_seconds)}.`));
  if (!req.chart) {
    req.chart = lineChart(document.getElementById('request-chart'), { label: 'Request latency', yFormat: fmtSeconds, testid: 'request-chart' });
  }
  await req.chart.update(xs, series);
}

function bindRequests() {
  const sel = document.getElementById('req-api');
  sel.addEventListener('change', () => setParams({ api: sel.value }));
}

bindFilters();
bindRequests();
refresh(loadDelay);
refresh(loadRequests);
// Switching between the timestamp and the exact delay, showing the max, or
// the API, needs no new answer: redraw what is there (setParams also
// refreshes).
onParams((changed) => {
  if ('measure' in changed || 'delaymax' in changed) redrawDelay();
  if ('api' in changed) drawRequests();
});
