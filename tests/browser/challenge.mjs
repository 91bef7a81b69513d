// Real-browser test of the proof of work at the door: the vendored ALTCHA
// widget on /waiting-room and /waiting-room/gate, against a running server with
// the demo data and the admin API on.
//
//   BASE_URL=http://127.0.0.1:18435 ADMIN_TOKEN=ops-secret node tests/browser/challenge.mjs
//
// The challenge is turned on (admin API, complexity 2000) for concert
// `bts-spring`, paused so that a join stays in line, and every request to a host
// other than the server's is refused (and must never be attempted: the widget,
// its styles, strings and worker all come from the server). Then:
// - an English page and a Korean phone page join: the first join is refused
//   CHALLENGE_REQUIRED, the widget shows in the page's language with the page's
//   own sentence, solves by itself (no click), and the join goes again with
//   X-Altcha and shows the place in line;
// - a challenge fetch that is shed (503), and a solution the server refuses
//   (CHALLENGE_FAILED), are each followed by a fresh challenge, solved and
//   joined with; a solution refused every time gives up after three solves and
//   says so;
// - a concert without a challenge (`hero-autumn`) joins as before: no widget,
//   no challenge fetched, not a byte of the widget loaded;
// - the protected-site room (queue `default`, protected for the run) solves
//   and shows the place too.
// No script error and no Content-Security-Policy violation on any page. The
// queues' settings are put back as found. Screenshots: loadtest/out/challenge-*.png.
// Knobs: CHROMIUM (default /usr/bin/chromium), HEADED=1.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, steps } from './lib/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const ORIGIN = new URL(BASE_URL).origin;
const TOKEN = process.env.ADMIN_TOKEN || '';
const CHALLENGED = 'bts-spring';
const PLAIN = 'hero-autumn';
const GATE_QUEUE = 'default';
const COMPLEXITY = 2000;
const OUT = path.join(ROOT, 'loadtest/out');
const WAIT = { timeout: 60_000 };

const run = steps('challenge');
const { log, begin } = run;

async function admin(method, route, body) {
  const response = await fetch(BASE_URL + route, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${route} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}
const settingsOf = async (queue) => (await admin('GET', `/admin/queues/${queue}`)).settings;
const setQueue = (queue, settings) => admin('PATCH', `/admin/queues/${queue}`, settings);

const browser = await launchChromium();
// Every page's context refuses other hosts; what was attempted is kept to fail on.
const elsewhere = [];
const pageErrors = [];
const pages = {};

/** A page in its own context, which records the joins it sent and the challenges it fetched. */
async function openPage(name, { locale = 'en-US', width = 900, height = 900, url, tamper }) {
  const context = await browser.newContext({ locale, viewport: { width, height }, deviceScaleFactor: 1 });
  await context.route('**/*', (route) => {
    const target = route.request().url();
    if (new URL(target).origin === ORIGIN) return route.continue();
    elsewhere.push(`${name}: ${target}`);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.joins = [];
  page.challenges = [];
  page.loaded = [];
  page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) pageErrors.push(`${name}: ${message.text()}`);
  });
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (request.method() === 'POST' && /\/token$|\/join$/.test(url.pathname)) page.joins.push({ altcha: request.headers()['x-altcha'] || null });
    if (/^\/queues\/[^/]+\/challenge$/.test(url.pathname)) page.challenges.push(url.pathname);
    if (url.pathname.startsWith('/assets/vendor/altcha/')) page.loaded.push(url.pathname);
  });
  page.on('response', async (response) => {
    const join = page.joins.at(-1);
    if (join && response.request().method() === 'POST' && /\/token$|\/join$/.test(new URL(response.url()).pathname)) {
      join.status = response.status();
      join.code = (await response.json().catch(() => ({}))).code;
    }
  });
  if (tamper) {
    // Joins whose solution the server must refuse: the payload as a stranger would forge it.
    await page.route(/\/token$/, (route) => {
      const headers = route.request().headers();
      if (!headers['x-altcha'] || !tamper()) return route.continue();
      return route.continue({ headers: { ...headers, 'x-altcha': Buffer.from('{"challenge":{},"solution":{}}').toString('base64') } });
    });
  }
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(`Content-Security-Policy violation: ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  await page.goto(BASE_URL + url);
  pages[name] = page;
  return page;
}

async function shot(page, name) {
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: path.join(OUT, `challenge-${name}.png`), fullPage: true });
}

/** Joins from /waiting-room as `user`, and waits for the place in line. */
async function joinAndWait(page, user) {
  await page.locator(`#concert option[value="${CHALLENGED}"]`).waitFor({ state: 'attached', ...WAIT });
  await page.selectOption('#concert', CHALLENGED);
  await page.fill('#user', String(user));
  await page.click('#join-button');
  await page.waitForFunction(() => document.body.dataset.phase === 'waiting' && /\d/.test(document.getElementById('live').textContent), null, WAIT);
}

