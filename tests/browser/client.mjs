// The frontends' package (clients/js, docs/client.md) against a running
// server with the demo data and the admin API on:
//
//   BASE_URL=http://127.0.0.1:18431 ADMIN_TOKEN=ops-secret node tests/browser/client.mjs
//
// - its types: src/api.d.ts generated again from this server's /openapi.json
//   by openapi-typescript is the committed file, byte for byte; the
//   declarations type-check with tsc;
// - `npm pack` makes a tarball of the modules, their types and README, whose
//   unpacked modules import in node;
// - /assets/client/ serves the package's own files (one source);
// - in Chromium, the <boxoffice-waiting-room> element on a page of its own
//   (concert bts-spring, paused): joins and shows place 1; three 503
//   OVERLOADED (Retry-After: 1) are retried 1, 2, 4 s apart or more; a 429
//   with Retry-After: 3 waits 3 s; a hidden tab stops polling after its grace
//   and polls again when shown; a reload follows the same place with the same
//   token and no new join; a poll answered TOKEN_NOT_FOUND joins again
//   presenting the token and keeps the place; the queue opens and the page
//   gets `admitted` with a token the booking API takes;
// - docs/client.md's ten-line example, as written there, on a page of its
//   own: waits while its queue is paused, then hands the token to /book.
// No script errors. Knobs: CHROMIUM (default /usr/bin/chromium), HEADED=1.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchChromium, steps, until, uuidOf } from './lib/harness.mjs';
import { pollTimes, recordPolls } from './lib/polls.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PACKAGE = path.join(ROOT, 'clients/js');
const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const TOKEN = process.env.ADMIN_TOKEN || '';
const CONCERT = 'bts-spring';
const WAIT = { timeout: 60_000 };

const run = steps('client');
const { log, begin } = run;

