// The proof of work a queue may ask of each join (`403 CHALLENGE_REQUIRED`,
// docs/api.md): the vendored ALTCHA widget (vendor/altcha/, README there)
// fetches a fresh challenge of the queue, solves it in workers and hands back
// the payload the join then carries in `X-Altcha`. Shared by the fan's page
// and a protected site's room.
//
// Nothing is loaded until a queue asks: a queue without a challenge costs its
// fans not a byte. Every address is relative to this module, so the room
// works under a proxy's prefix too (/boxoffice/assets/...).

import { CHALLENGE_CODES, MOST_SOLVES, solvePauseMs } from './client/waiting-room.js';

/** The refusals a solved challenge answers, and solves in a row before a join
 * gives up: the frontends' package (clients/js) owns both. */
export { CHALLENGE_CODES, MOST_SOLVES };

/** A pause before solving again after the widget failed (clients/js says how long). */
export function pauseAfterFailure(failures) {
  return new Promise((resolve) => setTimeout(resolve, solvePauseMs(failures)));
}

const VENDOR = new URL('./vendor/altcha/', import.meta.url);
const ALGORITHM = 'PBKDF2/SHA-256';

let loading = null;

/** The widget, its styles, its Korean strings and the worker of the one algorithm the server issues. */
function loadWidget() {
  loading ??= (async () => {
    const styles = document.createElement('link');
    styles.rel = 'stylesheet';
    styles.href = new URL('altcha.css', VENDOR).href;
    const styled = new Promise((resolve, reject) => {
      styles.addEventListener('load', resolve);
      styles.addEventListener('error', () => reject(new Error('the widget\'s styles did not load')));
    });
    document.head.append(styles);
    await import(new URL('altcha.min.js', VENDOR).href);
    await import(new URL('i18n/ko.js', VENDOR).href);
    // The external build ships no worker: it is ours to name, from our own origin
    // (the default build would make them from blob: URLs, which the page's policy refuses).
    const worker = new URL('pbkdf2.js', VENDOR).href;
    globalThis.$altcha.algorithms.set(ALGORITHM, () => new Worker(worker));
    await styled;
  })().catch((error) => {
    loading = null; // a page that lost its connection for a moment may try again at the next join
    throw error;
  });
  return loading;
}

/** The widget in `box` (an element outside any form: the widget takes over a form's submit). */
export class Challenge {
  constructor(box) {
    this.box = box;
    this.widget = null;
    /** How long the last solve took, fetch of the challenge included (ms). */
    this.lastSolveMs = null;
  }

  /**
   * Shows the widget, which starts at once (no click), solves a fresh
   * challenge from `url` and resolves to the `X-Altcha` payload; rejects when
   * the widget fails (the challenge could not be fetched, no `crypto.subtle`
   * outside https, a worker error).
   */
  async solve(url, language, { minDurationMs = 0, workers = null } = {}) {
    await loadWidget();
    this.clear();
    const widget = document.createElement('altcha-widget');
    widget.setAttribute('challenge', new URL(url, location.href).href);
    widget.setAttribute('language', language);
    widget.setAttribute('auto', 'onload');
    if (workers) widget.setAttribute('workers', String(workers)); // else the widget's: one per core
    // The logo and the footer link to the project's site: this page links nowhere else.
    // No artificial pause after the work: a fan's join should not wait on a show.
    widget.setAttribute('configuration', JSON.stringify({
      hideLogo: true,
      hideFooter: true,
      minDuration: minDurationMs,
    }));
    const started = performance.now();
    const solved = new Promise((resolve, reject) => {
      widget.addEventListener('verified', (event) => {
        this.lastSolveMs = performance.now() - started;
        resolve(event.detail.payload);
      });
      widget.addEventListener('statechange', (event) => {
        const { state } = event.detail;
        if (state === 'error' || state === 'expired') reject(new Error(`the challenge could not be solved (${state})`));
      });
    });
    this.widget = widget;
    this.box.append(widget);
    return solved;
  }

  /** Follows the page's language switch while the widget is shown. */
  setLanguage(language) {
    this.widget?.setAttribute('language', language);
  }

  clear() {
    this.widget?.remove();
    this.widget = null;
  }
}
