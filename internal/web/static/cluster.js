// Cluster: the inspector's view of the cluster (GET /api/v1/health):
// brokers, replication tiers, racks, retention coverage and what changed.
// Without an inspector the API answers 503 and the page says which flag
// starts one.

import {
  api, refresh, param, setParams, h, replace, table, status,
  fmtBytes, fmtSeconds, fmtNumber, fmtTime, DEFAULT_SINCE,
} from './common.js';

const tables = {};

function ids(list) { return list && list.length ? list.join(', ') : '–'; }
const pct = (v) => (v === null || v === undefined ? '–' : `${Number(v).toFixed(0)}%`);
const bps = (v) => (v === null || v === undefined ? '–' : `${fmtBytes(v)}/s`);

function limitMs(ms, src) {
  const v = ms < 0 ? 'unlimited' : fmtSeconds(ms / 1000);
  return src ? `${v} (${src})` : v;
}

function limitBytes(b, src) {
  const v = b < 0 ? 'unlimited' : fmtBytes(b);
  return src ? `${v} (${src})` : v;
}

function item(label, value, word) {
  return h('li', null, word ? status(word) : null, word ? ' ' : null, h('b', null, value), ' ', label);
}

function makeTables() {
  tables.findings = table([
    { key: 'severity', label: 'Severity', value: (r) => ['page', 'warning', 'info'].indexOf(r.severity), format: (v, r) => status(r.severity) },
    { key: 'what', label: 'What' },
    { key: 'do', label: 'What to do' },
  ], [], { id: 'cl-findings', pageSize: 25, empty: 'nothing to report: every partition fully replicated, brokers up' });
  tables.brokers = table([
    { key: 'id', label: 'Broker', num: true, format: (v, r) => (r.controller ? `${v} (controller)` : String(v)) },
    { key: 'addr', label: 'Address', value: (r) => `${r.host || '?'}:${r.port}`, class: () => 'nowrap' },
    { key: 'rack', label: 'Rack', class: () => 'nowrap' },
    { key: 'state', label: 'State', format: (v, r) => [status(v), ` since ${fmtTime(r.since)}`], class: () => 'nowrap' },
    { key: 'leaders', label: 'Leaders', num: true },
    { key: 'leader_skew_pct', label: 'Leader skew', num: true, format: (v) => `${v > 0 ? '+' : ''}${Number(v).toFixed(0)}%`, title: 'leaders against the mean of the brokers up' },
    { key: 'preferred_not_leading', label: 'Preferred, not leading', num: true },
    { key: 'replicas', label: 'Replicas', num: true },
    { key: 'bytes', label: 'On disk', num: true, format: (v) => (v < 0 ? '–' : fmtBytes(v)) },
    { key: 'offline_log_dirs', label: 'Offline log dirs', num: true, class: (r) => (r.offline_log_dirs ? 'st-err' : '') },
    { key: 'elections', label: 'Elections', num: true, title: 'leader elections that made it leader in the time range' },
    { key: 'produce_bytes_per_sec', label: 'Produce B/s', num: true, format: bps },
    { key: 'fetch_bytes_per_sec', label: 'Fetch B/s', num: true, format: bps },
  ], [], { id: 'cl-brokers', sortKey: 'id', empty: 'no brokers' });
  tables.partitions = table([
    { key: 'topic', label: 'Topic' },
    { key: 'partition', label: 'Partition', num: true },
    { key: 'tier', label: 'Tier', value: (r) => ['ok', 'under-replicated', 'at-min-isr', 'under-min-isr', 'offline'].indexOf(r.tier), format: (v, r) => status(r.tier) },
    { key: 'leader', label: 'Leader', num: true, format: (v, r) => (v < 0 ? 'none' : `${v}${r.not_preferred_leader ? ' (not preferred)' : ''}`) },
    { key: 'replicas', label: 'Replicas', value: (r) => ids(r.replicas) },
    { key: 'isr', label: 'ISR', value: (r) => ids(r.isr) },
    { key: 'missing', label: 'Missing', value: (r) => ids(r.missing) },
    { key: 'min_insync_replicas', label: 'Min ISR', num: true, format: (v) => (v ? String(v) : '–') },
    { key: 'since', label: 'Since', format: fmtTime },
  ], [], { id: 'cl-partitions', pageSize: 50, sortKey: '-tier', empty: 'none: every partition has all its replicas in sync' });
  tables.conflicts = table([
    { key: 'topic', label: 'Topic' },
    { key: 'partition', label: 'Partition', num: true },
    { key: 'rack', label: 'Rack' },
    { key: 'brokers', label: 'Brokers in it', value: (r) => ids(r.brokers) },
  ], [], { id: 'cl-conflicts', pageSize: 25, caption: 'Partitions with two or more replicas in one rack', empty: 'none' });
  tables.retention = table([
    { key: 'topic', label: 'Topic' },
    { key: 'cleanup_policy', label: 'Policy' },
    { key: 'limits', label: 'Limits', format: (v) => (v === 'size-only' || v === 'none' ? [status('warn'), ` ${v}`] : v) },
    { key: 'retention_ms', label: 'retention.ms', num: true, format: (v, r) => limitMs(v, r.retention_ms_source) },
    { key: 'retention_bytes', label: 'retention.bytes', num: true, format: (v, r) => limitBytes(v, r.retention_bytes_source), title: 'per partition' },
    { key: 'partitions', label: 'Partitions', num: true },
    { key: 'size_bytes', label: 'Size', num: true, format: fmtBytes },
    { key: 'max_size_pct', label: 'Fullest', num: true, format: pct, title: "the fullest partition's size against retention.bytes" },
    { key: 'covered_seconds', label: 'Covers', num: true, format: fmtSeconds, title: "the least time any partition's log covers" },
    { key: 'produce_bytes_per_sec', label: 'Written', num: true, format: (v, r) => (v === null || v === undefined ? '–' : `${bps(v)} (${r.rate_source})`) },
    { key: 'size_limit_covers_seconds', label: 'Size limit holds', num: true, format: fmtSeconds },
    {
      key: 'size_deletion_in_seconds', label: 'Size deletion', num: true,
      format: (v) => (v === null || v === undefined ? '–' : v === 0 ? [status('warn'), ' deleting by size now'] : `in ${fmtSeconds(v)}`),
    },
  ], [], { id: 'cl-retention', pageSize: 50, sortKey: 'topic', empty: 'no topics' });
  tables.events = table([
    { key: 'time', label: 'Time', format: fmtTime },
    { key: 'kind', label: 'Kind' },
    { key: 'where', label: 'Partition or broker', value: (r) => (r.topic ? `${r.topic}/${r.partition}` : r.broker >= 0 ? `broker ${r.broker}` : '') },
    { key: 'detail', label: 'Detail' },
  ], [], { id: 'cl-events', pageSize: 50, sortKey: '-time', empty: 'no changes in this time range' });
  tables.errors = table([
    { key: 'broker', label: 'Broker', format: (v) => (v < 0 ? 'cluster' : String(v)) },
    { key: 'request', label: 'Request' },
    { key: 'error', label: 'Error' },
  ], [], { id: 'cl-errors' });
  for (const k of Object.keys(tables)) document.getElementById(k).appendChild(tables[k]);
}

