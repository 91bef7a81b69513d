// The selected queue's protected site (docs/protect-a-site.md): the form that
// sets the admin API's `protect`, turning it off, and making an origin key,
// which the server shows once and keeps only as a hash.

import { admin } from './ops-api.js';
import { fmtClock, setText } from './ops-format.js';

// A protection in words, without the bypass header's secret:
// "https://shop.example (/checkout/*), 600 s sessions, fails closed".
export function describeProtect(p) {
  const parts = [`${p.origin} (${(p.paths || ['/*']).join(' ')})`];
  if (p.sessionSeconds) parts.push(`${p.sessionSeconds} s sessions`);
  if (p.failMode) parts.push(`fails ${p.failMode}`);
  const cidrs = p.bypassCidrs || [];
  if (cidrs.length) parts.push(`bypass ${cidrs.join(' ')}`);
  if (p.bypassHeader) parts.push(`bypass header ${p.bypassHeader.name}`);
  return parts.join(', ');
}

// One pattern or address a line; blank lines dropped.
const lines = (text) => text.split('\n').map((line) => line.trim()).filter(Boolean);

export class ProtectPanel {
  constructor({ fieldset, summary, status, error, keyBox, keyValue, dialog, getToken, onChanged, onUnauthorized }) {
    Object.assign(this, { fieldset, summary, status, error, keyBox, keyValue, dialog, getToken, onChanged, onUnauthorized });
    this.queue = null;
    this.form = fieldset.querySelector('form');
    this.fields = this.form.elements;
    this.buttons = new Map([...fieldset.querySelectorAll('[data-action]')].map((b) => [b.dataset.action, b]));
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.save(event.submitter);
    });
    this.buttons.get('unprotect').addEventListener('click', (e) => this.confirmStop(e.currentTarget));
    this.buttons.get('origin-key').addEventListener('click', (e) => this.newKey(e.currentTarget));
    this.buttons.get('copy-key').addEventListener('click', () => this.copyKey());
  }

  setEnabled(enabled) {
    this.fieldset.disabled = !enabled;
    if (!enabled) this.hideKey();
  }

  // Called on every poll with the selected queue's figures.
  show(q) {
    const switched = !this.queue || this.queue.name !== q.name;
    this.queue = q;
    if (switched) {
      this.showError(null);
      setText(this.status, '');
      this.hideKey();
    }
    this.render(q.settings.protect, switched);
  }

  render(p, force) {
    setText(this.summary, p ? `Protects ${describeProtect(p)}.` : 'Protects no site: every /gate route of this queue answers 404.');
    this.buttons.get('unprotect').hidden = !p;
    const values = {
      origin: p ? p.origin : '',
      paths: p ? p.paths.join('\n') : '',
      sessionSeconds: p ? p.sessionSeconds : 600,
      failMode: p ? p.failMode : 'closed',
      bypassCidrs: p ? p.bypassCidrs.join('\n') : '',
      bypassName: p && p.bypassHeader ? p.bypassHeader.name : '',
    };
    // Never over what the operator is typing.
    for (const [name, value] of Object.entries(values)) {
      const field = this.fields.namedItem(name);
      const dirty = field.value !== (field.dataset.prefilled ?? '');
      if (force || (!dirty && document.activeElement !== field)) {
        field.value = String(value);
        field.dataset.prefilled = field.value;
      }
    }
    // The secret is never shown: the field stays empty, and says whether there is one to retype.
    const value = this.fields.namedItem('bypassValue');
    value.placeholder = p && p.bypassHeader ? 'set: type it again to keep it' : 'none';
    if (force) value.value = '';
  }

  // The form as the admin API's `protect`; a string is a mistake to show instead.
  protectOfForm() {
    const f = (name) => this.fields.namedItem(name).value;
    const protect = {
      origin: f('origin').trim(),
      sessionSeconds: Number(f('sessionSeconds')),
      failMode: f('failMode'),
      bypassCidrs: lines(f('bypassCidrs')),
      bypassHeader: null,
    };
    const paths = lines(f('paths'));
    // none typed: the server's default, every path
    if (paths.length) protect.paths = paths;
    const name = f('bypassName').trim();
    const value = f('bypassValue');
    if (name && !value) {
      return `Type the ${name} header's secret again: the server never shows it, and a save replaces it. ` +
        'Clear the header name to have no bypass header.';
    }
    if (value && !name) return 'Name the bypass header, or clear its secret.';
    if (name) protect.bypassHeader = { name, value };
    return protect;
  }

  save(button) {
    const protect = this.protectOfForm();
    if (typeof protect === 'string') return this.showError(protect);
    return this.apply({ protect }, (s) => `protects ${describeProtect(s.protect)}`, button);
  }

  // Turning protection off makes the proxy's check fail: ask first.
  confirmStop(button) {
    const p = this.queue.settings.protect;
    const stop = () => this.apply({ protect: null }, () => 'protection off', button);
    const what = `${this.queue.name}${p ? ` (${p.origin})` : ''}`;
    this.dialog.querySelector('#unprotect-queue').textContent = what;
    if (typeof this.dialog.showModal !== 'function') {
      if (window.confirm(`Stop protecting the site of ${what}?`)) stop();
      return;
    }
    this.dialog.returnValue = '';
    this.dialog.addEventListener(
      'close',
      () => {
        if (this.dialog.returnValue === 'confirm') stop();
        else button.focus();
      },
      { once: true },
    );
    this.dialog.showModal();
  }

  async apply(patch, describe, button) {
    const name = await this.run(button, async (token, queue) => {
      const settings = await admin.change(token, queue, patch);
      setText(this.status, `${queue}: ${describe(settings)} (${fmtClock(Date.now())}).`);
      if (this.queue && this.queue.name === queue) {
        this.queue = { ...this.queue, settings };
        this.render(settings.protect, true);
      }
    });
    if (name) this.onChanged(name);
  }

  async newKey(button) {
    this.hideKey();
    await this.run(button, async (token, queue) => {
      const { key } = await admin.originKey(token, queue);
      if (!this.queue || this.queue.name !== queue) return;
      this.keyValue.value = key;
      this.keyBox.hidden = false;
      this.keyValue.focus();
      this.keyValue.select();
      setText(this.status, `${queue}: a new origin key, shown below this once (${fmtClock(Date.now())}).`);
    });
  }

  async copyKey() {
    this.keyValue.select();
    try {
      await navigator.clipboard.writeText(this.keyValue.value);
      setText(this.status, 'The origin key is copied.');
    } catch {
      setText(this.status, 'The browser refused to copy: the key is selected, copy it by hand.');
    }
  }

  hideKey() {
    this.keyBox.hidden = true;
    this.keyValue.value = '';
  }

  // One call of the admin API for the queue selected now; its error, the server's message, shown here.
  async run(button, call) {
    const token = this.getToken();
    if (!token || !this.queue) return null;
    const queue = this.queue.name;
    this.showError(null);
    setText(this.status, '');
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      await call(token, queue);
      return queue;
    } catch (err) {
      this.showError(`Could not change ${queue}: ${err.describe ? err.describe() : String(err)}`);
      if (err.status === 401) this.onUnauthorized(err);
      return null;
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }

  showError(message) {
    this.error.hidden = !message;
    setText(this.error, message || '');
  }
}
