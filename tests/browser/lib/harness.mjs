// What every browser test shares: Debian's Chromium launched the same way, a
// step log that says where a failure happened, waiting for a condition
// rather than for a time, and the demo users' UUIDs.

import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-sync'];

/** Debian's Chromium (`CHROMIUM` to pick another); `HEADED=1` shows its windows. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: !process.env.HEADED,
    args: process.env.HEADED ? ARGS.filter((a) => a !== '--headless') : ARGS,
  });
}

/** A test's log, each line with the seconds since it started; `begin` names the step a failure is reported at. */
export function steps(test) {
  const started = Date.now();
  let current = 'start';
  const log = (message) => console.log(`[${test} ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}`);
  return {
    log,
    begin(name) {
      current = name;
      log(name);
    },
    get current() {
      return current;
    },
  };
}

/** Polls `probe` every `every` ms until it returns a truthy value, which it answers; fails with `what` after `ms`. */
export async function until(what, probe, ms = 60_000, every = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await sleep(every);
  }
}

/** The UUID of demo user `user` (UUIDv5 of `boxoffice-user-{user}` in the OID namespace), as the server seeds it. */
export function uuidOf(user) {
  const namespace = Buffer.from('6ba7b8129dad11d180b400c04fd430c8', 'hex');
  const b = createHash('sha1').update(namespace).update(`boxoffice-user-${user}`).digest().subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