async function load() {
  const tier = param('tier');
  let v;
  try {
    v = await api('/api/v1/health', {
      since: param('since', DEFAULT_SINCE), topic: param('topic'),
      tier: tier === 'all' ? '' : tier, all: tier === 'all' ? 'true' : '',
    });
  } catch (e) {
    if (e.status !== 503) throw e;
    // No inspector: say so and what turns it on; not an error of the page.
    document.getElementById('unavailable-msg').textContent = e.message;
    document.getElementById('unavailable').hidden = false;
    document.getElementById('cluster').hidden = true;
    return;
  }
  document.getElementById('unavailable').hidden = true;
  document.getElementById('cluster').hidden = false;
  if (!tables.findings) makeTables();
  render(v);
}

function render(v) {
  const s = v.summary;
  replace(document.getElementById('asof-poll'),
    v.polls ? `Last poll ${fmtTime(v.as_of)}, ${v.polls} polls in the time range` : 'No poll yet: the inspector has not answered.',
    v.cluster_id ? `; cluster ${v.cluster_id}` : '',
    v.controller >= 0 ? `; controller ${v.controller}` : '; no controller named',
    v.controller_note ? ` (${v.controller_note})` : '', v.kraft ? ', KRaft' : '', '.');
  const tiers = ['offline', 'under-min-isr', 'at-min-isr', 'under-replicated'];
  replace(document.getElementById('summary'),
    item('brokers up', `${s.brokers_up} of ${s.brokers}`, s.brokers_up < s.brokers ? 'err' : 'ok'),
    h('li', null, 'worst tier ', s.worst ? status(s.worst) : '–'),
    item('partitions', fmtNumber(s.partitions)),
    item('topics', fmtNumber(s.topics)),
    tiers.filter((t) => s.by_tier[t]).map((t) => h('li', null, h('b', null, fmtNumber(s.by_tier[t])), ' partitions ', status(t))),
    s.offline_log_dirs ? item('offline log dirs', s.offline_log_dirs, 'err') : null,
    s.partitions_not_preferred_leader ? item('not led by their preferred replica', s.partitions_not_preferred_leader, 'warn') : null,
    s.partitions_rack_conflict ? item('with replicas sharing a rack', s.partitions_rack_conflict, 'warn') : null,
    item('leader imbalance', `${Number(s.leader_imbalance_pct).toFixed(0)}%`),
  );
  tables.findings.update(v.findings);
  tables.brokers.update(v.brokers);
  tables.partitions.update(v.partitions);
  const racks = Object.entries(v.racks.racks).sort();
  replace(document.getElementById('racks'),
    h('ul', { class: 'summary' },
      racks.map(([r, b]) => h('li', null, h('b', null, r), `: brokers ${ids(b)}`)),
      v.racks.no_rack.length ? h('li', null, h('b', null, 'no rack'), `: brokers ${ids(v.racks.no_rack)}`) : null),
    v.racks.conflicts_total > v.racks.conflicts.length ? h('p', { class: 'muted' }, `${v.racks.conflicts.length} of ${v.racks.conflicts_total} listed.`) : null);
  tables.conflicts.update(v.racks.conflicts);
  tables.retention.update(v.retention);
  const el = v.elections;
  replace(document.getElementById('elections'),
    item('elections', fmtNumber(el.total)),
    el.per_minute !== null && el.per_minute !== undefined ? item('per minute', Number(el.per_minute).toFixed(2)) : null,
    item('unclean, suspected', fmtNumber(el.unclean_suspected), el.unclean_suspected ? 'err' : null),
    item('ISR shrinks', fmtNumber(el.isr_shrinks)),
    item('ISR expands', fmtNumber(el.isr_expands)));
  document.getElementById('events-note').textContent = v.events_total > v.events.length
    ? `The newest ${v.events.length} of ${v.events_total} events.` : '';
  tables.events.update(v.events);
  document.getElementById('errors-sec').hidden = !(v.errors && v.errors.length);
  tables.errors.update(v.errors || []);
}

function init() {
  const tier = document.getElementById('tier');
  tier.value = param('tier');
  tier.addEventListener('change', () => setParams({ tier: tier.value }));
  const topic = document.getElementById('topic');
  topic.value = param('topic');
  topic.addEventListener('change', () => setParams({ topic: topic.value.trim() }));
  refresh(load);
}

init();
