// The report of a queue's sale (GET /admin/queues/{queue}/report; docs/
// operations.md, The report), a view of its own in place of the live panels
// (#queue=…&view=report, switched by ops.js) that prints alone (ops-report.css):
// the headline figures, arrivals and admissions per second and seats sold
// per minute over the whole sale, every change of the rate with its reason,
// and the server's per-second CSV. It is a Postgres read of every event of
// the queue, so it is read when opened and on Refresh, not on every poll.

import { admin } from './ops-api.js';
import { wholeAxis } from './ops-chart-axes.js';
import { createChart } from './ops-charts.js';
import { count, el, fmtClock, fmtDateTime, fmtDuration, fmtInt, fmtRate, fmtWon, saveFile, setText } from './ops-format.js';
import { AdminPanel } from './ops-panel.js';
import { MOST_CHANGES, rateChangeRows } from './ops-report-changes.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const PER_SECOND = ['joins', 'polls', 'admitted', 'timedOut', 'left'];
const PER_MINUTE = ['payments', 'seats', 'revenue'];

// The whole sale on one axis; a quiet stretch is zeros, drawn, not a gap.
const whole = { wide: true, integer: true, floor: 1, format: fmtInt, axis: wholeAxis, gapMs: Infinity, legend: 'peak' };
const CHARTS = [
  { ...whole, id: 'report-chart-joins', title: 'Arrivals: joins per second', series: [{ key: 'joins', label: 'Joins/s', color: 'c0', area: true }] },
  {
    ...whole,
    id: 'report-chart-admitted',
    title: 'Admissions per second',
    series: [
      { key: 'admitted', label: 'Admitted/s', color: 'c1', area: true },
      { key: 'timedOut', label: 'Timed out/s', color: 'c4', thin: true },
    ],
  },
  {
    ...whole,
    id: 'report-chart-seats',
    title: 'Seats sold per minute',
    series: [
      { key: 'seats', label: 'Seats', color: 'c2', area: true, step: true },
      { key: 'payments', label: 'Payments', color: 'c3', dashed: true, step: true },
    ],
  },
];

const zeros = (t, keys) => Object.fromEntries([['t', t], ...keys.map((key) => [key, 0])]);

// Counted bins of `width` ms as chart samples: a zero just before and just
// after each run of counted bins, so the line falls to nothing over a quiet
// stretch without a sample for every empty second of a long sale (and a step
// line holds the last bin's value for its whole width).
function binned(counted, width, keys) {
  const out = [];
  counted.forEach((bin, i) => {
    const last = out[out.length - 1];
    if (last && last.t < bin.t - width) out.push(zeros(bin.t - width, keys));
    out.push(bin);
    const next = counted[i + 1];
    if (!next || next.t > bin.t + width) out.push(zeros(bin.t + width, keys));
  });
  return out;
}

// Zeros out to the sale's first and last moments, so every chart spans the
// same time (a chart with nothing counted, a flat zero across the sale).
function spanning(samples, from, to, width, keys) {
  if (!Number.isFinite(from)) return samples;
  if (!samples.length) return [zeros(from, keys), zeros(to, keys)];
  const first = samples[0].t;
  const head = first > from ? [zeros(from, keys)] : [];
  if (first - width > from) head.push(zeros(first - width, keys));
  const tail = samples[samples.length - 1].t < to ? [zeros(to, keys)] : [];
  return [...head, ...samples, ...tail];
}

export class ReportView extends AdminPanel {
  constructor({ section, queueName, period, picker, tiles, charts, changes, changesSummary, onPick, ...common }) {
    super(common);
    Object.assign(this, { section, queueName, period, picker, tiles, changes, changesSummary, onPick });
    this.queue = null;
    this.shown = null;
    this.tileNodes = new Map();
    this.charts = CHARTS.map((spec) => createChart(charts, spec));
    this.picker.addEventListener('change', () => this.onPick(this.picker.value));
    const on = (action, handler) => this.buttons.get(action).addEventListener('click', (e) => handler.call(this, e.currentTarget));
    on('refresh-report', (button) => this.load(button));
    on('download-report', this.downloadCsv);
    on('print-report', () => window.print());
  }

  setEnabled(enabled) {
    super.setEnabled(enabled);
    if (enabled && this.queue) this.load(null);
    if (!enabled) {
      this.shown = null;
      this.section.dataset.loaded = 'false';
      setText(this.period, 'Needs the admin token: the report is read through the admin API.');
    }
  }

  // The queues to pick from, in the server's order.
  setQueues(names) {
    const current = [...this.picker.options].map((o) => o.value);
    if (current.join('\n') !== names.join('\n')) {
      this.picker.replaceChildren(...names.map((name) => el('option', { value: name }, name)));
    }
    if (this.queue) this.picker.value = this.queue;
  }

  // The view is left: nothing to read until it is opened again.
  close() {
    this.queue = null;
  }

  // Shows `queue`'s report, read afresh.
  open(queue) {
    this.queue = queue;
    this.picker.value = queue;
    setText(this.queueName, queue);
    if (this.shown !== queue) {
      this.showError(null);
      setText(this.status, '');
    }
    return this.load(null);
  }

