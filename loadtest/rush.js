// The booking rush on /api: thousands of users, one VU each, arrive within a
// few seconds. Each charges a balance, joins the default queue, waits until
// admitted (polling with the server's hint), reads the seats of a random
// schedule (by default 1..7 of the three demo concerts), tries to hold 1-2 free
// seats (retrying on 409 SEAT_UNAVAILABLE, moving to another schedule when one
// is sold out) and pays. The demo data has only 7 x 50 = 350 seats, so most
// users get none: 409s and `no_seat` are expected, not errors.
// The catalogue is read from the server in setup(): CONCERT_ID / CONCERT_IDS
// and SCHEDULES point the rush at other concerts (e.g. a seeded bench-arena).
//
// teardown() audits GET /ops/invariants; the run fails unless it is ok.
//
//   boxoffice seed --users 1000          # demo data has users 1..1000 only
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e USERS=2000 loadtest/rush.js
//
// User ids: USER_OFFSET + vu (1..USERS). See loadtest/README.md for every knob.

import exec from 'k6/execution';
import { check, sleep } from 'k6';
import {
  ACTIVE,
  bookAndPay,
  call,
  chargeBalance,
  checkInvariants,
  checkTicket,
  commonThresholds,
  envFloat,
  envInt,
  envStr,
  json,
  latencyThresholds,
  requireServer,
  requireUser,
  takenSeats,
  waitUntilActive,
  WAIT_TIMEOUT_S,
  concertIdsFromEnv,
  loadCatalog,
  schedulesFromEnv,
} from './lib.js';

const USERS = envInt('USERS', 2000);
const USER_OFFSET = envInt('USER_OFFSET', 0);
// Arrivals spread over this many seconds (0 = all at the same instant).
const ARRIVAL_SPREAD_S = envFloat('ARRIVAL_SPREAD_S', 3);
// Hold tries per user (first try plus retries after a 409).
const HOLD_ATTEMPTS = envInt('HOLD_ATTEMPTS', 3);
const MAX_SEATS = envInt('MAX_SEATS', 2);
const CHARGE = envInt('CHARGE', 20000);
// Rendezvous for the payments, in seconds after the start of the run (0 = pay
// as soon as the seats are held). With it, every user holding seats pays at the
// same instant: the benchmark uses it to measure how fast the server settles a
// burst of payments, apart from how fast the load generator walks the users
// there.
const PAY_AT_S = envFloat('PAY_AT_S', 0);
// Share of the users who hold seats and walk away without paying, in percent.
const ABANDON_PERCENT = envFloat('ABANDON_PERCENT', 0);
// Schedules to fight over: SCHEDULES=1,2 (default: every schedule of the concerts
// CONCERT_ID / CONCERT_IDS, default the demo concerts 1,2,3); SCHEDULES=1 for one hot date.

export const options = {
  scenarios: {
    rush: {
      executor: 'per-vu-iterations',
      vus: USERS,
      iterations: 1,
      maxDuration: envStr('MAX_DURATION', `${Math.ceil(WAIT_TIMEOUT_S + ARRIVAL_SPREAD_S + PAY_AT_S + 60)}s`),
      gracefulStop: '30s',
    },
  },
  setupTimeout: '60s',
  teardownTimeout: '120s',
  thresholds: Object.assign(
    commonThresholds(),
    // Limits for a burst of USERS arrivals measured by a k6 on the same small
    // machine as the server; tighten them on a dedicated load generator.
    latencyThresholds(['join', 'poll', 'charge', 'seats'], envInt('P95_MS', 1000), envInt('P99_MS', 2000)),
    latencyThresholds(['hold', 'pay'], envInt('BOOK_P95_MS', 1500), envInt('BOOK_P99_MS', 3000)),
    {
      checks: [`rate>=${envFloat('MIN_CHECK_RATE', 1)}`],
      'checks{check:invariants}': ['rate==1'],
      // at least one sale must have gone through, or the run proved nothing
      payments_ok: [`count>=${envInt('MIN_PAYMENTS', 1)}`],
    },
  ),
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  requireServer();
  requireUser(USER_OFFSET + USERS);
  const catalog = loadCatalog(concertIdsFromEnv());
  const schedules = schedulesFromEnv(catalog);
  const seats = schedules.reduce((sum, id) => sum + catalog.schedules[id].seatCount, 0);
  console.log(`rush: ${USERS} users for ${seats} seats on schedules ${schedules.join(',')}`);
  const before = checkInvariants();
  if (!before) throw new Error('invariants already violated before the rush; not starting');
  return { catalog, schedules };
}

export default function (data) {
  const userId = USER_OFFSET + exec.vu.idInTest;
  const headers = { 'user-id': String(userId) };
  if (ARRIVAL_SPREAD_S > 0) sleep(Math.random() * ARRIVAL_SPREAD_S);

  const balance = chargeBalance(userId, CHARGE);
  if (balance === null) return;

  const joinedAt = Date.now();
  const joinRes = call('POST', '/api/waiting-queue/', null, { name: 'join', headers });
  if (!checkTicket(joinRes, 'join')) return;
  const pollFn = () => call('GET', '/api/waiting-queue/position', null, { name: 'poll', headers });
  const { ticket, status } = waitUntilActive(json(joinRes), pollFn, joinedAt);
  if (status !== 'active') return;
  check(ticket, { 'admitted: 활성 with position 0': (t) => t.tokenStatus === ACTIVE && t.position === 0 });

  bookAndPay(userId, ticket.token, balance, {
    catalog: data.catalog,
    schedules: data.schedules,
    maxSeats: MAX_SEATS,
    attempts: HOLD_ATTEMPTS,
    payAt: PAY_AT_S > 0 ? exec.scenario.startTime + PAY_AT_S * 1000 : 0,
    abandonPercent: ABANDON_PERCENT,
  });
}

export function teardown(data) {
  console.log(`seats taken/total per schedule after the rush: ${JSON.stringify(takenSeats(data.catalog))}`);
  checkInvariants();
}
