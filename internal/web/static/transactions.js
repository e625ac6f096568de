// Transactions page: transactional producers and their transactions
// (GET /api/v1/transactions): per transactional id and process, how many
// were committed, aborted, failed and are open, the records of each kind
// and how long they stay open; each transaction, newest first; the
// transactions open past their timeout as findings. No producer id: JSON
// numbers lose its low digits in a browser (int64).

import { api, refresh, param, setParams, onParams, h, replace, table, status, fmtSeconds, fmtNumber, fmtTime, DEFAULT_SINCE } from './common.js';

const RESULT_CLASS = { committed: 'st-ok', aborted: 'st-warn', failed: 'st-err', open: '' };

const producerColumns = [
  { key: 'transactional_id', label: 'Transactional id', class: () => 'name' },
  { key: 'process', label: 'Process', class: () => 'name' },
  { key: 'timeout_ms', label: 'Timeout', num: true, format: (v) => (v === null || v === undefined ? '–' : fmtSeconds(v / 1000)), title: 'transaction.timeout.ms' },
  { key: 'begun', label: 'Begun', num: true, format: fmtNumber },
  { key: 'committed', label: 'Committed', num: true, format: fmtNumber },
  { key: 'aborted', label: 'Aborted', num: true, format: fmtNumber },
  { key: 'failed', label: 'Failed', num: true, format: fmtNumber, title: 'EndTxn answered with an error' },
  { key: 'open', label: 'Open', num: true, format: fmtNumber },
  { key: 'committed_records', label: 'Records committed', num: true, format: fmtNumber },
  { key: 'aborted_records', label: 'Records aborted', num: true, format: fmtNumber },
  { key: 'mean_seconds', label: 'Mean open', num: true, format: (v) => (v === null ? '–' : fmtSeconds(v)) },
  { key: 'max_seconds', label: 'Max open', num: true, format: (v) => (v === null ? '–' : fmtSeconds(v)) },
];

const txnColumns = [
  { key: 'begin', label: 'Begin', value: (r) => Date.parse(r.begin), format: (v, r) => fmtTime(r.begin), class: () => 'nowrap' },
  { key: 'transactional_id', label: 'Transactional id', class: () => 'name' },
  { key: 'process', label: 'Process', class: () => 'name' },
  { key: 'result', label: 'Result', format: (v) => h('span', { class: ['st', RESULT_CLASS[v] || ''] }, v) },
  {
    key: 'seconds', label: 'Open', num: true,
    format: (v, r) => (r.past_timeout ? [fmtSeconds(v), ' ', status('warning', 'past its transaction.timeout.ms')] : fmtSeconds(v)),
  },
  { key: 'records', label: 'Records', num: true, format: fmtNumber },
  { key: 'topics', label: 'Topics', value: (r) => (r.topics || []).map((t) => t.topic).join(', ') },
  { key: 'error', label: 'Error', value: (r) => r.error || '' },
];

let producers = null;
let list = null;

async function load() {
  const v = await api('/api/v1/transactions', { since: param('since', DEFAULT_SINCE), transactional_id: param('transactional_id') });
  const ps = v.producers || [];
  const txns = v.transactions || [];
  replace(document.getElementById('tx-status'), ps.length ? '' : h('p', { class: 'muted' }, 'No transactional producer in this window.'));
  replace(document.getElementById('tx-findings'), (v.findings || []).map((f) => h('p', { class: 'notice', 'data-testid': 'transaction-finding' },
    status(f.severity), ' ', h('b', null, f.what), ' ', f.do)));
  if (!producers) {
    producers = table(producerColumns, ps, { id: 'tx-producers', pageSize: 50, sortKey: 'transactional_id', empty: 'no transactional producer' });
    document.getElementById('tx-producers').appendChild(producers);
    list = table(txnColumns, txns, { id: 'tx-list', pageSize: 50, sortKey: '-begin', empty: 'no transaction' });
    document.getElementById('tx-list').appendChild(list);
  } else {
    producers.update(ps);
    list.update(txns);
  }
}

function bindFilters() {
  const form = document.getElementById('tx-filters');
  const id = document.getElementById('f-transactional_id');
  const sync = () => { id.value = param('transactional_id'); };
  sync();
  onParams(sync);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    setParams({ transactional_id: id.value.trim() });
  });
  document.getElementById('f-clear').addEventListener('click', () => setParams({ transactional_id: null }));
}

bindFilters();
refresh(load);
