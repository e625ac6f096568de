// Events page: a live tail of GET /api/v1/exchanges?follow=1&bodies=0, read
// as a stream of JSON lines. The agent filters (API, topic, process, client
// id, side, minimum latency); the page keeps the newest MAX_ROWS rows and
// draws at most once per animation frame. Above MAX_PER_SECOND events a
// second it keeps 1 in N lines, counted before they are parsed, so that a
// busy agent (10,000 events/s) costs a scan for newlines, not a JSON parse
// per event, and says so. A row opens the exchange with its bodies (the one
// record after seq-1).

import { param, setParams, onParams, onPause, isPaused, h, replace, fmtBytes, fmtSeconds, fmtRate, fmtNumber } from './common.js';

const MAX_ROWS = 500;
const MAX_PER_SECOND = 200;
// Lines held between two frames at most: a hidden tab runs no frames.
const MAX_PENDING = MAX_ROWS * 2;
const RETRY_MS = 5000;
const FILTERS = ['api', 'topic', 'process', 'client', 'min_latency', 'side'];
// A line with an error: the exchange's, a partition's or no response.
const ERROR_RE = /"(?:error|no_response)":"[^"]/;
const NL = 10;
const decoder = new TextDecoder();

const APIS = ['Produce', 'Fetch', 'ListOffsets', 'Metadata', 'OffsetCommit', 'OffsetFetch', 'FindCoordinator', 'JoinGroup',
  'Heartbeat', 'LeaveGroup', 'SyncGroup', 'DescribeGroups', 'ListGroups', 'SASLHandshake', 'ApiVersions', 'CreateTopics',
  'DeleteTopics', 'DeleteRecords', 'InitProducerID', 'OffsetForLeaderEpoch', 'AddPartitionsToTxn', 'AddOffsetsToTxn', 'EndTxn',
  'TxnOffsetCommit', 'DescribeConfigs', 'AlterConfigs', 'DescribeLogDirs', 'SASLAuthenticate', 'CreatePartitions',
  'DeleteGroups', 'IncrementalAlterConfigs', 'OffsetDelete', 'DescribeCluster', 'DescribeProducers', 'ConsumerGroupHeartbeat',
  'ConsumerGroupDescribe'];

const tbody = document.getElementById('ev-rows');
const statusEl = document.getElementById('ev-status');

const st = {
  ctrl: null,
  gen: 0,
  retry: 0,
  pending: [],
  frame: 0,
  seen: new Set(),
  every: 1, // keep 1 line in every
  count: 0, // lines matched since the stream started
  lastCount: 0,
  rate: 0,
  since: 0, // when the stream started (performance.now())
  message: '',
  messageClass: '',
};

// ---- the stream ----

function streamURL() {
  const u = new URL('/api/v1/exchanges', location.origin);
  u.searchParams.set('follow', '1');
  u.searchParams.set('bodies', '0');
  u.searchParams.set('limit', String(MAX_ROWS));
  for (const k of FILTERS) if (param(k)) u.searchParams.set(k, param(k));
  // The agent keeps the failed ones only: the stream carries no others.
  if (param('errors') === '1') u.searchParams.set('errors', '1');
  return u;
}

function stop() {
  st.gen++;
  clearTimeout(st.retry);
  if (st.ctrl) st.ctrl.abort();
  st.ctrl = null;
}

function say(text, cls = '') {
  st.message = text;
  st.messageClass = cls;
  showStatus();
}

function retryLater(gen, why) {
  if (gen !== st.gen) return;
  st.ctrl = null;
  say(`${why}; trying again in ${RETRY_MS / 1000} s`, 'st-warn');
  st.retry = setTimeout(() => { if (gen === st.gen) start(); }, RETRY_MS);
}

