// How long a fan's browser takes to solve a queue's proof-of-work challenge:
// SOLVES solves, one after another, by the vendored ALTCHA widget
// (web/assets/challenge.js) in real Chromium (Debian's, driven by
// playwright-core from tests/browser/), against a running server.
//
//   (cd tests/browser && npm ci)   # once: playwright-core (Chromium: apt-get install chromium)
//   BASE_URL=http://127.0.0.1:8080 ADMIN_TOKEN=ops-secret SOLVES=20 COMPLEXITY=30000 \
//     node loadtest/challenge_solve.mjs
//
// (tests/browser/run.sh installs both too.) The server must serve this
// checkout's web/ (a release build embeds it; a debug build reads it from disk).
//
// Prints one JSON line: {"complexity", "solves", "medianMs", "p90Ms", "minMs",
// "maxMs", "workers", "cores", "samplesMs"}.
//
// What one solve is: a fresh <altcha-widget> fetches a new challenge of QUEUE
// (GET /queues/{queue}/challenge), solves it in WORKERS workers and fires
// `verified`; the time is from the widget's creation to that event, so the
// challenge's round trip and the workers' start are in it, as a fan pays them,
// and the widget's own pause (`minDuration`, 500 ms by default) is not: it is
// set to 0, as the pages set it. The widget's files are loaded before the first
// solve, and WARMUP solves (default 1) are made and not counted. No join is
// made: nothing takes a place in the line.
//
// With ADMIN_TOKEN, QUEUE's challenge is set to COMPLEXITY (admin API) for the
// run and put back as found afterwards; without it the queue's challenge is
// measured as it is set. Run it on a quiet machine: the figure is CPU time.
// Knobs: BASE_URL (default http://127.0.0.1:8080), QUEUE (default `default`),
// SOLVES (20), COMPLEXITY (30000), WARMUP (1), WORKERS (the browser's
// navigator.hardwareConcurrency, the widget's default), CHROMIUM (/usr/bin/chromium).

import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const TOKEN = process.env.ADMIN_TOKEN || '';
const QUEUE = process.env.QUEUE || 'default';
const SOLVES = Number(process.env.SOLVES || 20);
const COMPLEXITY = Number(process.env.COMPLEXITY || 30000);
const WARMUP = Number(process.env.WARMUP ?? 1);
const WORKERS = process.env.WORKERS ? Number(process.env.WORKERS) : null;

async function admin(method, body) {
  const response = await fetch(`${BASE_URL}/admin/queues/${encodeURIComponent(QUEUE)}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} /admin/queues/${QUEUE} answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

/** Nearest rank: the smallest sample with at least `p` of them at or below it. */
function percentile(sorted, p) {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

let found;
if (TOKEN) {
  found = (await admin('GET')).settings.challenge ?? null;
  await admin('PATCH', { challenge: { kind: 'altcha', complexity: COMPLEXITY } });
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  // A page of the server's own (the protected-site room, naming no queue, does nothing by itself),
  // so the widget runs under the pages' own Content-Security-Policy.
  await page.goto(`${BASE_URL}/waiting-room/gate`);
  const measured = await page.evaluate(async ({ queue, solves, warmup, workers }) => {
    const { Challenge } = await import('/assets/challenge.js');
    const box = document.createElement('div');
    document.body.append(box);
    const challenge = new Challenge(box);
    const url = `/queues/${encodeURIComponent(queue)}/challenge`;
    const samples = [];
    for (let i = 0; i < warmup + solves; i++) {
      await challenge.solve(url, 'en', { minDurationMs: 0, workers });
      if (i >= warmup) samples.push(challenge.lastSolveMs);
    }
    challenge.clear();
    return { samples, cores: navigator.hardwareConcurrency };
  }, { queue: QUEUE, solves: SOLVES, warmup: WARMUP, workers: WORKERS });
  const sorted = [...measured.samples].sort((a, b) => a - b);
  const round = (ms) => Math.round(ms * 10) / 10;
  console.log(JSON.stringify({
    complexity: TOKEN ? COMPLEXITY : 'as set',
    solves: sorted.length,
    medianMs: round(percentile(sorted, 0.5)),
    p90Ms: round(percentile(sorted, 0.9)),
    minMs: round(sorted[0]),
    maxMs: round(sorted.at(-1)),
    workers: WORKERS ?? measured.cores,
    cores: measured.cores,
    samplesMs: measured.samples.map(round),
  }));
} finally {
  await browser.close();
  if (TOKEN) await admin('PATCH', { challenge: found });
}
