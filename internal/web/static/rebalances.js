// Rebalances page: a timeline per consumer group (GET /api/v1/rebalances),
// each generation a bar from its start as long as the group stood still;
// a bar opens its members, their partitions and each member's delay.

import {
  api, refresh, param, setParams, onParams, h, svg, replace, table, fmtSeconds, fmtTime, DEFAULT_SINCE,
} from './common.js';
import { secs, tagRows } from './charts.js';

const GROUPS_PER_PAGE = 25;
const ROW_HEIGHT = 38;
const AXIS_HEIGHT = 22;
// Ticks: the first of these that leaves at least TICK_GAP pixels between
// two ticks.
const TICKS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const TICK_GAP = 90;

let data = null;

function partitionsText(tps) {
  return (tps || []).map((tp) => `${tp.topic}[${(tp.partitions || []).join(',')}]`).join(' ');
}

function clientText(c) {
  if (!c) return '';
  if (c.process) return c.process;
  if (c.host) return `${c.client_id}@${c.host}`;
  return c.client_id || '';
}

function plural(n, word) { return `${n} ${word}${n === 1 ? '' : 's'}`; }

function barLabel(rb) {
  return `g${rb.generation} · ${plural((rb.members || []).length, 'member')}`;
}

function barDescription(rb) {
  const still = rb.delay_seconds === null || rb.delay_seconds === undefined
    ? (rb.complete ? 'stood still for an unknown time' : 'did not complete')
    : `stood still ${fmtSeconds(rb.delay_seconds)}${rb.complete ? '' : ', incomplete'}`;
  return `${rb.group} generation ${rb.generation}, ${plural((rb.members || []).length, 'member')}, started ${fmtTime(rb.started)}, ${still}`;
}

function open(rb) {
  setParams({ open: rb.group, gen: rb.generation });
  requestAnimationFrame(() => document.getElementById('rb-detail').focus());
}

// ---- timelines ----

function ticks(from, to, width) {
  const span = to - from;
  const step = TICKS.find((s) => (span / s) * TICK_GAP <= width) || TICKS[TICKS.length - 1];
  const out = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) out.push(t);
  return out;
}

function tickText(t, step) {
  const d = new Date(t * 1000);
  return step < 60 ? d.toLocaleTimeString() : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function drawAxis(el, from, to, width) {
  const x = (t) => ((t - from) / (to - from)) * width;
  const ts = ticks(from, to, width);
  const step = ts.length > 1 ? ts[1] - ts[0] : to - from;
  el.setAttribute('viewBox', `0 0 ${width} ${AXIS_HEIGHT}`);
  el.setAttribute('height', AXIS_HEIGHT);
  // A label goes where it fits: centred on its tick, kept inside the
  // axis, and left out when it would touch the one before.
  let end = -Infinity;
  el.replaceChildren(...ts.map((t) => {
    const text = tickText(t, step);
    const w = text.length * 6.2;
    const left = Math.min(Math.max(0, x(t) - w / 2), width - w);
    const show = left >= end + 8;
    if (show) end = left + w;
    return svg('g', { class: 'tick' },
      svg('line', { x1: x(t), x2: x(t), y1: AXIS_HEIGHT - 5, y2: AXIS_HEIGHT }),
      show ? svg('text', { x: left, y: AXIS_HEIGHT - 8 }, text) : null);
  }));
}

function drawTimeline(el, rbs, from, to, width) {
  const x = (t) => Math.max(0, Math.min(width, ((t - from) / (to - from)) * width));
  el.setAttribute('viewBox', `0 0 ${width} ${ROW_HEIGHT}`);
  el.setAttribute('height', ROW_HEIGHT);
  const kids = [svg('rect', { class: 'track', x: 0, y: 4, width, height: 16 })];
  for (const t of ticks(from, to, width)) kids.push(svg('g', { class: 'tick' }, svg('line', { x1: x(t), x2: x(t), y1: 0, y2: 24 })));
  const sel = { group: param('open'), gen: param('gen') };
  let labelEnd = -Infinity;
  for (const rb of rbs) {
    const x0 = x(rb.started ? secs(rb.started) : from);
    const x1 = x(rb.ended ? secs(rb.ended) : to);
    const w = Math.max(3, x1 - x0);
    const label = barLabel(rb);
    const lw = label.length * 6.2;
    const showLabel = x0 >= labelEnd + 6;
    const lx = Math.min(x0, width - lw);
    if (showLabel) labelEnd = lx + lw;
    const selected = sel.group === rb.group && sel.gen === String(rb.generation);
    kids.push(svg('g', {
      class: ['bar', rb.complete && rb.ended ? '' : 'incomplete', selected ? 'selected' : ''],
      tabindex: 0, role: 'button', 'aria-label': barDescription(rb), 'aria-pressed': String(selected),
      'data-testid': 'rebalance-bar', 'data-group': rb.group, 'data-generation': rb.generation,
      onclick: () => open(rb),
      onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(rb); } },
    },
    svg('title', null, barDescription(rb)),
    svg('rect', { x: x0, y: 5, width: w, height: 14, rx: 2 }),
    showLabel ? svg('text', { x: Math.max(0, lx), y: 33 }, label) : null));
  }
  el.replaceChildren(...kids);
}

