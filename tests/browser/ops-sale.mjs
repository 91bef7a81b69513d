// Real-browser test of the /ops page's webhooks panel and sale report, against
// a running server with the demo data and the admin API on.
//
//   BASE_URL=http://127.0.0.1:18432 ADMIN_TOKEN=ops-secret node tests/browser/ops-sale.mjs
//
// Runs a webhook receiver of its own (Node's http, on 127.0.0.1) and checks,
// in headless Chromium: an endpoint with no event type ticked is caught on the
// page, and a URL the server refuses is shown with its message; registering
// one from the panel shows its secret once (never in the list, gone after a
// reload); a real sale on the default queue (joins through the API, admitted
// by the server's own admission, balances topped up, a seat held and paid
// each) reaches the receiver as payment.completed and seats.sold events,
// signed with that secret (webhook-id, webhook-timestamp and
// webhook-signature checked here with HMAC-SHA256), its first request
// answered 503 and retried; the panel counts them delivered and its
// deliveries view shows each with its attempts, the 503 among them; Remove
// asks first. Then the sale's report: its figures are those of
// GET /admin/queues/default/report, its charts are drawn, the operator's
// change of the rate is listed, Download CSV saves the server's
// ?format=csv, Print prints, and printing shows the report alone.
//
// Use a fresh server (no webhook registered, nothing sold through the default
// queue, users 1..4 never admitted), e.g. a debug build:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/bo_sale_test BOXOFFICE_REDIS_PREFIX=saletest \
//   BOXOFFICE_ADDR=127.0.0.1:18432 BOXOFFICE_ADMIN_TOKEN=ops-secret BOXOFFICE_ADMIT_TICK_MS=250 target/debug/boxoffice
// Knobs: CHROMIUM (default /usr/bin/chromium), HEADED=1.
// Screenshots: loadtest/out/ops-sale-*.png, and the printed report as loadtest/out/ops-sale-report.pdf.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchChromium, steps, until } from './lib/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const TOKEN = process.env.ADMIN_TOKEN || '';
const OUT = path.join(ROOT, 'loadtest/out');
const WAIT = { timeout: 60_000 };
// Three buyers of a seat each on concert 1's schedule 1, and one admitted user who buys nothing.
const BUYERS = [1, 2, 3];
const JUST_LOOKING = 4;
const RATE = 25;

const run = steps('ops-sale');
const { log, begin } = run;

async function call(method, route, { headers = {}, body, raw = false } = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const response = await fetch(BASE_URL + route, init);
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${route} answered ${response.status}: ${text}`);
  if (raw) return text;
  return text ? JSON.parse(text) : null;
}
const api = (method, route, body) => call(method, route, { headers: { Authorization: `Bearer ${TOKEN}` }, body });

// The page's number formats (ops-format.js), to compare what it shows.
const fmtInt = (n) => new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(n);
const fmtPercent = (n) => `${new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 }).format(n)}%`;
const fmtSeconds = (s) => (s < 60 ? `${s} s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`);

// --- the receiver -------------------------------------------------------------

// Every request it gets, in order; the very first is answered 503, so one
// delivery needs a second attempt, the rest 204.
function startReceiver() {
  const received = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const status = received.length === 0 ? 503 : 204;
      received.push({ path: request.url, headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      response.writeHead(status).end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, received, url: `http://127.0.0.1:${server.address().port}/hooks/boxoffice` }));
  });
}

