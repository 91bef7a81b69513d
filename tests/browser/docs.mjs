// Real-browser test of /docs: the API description renders offline.
//
//   BASE_URL=http://127.0.0.1:18433 node tests/browser/docs.mjs
//
// Every request the page makes to any other host is refused, so a page that
// needed a CDN (or an outside validator) would render nothing and fail here.
// Checks that Swagger UI draws an operation for every path of /openapi.json
// and that a route expands to show its error codes.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './lib/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const OUT = path.join(ROOT, 'loadtest/out');

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const elsewhere = [];
  const errors = [];
  const origin = new URL(BASE_URL).origin;
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:')) return route.continue();
    elsewhere.push(url);
    return route.abort();
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  // The page's Content-Security-Policy allows its own files only: a violation is an error here.
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) errors.push(message.text());
  });

  const spec = await (await fetch(`${BASE_URL}/openapi.json`)).json();
  const operations = Object.values(spec.paths).reduce((count, item) => count + Object.keys(item).length, 0);
  assert.ok(operations >= 30, `only ${operations} operations in /openapi.json`);

  await page.goto(`${BASE_URL}/docs`);
  await page.locator('.opblock').first().waitFor({ timeout: 60_000 });
  const drawn = await page.locator('.opblock').count();
  assert.equal(drawn, operations, `Swagger UI drew ${drawn} operations of ${operations}`);
  assert.match(await page.locator('.info .title').innerText(), /boxoffice/i);

  // One route opened: its responses list the error codes.
  const payment = page.locator('.opblock', { hasText: '/api/v1/payments' }).first();
  await payment.locator('.opblock-summary').click();
  await payment.locator('.responses-table').first().waitFor({ timeout: 30_000 });
  const responses = await payment.locator('.responses-table').first().innerText();
  assert.match(responses, /503/, 'the payment route documents its 503');

  assert.deepEqual(elsewhere, [], 'requests to other hosts');
  assert.deepEqual(errors, [], 'JavaScript errors and Content-Security-Policy violations');
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: path.join(OUT, 'docs.png') });
  console.log(`[docs] ${drawn} operations rendered offline; PASS`);
} finally {
  await browser.close();
}
