// Overview: the flow graph producers -> topics -> consumers, laid out left
// to right by dagre and drawn as SVG here, over the tables of
// `kscope overview`. Clicking a node focuses its flow (URL param focus).

import dagre from './vendor/dagre/dagre.esm.js';
import {
  api, refresh, param, setParams, h, svg, replace, table, status, statusClass,
  fmtBytes, fmtRate, fmtSeconds, fmtNumber, fmtTime, DEFAULT_SINCE,
} from './common.js';

const TIERS = ['ok', 'under-replicated', 'at-min-isr', 'under-min-isr', 'offline'];
const LAG = ['OK', 'WARN', 'REWIND', 'STALL', 'STOP', 'ERR', 'LOST'];
const NODE_H = 36;
const EDGE_MIN = 1.5;
const EDGE_MAX = 14;
const LABEL_MAX = 40;
const GROUP_LABEL_MAX = 40;

let data = null; // the model of the last answer
let drawn = null; // {key, el, layout, nodes: Map(id -> g), edges: [{e, path, hit}]}
let zoom = 1;
const tablesEl = {};

// ---- fetching ----

// optional is an endpoint's answer, or why there is none (503: the agent
// inspects no cluster; the graph goes without those colours).
async function optional(p) {
  try {
    return { v: await p };
  } catch (e) {
    return { err: e };
  }
}

// noCluster is the agent's answer once it said it inspects no cluster:
// that lasts until it restarts, so the page stops asking.
let noCluster = null;

async function load() {
  const skip = Promise.resolve({ err: noCluster });
  const [ov, lag, health] = await Promise.all([
    api('/api/v1/overview', { since: param('since', DEFAULT_SINCE), topic: param('topic') }),
    noCluster ? skip : optional(api('/api/v1/lag')),
    noCluster ? skip : optional(api('/api/v1/health')),
  ]);
  if (lag.err && lag.err.status === 503 && health.err && health.err.status === 503) noCluster = lag.err;
  data = model(ov, lag, health);
  render();
}

// ---- the model ----

function who(c) { return (c && (c.process || c.host)) || '?'; }

function clientName(c) {
  let s = who(c);
  if (c && c.pod) s = `pod ${c.pod} ${s}`;
  return s;
}

function worse(list, a, b) {
  if (a === undefined || a === null) return b;
  if (b === undefined || b === null) return a;
  return list.indexOf(b) > list.indexOf(a) ? b : a;
}

function model(ov, lag, health) {
  const m = {
    ov, nodes: new Map(), edges: ov.edges, groups: new Map(),
    lagNote: lag.err ? lag.err.message : '', healthNote: health.err ? health.err.message : '',
    lagByGroup: new Map(), lagByOwner: new Map(), tierByTopic: new Map(),
    p99: new Map(),
  };
  if (lag.v) {
    for (const g of lag.v.groups) {
      m.lagByGroup.set(g.group, g);
      for (const p of g.partitions || []) {
        const o = p.owner;
        if (!o || !o.process) continue;
        const k = `${g.group}\u0000${o.process}\u0000${o.client_id || ''}`;
        const cur = m.lagByOwner.get(k);
        if (!cur || LAG.indexOf(p.status) > LAG.indexOf(cur.status)) m.lagByOwner.set(k, p);
      }
    }
  }
  if (health.v) {
    // Topics the cluster knows are ok unless a partition says otherwise
    // (the health view lists the partitions not ok).
    for (const r of health.v.retention || []) m.tierByTopic.set(r.topic, 'ok');
    for (const p of health.v.partitions || []) m.tierByTopic.set(p.topic, worse(TIERS, m.tierByTopic.get(p.topic), p.tier));
  }
  for (const r of ov.latency.by_client || []) {
    const k = `${who(r.client)}:${r.client.client_id}`;
    if (r.answered === 0) continue;
    if (r.api === 'Produce') m.p99.set('producer:' + k, r);
    else if (r.api === 'Fetch') m.p99.set('consumer:' + k, r);
  }
  const rows = new Map();
  for (const r of ov.producers) rows.set(r.id, r);
  for (const r of ov.consumers) rows.set(r.id, r);
  const topicRows = new Map(ov.topics.map((t) => [t.name, t]));
  for (const n of ov.nodes) {
    const node = { ...n, row: rows.get(n.id) };
    if (n.kind === 'topic') {
      node.name = n.label;
      node.row = topicRows.get(n.label);
      node.status = m.tierByTopic.get(n.label) || '';
      node.sub = node.status ? `topic · ${node.status}` : 'topic';
    } else {
      node.name = clientName(n) + (n.client_id ? ` (${n.client_id})` : '');
      node.lat = m.p99.get(n.id);
      if (n.kind === 'consumer') {
        const own = n.group ? m.lagByOwner.get(`${n.group}\u0000${n.process || ''}\u0000${n.client_id || ''}`) : null;
        const g = n.group ? m.lagByGroup.get(n.group) : null;
        node.status = own ? own.status : g ? g.status : '';
        node.reason = own ? `${own.topic}/${own.partition}: ${own.reason}` : g ? g.reason : '';
        node.sub = node.status ? `consumer · lag ${node.status}` : 'consumer';
        if (n.group) {
          if (!m.groups.has(n.group)) m.groups.set(n.group, []);
          m.groups.get(n.group).push(n.id);
        }
      } else {
        const errs = node.row ? node.row.errors : 0;
        node.status = errs > 0 ? 'errors' : '';
        node.sub = errs > 0 ? `producer · ${fmtNumber(errs)} errors` : 'producer';
      }
    }
    m.nodes.set(n.id, node);
  }
  return m;
}

