// The waiting loop of one fan in one concert's line, as every frontend needs
// it (docs/client.md): join, then poll no sooner than the server asks
// (`pollAfterMs`, `Retry-After`), back off after refusals and silences, stop
// asking while the tab is hidden, keep the token across reloads, and take a
// lost place back by showing its token. The page only listens:
//
//   ticket    every answer: detail { ticket, status }
//   position  waiting with a place: detail { position, etaSeconds, ticket }
//   admitted  the turn came: detail { token, ticket } (the booking API's token)
//   expired   the turn passed, or the place was lost for good: detail { ticket }
//   retry     a request failed and goes again: detail { error, delayMs, at }
//   paused / resumed   the hidden tab stopped asking / asks again
//   lost      the server had no trace of the place: joining again with the token
//   error     refused for good (closed, unknown concert, …): detail { error }
//
// Statuses: idle, joining, waiting, prequeue (before the opening), admitted,
// expired, closed, refused.
import { ApiError, request, retryDelay } from './http.js';

const WAITING = '대기';
const ACTIVE = '활성';
const EXPIRED = '만료';
/** The refusals a solved proof-of-work challenge answers (docs/api.md). */
export const CHALLENGE_CODES = ['CHALLENGE_REQUIRED', 'CHALLENGE_FAILED'];
/** A token this user's line no longer knows, or never issued: join again. */
const TOKEN_UNKNOWN = ['TOKEN_NOT_FOUND', 'TOKEN_INVALID', 'TOKEN_MISMATCH'];
/** The server never asks to poll more often than once a second. */
const POLL_FLOOR_MS = 1000;
/** Solves in a row before a join gives up: a fresh challenge each time,
 * since a solution is taken once and a refused one is spent or stale. */
export const MOST_SOLVES = 3;

/** The pause before solving again after a failed solve (say, the challenge was
 * shed with a 503): longer after each, with jitter, so that a crowd that
 * failed together does not come back together. */
export function solvePauseMs(failures) {
  return 1000 * failures * (1 + Math.random());
}
/** Lost places taken back in a row before the loop says so and stops. */
const MOST_LOSSES = 3;
const FOLLOWING = ['waiting', 'prequeue'];

export class WaitingRoom extends EventTarget {
  #options;
  #run = 0; // bumped by stop(): answers to an older run are dropped
  #timer = 0;
  #hiddenTimer = 0;
  #failures = 0;
  #losses = 0;
  #notBefore = 0;
  #onVisibility = () => this.#visibilityChanged();

