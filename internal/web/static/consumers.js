// Consumers page: each group's lag over the cluster inspector's polls
// (GET /api/v1/history/lag, worst first, 50 groups a page, paged by the
// agent so that 5,000 groups cost one page), a group's partitions over time
// (the same with group=), and each consumer process's lag per partition
// from the traffic (GET /api/v1/clients), which needs no inspector.

import {
  api, refresh, param, setParams, onParams, h, replace, table, status, fmtSeconds, fmtNumber, fmtRate, fmtTime, DEFAULT_SINCE,
} from './common.js';
import { lineChart, colorOf, align, secs, sparkline, tagRows } from './charts.js';

const PAGE = 50;
// Points per sparkline: a page of 50 groups stays small.
const SPARK_POINTS = 60;

const since = () => param('since', DEFAULT_SINCE);

function last(points, key) {
  for (let i = points.length - 1; i >= 0; i--) {
    const v = points[i][key];
    if (v !== null && v !== undefined) return v;
  }
  return null;
}

function ownerText(o) {
  if (!o) return '';
  if (typeof o === 'string') return o;
  if (o.process) return o.process;
  if (o.client_id && o.host) return `${o.client_id}@${o.host}`;
  return o.client_id || o.member_id || '';
}

// ---- groups ----

const groupColumns = [
  { key: 'group', label: 'Group', class: () => 'name' },
  { key: 'status', label: 'Status', format: (v, r) => status(v, r.reason) },
  { key: 'state', label: 'State', class: () => 'name' },
  { key: 'offset_lag', label: 'Offset lag', num: true, value: (r) => last(r.points, 'offset_lag'), format: fmtNumber },
  {
    key: 'offset_trend', label: 'Offset lag trend', value: (r) => last(r.points, 'offset_lag'),
    format: (v, r) => sparkline(r.points.map((p) => p.offset_lag), { label: `${r.group} offset lag`, format: fmtNumber }),
  },
  { key: 'append_lag', label: 'Append Lag', num: true, value: (r) => last(r.points, 'append_lag_seconds'), format: fmtSeconds },
  {
    key: 'append_trend', label: 'Append Lag trend', value: (r) => last(r.points, 'append_lag_seconds'),
    format: (v, r) => sparkline(r.points.map((p) => p.append_lag_seconds), { label: `${r.group} Append Lag`, format: fmtSeconds, cls: 'append' }),
  },
  { key: 'reason', label: 'Reason', class: () => 'reason' },
];

let groupsTable = null;
let page = 0;

async function loadGroups() {
  const st = document.getElementById('groups-status');
  const group = param('group');
  page = Math.max(0, Number(param('page', '0')) || 0);
  let view;
  try {
    view = await api('/api/v1/history/lag', {
      since: since(), group, topic: param('topic'),
      offset: group ? 0 : page * PAGE, limit: PAGE, points: group ? 0 : SPARK_POINTS,
    });
  } catch (e) {
    if (e.status === 503 || e.status === 404) {
      st.replaceChildren(h('p', { class: 'notice', 'data-testid': 'consumer-groups-unavailable' },
        e.status === 503
          ? `No group lag from the cluster: ${e.message}. The consumer processes below show the lag their own traffic shows.`
          : 'Group lag over time is not available from this agent.'));
      document.getElementById('groups').replaceChildren();
      document.getElementById('groups-pager').replaceChildren();
      groupsTable = null;
      await showDetail(null);
      return;
    }
    throw e;
  }
  const groups = view.groups || [];
  if (!groupsTable) {
    groupsTable = tagRows(table(groupColumns, groups, {
      id: 'groups', empty: 'no group', caption: 'Consumer groups, worst first',
      onRow: (r) => setParams({ group: r.group, page: null }),
      rowClass: (r) => (r.group === param('group') ? 'selected' : null),
    }), 'consumer-group-row');
    document.getElementById('groups').replaceChildren(groupsTable);
  } else {
    groupsTable.update(groups);
  }
  const dl = document.getElementById('dl-groups');
  replace(dl, groups.map((g) => h('option', { value: g.group })));
  const polls = `${view.polls} poll${view.polls === 1 ? '' : 's'} from ${fmtTime(view.from)}`;
  if (group) {
    st.replaceChildren(h('p', { class: 'muted' }, groups.length ? `Group ${group}; ${polls}.` : `No group ${group} in the polls of this window.`));
  } else {
    st.replaceChildren(h('p', { class: 'muted' }, `${view.total} group${view.total === 1 ? '' : 's'}${param('topic') ? ' consuming ' + param('topic') : ''}; ${polls}.`));
  }
  pager(group ? 0 : view.total);
  await showDetail(group ? groups[0] || null : null);
}

function pager(total) {
  const nav = document.getElementById('groups-pager');
  const pages = Math.ceil(total / PAGE);
  if (pages <= 1) { nav.replaceChildren(); return; }
  const go = (p) => setParams({ page: p > 0 ? p : null });
  const p = Math.min(page, pages - 1);
  nav.replaceChildren(
    h('button', { type: 'button', disabled: p === 0, onclick: () => go(0) }, '« First'),
    h('button', { type: 'button', disabled: p === 0, onclick: () => go(p - 1) }, '‹ Previous'),
    h('span', { 'aria-live': 'polite' }, `groups ${p * PAGE + 1}–${Math.min(total, (p + 1) * PAGE)} of ${total}`),
    h('button', { type: 'button', disabled: p >= pages - 1, onclick: () => go(p + 1) }, 'Next ›'),
    h('button', { type: 'button', disabled: p >= pages - 1, onclick: () => go(pages - 1) }, 'Last »'),
  );
}