// neighbourhood is what focusing on id shows: a topic with its producers
// and consumers; a producer with its topics and their consumers; a
// consumer (or a group) with its topics and their producers.
function neighbourhood(m, id) {
  if (!id) return null;
  const keep = new Set();
  const out = (x) => m.edges.filter((e) => e.from === x).map((e) => e.to);
  const inn = (x) => m.edges.filter((e) => e.to === x).map((e) => e.from);
  const start = id.startsWith('group:') ? (m.groups.get(id.slice(6)) || []) : m.nodes.has(id) ? [id] : [];
  for (const s of start) {
    keep.add(s);
    const kind = m.nodes.get(s).kind;
    if (kind === 'topic') {
      inn(s).forEach((x) => keep.add(x));
      out(s).forEach((x) => keep.add(x));
    } else if (kind === 'producer') {
      for (const t of out(s)) { keep.add(t); out(t).forEach((x) => keep.add(x)); }
    } else {
      for (const t of inn(s)) { keep.add(t); inn(t).forEach((x) => keep.add(x)); }
    }
  }
  return keep;
}

function focusName(m, id) {
  if (id.startsWith('group:')) return `group ${id.slice(6)}`;
  const n = m.nodes.get(id);
  return n ? `${n.kind} ${n.name}` : id;
}

// ---- the graph ----

