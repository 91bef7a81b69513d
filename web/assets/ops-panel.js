// What the admin panels share: one admin API call at a time (its button busy
// meanwhile), the server's error shown in the panel, a refused token handed
// back to the page, and the confirmation asked before a change that turns
// people away or drops what is owed. A queue's settings panels
// (QueuePanel) call for the queue selected when they were asked.

import { fmtClock, setText } from './ops-format.js';

// Asks with a <dialog> whose form has a button of value "confirm"; resolves
// true on it. Focus goes back to `button` on a cancel. Without <dialog>
// support, the browser's own confirm() with `fallback` as its question.
export function confirmDialog(dialog, fallback, button) {
  if (typeof dialog.showModal !== 'function') return Promise.resolve(window.confirm(fallback));
  return new Promise((resolve) => {
    dialog.returnValue = '';
    dialog.addEventListener(
      'close',
      () => {
        const yes = dialog.returnValue === 'confirm';
        if (!yes && button) button.focus();
        resolve(yes);
      },
      { once: true },
    );
    dialog.showModal();
  });
}

// A panel of admin calls that concern no queue in particular (the webhooks).
export class AdminPanel {
  constructor({ fieldset, status, error, getToken, onUnauthorized }) {
    Object.assign(this, { fieldset, status, error, getToken, onUnauthorized });
    this.buttons = new Map([...fieldset.querySelectorAll('[data-action]')].map((b) => [b.dataset.action, b]));
  }

  setEnabled(enabled) {
    this.fieldset.disabled = !enabled;
  }

  // One call of the admin API with the token; its error, the server's code
  // and message, shown in the panel after `failed`. A `quiet` call (a read
  // after a change) leaves the change's message up. True when it succeeded.
  async attempt(button, call, { failed = 'Could not change', quiet = false } = {}) {
    const token = this.getToken();
    if (!token) return false;
    if (!quiet) {
      this.showError(null);
      setText(this.status, '');
    }
    if (button) {
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
    }
    try {
      await call(token);
      return true;
    } catch (err) {
      this.showError(`${failed}: ${err.describe ? err.describe() : String(err)}`);
      if (err.status === 401) this.onUnauthorized(err);
      return false;
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
}

export class QueuePanel extends AdminPanel {
  constructor({ onChanged, ...common }) {
    super(common);
    this.onChanged = onChanged;
    this.queue = null;
  }

  // Keeps the selected queue's figures; true when another queue was selected,
  // whose panel starts without the previous one's messages.
  select(q) {
    const switched = !this.queue || this.queue.name !== q.name;
    this.queue = q;
    if (switched) {
      this.showError(null);
      setText(this.status, '');
    }
    return switched;
  }

  // "hero-autumn: challenge on (14:02:11)."
  say(queue, text) {
    setText(this.status, `${queue}: ${text} (${fmtClock(Date.now())}).`);
  }

  // One call for the queue selected now (`failed` and the queue's name start
  // its error). Answers the queue's name when the call succeeded, null otherwise.
  async run(button, call, { failed = 'Could not change', quiet = false } = {}) {
    if (!this.queue) return null;
    const queue = this.queue.name;
    const ok = await this.attempt(button, (token) => call(token, queue), { failed: `${failed} ${queue}`, quiet });
    return ok ? queue : null;
  }
}

// Fills a form's fields with the live values, but never over what the
// operator is typing: a field edited since it was last filled is left alone
// unless `force` (another queue, or the answer to the operator's own save).
export function prefill(fields, values, force) {
  for (const [name, value] of Object.entries(values)) {
    const field = fields.namedItem(name);
    if (field.type === 'checkbox') {
      const dirty = String(field.checked) !== (field.dataset.prefilled ?? String(field.checked));
      if (force || (!dirty && document.activeElement !== field)) {
        field.checked = Boolean(value);
        field.dataset.prefilled = String(field.checked);
      }
      continue;
    }
    const dirty = field.value !== (field.dataset.prefilled ?? '');
    if (force || (!dirty && document.activeElement !== field)) {
      field.value = String(value);
      field.dataset.prefilled = field.value;
    }
  }
}
