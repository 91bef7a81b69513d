// The selected queue's door: the proof-of-work challenge each join must carry
// solved (the admin API's `challenge`), and the join limits (`joinLimits`,
// joins a minute per identity, client IP and network). Both are PATCHes of
// the queue's settings; turning the challenge on asks first, since every
// client that does not solve one is then refused.

import { admin } from './ops-api.js';
import { fmtDuration, fmtInt, setText } from './ops-format.js';
import { confirmDialog, prefill, QueuePanel } from './ops-panel.js';

export const LEAST_COMPLEXITY = 2;
export const MOST_COMPLEXITY = 10_000_000;
// The configuration's default complexity takes a median of about a second in
// Chromium on two cores (docs/configuration.md, BOXOFFICE_CHALLENGE_COMPLEXITY).
const COMPLEXITY_A_SECOND = 30_000;
const MOST_LIMIT = 1_000_000_000;

const LIMITS = [
  ['perIdentityPerMinute', 'per identity'],
  ['perIpPerMinute', 'per IP'],
  ['perNetworkPerMinute', 'per network'],
];

// What a solve costs a fan's browser, roughly: "about 2 s".
export function solveTime(complexity) {
  const seconds = complexity / COMPLEXITY_A_SECOND;
  if (seconds < 0.5) return 'well under a second';
  if (seconds < 1.5) return 'about a second';
  return `about ${fmtDuration(seconds)}`;
}

// "ALTCHA, complexity 30,000"; a complexity left out is the server's default.
export function describeChallenge(c) {
  const kind = c.kind === 'altcha' ? 'ALTCHA' : String(c.kind);
  return c.complexity ? `${kind}, complexity ${fmtInt(c.complexity)}` : `${kind}, the default complexity`;
}

// "per identity 10/min, per IP none, per network 3,000/min"; a limit the
// record leaves out is shown as `missing`.
export function describeLimits(limits, missing) {
  return LIMITS.map(([key, label]) => {
    const value = limits[key];
    if (value === undefined || value === null) return `${label} ${missing}`;
    return `${label} ${value === 0 ? 'none' : `${fmtInt(value)}/min`}`;
  }).join(', ');
}

// A whole number from `least` to `most` typed in a field, or null.
function wholeOf(text, least, most) {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return null;
  const number = Number(trimmed);
  return number >= least && number <= most ? number : null;
}

export class DoorPanel extends QueuePanel {
  constructor({ summary, estimate, dialog, ...common }) {
    super(common);
    Object.assign(this, { summary, estimate, dialog });
    this.challengeForm = this.fieldset.querySelector('#challenge-form');
    this.limitsForm = this.fieldset.querySelector('#limits-form');
    this.complexity = this.challengeForm.elements.namedItem('complexity');
    this.challengeOn = this.challengeForm.elements.namedItem('challengeOn');
    this.challengeForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.saveChallenge(event.submitter);
    });
    this.limitsForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.saveLimits(event.submitter);
    });
    this.buttons.get('limits-default').addEventListener('click', (e) =>
      this.apply({ joinLimits: null }, (s) => `join limits back to the defaults: ${describeLimits(s.joinLimits)}`, e.currentTarget),
    );
    this.complexity.addEventListener('input', () => this.showEstimate());
    this.challengeOn.addEventListener('change', () => this.showEstimate());
  }

  // Called on every poll with the selected queue's figures.
  show(q) {
    this.render(q.settings, this.select(q));
  }

  render(settings, force) {
    const c = settings.challenge;
    const limits = settings.joinLimits;
    setText(
      this.summary,
      `${c ? `Asks each join for a proof of work: ${describeChallenge(c)}, ${solveTime(c.complexity)} a solve.` : 'Asks for no proof of work.'}` +
        (limits ? ` Join limits ${describeLimits(limits)}.` : ''),
    );
    prefill(this.challengeForm.elements, { challengeOn: Boolean(c), complexity: c ? c.complexity : '' }, force);
    if (limits) prefill(this.limitsForm.elements, Object.fromEntries(LIMITS.map(([key]) => [key, limits[key]])), force);
    this.showEstimate();
  }

  showEstimate() {
    const text = this.complexity.value.trim();
    const complexity = wholeOf(text, LEAST_COMPLEXITY, MOST_COMPLEXITY);
    this.complexity.setAttribute('aria-invalid', String(Boolean(text) && complexity === null));
    let words;
    if (!this.challengeOn.checked) words = 'Off: joins need no proof of work.';
    else if (!text) words = "Empty: the server's default (BOXOFFICE_CHALLENGE_COMPLEXITY).";
    else if (complexity === null) words = `Not a whole number from 2 to ${fmtInt(MOST_COMPLEXITY)}.`;
    else words = `${fmtInt(complexity / 2)} to ${fmtInt(complexity)} key derivations a solve: ${solveTime(complexity)} in a browser.`;
    setText(this.estimate, words);
  }

  // The form as the admin API's `challenge`; a string is a mistake to show instead.
  challengeOfForm() {
    if (!this.challengeOn.checked) return null;
    const text = this.complexity.value.trim();
    // left out: the server's configured default
    if (!text) return { kind: 'altcha' };
    const complexity = wholeOf(text, LEAST_COMPLEXITY, MOST_COMPLEXITY);
    if (complexity === null) {
      return `The complexity must be a whole number from ${LEAST_COMPLEXITY} to ${fmtInt(MOST_COMPLEXITY)}, or empty for the server's default.`;
    }
    return { kind: 'altcha', complexity };
  }

  async saveChallenge(button) {
    const challenge = this.challengeOfForm();
    if (typeof challenge === 'string') {
      this.showError(challenge);
      this.complexity.focus();
      return;
    }
    const describe = (s) =>
      s.challenge ? `challenge on: ${describeChallenge(s.challenge)}, ${solveTime(s.challenge.complexity)} a solve` : 'challenge off';
    // Turning it on refuses every join that does not carry a solved one: ask first.
    if (challenge && !this.queue.settings.challenge) {
      this.dialog.querySelector('#challenge-queue').textContent = this.queue.name;
      if (!(await confirmDialog(this.dialog, `Ask every join of ${this.queue.name} for a proof of work?`, button))) return;
    }
    await this.apply({ challenge }, describe, button);
  }

  saveLimits(button) {
    const joinLimits = {};
    for (const [key, label] of LIMITS) {
      const value = wholeOf(this.limitsForm.elements.namedItem(key).value, 0, MOST_LIMIT);
      if (value === null) {
        this.showError(`The limit ${label} must be a whole number from 0 (none) to ${fmtInt(MOST_LIMIT)} joins a minute.`);
        this.limitsForm.elements.namedItem(key).focus();
        return undefined;
      }
      joinLimits[key] = value;
    }
    return this.apply({ joinLimits }, (s) => `join limits ${describeLimits(s.joinLimits)}`, button);
  }

  async apply(patch, describe, button) {
    const name = await this.run(button, async (token, queue) => {
      const settings = await admin.change(token, queue, patch);
      this.say(queue, describe(settings));
      if (this.queue && this.queue.name === queue) {
        this.queue = { ...this.queue, settings };
        this.render(settings, true);
      }
    });
    if (name) this.onChanged(name);
  }
}
