// The chaos soak's users (loadtest/chaos.sh): fans arriving at a constant rate
// at several gateways while faults come and go. Every kind of user a sale
// has: buyers, fans who give up in line, fans who give up with seats held,
// buyers who retry their payments with their keys, and fans who reload the
// page and come back. Each behaves as a careful client does: obeys
// Retry-After, moves to another gateway when one stops answering, retries a
// charge or payment whose outcome is unknown with the same Idempotency-Key
// and one that "did nothing" with a new key.
//
// No threshold decides the run: every answer and every promise the server
// made is logged (`CHAOS {json}` lines on the console) and loadtest/chaos.py
// checks them against Postgres and Redis afterwards.
//
// Environment: BASE_URLS (comma-separated gateways), RATE (arrivals/s),
// DURATION (e.g. 120s), CONCERT_ID and SCHEDULES (the seats fought over),
// USERS (ids 1..USERS are seeded), RUN (a tag for idempotency keys).

import http from 'k6/http';
import exec from 'k6/execution';
import { sleep } from 'k6';
import encoding from 'k6/encoding';

const BASES = (__ENV.BASE_URLS || 'http://127.0.0.1:8080').split(',');
const RATE = parseInt(__ENV.RATE || '8', 10);
const DURATION = __ENV.DURATION || '120s';
const CONCERT_ID = parseInt(__ENV.CONCERT_ID || '4', 10);
const SCHEDULES = (__ENV.SCHEDULES || '').split(',').filter(Boolean).map(Number);
const SEATS_PER_SCHEDULE = parseInt(__ENV.SEATS_PER_SCHEDULE || '1000', 10);
const USERS = parseInt(__ENV.USERS || '100000', 10);
const RUN = __ENV.RUN || 'chaos';
const WAIT_TIMEOUT_S = parseInt(__ENV.WAIT_TIMEOUT_S || '90', 10);
// How long a fan keeps sending one request again (as the page does, obeying
// Retry-After) before giving up on it.
const PATIENCE_MS = parseInt(__ENV.PATIENCE_S || '60', 10) * 1000;

export const options = {
  scenarios: {
    fans: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: RATE * 40,
      maxVUs: RATE * 120,
      gracefulStop: '60s',
    },
  },
  // Nothing is judged here (see the header); k6 only drives.
  thresholds: {},
  summaryTrendStats: ['med', 'p(99)', 'max'],
};

const ANY = http.expectedStatuses({ min: 100, max: 599 });
// Codes that promise nothing happened: a retry may use a new key.
const NOTHING = ['DEPENDENCY_UNAVAILABLE', 'OVERLOADED'];

function log(record) {
  console.log(`CHAOS ${JSON.stringify(record)}`);
}

function code(res) {
  try {
    const body = res.json();
    return body && typeof body.code === 'string' ? body.code : '';
  } catch (_) {
    return '';
  }
}

function body(res) {
  try {
    return res.json();
  } catch (_) {
    return null;
  }
}

// One request on the user's gateway, logged; a gateway that does not answer
// is left for the next one (as a load balancer would).
function send(user, method, path, payload, name, headers) {
  const gateway = user.gateway % BASES.length;
  const params = { headers: Object.assign({}, headers), tags: { name }, responseCallback: ANY, timeout: '20s' };
  if (payload !== null) params.headers['Content-Type'] = 'application/json';
  const started = Date.now();
  const res = http.request(method, `${BASES[gateway]}${path}`, payload === null ? null : JSON.stringify(payload), params);
  const record = { k: 'r', t: started, d: Date.now() - started, n: name, s: res.status, g: gateway, u: user.id };
  if (res.status >= 400) record.c = code(res);
  log(record);
  if (res.status === 0) user.gateway += 1;
  return res;
}

function pause(res) {
  const after = Number(res.headers['Retry-After']);
  sleep(Math.min(Number.isFinite(after) && after > 0 ? after : 1, 5) * (0.5 + Math.random() * 0.5));
}

// A read or a queue call: sent again while the answer is a 503 or nothing.
function retrying(user, method, path, payload, name, headers) {
  let res = null;
  const deadline = Date.now() + PATIENCE_MS;
  while (Date.now() < deadline) {
    res = send(user, method, path, payload, name, headers);
    if (res.status !== 0 && res.status !== 503) return res;
    if (res.status === 0) sleep(0.2 + Math.random() * 0.3);
    else pause(res);
  }
  return res;
}

