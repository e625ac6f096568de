// Shared parts of kscope's pages: fetching the API, refreshing, the URL's
// query as the page's state, a DOM builder, tables and formatting.
// Text is always set as text, never as HTML.

// ---- URL state ----

const PARAMS_EVENT = 'kscope:params';

// param is the URL query parameter name, or def when absent or empty.
export function param(name, def = '') {
  const v = new URLSearchParams(location.search).get(name);
  return v === null || v === '' ? def : v;
}

// setParams sets the URL query parameters in obj (null, undefined or ''
// removes one) without reloading, so that the URL can be shared, and
// tells the page (the event 'kscope:params' on window; refresh runs again).
export function setParams(obj) {
  const u = new URL(location.href);
  let changed = false;
  for (const [k, v] of Object.entries(obj)) {
    const old = u.searchParams.get(k);
    if (v === null || v === undefined || v === '') {
      if (old !== null) { u.searchParams.delete(k); changed = true; }
    } else if (old !== String(v)) {
      u.searchParams.set(k, String(v));
      changed = true;
    }
  }
  if (!changed) return;
  history.replaceState(history.state, '', u);
  carryParams();
  window.dispatchEvent(new CustomEvent(PARAMS_EVENT, { detail: obj }));
}

// onParams calls fn(changed) after each setParams.
export function onParams(fn) {
  window.addEventListener(PARAMS_EVENT, (e) => fn(e.detail));
}

// The header's links keep the parameters every page shares.
const SHARED = ['since', 'refresh'];

function carryParams() {
  const cur = new URLSearchParams(location.search);
  for (const a of document.querySelectorAll('header.top nav a')) {
    const u = new URL(a.href);
    for (const k of SHARED) {
      if (cur.get(k)) u.searchParams.set(k, cur.get(k));
      else u.searchParams.delete(k);
    }
    a.href = u.pathname + u.search;
  }
}

// ---- API ----

// api fetches path (e.g. '/api/v1/overview') with the query params (empty
// values left out) and returns its JSON. It throws an Error with the
// server's {"error": ...} text; the error's status is the HTTP status.
export async function api(path, params = {}) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => u.searchParams.append(k, x));
    else u.searchParams.set(k, v);
  }
  let res;
  try {
    res = await fetch(u, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  } catch (e) {
    const err = new Error(`the agent did not answer (${e.message}): is it still running?`);
    err.status = 0;
    throw err;
  }
  if (res.status === 401 && document.querySelector('a.logout')) {
    // The session ended (the agent restarted with another token): log in again.
    location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
    const err = new Error('the session ended: log in again');
    err.status = 401;
    throw err;
  }
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      const body = await res.json();
      if (body && body.error) msg = body.error;
    } catch { /* not JSON: keep the status line */ }
    const err = new Error(msg);
    err.status = res.status;
    throw err;
  }
  return res.json();
}

// ---- refreshing ----

let paused = false;
const loops = new Set();

function interval() {
  const s = Number(param('refresh', '5'));
  return Number.isFinite(s) && s >= 1 ? s : 5;
}

// refresh runs async fn now and again every `refresh` seconds (URL
// parameter, default 5), each run only after the previous one settled.
// After a success the header's "as of" shows the time; an error shows in
// #error until the next success. The header's pause button stops and
// resumes every loop; setParams runs them again at once. It returns
// {now()} to run fn again at once (after the current run, if any).
export function refresh(fn) {
  const loop = { timer: 0, running: false, again: false };
  const schedule = () => {
    clearTimeout(loop.timer);
    if (!paused) loop.timer = setTimeout(run, interval() * 1000);
  };
  const run = async () => {
    clearTimeout(loop.timer);
    if (loop.running) { loop.again = true; return; }
    if (document.hidden && loop.started) { loop.waiting = true; return; }
    loop.running = true;
    loop.started = true;
    try {
      await fn();
      setAsOf(new Date());
      showError(null, loop);
    } catch (e) {
      showError(e, loop);
    } finally {
      loop.running = false;
      if (loop.again) { loop.again = false; run(); } else schedule();
    }
  };
  loop.run = run;
  loops.add(loop);
  run();
  return { now: run };
}

