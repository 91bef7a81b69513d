// The selected queue's protected site (docs/protect-a-site.md): the form that
// sets the admin API's `protect`, turning it off, and making an origin key,
// which the server shows once and keeps only as a hash.

import { admin } from './ops-api.js';
import { setText } from './ops-format.js';
import { confirmDialog, prefill, QueuePanel } from './ops-panel.js';

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

export class ProtectPanel extends QueuePanel {
  constructor({ summary, keyBox, keyValue, dialog, ...common }) {
    super(common);
    Object.assign(this, { summary, keyBox, keyValue, dialog });
    this.form = this.fieldset.querySelector('form');
    this.fields = this.form.elements;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.save(event.submitter);
    });
    this.buttons.get('unprotect').addEventListener('click', (e) => this.confirmStop(e.currentTarget));
    this.buttons.get('origin-key').addEventListener('click', (e) => this.newKey(e.currentTarget));
    this.buttons.get('copy-key').addEventListener('click', () => this.copyKey());
  }

  setEnabled(enabled) {
    super.setEnabled(enabled);
    if (!enabled) this.hideKey();
  }

  // Called on every poll with the selected queue's figures.
  show(q) {
    const switched = this.select(q);
    if (switched) this.hideKey();
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
    prefill(this.fields, values, force);
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
  async confirmStop(button) {
    const p = this.queue.settings.protect;
    const what = `${this.queue.name}${p ? ` (${p.origin})` : ''}`;
    this.dialog.querySelector('#unprotect-queue').textContent = what;
    if (await confirmDialog(this.dialog, `Stop protecting the site of ${what}?`, button)) {
      await this.apply({ protect: null }, () => 'protection off', button);
    }
  }

  async apply(patch, describe, button) {
    const name = await this.run(button, async (token, queue) => {
      const settings = await admin.change(token, queue, patch);
      this.say(queue, describe(settings));
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
      this.say(queue, 'a new origin key, shown below this once');
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
}
