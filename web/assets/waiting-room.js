// The fan's waiting room: pick a concert, join its line, follow the place in
// line at the pace the server asks for, then book (waiting-room-booking.js).
// URL parameters, for sites that link or embed it: `concert` (a concert code
// to preselect), `user` (a member number or UUID to prefill), `lang` (ko|en),
// `hiddenGrace` (seconds a hidden tab keeps polling; default min(60 s, idle/5)).
// The loop itself (pace, back-off, hidden tab, token across reloads, a lost
// place) is the frontends' package's WaitingRoom (clients/js), served at
// /assets/client/: this page is one of its users, so the two cannot drift.
import { t, setLang, lang, pickLang, rememberLang, duration, clock, errorText } from './waiting-room-i18n.js';
import { call, clockedFetch, serverClock, userUuid, showLocal, retryDelay } from './waiting-room-api.js';
import { createBooking, $, show, busy } from './waiting-room-booking.js';
import { Challenge } from './challenge.js';
import { WaitingRoom } from './client/index.js';

const params = new URLSearchParams(location.search);
const SESSION_KEY = 'waiting-room.session';

const config = { idleTimeoutSeconds: 300, holdSeconds: 300, maxSeatsPerUser: 4 };
let concerts = [];
// The token is the WaitingRoom's (it keeps it across reloads); `session.token`
// mirrors it for the booking calls.
let session = null; // { code, name, uuid, user, token, firstPosition }
let room = null; // the WaitingRoom following session's place
let ticket = null; // the last token answer
let phase = 'join';
let prequeueOpensAt = 0; // this device's clock
let notice = null; // { kind, until, error }
const join = { busy: false, error: null, retryAt: 0, solving: false, next: null };
const challenge = new Challenge($('challenge-widget'));

const booking = createBooking({
  config,
  session: () => session,
  save: () => saveSession(),
  onWindowOver: () => setPhase('expired'),
  onPaid: () => {
    // A payment ends the queue token: a new purchase means joining again.
    room?.leave();
    session.token = null;
    saveSession();
    setPhase('paid');
  },
});

// ---- Phases and rendering --------------------------------------------------

function setPhase(next) {
  phase = next;
  document.body.dataset.phase = next;
  if (next !== 'waiting' && next !== 'prequeue') room?.stop();
  if (next === 'admitted') booking.enter(ticket);
  else if (next !== 'paid') booking.leave();
  render();
}

function render() {
  const inLine = !['join', 'paid'].includes(phase);
  show($('join-panel'), phase === 'join');
  show($('queue-panel'), inLine);
  show($('waiting-view'), phase === 'waiting');
  show($('prequeue-view'), phase === 'prequeue');
  show($('admitted-view'), phase === 'admitted');
  show($('expired-view'), phase === 'expired' || phase === 'closed');
  $('queue-concert').textContent = session ? concertTitle(session) : '';
  // Rewriting the live region, even with the same words, can make a screen reader repeat it.
  const sentence = liveSentence();
  if ($('live').textContent !== sentence) $('live').textContent = sentence;

  if (phase === 'waiting' && ticket) {
    const n = ticket.position;
    const first = Math.max(session.firstPosition || n, n);
    $('position-number').textContent = n ? t('positionShort', { n: n.toLocaleString() }) : '…';
    $('ahead').textContent = n > 1 ? t('ahead', { n: (n - 1).toLocaleString() }) : n === 1 ? t('aheadNone') : '';
    $('eta').textContent = ticket.etaSeconds ? t('eta', { t: duration(ticket.etaSeconds) }) : t('etaUnknown');
    // Progress counts admission as the last step, so the front of the line is never an empty bar.
    const percent = n ? Math.round(((first - n + 1) / (first + 1)) * 100) : 0;
    $('progress-fill').style.width = `${percent}%`;
    $('progress').setAttribute('aria-valuenow', String(percent));
    $('progress').setAttribute('aria-label', t('progress'));
    $('progress').setAttribute('aria-valuetext', `${percent}% · ${$('ahead').textContent}`);
  }
  $('rejoin-button').textContent = t('joinAgain');
  booking.render();
  tick();
}