async function start() {
  stop();
  if (isPaused()) { say('paused'); return; }
  const gen = st.gen;
  const ctrl = new AbortController();
  st.ctrl = ctrl;
  say('connecting');
  let res;
  try {
    res = await fetch(streamURL(), { signal: ctrl.signal, credentials: 'same-origin', headers: { Accept: 'application/x-ndjson' } });
  } catch (e) {
    if (!ctrl.signal.aborted) retryLater(gen, `the agent did not answer (${e.message})`);
    return;
  }
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try { const b = await res.json(); if (b && b.error) msg = b.error; } catch { /* keep the status line */ }
    if (gen !== st.gen) return;
    st.ctrl = null;
    if (res.status === 401 && document.querySelector('a.logout')) {
      location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
      return;
    }
    // A filter the agent refuses stays refused: wait for another.
    if (res.status === 400) say(msg, 'st-err');
    else retryLater(gen, msg);
    return;
  }
  st.since = performance.now();
  st.count = 0;
  st.lastCount = 0;
  st.every = 1;
  say('following');
  const errorsOnly = param('errors') === '1';
  const reader = res.body.getReader();
  // Lines are found in the bytes: only those kept are decoded.
  let rest = null;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || gen !== st.gen) break;
      let chunk = value;
      if (rest) {
        chunk = new Uint8Array(rest.length + value.length);
        chunk.set(rest);
        chunk.set(value, rest.length);
        rest = null;
      }
      let from = 0;
      for (let i = chunk.indexOf(NL); i >= 0; i = chunk.indexOf(NL, from)) {
        if (i > from) take(chunk, from, i, errorsOnly);
        from = i + 1;
      }
      if (from < chunk.length) rest = chunk.slice(from);
    }
  } catch (e) {
    if (ctrl.signal.aborted || gen !== st.gen) return;
    retryLater(gen, `the stream broke (${e.message})`);
    return;
  }
  if (gen === st.gen) retryLater(gen, 'the agent ended the stream');
}

// take looks at the line chunk[from:to]: counted always, kept (decoded)
// 1 in st.every.
function take(chunk, from, to, errorsOnly) {
  let line = null;
  if (errorsOnly) {
    line = decoder.decode(chunk.subarray(from, to));
    if (!ERROR_RE.test(line)) return;
  }
  st.count++;
  if (st.count % st.every !== 0) return;
  st.pending.push(line ?? decoder.decode(chunk.subarray(from, to)));
  if (st.pending.length > MAX_PENDING) st.pending.splice(0, st.pending.length - MAX_ROWS);
  if (!st.frame) st.frame = requestAnimationFrame(flush);
}

// Once a second: the rate, and how many lines to skip for it. The first
// second holds the newest MAX_ROWS already stored, not the rate.
setInterval(() => {
  st.rate = st.count - st.lastCount;
  st.lastCount = st.count;
  if (st.ctrl) setAsOf(new Date());
  if (st.ctrl && performance.now() - st.since > 1500) {
    st.every = Math.max(1, Math.ceil(st.rate / MAX_PER_SECOND));
  }
  showStatus();
}, 1000);

// setAsOf is the header's "as of": a live stream is current while it
// follows.
function setAsOf(d) {
  const el = document.getElementById('asof');
  if (!el) return;
  el.dateTime = d.toISOString();
  el.textContent = d.toLocaleTimeString();
}

function showStatus() {
  const parts = [h('span', { class: ['st', st.messageClass] }, st.message)];
  if (st.ctrl) {
    parts.push(` · ${fmtRate(st.rate).replace('/s', '')} events/s`);
    if (st.every > 1) parts.push(' · ', h('span', { class: 'sampled', 'data-testid': 'events-sampled' }, `showing 1 in ${st.every}`));
    else parts.push(' · showing all');
  }
  parts.push(` · ${tbody.rows.length} rows`);
  if (holding && st.pending.length) parts.push(' · new rows held while the pointer is over the table');
  replace(statusEl, parts);
}

// ---- rows ----

// Rows stay where they are while the pointer is over them, so that the
// one aimed at is the one clicked; what arrives meanwhile shows after.
let holding = false;
tbody.addEventListener('pointerenter', () => { holding = true; });
tbody.addEventListener('pointerleave', () => {
  holding = false;
  if (st.pending.length && !st.frame) st.frame = requestAnimationFrame(flush);
});

