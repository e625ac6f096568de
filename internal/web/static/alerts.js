// Alerts: what fires in the Alertmanager the agent was given
// (GET /api/v1/alerts), most urgent first: each alert, what it is about,
// for how long, where it was routed, and its runbook. The alerts an
// inhibition or a silence holds back are counted, and listed on demand
// with what holds them. Without an Alertmanager the API answers 503 and
// the page says which flag gives one.

import { api, refresh, param, setParams, h, replace, table, status, fmtSeconds, fmtTime } from './common.js';

const SEVERITIES = ['page', 'warning', 'info'];

let list = null;

function makeTable() {
  list = table([
    {
      key: 'severity', label: 'Severity', value: (r) => {
        const i = SEVERITIES.indexOf(r.severity);
        return i < 0 ? SEVERITIES.length : i;
      },
      format: (v, r) => status(r.severity),
    },
    { key: 'alertname', label: 'Alert', class: () => 'nowrap' },
    { key: 'subject', label: 'About', class: () => 'nowrap' },
    { key: 'since', label: 'For', num: true, value: (r) => Date.parse(r.since), format: (v, r) => fmtSeconds((Date.now() - v) / 1000), title: 'since when it fires' },
    { key: 'summary', label: 'Summary', format: (v, r) => (r.runbook_url ? [v, ' ', runbook(r.runbook_url)] : v) },
    { key: 'receivers', label: 'Routed to', value: (r) => (r.receivers || []).join(', ') },
    {
      key: 'state', label: 'State', value: (r) => r.state,
      format: (v, r) => (v === 'suppressed'
        ? [status('held'), ` by ${[...(r.inhibited_by || []), ...(r.silenced ? ['a silence'] : [])].join(', ')}`]
        : status(v === 'active' ? 'firing' : v)),
    },
  ], [], { id: 'alerts', pageSize: 100, sortKey: 'severity', empty: 'nothing fires' });
  document.getElementById('list').appendChild(list);
}

// runbook: a link when the rules name a full address; kscope's own rules
// name a section of kscope's README, relative to the repository, shown as
// text (prefix them with your copy's address to make them links).
function runbook(u) {
  return /^https?:\/\//.test(u) ? h('a', { href: u, rel: 'noreferrer' }, 'runbook') : h('code', { title: 'runbook' }, u);
}

async function load() {
  const held = param('held') === 'true';
  let v;
  try {
    v = await api('/api/v1/alerts', { held: held ? 'true' : '' });
  } catch (e) {
    if (e.status !== 503) throw e;
    document.getElementById('unavailable-msg').textContent = e.message;
    document.getElementById('unavailable').hidden = false;
    document.getElementById('alerts').hidden = true;
    return;
  }
  document.getElementById('unavailable').hidden = true;
  document.getElementById('alerts').hidden = false;
  if (!list) makeTable();
  replace(document.getElementById('source'), `From Alertmanager ${v.alertmanager}, as of ${fmtTime(new Date().toISOString())}.`);
  const by = Object.fromEntries((v.severities || []).map((g) => [g.severity, g.alerts.filter((a) => a.state !== 'suppressed').length]));
  replace(document.getElementById('summary'),
    h('li', null, h('b', null, String(v.firing)), ' firing'),
    SEVERITIES.map((s) => h('li', null, status(s), ' ', h('b', null, String(by[s] || 0)))),
    h('li', null, h('b', null, String(v.held)), ' held back'));
  list.update((v.severities || []).flatMap((g) => g.alerts));
}

function init() {
  const held = document.getElementById('held');
  held.checked = param('held') === 'true';
  held.addEventListener('change', () => setParams({ held: held.checked ? 'true' : '' }));
  refresh(load);
}

init();
