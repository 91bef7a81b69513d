// The /ops page: polls the open reads, keeps 10 minutes of history in memory,
// and, once the admin token is typed in, enables the controls (the protected
// site's, the door's and the invitations among them) and the webhooks. Polling
// stops while the tab is hidden (ops-loop.js).
// The selected queue's sale report is a view of its own, in place of the live
// panels (#queue=…&view=report).

import { admin, openReads, tokenStore } from './ops-api.js';
import { Controls } from './ops-controls.js';
import { DoorPanel } from './ops-door.js';
import { fmtClock } from './ops-format.js';
import { ProtectPanel } from './ops-protect.js';
import { InvitationsPanel } from './ops-invitations.js';
import { loop, whileVisible } from './ops-loop.js';
import { History, QueueDetail, QueueTable } from './ops-queues.js';
import { Refusals } from './ops-refusals.js';
import { ReportView } from './ops-report.js';
import { Sales } from './ops-sales.js';
import { WebhooksPanel } from './ops-webhooks.js';

const QUEUE_EVERY_MS = 1500;
const SALES_EVERY_MS = 5000;
const SEATS_EVERY_MS = 3000;
const EVENTS_EVERY_MS = 5000;

const $ = (id) => document.getElementById(id);

const memory = new History();
let queues = [];
const hashParams = () => new URLSearchParams(location.hash.slice(1));
let selected = hashParams().get('queue');
// 'live' (the panels) or 'report' (the selected queue's sale report)
let view = hashParams().get('view') === 'report' ? 'report' : 'live';
let token = tokenStore.get();

const refused = (err) => forgetToken(`The admin token was refused (${err.describe()}). Enter it again.`);

const table = new QueueTable($('queue-rows'), (name) => select(name, true));
const detail = new QueueDetail({
  name: $('detail-name'),
  state: $('detail-state'),
  flagsNode: $('detail-flags'),
  tiles: $('detail-tiles'),
  charts: $('charts'),
});
const controls = new Controls({
  fieldset: $('controls'),
  note: $('controls-note'),
  status: $('controls-status'),
  error: $('controls-error'),
  events: $('events'),
  dialog: $('confirm-close'),
  adaptiveStatus: $('adaptive-status'),
  getToken: () => token,
  onChanged: () => {
    pollQueues();
    controls.refreshEvents();
  },
  onUnauthorized: refused,
});
// What the admin panels share: their fields and messages, the token, and what follows a refused token.
const adminPanel = (name) => ({
  fieldset: $(`${name}-controls`),
  status: $(`${name}-status`),
  error: $(`${name}-error`),
  getToken: () => token,
  onUnauthorized: refused,
});
// A queue's settings panels also read the queues and the recent changes again after a change.
const panel = (name) => ({
  ...adminPanel(name),
  onChanged: () => {
    pollQueues();
    controls.refreshEvents();
  },
});
const protect = new ProtectPanel({
  ...panel('protect'),
  summary: $('protect-summary'),
  keyBox: $('protect-key'),
  keyValue: $('protect-key-value'),
  dialog: $('confirm-unprotect'),
});
const door = new DoorPanel({
  ...panel('door'),
  summary: $('door-summary'),
  estimate: $('complexity-estimate'),
  dialog: $('confirm-challenge'),
});
const invitations = new InvitationsPanel({
  ...panel('inv'),
  rows: $('inv-rows'),
  summary: $('inv-summary'),
  newBox: $('inv-new'),
  newCodes: $('inv-new-codes'),
  newNote: $('inv-new-note'),
});
const panels = [protect, door, invitations];
const webhooks = new WebhooksPanel({
  ...adminPanel('webhooks'),
  rows: $('hooks-rows'),
  summary: $('hooks-summary'),
  secretBox: $('hook-secret-box'),
  secretValue: $('hook-secret-value'),
  deliveries: $('deliveries'),
  dialog: $('confirm-webhook'),
});
const report = new ReportView({
  ...adminPanel('report'),
  section: $('report'),
  queueName: $('report-queue'),
  period: $('report-period'),
  picker: $('report-pick'),
  tiles: $('report-tiles'),
  charts: $('report-charts'),
  changes: $('report-changes-rows'),
  changesSummary: $('report-changes-summary'),
  onPick: (name) => select(name, false),
});
const refusals = new Refusals({ tiles: $('refusal-tiles'), charts: $('refusal-charts') });
const sales = new Sales({
  totals: $('sales-totals'),
  tbody: $('sales-rows'),
  seatmap: $('seatmap'),
  getToken: () => token,
  onUnauthorized: refused,
});

// The state is a live region, announced when it changes; the time beside it is not,
// or a screen reader would read it out every poll.
function setLive(state, text, time = '') {
  $('live').dataset.state = state;
  if ($('live-state').textContent !== text) $('live-state').textContent = text;
  $('live-time').textContent = time;
}