function groupRebalances() {
  const by = new Map();
  for (const rb of data.rebalances || []) {
    if (!by.has(rb.group)) by.set(rb.group, []);
    by.get(rb.group).push(rb);
  }
  return by;
}

function renderTimelines() {
  const box = document.getElementById('timelines');
  const from = secs(data.from);
  const to = secs(data.to);
  const groups = data.groups || [];
  if (groups.length === 0) {
    box.replaceChildren(h('p', { class: 'muted' }, param('group') ? `No rebalance of group ${param('group')} in this window.` : 'No consumer group joined or synced in this window.'));
    document.getElementById('tl-pager').replaceChildren();
    return;
  }
  const pages = Math.ceil(groups.length / GROUPS_PER_PAGE);
  const page = Math.min(pages - 1, Math.max(0, Number(param('page', '0')) || 0));
  const shown = groups.slice(page * GROUPS_PER_PAGE, (page + 1) * GROUPS_PER_PAGE);
  const by = groupRebalances();
  const axis = svg('svg', { class: 'timeline axis', 'aria-hidden': 'true' });
  const rows = [h('div', { class: 'tl-row tl-axis' }, h('div', { class: 'tl-name muted' }, 'group'), axis)];
  const lines = [];
  for (const g of shown) {
    const rbs = by.get(g.group) || [];
    const el = svg('svg', { class: 'timeline', role: 'group', 'aria-label': `${g.group}: ${plural(rbs.length, 'rebalance')}` });
    lines.push([el, rbs]);
    rows.push(h('div', { class: 'tl-row', 'data-testid': 'rebalance-timeline', 'data-group': g.group },
      h('div', { class: 'tl-name' }, g.group,
        h('small', null, `${plural(rbs.length, 'rebalance')}, ${plural((g.members || []).length, 'member')} now`)),
      el));
  }
  // Rows are redrawn at each refresh: keep the keyboard on the bar it was on.
  const had = document.activeElement && document.activeElement.closest && document.activeElement.closest('svg.timeline .bar');
  const focusKey = had ? [had.getAttribute('data-group'), had.getAttribute('data-generation')] : null;
  box.replaceChildren(...rows);
  const width = Math.max(120, Math.floor(axis.getBoundingClientRect().width) || 600);
  drawAxis(axis, from, to, width);
  for (const [el, rbs] of lines) drawTimeline(el, rbs, from, to, width);
  if (focusKey) {
    for (const b of box.querySelectorAll('.bar')) {
      if (b.getAttribute('data-group') === focusKey[0] && b.getAttribute('data-generation') === focusKey[1]) { b.focus(); break; }
    }
  }
  const nav = document.getElementById('tl-pager');
  if (pages <= 1) { nav.replaceChildren(); return; }
  const go = (p) => setParams({ page: p > 0 ? p : null });
  nav.replaceChildren(
    h('button', { type: 'button', disabled: page === 0, onclick: () => go(page - 1) }, '‹ Previous'),
    h('span', null, `groups ${page * GROUPS_PER_PAGE + 1}–${Math.min(groups.length, (page + 1) * GROUPS_PER_PAGE)} of ${groups.length}`),
    h('button', { type: 'button', disabled: page >= pages - 1, onclick: () => go(page + 1) }, 'Next ›'),
  );
}

