// Real-browser test of the fan's /waiting-room page, against a running server with the demo data.
//
//   BASE_URL=http://127.0.0.1:18431 ADMIN_TOKEN=ops-secret node tests/browser/waiting-room.mjs
//
// In headless Chromium, on concert `iu-winter`, with users from 901-920:
// - three pages (en-US desktop, ko-KR phone 390x844, en-US) join in order while
//   the queue is paused and announce places 1, 2, 3 in their aria-live region
//   (the first joins with the keyboard only); the language switch; a reload
//   keeps the place without joining again;
// - a fourth page obeys a 429's Retry-After, and stops polling when hidden,
//   saying the place will be lost after the idle timeout, then resumes;
// - admission is advanced by one (admin API) and every page shows its place
//   falling by one; then the queue opens (1/s) and every page shows admission;
//   polls are never closer than the server's 1 s floor;
// - the first fan picks a seat and holds it with the keyboard, reloads (still
//   admitted, still holding), is refused payment for lack of balance, tops up,
//   pays once (a double click) and sees the receipt; the admin seat map says
//   sold, and the Korean phone page shows it sold after refreshing its map;
// - the Korean page holds another seat, tops up and pays (Korean receipt);
// - the first fan starts over and joins again before a scheduled opening: a
//   countdown, then a place and admission at the opening.
// No script errors on any page. Users: each run takes 4 users of 901-920 that
// are neither in line nor admitted (probed while the queue is closed, when a
// join takes no new place) and leaves 3 admitted for BOXOFFICE_ACTIVE_TTL_S
// (10 min), so about 6 runs fit in 10 minutes on one server. The queue's
// settings (state, rate, capacity, opening) are put back as found at the end.
// Screenshots: loadtest/out/waiting-room-*.png and docs/screenshots/waiting-room.png.
// Knobs: CHROMIUM (default /usr/bin/chromium), HEADED=1.

import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchChromium, steps, until, uuidOf } from './lib/harness.mjs';
import { pollTimes, recordPolls } from './lib/polls.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const TOKEN = process.env.ADMIN_TOKEN || '';
const CONCERT = 'iu-winter';
const USERS = Array.from({ length: 20 }, (_, i) => 901 + i);
const OUT = path.join(ROOT, 'loadtest/out');
const README_SHOT = path.join(ROOT, 'docs/screenshots/waiting-room.png');
const WAIT = { timeout: 60_000 };

const run = steps('waiting-room');
const { log, begin } = run;