function truncate(s, n = LABEL_MAX) {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

// layoutOf lays the graph out with dagre, left to right, each group's
// consumers inside a cluster.
function layoutOf(m) {
  const g = new dagre.graphlib.Graph({ compound: true, multigraph: false });
  // tight-tree ranks a producer -> topic -> consumer graph in the same
  // three layers as dagre's default network simplex (a topic nobody
  // reads stays beside its producers), for about half the time at 200
  // nodes (BenchmarkOverview200Nodes in test/browser).
  g.setGraph({ rankdir: 'LR', ranker: 'tight-tree', nodesep: 10, ranksep: 110, edgesep: 6, marginx: 12, marginy: 28 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of m.nodes.values()) {
    const chars = Math.max(truncate(n.name).length, n.sub.length);
    g.setNode(n.id, { width: Math.min(300, Math.max(100, 16 + chars * 7)), height: NODE_H });
  }
  for (const [group, ids] of m.groups) {
    g.setNode('group:' + group, {});
    for (const id of ids) g.setParent(id, 'group:' + group);
  }
  for (const e of m.edges) if (g.hasNode(e.from) && g.hasNode(e.to)) g.setEdge(e.from, e.to);
  dagre.layout(g);
  return g;
}

// curve is an SVG path through dagre's edge points.
function curve(pts) {
  if (pts.length < 3) return `M${pts.map((p) => `${p.x},${p.y}`).join('L')}`;
  let d = `M${pts[0].x},${pts[0].y}`;
  for (let i = 1; i < pts.length - 1; i++) {
    const mx = (pts[i].x + pts[i + 1].x) / 2;
    const my = (pts[i].y + pts[i + 1].y) / 2;
    d += `Q${pts[i].x},${pts[i].y} ${mx},${my}`;
  }
  const l = pts[pts.length - 1];
  return d + `L${l.x},${l.y}`;
}

function edgeWidths(edges) {
  const vals = edges.map((e) => Math.log1p(e.bytes_per_sec));
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  return (e) => (hi - lo < 1e-9 ? (EDGE_MIN + EDGE_MAX) / 3
    : EDGE_MIN + (EDGE_MAX - EDGE_MIN) * (Math.log1p(e.bytes_per_sec) - lo) / (hi - lo));
}

function graphKey(m) {
  return [...m.nodes.keys()].join('\n') + '\n--\n' + m.edges.map((e) => `${e.from}>${e.to}`).join('\n') +
    '\n--\n' + [...m.groups].map(([g, ids]) => g + ':' + ids.join(',')).join('\n');
}

function drawGraph(m) {
  const wrap = document.getElementById('graph');
  const tip = document.getElementById('tip');
  const key = graphKey(m);
  if (m.nodes.size === 0) {
    replace(wrap, tip, h('p', { class: 'notice' }, 'No Kafka traffic in this time range.'));
    drawn = null;
    return;
  }
  const width = edgeWidths(m.edges);
  if (!drawn || drawn.key !== key) {
    const g = layoutOf(m);
    // Group labels go right of their boxes, in the last rank's margin.
    const labelW = m.groups.size ? 20 + 6.5 * Math.min(GROUP_LABEL_MAX + 12, Math.max(...[...m.groups.keys()].map((x) => x.length + 18))) : 0;
    const W = Math.ceil(g.graph().width + labelW);
    const H = Math.ceil(g.graph().height);
    const root = svg('svg', { class: 'flow', viewBox: `0 0 ${W} ${H}`, role: 'group', 'aria-label': 'Flow graph' });
    root.appendChild(svg('defs', null,
      svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, markerUnits: 'userSpaceOnUse', orient: 'auto' },
        svg('path', { d: 'M0,0L10,5L0,10z', class: 'arrow' }))));
    // Column titles over the three ranks.
    const cols = svg('g', { class: 'column', 'aria-hidden': 'true' });
    for (const kind of ['producer', 'topic', 'consumer']) {
      const xs = [...m.nodes.values()].filter((n) => n.kind === kind).map((n) => g.node(n.id).x);
      if (xs.length) cols.appendChild(svg('text', { x: Math.min(...xs) - 40, y: 16 }, kind === 'producer' ? 'Producers' : kind === 'topic' ? 'Topics' : 'Consumers'));
    }
    root.appendChild(cols);
    const groupsG = svg('g', { class: 'groups' });
    const groupEls = new Map();
    for (const [group] of m.groups) {
      const c = g.node('group:' + group);
      const el = svg('g', { class: 'group', tabindex: 0, role: 'button', 'data-id': 'group:' + group },
        svg('rect', { x: c.x - c.width / 2, y: c.y - c.height / 2, width: c.width, height: c.height, rx: 6 }),
        svg('text', { x: c.x + c.width / 2 + 6, y: c.y + 4 }));
      groupEls.set('group:' + group, el);
      groupsG.appendChild(el);
    }
    root.appendChild(groupsG);
    const edgesG = svg('g', { class: 'edges' });
    const edgeEls = [];
    for (const e of m.edges) {
      if (!g.hasEdge(e.from, e.to)) continue;
      const d = curve(g.edge(e.from, e.to).points);
      const path = svg('path', { class: 'edge', d, 'marker-end': 'url(#arrow)' });
      const hit = svg('path', { class: 'edge-hit', d });
      edgesG.append(path, hit);
      edgeEls.push({ from: e.from, to: e.to, path, hit });
    }
    root.appendChild(edgesG);
    const nodesG = svg('g', { class: 'nodes' });
    const nodeEls = new Map();
    for (const n of m.nodes.values()) {
      const p = g.node(n.id);
      const el = svg('g', { class: `node ${n.kind}`, transform: `translate(${p.x - p.width / 2},${p.y - p.height / 2})`, tabindex: 0, role: 'button', 'data-id': n.id },
        svg('rect', { width: p.width, height: p.height, rx: n.kind === 'topic' ? 10 : 3 }),
        svg('text', { x: 8, y: 15 }),
        svg('text', { x: 8, y: 29, class: 'sub' }));
      nodeEls.set(n.id, el);
      nodesG.appendChild(el);
    }
    root.appendChild(nodesG);
    replace(wrap, tip, root);
    drawn = { key, root, W, H, nodes: nodeEls, groups: groupEls, edges: edgeEls };
    wire(root);
    applyZoom();
  }
  // Per refresh: colours, words and widths change, the layout does not.
  for (const n of m.nodes.values()) {
    const el = drawn.nodes.get(n.id);
    el.setAttribute('class', `node ${n.kind} ${statusClass(n.status)}`);
    el.children[1].textContent = truncate(n.name);
    el.children[2].textContent = n.sub;
    el.setAttribute('aria-label', `${n.kind} ${n.name}${n.status ? ', status ' + n.status : ''}`);
  }
  for (const [id, el] of drawn.groups) {
    const g = m.lagByGroup.get(id.slice(6));
    el.setAttribute('class', `group ${g ? statusClass(g.status) : ''}`);
    el.children[1].textContent = `group ${truncate(id.slice(6), GROUP_LABEL_MAX)}${g ? ' · lag ' + g.status : ''}`;
    el.setAttribute('aria-label', `consumer group ${id.slice(6)}${g ? ', lag status ' + g.status : ''}`);
  }
  const byPair = new Map(m.edges.map((e) => [`${e.from}>${e.to}`, e]));
  for (const x of drawn.edges) {
    const e = byPair.get(`${x.from}>${x.to}`);
    x.data = e;
    x.path.style.strokeWidth = `${width(e).toFixed(1)}px`;
  }
  applyFocus(m);
}