// ---- the chosen rebalance ----

const memberColumns = [
  { key: 'member_id', label: 'Member' },
  { key: 'client', label: 'Process', value: clientText },
  { key: 'client_id', label: 'Client id' },
  { key: 'joined', label: 'Joined', format: fmtTime },
  { key: 'synced', label: 'Synced', format: fmtTime },
  { key: 'delay_seconds', label: 'Delay', num: true, format: fmtSeconds, title: 'its JoinGroup request to its SyncGroup response: the time it could not consume (KIP-848: the epoch\'s first heartbeat to its request owning its whole target)' },
  { key: 'assignment', label: 'Partitions', value: (r) => partitionsText(r.assignment) },
  // KIP-848 epochs: what the member gave up and got.
  { key: 'revoked', label: 'Revoked', value: (r) => partitionsText(r.revoked) },
  { key: 'assigned', label: 'Assigned', value: (r) => partitionsText(r.assigned) },
];

let membersTable = null;

function renderDetail() {
  const sec = document.getElementById('rb-detail');
  const group = param('open');
  const gen = param('gen');
  const rb = group && (data.rebalances || []).find((r) => r.group === group && String(r.generation) === gen);
  if (!rb) {
    sec.hidden = !group;
    if (group) {
      document.getElementById('rbd-title').textContent = `${group} generation ${gen}`;
      replace(document.getElementById('rbd-facts'), h('dt', null, 'Not found'), h('dd', null, 'not in this window: choose a longer range'));
      document.getElementById('rbd-members').replaceChildren();
      membersTable = null;
    }
    return;
  }
  sec.hidden = false;
  document.getElementById('rbd-title').textContent = `${rb.group}, generation ${rb.generation}`;
  const facts = [
    ['Protocol', rb.group_protocol === 'consumer' ? 'consumer (KIP-848)' : rb.group_protocol],
    ['Started', fmtTime(rb.started)],
    ['Ended', rb.ended ? fmtTime(rb.ended) : 'not seen'],
    ['Stood still', rb.delay_seconds === null || rb.delay_seconds === undefined ? 'unknown' : fmtSeconds(rb.delay_seconds)],
    ['Complete', rb.group_protocol === 'consumer'
      ? (rb.complete ? 'yes: every member of the epoch reached its target' : 'no: a member of the epoch never reached its target')
      : (rb.complete ? 'yes: every member that joined synced' : 'no: a member that joined never synced')],
    ['Reason', rb.reason || '–'],
    ['Leader', rb.leader || '–'],
    ['Members', String((rb.members || []).length)],
  ];
  replace(document.getElementById('rbd-facts'), facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
  const members = rb.members || [];
  if (!membersTable) {
    membersTable = tagRows(table(memberColumns, members, { id: 'members', empty: 'no member' }), 'rebalance-member-row');
    document.getElementById('rbd-members').replaceChildren(membersTable);
  } else {
    membersTable.update(members);
  }
}

// ---- tables ----

let groupsTable = null;
let listTable = null;
let eventsTable = null;

function renderTables() {
  const groups = data.groups || [];
  if (!groupsTable) {
    groupsTable = table([
      { key: 'group', label: 'Group' },
      { key: 'group_protocol', label: 'Protocol' },
      { key: 'generation', label: 'Generation', num: true },
      { key: 'members', label: 'Members', num: true, value: (r) => (r.members || []).length },
      { key: 'rebalances', label: 'Rebalances', num: true },
      { key: 'last_rebalance_seconds', label: 'Last stood still', num: true, format: fmtSeconds },
      { key: 'assignor', label: 'Assignor', value: (r) => r.protocol || '' },
    ], groups, { id: 'rb-groups', pageSize: 50, empty: 'no group', onRow: (r) => setParams({ group: r.group, page: null }) });
    document.getElementById('rb-groups').replaceChildren(tagRows(groupsTable, 'rebalance-group-row'));
  } else groupsTable.update(groups);

  const rbs = data.rebalances || [];
  if (!listTable) {
    listTable = table([
      { key: 'started', label: 'Started', format: fmtTime },
      { key: 'group', label: 'Group' },
      { key: 'generation', label: 'Generation', num: true },
      { key: 'delay_seconds', label: 'Stood still', num: true, format: fmtSeconds },
      { key: 'complete', label: 'Complete', format: (v) => (v ? 'yes' : 'no') },
      { key: 'members', label: 'Members', num: true, value: (r) => (r.members || []).length },
      { key: 'reason', label: 'Reason', class: () => 'wrap' },
    ], rbs, { id: 'rb-list', pageSize: 50, sortKey: '-started', empty: 'no rebalance', onRow: open });
    document.getElementById('rb-list').replaceChildren(tagRows(listTable, 'rebalance-row'));
  } else listTable.update(rbs);

  const evs = data.events || [];
  if (!eventsTable) {
    eventsTable = table([
      { key: 'time', label: 'Time', format: fmtTime },
      { key: 'group', label: 'Group' },
      { key: 'api', label: 'API' },
      { key: 'process', label: 'Process', value: clientText },
      { key: 'member_id', label: 'Member' },
      { key: 'generation', label: 'Generation', num: true },
      { key: 'error', label: 'Error', format: (v) => (v ? h('span', { class: 'st st-err' }, v) : 'none'), value: (r) => r.error || '' },
      { key: 'latency_seconds', label: 'Latency', num: true, format: fmtSeconds },
      { key: 'detail', label: 'Detail', class: () => 'wrap' },
    ], evs, { id: 'rb-events', pageSize: 50, sortKey: '-time', empty: 'no event' });
    document.getElementById('rb-events').replaceChildren(eventsTable);
  } else eventsTable.update(evs);
}

function render() {
  if (!data) return;
  const names = (data.groups || []).map((g) => g.group);
  const dl = document.getElementById('dl-groups');
  if (!param('group')) replace(dl, names.map((n) => h('option', { value: n })));
  const n = (data.rebalances || []).length;
  replace(document.getElementById('rb-status'), h('p', { class: 'muted' },
    `${plural((data.groups || []).length, 'group')}, ${plural(n, 'rebalance')} from ${fmtTime(data.from)} to ${fmtTime(data.to)}.`));
  renderTimelines();
  renderDetail();
  renderTables();
}

async function load() {
  try {
    data = await api('/api/v1/rebalances', { since: param('since', DEFAULT_SINCE), group: param('group') });
  } catch (e) {
    if (e.status === 503) {
      data = null;
      replace(document.getElementById('rb-status'), h('p', { class: 'notice' }, e.message));
      return;
    }
    throw e;
  }
  render();
}

function bindFilters() {
  const form = document.getElementById('rb-filters');
  const g = document.getElementById('f-group');
  const sync = () => { g.value = param('group'); };
  sync();
  onParams(sync);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    setParams({ group: g.value.trim(), page: null });
  });
  document.getElementById('f-clear').addEventListener('click', () => setParams({ group: null, page: null }));
}

bindFilters();
refresh(load);
// A bar's selection and the timelines' width need no new answer.
onParams((changed) => { if ('open' in changed || 'gen' in changed) render(); });
let resizeFrame = 0;
new ResizeObserver(() => {
  cancelAnimationFrame(resizeFrame);
  resizeFrame = requestAnimationFrame(() => { if (data) renderTimelines(); });
}).observe(document.getElementById('timelines'));