async function request(method, route, body, headers = {}) {
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(BASE_URL + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function admin(method, route, body) {
  const answer = await request(method, route, body, { Authorization: `Bearer ${TOKEN}` });
  if (answer.status >= 300) throw new Error(`${method} ${route} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}
const setQueue = (settings) => admin('PATCH', `/admin/queues/${CONCERT}`, settings);
const queue = () => admin('GET', `/admin/queues/${CONCERT}`);

const pages = {};
const pageErrors = [];

/** A fan's page in its own context, with a recorder of what its live region said and when it polled. */
async function openFan(name, { locale, width, height, query = '' }) {
  const context = await browser.newContext({ locale, viewport: { width, height }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
  // The page's Content-Security-Policy allows its own files only: a violation is an error here.
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) pageErrors.push(`${name}: ${message.text()}`);
  });
  page.polls = [];
  page.joins = [];
  page.payments = [];
  page.on('request', (r) => {
    const url = r.url();
    if (url.endsWith(`/api/v1/concerts/${CONCERT}/token`)) page[r.method() === 'GET' ? 'polls' : 'joins'].push(Date.now());
    if (url.endsWith('/api/v1/payments')) page.payments.push(r.headers()['idempotency-key']);
  });
  await recordPolls(page);
  await page.addInitScript(() => {
    window.__live = [];
    document.addEventListener('DOMContentLoaded', () => {
      const live = document.getElementById('live');
      new MutationObserver(() => window.__live.push(live.textContent)).observe(live, { childList: true, characterData: true, subtree: true });
    });
  });
  await page.goto(`${BASE_URL}/waiting-room?concert=${CONCERT}${query}`);
  await page.locator('#concert option[value="iu-winter"]').waitFor({ state: 'attached', ...WAIT });
  pages[name] = page;
  return page;
}

async function shot(page, name) {
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: path.join(OUT, `waiting-room-${name}.png`), fullPage: true });
}

const live = (page) => page.locator('#live').textContent();
const phase = (page) => page.locator('body').getAttribute('data-phase');
const positionIn = (text) => Number((text.match(/\d+/) || [])[0]);

async function joinAs(page, user, phase = 'waiting') {
  await page.fill('#user', String(user));
  await page.click('#join-button');
  await page.waitForSelector(`body[data-phase="${phase}"] #live:not(:empty)`, WAIT);
  if (phase === 'waiting') await page.waitForFunction(() => /\d/.test(document.getElementById('live').textContent), null, WAIT);
}

async function waitForPosition(page, n) {
  await page.waitForFunction((n) => {
    const text = document.getElementById('live').textContent;
    return document.body.dataset.phase === 'waiting' && Number((text.match(/\d+/) || [])[0]) === n;
  }, n, WAIT);
}

async function setHidden(page, hidden) {
  await page.evaluate((hidden) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/** Server-local date-time `ms` from now, learned from a waiting token's expiry (now + idle timeout). */
function localTimeIn(ms, tokenExpiry, idleSeconds) {
  const quarter = 15 * 60 * 1000;
  const zone = Math.round((Date.parse(`${tokenExpiry}Z`) - Date.now() - idleSeconds * 1000) / quarter) * quarter;
  return new Date(Date.now() + ms + zone).toISOString().slice(0, 19);
}

const browser = await launchChromium();

let failed = false;
let restore = null; // the queue's settings as found
try {
  begin('the page and the concerts list are served');
  const html = await fetch(`${BASE_URL}/waiting-room`);
  assert.equal(html.status, 200, 'GET /waiting-room');
  assert.match(html.headers.get('content-type'), /text\/html/);
  const concerts = (await request('GET', '/api/v1/concerts')).body;
  const iu = concerts.find((c) => c.concertCode === CONCERT);
  assert.ok(iu, `concert ${CONCERT} in GET /api/v1/concerts (demo data)`);
  const config = (await request('GET', '/waiting-room/config.json')).body;
  const { state, admitRate, maxActive, opensAt } = (await queue()).settings;
  restore = { state, admitRate, maxActive, opensAt };

  begin('picking users 901-920 not in line or admitted (probed while the queue is closed: a join then takes no new place)');
  await setQueue({ state: 'closed', opensAt: null });
  const fresh = [];
  for (const user of USERS) {
    const probe = await request('POST', `/api/v1/concerts/${CONCERT}/token`, { UUID: uuidOf(user) });
    if (probe.status === 409 && probe.body.code === 'QUEUE_CLOSED') fresh.push(user);
    if (fresh.length === 4) break;
  }
  assert.equal(fresh.length, 4, `4 of users 901-920 free to join (found ${fresh}); each run leaves 3 admitted for 10 min (BOXOFFICE_ACTIVE_TTL_S): wait, or use a fresh server`);
  const [userA, userB, userC, userD] = fresh;
  log(`users: ${fresh.join(', ')}`);
  await setQueue({ state: 'paused', admitRate: 1, maxActive: 1000 });
  const ahead = (await queue()).waiting;

  begin('three pages join in order and announce places 1, 2, 3 (en desktop, ko phone, en)');
  const a = await openFan('a', { locale: 'en-US', width: 900, height: 1000 });
  const b = await openFan('b', { locale: 'ko-KR', width: 390, height: 844 });
  const c = await openFan('c', { locale: 'en-US', width: 900, height: 1000 });
  assert.equal(await a.locator('h1').textContent(), 'Waiting room');
  assert.equal(await b.locator('h1').textContent(), '대기실');
  assert.equal(await b.getAttribute('html', 'lang'), 'ko');
  await shot(b, 'join-ko-phone');

  // Keyboard only: Tab to the member field, type, Enter.
  for (let i = 0; i < 8 && (await a.evaluate(() => document.activeElement?.id)) !== 'user'; i++) await a.keyboard.press('Tab');
  assert.equal(await a.evaluate(() => document.activeElement?.id), 'user', 'the member field is reachable with Tab');
  await a.keyboard.type(String(userA));
  await a.keyboard.press('Enter');
  await a.waitForSelector('body[data-phase="waiting"]', WAIT);
  await waitForPosition(a, ahead + 1);
  await joinAs(b, userB);
  await joinAs(c, userC);
  assert.equal(await live(a), `You are number ${ahead + 1} in line.`);
  assert.equal(await live(b), `현재 대기 순번은 ${ahead + 2}번입니다.`);
  assert.equal(await live(c), `You are number ${ahead + 3} in line.`);
  for (const page of [a, b, c]) {
    assert.equal(await page.getAttribute('#live', 'aria-live'), 'polite');
    assert.equal(await page.getAttribute('#live', 'role'), 'status');
    assert.ok(Number(await page.getAttribute('#progress', 'aria-valuenow')) > 0, 'the progress bar has a value');
  }
  assert.ok(await b.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling on a 390 px phone');
  await shot(a, 'waiting-en');
  await shot(b, 'waiting-ko-phone');

  begin('the language switch turns a page Korean and back');
  await c.click('#lang-switch');
  assert.equal(await c.locator('h1').textContent(), '대기실');
  assert.equal(await live(c), `현재 대기 순번은 ${ahead + 3}번입니다.`);
  await c.click('#lang-switch');
  assert.equal(await live(c), `You are number ${ahead + 3} in line.`);

  begin('a reload keeps following the same place without joining again');
  const joinsBefore = c.joins.length;
  await c.reload();
  await waitForPosition(c, ahead + 3);
  assert.equal(c.joins.length, joinsBefore, 'no new join after a reload');

  begin('a fourth page obeys Retry-After on a 429');
  const d = await openFan('d', { locale: 'en-US', width: 900, height: 1000, query: '&hiddenGrace=2' });
  let refused = 0;
  // The first poll is refused; later answers ask for a poll every second (the
  // server's own hint depends on the measured admission rate), so the hidden
  // page's silence below is its own doing.
  await d.route(`**/api/v1/concerts/${CONCERT}/token`, async (route) => {
    if (route.request().method() === 'GET' && refused === 0) {
      refused = Date.now();
      return route.fulfill({ status: 429, headers: { 'Retry-After': '3', 'Content-Type': 'application/json' }, body: '{"code":"RATE_LIMITED","message":"too many requests"}' });
    }
    const response = await route.fetch();
    const body = await response.json();
    if (body.position > 0) body.pollAfterMs = 1000;
    return route.fulfill({ response, json: body });
  });
  const joinedD = d.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/token'));
  await joinAs(d, userD);
  const ticketD = await (await joinedD).json();
  await until('the 429 to be answered', () => refused);
  await d.waitForFunction(() => /busy|Trying again/.test(document.getElementById('notice').textContent), null, WAIT);
  await until('the poll after the 429', async () => (await pollTimes(d)).length >= 2, 20_000);
  // The page's own times: the refused poll is its first, and Retry-After counts from its answer.
  const [asked, retried] = await pollTimes(d);
  assert.ok(retried - asked >= 3000, `retried ${retried - asked} ms after a poll refused with Retry-After: 3`);

  begin('a hidden page stops polling, says when the place will be lost, and resumes when shown');
  await setHidden(d, true);
  await d.waitForFunction(() => /background/.test(document.getElementById('notice').textContent), null, WAIT);
  const notice = await d.locator('#notice').textContent();
  assert.match(notice, new RegExp(`${Math.round(config.idleTimeoutSeconds / 60)} min`), 'the notice names the idle timeout');
  assert.match(notice, /lose your place/);
  assert.match(await d.title(), /Come back/);
  await shot(d, 'hidden-notice');
  const pollsWhenStopped = d.polls.length;
  await sleep(3500);
  assert.equal(d.polls.length, pollsWhenStopped, 'no polls while hidden');
  await setHidden(d, false);
  await until('a poll after coming back', () => d.polls.length > pollsWhenStopped, 10_000);
  await d.waitForFunction(() => !/background/.test(document.getElementById('notice').textContent), null, WAIT);
  await waitForPosition(d, ahead + 4);
  await d.unroute(`**/api/v1/concerts/${CONCERT}/token`);

  begin('admission advances by one: every page shows its place falling');
  const waitingBefore = (await queue()).waiting;
  await setQueue({ state: 'open' });
  await until('one admission', async () => (await queue()).waiting < waitingBefore, 30_000);
  await setQueue({ state: 'paused' });
  const admitted = waitingBefore - (await queue()).waiting;
  assert.equal(admitted, 1, 'one admitted at 1/s before the pause');
  if (ahead === 0) await a.waitForSelector('body[data-phase="admitted"]', WAIT);
  await waitForPosition(b, ahead + 1);
  await waitForPosition(c, ahead + 2);
  await waitForPosition(d, ahead + 3);
  await shot(b, 'moved-up-ko-phone');

  begin('the queue opens at 1/s: every page shows the admission');
  await setQueue({ state: 'open' });
  for (const page of [a, b, c, d]) await page.waitForSelector('body[data-phase="admitted"]', WAIT);
  assert.match(await live(a), /your turn/);
  assert.match(await live(b), /입장 차례입니다/);
  for (const [name, page] of Object.entries({ b, c, d })) {
    const said = (await page.evaluate(() => window.__live)).map(positionIn).filter((n) => n > 0);
    assert.ok(said.length >= 2, `${name}: positions announced: ${said}`);
    assert.deepEqual(said, [...said].sort((x, y) => y - x), `${name}: positions only fall: ${said}`);
    assert.ok(said.at(-1) < said[0], `${name}: position fell: ${said}`);
  }
  for (const [name, page] of Object.entries({ a, b, c })) {
    // A reload starts the page's record afresh: its first poll may follow the old page's last closely.
    const polls = await pollTimes(page);
    const gaps = polls.slice(1).map((at, i) => at - polls[i]);
    assert.ok(gaps.every((gap) => gap >= 1000), `${name}: polls at least 1 s apart (the server's floor): ${gaps}`);
  }

  begin('the first fan picks a seat with the keyboard and holds it');
  await a.waitForFunction(() => document.querySelectorAll('#seat-grid .seat').length === 50, null, WAIT);
  await a.waitForFunction(() => document.getElementById('balance-amount').textContent !== '–', null, WAIT);
  const date = await a.locator('#date').inputValue();
  await a.focus('#refresh-seats');
  await a.keyboard.press('Tab');
  const seat = Number(await a.evaluate(() => document.activeElement?.dataset.seat));
  assert.ok(seat >= 1, 'Tab from "Refresh seats" reaches the first free seat');
  await a.keyboard.press('Enter');
  assert.equal(await a.getAttribute(`[data-seat="${seat}"]`, 'aria-pressed'), 'true');
  for (let i = 0; i < 80 && (await a.evaluate(() => document.activeElement?.id)) !== 'hold-button'; i++) await a.keyboard.press('Tab');
  assert.equal(await a.evaluate(() => document.activeElement?.id), 'hold-button', 'the hold button is reachable with Tab');
  await a.keyboard.press('Enter');
  await a.waitForSelector(`[data-seat="${seat}"][data-state="mine"]`, WAIT);
  await a.waitForFunction(() => /Held for you for \d+:\d\d/.test(document.getElementById('hold-countdown').textContent), null, WAIT);
  assert.match(await a.locator('#held-list').textContent(), new RegExp(`Seat ${seat}\\b`));
  await shot(a, 'held');
  mkdirSync(path.dirname(README_SHOT), { recursive: true });
  await a.screenshot({ path: README_SHOT, fullPage: true });

  begin('a reload while admitted keeps the admission and the hold');
  await a.reload();
  await a.waitForSelector(`body[data-phase="admitted"] [data-seat="${seat}"][data-state="mine"]`, WAIT);
  await a.waitForFunction(() => /Held for you for \d+:\d\d/.test(document.getElementById('hold-countdown').textContent), null, WAIT);
  await a.waitForFunction(() => document.getElementById('balance-amount').textContent !== '–', null, WAIT);

  begin('payment: refused for lack of balance, then top up, pay and see the receipt');
  const scheduleId = iu.schedules.find((s) => s.scheduleAt === date).concertDateId;
  const heldSeat = (await admin('GET', `/admin/schedules/${scheduleId}/seats`)).seats.find((s) => s.seatNumber === seat);
  assert.equal(heldSeat.state, 'held', `seat ${seat} held in the admin seat map`);
  const price = heldSeat.seatPrice;
  const balance = (await request('GET', `/api/v1/users/${uuidOf(userA)}/balance`)).body.amount;
  if (balance < price) {
    await a.click('#pay-button');
    await a.waitForFunction(() => /Not enough balance/.test(document.getElementById('pay-message').textContent), null, WAIT);
    assert.equal(await a.locator('#topup-amount').inputValue(), String(price - balance), 'the top-up is filled with the shortfall');
  } else {
    await a.fill('#topup-amount', '1000');
  }
  await a.click('#topup-button');
  await a.waitForFunction(() => /topped up/.test(document.getElementById('pay-message').textContent), null, WAIT);
  const paymentsBefore = a.payments.length;
  await a.dblclick('#pay-button');
  await a.waitForSelector('#receipt-panel:not([hidden])', WAIT);
  const paid = a.payments.slice(paymentsBefore);
  assert.equal(paid.length, 1, 'a double click pays once (the button is disabled while paying)');
  assert.ok(paid[0] && !a.payments.slice(0, paymentsBefore).includes(paid[0]), 'a fresh Idempotency-Key per payment attempt');
  const receipt = await a.locator('#receipt').textContent();
  assert.match(receipt, /Paid/);
  assert.match(receipt, new RegExp(`Seat ${seat}\\b`));
  assert.match(receipt, new RegExp(`${price.toLocaleString('en-US')} won`));
  assert.equal(await a.evaluate(() => document.activeElement?.id), 'receipt-heading', 'focus moves to the receipt');
  await shot(a, 'receipt');

  begin('the seat is sold: the admin seat map and the Korean phone page after a refresh');
  const map = await admin('GET', `/admin/schedules/${scheduleId}/seats`);
  assert.equal(map.seats.find((s) => s.seatNumber === seat)?.state, 'sold', `seat ${seat} sold in the admin seat map`);
  await b.waitForFunction(() => document.querySelectorAll('#seat-grid .seat').length === 50, null, WAIT);
  await b.selectOption('#date', date);
  await b.click('#refresh-seats');
  await b.waitForSelector(`[data-seat="${seat}"][data-state="taken"]`, WAIT);
  assert.ok(await b.locator(`[data-seat="${seat}"]`).isDisabled(), 'a sold seat cannot be picked');
  assert.match(await b.getAttribute(`[data-seat="${seat}"]`, 'aria-label'), /판매됨/);
  assert.ok(await b.evaluate(() => document.documentElement.scrollWidth <= 390), 'the seat map fits a 390 px phone');
  await shot(b, 'sold-ko-phone');

  begin('the Korean phone page holds another seat, tops up and pays');
  await b.locator('#seat-grid .seat[data-state="free"]').first().click();
  await b.click('#hold-button');
  await b.waitForSelector('#seat-grid .seat[data-state="mine"]', WAIT);
  const seatB = Number(await b.getAttribute('#seat-grid .seat[data-state="mine"]', 'data-seat'));
  await b.waitForFunction(() => /^\d+:\d\d 동안 선점됩니다/.test(document.getElementById('hold-countdown').textContent), null, WAIT);
  await b.waitForFunction(() => document.getElementById('balance-amount').textContent !== '–', null, WAIT);
  if (!(await b.locator('#topup-amount').inputValue())) await b.fill('#topup-amount', '1000');
  await b.click('#topup-button');
  await b.waitForFunction(() => /충전되었습니다/.test(document.getElementById('pay-message').textContent), null, WAIT);
  await b.click('#pay-button');
  await b.waitForSelector('#receipt-panel:not([hidden])', WAIT);
  assert.match(await b.locator('#receipt-panel').textContent(), /결제가 완료되었습니다/);
  assert.match(await b.locator('#receipt').textContent(), new RegExp(`${seatB}번 좌석.*결제 완료|결제 완료.*${seatB}번 좌석`));
  await shot(b, 'receipt-ko-phone');

  begin('the first fan starts over and joins before an opening: a countdown, then a place and admission');
  await setQueue({ state: 'open', admitRate: 100, opensAt: localTimeIn(15_000, ticketD.tokenExpiry, config.idleTimeoutSeconds) });
  await a.click('#again-button');
  await a.waitForSelector('body[data-phase="join"]', WAIT);
  assert.equal(await a.locator('#user').inputValue(), String(userA), 'the member number is kept');
  await a.click('#join-button');
  await a.waitForSelector('body[data-phase="prequeue"] #live:not(:empty)', WAIT);
  assert.match(await live(a), /The line opens at/);
  assert.match(await a.locator('#prequeue-clock').textContent(), /^0:[01]\d$/, 'a countdown to the opening');
  await shot(a, 'prequeue');
  await a.waitForSelector('body[data-phase="admitted"]', WAIT);
  await setQueue({ opensAt: null });

  assert.deepEqual(pageErrors, [], 'no script errors on any page');
  log('all checks passed');
} catch (error) {
  failed = true;
  console.error(`[waiting-room] FAILED at "${run.current}":\n${error.stack || error}`);
  for (const [name, page] of Object.entries(pages)) {
    await page.screenshot({ path: path.join(OUT, `waiting-room-failure-${name}.png`), fullPage: true }).catch(() => {});
  }
  if (pageErrors.length) console.error(`script errors: ${pageErrors.join('\n')}`);
} finally {
  if (restore) await setQueue(restore).catch((error) => console.error(`could not restore the queue's settings: ${error}`));
  await browser.close();
}
if (!failed) {
  const size = statSync(README_SHOT).size;
  log(`README screenshot: ${path.relative(ROOT, README_SHOT)} (${Math.round(size / 1024)} KB)`);
}
process.exit(failed ? 1 : 0);
