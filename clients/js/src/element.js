// <boxoffice-waiting-room>: the waiting loop (WaitingRoom) with a small,
// accessible view, for a page that wants a line without writing one:
//
//   <boxoffice-waiting-room concert="hero-autumn" user="…uuid…"></boxoffice-waiting-room>
//
// Attributes: `concert`, `user` (both needed; the loop starts once both are
// set and the element is in the document), `base-url` (where boxoffice
// answers, default this origin), `hidden-grace` (seconds a hidden tab keeps
// polling, default 60), `invitation` (a presale code). Every event of the
// loop (`admitted` above all, with `detail.token`) is dispatched again on the
// element, bubbling and composed. `element.room` is the WaitingRoom;
// `element.texts` replaces the English sentences (same keys, same {n}/{t}/{s}).
import { WaitingRoom } from './waiting-room.js';

const EVENTS = ['ticket', 'position', 'admitted', 'expired', 'retry', 'paused', 'resumed', 'lost', 'error'];

export const TEXTS = {
  joining: 'Joining the line…',
  position: 'You are number {n} in line.',
  eta: 'About {t} to go. Keep this page open.',
  prequeue: 'The line opens at {t}.',
  admitted: 'It is your turn.',
  expired: 'Your turn has passed.',
  closed: 'This sale is closed.',
  refused: 'Could not join: {t}',
  retry: 'The line is busy. Trying again in {s} s.',
  paused: 'Paused while this tab is hidden: come back to keep your place.',
  joinAgain: 'Join again',
};

const STYLE = `
:host { display: block; font: inherit; }
p { margin: 0.25em 0; }
[part="status"] { font-size: 1.25em; font-weight: 600; }
[hidden] { display: none; }
`;

export class WaitingRoomElement extends HTMLElement {
  static observedAttributes = ['concert', 'user', 'base-url', 'hidden-grace', 'invitation'];

  #status;
  #detail;
  #again;
  #note = '';
  #ticker = 0;

  constructor() {
    super();
    this.texts = TEXTS;
    this.room = null;
    const root = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = STYLE;
    // The one sentence screen readers hear: it changes only when the place does.
    this.#status = Object.assign(document.createElement('p'), { role: 'status' });
    this.#status.setAttribute('part', 'status');
    this.#status.setAttribute('aria-live', 'polite');
    this.#detail = document.createElement('p');
    this.#detail.setAttribute('part', 'detail');
    this.#again = Object.assign(document.createElement('button'), { type: 'button', hidden: true });
    this.#again.setAttribute('part', 'button');
    this.#again.addEventListener('click', () => this.room?.join({ fresh: true }));
    root.append(style, this.#status, this.#detail, this.#again);
  }

  connectedCallback() {
    this.#begin();
    this.#ticker = setInterval(() => this.#render(), 1000);
  }

  disconnectedCallback() {
    clearInterval(this.#ticker);
    this.room?.stop();
    this.room = null;
  }

  attributeChangedCallback(_name, before, after) {
    if (before !== after && this.isConnected) this.#begin();
  }

  /** The token of the admission, once admitted (the booking API's `Authorization: Bearer`). */
  get token() {
    return this.room?.status === 'admitted' ? this.room.token : null;
  }

  get status() {
    return this.room?.status ?? 'idle';
  }

  #begin() {
    const concert = this.getAttribute('concert');
    const user = this.getAttribute('user');
    if (this.room && this.room.concert === concert && this.room.user === user) return;
    this.room?.stop();
    this.room = null;
    if (!concert || !user) return;
    const grace = Number(this.getAttribute('hidden-grace'));
    const room = new WaitingRoom({
      concert,
      user,
      baseUrl: (this.getAttribute('base-url') || '').replace(/\/+$/, ''),
      invitation: this.getAttribute('invitation') || undefined,
      ...(grace > 0 ? { hiddenGraceMs: grace * 1000 } : {}),
    });
    for (const type of EVENTS) {
      room.addEventListener(type, (event) => {
        if (type === 'retry' || type === 'paused') this.#note = type;
        if (type === 'ticket' || type === 'resumed') this.#note = '';
        if (type === 'error') this.#note = event.detail.error.message;
        this.#render();
        this.dispatchEvent(new CustomEvent(type, { detail: event.detail, bubbles: true, composed: true }));
      });
    }
    this.room = room;
    room.start();
    this.#render();
  }

  #say(key, values = {}) {
    return (this.texts[key] ?? TEXTS[key]).replace(/\{(\w)\}/g, (_, name) => String(values[name] ?? ''));
  }

  #render() {
    const room = this.room;
    const ticket = room?.ticket;
    const status = room?.status ?? 'idle';
    let sentence = '';
    let detail = '';
    if (status === 'joining') sentence = this.#say('joining');
    else if (status === 'waiting' && ticket?.position) {
      sentence = this.#say('position', { n: ticket.position.toLocaleString() });
      if (ticket.etaSeconds) detail = this.#say('eta', { t: minutes(ticket.etaSeconds) });
    } else if (status === 'prequeue') sentence = this.#say('prequeue', { t: ticket?.opensAt?.replace('T', ' ').slice(0, 16) });
    else if (['admitted', 'expired', 'closed'].includes(status)) sentence = this.#say(status);
    else if (status === 'refused') sentence = this.#say('refused', { t: this.#note });
    if (this.#note === 'retry' && room?.nextPollAt) {
      detail = this.#say('retry', { s: Math.max(0, Math.ceil((room.nextPollAt - Date.now()) / 1000)) });
    } else if (this.#note === 'paused') detail = this.#say('paused');
    // Rewriting a live region, even with the same words, can make a screen reader repeat it.
    if (this.#status.textContent !== sentence) this.#status.textContent = sentence;
    this.#detail.textContent = detail;
    this.#again.textContent = this.#say('joinAgain');
    this.#again.hidden = status !== 'expired';
  }
}

function minutes(seconds) {
  return seconds < 90 ? `${Math.max(1, Math.round(seconds))} s` : `${Math.round(seconds / 60)} min`;
}

if (globalThis.customElements && !customElements.get('boxoffice-waiting-room')) {
  customElements.define('boxoffice-waiting-room', WaitingRoomElement);
}