async function request(method, route, { body, headers = {} } = {}) {
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(BASE_URL + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function admin(method, route, body) {
  const answer = await request(method, route, { body, headers: { Authorization: `Bearer ${TOKEN}` } });
  if (answer.status >= 300) throw new Error(`${method} ${route} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}
const setQueue = (queue, settings) => admin('PATCH', `/admin/queues/${queue}`, settings);

const npm = (args, env = {}) => execFileSync('npm', args, { cwd: PACKAGE, env: { ...process.env, ...env }, encoding: 'utf8' });

/** The ten-line example of docs/client.md: the html block after its marker. */
function docsExample() {
  const doc = readFileSync(path.join(ROOT, 'docs/client.md'), 'utf8');
  const found = doc.match(/<!-- client-example[^>]*-->\s*```html\n([\s\S]*?)```/);
  assert.ok(found, 'docs/client.md has the example block after its marker');
  return found[1];
}

/** A page of ours on the server's origin (the API answers without CORS): `html`, served by the test. */
async function pageAt(context, route, html) {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(error.message));
  page.polls = [];
  page.joins = [];
  page.on('request', (r) => {
    if (!/\/api\/v1\/concerts\/[^/]+\/token$/.test(r.url())) return;
    if (r.method() === 'GET') page.polls.push(Date.now());
    else page.joins.push({ at: Date.now(), authorization: r.headers().authorization || null });
  });
  await recordPolls(page);
  await context.route(`${BASE_URL}${route}`, (r) => r.fulfill({ contentType: 'text/html; charset=utf-8', body: html }));
  return page;
}

const statusText = (page) => page.evaluate(() => document.querySelector('boxoffice-waiting-room')?.shadowRoot.querySelector('[part="status"]').textContent);
const detailText = (page) => page.evaluate(() => document.querySelector('boxoffice-waiting-room')?.shadowRoot.querySelector('[part="detail"]').textContent);

async function setHidden(page, hidden) {
  await page.evaluate((hidden) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

let browser = null;
let failed = false;
const restore = [];
const pages = [];
try {
  begin('the generated types match this server\'s /openapi.json');
  const generated = path.join(mkdtempSync(path.join(tmpdir(), 'boxoffice-client-')), 'api.d.ts');
  execFileSync(path.join(PACKAGE, 'node_modules/.bin/openapi-typescript'), [`${BASE_URL}/openapi.json`, '--output', generated],
    { cwd: PACKAGE, stdio: ['ignore', 'ignore', 'inherit'] });
  const committed = readFileSync(path.join(PACKAGE, 'src/api.d.ts'), 'utf8');
  assert.ok(readFileSync(generated, 'utf8') === committed,
    'clients/js/src/api.d.ts differs from what openapi-typescript makes of /openapi.json: regenerate it (docs/client.md, "Types and their check")');
  rmSync(path.dirname(generated), { recursive: true });

  begin('the declarations type-check (tsc)');
  execFileSync(path.join(PACKAGE, 'node_modules/.bin/tsc'), ['--project', PACKAGE], { cwd: PACKAGE, stdio: 'inherit' });

  begin('npm pack makes a package of the modules, their types and README, which imports');
  const packDir = mkdtempSync(path.join(tmpdir(), 'boxoffice-pack-'));
  const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', packDir]));
  const files = packed.files.map((f) => f.path).sort();
  assert.deepEqual(files, ['README.md', 'package.json', 'src/api.d.ts', 'src/element.d.ts', 'src/element.js', 'src/http.js',
    'src/index.d.ts', 'src/index.js', 'src/waiting-room.js'], 'the packed files');
  assert.equal(packed.name, '@boxoffice/waiting-room');
  execFileSync('tar', ['-xzf', path.join(packDir, packed.filename), '-C', packDir]);
  const unpacked = await import(pathToFileURL(path.join(packDir, 'package/src/index.js')).href);
  assert.equal(typeof unpacked.WaitingRoom, 'function', 'the packed module exports WaitingRoom');
  assert.equal(Math.round(unpacked.retryDelay({ retryAfterMs: 3000 }, 1, () => 0)), 3000, 'Retry-After first');
  assert.equal(Math.round(unpacked.retryDelay({}, 3, () => 0)), 4000, '1, 2, 4 s for failures in a row');
  rmSync(packDir, { recursive: true });

  begin('/assets/client/ serves the package\'s own files');
  for (const file of ['index.js', 'element.js', 'waiting-room.js', 'http.js']) {
    const served = await fetch(`${BASE_URL}/assets/client/${file}`);
    assert.equal(served.status, 200, file);
    assert.match(served.headers.get('content-type'), /text\/javascript/);
    assert.equal(await served.text(), readFileSync(path.join(PACKAGE, 'src', file), 'utf8'), `${file} as in clients/js/src`);
  }
  const pageScript = await (await fetch(`${BASE_URL}/assets/waiting-room.js`)).text();
  assert.match(pageScript, /from '\.\/client\/index\.js'/, '/waiting-room follows the line with the package');

  browser = await launchChromium();

  begin(`the element joins ${CONCERT} (paused) and shows place 1`);
  const { settings } = await admin('GET', `/admin/queues/${CONCERT}`);
  restore.push([CONCERT, { state: settings.state }]);
  await setQueue(CONCERT, { state: 'paused' });
  const user = uuidOf(951);
  const context = await browser.newContext({ locale: 'en-US' });
  const harness = `<!doctype html><meta charset="utf-8"><title>client</title>
<script type="module" src="/assets/client/element.js"></script>
<boxoffice-waiting-room concert="${CONCERT}" user="${user}" hidden-grace="1"></boxoffice-waiting-room>
<script type="module">
  window.seen = [];
  for (const type of ['ticket', 'position', 'admitted', 'expired', 'retry', 'paused', 'resumed', 'lost', 'error']) {
    document.addEventListener(type, (e) => window.seen.push({ type, at: Date.now(), token: e.detail.token,
      position: e.detail.position, code: e.detail.error?.code, delayMs: e.detail.delayMs }));
  }
</script>`;
  const page = await pageAt(context, '/client-harness', harness);
  pages.push(page);
  // Polls go through a script of refusals; real answers ask for a poll every
  // second (the server's hint follows the measured rate), so the gaps measured
  // are the client's own doing.
  const script = [];
  const routed = []; // { at, code }: every poll as it reached the server (or the script)
  await page.route(`**/api/v1/concerts/${CONCERT}/token`, async (route) => {
    if (route.request().method() === 'GET') routed.push({ at: Date.now(), code: script[0]?.code ?? null });
    if (route.request().method() === 'GET' && script.length) {
      const { status, retryAfter, code } = script.shift();
      const headers = { 'Content-Type': 'application/json', ...(retryAfter ? { 'Retry-After': String(retryAfter) } : {}) };
      return route.fulfill({ status, headers, body: JSON.stringify({ code, message: 'scripted by the test' }) });
    }
    const response = await route.fetch();
    const body = await response.json().catch(() => null);
    if (body?.position > 0) body.pollAfterMs = 1000;
    return route.fulfill({ response, json: body });
  });
  await page.goto(`${BASE_URL}/client-harness`);
  await page.waitForFunction(() => /number 1 in line/.test(document.querySelector('boxoffice-waiting-room').shadowRoot.textContent), null, WAIT);
  assert.equal(page.joins.length, 1, 'one join');
  await until('a poll after the join', () => page.polls.length >= 1, 10_000);

  begin('three 503 OVERLOADED with Retry-After: 1 are retried 1, 2, 4 s apart or more');
  let from = routed.length;
  script.push(...[1, 2, 3].map(() => ({ status: 503, retryAfter: 1, code: 'OVERLOADED' })));
  await page.waitForFunction(() => /busy/.test(document.querySelector('boxoffice-waiting-room').shadowRoot.textContent), null, WAIT);
  await until('the three refused polls and the one after', () => routed.length >= from + 4, 30_000);
  const overloaded = routed.slice(from, from + 4);
  assert.deepEqual(overloaded.map((r) => r.code), ['OVERLOADED', 'OVERLOADED', 'OVERLOADED', null]);
  // Gaps in the page's own times: the page's polls and those routed are the same, in order.
  let times = await pollTimes(page);
  assert.equal(times.length, routed.length, 'every poll of the page was routed');
  const gaps = times.slice(from + 1, from + 4).map((at, i) => at - times[from + i]);
  log(`polls after each 503: ${gaps.join(', ')} ms`);
  assert.ok(gaps[0] >= 1000 && gaps[1] >= 2000 && gaps[2] >= 4000, `back-off 1, 2, 4 s after 503s: ${gaps}`);
  const retries = (await page.evaluate(() => window.seen)).filter((e) => e.type === 'retry');
  assert.deepEqual(retries.map((e) => e.code), ['OVERLOADED', 'OVERLOADED', 'OVERLOADED']);

  begin('a 429 with Retry-After: 3 waits 3 s');
  from = routed.length;
  script.push({ status: 429, retryAfter: 3, code: 'RATE_LIMITED' });
  await until('the refused poll and the one after', () => routed.length >= from + 2, 30_000);
  assert.equal(routed[from].code, 'RATE_LIMITED');
  times = await pollTimes(page);
  assert.equal(times.length, routed.length, 'every poll of the page was routed');
  const waited = times[from + 1] - times[from];
  assert.ok(waited >= 3000, `retried ${waited} ms after a 429 with Retry-After: 3`);
  await page.waitForFunction(() => /number 1 in line/.test(document.querySelector('boxoffice-waiting-room').shadowRoot.textContent), null, WAIT);

  begin('a hidden tab stops polling after its grace, and polls again when shown');
  await setHidden(page, true);
  await page.waitForFunction(() => window.seen.some((e) => e.type === 'paused'), null, WAIT);
  assert.match(await detailText(page), /Paused while this tab is hidden/);
  const pollsWhenPaused = page.polls.length;
  await sleep(3500);
  assert.equal(page.polls.length, pollsWhenPaused, 'no polls while hidden');
  await setHidden(page, false);
  await until('a poll after coming back', () => page.polls.length > pollsWhenPaused, 10_000);
  assert.ok((await page.evaluate(() => window.seen)).some((e) => e.type === 'resumed'));

  begin('a reload follows the same place with the same token, and no new join');
  const storageKey = `boxoffice.waiting-room:${CONCERT}:${user}`;
  const tokenBefore = await page.evaluate((key) => sessionStorage.getItem(key), storageKey);
  assert.ok(tokenBefore, 'the token is kept in sessionStorage');
  const joinsBefore = page.joins.length;
  await page.reload();
  await page.waitForFunction(() => /number 1 in line/.test(document.querySelector('boxoffice-waiting-room').shadowRoot.textContent), null, WAIT);
  assert.equal(page.joins.length, joinsBefore, 'no join after a reload');
  assert.equal(await page.evaluate((key) => sessionStorage.getItem(key), storageKey), tokenBefore, 'the same token');

  begin('a lost place (TOKEN_NOT_FOUND) is taken back by joining with the token');
  script.push({ status: 404, code: 'TOKEN_NOT_FOUND' });
  await until('a join after the lost place', () => page.joins.length > joinsBefore, 20_000);
  assert.equal(page.joins.at(-1).authorization, `Bearer ${tokenBefore}`, 'the join presents the token');
  await page.waitForFunction(() => window.seen.some((e) => e.type === 'lost'), null, WAIT);
  await page.waitForFunction(() => /number 1 in line/.test(document.querySelector('boxoffice-waiting-room').shadowRoot.textContent), null, WAIT);

  begin('the queue opens: admitted, with a token the booking API takes');
  await setQueue(CONCERT, { state: 'open' });
  await page.waitForFunction(() => window.seen.some((e) => e.type === 'admitted'), null, WAIT);
  assert.equal(await statusText(page), 'It is your turn.');
  const handed = (await page.evaluate(() => window.seen)).find((e) => e.type === 'admitted').token;
  assert.equal(await page.evaluate(() => document.querySelector('boxoffice-waiting-room').token), handed);
  const dates = await request('GET', `/api/v1/concerts/${CONCERT}?UUID=${user}`, { headers: { Authorization: `Bearer ${handed}` } });
  assert.equal(dates.status, 200, `the booking API takes the handed token: ${JSON.stringify(dates.body)}`);
  const pollsAdmitted = page.polls.length;
  await sleep(2500);
  assert.equal(page.polls.length, pollsAdmitted, 'no polls once admitted');

  begin('docs/client.md\'s ten-line example, as written: waits, then hands the token to /book');
  const example = docsExample();
  const exampleConcert = example.match(/concert="([^"]+)"/)[1];
  const exampleUser = example.match(/user="([^"]+)"/)[1];
  const found = (await admin('GET', `/admin/queues/${exampleConcert}`)).settings;
  restore.push([exampleConcert, { state: found.state }]);
  await setQueue(exampleConcert, { state: 'paused' });
  const docs = await pageAt(await browser.newContext({ locale: 'en-US' }), '/client-example', `<!doctype html><meta charset="utf-8"><title>example</title>\n${example}`);
  pages.push(docs);
  await docs.context().route(`${BASE_URL}/book`, (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>book</title><p>booking</p>' }));
  await docs.goto(`${BASE_URL}/client-example`);
  await docs.waitForFunction(() => /in line/.test(document.querySelector('boxoffice-waiting-room')?.shadowRoot.textContent || ''), null, WAIT);
  assert.match(await statusText(docs), /^You are number \d+ in line\.$/);
  await setQueue(exampleConcert, { state: 'open' });
  await docs.waitForURL(`${BASE_URL}/book`, WAIT);
  const bookingToken = await docs.evaluate(() => sessionStorage.getItem('bookingToken'));
  assert.ok(bookingToken, 'the example handed the token to the booking page');
  const exampleDates = await request('GET', `/api/v1/concerts/${exampleConcert}?UUID=${exampleUser}`, { headers: { Authorization: `Bearer ${bookingToken}` } });
  assert.equal(exampleDates.status, 200, 'the booking API takes it');

  for (const p of pages) assert.deepEqual(p.errors, [], 'no script errors');
  log('all checks passed');
} catch (error) {
  failed = true;
  console.error(`[client] FAILED at "${run.current}":\n${error.stack || error}`);
  for (const p of pages) if (p.errors?.length) console.error(`script errors: ${p.errors.join('\n')}`);
} finally {
  for (const [queue, settings] of restore) await setQueue(queue, settings).catch((error) => console.error(`could not restore ${queue}: ${error}`));
  await browser?.close();
}
process.exit(failed ? 1 : 0);