function flush() {
  st.frame = 0;
  if (holding) return;
  let lines = st.pending;
  st.pending = [];
  if (lines.length > MAX_ROWS) lines = lines.slice(-MAX_ROWS);
  const frag = document.createDocumentFragment();
  for (let k = lines.length - 1; k >= 0; k--) {
    let x;
    try { x = JSON.parse(lines[k]); } catch { continue; }
    if (st.seen.has(x.seq)) continue;
    st.seen.add(x.seq);
    frag.appendChild(row(x));
  }
  tbody.insertBefore(frag, tbody.firstChild);
  while (tbody.rows.length > MAX_ROWS) {
    const r = tbody.lastElementChild;
    st.seen.delete(Number(r.dataset.seq));
    r.remove();
  }
}

function clientText(ep) {
  if (!ep) return '';
  if (ep.process) return `${ep.process}[${ep.pid}]`;
  return ep.addr || '';
}

function topicsText(x) {
  const ts = x.topics || [];
  const shown = ts.slice(0, 3).map((t) => {
    const ps = (t.partitions || []).map((p) => p.partition);
    return ps.length ? `${t.name || t.id}[${ps.join(',')}]` : (t.name || t.id);
  });
  if (ts.length > 3) shown.push(`+${ts.length - 3} more`);
  const d = x.detail || {};
  // A transactional request without topics names its transaction, and
  // EndTxn what it asks: txn ledger-writer commit.
  if (!shown.length && d.transactional_id) shown.push(`txn ${d.transactional_id}${d.commit === undefined ? '' : d.commit ? ' commit' : ' abort'}`);
  if (!shown.length && x.group) shown.push(`group ${x.group}`);
  return shown.join(' ');
}

// result is what went wrong, or '' for nothing: the exchange's error, no
// response, or the first partition error.
function result(x) {
  if (x.error) return x.error;
  if (x.no_response) return `no response: ${x.no_response}`;
  for (const t of x.topics || []) for (const p of t.partitions || []) if (p.error) return `${t.name}[${p.partition}] ${p.error}`;
  return '';
}

