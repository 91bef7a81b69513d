// Webhooks (docs/operations.md, Webhooks): registering an endpoint for some
// event types, whose secret the server shows once, in its answer, so this
// panel shows it once too; the endpoints with their deliveries counted by
// state; removing one after a confirmation; and an endpoint's latest
// deliveries with each attempt's status or error. Webhooks belong to no
// queue, so the panel is the page's, not the selected queue's. The list and
// the deliveries are Postgres reads: read when the token is entered, after a
// change and on Refresh, not on every poll.

import { admin } from './ops-api.js';
import { count, el, fmtClock, fmtDateTime, fmtInt, fmtMs, setText } from './ops-format.js';
import { AdminPanel, confirmDialog } from './ops-panel.js';

// The deliveries view shows an endpoint's latest this many (the server allows up to 1,000).
const DELIVERIES_SHOWN = 50;

const STATE_BADGE = { delivered: 'badge-ok', pending: 'badge-warn', failed: 'badge-bad' };

// "#2 14:02:16 · 200 · 8 ms", or the error when the endpoint did not answer.
// An error beside a status only restates it ("answered 503"): the status says it.
function describeAttempt(a) {
  const outcome = a.status !== undefined && a.status !== null ? String(a.status) : a.error || 'no answer';
  return `#${a.attempt} ${fmtClock(Date.parse(a.at))} · ${outcome} · ${fmtMs(a.durationMs)}`;
}

