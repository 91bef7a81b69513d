// Requests this instance refused before doing their work: shed (503
// OVERLOADED, too many in flight) and rate-limited (429 RATE_LIMITED). The
// server keeps running totals (GET /ops/refusals); the per-second rates are
// the differences between two polls. Counts of the instance that answers the
// page: behind a load balancer, /metrics and the dashboard add up every instance.

import { createChart, GAP_MS, WINDOW_MS } from './ops-charts.js';
import { el, fmtInt, fmtRate, setText } from './ops-format.js';

const CHART = {
  id: 'chart-refused',
  title: 'Refused per second, this instance',
  format: fmtRate,
  floor: 1,
  wide: true,
  series: [
    { key: 'overloaded', label: 'Shed (503 OVERLOADED)', color: 'c1' },
    { key: 'rateLimited', label: 'Rate-limited (429 RATE_LIMITED)', color: 'c2' },
  ],
};

export class Refusals {
  constructor({ tiles, charts }) {
    this.samples = [];
    this.previous = null;
    this.chart = createChart(charts, CHART);
    this.totals = {};
    for (const [key, label] of [['shed', 'Shed since start'], ['limited', 'Rate-limited since start']]) {
      this.totals[key] = el('dd', { id: `tile-${key}` }, '—');
      tiles.append(el('div', { class: 'tile' }, el('dt', {}, label), this.totals[key]));
    }
  }

  // One poll's totals: a sample of the rates since the previous poll, unless
  // polling paused in between or the instance restarted (its totals fell).
  record(totals, t) {
    const prev = this.previous;
    let overloaded = null;
    let rateLimited = null;
    if (prev && t > prev.t && t - prev.t <= GAP_MS && totals.overloaded >= prev.overloaded && totals.rateLimited >= prev.rateLimited) {
      const seconds = (t - prev.t) / 1000;
      overloaded = (totals.overloaded - prev.overloaded) / seconds;
      rateLimited = (totals.rateLimited - prev.rateLimited) / seconds;
    }
    this.previous = { t, overloaded: totals.overloaded, rateLimited: totals.rateLimited };
    this.samples.push({ t, overloaded, rateLimited });
    while (this.samples.length && this.samples[0].t < t - WINDOW_MS - GAP_MS) this.samples.shift();
    setText(this.totals.shed, fmtInt(totals.overloaded));
    setText(this.totals.limited, fmtInt(totals.rateLimited));
    this.chart.update(this.samples, t);
  }
}