// A charge or payment under Idempotency-Key: retried with the same key while
// the outcome is unknown, with a new key after an answer that promised
// nothing happened. Logs the key's fate for the verdict. Returns the final
// answer (or null when the user gave up). Once an outcome is unknown, the key
// stays: an answer that this retry did nothing says nothing of the first try.
function keyed(user, op, method, path, payload, headers) {
  let key = `${RUN}-${op}-${user.id}-${user.keys++}`;
  let unknown = false;
  const deadline = Date.now() + PATIENCE_MS;
  while (Date.now() < deadline) {
    const res = send(user, method, path, payload, op, Object.assign({ 'Idempotency-Key': key }, headers));
    const c = res.status >= 400 ? code(res) : '';
    if (res.status === 503 && NOTHING.includes(c) && !unknown) {
      log({ k: 'nothing', op, u: user.id, key, t: Date.now() });
      key = `${RUN}-${op}-${user.id}-${user.keys++}`;
      pause(res);
      continue;
    }
    if (res.status === 0 || res.status === 503) {
      // OUTCOME_UNKNOWN, TIMEOUT or no answer at all: the same key settles it.
      unknown = true;
      if (res.status === 0) sleep(0.2 + Math.random() * 0.3);
      else pause(res);
      continue;
    }
    if (unknown) log({ k: 'settled', op, u: user.id, key, s: res.status });
    return { res, key };
  }
  if (unknown) log({ k: 'unsettled', op, u: user.id, key });
  return null;
}

function join(user) {
  const res = retrying(user, 'POST', '/api/waiting-queue/', null, 'join', { 'user-id': String(user.id) });
  const ticket = res.status === 200 ? body(res) : null;
  if (ticket) user.token = ticket.token;
  return ticket;
}

// Polls carry the token, as the page does: a place Redis lost comes back with it.
function poll(user) {
  const headers = { 'user-id': String(user.id) };
  if (user.token) headers.Token = user.token;
  return retrying(user, 'GET', '/api/waiting-queue/position', null, 'poll', headers);
}

// The place's sequence number a token carries: its payload is
// `queue|user|issued|nonce|sequence|activeUntil` (docs/queue.md).
function placeOf(token) {
  try {
    const fields = encoding.b64decode(String(token).split('.')[0], 'rawurl', 's').split('|');
    return fields[fields.length - 2];
  } catch (_) {
    return null;
  }
}

function waitForTurn(user, ticket, reloads) {
  const deadline = Date.now() + WAIT_TIMEOUT_S * 1000;
  let reloaded = !reloads;
  while (ticket.tokenStatus === '대기') {
    if (Date.now() > deadline) {
      log({ k: 'gaveup', u: user.id, why: 'wait' });
      return null;
    }
    if (!reloaded && ticket.position > 1) {
      // The page is reloaded: nothing is sent for a few seconds, then the
      // fan comes back with the same identity and token.
      reloaded = true;
      const before = ticket.position;
      const t0 = Date.now();
      sleep(3 + Math.random() * 5);
      const res = poll(user);
      const next = res.status === 200 ? body(res) : null;
      // null: no answer within the fan's patience, so the place is not known lost.
      // Kept: admitted, or waiting at the same place, which is its sequence
      // (signed into the token), not its position: a position can grow when
      // fans ahead whose places a failover lost come back with their tokens.
      let kept = null;
      if (next !== null) {
        kept = next.tokenStatus === '활성' || (next.tokenStatus === '대기' && placeOf(next.token) === placeOf(ticket.token));
      } else if (res.status !== 503 && res.status !== 0) kept = false;
      log({ k: 'reload', u: user.id, t0, t1: Date.now(), before, s: res.status, c: code(res), kept, after: next && next.position, status: next && next.tokenStatus });
      if (next === null) return null;
      ticket = next;
      user.token = ticket.token;
      continue;
    }
    const hint = typeof ticket.pollAfterMs === 'number' ? ticket.pollAfterMs : 1000;
    sleep(Math.min(Math.max(hint, 200), 5000) / 1000);
    const res = poll(user);
    if (res.status !== 200) return null;
    ticket = body(res);
    if (!ticket) return null;
    user.token = ticket.token;
  }
  return ticket.tokenStatus === '활성' ? ticket : null;
}