export class WebhooksPanel extends AdminPanel {
  constructor({ rows, summary, secretBox, secretValue, deliveries, dialog, ...common }) {
    super(common);
    Object.assign(this, { rows, summary, secretBox, secretValue, deliveries, dialog });
    this.form = this.fieldset.querySelector('form');
    this.fields = this.form.elements;
    this.shown = null;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.register(event.submitter);
    });
    const on = (action, handler) => this.buttons.get(action).addEventListener('click', (e) => handler.call(this, e.currentTarget));
    on('copy-secret', this.copySecret);
    on('refresh-webhooks', this.refresh);
    on('refresh-deliveries', (button) => this.readDeliveries(this.shown, button));
    on('close-deliveries', this.hideDeliveries);
  }

  setEnabled(enabled) {
    super.setEnabled(enabled);
    if (enabled) {
      this.list(null);
      return;
    }
    this.hideSecret();
    this.hideDeliveries();
    this.rows.replaceChildren(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'Needs the admin token.')));
    setText(this.summary, '—');
  }

  // "Endpoint https://… registered (14:02:11)."
  say(text) {
    setText(this.status, `${text} (${fmtClock(Date.now())}).`);
  }

  // The form as the admin API's body; a string is a mistake to show instead.
  // The URL is the server's to judge: its refusal says what it takes.
  endpointOfForm() {
    const url = this.fields.namedItem('url').value.trim();
    if (!url) return "Type the endpoint's URL.";
    const events = [...this.form.querySelectorAll('input[name="events"]:checked')].map((box) => box.value);
    if (!events.length) return 'Tick at least one event type.';
    const endpoint = { url, events };
    const secret = this.fields.namedItem('secret').value.trim();
    // none typed: the server makes one
    if (secret) endpoint.secret = secret;
    return endpoint;
  }

  async register(button) {
    const endpoint = this.endpointOfForm();
    if (typeof endpoint === 'string') return this.showError(endpoint);
    this.hideSecret();
    const ok = await this.attempt(
      button,
      async (token) => {
        const made = await admin.newWebhook(token, endpoint);
        setText(this.secretBox.querySelector('label'), `Secret of ${made.url}`);
        this.secretValue.value = made.secret;
        this.secretBox.dataset.id = made.id;
        this.secretBox.hidden = false;
        this.fields.namedItem('secret').value = '';
        this.secretValue.focus();
        this.secretValue.select();
        this.say(`Endpoint ${made.url} registered for ${made.events.join(', ')}; its secret is shown below this once`);
      },
      { failed: 'Could not register the endpoint' },
    );
    if (ok) await this.list(null);
    return undefined;
  }

  async copySecret() {
    this.secretValue.select();
    try {
      await navigator.clipboard.writeText(this.secretValue.value);
      setText(this.status, 'The secret is copied.');
    } catch {
      setText(this.status, 'The browser refused to copy: the secret is selected, copy it by hand.');
    }
  }

  hideSecret() {
    this.secretBox.hidden = true;
    this.secretValue.value = '';
    delete this.secretBox.dataset.id;
  }

  // Refresh: the list, and the deliveries shown with it.
  async refresh(button) {
    await this.list(button);
    if (this.shown) await this.readDeliveries(this.shown, null);
  }

  // Reads the list; only a Refresh clicked clears the panel's messages.
  async list(button) {
    await this.attempt(
      button,
      async (token) => {
        const endpoints = await admin.webhooks(token);
        if (this.getToken()) this.render(endpoints);
      },
      { failed: 'Could not read the endpoints', quiet: !button },
    );
  }

  render(endpoints) {
    const sum = (key) => endpoints.reduce((n, e) => n + e[key], 0);
    setText(
      this.summary,
      endpoints.length
        ? `${count(endpoints.length, 'endpoint')}; deliveries ${fmtInt(sum('delivered'))} delivered, ${fmtInt(sum('pending'))} ` +
            `pending, ${fmtInt(sum('failed'))} failed (read at ${fmtClock(Date.now())}).`
        : `No endpoints yet (read at ${fmtClock(Date.now())}).`,
    );
    if (!endpoints.length) {
      this.rows.replaceChildren(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No endpoint is registered: no event is sent anywhere.')));
      return;
    }
    this.rows.replaceChildren(
      ...endpoints.map((e) =>
        el(
          'tr',
          { dataset: { id: e.id, pending: e.pending, delivered: e.delivered, failed: e.failed } },
          el('td', { class: 'hook' }, el('span', { class: 'hook-url' }, e.url), el('span', { class: 'hook-events small muted' }, e.events.join(', '))),
          el('td', {}, fmtDateTime(e.createdAt)),
          el('td', { class: 'num pending' }, fmtInt(e.pending)),
          el('td', { class: 'num delivered' }, fmtInt(e.delivered)),
          el('td', { class: `num failed${e.failed > 0 ? ' bad' : ''}` }, fmtInt(e.failed)),
          el(
            'td',
            {},
            el(
              'div',
              { class: 'row' },
              el('button', { type: 'button', class: 'show-deliveries', onclick: (ev) => this.readDeliveries(e, ev.currentTarget) }, 'Deliveries'),
              el('button', { type: 'button', class: 'btn-danger remove', onclick: (ev) => this.confirmRemove(e, ev.currentTarget) }, 'Remove…'),
            ),
          ),
        ),
      ),
    );
  }

  // Removing drops what is still owed to the endpoint: ask first.
  async confirmRemove(endpoint, button) {
    this.dialog.querySelector('#webhook-remove-url').textContent = endpoint.url;
    if (!(await confirmDialog(this.dialog, `Remove the endpoint ${endpoint.url}?`, button))) return;
    const ok = await this.attempt(button, (token) => admin.removeWebhook(token, endpoint.id), {
      failed: `Could not remove ${endpoint.url}`,
    });
    if (!ok) return;
    this.say(`Endpoint ${endpoint.url} removed`);
    if (this.shown && this.shown.id === endpoint.id) this.hideDeliveries();
    await this.list(null);
  }

  async readDeliveries(endpoint, button) {
    if (!endpoint) return;
    this.shown = endpoint;
    const ok = await this.attempt(
      button,
      async (token) => {
        const found = await admin.deliveries(token, endpoint.id, DELIVERIES_SHOWN);
        if (this.shown && this.shown.id === endpoint.id && this.getToken()) this.renderDeliveries(endpoint, found);
      },
      { failed: `Could not read the deliveries to ${endpoint.url}`, quiet: !button },
    );
    // a click on an endpoint's Deliveries takes the reader there
    if (ok && button && button.classList.contains('show-deliveries')) this.deliveries.focus();
  }

  renderDeliveries(endpoint, found) {
    const box = this.deliveries;
    box.dataset.id = endpoint.id;
    setText(box.querySelector('#deliveries-url'), endpoint.url);
    const latest = found.length === DELIVERIES_SHOWN ? `The latest ${fmtInt(DELIVERIES_SHOWN)} deliveries` : count(found.length, 'delivery', 'deliveries');
    setText(
      box.querySelector('#deliveries-summary'),
      found.length
        ? `${latest}, newest event first (read at ${fmtClock(Date.now())}).`
        : `None yet: each event of the types it asked for, from its registration on, is sent within a second or so (read at ${fmtClock(Date.now())}).`,
    );
    const rows = found.map((d) => {
      const attempts = d.attempts.map((a) => el('li', { class: a.error ? 'attempt-failed' : 'attempt-ok' }, describeAttempt(a)));
      // attempts begun by an instance that died before the answer have no outcome
      const cut = d.attemptCount - d.attempts.length;
      if (cut > 0) attempts.push(el('li', { class: 'muted' }, `${cut} cut off with no outcome (an instance ended mid-attempt)`));
      if (!d.attemptCount) attempts.push(el('li', { class: 'muted' }, 'not tried yet'));
      return el(
        'tr',
        { dataset: { event: d.eventId, state: d.state, type: d.eventType } },
        el('td', {}, el('code', {}, d.eventType), el('span', { class: 'muted small' }, ` ${d.webhookId}`)),
        el(
          'td',
          {},
          el('span', { class: `badge ${STATE_BADGE[d.state] || ''}` }, d.state),
          d.nextAttemptAt ? el('span', { class: 'muted small' }, ` next attempt ${fmtClock(Date.parse(d.nextAttemptAt))}`) : null,
        ),
        el('td', {}, el('ol', { class: 'attempts' }, attempts)),
      );
    });
    if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: 3, class: 'muted' }, 'No deliveries.')));
    box.querySelector('#deliveries-rows').replaceChildren(...rows);
    box.hidden = false;
  }

  hideDeliveries() {
    this.shown = null;
    this.deliveries.hidden = true;
    delete this.deliveries.dataset.id;
  }
}