function liveSentence() {
  if (phase === 'waiting' && ticket?.position) return t('position', { n: ticket.position.toLocaleString() });
  if (phase === 'waiting') return t('checking');
  if (phase === 'prequeue' && ticket) return t('preQueue', { at: showLocal(ticket.opensAt, lang()) });
  if (phase === 'admitted') return t('admitted');
  if (phase === 'expired') return t('expired');
  if (phase === 'closed') return t('closed');
  return '';
}

/** Once a second: countdowns only; nothing here is announced. */
function tick() {
  const now = Date.now();
  if (phase === 'prequeue') $('prequeue-clock').textContent = clock((prequeueOpensAt - now) / 1000);
  let info = '';
  if ((phase === 'waiting' || phase === 'prequeue') && room && !room.paused) {
    info = room.polling ? t('checking') : room.nextPollAt ? t('nextCheck', { s: Math.max(0, Math.ceil((room.nextPollAt - now) / 1000)) }) : '';
  }
  $('poll-info').textContent = info;
  if (phase === 'admitted' && ticket) {
    const left = serverClock.until(ticket.tokenExpiry);
    $('window-left').textContent = left == null ? t('admittedNoteNoTime') : left > 0 ? t('admittedNote', { t: clock(left / 1000) }) : t('windowOver');
  }
  renderNotice(now);
  booking.tick();
}

function renderNotice(now) {
  let text = '';
  let time = '';
  if (notice?.kind === 'hidden') {
    const left = placeLeftMs();
    const at = new Date(now + left).toLocaleTimeString(lang() === 'ko' ? 'ko-KR' : 'en-US', { hour: 'numeric', minute: '2-digit' });
    text = t('hiddenNotice', { idle: duration(config.idleTimeoutSeconds) });
    time = t('hiddenDeadline', { at, left: duration(left / 1000) });
  } else if (notice?.kind === 'busy' || notice?.kind === 'offline') {
    text = t(notice.kind);
    time = t('retryIn', { s: Math.max(0, Math.ceil((notice.until - now) / 1000)) });
  } else if (notice?.kind === 'welcome') {
    text = t('welcomeBack');
  } else if (notice?.kind === 'error') {
    text = errorText(notice.error);
  }
  // Rewriting an alert re-announces it: only write when the text changed.
  if ($('notice-text').textContent !== text) $('notice-text').textContent = text;
  $('notice-time').textContent = time;
  show($('notice'), Boolean(text));
}

/** How long the place survives without another poll. */
function placeLeftMs() {
  const fromServer = ticket && phase === 'waiting' ? serverClock.until(ticket.tokenExpiry) : null;
  if (fromServer != null) return Math.max(0, fromServer);
  return Math.max(0, config.idleTimeoutSeconds * 900 - (Date.now() - (room?.lastAnswerAt || Date.now())));
}

function concertTitle(s) {
  const who = /^\d+$/.test(s.user) ? t('member', { n: s.user }) : `${s.uuid.slice(0, 8)}…`;
  return s.name ? `${s.name} · ${who}` : who;
}

function renderStatic() {
  document.documentElement.lang = lang();
  document.title = `${t('title')} · boxoffice`;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  const other = lang() === 'ko' ? 'en' : 'ko';
  const button = $('lang-switch');
  button.textContent = t('switchLang');
  button.lang = other;
  button.setAttribute('aria-label', t('switchLangLabel'));
  renderJoin();
  renderConcerts();
}

function renderJoin() {
  const button = $('join-button');
  busy(button, join.busy, join.busy ? t('joining') : t('join'));
  const error = $('join-error');
  const text = join.retryAt ? t('busy') : !join.error ? '' : typeof join.error === 'string' ? t(join.error) : errorText(join.error);
  if (error.textContent !== text) error.textContent = text;
  renderChallenge();
}

/** The proof-of-work panel, shown only while a join waits on one. */
function renderChallenge() {
  const panel = $('challenge-panel');
  const write = () => {
    const text = join.solving ? t('challengeChecking') : '';
    if ($('challenge-text').textContent !== text) $('challenge-text').textContent = text;
  };
  challenge.setLanguage(lang());
  if (panel.hidden !== join.solving) return write();
  show(panel, join.solving);
  // Written once the panel shows, so that its live region announces it.
  requestAnimationFrame(write);
}

