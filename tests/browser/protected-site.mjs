// Real-browser walk of a protected site behind a proxy, with the waiting room
// served under the site's own host (/boxoffice/, as docs/proxies/ configure
// it). Run by tests/proxy/run.sh, which starts the proxy, the demo origin and
// boxoffice:
//
//   SITE_URL=http://127.0.0.1:PORT BOX_URL=http://127.0.0.1:PORT ADMIN_TOKEN=... \
//   ORIGIN_KEY=bo_origin_... QUEUE=default node tests/browser/protected-site.mjs
//
// - a visit to the origin without a pass lands in the waiting room, which
//   takes a place, is admitted and goes back to the same page, now with the
//   pass cookie: the origin answers, naming the visitor;
// - the origin ends the session: the next visit lands in the room again
//   (admission paused, so it stays there and shows its place);
// - a tampered pass lands in the room too;
// - /ops shows which site the queue protects.
// Knobs: CHROMIUM (default /usr/bin/chromium). Screenshots in loadtest/out/.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { launchChromium } from './lib/harness.mjs';

const SITE = process.env.SITE_URL.replace(/\/+$/, '');
const BOX = process.env.BOX_URL.replace(/\/+$/, '');
const QUEUE = process.env.QUEUE || 'default';
const log = (message) => console.log(`[protected-site] ${message}`);
const admin = (method, path, body) =>
  fetch(BOX + path, {
    method,
    headers: { Authorization: `Bearer ${process.env.ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body),
  });
mkdirSync('loadtest/out', { recursive: true });

const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  const passCookie = async () => (await context.cookies(SITE)).find((cookie) => cookie.name === 'boxoffice_pass');

  // 1. Through the room and back to the same page.
  await page.goto(`${SITE}/checkout/cart?x=1`);
  await page.waitForURL(`${SITE}/checkout/cart?x=1`, { timeout: 30_000 });
  const text = await page.textContent('body');
  assert.match(text, /^origin \/checkout\/cart\?x=1 visitor=v\d+/, text);
  const pass = await passCookie();
  assert.ok(pass, 'the pass cookie is set');
  assert.ok(pass.httpOnly && pass.sameSite === 'Lax', `HttpOnly, SameSite=Lax: ${JSON.stringify(pass)}`);
  log(`admitted and back: ${text.trim()}`);

  // 2. The origin ends the session; with admission paused, the next visit waits in the room.
  const ended = await fetch(`${BOX}/gate/${QUEUE}/end`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${process.env.ORIGIN_KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ pass: pass.value }),
  });
  assert.equal(ended.status, 204);
  assert.equal((await admin('PATCH', `/admin/queues/${QUEUE}`, { state: 'paused' })).status, 200);
  await page.goto(`${SITE}/checkout/pay`);
  await page.waitForURL(/\/boxoffice\/waiting-room\/gate\?queue=/, { timeout: 10_000 });
  await page.locator('#gate-position').filter({ hasText: /Position \d+/ }).waitFor({ timeout: 10_000 });
  await page.screenshot({ path: 'loadtest/out/protected-site-room.png' });
  log(`ended: back in the room (${await page.textContent('#gate-position')})`);

  // 3. A tampered pass (another expiry under the same signature) lands in the room too.
  const [head, claims, signature] = pass.value.split('.');
  const forged = JSON.parse(Buffer.from(claims, 'base64url').toString());
  forged.exp += 86_400;
  await context.addCookies([{
    name: 'boxoffice_pass', url: SITE,
    value: `${head}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${signature}`,
  }]);
  await page.goto(`${SITE}/checkout/cart`);
  await page.waitForURL(/\/boxoffice\/waiting-room\/gate\?queue=/, { timeout: 10_000 });
  log('a tampered pass: in the room');

  // 4. Admission resumes: the waiting page goes back by itself.
  assert.equal((await admin('PATCH', `/admin/queues/${QUEUE}`, { state: 'open' })).status, 200);
  await page.waitForURL(`${SITE}/checkout/cart`, { timeout: 30_000 });
  assert.match(await page.textContent('body'), /^origin \/checkout\/cart visitor=v\d+/);
  log('admitted again and back');

  // 5. The operations page shows which site the queue protects.
  const ops = await context.newPage();
  ops.on('pageerror', (error) => errors.push(String(error)));
  await ops.goto(`${BOX}/ops`);
  await ops.locator(`#queue-rows tr[data-queue="${QUEUE}"] .badge`, { hasText: `Protects ${SITE}` })
    .waitFor({ timeout: 30_000 });
  log('/ops shows the protected site');
  assert.deepEqual(errors, [], 'errors on the pages');
} finally {
  await browser.close();
}
log('PASS');