function applyFocus(m) {
  const id = param('focus');
  const keep = neighbourhood(m, id);
  const note = document.getElementById('focus-note');
  note.hidden = !keep;
  if (keep) document.getElementById('focus-name').textContent = focusName(m, id);
  if (!drawn) return;
  for (const [nid, el] of drawn.nodes) {
    el.classList.toggle('dim', !!keep && !keep.has(nid));
    el.classList.toggle('focused', nid === id);
  }
  for (const [gid, el] of drawn.groups) {
    const members = m.groups.get(gid.slice(6)) || [];
    el.classList.toggle('dim', !!keep && !members.some((x) => keep.has(x)));
    el.classList.toggle('focused', gid === id);
  }
  for (const x of drawn.edges) x.path.classList.toggle('dim', !!keep && !(keep.has(x.from) && keep.has(x.to)));
}

function setFocus(id) {
  setParams({ focus: param('focus') === id ? null : id });
  if (data) { applyFocus(data); renderTables(data); }
}

function tipRows(pairs) {
  return h('dl', null, pairs.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

function nodeTip(n) {
  const m = data;
  const ins = m.edges.filter((e) => e.to === n.id);
  const outs = m.edges.filter((e) => e.from === n.id);
  const sum = (es, k) => es.reduce((a, e) => a + e[k], 0);
  const flow = n.kind === 'producer' ? outs : n.kind === 'consumer' ? ins : null;
  const rows = [];
  if (flow) {
    rows.push(['bytes/s', fmtBytes(sum(flow, 'bytes_per_sec')) + '/s'], ['records/s', fmtRate(sum(flow, 'records_per_sec'))],
      ['requests/s', fmtRate(sum(flow, 'requests_per_sec'))]);
    if (n.lat) rows.push([`p99 ${n.lat.api}`, fmtSeconds(n.lat.p99_seconds)]);
    if (n.row && n.row.errors) rows.push(['errors', fmtNumber(n.row.errors)]);
  } else {
    rows.push(['bytes in/s', fmtBytes(sum(ins, 'bytes_per_sec')) + '/s'], ['bytes out/s', fmtBytes(sum(outs, 'bytes_per_sec')) + '/s'],
      ['records in/s', fmtRate(sum(ins, 'records_per_sec'))], ['records out/s', fmtRate(sum(outs, 'records_per_sec'))],
      ['producers', ins.length], ['consumers', outs.length]);
  }
  return [h('b', null, n.name), h('div', null, n.kind, n.group ? ` in group ${n.group}` : '',
    n.status ? [' · ', status(n.status)] : ''),
  n.reason ? h('div', { class: 'muted' }, n.reason) : null, tipRows(rows)];
}

function edgeTip(x) {
  const m = data;
  const e = x.data;
  const client = m.nodes.get(e.from).kind === 'producer' ? m.nodes.get(e.from) : m.nodes.get(e.to);
  const rows = [['bytes/s', fmtBytes(e.bytes_per_sec) + '/s'], ['records/s', fmtRate(e.records_per_sec)], ['requests/s', fmtRate(e.requests_per_sec)]];
  if (client && client.lat) rows.push([`p99 ${client.lat.api} (client)`, fmtSeconds(client.lat.p99_seconds)]);
  return [h('b', null, `${m.nodes.get(e.from).name} → ${m.nodes.get(e.to).name}`), tipRows(rows)];
}

function showTip(content, x, y) {
  const wrap = document.getElementById('graph');
  const tip = document.getElementById('tip');
  replace(tip, content);
  tip.hidden = false;
  const r = wrap.getBoundingClientRect();
  let left = x - r.left + wrap.scrollLeft + 14;
  const top = y - r.top + wrap.scrollTop + 14;
  if (left + tip.offsetWidth > wrap.scrollLeft + wrap.clientWidth) left = Math.max(wrap.scrollLeft, left - tip.offsetWidth - 28);
  tip.style.left = `${left}px`;
  tip.style.top = `${top}px`;
}

function hideTip() { document.getElementById('tip').hidden = true; }

function targetOf(ev) {
  const node = ev.target.closest('.node, .group');
  if (node) return { id: node.dataset.id, el: node };
  if (ev.target.classList.contains('edge-hit')) return { edge: drawn.edges.find((x) => x.hit === ev.target) };
  return null;
}

function tipFor(t) {
  if (t.edge) return edgeTip(t.edge);
  if (t.id.startsWith('group:')) {
    const g = data.lagByGroup.get(t.id.slice(6));
    return [h('b', null, `group ${t.id.slice(6)}`), h('div', null, `${(data.groups.get(t.id.slice(6)) || []).length} consumer processes`),
      g ? h('div', null, 'lag ', status(g.status), ` ${g.reason || ''}`) : null,
      g ? tipRows([['offset lag', fmtNumber(g.offset_lag)], ['max Append Lag', fmtSeconds(g.max_append_lag_seconds)], ['state', g.state]]) : null];
  }
  return nodeTip(data.nodes.get(t.id));
}

function wire(root) {
  root.addEventListener('mousemove', (ev) => {
    const t = targetOf(ev);
    if (t && data) showTip(tipFor(t), ev.clientX, ev.clientY);
    else hideTip();
  });
  root.addEventListener('mouseleave', hideTip);
  root.addEventListener('click', (ev) => {
    const t = targetOf(ev);
    if (t && t.id) setFocus(t.id);
  });
  root.addEventListener('focusin', (ev) => {
    const t = targetOf(ev);
    if (!t || !data) return;
    const r = t.el.getBoundingClientRect();
    showTip(tipFor(t), r.left + r.width / 2, r.bottom - 8);
  });
  root.addEventListener('focusout', hideTip);
  root.addEventListener('keydown', (ev) => {
    const t = targetOf(ev);
    if (t && t.id && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); setFocus(t.id); }
    if (ev.key === 'Escape') { hideTip(); if (param('focus')) setFocus(param('focus')); }
  });
}

function applyZoom() {
  if (!drawn) return;
  drawn.root.setAttribute('width', Math.round(drawn.W * zoom));
  drawn.root.setAttribute('height', Math.round(drawn.H * zoom));
  document.getElementById('zoom-reset').textContent = `${Math.round(zoom * 100)}%`;
}

function setZoom(z) {
  zoom = Math.min(3, Math.max(0.1, z));
  applyZoom();
}

// ---- the tables ----

function errorsText(n, byCode) {
  if (!n) return '0';
  const codes = Object.entries(byCode || {}).sort().map(([c, k]) => `${c}×${k}`);
  return `${fmtNumber(n)}${codes.length ? ' (' + codes.join(', ') + ')' : ''}`;
}

const rate = (v) => fmtRate(v);
const bps = (v) => (v === null || v === undefined ? '–' : fmtBytes(v) + '/s');

function makeTables() {
  const focusBtn = (id, text) => h('button', { type: 'button', class: 'linkish', onclick: (ev) => { ev.stopPropagation(); setFocus(id); } }, text);
  tablesEl.topics = table([
    { key: 'name', label: 'Topic', format: (v) => focusBtn('topic:' + v, v) },
    { key: 'tier', label: 'Replication', value: (r) => (data && data.tierByTopic.get(r.name)) || '', format: (v) => (v ? status(v) : '–'), title: 'the worst tier of its partitions (kscope health)' },
    { key: 'partitions', label: 'Partitions', num: true },
    { key: 'producers', label: 'Producers', num: true },
    { key: 'consumers', label: 'Consumers', num: true },
    { key: 'bytes_in_per_sec', label: 'Bytes in/s', num: true, format: bps },
    { key: 'bytes_out_per_sec', label: 'Bytes out/s', num: true, format: bps },
    { key: 'records_in_per_sec', label: 'Records in/s', num: true, format: rate },
    { key: 'records_out_per_sec', label: 'Records out/s', num: true, format: rate },
    { key: 'replication_bytes_per_sec', label: 'Replication B/s', num: true, format: bps },
  ], [], { id: 'ov-topics', pageSize: 50, sortKey: 'name', empty: 'no topics' });
  tablesEl.brokers = table([
    { key: 'broker', label: 'Broker', class: () => 'nowrap' },
    { key: 'requests_per_sec', label: 'Requests/s', num: true, format: rate },
    { key: 'produce_requests_per_sec', label: 'Produce/s', num: true, format: rate },
    { key: 'fetch_requests_per_sec', label: 'Fetch/s', num: true, format: rate },
    { key: 'replica_fetch_requests_per_sec', label: 'Replica fetch/s', num: true, format: rate },
    { key: 'bytes_in_per_sec', label: 'Bytes in/s', num: true, format: bps },
    { key: 'bytes_out_per_sec', label: 'Bytes out/s', num: true, format: bps },
    { key: 'replication_bytes_per_sec', label: 'Replication B/s', num: true, format: bps },
    {
      key: 'latency', label: 'Latency p50/p99',
      value: (r) => (r.latency || []).filter((l) => l.answered > 0 && (l.api === 'Produce' || l.api.startsWith('Fetch')))
        .map((l) => `${l.api} ${fmtSeconds(l.p50_seconds)}/${fmtSeconds(l.p99_seconds)}`).join(', '),
    },
  ], [], { id: 'ov-brokers', sortKey: 'broker', empty: 'no brokers' });
  const clientCols = (consumer) => [
    { key: 'who', label: consumer ? 'Consumer' : 'Producer', value: (r) => clientName(r), format: (v, r) => focusBtn(r.id, v) },
    { key: 'client_id', label: 'Client id' },
    consumer ? { key: 'group', label: 'Group' } : null,
    consumer ? {
      key: 'lag', label: 'Lag status',
      value: (r) => (data && data.nodes.get(r.id) ? data.nodes.get(r.id).status : ''),
      format: (v, r) => (v ? status(v, data.nodes.get(r.id).reason) : '–'),
    } : null,
    { key: 'topics', label: 'Topics', value: (r) => r.topics.join(', ') },
    { key: 'requests', label: 'Requests', num: true, format: fmtNumber },
    { key: 'requests_per_sec', label: 'Requests/s', num: true, format: rate },
    { key: 'bytes_per_sec', label: 'Bytes/s', num: true, format: bps },
    { key: 'records_per_sec', label: 'Records/s', num: true, format: rate },
    // A transactional producer's records of the transactions it ended,
    // by how they ended (KIP-98).
    consumer ? null : {
      key: 'txn_records', label: 'Committed / aborted', num: true, title: 'records of the transactions it ended in the range: committed / aborted',
      value: (r) => (r.committed_records || r.aborted_records ? r.aborted_records || 0 : null),
      format: (v, r) => (v === null ? '–' : `${fmtNumber(r.committed_records || 0)} / ${fmtNumber(r.aborted_records || 0)}`),
    },
    {
      key: 'p99', label: `p99 ${consumer ? 'Fetch' : 'Produce'}`, num: true,
      value: (r) => (data && data.p99.get(r.id) ? data.p99.get(r.id).p99_seconds : null), format: fmtSeconds,
    },
    { key: 'errors', label: 'Errors', num: true, format: (v, r) => errorsText(v, r.errors_by_code), class: (r) => (r.errors ? 'st-warn' : '') },
  ].filter(Boolean);
  tablesEl.producers = table(clientCols(false), [], { id: 'ov-producers', pageSize: 50, sortKey: '-bytes_per_sec', empty: 'no producers' });
  tablesEl.consumers = table(clientCols(true), [], { id: 'ov-consumers', pageSize: 50, sortKey: '-bytes_per_sec', empty: 'no consumers' });
  const p = (k) => (v, r) => (r.answered ? fmtSeconds(r[k]) : '–');
  tablesEl.apis = table([
    { key: 'api', label: 'API' },
    { key: 'requests', label: 'Requests', num: true, format: fmtNumber },
    { key: 'requests_per_sec', label: 'Requests/s', num: true, format: rate },
    { key: 'p50_seconds', label: 'p50', num: true, format: p('p50_seconds') },
    { key: 'p90_seconds', label: 'p90', num: true, format: p('p90_seconds') },
    { key: 'p99_seconds', label: 'p99', num: true, format: p('p99_seconds') },
    { key: 'max_seconds', label: 'Max', num: true, format: p('max_seconds') },
    { key: 'errors', label: 'Errors', num: true, format: (v, r) => errorsText(v, r.errors_by_code), class: (r) => (r.errors ? 'st-warn' : '') },
  ], [], { id: 'ov-apis', sortKey: 'api' });
  for (const k of Object.keys(tablesEl)) document.getElementById(k).appendChild(tablesEl[k]);
}

function renderTables(m) {
  if (!tablesEl.topics) makeTables();
  const keep = neighbourhood(m, param('focus'));
  const inFocus = (id) => !keep || keep.has(id);
  tablesEl.topics.update(m.ov.topics.filter((t) => inFocus('topic:' + t.name)));
  tablesEl.brokers.update(m.ov.brokers);
  tablesEl.producers.update(m.ov.producers.filter((r) => inFocus(r.id)));
  tablesEl.consumers.update(m.ov.consumers.filter((r) => inFocus(r.id)));
  tablesEl.apis.update(m.ov.latency.by_api);
}

function render() {
  const m = data;
  const ov = m.ov;
  replace(document.getElementById('summary'),
    `${fmtNumber(ov.exchanges)} exchanges over ${fmtSeconds(ov.seconds)}, ${fmtTime(ov.from)} to ${fmtTime(ov.to)}: `,
    [[ov.producers.length, 'producer'], [ov.topics.length, 'topic'], [ov.consumers.length, 'consumer'], [ov.brokers.length, 'broker']]
      .map(([n, w]) => `${n} ${w}${n === 1 ? '' : 's'}`).join(', ') + '.');
  const notes = [];
  if (m.lagNote) notes.push(`No lag colours: ${m.lagNote}`);
  if (m.healthNote && m.healthNote !== m.lagNote) notes.push(`No replication colours: ${m.healthNote}`);
  document.getElementById('health-note').textContent = notes.join(' ');
  drawGraph(m);
  renderTables(m);
}

// ---- controls ----

function init() {
  const tf = document.getElementById('topic-filter');
  tf.value = param('topic');
  tf.addEventListener('change', () => setParams({ topic: tf.value.replace(/\s+/g, '') }));
  document.getElementById('focus-clear').addEventListener('click', () => setFocus(param('focus')));
  document.getElementById('zoom-in').addEventListener('click', () => setZoom(zoom * 1.25));
  document.getElementById('zoom-out').addEventListener('click', () => setZoom(zoom / 1.25));
  document.getElementById('zoom-reset').addEventListener('click', () => setZoom(1));
  document.getElementById('zoom-fit').addEventListener('click', () => {
    if (!drawn) return;
    const wrap = document.getElementById('graph');
    // Fit the width: the height scrolls, and text below half size is
    // no longer readable.
    setZoom(Math.max(0.5, Math.min(1, (wrap.clientWidth - 4) / drawn.W)));
  });
  refresh(load);
}

init();
