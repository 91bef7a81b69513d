// Requests this instance refused before doing their work: shed (503
// OVERLOADED, too many in flight) and rate-limited (429 RATE_LIMITED), and
// among those the joins, by the limit they tripped (a queue's joinLimits or
// the instance's own: identity, client IP, network); and the joins turned
// away at the door (403: a challenge missing or failed, an invitation
// refused), by reason. The server keeps running totals (GET /ops/refusals); the per-second rates are the differences between
// two polls. Counts of the instance that answers the page: behind a load
// balancer, /metrics and the dashboard add up every instance.

import { GAP_MS, WINDOW_MS } from './ops-chart-axes.js';
import { createChart } from './ops-charts.js';
import { el, fmtInt, fmtRate, setText } from './ops-format.js';

// The door's reasons (`joinsRefused`), each with its tile's label.
const DOOR = [
  ['challengeRequired', 'Joins without a challenge'],
  ['challengeInvalid', 'Challenges invalid'],
  ['challengeExpired', 'Challenges expired'],
  ['challengeSpent', 'Challenges replayed'],
  ['challengeOtherQueue', "Another queue's challenge"],
  ['invitationInvalid', 'Invitations invalid'],
  ['invitationUsedUp', 'Invitations used up'],
  ['invitationExpired', 'Invitations expired'],
];
const door = (body, key) => body.joinsRefused?.[key] ?? 0;
const doorSum = (body, prefix) => DOOR.filter(([key]) => key.startsWith(prefix) && key !== 'challengeRequired')
  .reduce((n, [key]) => n + door(body, key), 0);

// Each total the page follows, read from the answer (a server from before the
// join limits or the door answers no `joinsRateLimited` or `joinsRefused`:
// those read as 0).
const TOTALS = {
  overloaded: (body) => body.overloaded,
  rateLimited: (body) => body.rateLimited,
  identity: (body) => body.joinsRateLimited?.identity ?? 0,
  ip: (body) => body.joinsRateLimited?.ip ?? 0,
  network: (body) => body.joinsRateLimited?.network ?? 0,
  ...Object.fromEntries(DOOR.map(([key]) => [key, (body) => door(body, key)])),
  challengeFailed: (body) => doorSum(body, 'challenge'),
  invitationRefused: (body) => doorSum(body, 'invitation'),
};

const CHARTS = [
  {
    id: 'chart-refused',
    title: 'Refused per second, this instance',
    format: fmtRate,
    floor: 1,
    wide: true,
    series: [
      { key: 'overloaded', label: 'Shed (503 OVERLOADED)', color: 'c1' },
      { key: 'rateLimited', label: 'Rate-limited (429 RATE_LIMITED)', color: 'c2' },
    ],
  },
  {
    id: 'chart-joins-limited',
    title: 'Joins rate-limited per second, by limit, this instance',
    format: fmtRate,
    floor: 1,
    wide: true,
    series: [
      { key: 'identity', label: 'Per identity', color: 'c1' },
      { key: 'ip', label: 'Per client IP', color: 'c2' },
      { key: 'network', label: 'Per network (/24, /56)', color: 'c4' },
    ],
  },
  {
    id: 'chart-joins-refused',
    title: 'Joins turned away at the door per second (403), this instance',
    format: fmtRate,
    floor: 1,
    wide: true,
    series: [
      { key: 'challengeRequired', label: 'No challenge (CHALLENGE_REQUIRED)', color: 'c1' },
      { key: 'challengeFailed', label: 'Challenge failed (CHALLENGE_FAILED)', color: 'c2' },
      { key: 'invitationRefused', label: 'Invitation refused (INVITATION_*)', color: 'c4' },
    ],
  },
];

const TILES = [
  ['shed', 'overloaded', 'Shed since start'],
  ['limited', 'rateLimited', 'Rate-limited since start'],
  ['joins-identity', 'identity', 'Joins limited per identity'],
  ['joins-ip', 'ip', 'Joins limited per IP'],
  ['joins-network', 'network', 'Joins limited per network'],
  // tile-door-challenge-required and so on
  ...DOOR.map(([key, label]) => [`door-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, key, label]),
];

export class Refusals {
  constructor({ tiles, charts }) {
    this.samples = [];
    this.previous = null;
    this.charts = CHARTS.map((spec) => createChart(charts, spec));
    this.tiles = TILES.map(([id, key, label]) => {
      const value = el('dd', { id: `tile-${id}` }, '—');
      tiles.append(el('div', { class: 'tile' }, el('dt', {}, label), value));
      return [key, value];
    });
  }

  // One poll's totals: a sample of the rates since the previous poll, unless
  // polling paused in between or the instance restarted (a total fell).
  record(body, t) {
    const totals = Object.fromEntries(Object.entries(TOTALS).map(([key, read]) => [key, read(body)]));
    const prev = this.previous;
    const sample = { t };
    const comparable = prev && t > prev.t && t - prev.t <= GAP_MS && Object.keys(TOTALS).every((key) => totals[key] >= prev.totals[key]);
    for (const key of Object.keys(TOTALS)) {
      sample[key] = comparable ? (totals[key] - prev.totals[key]) / ((t - prev.t) / 1000) : null;
    }
    this.previous = { t, totals };
    this.samples.push(sample);
    while (this.samples.length && this.samples[0].t < t - WINDOW_MS - GAP_MS) this.samples.shift();
    for (const [key, value] of this.tiles) setText(value, fmtInt(totals[key]));
    for (const chart of this.charts) chart.update(this.samples, t);
  }
}