function render() {
  const now = Date.now();
  if (!queues.length) return;
  if (!selected || !queues.some((q) => q.name === selected)) selected = queues[0].name;
  table.selected = selected;
  table.render(queues, memory, now);
  const q = queues.find((x) => x.name === selected);
  detail.render(q, memory.samples(q.name), now);
  controls.show(q);
  for (const p of panels) p.show(q);
  report.setQueues(queues.map((x) => x.name));
  // opened from the address (#…&view=report) before the queues were known
  if (view === 'report' && !report.queue) report.open(selected);
}

function writeHash() {
  const params = new URLSearchParams();
  if (selected) params.set('queue', selected);
  if (view === 'report') params.set('view', 'report');
  window.history.replaceState(null, '', `#${params}`);
}

function select(name, focus) {
  if (name === selected) return;
  selected = name;
  writeHash();
  render();
  controls.refreshEvents();
  if (view === 'report') report.open(name);
  else if (focus) $('queue-detail').focus({ preventScroll: false });
}

// The report in place of the live panels, or back; the live panels go on polling meanwhile.
function showView(next) {
  view = next;
  document.body.dataset.view = next;
  writeHash();
  if (next === 'report') {
    if (selected) report.open(selected);
    $('report').focus();
  } else {
    report.close();
    $('report-open').focus();
  }
}

$('report-open').addEventListener('click', () => showView('report'));
$('report-back').addEventListener('click', () => showView('live'));

// --- token -----------------------------------------------------------------

function showTokenState() {
  const has = Boolean(token);
  $('token-form').hidden = has;
  $('token-set').hidden = !has;
  controls.setEnabled(has);
  for (const p of [...panels, webhooks, report]) p.setEnabled(has);
  document.body.dataset.admin = has ? 'on' : 'off';
}

function forgetToken(message) {
  token = null;
  tokenStore.clear();
  showTokenState();
  const error = $('token-error');
  error.hidden = !message;
  error.textContent = message || '';
  sales.refreshSeats();
}

$('token-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $('token-input');
  const candidate = input.value.trim();
  if (!candidate) return;
  const button = $('token-save');
  button.disabled = true;
  const error = $('token-error');
  try {
    // Check the token once before keeping it, so a typo is caught here and not at the first click.
    await admin.queues(candidate);
    token = candidate;
    tokenStore.set(candidate);
    input.value = '';
    error.hidden = true;
    showTokenState();
    controls.refreshEvents();
    sales.refreshSeats();
    $('token-forget').focus();
  } catch (err) {
    error.hidden = false;
    error.textContent = `Token not accepted: ${err.describe ? err.describe() : err}`;
    input.focus();
  } finally {
    button.disabled = false;
  }
});

$('token-forget').addEventListener('click', () => {
  forgetToken(null);
  $('token-input').focus();
});

// --- polling ---------------------------------------------------------------

let inFlight = false;
let lastOk = null;

async function pollQueues() {
  if (inFlight) return;
  inFlight = true;
  try {
    const answer = await openReads.queues();
    const now = Date.now();
    queues = answer;
    memory.record(answer, now);
    render();
    lastOk = now;
    setLive('ok', 'Live', `· updated ${fmtClock(now)}`);
  } catch (err) {
    const last = lastOk ? `· last update ${fmtClock(lastOk)}` : '';
    setLive('error', `Cannot read the queues (${err.describe ? err.describe() : err}); retrying`, last);
  } finally {
    inFlight = false;
  }
}

// The queues' poll reports the connection; this one only leaves a gap in its chart.
async function pollRefusals() {
  try {
    refusals.record(await openReads.refusals(), Date.now());
  } catch {
    // the next poll after the gap starts the line again
  }
}

async function pollSales() {
  try {
    sales.render(await openReads.sales());
  } catch (err) {
    const rows = $('sales-rows');
    if (rows.querySelector('td[colspan]')) rows.firstElementChild.firstElementChild.textContent = `Cannot read sales: ${err.describe()}`;
  }
}

const loops = [
  loop(pollQueues, QUEUE_EVERY_MS),
  loop(pollRefusals, QUEUE_EVERY_MS),
  loop(pollSales, SALES_EVERY_MS),
  loop(() => sales.refreshSeats(), SEATS_EVERY_MS),
  loop(() => controls.refreshEvents(), EVENTS_EVERY_MS),
];

window.addEventListener('hashchange', () => {
  const params = hashParams();
  const name = params.get('queue');
  if (name && name !== selected) select(name, false);
  const next = params.get('view') === 'report' ? 'report' : 'live';
  if (next !== view) showView(next);
});

document.body.dataset.view = view;
showTokenState();
whileVisible(loops, () => setLive('hidden', 'Paused while this tab is hidden'));
