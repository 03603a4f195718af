/* global document, setTimeout, clearTimeout, setInterval */
// The dashboard: loads the admin API, renders it, follows the live events, and runs the operator's actions.
import { api, followEvents, getToken, setToken } from './api.js';
import { renderSummary, renderTable, renderTimeline } from './certs.js';
import { accountLine, renderFailures, renderHistory, renderLimits, renderQueue } from './panels.js';

const $ = (sel) => document.querySelector(sel);
const state = { certificates: undefined, jobs: [], limits: { buckets: [] }, failures: [], history: [], sort: 'expiry', dir: 'asc', filter: '' };

/** Shows a message; `kind` `error` for a refusal (the server's own words), `ok` for a success. */
function notify(kind, text) {
  const el = $('#notice');
  el.dataset.kind = kind;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.textContent = text;
  el.hidden = false;
}

function failed(what, err) {
  notify('error', `${what}: ${err.status ? `refused (${err.status}): ` : ''}${err.message}`);
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function renderCerts() {
  if (state.certificates === undefined) return; // not loaded yet: the placeholders stay
  const now = Date.now();
  const queued = new Set(state.jobs.map((j) => j.id));
  const shown = renderTable($('#certificates'), state.certificates, { sort: state.sort, dir: state.dir, filter: state.filter, queued }, now);
  $('#certs-empty').hidden = state.certificates.length > 0;
  $('#cert-total').textContent = shown === state.certificates.length ? `(${shown})` : `(${shown} of ${state.certificates.length})`;
  renderSummary($('#summary'), state.certificates, now);
  renderTimeline($('#timeline'), state.certificates, now);
}

const loaders = {
  async certificates() {
    const { certificates } = await api('/api/certificates');
    // Redrawn only on a change: a redraw would drop the focus and the hover of the buttons under the pointer.
    if (state.certificates !== undefined && same(state.certificates, certificates)) return;
    state.certificates = certificates;
    renderCerts();
  },
  async queue() {
    const { jobs } = await api('/api/queue');
    const queuedBefore = state.jobs.map((j) => j.id).join();
    state.jobs = jobs;
    renderQueue($('#queue'), $('#queue-empty'), state.jobs, Date.now());
    if (jobs.map((j) => j.id).join() !== queuedBefore) renderCerts();
  },
  async limits() {
    renderLimits($('#limits'), $('#limits-next'), await api('/api/limits'), Date.now());
  },
  async account() {
    $('#account').textContent = accountLine(await api('/api/account'));
  },
  async history() {
    const [all, failures] = await Promise.all([api('/api/history?limit=50'), api('/api/history?kind=failed,delivery-failed&limit=20')]);
    renderHistory($('#history'), all.rows, Date.now());
    renderFailures($('#failures'), $('#failures-empty'), failures.rows, Date.now());
  },
};

const timers = new Map();
/** Loads `what` soon: a burst of events (a sweep issues many certificates) costs one request per part. */
function reload(what, delay = 250) {
  clearTimeout(timers.get(what));
  timers.set(what, setTimeout(() => {
    loaders[what]().catch((err) => failed(`Loading ${what}`, err));
  }, delay));
}

function reloadAll() {
  for (const what of Object.keys(loaders)) reload(what, 0);
}

async function renew(id) {
  try {
    const r = await api(`/api/certificates/${encodeURIComponent(id)}/renew`, { method: 'POST', body: { force: true } });
    notify('ok', r.message || `Renewal of ${id} requested; it runs ${r.runsAt}.`);
  } catch (err) {
    failed(`Renew ${id}`, err);
  }
  reload('certificates', 0);
  reload('queue', 0);
  reload('history', 0);
}

async function revoke(id, reason) {
  try {
    const r = await api(`/api/certificates/${encodeURIComponent(id)}/revoke`, { method: 'POST', body: { reason } });
    notify('ok', `Revoked ${id} (serial ${r.serial}, ${r.reason}); ${r.replacement.message}`);
  } catch (err) {
    failed(`Revoke ${id}`, err);
  }
  reloadAll();
}

function askRevoke(id) {
  const dialog = $('#revoke-dialog');
  $('#revoke-id').textContent = id;
  $('#revoke-reason').value = 'unspecified';
  dialog.returnValue = '';
  dialog.onclose = () => {
    if (dialog.returnValue === 'revoke') revoke(id, $('#revoke-reason').value);
  };
  dialog.showModal();
}

function wire() {
  $('#certificates thead').addEventListener('click', (e) => {
    const th = e.target.closest('th[data-sort]');
    if (!th) return;
    state.dir = state.sort === th.dataset.sort && state.dir === 'asc' ? 'desc' : 'asc';
    state.sort = th.dataset.sort;
    renderCerts();
  });
  $('#certificates tbody').addEventListener('click', (e) => {
    const button = e.target.closest('button[data-action]');
    if (!button) return;
    if (button.dataset.action === 'renew') renew(button.dataset.id);
    else askRevoke(button.dataset.id);
  });
  $('#filter').addEventListener('input', (e) => {
    state.filter = e.target.value;
    renderCerts();
  });
  $('#token').value = getToken();
  $('#token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    setToken($('#token').value.trim());
    notify('ok', getToken() ? 'Token set for this tab.' : 'Token cleared.');
    events.restart();
    reloadAll();
  });
  $('#token-forget').addEventListener('click', () => {
    $('#token').value = '';
    setToken('');
    notify('ok', 'Token cleared.');
  });
}

function onEvent(type, data) {
  if (type === 'history') {
    reload('history');
    // A history row is about a certificate or the queue: both may have changed with it.
    reload('certificates');
    reload('queue');
    if (data.row?.kind === 'deferred' || data.row?.kind === 'order') reload('limits');
  } else if (type === 'changed' && loaders[data.what]) {
    reload(data.what);
  }
}

function onState(live) {
  const el = $('#live');
  el.dataset.state = live;
  el.textContent = live === 'live' ? 'live' : 'offline';
  // Back online: what happened while the stream was down was missed.
  if (live === 'live') reloadAll();
}

const events = followEvents(onEvent, onState);
wire();
reloadAll();
// Relative times and expiry bars age: redraw each minute, and re-read in case an event was missed.
setInterval(() => (renderCerts(), reloadAll()), 60_000);