// ---- one group's partitions ----

const detail = { offset: null, time: null, table: null };

const partitionColumns = [
  { key: 'topic', label: 'Topic' },
  { key: 'partition', label: 'Partition', num: true },
  { key: 'status', label: 'Status', format: (v, r) => status(v, r.reason) },
  { key: 'owner', label: 'Owner', value: (r) => ownerText(r.owner) },
  { key: 'offset_lag', label: 'Offset lag', num: true, value: (r) => last(r.points, 'offset_lag'), format: fmtNumber },
  { key: 'append_lag', label: 'Append Lag', num: true, value: (r) => last(r.points, 'append_lag_seconds'), format: fmtSeconds },
  { key: 'time_lag', label: 'Time lag', num: true, value: (r) => last(r.points, 'time_lag_seconds'), format: fmtSeconds },
  { key: 'reason', label: 'Reason', class: () => 'reason' },
];

async function showDetail(g) {
  const sec = document.getElementById('group-detail');
  if (!g) {
    sec.hidden = true;
    for (const k of ['offset', 'time']) if (detail[k]) { detail[k].destroy(); detail[k] = null; }
    return;
  }
  sec.hidden = false;
  document.getElementById('gd-title').textContent = `Group ${g.group}`;
  replace(document.getElementById('gd-status'), status(g.status), ` ${g.state || ''}`, g.reason ? ` — ${g.reason}` : '');
  const parts = (g.partitions || []).slice().sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  if (!detail.table) {
    detail.table = tagRows(table(partitionColumns, parts, { id: 'partitions', pageSize: PAGE, empty: 'no partition', caption: 'Partitions' }), 'group-partition-row');
    document.getElementById('gd-table').replaceChildren(detail.table);
  } else {
    detail.table.update(parts);
  }
  if (!detail.offset) {
    detail.offset = lineChart(document.getElementById('gd-offset'), { label: 'Offset lag per partition', testid: 'group-offset-chart', height: 220 });
    detail.time = lineChart(document.getElementById('gd-time'), { label: 'Time lag per partition', testid: 'group-time-chart', yFormat: fmtSeconds, height: 220 });
  }
  const series = (key) => {
    const { xs, ys } = align(parts.map((p) => p.points.map((q) => [secs(q.time), q[key]])));
    return [xs, parts.map((p, i) => ({ key: `${p.topic}/${p.partition}`, label: `${p.topic}/${p.partition}`, values: ys[i], color: colorOf(i) }))];
  };
  await detail.offset.update(...series('offset_lag'));
  await detail.time.update(...series('time_lag_seconds'));
}

// ---- consumer processes, from the traffic ----

const procColumns = [
  { key: 'process', label: 'Consumer' },
  { key: 'client_id', label: 'Client id' },
  { key: 'group', label: 'Group' },
  { key: 'topic', label: 'Topic' },
  { key: 'partition', label: 'Partition', num: true },
  { key: 'committed_offset', label: 'Committed', num: true, format: fmtNumber },
  { key: 'next_offset', label: 'Fetched to', num: true, format: fmtNumber },
  { key: 'high_watermark', label: 'Log end', num: true, format: fmtNumber, title: 'the freshest log end known for the partition' },
  { key: 'offset_lag', label: 'Lag', num: true, format: fmtNumber },
  { key: 'fetch_lag', label: 'Fetch lag', num: true, format: fmtNumber },
  { key: 'time_lag_seconds', label: 'Time lag', num: true, format: fmtSeconds },
  { key: 'commit_lag_seconds', label: 'Commit lag', num: true, format: fmtSeconds },
  { key: 'records_per_sec', label: 'Records/s', num: true, format: fmtRate },
  { key: 'last_fetch', label: 'Last fetch', format: fmtTime },
];

let procsTable = null;

async function loadProcs() {
  const st = document.getElementById('procs-status');
  let view;
  try {
    view = await api('/api/v1/clients', { since: since(), topic: param('topic'), group: param('group') });
  } catch (e) {
    if (e.status === 503) {
      st.replaceChildren(h('p', { class: 'notice' }, e.message));
      document.getElementById('procs').replaceChildren();
      procsTable = null;
      return;
    }
    throw e;
  }
  const rows = view.consumers || [];
  st.replaceChildren(rows.length ? '' : h('p', { class: 'muted' }, 'No consumer fetched in this window.'));
  if (!procsTable) {
    procsTable = tagRows(table(procColumns, rows, { id: 'procs', pageSize: PAGE, sortKey: '-offset_lag', empty: 'no consumer' }), 'consumer-process-row');
    document.getElementById('procs').replaceChildren(procsTable);
  } else {
    procsTable.update(rows);
  }
}

// ---- filters ----

function bindFilters() {
  const form = document.getElementById('groups-filters');
  const g = document.getElementById('f-group');
  const t = document.getElementById('f-topic');
  const sync = () => { g.value = param('group'); t.value = param('topic'); };
  sync();
  onParams(sync);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    setParams({ group: g.value.trim(), topic: t.value.trim(), page: null });
  });
  document.getElementById('f-clear').addEventListener('click', () => setParams({ group: null, topic: null, page: null }));
}

bindFilters();
refresh(loadGroups);
refresh(loadProcs);