function charge(user, amount) {
  const done = keyed(user, 'charge', 'PATCH', '/api/balances/balance/charge', { amount }, { 'user-id': String(user.id) });
  if (done === null || done.res.status !== 200) return false;
  log({ k: 'ack', op: 'charge', u: user.id, key: done.key, amount });
  return true;
}

// Holds 1-2 free seats, trying a few times; the hold's answer names them.
function hold(user, token) {
  for (let attempt = 0; attempt < 4; attempt++) {
    const schedule = SCHEDULES[Math.floor(Math.random() * SCHEDULES.length)];
    const count = 1 + Math.floor(Math.random() * 2);
    const seats = [];
    while (seats.length < count) {
      const seat = 1 + Math.floor(Math.random() * SEATS_PER_SCHEDULE);
      if (!seats.includes(seat)) seats.push(seat);
    }
    const res = retrying(
      user,
      'POST',
      `/api/concerts/${CONCERT_ID}/schedules/${schedule}/seats/reservation`,
      { userId: user.id, seats },
      'hold',
      { Token: token },
    );
    if (res.status === 200) {
      log({ k: 'held', u: user.id, schedule, seats });
      return { schedule, seats };
    }
    if (res.status !== 409) return null;
  }
  return null;
}

function pay(user, token, held) {
  const path = `/api/concerts/${CONCERT_ID}/schedules/${held.schedule}/seats/reservation/payment`;
  const payload = { userId: user.id, concertScheduleId: held.schedule };
  const done = keyed(user, 'pay', 'POST', path, payload, { Token: token });
  if (done === null) return null;
  const receipt = body(done.res);
  if (done.res.status !== 200 || receipt === null) {
    log({ k: 'payrefused', u: user.id, key: done.key, s: done.res.status, c: code(done.res) });
    return null;
  }
  log({ k: 'ack', op: 'pay', u: user.id, key: done.key, amount: receipt.paymentAmount, schedule: held.schedule, seats: held.seats });
  return { key: done.key, receipt };
}

export default function () {
  const id = 1 + (exec.scenario.iterationInTest % USERS);
  const user = { id, gateway: id, keys: 0 };
  const kind = Math.random();
  // 15 %: give up in line; 10 %: reload and come back; 10 %: give up with
  // seats held; 15 %: pay, then send the payment again with its key; the
  // rest buy.
  const abandonsLine = kind < 0.15;
  const reloads = kind >= 0.15 && kind < 0.25;
  const abandonsHold = kind >= 0.25 && kind < 0.35;
  const repays = kind >= 0.35 && kind < 0.5;

  if (!abandonsLine && !charge(user, 20000)) return;
  const ticket = join(user);
  if (ticket === null) return;
  if (abandonsLine) {
    for (let i = 0; i < 2 && ticket.tokenStatus === '대기'; i++) {
      sleep(1);
      poll(user);
    }
    log({ k: 'gaveup', u: user.id, why: 'line' });
    return;
  }
  const active = waitForTurn(user, ticket, reloads);
  if (active === null) return;
  const held = hold(user, active.token);
  if (held === null) return;
  if (abandonsHold) {
    log({ k: 'gaveup', u: user.id, why: 'hold' });
    return;
  }
  sleep(Math.random() * 2);
  const paid = pay(user, active.token, held);
  if (paid === null || !repays) return;
  // The same payment again with its key: the same receipt, nothing charged.
  sleep(Math.random());
  const again = send(
    user,
    'POST',
    `/api/concerts/${CONCERT_ID}/schedules/${held.schedule}/seats/reservation/payment`,
    { userId: user.id, concertScheduleId: held.schedule },
    'repay',
    { Token: active.token, 'Idempotency-Key': paid.key },
  );
  const replay = body(again);
  log({
    k: 'replay',
    u: user.id,
    key: paid.key,
    s: again.status,
    c: code(again),
    same: again.status === 200 && replay !== null && replay.paymentAmount === paid.receipt.paymentAmount,
  });
}
