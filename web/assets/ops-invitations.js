// The selected queue's presale invitations (docs/operations.md, Presale
// invitations): a form that makes a batch of codes, the new batch shown to
// copy or save as CSV, and the queue's codes with the uses they have left.
// The list is read from Postgres, so it is read when the queue is chosen,
// after a batch and on Refresh, not on every poll. Both CSV files are the
// server's (GET …/invitations with Accept: text/csv): one format, one home.

import { admin } from './ops-api.js';
import { el, fmtClock, fmtInt, fmtLocal, saveFile, setText } from './ops-format.js';
import { QueuePanel } from './ops-panel.js';

const MOST_PER_BATCH = 10_000;
const MOST_USES = 1_000_000_000;
// A list longer than this is summed up in full but drawn in part: the CSV has every code.
const MOST_ROWS = 500;

// A whole number from 1 to `most` typed in a field, or null.
function countOf(text, most) {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return null;
  const number = Number(trimmed);
  return number >= 1 && number <= most ? number : null;
}

export class InvitationsPanel extends QueuePanel {
  constructor({ rows, summary, newBox, newCodes, newNote, ...common }) {
    super(common);
    Object.assign(this, { rows, summary, newBox, newCodes, newNote });
    this.form = this.fieldset.querySelector('form');
    this.fields = this.form.elements;
    this.listedFor = null;
    this.newBatch = [];
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.create(event.submitter);
    });
    const on = (action, handler) => this.buttons.get(action).addEventListener('click', (e) => handler.call(this, e.currentTarget));
    on('copy-codes', this.copyCodes);
    on('download-new', this.downloadNew);
    on('download-all', this.downloadAll);
    on('refresh-invitations', this.refresh);
  }

  setEnabled(enabled) {
    super.setEnabled(enabled);
    if (enabled) return;
    this.hideNew();
    this.listedFor = null;
    this.rows.replaceChildren(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'Needs the admin token.')));
    setText(this.summary, '—');
  }

  // Called on every poll with the selected queue's figures: a queue not listed yet is read once.
  show(q) {
    if (this.select(q)) this.hideNew();
    if (this.getToken() && this.listedFor !== q.name) {
      this.listedFor = q.name;
      this.refresh(null);
    }
  }

  // The form as the admin API's terms; a string is a mistake to show instead.
  termsOfForm() {
    const f = (name) => this.fields.namedItem(name).value;
    const count = countOf(f('count'), MOST_PER_BATCH);
    if (count === null) return `The number of codes must be a whole number from 1 to ${fmtInt(MOST_PER_BATCH)}.`;
    const uses = countOf(f('uses'), MOST_USES);
    if (uses === null) return `The uses of each code must be a whole number from 1 to ${fmtInt(MOST_USES)}.`;
    const terms = { count, uses };
    const userId = f('userId').trim();
    if (userId) terms.userId = userId;
    let until = f('validUntil');
    if (until) {
      // datetime-local leaves out ":00" seconds; the server wants them
      if (/T\d\d:\d\d$/.test(until)) until += ':00';
      terms.validUntil = until;
    }
    return terms;
  }

  async create(button) {
    const terms = this.termsOfForm();
    if (typeof terms === 'string') return this.showError(terms);
    this.hideNew();
    const name = await this.run(
      button,
      async (token, queue) => {
        const { codes } = await admin.invite(token, queue, terms);
        if (!this.queue || this.queue.name !== queue) return;
        this.newBatch = codes;
        this.newCodes.value = codes.join('\n');
        const who = terms.userId ? ` for user ${terms.userId} only` : '';
        const until = terms.validUntil ? `, until ${fmtLocal(terms.validUntil)}` : '';
        setText(this.newNote, `${fmtInt(codes.length)} new codes of ${fmtInt(terms.uses)} uses each${who}${until}.`);
        this.newBox.hidden = false;
        this.newCodes.focus();
        this.newCodes.select();
        this.say(queue, `${fmtInt(codes.length)} invitation codes made, shown below`);
      },
      { failed: 'Could not make codes for' },
    );
    if (name) await this.list(name);
    return undefined;
  }

  async copyCodes() {
    this.newCodes.select();
    try {
      await navigator.clipboard.writeText(this.newCodes.value);
      setText(this.status, 'The new codes are copied, one a line.');
    } catch {
      setText(this.status, 'The browser refused to copy: the codes are selected, copy them by hand.');
    }
  }

  // The new batch's lines of the server's CSV, under its header row.
  async downloadNew(button) {
    const batch = new Set(this.newBatch);
    await this.run(
      button,
      async (token, queue) => {
        const [header, ...lines] = (await admin.invitationsCsv(token, queue)).split('\n');
        const mine = lines.filter((line) => batch.has(line.split(',')[0]));
        saveFile(`${[header, ...mine].join('\n')}\n`, `invitations-${queue}-new.csv`);
        this.say(queue, `${fmtInt(mine.length)} new codes saved as CSV`);
      },
      { failed: 'Could not read the codes of' },
    );
  }

  async downloadAll(button) {
    await this.run(
      button,
      async (token, queue) => {
        const text = await admin.invitationsCsv(token, queue);
        saveFile(text, `invitations-${queue}.csv`);
        const count = text.split('\n').filter(Boolean).length - 1;
        this.say(queue, `${fmtInt(count)} codes saved as CSV`);
      },
      { failed: 'Could not read the codes of' },
    );
  }

  refresh(button) {
    return this.queue ? this.list(this.queue.name, button) : undefined;
  }

  // Reads the list; only a Refresh clicked clears the panel's messages.
  async list(queue, button = null) {
    if (!this.queue || this.queue.name !== queue) return;
    await this.run(
      button,
      async (token) => {
        const codes = await admin.invitations(token, queue);
        if (!this.queue || this.queue.name !== queue || !this.getToken()) return;
        this.render(codes, queue);
      },
      { failed: 'Could not read the codes of', quiet: !button },
    );
  }

  render(codes, queue) {
    this.rows.dataset.queue = queue;
    const left = codes.reduce((n, c) => n + c.usesLeft, 0);
    const uses = codes.reduce((n, c) => n + c.uses, 0);
    const shown = codes.length > MOST_ROWS ? `; the first ${fmtInt(MOST_ROWS)} shown, the CSV has them all` : '';
    setText(
      this.summary,
      codes.length
        ? `${fmtInt(codes.length)} codes, ${fmtInt(left)} of ${fmtInt(uses)} uses left (read at ${fmtClock(Date.now())})${shown}.`
        : `No codes yet (read at ${fmtClock(Date.now())}).`,
    );
    if (!codes.length) {
      this.rows.replaceChildren(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No invitation codes for this queue.')));
      return;
    }
    this.rows.replaceChildren(
      ...codes.slice(0, MOST_ROWS).map((c) =>
        el(
          'tr',
          { dataset: { code: c.code, left: c.usesLeft } },
          el('td', { class: 'code' }, c.code),
          el('td', { class: 'num left' }, fmtInt(c.usesLeft)),
          el('td', { class: 'num' }, fmtInt(c.uses)),
          el('td', {}, c.userId || 'anyone'),
          el('td', {}, c.validUntil ? fmtLocal(c.validUntil) : '—'),
          el('td', {}, fmtLocal(c.createdAt)),
        ),
      ),
    );
  }

  hideNew() {
    this.newBox.hidden = true;
    this.newCodes.value = '';
    this.newBatch = [];
  }
}
