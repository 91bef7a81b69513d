// Real-browser test of the pages' security headers, against a running server with the demo data.
//
//   BASE_URL=http://127.0.0.1:18434 node tests/browser/headers.mjs
//
// - every page and asset answers with a Content-Security-Policy that allows the
//   pages' own files only and no framing, X-Frame-Options: DENY and
//   X-Content-Type-Options: nosniff; the API's answers (/openapi.json, the
//   /ops reads, a 404) carry nosniff;
// - a page on another origin (another port) that frames /ops, /waiting-room and
//   /docs gets none of them drawn, while the same page's frame of its own
//   origin is (so the harness itself can frame);
// - /ops, /waiting-room and /docs draw under their policy with no violation
//   reported (the ops, waiting-room and docs tests, which use every control,
//   fail on a violation too).
// Knobs: CHROMIUM (default /usr/bin/chromium).

import assert from 'node:assert/strict';
import http from 'node:http';
import { launchChromium } from './lib/harness.mjs';

const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const PAGES = ['/ops', '/waiting-room', '/docs'];
// An element each page has, to tell it from the browser's error page.
const MARK = { '/ops': '#queue-rows', '/waiting-room': '#concert', '/docs': '#swagger-ui' };
const log = (message) => console.log(`[headers] ${message}`);

async function headersOf(route) {
  const response = await fetch(BASE_URL + route);
  await response.arrayBuffer();
  return response.headers;
}

// 1. The headers themselves.
for (const route of [...PAGES, '/waiting-room/gate', '/assets/ops.js', '/assets/vendor/swagger-ui/swagger-ui.css',
  '/assets/challenge.js', '/assets/vendor/altcha/altcha.min.js', '/assets/vendor/altcha/pbkdf2.js', '/waiting-room/config.json']) {
  const headers = await headersOf(route);
  const csp = headers.get('content-security-policy') || '';
  assert.match(csp, /default-src 'self'/, `${route}: CSP ${csp}`);
  assert.match(csp, /frame-ancestors 'none'/, `${route}: CSP ${csp}`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, `${route}: CSP ${csp}`);
  assert.equal(headers.get('x-frame-options'), 'DENY', `${route}: X-Frame-Options`);
  assert.equal(headers.get('x-content-type-options'), 'nosniff', `${route}: X-Content-Type-Options`);
}
for (const route of ['/openapi.json', '/ops/queues', '/ops/refusals', '/metrics', '/no/such/route']) {
  assert.equal((await headersOf(route)).get('x-content-type-options'), 'nosniff', `${route}: X-Content-Type-Options`);
}
log('headers present');

// 2. Framed from another origin: a page of our own on another port.
const framer = http.createServer((request, response) => {
  response.setHeader('Content-Type', 'text/html; charset=utf-8');
  if (request.url === '/own') return response.end('<!doctype html><p id="own">framed fine</p>');
  const frames = PAGES.map((route, i) => `<iframe id="f${i}" src="${BASE_URL}${route}" width="600" height="300"></iframe>`).join('');
  response.end(`<!doctype html><title>someone else's page</title>${frames}<iframe id="own" src="/own"></iframe>`);
});
await new Promise((resolve) => framer.listen(0, '127.0.0.1', resolve));
const framerUrl = `http://127.0.0.1:${framer.address().port}/`;

const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const refusals = [];
  page.on('console', (message) => {
    if (/frame-ancestors|X-Frame-Options/i.test(message.text())) refusals.push(message.text());
  });
  await page.goto(framerUrl, { waitUntil: 'load' });
  const own = page.frames().find((frame) => frame.url().endsWith('/own'));
  assert.ok(own && (await own.$('#own')), 'a frame of the framing page\'s own origin draws');
  // Give a page that did load the time to draw its first elements.
  await page.waitForTimeout(1500);
  for (const [i, route] of PAGES.entries()) {
    const frame = await (await page.$(`#f${i}`)).contentFrame();
    const drawn = frame ? await frame.$(MARK[route]).catch(() => null) : null;
    const url = frame ? frame.url() : '(none)';
    assert.equal(drawn, null, `${route} was drawn inside another origin's frame (${url})`);
    assert.ok(!url.startsWith(BASE_URL), `${route}: the frame stayed on ${url}`);
  }
  assert.ok(refusals.length >= PAGES.length, `the browser reports the refusals: ${refusals.join(' | ')}`);
  log(`framing refused: ${refusals.length} reports`);

  // 3. The pages draw under their policy, without a violation.
  // What shows each page working: on /ops a sales bar, whose width is set from script (a style
  // attribute the policy would refuse); the waiting room's concerts; Swagger UI's operations.
  const drawn = [
    ['/ops', '#sales-rows tr[data-schedule] .stack .free', 'visible'],
    ['/waiting-room', '#concert option', 'attached'],
    ['/docs', '.opblock', 'visible'],
  ];
  for (const [route, ready, state] of drawn) {
    const tab = await context.newPage();
    const violations = [];
    tab.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) violations.push(message.text());
    });
    tab.on('pageerror', (error) => violations.push(String(error)));
    await tab.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        console.error(`Content-Security-Policy violation: ${event.violatedDirective} ${event.blockedURI}`);
      });
    });
    await tab.goto(BASE_URL + route);
    await tab.locator(ready).first().waitFor({ state, timeout: 60_000 });
    await tab.waitForTimeout(2000);
    assert.deepEqual(violations, [], `${route}: violations of its policy`);
    await tab.close();
    log(`${route} draws under its policy`);
  }
} finally {
  await browser.close();
  framer.close();
}
log('PASS');
