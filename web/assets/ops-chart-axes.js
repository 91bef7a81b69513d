// What the charts of ops-charts.js draw with, without the DOM: the two time
// axes (the live panels' last 10 minutes, a report's whole sale), round
// steps for the value axis, and the SVG paths of a series.

import { fmtClock } from './ops-format.js';

export const WINDOW_MS = 10 * 60 * 1000;
const MIN_SPAN_MS = 60 * 1000;
// A report's sale of a few seconds still gets an axis that reads as time.
const MIN_WHOLE_MS = 10 * 1000;
// A pause in the samples longer than this breaks the line instead of bridging it.
export const GAP_MS = 6000;

// The time shown: the history there is (the page keeps what it polled since it
// opened), at least a minute and at most 10, so a fresh page is not a sliver.
export function spanOf(samples, now) {
  const oldest = samples.length ? now - samples[0].t : 0;
  const minutes = Math.ceil(Math.max(oldest, MIN_SPAN_MS) / 60000);
  return Math.min(WINDOW_MS, minutes * 60000);
}

function agoLabel(ms) {
  const s = Math.round(ms / 1000);
  if (s === 0) return 'now';
  return s % 60 === 0 ? `−${s / 60}m` : s < 60 ? `−${s}s` : `−${Math.floor(s / 60)}m${s % 60}s`;
}

// The live charts: up to the last 10 minutes before `now`, labelled by how long ago.
export const recentAxis = {
  domain(samples, now) {
    const span = spanOf(samples, now);
    return { t0: now - span, span };
  },
  // about five labels whatever the span: every 15 s, 30 s, 1 or 2 minutes
  ticks(t0, span) {
    const every = [15, 30, 60, 120].map((s) => s * 1000).find((ms) => span / ms <= 5) ?? 120000;
    const ticks = [];
    for (let ago = span; ago >= 0; ago -= every) {
      ticks.push({ t: t0 + span - ago, label: agoLabel(ago), anchor: ago === span ? 'start' : ago === 0 ? 'end' : 'middle' });
    }
    return ticks;
  },
  describe(t0, span) {
    return `last ${agoLabel(span).slice(1)}`;
  },
  // the labels say how long ago: they move with the span only
  labelsKey(t0, span) {
    return String(span);
  },
};

// Round steps of a clock axis, in seconds: from a second to a day.
const CLOCK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

// A report's charts: the samples' own stretch, however long, labelled by the clock.
export const wholeAxis = {
  domain(samples, now) {
    if (!samples.length) return { t0: now - MIN_WHOLE_MS, span: MIN_WHOLE_MS };
    const t0 = samples[0].t;
    return { t0, span: Math.max(MIN_WHOLE_MS, samples[samples.length - 1].t - t0) };
  },
  // at most six labels, on round clock times (whole minutes, quarter hours…)
  ticks(t0, span) {
    const step = (CLOCK_STEPS.find((s) => span / (s * 1000) <= 6) ?? 86400) * 1000;
    const ticks = [];
    for (let t = Math.ceil(t0 / step) * step; t <= t0 + span; t += step) {
      const at = (t - t0) / span;
      const label = step < 60000 ? fmtClock(t) : fmtClock(t).slice(0, 5);
      ticks.push({ t, label, anchor: at < 0.04 ? 'start' : at > 0.96 ? 'end' : 'middle' });
    }
    return ticks;
  },
  describe(t0, span) {
    return `from ${fmtClock(t0)} to ${fmtClock(t0 + span)}`;
  },
  labelsKey(t0, span) {
    return `${t0}/${span}`;
  },
};

// The smallest of 1, 2, 2.5, 5 x 10^k at or above `value`: round axis steps.
// Whole-number axes (counts, seconds, ms) skip 2.5 and never step below 1.
export function niceStep(value, integer) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const steps = integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
  const step = steps.map((m) => m * power).find((candidate) => candidate >= value) ?? 10 * power;
  return integer ? Math.max(1, step) : step;
}

export function round1(n) {
  return Math.round(n * 10) / 10;
}

// Splits samples into runs without gaps (more than `gapMs` between two) or
// missing values, as [x, y] pairs.
export function runs(samples, key, x, y, gapMs = GAP_MS) {
  const out = [];
  let current = null;
  let prevT = -Infinity;
  for (const sample of samples) {
    const v = sample[key];
    if (v === null || v === undefined || Number.isNaN(v) || sample.t - prevT > gapMs) {
      current = null;
    }
    prevT = sample.t;
    if (v === null || v === undefined || Number.isNaN(v)) continue;
    if (!current) out.push((current = []));
    current.push([round1(x(sample.t)), round1(y(v))]);
  }
  return out;
}

// A step line holds each value until the next sample, as a count per bin reads.
function joined(seg, step) {
  return seg.map(([px, py], i) => (i === 0 ? `M${px} ${py}` : step ? `H${px}V${py}` : `L${px} ${py}`)).join('');
}

export function linePath(segments, step) {
  return segments.map((seg) => joined(seg, step)).join('');
}

export function areaPath(segments, base, step = false) {
  return segments
    .map((seg) => `M${seg[0][0]} ${base}${joined(seg, step).replace(/^M/, 'L')}L${seg[seg.length - 1][0]} ${base}Z`)
    .join('');
}