function renderConcerts() {
  const select = $('concert');
  const chosen = select.value || params.get('concert') || session?.code;
  select.replaceChildren();
  if (!concerts.length) {
    select.append(new Option(t(concerts.loaded ? 'concertNone' : 'concertLoading'), ''));
    select.disabled = true;
    return;
  }
  select.disabled = false;
  for (const concert of concerts) {
    const first = concert.schedules?.[0]?.scheduleAt;
    const label = first ? `${concert.concertName} (${showLocal(first, lang())})` : concert.concertName;
    select.append(new Option(label, concert.concertCode));
  }
  if (chosen && concerts.some((c) => c.concertCode === chosen)) select.value = chosen;
}

// ---- Joining ---------------------------------------------------------------

async function submitJoin(event) {
  event?.preventDefault();
  if (join.busy) return;
  const code = $('concert').value;
  const user = $('user').value.trim();
  const uuid = code ? await userUuid(user) : null;
  if (!uuid) {
    join.error = 'invalidUser';
    renderJoin();
    $('user').setAttribute('aria-invalid', 'true');
    $('user').focus();
    return;
  }
  $('user').removeAttribute('aria-invalid');
  const concert = concerts.find((c) => c.concertCode === code);
  startJoin({ code, name: concert?.concertName || code, uuid, user, token: null, firstPosition: 0 });
}

/** Joins (or, `fresh`, joins again after the turn passed) with a WaitingRoom of this fan and concert. */
function startJoin(next, { fresh = false } = {}) {
  join.busy = true;
  join.error = null;
  join.retryAt = 0;
  join.next = next;
  follow(next).join({ fresh });
  renderJoin();
  render();
}

/** A WaitingRoom for `next`'s place; its events drive the page. */
function follow(next) {
  room?.stop();
  const following = new WaitingRoom({
    concert: next.code,
    user: next.uuid,
    fetch: clockedFetch,
    now: () => serverClock.now(),
    hiddenGraceMs: hiddenGraceMs(),
    solveChallenge,
  });
  const on = (type, handle) => following.addEventListener(type, (event) => room === following && handle(event.detail));
  on('ticket', ({ ticket: data }) => (join.busy ? joined(data) : followed(data)));
  on('retry', retried);
  on('error', ({ error }) => refused(error));
  on('expired', ({ error }) => {
    if (!error) return; // a 만료 answer: applyTicket shows it
    notice = { kind: 'error', error };
    setPhase('expired');
  });
  on('paused', () => {
    notice = { kind: 'hidden' };
    document.title = `⚠ ${t('hiddenTitle')} · ${t('title')}`;
    render();
  });
  on('resumed', () => {
    document.title = `${t('title')} · boxoffice`;
    notice = { kind: 'welcome' };
    render();
  });
  room = following;
  return following;
}

/** The first answer of a join. */
function joined(data) {
  const next = join.next;
  endChallenge();
  join.busy = false;
  join.retryAt = 0;
  const sameSession = session && session.code === next.code && session.uuid === next.uuid;
  session = { ...next, firstPosition: sameSession && phase === 'waiting' ? session.firstPosition : 0 };
  notice = null;
  applyTicket(data);
  renderJoin();
  $('queue-heading').focus();
}

/** A poll's answer. */
function followed(data) {
  if (notice?.kind !== 'hidden') notice = null;
  applyTicket(data);
}

/** A request went unanswered or was refused for a while: the room tries again by itself. */
function retried({ error, at }) {
  if (join.busy) {
    join.retryAt = at;
    renderJoin();
    return;
  }
  notice = { kind: error.status === 0 ? 'offline' : 'busy', until: at };
  render();
}

/** Refused for good: a join says why; a place followed until now ends. */
function refused(error) {
  if (join.busy) return joinRefused(error);
  notice = { kind: 'error', error };
  setPhase(error.code === 'QUEUE_CLOSED' ? 'closed' : 'expired');
}

function joinRefused(error) {
  endChallenge();
  join.busy = false;
  join.retryAt = 0;
  join.error = error;
  if (phase !== 'join') {
    notice = { kind: 'error', error };
    if (error.code === 'QUEUE_CLOSED') setPhase('closed');
  }
  renderJoin();
  render();
}

/**
 * The queue asks each join for proof of work: the widget solves a fresh
 * challenge in the page, without a click, and the room joins again with it
 * (a failed solve, or a refused solution, costs one of its tries).
 */