// Standard Webhooks: v1,base64(HMAC-SHA256(key = the secret's base64 after whsec_, "{id}.{timestamp}.{body}")).
function signatureOk(request, secret) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const id = request.headers['webhook-id'];
  const timestamp = request.headers['webhook-timestamp'];
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${request.body}`).digest('base64');
  return String(request.headers['webhook-signature'] || '').split(' ').some((part) => part === `v1,${expected}`);
}

// --- the sale -----------------------------------------------------------------

// A user of the /api surface joins the default queue and waits for the server's admission; their token.
async function admitted(user) {
  const headers = { 'user-id': String(user) };
  await call('POST', '/api/waiting-queue/', { headers });
  const ticket = await until(`user ${user} admitted (활성)`, async () => {
    const answer = await call('GET', '/api/waiting-queue/position', { headers });
    return answer.tokenStatus === '활성' && answer;
  }, 60_000, 250);
  return ticket.token;
}

async function buy(user, seat) {
  const token = await admitted(user);
  await call('PATCH', '/api/balances/balance/charge', { headers: { 'user-id': String(user) }, body: String(seat.seatPrice) });
  const route = '/api/concerts/1/schedules/1/seats/reservation';
  await call('POST', route, { headers: { Token: token }, body: { userId: user, seats: [seat.seatNumber] } });
  await call('POST', `${route}/payment`, { headers: { Token: token }, body: { userId: user, concertScheduleId: 1 } });
}

// --- the scenario -------------------------------------------------------------

async function main() {
  assert.ok(TOKEN, "set ADMIN_TOKEN to the server's BOXOFFICE_ADMIN_TOKEN");
  mkdirSync(OUT, { recursive: true });

  begin('preflight: a fresh server');
  const open = await fetch(`${BASE_URL}/ops/queues`).catch((err) => {
    throw new Error(`no server at ${BASE_URL} (${err.cause ? err.cause.code : err.message}): start one, see the top of this file`);
  });
  assert.equal(open.status, 200, `GET /ops/queues answered ${open.status}`);
  assert.deepEqual(await api('GET', '/admin/webhooks'), [], 'a webhook is registered already: use a fresh server');
  assert.equal((await api('GET', '/admin/queues/default/report')).seatsSold, 0, 'seats were sold through the default queue already: use a fresh server');
  const before = await api('GET', '/admin/queues/default');
  const receiver = await startReceiver();

  const browser = await launchChromium();
  const pageErrors = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 1000 }, colorScheme: 'light', acceptDownloads: true });
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    // The page's Content-Security-Policy allows its own files only: a violation is an error here.
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) pageErrors.push(message.text());
    });
    const shot = (name) => page.screenshot({ path: path.join(OUT, `ops-sale-${name}.png`), fullPage: true });
    const text = (selector) => page.textContent(selector);

    begin('the webhooks panel needs the token');
    await page.goto(`${BASE_URL}/ops`);
    await page.waitForSelector('#queue-rows tr[data-queue="default"]', WAIT);
    assert.ok(await page.$eval('#webhooks-controls', (fieldset) => fieldset.disabled), 'the webhooks panel is disabled without a token');
    assert.ok(await page.locator('#hook-url').isDisabled(), 'its fields too');
    assert.match(await text('#hooks-rows'), /Needs the admin token/);
    await page.fill('#token-input', TOKEN);
    await page.click('#token-save');
    await page.waitForSelector('#token-set:not([hidden])', WAIT);
    await page.waitForFunction(() => /No endpoints yet/.test(document.querySelector('#hooks-summary').textContent), null, WAIT);

    begin('no event type ticked is caught on the page; a URL the server refuses shows its message');
    await page.fill('#hook-url', receiver.url);
    await page.uncheck('#hook-form input[value="payment.completed"]');
    await page.click('#hook-form button[type="submit"]');
    await page.waitForSelector('#webhooks-error:not([hidden])', WAIT);
    assert.match(await text('#webhooks-error'), /Tick at least one event type/);
    await page.check('#hook-form input[value="payment.completed"]');
    await page.check('#hook-form input[value="seats.sold"]');
    await page.fill('#hook-url', 'ftp://127.0.0.1/hooks');
    await page.click('#hook-form button[type="submit"]');
    await page.waitForFunction(() => /INVALID_BODY/.test(document.querySelector('#webhooks-error').textContent), null, WAIT);
    assert.match(await text('#webhooks-error'), /^Could not register the endpoint: INVALID_BODY: url must be an absolute http:\/\/ or https:\/\/ URL/);
    assert.ok(await page.locator('#hook-secret-box').isHidden(), 'no secret for a refused endpoint');
    assert.deepEqual(await api('GET', '/admin/webhooks'), [], 'refused: nothing registered');

    begin('registering an endpoint shows its secret once');
    await page.fill('#hook-url', receiver.url);
    await page.click('#hook-form button[type="submit"]');
    await page.waitForSelector('#hook-secret-box:not([hidden])', WAIT);
    assert.equal(await page.isHidden('#webhooks-error'), true, 'the earlier error is gone');
    const secret = await page.inputValue('#hook-secret-value');
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{32,}={0,2}$/);
    assert.match(await text('#hook-secret-box'), /Copy it now: it will not be shown again/);
    assert.match(await text('#webhooks-status'), /registered for payment\.completed, seats\.sold/);
    const endpoints = await api('GET', '/admin/webhooks');
    assert.equal(endpoints.length, 1, 'one endpoint through the API');
    const [endpoint] = endpoints;
    assert.equal(endpoint.url, receiver.url);
    assert.deepEqual(endpoint.events, ['payment.completed', 'seats.sold']);
    assert.ok(!JSON.stringify(endpoints).includes(secret.slice(6)), 'the list never carries the secret');
    const row = `#hooks-rows tr[data-id="${endpoint.id}"]`;
    await page.waitForSelector(row, WAIT);
    assert.equal(await page.textContent(`${row} .hook-url`), receiver.url);
    assert.ok(!(await page.textContent('#hooks-table')).includes(secret), 'the list shows no secret');
    await shot('webhook-secret');
    await page.reload();
    await page.waitForSelector(row, WAIT);
    assert.ok(await page.locator('#hook-secret-box').isHidden(), 'no secret box after a reload');
    const leftOver = await page.evaluate((s) => document.documentElement.outerHTML.includes(s)
      || [...document.querySelectorAll('input, textarea')].some((field) => field.value.includes(s)), secret);
    assert.equal(leftOver, false, 'the secret is nowhere on the page after a reload');

    begin('a real sale on the default queue, with an operator change of the rate');
    await api('PATCH', '/admin/queues/default', { admitRate: RATE });
    const seatMap = await call('GET', '/ops/schedules/1/seats');
    const free = seatMap.seats.filter((s) => s.state === 'free').sort((a, b) => a.seatNumber - b.seatNumber);
    assert.ok(free.length >= BUYERS.length, 'schedule 1 has free seats');
    await Promise.all(BUYERS.map((user, i) => buy(user, free[i])));
    await admitted(JUST_LOOKING);
    const paid = BUYERS.length;

    begin('the receiver gets the events, signed with the secret shown; the 503 is retried');
    const deliveredIds = () => new Set(receiver.received.filter((r) => r.status === 204).map((r) => r.headers['webhook-id']));
    await until(`${paid * 2} deliveries answered 204`, () => deliveredIds().size >= paid * 2, 90_000);
    for (const request of receiver.received) {
      assert.equal(request.path, '/hooks/boxoffice');
      assert.match(String(request.headers['webhook-id']), /^evt_\d+$/);
      assert.ok(Math.abs(Number(request.headers['webhook-timestamp']) - Date.now() / 1000) < 300, 'a timestamp of now');
      assert.match(String(request.headers['content-type']), /^application\/json/);
      assert.ok(signatureOk(request, secret), `${request.headers['webhook-id']} signed with the secret the page showed`);
      assert.ok(!signatureOk(request, `whsec_${Buffer.alloc(24).toString('base64')}`), 'another secret does not verify');
    }
    const events = [...new Map(receiver.received.map((r) => [r.headers['webhook-id'], JSON.parse(r.body)])).values()];
    const payments = events.filter((e) => e.type === 'payment.completed');
    assert.equal(payments.length, paid, 'a payment.completed per buyer');
    assert.deepEqual(payments.map((e) => e.data.userId).sort(), BUYERS, 'the buyers paid');
    assert.ok(payments.every((e) => e.queue === 'default'), 'paid through the default queue');
    assert.equal(events.filter((e) => e.type === 'seats.sold').length, paid, 'a seats.sold per buyer');
    assert.equal(events.length, paid * 2, 'nothing else: only the types asked for');
    const failed = receiver.received[0];
    assert.equal(failed.status, 503);
    const retries = receiver.received.filter((r) => r.headers['webhook-id'] === failed.headers['webhook-id']);
    assert.equal(retries.length, 2, 'the delivery answered 503 was sent again');
    assert.equal(retries[1].body, failed.body, 'the same event both times');

    begin('the panel counts them delivered, and its deliveries view shows each attempt');
    await until('the panel counting every delivery', async () => {
      await page.click('[data-action="refresh-webhooks"]');
      await sleep(300);
      return (await page.getAttribute(row, 'data-delivered')) === String(paid * 2);
    }, 30_000, 700);
    assert.equal(await page.getAttribute(row, 'data-pending'), '0');
    assert.equal(await page.getAttribute(row, 'data-failed'), '0');
    const counted = (await api('GET', '/admin/webhooks'))[0];
    assert.deepEqual([counted.pending, counted.delivered, counted.failed], [0, paid * 2, 0], 'the same counts through the API');
    await page.click(`${row} button.show-deliveries`);
    await page.waitForSelector(`#deliveries:not([hidden])[data-id="${endpoint.id}"]`, WAIT);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'deliveries', 'the view takes the focus');
    assert.equal(await text('#deliveries-url'), receiver.url);
    const deliveries = await api('GET', `/admin/webhooks/${endpoint.id}/deliveries?limit=50`);
    const shown = await page.$$eval('#deliveries-rows tr', (rows) => rows.map((r) => ({
      event: Number(r.dataset.event), state: r.dataset.state, type: r.dataset.type,
      attempts: [...r.querySelectorAll('.attempts li')].map((li) => li.textContent),
    })));
    assert.deepEqual(shown.map((d) => d.event), deliveries.map((d) => d.eventId), 'every delivery, newest event first');
    assert.ok(shown.every((d) => d.state === 'delivered'), 'each delivered');
    assert.deepEqual(shown.map((d) => d.type).sort(), events.map((e) => e.type).sort());
    const retried = shown.find((d) => `evt_${d.event}` === failed.headers['webhook-id']);
    assert.equal(retried.attempts.length, 2, 'the retried delivery shows both attempts');
    assert.match(retried.attempts[0], /^#1 \d\d:\d\d:\d\d · 503 · \d+ ms$/);
    assert.match(retried.attempts[1], /^#2 \d\d:\d\d:\d\d · 204 · \d+ ms$/);
    assert.ok(shown.filter((d) => d !== retried).every((d) => d.attempts.length === 1 && / · 204 · /.test(d.attempts[0])), 'the others at once');
    await shot('webhook-deliveries');

    begin('Remove asks first, then removes the endpoint');
    await page.click(`${row} button.remove`);
    await page.waitForSelector('#confirm-webhook[open]', WAIT);
    assert.equal(await text('#webhook-remove-url'), receiver.url);
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('#confirm-webhook').open, null, WAIT);
    assert.ok(await page.evaluate(() => document.activeElement.classList.contains('remove')), 'focus back on Remove');
    assert.equal((await api('GET', '/admin/webhooks')).length, 1, 'cancelled: still registered');
    await page.click(`${row} button.remove`);
    await page.click('#webhook-remove-yes');
    await page.waitForFunction(() => /removed/.test(document.querySelector('#webhooks-status').textContent), null, WAIT);
    assert.deepEqual(await api('GET', '/admin/webhooks'), [], 'removed through the API');
    await page.waitForFunction(() => /No endpoints yet/.test(document.querySelector('#hooks-summary').textContent), null, WAIT);
    assert.ok(await page.locator('#deliveries').isHidden(), "the removed endpoint's deliveries are closed");

    begin("the report's figures settle (the queue's events reach Postgres within a second or two)");
    const settled = await until('the report of the sale settled', async () => {
      const first = await api('GET', '/admin/queues/default/report');
      if (first.seatsSold < paid || first.outcomes.admitted < paid + 1) return null;
      await sleep(2500);
      const second = await api('GET', '/admin/queues/default/report');
      return JSON.stringify(first) === JSON.stringify(second) && second;
    }, 60_000, 500);
    assert.equal(settled.seatsSold, paid);
    assert.equal(settled.outcomes.admitted, paid + 1, 'the buyers and the one who bought nothing');
    assert.deepEqual([settled.conversion.admittedUsers, settled.conversion.payingUsers, settled.conversion.paidPercent], [paid + 1, paid, 75]);
    assert.equal(settled.revenue, payments.reduce((n, e) => n + e.data.amount, 0), 'the revenue the webhooks carried');
    assert.ok(settled.perSecond.length > 0 && settled.peakJoinsPerSecond >= 1, 'joins counted per second');

    begin('the report view: the figures of GET /admin/queues/default/report');
    await page.click('#queue-rows tr[data-queue="default"] button');
    await page.click('#report-open');
    await page.waitForSelector('#report[data-loaded="true"][data-queue="default"]', WAIT);
    assert.match(page.url(), /#queue=default&view=report$/);
    assert.ok(await page.locator('#queue-detail').isHidden(), 'the live panels give way to the report');
    assert.ok(await page.locator('#webhooks').isHidden());
    const report = await api('GET', '/admin/queues/default/report');
    assert.deepEqual(report, settled, 'still the settled report');
    const tiles = {
      joins: fmtInt(report.outcomes.joins),
      admitted: fmtInt(report.outcomes.admitted),
      'wait-p50': fmtSeconds(report.waits.p50S),
      'wait-p90': fmtSeconds(report.waits.p90S),
      'wait-p99': fmtSeconds(report.waits.p99S),
      'wait-max': fmtSeconds(report.waits.maxS),
      conversion: fmtPercent(report.conversion.paidPercent),
      seats: fmtInt(report.seatsSold),
      revenue: `₩${fmtInt(report.revenue)}`,
      'timed-out-line': fmtInt(report.outcomes.timedOutInLine),
    };
    for (const [key, value] of Object.entries(tiles)) assert.equal(await text(`#report-${key}`), value, `tile ${key}`);
    assert.equal(await text('#report-conversion'), '75%');
    assert.equal(await text('#report-seats'), String(paid));
    assert.match(await text('#report-revenue'), /^₩\d{1,3}(,\d{3})*$/);
    assert.match(await text('#report-period'), /^From \d{4}-\d\d-\d\d \d\d:\d\d:\d\d to /);

    begin('the report charts are drawn over the whole sale');
    for (const id of ['report-chart-joins', 'report-chart-admitted', 'report-chart-seats']) {
      assert.ok(Number(await page.getAttribute(`#${id}`, 'data-points')) > 1, `${id} has points`);
      const d = await page.getAttribute(`#${id} path.line`, 'd');
      assert.match(d, /^M[\d.]+ [\d.]+[LH]/, `${id} draws a line`);
      assert.ok((await page.locator(`#${id} .grid text`).count()) > 2, `${id} has axis labels`);
    }
    assert.equal(await text('#report-chart-joins .legend-value'), `peak ${report.peakJoinsPerSecond}`);
    const peakAdmitted = Math.max(...report.perSecond.map((s) => s.admitted));
    assert.equal(await text('#report-chart-admitted .legend-value'), `peak ${peakAdmitted}`);
    const peakSeats = Math.max(...report.perMinute.map((m) => m.seats));
    assert.equal(await text('#report-chart-seats .legend-value'), `peak ${peakSeats}`);
    assert.match(await page.getAttribute('#report-chart-seats path.line[data-key="seats"]', 'd'), /H/, 'seats per minute as steps');

    begin("the report lists the operator's change of the rate");
    const changes = await page.$$eval('#report-changes-rows tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
    assert.equal(changes.length, report.rateChanges.length, 'a row per change');
    // the record of changes keeps the settings as Redis does, numbers as text
    assert.ok(report.rateChanges.some((c) => c.kind === 'queue.settings_changed' && Number(c.data.changes.admit_rate) === RATE));
    const mine = changes.find((cells) => new RegExp(`rate \\S+ → ${RATE}/s`).test(cells[1]));
    assert.ok(mine, `the change to ${RATE}/s listed: ${JSON.stringify(changes)}`);
    assert.match(mine[0], /^\d\d:\d\d:\d\d$/);
    assert.match(mine[2], /^operator, token [0-9a-f]{8}$/);

    begin("Download CSV saves the server's per-second CSV");
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-action="download-report"]')]);
    assert.equal(download.suggestedFilename(), 'default-per-second.csv');
    const saved = path.join(OUT, 'ops-sale-report.csv');
    await download.saveAs(saved);
    const csv = await call('GET', '/admin/queues/default/report?format=csv', { headers: { Authorization: `Bearer ${TOKEN}` }, raw: true });
    assert.equal(await readFile(saved, 'utf8'), csv, 'the file is the server\'s CSV');
    assert.equal(csv.split('\n')[0], 'second,joins,polls,admitted,timedOut,left');
    assert.equal(csv.trim().split('\n').length - 1, report.perSecond.length, 'a line per second counted');
    const lines = report.perSecond.length;
    await page.waitForFunction((said) => document.querySelector('#report-status').textContent.startsWith(said),
      `default: ${lines} second${lines === 1 ? '' : 's'} saved as CSV`, WAIT);
    await shot('report');

    begin('Print prints; printing shows the report alone');
    await page.evaluate(() => {
      window.printed = 0;
      window.print = () => {
        window.printed += 1;
      };
    });
    await page.click('[data-action="print-report"]');
    assert.equal(await page.evaluate(() => window.printed), 1, 'Print calls window.print()');
    await page.emulateMedia({ media: 'print' });
    for (const hidden of ['.topbar', '#queue-detail', '#webhooks', '.report-controls', '#report-back']) {
      assert.ok(await page.locator(hidden).first().isHidden(), `${hidden} is not printed`);
    }
    for (const shownPart of ['#report-title', '#report-tiles', '#report-chart-joins svg', '#report-chart-seats svg', '#report-changes']) {
      assert.ok(await page.locator(shownPart).isVisible(), `${shownPart} is printed`);
    }
    // A chart is drawn at the screen's width, and printing does not redraw it:
    // drawn far wider than the paper, it must still fit.
    const fits = await page.$$eval('#report .chart-svg', (svgs) => svgs.map((s) => {
      const drawn = s.getAttribute('width');
      s.setAttribute('width', '5000');
      const fit = s.getBoundingClientRect().width <= s.closest('.chart').clientWidth + 1;
      s.setAttribute('width', drawn);
      return fit;
    }));
    assert.deepEqual(fits, [true, true, true], 'the charts are scaled to the paper');
    await shot('report-print');
    const pdf = path.join(OUT, 'ops-sale-report.pdf');
    await page.pdf({ path: pdf, format: 'A4', printBackground: true });
    assert.ok(statSync(pdf).size > 10_000, 'the printed report has content');
    await page.emulateMedia({ media: 'screen' });

    begin('Back to the live view');
    await page.click('#report-back');
    await page.waitForSelector('#queue-detail', { state: 'visible', ...WAIT });
    assert.ok(await page.locator('#report').isHidden(), 'the report is put away');
    assert.match(page.url(), /#queue=default$/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'report-open', 'focus back on Sale report');

    assert.deepEqual(pageErrors, [], 'no JavaScript errors on the page');
  } finally {
    await browser.close().catch(() => {});
    receiver.server.close();
    await api('PATCH', '/admin/queues/default', { admitRate: before.settings.admitRate }).catch((err) => log(`could not restore the rate: ${err.message}`));
  }
}

main().then(
  () => {
    log('PASS');
    process.exit(0);
  },
  (err) => {
    console.error(`[ops-sale] FAIL at step "${run.current}": ${err.stack || err}`);
    process.exit(1);
  },
);
