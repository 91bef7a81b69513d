// The queues: a 10-minute history kept in memory from each poll, the table of
// every queue, and the selected queue's figures and charts.

import { GAP_MS, WINDOW_MS } from './ops-chart-axes.js';
import { createChart, sparkline } from './ops-charts.js';
import { el, fmtDuration, fmtInt, fmtMs, fmtRate, setText, stateLabel } from './ops-format.js';
import { describeProtect } from './ops-protect.js';

export class History {
  constructor() {
    this.byQueue = new Map();
  }

  // One sample per queue per poll; the per-poll rate comes from the admitted counter.
  record(queues, t) {
    for (const q of queues) {
      const list = this.byQueue.get(q.name) || [];
      const prev = list[list.length - 1];
      let instant = null;
      if (prev && t - prev.t <= GAP_MS && t > prev.t && q.admitted >= prev.admitted) {
        instant = (q.admitted - prev.admitted) / ((t - prev.t) / 1000);
      }
      const adaptive = q.settings && q.settings.adaptive;
      list.push({
        t,
        state: q.state,
        waiting: q.waiting,
        active: q.active,
        maxActive: q.settings ? q.settings.maxActive : null,
        rate10: q.admittedPerSecond ? q.admittedPerSecond.last10s : null,
        instant,
        rateInUse: q.admitRateInUse,
        eta: q.etaSecondsOfLast,
        // no bookings in the window: no latency to speak of, so a gap rather than a zero
        p99: q.booking && q.booking.samples > 0 ? q.booking.p99Ms : null,
        target: adaptive ? adaptive.targetP99Ms : null,
        admitted: q.admitted,
      });
      while (list.length && list[0].t < t - WINDOW_MS - GAP_MS) list.shift();
      this.byQueue.set(q.name, list);
    }
  }

  samples(name) {
    return this.byQueue.get(name) || [];
  }
}

export function stateBadge(node, state) {
  node.className = `badge state-${state}`;
  node.dataset.state = state;
  setText(node, stateLabel(state));
}

function flags(q) {
  const out = [];
  if (q.settings && q.settings.adaptive) out.push(el('span', { class: 'badge badge-info' }, 'Adaptive'));
  if (q.settings && q.settings.opensAt) out.push(el('span', { class: 'badge badge-info' }, `Opens ${q.settings.opensAt.replace('T', ' ')}`));
  // A queue in front of a site of its own (docs/protect-a-site.md).
  if (q.settings && q.settings.protect) {
    const p = q.settings.protect;
    out.push(el('span', { class: 'badge badge-info', title: describeProtect(p) }, `Protects ${p.origin}`));
  }
  return out;
}

// The table of every queue; rows are kept per queue so focus survives a refresh.
export class QueueTable {
  constructor(tbody, onSelect) {
    this.tbody = tbody;
    this.onSelect = onSelect;
    this.rows = new Map();
    this.selected = null;
  }

  row(name) {
    let row = this.rows.get(name);
    if (row) return row;
    const button = el('button', { type: 'button', class: 'linkish', 'aria-pressed': 'false', onclick: () => this.onSelect(name) }, name);
    const cells = {};
    const td = (key, cls) => (cells[key] = el('td', { class: cls }));
    const tr = el(
      'tr',
      { dataset: { queue: name } },
      el('th', { scope: 'row' }, button),
      el('td', {}, (cells.state = el('span', { class: 'badge' })), (cells.flags = el('span'))),
      td('waiting', 'num'),
      td('active', 'num'),
      td('rate', 'num'),
      td('inUse', 'num'),
      td('eta', 'num'),
      td('p99', 'num'),
      td('spark', 'spark-cell'),
    );
    row = { tr, button, cells };
    this.rows.set(name, row);
    return row;
  }

  render(queues, history, now) {
    if (this.tbody.querySelector('td[colspan]')) this.tbody.replaceChildren();
    const order = queues.map((q) => q.name);
    for (const q of queues) {
      const { tr, button, cells } = this.row(q.name);
      stateBadge(cells.state, q.state);
      cells.flags.replaceChildren(...flags(q));
      setText(cells.waiting, fmtInt(q.waiting));
      setText(cells.active, `${fmtInt(q.active)} / ${fmtInt(q.settings.maxActive)}`);
      setText(cells.rate, fmtRate(q.admittedPerSecond.last10s));
      setText(cells.inUse, `${fmtInt(q.admitRateInUse)}${q.settings.adaptive ? ' (adaptive)' : ''}`);
      setText(cells.eta, fmtDuration(q.etaSecondsOfLast));
      setText(cells.p99, q.booking.samples > 0 ? fmtMs(q.booking.p99Ms) : '—');
      cells.spark.replaceChildren(sparkline(history.samples(q.name), 'waiting', now));
      const selected = q.name === this.selected;
      tr.classList.toggle('selected', selected);
      button.setAttribute('aria-pressed', String(selected));
      if (tr.parentNode !== this.tbody) this.tbody.append(tr);
    }
    // keep the server's order; drop queues that went away
    for (const [name, { tr }] of this.rows) {
      if (!order.includes(name)) {
        tr.remove();
        this.rows.delete(name);
      }
    }
  }
}