// A hidden tab does not poll; it catches up when shown.
document.addEventListener('visibilitychange', () => {
  if (document.hidden) return;
  for (const l of loops) if (l.waiting) { l.waiting = false; l.run(); }
});

window.addEventListener(PARAMS_EVENT, () => { for (const l of loops) l.run(); });

// isPaused says whether the header's pause button holds the refreshes.
export function isPaused() { return paused; }

function setPaused(p) {
  paused = p;
  const b = document.getElementById('pause');
  if (b) {
    b.setAttribute('aria-pressed', String(p));
    b.textContent = p ? 'Resume' : 'Pause';
  }
  document.body.classList.toggle('paused', p);
  window.dispatchEvent(new CustomEvent('kscope:pause', { detail: p }));
  for (const l of loops) {
    if (p) clearTimeout(l.timer);
    else l.run();
  }
}

// onPause calls fn(paused) when the pause button is pressed.
export function onPause(fn) {
  window.addEventListener('kscope:pause', (e) => fn(e.detail));
}

function setAsOf(d) {
  const el = document.getElementById('asof');
  if (!el) return;
  el.dateTime = d.toISOString();
  el.textContent = d.toLocaleTimeString();
}

const failing = new Set();

function showError(e, loop) {
  const el = document.getElementById('error');
  if (e) failing.add(loop); else failing.delete(loop);
  if (!el) return;
  if (e) {
    el.textContent = e.message || String(e);
    el.hidden = false;
  } else if (failing.size === 0) {
    el.textContent = '';
    el.hidden = true;
  }
}

// ---- DOM ----

const SVGNS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v); // CSSOM: allowed by the CSP
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class' && Array.isArray(v)) el.setAttribute('class', v.filter(Boolean).join(' '));
    else if (k in el && !(el instanceof SVGElement) && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// h builds an element: attrs are attributes (onX: listeners; style: an
// object; class: a string or a list), children are nodes, text (set as
// text), arrays, or null/false (left out).
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// svg is h for SVG elements.
export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVGNS, tag), attrs, children);
}

// replace replaces el's children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// ---- status words ----

const STATUS = {
  ok: 'st-ok', up: 'st-ok', stable: 'st-ok', fenced: 'st-warn', missing: 'st-err',
  warn: 'st-warn', warning: 'st-warn', errors: 'st-warn', rewind: 'st-warn', 'under-replicated': 'st-warn', 'at-min-isr': 'st-warn',
  preparingrebalance: 'st-warn', completingrebalance: 'st-warn', reconciling: 'st-warn', assigning: 'st-warn',
  stall: 'st-err', stop: 'st-err', err: 'st-err', error: 'st-err', lost: 'st-err', page: 'st-err',
  'under-min-isr': 'st-err', offline: 'st-err', down: 'st-err', dead: 'st-err',
};

// statusClass is the CSS class of a status word (lag status, replication
// tier, finding severity): st-ok, st-warn, st-err, or '' when unknown.
export function statusClass(word) {
  return STATUS[String(word || '').toLowerCase()] || '';
}

// status is a badge that says the status word and is coloured by it.
export function status(word, title) {
  return h('span', { class: ['st', statusClass(word)], title }, word || '–');
}

// ---- tables ----

const tableState = new Map();

