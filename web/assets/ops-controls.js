// The selected queue's controls (state, rate, capacity, opening, adaptive
// admission), each a PATCH of the admin API, and the list of recent changes
// (the protected site's and the door's included; their forms are
// ops-protect.js and ops-door.js).

import { admin } from './ops-api.js';
import { el, fmtClock, fmtInt, setText } from './ops-format.js';
import { describeChallenge, describeLimits } from './ops-door.js';
import { confirmDialog } from './ops-panel.js';
import { describeProtect } from './ops-protect.js';

// Which state buttons make sense in each state.
const BUTTONS = {
  open: ['pause', 'close'],
  paused: ['resume', 'close'],
  closed: ['reopen'],
};

const ACTIONS = {
  pause: { patch: { state: 'paused' }, done: 'admission paused' },
  resume: { patch: { state: 'open' }, done: 'admission resumed' },
  close: { patch: { state: 'closed' }, done: 'queue closed to new joins' },
  reopen: { patch: { state: 'open' }, done: 'queue reopened' },
};

function localOf(ms) {
  const d = new Date(Number(ms));
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// A record holds `protect`, `join_limits` and `challenge` as the setting's
// JSON, or empty once cleared; `unreadable` stands in for JSON it cannot read.
function jsonOf(recorded, unreadable) {
  if (!recorded) return null;
  if (typeof recorded !== 'string') return recorded;
  try {
    return JSON.parse(recorded);
  } catch {
    return unreadable;
  }
}
const protectOf = (recorded) => jsonOf(recorded, { origin: 'a site' });

// One recorded settings change, in words: "rate 20 → 30/s, state open → paused".
export function describeEvent(event) {
  const c = event.changes || {};
  const b = event.before || {};
  const parts = [];
  const from = (field, fallback) => (b[field] === undefined ? fallback : b[field]);
  if ('state' in c) parts.push(`state ${from('state', 'open')} → ${c.state}`);
  if ('admit_rate' in c) parts.push(`rate ${from('admit_rate', 'default')} → ${c.admit_rate || 'default'}/s`);
  if ('max_active' in c) parts.push(`capacity ${from('max_active', 'default')} → ${c.max_active || 'default'}`);
  if ('opens_at_ms' in c) parts.push(c.opens_at_ms ? `opens at ${localOf(c.opens_at_ms)} (your time)` : 'opening time cleared');
  if ('adaptive_target_p99_ms' in c) {
    parts.push(
      c.adaptive_target_p99_ms
        ? `adaptive on: p99 ≤ ${c.adaptive_target_p99_ms} ms, ${c.adaptive_min_rate}–${c.adaptive_max_rate}/s`
        : 'adaptive off',
    );
  }
  if ('protect' in c) {
    const p = protectOf(c.protect);
    const was = protectOf(b.protect);
    parts.push(p ? `protects ${describeProtect(p)}` : `protection off${was ? ` (was ${was.origin})` : ''}`);
  }
  if ('challenge' in c) {
    const challenge = jsonOf(c.challenge, { kind: 'altcha' });
    parts.push(challenge ? `challenge on: ${describeChallenge(challenge)}` : 'challenge off');
  }
  if ('join_limits' in c) {
    // what an operator left out follows the configuration
    const limits = jsonOf(c.join_limits, {});
    parts.push(limits ? `join limits ${describeLimits(limits, 'default')}` : 'join limits back to the defaults');
  }
  return parts.length ? parts.join(', ') : 'no change';
}

export class Controls {
  constructor({ fieldset, note, status, error, events, dialog, adaptiveStatus, getToken, onChanged, onUnauthorized }) {
    Object.assign(this, { fieldset, note, status, error, events, dialog, adaptiveStatus, getToken, onChanged, onUnauthorized });
    this.queue = null;
    this.buttons = new Map([...fieldset.querySelectorAll('[data-action]')].map((b) => [b.dataset.action, b]));
    this.inputs = Object.fromEntries([...fieldset.querySelectorAll('input[name]')].map((i) => [i.name, i]));
    for (const action of Object.keys(ACTIONS)) {
      this.buttons.get(action).addEventListener('click', (e) => this.stateAction(action, e.currentTarget));
    }
    this.buttons.get('clear-opens').addEventListener('click', (e) =>
      this.apply({ opensAt: null }, () => 'opening time cleared', e.currentTarget),
    );
    this.buttons.get('adaptive-off').addEventListener('click', (e) =>
      this.apply({ adaptive: null }, (s) => `adaptive admission off, fixed rate ${s.admitRate}/s`, e.currentTarget),
    );
    for (const form of fieldset.querySelectorAll('form[data-setting]')) {
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        this.submit(form, event.submitter);
      });
    }
  }

  setEnabled(enabled) {
    this.fieldset.disabled = !enabled;
    this.note.hidden = enabled;
    if (!enabled) this.events.replaceChildren(el('li', { class: 'muted' }, 'Needs the admin token.'));
  }

  // Called on every poll with the selected queue's figures.
  show(q) {
    const switched = !this.queue || this.queue.name !== q.name;
    this.queue = q;
    if (switched) {
      this.showError(null);
      setText(this.status, '');
    }
    this.showState(q.settings.state);
    this.prefill(q.settings, switched);
    const a = q.settings.adaptive;
    setText(
      this.adaptiveStatus,
      a
        ? `On: rate in use ${fmtInt(q.admitRateInUse)}/s between ${a.minRate} and ${a.maxRate}` +
            (q.adaptive ? `; last step ${q.adaptive.decision} at p99 ${q.adaptive.p99Ms} ms over ${q.adaptive.samples} calls.` : '.')
        : 'Off: the fixed rate applies.',
    );
  }

  showState(state) {
    const wanted = BUTTONS[state] || [];
    for (const action of Object.keys(ACTIONS)) this.buttons.get(action).hidden = !wanted.includes(action);
  }

  // Fill the inputs with the live settings, but never over what the operator is typing.
  prefill(settings, force) {
    const a = settings.adaptive;
    const values = {
      admitRate: settings.admitRate,
      maxActive: settings.maxActive,
      opensAt: settings.opensAt || '',
      targetP99Ms: a ? a.targetP99Ms : '',
      minRate: a ? a.minRate : '',
      maxRate: a ? a.maxRate : '',
    };
    for (const [name, value] of Object.entries(values)) {
      const input = this.inputs[name];
      const text = String(value);
      const dirty = input.value !== (input.dataset.prefilled ?? '');
      if (force || (!dirty && document.activeElement !== input)) {
        input.value = text;
        input.dataset.prefilled = input.value;
      }
    }
  }

  async stateAction(action, button) {
    const { patch, done } = ACTIONS[action];
    if (action !== 'close') return this.apply(patch, () => done, button);
    // Closing refuses every new fan: ask first.
    const name = this.queue.name;
    this.dialog.querySelector('#confirm-queue').textContent = name;
    if (await confirmDialog(this.dialog, `Close queue ${name} to new joins?`, button)) {
      await this.apply(patch, () => done, button);
    }
    return undefined;
  }

  submit(form, submitter) {
    const setting = form.dataset.setting;
    const number = (name) => Number(this.inputs[name].value);
    if (setting === 'admitRate') {
      return this.apply({ admitRate: number('admitRate') }, (s) => `admission rate set to ${s.admitRate}/s`, submitter);
    }
    if (setting === 'maxActive') {
      return this.apply({ maxActive: number('maxActive') }, (s) => `capacity set to ${fmtInt(s.maxActive)}`, submitter);
    }
    if (setting === 'opensAt') {
      let value = this.inputs.opensAt.value;
      if (!value) return this.showError('Pick a date and time, or use Clear to remove the opening time.');
      // datetime-local leaves out ":00" seconds; the server wants them
      if (/T\d\d:\d\d$/.test(value)) value += ':00';
      return this.apply({ opensAt: value }, (s) => `opens at ${s.opensAt}`, submitter);
    }
    const adaptive = { targetP99Ms: number('targetP99Ms'), minRate: number('minRate'), maxRate: number('maxRate') };
    return this.apply(
      { adaptive },
      (s) => `adaptive admission on: p99 ≤ ${s.adaptive.targetP99Ms} ms, ${s.adaptive.minRate}–${s.adaptive.maxRate}/s`,
      submitter,
    );
  }

  async apply(patch, describe, button) {
    const token = this.getToken();
    if (!token || !this.queue) return;
    const name = this.queue.name;
    this.showError(null);
    setText(this.status, '');
    if (button) {
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
    }
    try {
      const settings = await admin.change(token, name, patch);
      setText(this.status, `${name}: ${describe(settings)} (${fmtClock(Date.now())}).`);
      if (this.queue && this.queue.name === name) {
        this.queue = { ...this.queue, settings, state: settings.state };
        this.showState(settings.state);
        this.prefill(settings, true);
      }
      this.onChanged(name);
    } catch (err) {
      const why = err.describe ? err.describe() : String(err);
      this.showError(`Could not change ${name}: ${why}`);
      if (err.status === 401) this.onUnauthorized(err);
    } finally {
      if (button) {
        button.disabled = false;
        button.removeAttribute('aria-busy');
      }
    }
  }

  showError(message) {
    this.error.hidden = !message;
    setText(this.error, message || '');
  }

  async refreshEvents() {
    const token = this.getToken();
    if (!token || !this.queue) return;
    const name = this.queue.name;
    try {
      const events = await admin.events(token, name, 20);
      if (!this.queue || this.queue.name !== name || !this.getToken()) return;
      this.events.dataset.queue = name;
      if (!events.length) {
        this.events.replaceChildren(el('li', { class: 'muted' }, 'No changes recorded yet.'));
        return;
      }
      this.events.replaceChildren(
        ...events.map((event) => {
          const at = event.atMs;
          return el(
            'li',
            { dataset: { id: event.id } },
            el('time', { datetime: new Date(at).toISOString() }, fmtClock(at)),
            el('span', { class: 'event-what' }, describeEvent(event)),
            el('span', { class: 'muted small' }, `by token ${event.who || '?'}`),
          );
        }),
      );
    } catch (err) {
      if (err.status === 401) this.onUnauthorized(err);
      else this.events.replaceChildren(el('li', { class: 'error' }, `Could not read the changes: ${err.describe ? err.describe() : err}`));
    }
  }
}
