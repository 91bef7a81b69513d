// Shared helpers of the boxoffice k6 scripts (queue.js, rush.js, v1.js).
//
// - env knobs with defaults (envInt, envFloat, envStr, envBool)
// - `call()`: one HTTP request tagged by route name, counting 5xx, transport
//   errors and answers outside the route's expected statuses
// - queue waiting loop obeying the server's `pollAfterMs` hint
// - demo catalogue (schedule -> concert, dates, codes), uuid5 of demo users
// - the invariants check used in setup() and teardown()

import http from 'k6/http';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import { check, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import exec from 'k6/execution';

// ------------------------------------------------------------------ env knobs

export function envStr(name, fallback) {
  const value = __ENV[name];
  return value === undefined || value === '' ? fallback : value;
}

export function envInt(name, fallback) {
  const raw = envStr(name, undefined);
  if (raw === undefined) return fallback;
  const value = parseInt(raw, 10);
  if (Number.isNaN(value)) throw new Error(`env ${name}=${raw} is not an integer`);
  return value;
}

export function envFloat(name, fallback) {
  const raw = envStr(name, undefined);
  if (raw === undefined) return fallback;
  const value = parseFloat(raw);
  if (Number.isNaN(value)) throw new Error(`env ${name}=${raw} is not a number`);
  return value;
}

export function envBool(name, fallback) {
  const raw = envStr(name, undefined);
  if (raw === undefined) return fallback;
  return !['0', 'false', 'no', 'off'].includes(raw.toLowerCase());
}

export const BASE_URL = envStr('BASE_URL', 'http://127.0.0.1:8080').replace(/\/+$/, '');

// How long a VU waits in the queue before giving up (counted in admission_timeouts).
export const WAIT_TIMEOUT_S = envInt('WAIT_TIMEOUT_S', 120);
// Upper bound of one sleep between polls, whatever pollAfterMs says.
export const POLL_CAP_MS = envInt('POLL_CAP_MS', 5000);
// Lower bound, so a missing or zero hint never turns into a busy loop.
export const POLL_FLOOR_MS = envInt('POLL_FLOOR_MS', 200);

// ------------------------------------------------------------------ metrics

// Any answer >= 500 but a shed request: must stay at zero in every script.
export const serverErrors = new Counter('server_errors');
// Requests the server shed (503 OVERLOADED: nothing happened, retry after
// Retry-After), retried as the fan's page does; reported, not an error.
export const shed = new Counter('shed');
// Retries of one shed request before it counts as a server error.
const SHED_RETRIES = envInt('SHED_RETRIES', 5);
// Status 0: connection refused/reset, timeout on the client side.
export const transportErrors = new Counter('transport_errors');
// A status that is not one of the route's expected ones (e.g. 400 or 401 on a
// well-formed journey); tagged with name and status to find it in the summary.
export const unexpectedStatus = new Counter('unexpected_status');
// Users who were not admitted within WAIT_TIMEOUT_S.
export const admissionTimeouts = new Counter('admission_timeouts');
// Tokens reported as expired ("만료") while the user was still waiting or about to book.
export const tokensExpired = new Counter('tokens_expired');
// Joins answered 200 (a rejoin too), and users seen admitted: the queue's
// report must count the same (loadtest/report_check.py).
export const joinsOk = new Counter('joins_ok');
export const admittedUsers = new Counter('admitted_users');
// Users who held seats and walked away without paying (ABANDON_PERCENT).
export const abandonedWithSeats = new Counter('abandoned_with_seats');
// Join -> "활성", in milliseconds.
export const timeToAdmit = new Trend('time_to_admit', true);
// Number of position polls one user needed before admission.
export const pollsPerUser = new Trend('polls_per_user');
// Actual wait minus the etaSeconds promised at join, in seconds (negative: early).
export const etaError = new Trend('eta_error_s');

// Thresholds every script shares. Transport errors and unexpected statuses
// default to zero as well; loosen with MAX_TRANSPORT_ERRORS / MAX_UNEXPECTED.
export function commonThresholds() {
  return {
    server_errors: ['count==0'],
    transport_errors: [`count<=${envInt('MAX_TRANSPORT_ERRORS', 0)}`],
    unexpected_status: [`count<=${envInt('MAX_UNEXPECTED', 0)}`],
    admission_timeouts: [`count<=${envInt('MAX_ADMISSION_TIMEOUTS', 0)}`],
  };
}

// p95/p99 limits (ms) on http_req_duration{name:<route>}, overridable per route
// with <ROUTE>_P95 / <ROUTE>_P99 (route upper-cased), e.g. POLL_P99=800.
export function latencyThresholds(routes, p95, p99) {
  const out = {};
  for (const route of routes) {
    const key = route.toUpperCase().replace(/[^A-Z0-9]/g, '_');
    const routeP95 = envInt(`${key}_P95`, p95);
    const routeP99 = envInt(`${key}_P99`, p99);
    out[`http_req_duration{name:${route}}`] = [`p(95)<${routeP95}`, `p(99)<${routeP99}`];
  }
  return out;
}

// ------------------------------------------------------------------ HTTP

const EXPECTED_ALL = http.expectedStatuses({ min: 100, max: 599 });

// One request. `name` becomes the `name` tag (metrics group by route, not URL);
// `expect` is the list of statuses that are a normal answer for this call.
// Statuses outside `expect` count in http_req_failed and unexpected_status.
export function call(method, url, body, { name, headers = {}, expect = [200], tags = {} } = {}) {
  const params = {
    headers: Object.assign({}, headers),
    tags: Object.assign({ name }, tags),
    responseCallback: http.expectedStatuses(...expect),
  };
  if (body !== null && body !== undefined) {
    params.headers['Content-Type'] = 'application/json';
    body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let res = http.request(method, `${BASE_URL}${url}`, body === undefined ? null : body, params);
  // Load shedding answers at once, before any work; a client waits as told and asks again.
  for (let retry = 0; retry < SHED_RETRIES && isShed(res); retry++) {
    shed.add(1, { name });
    sleep(Math.min(5, Number(res.headers['Retry-After']) || 1) * (0.5 + Math.random()));
    res = http.request(method, `${BASE_URL}${url}`, body === undefined ? null : body, params);
  }
  if (res.status === 0) {
    transportErrors.add(1, { name });
    console.warn(`${name}: ${method} ${url}: transport error ${res.error_code} ${res.error}`);
  } else if (res.status >= 500) {
    serverErrors.add(1, { name, status: String(res.status) });
    console.error(`${name}: ${method} ${url} -> ${res.status} ${res.body}`);
  }
  if (res.status !== 0 && !expect.includes(res.status)) {
    unexpectedStatus.add(1, { name, status: String(res.status) });
    if (res.status < 500) {
      console.warn(`${name}: ${method} ${url} -> unexpected ${res.status} ${res.body}`);
    }
  }
  return res;
}

function isShed(res) {
  if (res.status !== 503) return false;
  const body = json(res);
  return body !== null && body.code === 'OVERLOADED';
}

// Parsed JSON body or null (never throws).
export function json(res) {
  try {
    return res.json();
  } catch (_) {
    return null;
  }
}

// Error code of a `{"code": ..., "message": ...}` body, or ''.
export function errorCode(res) {
  const body = json(res);
  return body && typeof body.code === 'string' ? body.code : '';
}

// For setup/teardown probes: no status counts in http_req_failed.
export const anyStatus = EXPECTED_ALL;

// ------------------------------------------------------------------ queue

export const WAITING = '대기';
export const ACTIVE = '활성';
export const EXPIRED = '만료';

const STATUSES = [WAITING, ACTIVE, EXPIRED];

// Checks the ticket shape every join/poll answer shares.
export function checkTicket(res, route) {
  const body = json(res);
  if (route === 'join' && res.status === 200) joinsOk.add(1);
  return check(res, {
    [`${route}: 200`]: (r) => r.status === 200,
    [`${route}: ticket shape`]: () =>
      body !== null &&
      typeof body.token === 'string' &&
      body.token.length > 0 &&
      STATUSES.includes(body.tokenStatus) &&
      typeof body.position === 'number' &&
      typeof body.pollAfterMs === 'number',
    [`${route}: position 0 iff not waiting`]: () =>
      body !== null && (body.tokenStatus === WAITING ? body.position >= 1 : body.position === 0),
  });
}

// Sleep before the next poll: the server's hint, bounded by POLL_FLOOR_MS and
// POLL_CAP_MS, with +-10 % jitter so VUs do not poll in lockstep.
// Two tokens of the same join (queue, user, issue time, nonce). The server
// re-issues a user's token once, at admission, to sign the admission's end
// into it; the fields before that stay, and either token keeps working.
export function sameJoin(a, b) {
  const head = (token) => {
    try {
      return encoding.b64decode(String(token).split('.')[0], 'rawurl', 's').split('|').slice(0, 4).join('|');
    } catch (_) {
      return null;
    }
  };
  const first = head(a);
  return first !== null && first === head(b);
}

export function pollDelaySeconds(ticket) {
  const hint = ticket && typeof ticket.pollAfterMs === 'number' ? ticket.pollAfterMs : 1000;
  const bounded = Math.min(Math.max(hint, POLL_FLOOR_MS), POLL_CAP_MS);
  return (bounded * (0.9 + Math.random() * 0.2)) / 1000;
}

// Polls with `pollFn()` (returns the response) until the ticket is active.
// Returns {ticket, status: 'active'|'expired'|'timeout'|'error'}.
export function waitUntilActive(firstTicket, pollFn, joinedAtMs, label = 'poll') {
  let ticket = firstTicket;
  let polls = 0;
  const deadline = joinedAtMs + WAIT_TIMEOUT_S * 1000;
  while (ticket.tokenStatus === WAITING) {
    if (Date.now() >= deadline) {
      admissionTimeouts.add(1);
      pollsPerUser.add(polls);
      return { ticket, status: 'timeout' };
    }
    sleep(pollDelaySeconds(ticket));
    const res = pollFn();
    polls += 1;
    if (!checkTicket(res, label)) {
      pollsPerUser.add(polls);
      return { ticket, status: 'error' };
    }
    const next = json(res);
    // First come, first served: nobody overtakes a waiting user, so the place
    // only ever moves forward (new joiners go behind).
    check(next, {
      [`${label}: same join's token`]: (t) => sameJoin(t.token, ticket.token),
      [`${label}: place never moves back`]: (t) => t.tokenStatus !== WAITING || t.position <= ticket.position,
    });
    ticket = next;
  }
  pollsPerUser.add(polls);
  if (ticket.tokenStatus === ACTIVE) {
    admittedUsers.add(1);
    timeToAdmit.add(Date.now() - joinedAtMs);
    if (typeof firstTicket.etaSeconds === 'number') {
      etaError.add((Date.now() - joinedAtMs) / 1000 - firstTicket.etaSeconds);
    }
    return { ticket, status: 'active' };
  }
  tokensExpired.add(1);
  return { ticket, status: 'expired' };
}

// ------------------------------------------------------------------ catalogue

// The demo data every fresh database starts with (the default catalogue).
export const DEMO_CONCERT_IDS = [1, 2, 3];
export const DEMO_CODES = ['hero-autumn', 'iu-winter', 'bts-spring'];

// Reads the catalogue from the server (setup only): for each concert id, its
// schedules (open read) and the seat map of each schedule. Returns
//   { concerts: {id: {id, code, schedules: [ids]}},
//     schedules: {id: {id, concertId, scheduleAt, seatCount, price, prices}} }
// (`price` when every seat costs the same, else `prices`: seat number -> price).
// Works for the demo concerts and for any other (e.g. the seeded bench-arena).
export function loadCatalog(concertIds) {
  const catalog = { concerts: {}, schedules: {} };
  for (const concertId of concertIds) {
    const res = http.get(`${BASE_URL}/api/concerts/${concertId}/schedules`, {
      tags: { name: 'setup' },
      responseCallback: anyStatus,
    });
    const body = json(res);
    if (res.status !== 200 || !body || !Array.isArray(body.schedules)) {
      throw new Error(`GET /api/concerts/${concertId}/schedules -> ${res.status} ${res.body}`);
    }
    catalog.concerts[concertId] = {
      id: concertId,
      code: body.concertCode,
      schedules: body.schedules.map((s) => s.concertDateId),
    };
    for (const schedule of body.schedules) {
      const seatsRes = http.get(
        `${BASE_URL}/api/concerts/${concertId}/schedules/${schedule.concertDateId}/seats`,
        { tags: { name: 'setup' }, responseCallback: anyStatus },
      );
      const seats = json(seatsRes);
      if (seatsRes.status !== 200 || !seats || !Array.isArray(seats.seats)) {
        throw new Error(`seats of schedule ${schedule.concertDateId} -> ${seatsRes.status} ${seatsRes.body}`);
      }
      // One price for the whole schedule when uniform (keeps setup data small:
      // every VU gets its own copy), else a seat -> price map.
      const uniform = seats.seats.every((seat) => seat.seatPrice === seats.seats[0].seatPrice);
      let prices = null;
      if (!uniform) {
        prices = {};
        for (const seat of seats.seats) prices[seat.seatNumber] = seat.seatPrice;
      }
      catalog.schedules[schedule.concertDateId] = {
        id: schedule.concertDateId,
        concertId,
        scheduleAt: schedule.scheduleAt,
        seatCount: seats.seats.length,
        price: uniform && seats.seats.length > 0 ? seats.seats[0].seatPrice : null,
        prices,
      };
    }
  }
  return catalog;
}

// Price of seat `number` of a catalogue schedule.
export function seatPrice(schedule, number) {
  return schedule.prices ? schedule.prices[number] : schedule.price;
}

// Concert ids of the run: env CONCERT_ID (one id) or CONCERT_IDS (list), else the demo ones.
export function concertIdsFromEnv() {
  const raw = envStr('CONCERT_IDS', envStr('CONCERT_ID', DEMO_CONCERT_IDS.join(',')));
  return raw
    .split(',')
    .map((id) => parseInt(id, 10))
    .filter((id) => !Number.isNaN(id));
}

// Schedule ids of the run: env SCHEDULES (list), else every schedule of the catalogue.
// Throws on an id the catalogue does not have.
export function schedulesFromEnv(catalog) {
  const raw = envStr('SCHEDULES', '');
  const ids = raw
    ? raw.split(',').map((id) => parseInt(id, 10))
    : Object.keys(catalog.schedules).map((id) => parseInt(id, 10));
  for (const id of ids) {
    if (!catalog.schedules[id]) {
      throw new Error(`schedule ${id} is not one of concerts ${Object.keys(catalog.concerts)} (set CONCERT_ID)`);
    }
  }
  return ids;
}

export function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

// `count` distinct random elements of `list` (fewer if the list is shorter).
export function sample(list, count) {
  const copy = list.slice();
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, count);
}

// ------------------------------------------------------------------ uuid5

const NAMESPACE_OID = '6ba7b812-9dad-11d1-80b4-00c04fd430c8';

function hexToBytes(hex) {
  const clean = hex.replace(/-/g, '');
  const out = [];
  for (let i = 0; i < clean.length; i += 2) out.push(parseInt(clean.substr(i, 2), 16));
  return out;
}

// UTF-8 bytes of a JS string (k6 has no TextEncoder).
function utf8Bytes(text) {
  const out = [];
  for (const ch of text) {
    let cp = ch.codePointAt(0);
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else
      out.push(
        0xf0 | (cp >> 18),
        0x80 | ((cp >> 12) & 63),
        0x80 | ((cp >> 6) & 63),
        0x80 | (cp & 63),
      );
  }
  return out;
}

// RFC 4122 version 5 UUID of `name` in `namespace` (default NAMESPACE_OID).
export function uuid5(name, namespace = NAMESPACE_OID) {
  const input = new Uint8Array(hexToBytes(namespace).concat(utf8Bytes(name)));
  const digest = new Uint8Array(crypto.sha1(input.buffer, 'binary'));
  const bytes = Array.from(digest.slice(0, 16));
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.map((b) => (b < 16 ? '0' : '') + b.toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// UUID of demo/seeded user N, as the server derives it.
export function userUuid(userId) {
  return uuid5(`boxoffice-user-${userId}`);
}

// ------------------------------------------------------------------ setup/teardown

// Fails setup() fast when the server is down or the user range is not seeded.
export function requireServer() {
  const res = http.get(`${BASE_URL}/ready`, { tags: { name: 'ready' }, responseCallback: anyStatus });
  if (res.status !== 200) {
    throw new Error(`${BASE_URL}/ready answered ${res.status} ${res.body || res.error}`);
  }
}

// Throws unless user `userId` exists (GET balance answers 200, not 404).
export function requireUser(userId) {
  const res = http.get(`${BASE_URL}/api/balances/balance`, {
    headers: { 'user-id': String(userId) },
    tags: { name: 'setup' },
    responseCallback: anyStatus,
  });
  if (res.status !== 200) {
    throw new Error(
      `user ${userId} is not known to the server (GET balance -> ${res.status} ${res.body}); ` +
        `seed more users: boxoffice seed --users N (same DATABASE_URL)`,
    );
  }
}

// The audit of everything done before the call; a check named `invariants`
// that the scripts' thresholds require at rate 1. Logs the report (with the
// violations when failing). With ADMIN_TOKEN: GET /admin/invariants, a run that
// begins after the call. Without: GET /ops/invariants, which may serve a result
// up to AUDIT_MAX_AGE_MS old (the server's BOXOFFICE_AUDIT_MAX_AGE_MS), so that
// long is waited out first.
export function checkInvariants() {
  const token = envStr('ADMIN_TOKEN', '');
  const params = { tags: { name: 'invariants' }, responseCallback: anyStatus, timeout: '60s' };
  let url = `${BASE_URL}/admin/invariants`;
  if (token) {
    params.headers = { Authorization: `Bearer ${token}` };
  } else {
    url = `${BASE_URL}/ops/invariants`;
    sleep(envInt('AUDIT_MAX_AGE_MS', 2000) / 1000 + 0.5);
  }
  const res = http.get(url, params);
  const body = json(res);
  const ok = res.status === 200 && body !== null && body.ok === true;
  check(res, { invariants: () => ok });
  if (ok) {
    console.log(`invariants ok: ${res.body}`);
  } else {
    console.error(`INVARIANTS FAILED: GET ${url} -> ${res.status} ${res.body}`);
  }
  return ok;
}

// Seats marked taken (sold or held) per schedule of the catalogue, for the teardown report.
export function takenSeats(catalog) {
  const out = {};
  for (const schedule of Object.values(catalog.schedules)) {
    const res = http.get(`${BASE_URL}/api/concerts/${schedule.concertId}/schedules/${schedule.id}/seats`, {
      tags: { name: 'teardown' },
      responseCallback: anyStatus,
    });
    const body = json(res);
    out[schedule.id] =
      res.status === 200 && body && Array.isArray(body.seats)
        ? `${body.seats.filter((s) => s.reserveYn === 'Y').length}/${body.seats.length}`
        : `status ${res.status}`;
  }
  return out;
}

// ------------------------------------------------------------------ booking

// Booking outcomes shared by the scripts.
export const holdsOk = new Counter('holds_ok');
export const holdConflicts = new Counter('hold_conflicts');
export const paymentsOk = new Counter('payments_ok');
export const seatsPaid = new Counter('seats_paid');
export const wonPaid = new Counter('won_paid');
// Users who were admitted but found no seat within their attempts (expected in a rush).
export const noSeat = new Counter('no_seat');
// Seconds from the start of the scenario to each successful payment; its max is
// the window in which all payments happened (payments_ok / max = payments per second).
export const paymentWindow = new Trend('payment_window_s');

// Charges `amount` won to user `userId` through /api; returns the balance after, or null.
export function chargeBalance(userId, amount) {
  const res = call('PATCH', '/api/balances/balance/charge', String(amount), {
    name: 'charge',
    headers: { 'user-id': String(userId) },
  });
  const body = json(res);
  const ok = check(res, {
    'charge: 200': (r) => r.status === 200,
    'charge: balance returned': () => body !== null && body.userId === userId && body.amount >= amount,
  });
  return ok ? body.amount : null;
}

// Free seats {number, price} of a schedule through /api, or null on error. The
// token is sent along (needed when the server requires it for reads).
export function freeSeats(catalog, scheduleId, token) {
  const schedule = catalog.schedules[scheduleId];
  const res = call('GET', `/api/concerts/${schedule.concertId}/schedules/${scheduleId}/seats`, null, {
    name: 'seats',
    headers: token ? { Token: token } : {},
  });
  const body = json(res);
  const ok = check(res, {
    'seats: 200': (r) => r.status === 200,
    'seats: every seat of the schedule at its price': () =>
      body !== null &&
      body.scheduleId === scheduleId &&
      Array.isArray(body.seats) &&
      body.seats.length === schedule.seatCount &&
      body.seats.every(
        (s) => (s.reserveYn === 'Y' || s.reserveYn === 'N') && s.seatPrice === seatPrice(schedule, s.seatNumber),
      ),
  });
  if (!ok) return null;
  return body.seats.filter((s) => s.reserveYn === 'N').map((s) => ({ number: s.seatNumber, price: s.seatPrice }));
}

// The /api booking journey of an admitted user: hold 1..maxSeats free seats of a
// random schedule among `schedules` (retrying on 409 SEAT_UNAVAILABLE, switching
// schedule when one is sold out) and pay. `balance` is the balance before paying;
// checks that the payment debits exactly the held total.
// `payAt` (ms since the epoch, optional) is a rendezvous: a user holding seats
// waits until then before paying, so that every payment of the run reaches the
// server in one burst (holds last minutes; a user filling in a payment form
// waits just so).
// Returns 'paid', 'no-seat' or 'error'.
export function bookAndPay(userId, token, balance, { catalog, schedules, maxSeats = 2, attempts = 3, payAt = 0, abandonPercent = 0 }) {
  const tokenHeader = { Token: token };
  let candidates = schedules.slice();
  let scheduleId = pick(candidates);
  let hold = null;
  for (let attempt = 0; attempt < attempts && hold === null && candidates.length > 0; attempt++) {
    const free = freeSeats(catalog, scheduleId, token);
    if (free === null) return 'error';
    if (free.length === 0) {
      candidates = candidates.filter((id) => id !== scheduleId);
      if (candidates.length === 0) break;
      scheduleId = pick(candidates);
      continue;
    }
    const picked = sample(free, 1 + Math.floor(Math.random() * maxSeats));
    const wanted = picked.map((s) => s.number);
    const total = picked.reduce((sum, s) => sum + s.price, 0);
    const concertId = catalog.schedules[scheduleId].concertId;
    const res = call(
      'POST',
      `/api/concerts/${concertId}/schedules/${scheduleId}/seats/reservation`,
      { userId, seats: wanted },
      { name: 'hold', headers: tokenHeader, expect: [200, 409] },
    );
    const body = json(res);
    if (res.status === 200) {
      check(res, {
        'hold: seats and total match': () =>
          body !== null &&
          body.userId === userId &&
          Array.isArray(body.seats) &&
          body.seats.length === wanted.length &&
          body.seats.every((s) => wanted.includes(s.seatNumber)) &&
          body.totalPrice === total,
      });
      holdsOk.add(1);
      hold = { scheduleId, concertId, seats: wanted, total };
    } else if (res.status === 409 && errorCode(res) === 'SEAT_UNAVAILABLE') {
      check(res, {
        'hold conflict: names taken seats': () =>
          body !== null && Array.isArray(body.seats) && body.seats.every((n) => wanted.includes(n)),
      });
      holdConflicts.add(1);
    } else {
      check(res, { 'hold: 200 or 409 SEAT_UNAVAILABLE': () => false });
      return 'error';
    }
  }
  if (hold === null) {
    noSeat.add(1);
    return 'no-seat';
  }
  // A fan who holds seats and walks away: the hold lapses unpaid.
  if (abandonPercent > 0 && Math.random() * 100 < abandonPercent) {
    abandonedWithSeats.add(1);
    return 'abandoned';
  }
  if (payAt > Date.now()) sleep((payAt - Date.now()) / 1000);

  const res = call(
    'POST',
    `/api/concerts/${hold.concertId}/schedules/${hold.scheduleId}/seats/reservation/payment`,
    { userId, concertScheduleId: hold.scheduleId },
    { name: 'pay', headers: Object.assign({ 'Idempotency-Key': `k6-pay-${userId}-${token.slice(-12)}` }, tokenHeader) },
  );
  const body = json(res);
  const paid = check(res, {
    'pay: 200': (r) => r.status === 200,
    'pay: 결제 완료 for the held total': () =>
      body !== null && body.paymentStatus === '결제 완료' && body.paymentAmount === hold.total,
    'pay: balance debited by the total': () => body !== null && body.balance === balance - hold.total,
  });
  if (res.status !== 200) return 'error';
  paymentsOk.add(1);
  seatsPaid.add(hold.seats.length);
  wonPaid.add(hold.total);
  paymentWindow.add((Date.now() - exec.scenario.startTime) / 1000);
  // Payment ends the queue token: the place reads as expired.
  const standing = call('GET', '/api/waiting-queue/position', null, {
    name: 'poll',
    headers: { 'user-id': String(userId) },
  });
  const standingBody = json(standing);
  check(standing, {
    'after pay: token 만료': () => standingBody !== null && standingBody.tokenStatus === EXPIRED,
  });
  if (paid) {
    const after = call('GET', '/api/balances/balance', null, {
      name: 'balance',
      headers: { 'user-id': String(userId) },
    });
    const afterBody = json(after);
    check(after, {
      'balance after pay: debited once': () => afterBody !== null && afterBody.amount === balance - hold.total,
    });
  }
  return 'paid';
}
