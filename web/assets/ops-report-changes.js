// A report's changes of the rate (`rateChanges`), one table row each: an
// adaptive step's move (admission.rate_changed: from, to, the decision and
// the reason, with what the step saw), or an operator's change of the rate,
// the state or the adaptive target (queue.settings_changed: who and the
// changes, in the words of the recent changes list).

import { describeEvent } from './ops-controls.js';
import { el, fmtClock, fmtDateTime, fmtInt, fmtMs } from './ops-format.js';

// A long sale under adaptive admission moves the rate often: the table shows
// this many, the JSON has them all.
export const MOST_CHANGES = 1000;

const REASONS = {
  healthy: 'healthy, with people waiting',
  p99_over_target: 'booking p99 over the target',
  errors_over_limit: 'booking errors over the limit',
};

// "p99 412 ms against 250 ms, 340 calls, 2 errors": what the step saw.
function seen(d) {
  const parts = [];
  if (typeof d.p99Ms === 'number') parts.push(`p99 ${fmtMs(d.p99Ms)}${typeof d.targetP99Ms === 'number' ? ` against ${fmtMs(d.targetP99Ms)}` : ''}`);
  if (typeof d.samples === 'number') parts.push(`${fmtInt(d.samples)} calls`);
  if (typeof d.errors === 'number') parts.push(`${fmtInt(d.errors)} errors`);
  return parts.join(', ');
}

// {change, by, why} of one entry, in words.
export function describeRateChange({ kind, data }) {
  const d = data || {};
  if (kind === 'admission.rate_changed') {
    const reason = REASONS[d.reason] || d.reason || 'no reason given';
    const saw = seen(d);
    return {
      change: `rate ${fmtInt(d.from)} → ${fmtInt(d.to)}/s`,
      by: `adaptive step, ${d.decision || '?'}`,
      why: saw ? `${reason} (${saw})` : reason,
    };
  }
  return { change: describeEvent(d), by: `operator, token ${d.who || '?'}`, why: 'set by hand' };
}

export function rateChangeRows(changes) {
  return changes.slice(0, MOST_CHANGES).map((entry) => {
    const { change, by, why } = describeRateChange(entry);
    const at = Date.parse(entry.time);
    return el(
      'tr',
      { dataset: { kind: entry.kind } },
      el('td', {}, el('time', { datetime: entry.time, title: fmtDateTime(at) }, fmtClock(at))),
      el('td', { class: 'change' }, change),
      el('td', {}, by),
      el('td', { class: 'why' }, why),
    );
  });
}