  async load(button) {
    const queue = this.queue;
    if (!queue) return;
    if (!this.getToken()) {
      setText(this.period, 'Needs the admin token: the report is read through the admin API.');
      return;
    }
    this.section.setAttribute('aria-busy', 'true');
    await this.attempt(
      button,
      async (token) => {
        const report = await admin.report(token, queue);
        if (this.queue === queue && this.getToken()) this.render(report);
      },
      { failed: `Could not read the report of ${queue}`, quiet: !button },
    );
    this.section.removeAttribute('aria-busy');
  }

  tile(key, label, value, note) {
    let tile = this.tileNodes.get(key);
    if (!tile) {
      tile = { main: el('dd', { id: `report-${key}` }), note: el('dd', { class: 'tile-note' }) };
      this.tiles.append(el('div', { class: 'tile' }, el('dt', {}, label), tile.main, tile.note));
      this.tileNodes.set(key, tile);
    }
    setText(tile.main, value);
    setText(tile.note, note || '');
    tile.note.hidden = !note;
  }

  render(r) {
    this.shown = r.queue;
    setText(this.queueName, r.queue);
    // both lists come in time order
    const seconds = binned(r.perSecond.map((s) => ({ t: s.second * SECOND, ...s })), SECOND, PER_SECOND);
    const minutes = binned(r.perMinute.map((m) => ({ t: Date.parse(m.minute), ...m })), MINUTE, PER_MINUTE);
    const lists = [seconds, minutes].filter((list) => list.length);
    const from = Math.min(...lists.map((list) => list[0].t));
    const to = Math.max(...lists.map((list) => list[list.length - 1].t));
    const read = `read at ${fmtClock(Date.now())}`;
    const ps = r.perSecond;
    setText(
      this.period,
      ps.length
        ? `From ${fmtDateTime(ps[0].second * SECOND)} to ${fmtDateTime((ps[ps.length - 1].second + 1) * SECOND)} ` +
            `(${fmtDuration(ps[ps.length - 1].second + 1 - ps[0].second)}), your time; ${read}.`
        : `Nothing counted for this queue yet (${read}).`,
    );
    this.renderTiles(r);
    const samples = [
      spanning(seconds, from, to, SECOND, PER_SECOND),
      spanning(seconds, from, to, SECOND, PER_SECOND),
      spanning(minutes, from, to, MINUTE, PER_MINUTE),
    ];
    this.charts.forEach((chart, i) => chart.update(samples[i], Date.now(), r.queue));
    this.renderChanges(r.rateChanges);
    this.section.dataset.loaded = 'true';
    this.section.dataset.queue = r.queue;
  }

  renderTiles(r) {
    const w = r.waits;
    const o = r.outcomes;
    const c = r.conversion;
    const wait = (s) => (s === null || s === undefined ? '—' : fmtDuration(s));
    const figures = [
      ['joins', 'Joins', fmtInt(o.joins), `peak ${fmtInt(r.peakJoinsPerSecond)}/s`],
      ['admitted', 'Admitted', fmtInt(o.admitted), count(c.admittedUsers, 'user')],
      ['wait-p50', 'Wait p50', wait(w.p50S)],
      ['wait-p90', 'Wait p90', wait(w.p90S)],
      ['wait-p99', 'Wait p99', wait(w.p99S)],
      ['wait-max', 'Longest wait', wait(w.maxS)],
      [
        'conversion',
        'Admitted who paid',
        c.paidPercent === null || c.paidPercent === undefined ? '—' : `${fmtRate(c.paidPercent)}%`,
        `${fmtInt(c.payingUsers)} of ${count(c.admittedUsers, 'user')}`,
      ],
      ['seats', 'Seats sold', fmtInt(r.seatsSold), count(r.perMinute.reduce((n, m) => n + m.payments, 0), 'payment')],
      ['revenue', 'Revenue', fmtWon(r.revenue)],
      ['timed-out-line', 'Timed out in line', fmtInt(o.timedOutInLine), 'stopped polling'],
      ['timed-out-admitted', 'Admission ran out', fmtInt(o.timedOutAfterAdmission)],
      ['left', 'Left the line', fmtInt(o.left), "a protected site's visitors"],
    ];
    for (const [key, label, value, note] of figures) this.tile(key, label, value, note);
  }

  renderChanges(changes) {
    const shown = changes.length > MOST_CHANGES ? `; the first ${fmtInt(MOST_CHANGES)} shown, the JSON has them all` : '';
    setText(
      this.changesSummary,
      changes.length
        ? `${count(changes.length, 'change')}, oldest first: adaptive steps that moved the rate, and operators' changes of the rate, the state or the adaptive target${shown}.`
        : 'No change of the rate: it stayed as it was set before the sale.',
    );
    const rows = rateChangeRows(changes);
    if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: 4, class: 'muted' }, 'None.')));
    this.changes.replaceChildren(...rows);
  }

  // The server's own CSV (?format=csv): one format, one home.
  async downloadCsv(button) {
    const queue = this.queue;
    await this.attempt(
      button,
      async (token) => {
        const text = await admin.reportCsv(token, queue);
        saveFile(text, `${queue}-per-second.csv`);
        const seconds = Math.max(0, text.split('\n').filter(Boolean).length - 1);
        setText(this.status, `${queue}: ${count(seconds, 'second')} saved as CSV (${fmtClock(Date.now())}).`);
      },
      { failed: `Could not read the CSV of ${queue}` },
    );
  }
}