  /**
   * @param {object} options see index.d.ts: concert, user, and optionally
   *   baseUrl, storage, storageKey, hiddenGraceMs, headers, invitation,
   *   solveChallenge, fetch, document.
   */
  constructor(options) {
    super();
    if (!options?.concert || !options?.user) throw new TypeError('WaitingRoom needs a concert code and a user UUID');
    this.#options = {
      baseUrl: '',
      hiddenGraceMs: 60000,
      headers: {},
      storage: globalThis.sessionStorage,
      storageKey: `boxoffice.waiting-room:${options.concert}:${options.user}`,
      fetch: (...args) => globalThis.fetch(...args),
      document: globalThis.document,
      ...options,
    };
    this.status = 'idle';
    this.ticket = null;
    this.token = this.#load();
    this.paused = false;
    this.polling = false;
    this.nextPollAt = 0;
    this.lastAnswerAt = 0;
  }

  get concert() {
    return this.#options.concert;
  }

  get user() {
    return this.#options.user;
  }

  /** Follows the saved place if there is one (a reload), else joins. */
  start() {
    if (!this.token) {
      this.join();
      return this;
    }
    const run = this.#restart();
    this.#options.document?.addEventListener('visibilitychange', this.#onVisibility);
    this.status = 'waiting';
    this.#pollNow(run);
    return this;
  }

  /** Takes a place (or gets the same one back: joining is idempotent). `fresh` drops the saved token first. */
  join({ fresh = false } = {}) {
    if (fresh) this.#save(null);
    const run = this.#restart();
    this.#options.document?.addEventListener('visibilitychange', this.#onVisibility);
    this.status = 'joining';
    this.#join(run, { payload: null, solves: 0 });
  }

  /** Stops asking; the saved token stays, so start() later (or a reload) picks up the place. */
  stop() {
    this.#restart();
    this.#options.document?.removeEventListener('visibilitychange', this.#onVisibility);
    clearTimeout(this.#hiddenTimer);
  }

  /** Stops and forgets the token on this device (after a payment ended it, or to start over). */
  leave() {
    this.stop();
    this.#save(null);
    this.ticket = null;
    this.status = 'idle';
  }

  #restart() {
    clearTimeout(this.#timer);
    this.#timer = 0;
    this.nextPollAt = 0;
    this.polling = false;
    this.#failures = 0;
    this.#notBefore = 0;
    return ++this.#run;
  }

  #url() {
    return `${this.#options.baseUrl}/api/v1/concerts/${encodeURIComponent(this.#options.concert)}/token`;
  }

  async #join(run, proof, presented = null) {
    const headers = { ...this.#options.headers };
    if (proof.payload) headers['X-Altcha'] = proof.payload;
    if (this.#options.invitation) headers['X-Invitation'] = this.#options.invitation;
    try {
      const { data } = await request(this.#options.fetch, 'POST', this.#url(), {
        body: { UUID: this.#options.user },
        token: presented,
        headers,
        now: this.#options.now,
      });
      if (run !== this.#run) return;
      this.#failures = 0;
      this.#answered(run, data);
    } catch (error) {
      if (run !== this.#run) return;
      if (CHALLENGE_CODES.includes(error.code) && this.#options.solveChallenge && proof.solves < MOST_SOLVES) {
        this.#solveThenJoin(run, error.body?.challengeUrl, proof.solves, presented);
      } else if (error.transient) {
        // The same solution goes again: if the refused join had taken it, the retry is told so and solves anew.
        this.#retry(run, error, () => this.#join(run, proof, presented));
      } else {
        this.#refused(error);
      }
    }
  }

  async #solveThenJoin(run, challengeUrl, solves, presented) {
    const url = challengeUrl || `${this.#options.baseUrl}/queues/${encodeURIComponent(this.#options.concert)}/challenge`;
    let payload = null;
    try {
      payload = await this.#options.solveChallenge(url);
    } catch {
      payload = null;
    }
    if (run !== this.#run) return;
    if (payload) return this.#join(run, { payload, solves: solves + 1 }, presented);
    if (solves + 1 >= MOST_SOLVES) {
      return this.#refused(new ApiError(403, 'UNSOLVED', 'the challenge could not be solved'));
    }
    const wait = solvePauseMs(solves + 1);
    this.#timer = setTimeout(() => this.#solveThenJoin(run, challengeUrl, solves + 1, presented), wait);
  }

  async #pollNow(run) {
    this.#timer = 0;
    if (run !== this.#run || this.polling || this.paused || !this.token) return;
    this.polling = true;
    this.nextPollAt = 0;
    try {
      const { data } = await request(this.#options.fetch, 'GET', this.#url(), {
        token: this.token,
        headers: this.#options.headers,
        now: this.#options.now,
      });
      if (run !== this.#run) return;
      this.polling = false;
      this.#failures = 0;
      this.#losses = 0;
      this.#answered(run, data);
    } catch (error) {
      if (run !== this.#run) return;
      this.polling = false;
      this.#pollFailed(run, error);
    }
  }

  #pollFailed(run, error) {
    if (error.code === 'TOKEN_EXPIRED') {
      this.status = 'expired';
      this.#emit('expired', { ticket: this.ticket, error });
      return;
    }
    if (TOKEN_UNKNOWN.includes(error.code)) {
      // The line has no trace of this place (a Redis that lost its last writes,
      // say): joining again with the token takes the same place back when the
      // server can, and a place at the back when it cannot.
      if (++this.#losses > MOST_LOSSES) return this.#refused(error);
      const presented = error.code === 'TOKEN_NOT_FOUND' ? this.token : null;
      this.#emit('lost', { error });
      this.status = 'joining';
      this.#join(run, { payload: null, solves: 0 }, presented);
      return;
    }
    if (error.transient) {
      this.#retry(run, error, () => this.#pollNow(run));
      return;
    }
    this.#refused(error);
  }

  /** Goes again no sooner than the server asked, later after each failure in a row. */
  #retry(run, error, again) {
    this.#failures += 1;
    const delayMs = retryDelay(error, this.#failures);
    this.#notBefore = Date.now() + delayMs;
    this.#schedule(run, again, delayMs);
    this.#emit('retry', { error, delayMs, at: this.#notBefore });
  }

  #schedule(run, action, wait) {
    clearTimeout(this.#timer);
    this.#timer = 0;
    if (this.paused) return;
    const delay = Math.max(wait, this.#notBefore - Date.now(), 0);
    this.nextPollAt = Date.now() + delay;
    this.#timer = setTimeout(() => run === this.#run && action(), delay);
  }

  #answered(run, ticket) {
    this.ticket = ticket;
    this.lastAnswerAt = Date.now();
    // Re-issued at admission to carry the admission's end: always keep the latest.
    if (ticket.token) this.#save(ticket.token);
    const status = ticket.tokenStatus === ACTIVE ? 'admitted'
      : ticket.tokenStatus === EXPIRED ? 'expired'
      : ticket.tokenStatus === WAITING && !ticket.position && ticket.opensAt ? 'prequeue'
      : 'waiting';
    this.status = status;
    this.#emit('ticket', { ticket, status });
    if (status === 'admitted') {
      this.#emit('admitted', { token: this.token, ticket });
      return;
    }
    if (status === 'expired') {
      this.#emit('expired', { ticket });
      return;
    }
    if (status === 'waiting' && ticket.position) {
      this.#emit('position', { position: ticket.position, etaSeconds: ticket.etaSeconds ?? null, ticket });
    }
    const wait = Math.max(POLL_FLOOR_MS, ticket.pollAfterMs || 2000);
    this.#notBefore = Date.now() + wait;
    this.#schedule(run, () => this.#pollNow(run), wait);
  }

  #refused(error) {
    this.#restart();
    this.status = error.code === 'QUEUE_CLOSED' ? 'closed' : 'refused';
    this.#emit('error', { error });
  }

  // ---- A hidden tab stops asking after a grace, and asks again when shown ----

  #visibilityChanged() {
    clearTimeout(this.#hiddenTimer);
    const document = this.#options.document;
    if (document?.visibilityState === 'hidden') {
      // Switching apps for a moment costs nothing; a tab left behind stops
      // costing the server, and the page says when the place will be lost.
      this.#hiddenTimer = setTimeout(() => {
        if (!FOLLOWING.includes(this.status)) return;
        this.paused = true;
        clearTimeout(this.#timer);
        this.#timer = 0;
        this.nextPollAt = 0;
        this.#emit('paused', {});
      }, this.#options.hiddenGraceMs);
      return;
    }
    if (!this.paused) return;
    this.paused = false;
    this.#emit('resumed', {});
    const run = this.#run;
    this.#schedule(run, () => this.#pollNow(run), 0); // still no sooner than the last hint or back-off
  }

  // ---- The token survives a reload ----------------------------------------

  #load() {
    try {
      return this.#options.storage?.getItem(this.#options.storageKey) || null;
    } catch {
      return null; // storage unavailable: a reload joins again, which returns the same place
    }
  }

  #save(token) {
    this.token = token;
    try {
      if (token) this.#options.storage?.setItem(this.#options.storageKey, token);
      else this.#options.storage?.removeItem(this.#options.storageKey);
    } catch {
      // storage unavailable or full: the loop still works in this page
    }
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