function cmp(a, b) {
  const na = a === null || a === undefined || a === '';
  const nb = b === null || b === undefined || b === '';
  if (na || nb) return na === nb ? 0 : na ? 1 : -1; // empty cells last
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

// table returns a sortable table. columns: [{key, label, value(row),
// format(value, row) -> text or node, num (right-aligned), title,
// class(row)}]; value defaults to row[key]. opts: pageSize (paginate),
// onRow(row) (rows open on click, Enter or Space), sortKey (a column key,
// '-key' for descending), id (keeps the sort and page across re-renders),
// caption, empty (text when there are no rows), rowClass(row).
// The element's update(rows) re-renders the rows in place, keeping the
// header's focus.
export function table(columns, rows, opts = {}) {
  const st = (opts.id && tableState.get(opts.id)) || { sort: opts.sortKey || '', page: 0 };
  if (opts.id) tableState.set(opts.id, st);
  let data = rows || [];
  const col = (k) => columns.find((c) => c.key === k);
  const valueOf = (c, r) => (c.value ? c.value(r) : r[c.key]);
  const tbody = h('tbody');
  const pager = h('div', { class: 'pager' });
  const heads = columns.map((c) => {
    const b = h('button', { type: 'button', onclick: () => sortBy(c.key) }, c.label ?? c.key);
    return h('th', { scope: 'col', class: c.num ? 'num' : null, title: c.title }, b);
  });
  const tbl = h('table', { class: 'data' },
    opts.caption ? h('caption', null, opts.caption) : null,
    h('thead', null, h('tr', null, heads)), tbody);
  const wrap = h('div', { class: 'table' }, h('div', { class: 'scroll' }, tbl), pager);

  function sortBy(key) {
    const cur = st.sort.replace(/^-/, '');
    // Numbers sort largest first on the first press: the worst first.
    if (cur === key) st.sort = st.sort.startsWith('-') ? key : '-' + key;
    else st.sort = col(key)?.num ? '-' + key : key;
    st.page = 0;
    render();
  }

  function sorted() {
    const key = st.sort.replace(/^-/, '');
    const c = col(key);
    if (!c) return data;
    const dir = st.sort.startsWith('-') ? -1 : 1;
    return data
      .map((r, i) => [valueOf(c, r), i, r])
      .sort((a, b) => {
        const na = a[0] === null || a[0] === undefined || a[0] === '';
        const nb = b[0] === null || b[0] === undefined || b[0] === '';
        if (na || nb) return na === nb ? a[1] - b[1] : na ? 1 : -1;
        return dir * cmp(a[0], b[0]) || a[1] - b[1];
      })
      .map((x) => x[2]);
  }

  function render() {
    const key = st.sort.replace(/^-/, '');
    columns.forEach((c, i) => {
      if (c.key === key) heads[i].setAttribute('aria-sort', st.sort.startsWith('-') ? 'descending' : 'ascending');
      else heads[i].removeAttribute('aria-sort');
    });
    const all = sorted();
    const size = opts.pageSize || all.length || 1;
    const pages = Math.max(1, Math.ceil(all.length / size));
    st.page = Math.min(st.page, pages - 1);
    const shown = opts.pageSize ? all.slice(st.page * size, (st.page + 1) * size) : all;
    const trs = shown.map((r) => {
      const tds = columns.map((c) => {
        const v = valueOf(c, r);
        let out = c.format ? c.format(v, r) : v;
        if (out === null || out === undefined || out === '') out = '–';
        return h('td', { class: [c.num ? 'num' : '', c.class ? c.class(r) : ''] }, out);
      });
      const tr = h('tr', { class: opts.rowClass ? opts.rowClass(r) : null }, tds);
      if (opts.onRow) {
        tr.tabIndex = 0;
        tr.classList.add('clickable');
        tr.addEventListener('click', () => opts.onRow(r));
        tr.addEventListener('keydown', (e) => {
          if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); opts.onRow(r); }
        });
      }
      return tr;
    });
    if (trs.length === 0) trs.push(h('tr', null, h('td', { colSpan: columns.length, class: 'empty' }, opts.empty || 'none')));
    tbody.replaceChildren(...trs);
    if (!opts.pageSize || pages <= 1) {
      pager.replaceChildren(all.length > 0 && opts.pageSize ? `${all.length} rows` : '');
      return;
    }
    const go = (p) => { st.page = p; render(); };
    pager.replaceChildren(
      h('button', { type: 'button', disabled: st.page === 0, onclick: () => go(0) }, '« First'),
      h('button', { type: 'button', disabled: st.page === 0, onclick: () => go(st.page - 1) }, '‹ Previous'),
      h('span', { 'aria-live': 'polite' }, `rows ${st.page * size + 1}–${Math.min(all.length, (st.page + 1) * size)} of ${all.length}`),
      h('button', { type: 'button', disabled: st.page >= pages - 1, onclick: () => go(st.page + 1) }, 'Next ›'),
      h('button', { type: 'button', disabled: st.page >= pages - 1, onclick: () => go(pages - 1) }, 'Last »'),
    );
  }

  wrap.update = (rows2) => { data = rows2 || []; render(); };
  render();
  return wrap;
}

// ---- formatting ----

function num(n, digits = 3) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return '–';
  return Number(Number(n).toPrecision(digits)).toLocaleString();
}