function timeText(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '–';
  return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

function row(x) {
  const err = result(x);
  const lat = x.latency_ns === null || x.latency_ns === undefined ? null : x.latency_ns / 1e9;
  const tr = h('tr', { tabIndex: 0, 'data-testid': 'event-row', 'data-seq': x.seq, class: err ? 'has-error' : null },
    h('td', null, timeText(x.time)),
    h('td', null, `${x.api} v${x.api_version}`),
    h('td', null, x.side || ''),
    h('td', null, clientText(x.client)),
    h('td', null, x.client_id || ''),
    h('td', null, x.server ? x.server.addr : ''),
    h('td', { class: 'topics' }, topicsText(x)),
    h('td', null, h('span', { class: ['st', err ? 'st-err' : 'st-ok'] }, err || 'ok')),
    h('td', { class: 'num' }, lat === null ? '–' : fmtSeconds(lat)),
    h('td', { class: 'num' }, fmtBytes(x.request_bytes)),
    h('td', { class: 'num' }, x.response_bytes ? fmtBytes(x.response_bytes) : '–'));
  return tr;
}

tbody.addEventListener('click', (e) => {
  const tr = e.target.closest('tr[data-seq]');
  if (tr) openDetail(Number(tr.dataset.seq));
});
tbody.addEventListener('keydown', (e) => {
  if (e.key !== 'Enter' && e.key !== ' ') return;
  const tr = e.target.closest('tr[data-seq]');
  if (!tr) return;
  e.preventDefault();
  openDetail(Number(tr.dataset.seq));
});

// ---- one exchange, with its bodies ----

const dialog = document.getElementById('ev-detail');
document.getElementById('evd-close').addEventListener('click', () => dialog.close());

async function openDetail(seq) {
  const title = document.getElementById('evd-title');
  const facts = document.getElementById('evd-facts');
  const req = document.getElementById('evd-req');
  const resp = document.getElementById('evd-resp');
  title.textContent = `Exchange ${seq}`;
  replace(facts);
  req.textContent = 'loading';
  resp.textContent = '';
  if (!dialog.open) dialog.showModal();
  let x = null;
  try {
    // The first record after seq-1 with bodies: this one, unless the
    // agent has let it go.
    const u = new URL('/api/v1/exchanges', location.origin);
    u.searchParams.set('after', String(seq - 1));
    u.searchParams.set('limit', '1');
    const res = await fetch(u, { credentials: 'same-origin' });
    const text = await res.text();
    if (!res.ok) {
      let msg = `${res.status} ${res.statusText}`;
      try { msg = JSON.parse(text).error || msg; } catch { /* keep it */ }
      throw new Error(msg);
    }
    const line = text.split('\n')[0];
    if (line) x = JSON.parse(line);
  } catch (e) {
    req.textContent = `Could not load it: ${e.message}`;
    return;
  }
  if (!x || x.seq !== seq) {
    req.textContent = 'This exchange is no longer in the agent\'s memory: it keeps the newest exchanges within its memory budget.';
    return;
  }
  title.textContent = `${x.api} v${x.api_version}, ${timeText(x.time)}`;
  const err = result(x);
  const list = [
    ['Sequence', String(x.seq)],
    ['Time', new Date(x.time).toLocaleString()],
    ['Side traced', x.side || '–'],
    ['Client', `${clientText(x.client)}${x.client && x.client.process ? ' at ' + x.client.addr : ''}`],
    ['Client id', x.client_id || '–'],
    ['Broker', x.server ? x.server.addr : '–'],
    ['Correlation id', String(x.correlation_id)],
    ['Latency', x.latency_ns === null || x.latency_ns === undefined ? 'no response' : fmtSeconds(x.latency_ns / 1e9)],
    ['Result', err || 'ok'],
    ['Bytes', `request ${fmtNumber(x.request_bytes)}, response ${fmtNumber(x.response_bytes || 0)}`],
  ];
  if (x.group) list.push(['Group', `${x.group}${x.generation !== undefined ? ', generation ' + x.generation : ''}${x.member_id ? ', member ' + x.member_id : ''}`]);
  if (x.truncated) list.push(['Truncated', 'yes: the capture held only part of it']);
  replace(facts, list.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
  req.textContent = x.request === undefined ? '(not decoded)' : JSON.stringify(x.request, null, 2);
  resp.textContent = x.response === undefined ? '(no response decoded)' : JSON.stringify(x.response, null, 2);
}

// ---- filters and pausing ----

function bindFilters() {
  const api = document.getElementById('f-api');
  for (const a of APIS) api.add(new Option(a, a));
  const form = document.getElementById('ev-filters');
  const errors = document.getElementById('f-errors');
  const sync = () => {
    for (const k of FILTERS) {
      const el = document.getElementById('f-' + k);
      const v = param(k);
      if (el.tagName === 'SELECT' && v && ![...el.options].some((o) => o.value === v)) el.add(new Option(v, v));
      el.value = v;
    }
    errors.checked = param('errors') === '1';
  };
  sync();
  onParams((changed) => {
    sync();
    if (FILTERS.some((k) => k in changed) || 'errors' in changed) {
      tbody.replaceChildren();
      st.seen.clear();
      st.pending = [];
      start();
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = {};
    for (const k of FILTERS) p[k] = document.getElementById('f-' + k).value.trim();
    p.errors = errors.checked ? '1' : null;
    setParams(p);
  });
  for (const id of ['f-api', 'f-side', 'f-errors']) {
    document.getElementById(id).addEventListener('change', () => form.requestSubmit());
  }
  document.getElementById('f-clear').addEventListener('click', () => {
    const p = { errors: null };
    for (const k of FILTERS) p[k] = null;
    setParams(p);
  });
}

// The page's pause button is the header's: one state for the whole page.
const pauseBtn = document.getElementById('ev-pause');
function showPaused(p) {
  pauseBtn.setAttribute('aria-pressed', String(p));
  pauseBtn.textContent = p ? 'Resume' : 'Pause';
}
pauseBtn.addEventListener('click', () => {
  const header = document.getElementById('pause');
  if (header) header.click();
});
onPause((p) => {
  showPaused(p);
  if (p) { stop(); say('paused: the rows stay as they are'); } else start();
});

bindFilters();
showPaused(isPaused());
start();