const CHARTS = [
  {
    id: 'chart-waiting',
    title: 'Waiting in line',
    format: fmtInt,
    integer: true,
    floor: 5,
    wide: true,
    series: [{ key: 'waiting', label: 'Waiting', color: 'c0', area: true }],
  },
  {
    id: 'chart-active',
    title: 'Active vs capacity',
    format: fmtInt,
    integer: true,
    floor: 5,
    series: [
      { key: 'active', label: 'Active', color: 'c1', area: true },
      { key: 'maxActive', label: 'Capacity', color: 'c3', dashed: true, step: true },
    ],
  },
  {
    id: 'chart-rate',
    title: 'Admissions per second vs the rate',
    format: fmtRate,
    series: [
      { key: 'rate10', label: 'Measured (10 s)', color: 'c0' },
      { key: 'instant', label: 'Per poll', color: 'c4', thin: true },
      { key: 'rateInUse', label: 'Rate in use', color: 'c3', dashed: true, step: true },
    ],
  },
  {
    id: 'chart-eta',
    title: 'ETA of the last in line',
    format: fmtDuration,
    floor: 10,
    integer: true,
    series: [{ key: 'eta', label: 'ETA', color: 'c2', area: true }],
  },
  {
    id: 'chart-latency',
    title: 'Booking latency p99 (holds, payments)',
    format: fmtMs,
    floor: 10,
    integer: true,
    series: [
      { key: 'p99', label: 'p99', color: 'c1' },
      { key: 'target', label: 'Adaptive target', color: 'c3', dashed: true, step: true },
    ],
  },
];

// The selected queue: figures as tiles and the five charts.
export class QueueDetail {
  constructor({ name, state, flagsNode, tiles, charts }) {
    this.nameNode = name;
    this.stateNode = state;
    this.flagsNode = flagsNode;
    this.tiles = tiles;
    this.tileNodes = new Map();
    this.charts = CHARTS.map((spec) => createChart(charts, spec));
  }

  // A tile shows a figure and, in smaller type, what qualifies it.
  tile(key, label, value, note) {
    let tile = this.tileNodes.get(key);
    if (!tile) {
      tile = { main: el('dd', { id: `tile-${key}` }), note: el('dd', { class: 'tile-note' }) };
      this.tiles.append(el('div', { class: 'tile' }, el('dt', {}, label), tile.main, tile.note));
      this.tileNodes.set(key, tile);
    }
    setText(tile.main, value);
    setText(tile.note, note || '');
    tile.note.hidden = !note;
  }

  render(q, samples, now) {
    setText(this.nameNode, q.name);
    stateBadge(this.stateNode, q.state);
    this.flagsNode.replaceChildren(...flags(q));
    const s = q.settings;
    const b = q.booking;
    const figures = [
      ['waiting', 'Waiting', fmtInt(q.waiting)],
      ['active', 'Active / capacity', `${fmtInt(q.active)} / ${fmtInt(s.maxActive)}`],
      ['rate', 'Admitted/s, 10 s', fmtRate(q.admittedPerSecond.last10s), `60 s: ${fmtRate(q.admittedPerSecond.last60s)}`],
      [
        'in-use',
        'Rate in use',
        `${fmtInt(q.admitRateInUse)}/s`,
        s.adaptive ? `adaptive ${s.adaptive.minRate}–${s.adaptive.maxRate}${q.adaptive ? `, last step ${q.adaptive.decision}` : ''}` : 'fixed',
      ],
      ['eta', 'ETA of the last', fmtDuration(q.etaSecondsOfLast)],
      [
        'p99',
        `Booking p99, ${b.windowSeconds} s`,
        b.samples > 0 ? fmtMs(b.p99Ms) : '—',
        b.samples > 0 ? `${fmtInt(b.samples)} calls, ${fmtInt(b.errors)} errors` : 'no bookings',
      ],
      ['joined', 'Joined', fmtInt(q.joined)],
      ['admitted', 'Admitted', fmtInt(q.admitted)],
      ['completed', 'Completed', fmtInt(q.completed)],
      ['abandoned', 'Abandoned · expired', `${fmtInt(q.abandoned)} · ${fmtInt(q.expired)}`],
    ];
    for (const [key, label, value, note] of figures) this.tile(key, label, value, note);
    for (const chart of this.charts) chart.update(samples, now, q.name);
  }
}