// fmtBytes is n bytes in B, KiB, MiB, GiB, TiB.
export function fmtBytes(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return '–';
  n = Number(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${Math.round(n)} B` : `${num(n)} ${units[i]}`;
}

// fmtRate is n per second, with k and M for large numbers.
export function fmtRate(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return '–';
  n = Number(n);
  if (n === 0) return '0/s';
  const a = Math.abs(n);
  if (a >= 1e6) return `${num(n / 1e6)}M/s`;
  if (a >= 1e4) return `${num(n / 1e3)}k/s`;
  return `${num(n)}/s`;
}

// fmtSeconds is a duration in seconds as µs, ms, s, m, h or d.
export function fmtSeconds(s) {
  if (s === null || s === undefined || !Number.isFinite(Number(s))) return '–';
  s = Number(s);
  const a = Math.abs(s);
  if (a === 0) return '0s';
  if (a < 1e-3) return `${num(s * 1e6)}µs`;
  if (a < 1) return `${num(s * 1e3)}ms`;
  if (a < 60) return `${num(s)}s`;
  const sign = s < 0 ? '-' : '';
  let r = Math.round(a);
  const d = Math.floor(r / 86400); r -= d * 86400;
  const hh = Math.floor(r / 3600); r -= hh * 3600;
  const m = Math.floor(r / 60); r -= m * 60;
  if (d) return hh ? `${sign}${d}d${hh}h` : `${sign}${d}d`;
  if (hh) return m ? `${sign}${hh}h${m}m` : `${sign}${hh}h`;
  return `${sign}${m}m${r}s`;
}

// fmtTime is an RFC 3339 time as local time of day, with the date when not
// today.
export function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 1970) return '–';
  const today = new Date();
  const t = d.toLocaleTimeString();
  return d.toDateString() === today.toDateString() ? t : `${d.toLocaleDateString()} ${t}`;
}

// fmtNumber is n with at most 3 significant digits (and locale separators
// for large integers).
export function fmtNumber(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return '–';
  return Number.isInteger(Number(n)) ? Number(n).toLocaleString() : num(n);
}

// ---- controls ----

export const RANGES = [['5m', '5 min'], ['15m', '15 min'], ['1h', '1 hour'], ['6h', '6 hours'], ['24h', '24 hours']];
export const DEFAULT_SINCE = '15m';

function bindSelect(sel, name, def) {
  const cur = param(name, def);
  if (![...sel.options].some((o) => o.value === cur)) sel.add(new Option(cur, cur));
  sel.value = cur;
  sel.addEventListener('change', () => setParams({ [name]: sel.value === def ? null : sel.value }));
  onParams(() => {
    const v = param(name, def);
    if (![...sel.options].some((o) => o.value === v)) sel.add(new Option(v, v));
    sel.value = v;
  });
  return sel;
}

// rangeControl returns a <select> bound to the URL parameter since (5m,
// 15m, 1h, 6h, 24h; def when absent). The header has one already.
export function rangeControl(def = DEFAULT_SINCE) {
  const sel = h('select', { name: 'since', 'aria-label': 'Time range' },
    RANGES.map(([v, l]) => h('option', { value: v }, l)));
  return bindSelect(sel, 'since', def);
}

function init() {
  const since = document.getElementById('since');
  if (since) bindSelect(since, 'since', DEFAULT_SINCE);
  const every = document.getElementById('refresh-every');
  if (every) bindSelect(every, 'refresh', '5');
  const pause = document.getElementById('pause');
  if (pause) pause.addEventListener('click', () => setPaused(!paused));
  carryParams();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();

// ---- vendored libraries ----

let uplotLoading = null;

// loadUPlot loads the vendored uPlot (a classic script and its CSS) once
// and resolves to its constructor.
export function loadUPlot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!uplotLoading) {
    uplotLoading = new Promise((resolve, reject) => {
      document.head.appendChild(h('link', { rel: 'stylesheet', href: '/static/vendor/uplot/uPlot.min.css' }));
      const s = h('script', { src: '/static/vendor/uplot/uPlot.iife.min.js' });
      s.addEventListener('load', () => resolve(window.uPlot));
      s.addEventListener('error', () => { uplotLoading = null; reject(new Error('could not load uPlot')); });
      document.head.appendChild(s);
    });
  }
  return uplotLoading;
}