/** The joins a page sent: refused for want of a solution, then `solves` carried one. */
function assertSolvedJoin(page, solves, fetched = solves) {
  const [first, ...rest] = page.joins;
  assert.deepEqual([first.altcha, first.status, first.code], [null, 403, 'CHALLENGE_REQUIRED'], 'the first join is asked for a challenge');
  assert.equal(rest.length, solves, `joins after the first: ${JSON.stringify(rest)}`);
  assert.ok(rest.every((join) => join.altcha), 'every join after the first carries X-Altcha');
  assert.equal(rest.at(-1).status, 200, 'the last join takes a place');
  assert.equal(page.challenges.length, fetched, 'one challenge fetched per solve');
  assert.ok(page.challenges.every((route) => route === `/queues/${CHALLENGED}/challenge`), page.challenges.join(' '));
}

let failed = false;
const restore = {};
try {
  begin(`the challenge on for ${CHALLENGED} (complexity ${COMPLEXITY}), the queue paused`);
  for (const queue of [CHALLENGED, PLAIN, GATE_QUEUE]) {
    const { state, challenge, protect } = await settingsOf(queue);
    restore[queue] = { state, challenge, protect };
  }
  await setQueue(CHALLENGED, { challenge: { kind: 'altcha', complexity: COMPLEXITY }, state: 'paused' });
  await setQueue(PLAIN, { challenge: null, state: 'paused' });

  begin('an English page joins: refused, the widget solves by itself, joins with X-Altcha, shows the place');
  const en = await openPage('en', { url: '/waiting-room?lang=en' });
  // Hold the join that carries the solution until the widget has been seen verified.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await en.route(/\/token$/, async (route) => {
    if (route.request().headers()['x-altcha']) await held;
    return route.continue();
  });
  const joined = joinAndWait(en, 951);
  await en.waitForSelector('#challenge-panel:not([hidden]) altcha-widget [data-state="verified"]', WAIT);
  assert.match(await en.textContent('#challenge-text'), /^Checking your browser before you join/);
  assert.match(await en.textContent('#challenge-panel altcha-widget'), /Verified/);
  await shot(en, 'en-verified');
  release();
  await joined;
  assertSolvedJoin(en, 1);
  assert.ok(await en.locator('#challenge-panel').isHidden(), 'the widget goes once the join is in');
  assert.match(await en.textContent('#live'), /^You are number \d+ in line\.$/);
  await shot(en, 'en-waiting');

  begin('a Korean phone page joins: the widget and the sentence in Korean');
  const ko = await openPage('ko', { locale: 'ko-KR', width: 390, height: 844, url: '/waiting-room?lang=ko' });
  // What the page showed while its solution was on its way (read from inside the held join).
  const koSeen = {};
  await ko.route(/\/token$/, async (route) => {
    if (route.request().headers()['x-altcha']) {
      koSeen.sentence = await ko.textContent('#challenge-text');
      koSeen.widget = await ko.textContent('#challenge-panel altcha-widget');
      await shot(ko, 'ko-verified');
    }
    return route.continue();
  });
  await joinAndWait(ko, 952);
  assertSolvedJoin(ko, 1);
  assert.match(koSeen.sentence, /^입장 전에 브라우저를 확인하고 있습니다/);
  assert.match(koSeen.widget, /확인됨/);
  assert.match(await ko.textContent('#live'), /^현재 대기 순번은 \d+번입니다\.$/);
  await shot(ko, 'ko-waiting');

  begin('a challenge shed, then a solution the server refuses: each time a fresh challenge, and the join goes in');
  let refuseNext = 1;
  let shedNext = 1;
  const retry = await openPage('retry', { url: '/waiting-room?lang=en', tamper: () => refuseNext-- > 0 });
  await retry.route(/\/challenge$/, (route) => (shedNext-- > 0
    ? route.fulfill({ status: 503, contentType: 'application/json', headers: { 'Retry-After': '1' }, body: '{"code":"OVERLOADED","message":"shed"}' })
    : route.continue()));
  await joinAndWait(retry, 953);
  assertSolvedJoin(retry, 2, 3);
  assert.deepEqual([retry.joins[1].status, retry.joins[1].code], [403, 'CHALLENGE_FAILED']);

  begin('a solution refused every time: three solves, then the page says so');
  const stuck = await openPage('stuck', { url: '/waiting-room?lang=en', tamper: () => true });
  await stuck.locator(`#concert option[value="${CHALLENGED}"]`).waitFor({ state: 'attached', ...WAIT });
  await stuck.selectOption('#concert', CHALLENGED);
  await stuck.fill('#user', '954');
  await stuck.click('#join-button');
  await stuck.waitForFunction(() => /could not be checked/.test(document.getElementById('join-error').textContent), null, WAIT);
  assert.equal(stuck.challenges.length, 3, 'three solves');
  assert.equal(stuck.joins.length, 4, 'the first join and three with a solution');
  assert.equal(await stuck.locator('body').getAttribute('data-phase'), 'join');
  assert.ok(await stuck.locator('#join-button').isEnabled(), 'the fan can try again');
  await shot(stuck, 'gave-up');

  begin(`a concert without a challenge (${PLAIN}) joins as before: no widget, nothing of it loaded`);
  const plain = await openPage('plain', { url: `/waiting-room?lang=en&concert=${PLAIN}` });
  await plain.locator(`#concert option[value="${PLAIN}"]`).waitFor({ state: 'attached', ...WAIT });
  await plain.fill('#user', '955');
  await plain.click('#join-button');
  await plain.waitForFunction(() => document.body.dataset.phase === 'waiting' && /\d/.test(document.getElementById('live').textContent), null, WAIT);
  assert.deepEqual(plain.joins.map((join) => [join.altcha, join.status]), [[null, 200]]);
  assert.deepEqual([plain.challenges, plain.loaded], [[], []], 'no challenge, no widget');
  assert.ok(await plain.locator('#challenge-panel').isHidden());

  begin(`the protected-site room (queue ${GATE_QUEUE}) solves and shows the place`);
  await setQueue(GATE_QUEUE, {
    state: 'paused',
    challenge: { kind: 'altcha', complexity: COMPLEXITY },
    protect: { origin: 'https://shop.example', paths: ['/*'], sessionSeconds: 600, failMode: 'closed', bypassCidrs: [], bypassHeader: null },
  });
  const gate = await openPage('gate', { url: `/waiting-room/gate?queue=${GATE_QUEUE}&return=${encodeURIComponent('https://shop.example/cart')}` });
  await gate.waitForFunction(() => /^Position \d+$/.test(document.getElementById('gate-position').textContent), null, WAIT);
  assert.deepEqual(gate.joins.map((join) => [Boolean(join.altcha), join.status]), [[false, 403], [true, 200]]);
  assert.deepEqual(gate.challenges, [`/queues/${GATE_QUEUE}/challenge`]);
  assert.ok(await gate.locator('#gate-challenge').isHidden());
  await shot(gate, 'gate-waiting');

  assert.deepEqual(elsewhere, [], 'no request to any other host');
  assert.ok(Object.values(pages).every((page) => !page.loaded.some((file) => !file.startsWith('/assets/vendor/altcha/'))));
  assert.deepEqual(pageErrors, [], 'no script errors or policy violations');
  log(`vendored files loaded by the English page: ${[...new Set(en.loaded)].join(', ')}`);
  log('all checks passed');
} catch (error) {
  failed = true;
  console.error(`[challenge] FAILED at "${run.current}":\n${error.stack || error}`);
  for (const [name, page] of Object.entries(pages)) {
    await page.screenshot({ path: path.join(OUT, `challenge-failure-${name}.png`), fullPage: true }).catch(() => {});
  }
  if (pageErrors.length) console.error(`script errors: ${pageErrors.join('\n')}`);
  if (elsewhere.length) console.error(`requests to other hosts: ${elsewhere.join('\n')}`);
} finally {
  for (const [queue, settings] of Object.entries(restore)) {
    await setQueue(queue, settings).catch((error) => console.error(`could not restore ${queue}'s settings: ${error}`));
  }
  await browser.close();
}
process.exit(failed ? 1 : 0);
