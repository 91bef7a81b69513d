// Waiting-queue load: many users join the default queue (/api/waiting-queue),
// poll their place obeying the server's `pollAfterMs` hint until admitted
// ("활성"), then a share of them books and pays one or two seats and the rest
// simply leave.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VUS=500 -e USERS=1000 loadtest/queue.js
//
// Each VU iteration uses its own user id:
//   USER_OFFSET + (vu - 1) * ITERATIONS + iteration + 1,   all <= USERS
// or, with DURATION set, USER_OFFSET + 1, +2, ... in iteration order up to USERS.
// See loadtest/README.md for every knob.

import exec from 'k6/execution';
import { check, sleep } from 'k6';
import { Counter } from 'k6/metrics';
import {
  ACTIVE,
  bookAndPay,
  call,
  chargeBalance,
  checkTicket,
  commonThresholds,
  envFloat,
  envInt,
  joinsOk,
  envStr,
  json,
  latencyThresholds,
  requireServer,
  requireUser,
  waitUntilActive,
  WAIT_TIMEOUT_S,
  concertIdsFromEnv,
  loadCatalog,
  schedulesFromEnv,
  sameJoin,
} from './lib.js';

const VUS = envInt('VUS', 200);
const ITERATIONS = envInt('ITERATIONS', 1);
// With DURATION (e.g. 60s) the VUs loop for that long instead of ITERATIONS
// times each, taking user ids in order until USERS is reached.
const DURATION = envStr('DURATION', '');
const USERS = envInt('USERS', 1000);
const USER_OFFSET = envInt('USER_OFFSET', 0);
// Share of admitted users who book (charge, hold, pay); the others just leave.
const BOOK_RATIO = envFloat('BOOK_RATIO', 0.2);
// Spread the first joins over this many seconds (0 = everyone at once).
const JOIN_SPREAD_S = envFloat('JOIN_SPREAD_S', 5);

// iterations skipped because every user id of the range was used (DURATION mode)
const usersExhausted = new Counter('users_exhausted');

const LAST_USER = DURATION ? USERS : USER_OFFSET + VUS * ITERATIONS;

const scenario = DURATION
  ? {
      executor: 'constant-vus',
      vus: VUS,
      duration: DURATION,
      // let the users already in line finish their wait
      gracefulStop: `${WAIT_TIMEOUT_S + 30}s`,
    }
  : {
      executor: 'per-vu-iterations',
      vus: VUS,
      iterations: ITERATIONS,
      // Bounded: every iteration waits at most WAIT_TIMEOUT_S plus its booking.
      maxDuration: envStr('MAX_DURATION', `${Math.ceil(ITERATIONS * (WAIT_TIMEOUT_S + 30) + JOIN_SPREAD_S)}s`),
      gracefulStop: '30s',
    };

export const options = {
  scenarios: { queue: scenario },
  setupTimeout: '60s',
  teardownTimeout: '60s',
  thresholds: Object.assign(
    commonThresholds(),
    latencyThresholds(['join', 'poll'], envInt('P95_MS', 200), envInt('P99_MS', 500)),
    // reported per route; loose limits, the queue is what this script measures
    latencyThresholds(['rejoin', 'charge', 'seats', 'hold', 'pay'], envInt('BOOK_P95_MS', 500), envInt('BOOK_P99_MS', 1000)),
    {
      checks: [`rate>=${envFloat('MIN_CHECK_RATE', 1)}`],
    },
  ),
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  if (!DURATION && LAST_USER > USERS) {
    throw new Error(
      `USER_OFFSET + VUS * ITERATIONS = ${LAST_USER} exceeds USERS=${USERS}: users would be reused`,
    );
  }
  requireServer();
  requireUser(LAST_USER);
  const catalog = loadCatalog(concertIdsFromEnv());
  return { catalog, schedules: schedulesFromEnv(catalog) };
}

export default function (data) {
  const userId = DURATION
    ? USER_OFFSET + exec.scenario.iterationInTest + 1
    : USER_OFFSET + (exec.vu.idInTest - 1) * ITERATIONS + exec.vu.iterationInScenario + 1;
  if (userId > USERS) {
    // DURATION mode ran out of distinct users: idle until the end
    usersExhausted.add(1);
    sleep(1);
    return;
  }
  const headers = { 'user-id': String(userId) };
  if (JOIN_SPREAD_S > 0 && exec.vu.iterationInScenario === 0) {
    // spread the first joins; later iterations follow naturally
    sleep(Math.random() * JOIN_SPREAD_S);
  }

  const joinedAt = Date.now();
  const joinRes = call('POST', '/api/waiting-queue/', null, { name: 'join', headers });
  if (!checkTicket(joinRes, 'join')) return;
  const first = json(joinRes);
  check(first, { 'join: userId echoed': (t) => t.userId === userId });

  // Joining again must hand back the same token and keep the place.
  const again = call('POST', '/api/waiting-queue/', null, { name: 'rejoin', headers });
  if (again.status === 200) joinsOk.add(1);
  const second = json(again);
  check(again, {
    'rejoin: same join\'s token': () => second !== null && sameJoin(second.token, first.token),
  });

  const pollFn = () => call('GET', '/api/waiting-queue/position', null, { name: 'poll', headers });
  const { ticket, status } = waitUntilActive(first, pollFn, joinedAt);
  if (status !== 'active') return;
  check(ticket, { 'admitted: 활성 with position 0': (t) => t.tokenStatus === ACTIVE && t.position === 0 });

  if (Math.random() < BOOK_RATIO) {
    const balance = chargeBalance(userId, envInt('CHARGE', 20000));
    if (balance === null) return;
    bookAndPay(userId, ticket.token, balance, {
      catalog: data.catalog,
      schedules: data.schedules,
      maxSeats: 2,
      attempts: 3,
    });
  }
}
