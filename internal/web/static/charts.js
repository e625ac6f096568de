// Charts of the Latency, Consumers and Rebalances pages: time series on
// uPlot with a legend of our own (each line a toggle button, so the
// keyboard can hide and show lines, and hover values shown as text), and
// sparklines as small SVG paths, cheap enough for a page of 50 rows.

import { h, svg, loadUPlot, fmtNumber } from './common.js';

// PALETTE holds colours that read on light and dark backgrounds; a line is
// never told apart by colour alone: the legend names it and shows its
// value under the cursor.
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#8d99ae'];

// colorOf is the palette's colour number i.
export function colorOf(i) { return PALETTE[i % PALETTE.length]; }

function cssVar(name, def) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || def;
}

const charts = new Set();

// Charts take their axes' colours from the page's CSS variables: rebuild
// them when the system switches between light and dark.
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
  for (const c of charts) c.rebuild();
});

// lineChart draws time series into container: x in Unix seconds, one line
// per series. opts: yFormat(value) for the axis, legend and hover text
// (default fmtNumber), height (px), label (the chart's accessible name),
// testid. It returns {update(xs, series), destroy()}; series are
// [{key, label, values, color, dash}], values aligned with xs (null: no
// point). Lines hidden from the legend stay hidden across updates.
export function lineChart(container, opts = {}) {
  const yFormat = opts.yFormat || fmtNumber;
  const height = opts.height || 260;
  const hidden = new Set();
  const plotEl = h('div', { class: 'plot', role: 'img', 'aria-label': opts.label || 'chart' });
  const legendEl = h('div', { class: 'chart-legend', role: 'group', 'aria-label': (opts.label || 'chart') + ': lines shown' });
  const allBtn = h('button', { type: 'button', class: 'legend-all', onclick: () => setAll(true) }, 'Show all');
  const noneBtn = h('button', { type: 'button', class: 'legend-all', onclick: () => setAll(false) }, 'Hide all');
  const hoverEl = h('div', { class: 'chart-hover muted', 'aria-live': 'off' }, '');
  container.classList.add('chart');
  if (opts.testid) container.dataset.testid = opts.testid;
  container.replaceChildren(plotEl, hoverEl, h('div', { class: 'legend-tools' }, allBtn, noneBtn), legendEl);

  let u = null;
  let keys = '';
  let last = { xs: [], series: [] };
  let buttons = [];
  let destroyed = false;

  function width() { return Math.max(200, container.clientWidth || 600); }

  function setAll(show) {
    for (const s of last.series) { if (show) hidden.delete(s.key); else hidden.add(s.key); }
    last.series.forEach((s, i) => {
      if (u) u.setSeries(i + 1, { show });
      buttons[i].setAttribute('aria-pressed', String(show));
    });
  }

  function toggle(i) {
    const s = last.series[i];
    const show = hidden.has(s.key);
    if (show) hidden.delete(s.key); else hidden.add(s.key);
    buttons[i].setAttribute('aria-pressed', String(show));
    if (u) u.setSeries(i + 1, { show });
  }

  function legend() {
    buttons = last.series.map((s, i) => {
      const b = h('button', {
        type: 'button', class: 'legend-item', 'aria-pressed': String(!hidden.has(s.key)),
        title: 'Show or hide this line', onclick: () => toggle(i),
      }, h('span', { class: ['swatch', s.dash ? 'dashed' : ''], style: { borderColor: s.color }, 'aria-hidden': 'true' }), s.label);
      return b;
    });
    legendEl.replaceChildren(...buttons);
    const many = last.series.length > 3;
    allBtn.hidden = !many;
    noneBtn.hidden = !many;
  }

  function hover(uu) {
    const i = uu.cursor.idx;
    if (i === null || i === undefined) { hoverEl.textContent = ''; return; }
    const t = new Date(last.xs[i] * 1000).toLocaleTimeString();
    const parts = [];
    last.series.forEach((s, j) => {
      if (hidden.has(s.key)) return;
      const v = s.values[i];
      if (v !== null && v !== undefined) parts.push(`${s.label}: ${yFormat(v)}`);
    });
    hoverEl.textContent = parts.length ? `${t} · ${parts.join(' · ')}` : t;
  }

  async function build() {
    const UPlot = await loadUPlot();
    if (destroyed) return;
    if (u) { u.destroy(); u = null; }
    const fg = cssVar('--fg', '#1b1f24');
    const line = cssVar('--line', '#d5dae1');
    const axis = { stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
    const o = {
      width: width(),
      height,
      legend: { show: false },
      cursor: { drag: { setScale: false }, points: { size: 6 } },
      scales: { x: { time: true }, y: { range: (uu, min, max) => [Math.min(0, min ?? 0), max > 0 ? max * 1.08 : 1] } },
      axes: [axis, { ...axis, size: 64, values: (uu, vals) => vals.map((v) => yFormat(v)) }],
      series: [{}, ...last.series.map((s) => ({
        label: s.label, stroke: s.color, width: s.dash ? 1.25 : 1.6, dash: s.dash ? [5, 4] : undefined,
        spanGaps: true, show: !hidden.has(s.key), points: { show: false },
      }))],
      hooks: { setCursor: [hover] },
    };
    u = new UPlot(o, [last.xs, ...last.series.map((s) => s.values)], plotEl);
  }

  const ro = new ResizeObserver(() => { if (u) u.setSize({ width: width(), height }); });
  ro.observe(container);

  const chart = {
    async update(xs, series) {
      last = { xs, series };
      const k = series.map((s) => s.key + '\u0000' + s.color + (s.dash ? 'd' : '')).join('\u0001');
      if (k !== keys || !u) {
        keys = k;
        legend();
        await build();
      } else {
        u.setData([xs, ...series.map((s) => s.values)]);
      }
      plotEl.setAttribute('aria-label', `${opts.label || 'chart'}: ${series.length} lines, ${xs.length} points`);
    },
    rebuild() { if (u) build(); },
    destroy() {
      destroyed = true;
      ro.disconnect();
      charts.delete(chart);
      if (u) u.destroy();
      u = null;
      container.replaceChildren();
    },
  };
  charts.add(chart);
  return chart;
}

// align turns series of [time (Unix seconds), value] pairs into the
// x values and aligned y arrays uPlot takes: x is every time any series
// has, sorted; a series without a point at a time has null there.
export function align(series) {
  const set = new Set();
  for (const s of series) for (const [t] of s) set.add(t);
  const xs = [...set].sort((a, b) => a - b);
  const at = new Map(xs.map((t, i) => [t, i]));
  const ys = series.map((s) => {
    const y = new Array(xs.length).fill(null);
    for (const [t, v] of s) y[at.get(t)] = v;
    return y;
  });
  return { xs, ys };
}

// bucket reduces [time, value] pairs (sorted by time) to one per step
// seconds: the largest value of each step, at the step's start, so that
// peaks (a sawtooth's teeth) stay visible however many points there are.
export function bucket(pairs, step) {
  const out = [];
  for (const [t, v] of pairs) {
    if (v === null || v === undefined) continue;
    const b = Math.floor(t / step) * step;
    const n = out.length;
    if (n && out[n - 1][0] === b) { if (v > out[n - 1][1]) out[n - 1][1] = v; } else out.push([b, v]);
  }
  return out;
}

// secs is an RFC 3339 time in Unix seconds.
export function secs(iso) { return new Date(iso).getTime() / 1000; }

// sparkline is a small SVG line of values (nulls leave gaps), labelled for
// screen readers with its first, last and largest value. opts: width,
// height, format (default fmtNumber), label, cls.
export function sparkline(values, opts = {}) {
  const w = opts.width || 120;
  const ht = opts.height || 24;
  const fmt = opts.format || fmtNumber;
  const vals = values.filter((v) => v !== null && v !== undefined);
  const el = svg('svg', {
    class: ['spark', opts.cls], width: w, height: ht, viewBox: `0 0 ${w} ${ht}`, role: 'img',
  });
  if (vals.length === 0) {
    el.setAttribute('aria-label', `${opts.label || 'trend'}: no data`);
    return el;
  }
  const top = Math.max(...vals);
  const lo = Math.min(0, ...vals);
  const span = top - lo || 1;
  const n = values.length;
  const dx = n > 1 ? (w - 2) / (n - 1) : 0;
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || v === undefined) { pen = false; return; }
    const x = 1 + i * dx;
    const y = ht - 2 - ((v - lo) / span) * (ht - 4);
    d += `${pen ? 'L' : 'M'}${x.toFixed(1)} ${y.toFixed(1)}`;
    pen = true;
  });
  if (n === 1) d += `h${w - 2}`;
  el.appendChild(svg('path', { d }));
  el.setAttribute('aria-label', `${opts.label || 'trend'}: from ${fmt(vals[0])} to ${fmt(vals[vals.length - 1])}, at most ${fmt(top)}`);
  el.appendChild(svg('title', null, `${opts.label || ''} now ${fmt(vals[vals.length - 1])}, max ${fmt(top)}`.trim()));
  return el;
}

// stepFor is a bucket width in seconds for a window of span seconds: about
// n buckets, at least one second.
export function stepFor(span, n = 600) {
  return Math.max(1, Math.ceil(span / n));
}

// tagRows gives each clickable body row of a table() element the
// data-testid testid, now and whenever the table re-renders its rows
// (sorting, paging), so that browser tests can find them.
export function tagRows(wrap, testid) {
  const tag = () => {
    for (const tr of wrap.querySelectorAll('tbody tr')) {
      if (!tr.querySelector('td.empty')) tr.dataset.testid = testid;
    }
  };
  tag();
  new MutationObserver(tag).observe(wrap.querySelector('tbody'), { childList: true });
  return wrap;
}