async function solveChallenge(url) {
  join.solving = true;
  renderJoin();
  return challenge.solve(url, lang());
}

function endChallenge() {
  join.solving = false;
  challenge.clear();
}

// ---- Following the line ------------------------------------------------------

/** Shows an answer; the room decides when to ask again. */
function applyTicket(data) {
  ticket = data;
  session.token = room.token; // re-issued at admission: always the latest
  const now = serverClock.now();
  if (room.status === 'admitted') {
    saveSession();
    setPhase('admitted');
    return;
  }
  if (room.status === 'expired') {
    saveSession();
    setPhase('expired');
    return;
  }
  if (room.status === 'prequeue') {
    serverClock.learnZone(data.opensAt, now + (data.secondsToOpen || 0) * 1000, 1500);
    prequeueOpensAt = Date.now() + (data.secondsToOpen || 0) * 1000;
    phase = 'prequeue';
  } else {
    // While waiting, tokenExpiry is the last recorded poll plus the idle timeout,
    // and a poll is recorded at least every tenth of it: close enough to learn the zone.
    const idle = config.idleTimeoutSeconds * 1000;
    serverClock.learnZone(data.tokenExpiry, now + idle * 0.95, idle * 0.05 + 2000);
    if (data.position) session.firstPosition = Math.max(session.firstPosition || 0, data.position);
    phase = 'waiting';
  }
  document.body.dataset.phase = phase;
  saveSession();
  render();
}

// ---- A hidden tab stops asking (the room), and the page says what that costs --

function hiddenGraceMs() {
  const asked = Number(params.get('hiddenGrace'));
  if (asked > 0) return asked * 1000;
  // Long enough that switching apps for a moment costs nothing, well inside the idle timeout.
  return Math.min(60000, (config.idleTimeoutSeconds * 1000) / 5);
}

// ---- Session: a reload keeps following the same place -----------------------

function saveSession() {
  try {
    // The token itself is the room's to keep (clients/js): one copy.
    if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify({ ...session, token: undefined, zoneMs: serverClock.zoneMs }));
    else sessionStorage.removeItem(SESSION_KEY);
  } catch {
    // storage unavailable: the page still works, a reload just asks to join again
  }
}

function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
  } catch {
    return null;
  }
}

function startOver() {
  endChallenge();
  Object.assign(join, { busy: false, error: null, retryAt: 0, next: null });
  room?.leave();
  room = null;
  const user = session?.user;
  session = null;
  ticket = null;
  notice = null;
  saveSession();
  setPhase('join');
  renderJoin();
  if (user) $('user').value = user;
  $('user').focus();
}

// ---- Start-up ----------------------------------------------------------------

async function loadConcerts() {
  try {
    concerts = (await call('GET', '/api/v1/concerts')).data || [];
  } catch (error) {
    join.error = error;
    concerts = [];
    setTimeout(loadConcerts, retryDelay(error, 2));
  }
  concerts.loaded = true;
  renderConcerts();
  renderJoin();
}

async function start() {
  setLang(pickLang(params.get('lang')));
  $('lang-switch').addEventListener('click', () => {
    setLang(lang() === 'ko' ? 'en' : 'ko');
    rememberLang(lang());
    renderStatic();
    render();
  });
  $('join-form').addEventListener('submit', submitJoin);
  $('rejoin-button').addEventListener('click', () => session && startJoin({ ...session, token: null }, { fresh: true }));
  $('leave-button').addEventListener('click', startOver);
  $('again-button').addEventListener('click', startOver);
  if (params.get('user')) $('user').value = params.get('user');
  renderStatic();
  render();
  setInterval(tick, 1000);

  try {
    Object.assign(config, (await call('GET', '/waiting-room/config.json')).data);
  } catch {
    // the defaults above match the server's defaults
  }
  await loadConcerts();

  const saved = loadSession();
  const resumed = saved?.uuid && saved.code ? follow(saved) : null;
  if (resumed?.token) {
    session = { ...saved, token: resumed.token };
    serverClock.zoneMs ??= saved.zoneMs ?? null;
    $('user').value = saved.user || '';
    phase = 'waiting';
    document.body.dataset.phase = phase;
    render();
    resumed.start(); // the saved token tells where we stand without taking a new place
  } else {
    room = null;
  }
}

start();
