// The booking journey through the /api/v1 surface only (one queue per concert
// code, users by UUID): charge, take a token for a concert, poll it (Bearer)
// until active, read the concert's dates and the seats of one date, hold one or
// two seats (one PATCH per seat, retrying on 409), pay, read the balance back.
// teardown() audits GET /ops/invariants; the run fails unless it is ok.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VUS=200 -e USER_OFFSET=3000 loadtest/v1.js
//
// User ids: USER_OFFSET + vu; the UUID is uuid5(NAMESPACE_OID, "boxoffice-user-N"),
// computed here exactly as the server does. See loadtest/README.md.

import exec from 'k6/execution';
import { check, sleep } from 'k6';
import {
  ACTIVE,
  EXPIRED,
  call,
  checkInvariants,
  checkTicket,
  commonThresholds,
  envFloat,
  envInt,
  envStr,
  errorCode,
  holdConflicts,
  holdsOk,
  json,
  latencyThresholds,
  noSeat,
  paymentsOk,
  pick,
  requireServer,
  requireUser,
  sample,
  seatsPaid,
  takenSeats,
  userUuid,
  uuid5,
  waitUntilActive,
  wonPaid,
  WAIT_TIMEOUT_S,
  concertIdsFromEnv,
  loadCatalog,
  seatPrice,
  sameJoin,
} from './lib.js';

const VUS = envInt('VUS', 200);
const USER_OFFSET = envInt('USER_OFFSET', 0);
const ARRIVAL_SPREAD_S = envFloat('ARRIVAL_SPREAD_S', 3);
const HOLD_ATTEMPTS = envInt('HOLD_ATTEMPTS', 3);
const MAX_SEATS = envInt('MAX_SEATS', 2);
const CHARGE = envInt('CHARGE', 20000);
// Restrict to some concert codes, e.g. CONCERT_CODES=hero-autumn,iu-winter
// (default: every concert of CONCERT_ID / CONCERT_IDS, default the demo ones 1,2,3).
const CODES = envStr('CONCERT_CODES', '')
  .split(',')
  .map((c) => c.trim())
  .filter((c) => c);

const ROUTES = ['v1_charge', 'v1_join', 'v1_poll', 'v1_dates', 'v1_seats', 'v1_balance'];

export const options = {
  scenarios: {
    v1: {
      executor: 'per-vu-iterations',
      vus: VUS,
      iterations: 1,
      maxDuration: envStr('MAX_DURATION', `${Math.ceil(WAIT_TIMEOUT_S + ARRIVAL_SPREAD_S + 60)}s`),
      gracefulStop: '30s',
    },
  },
  setupTimeout: '60s',
  teardownTimeout: '120s',
  thresholds: Object.assign(
    commonThresholds(),
    latencyThresholds(ROUTES, envInt('P95_MS', 300), envInt('P99_MS', 800)),
    latencyThresholds(['v1_hold', 'v1_pay'], envInt('BOOK_P95_MS', 500), envInt('BOOK_P99_MS', 1000)),
    {
      checks: [`rate>=${envFloat('MIN_CHECK_RATE', 1)}`],
      'checks{check:invariants}': ['rate==1'],
      payments_ok: [`count>=${envInt('MIN_PAYMENTS', 1)}`],
    },
  ),
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  if (uuid5('boxoffice-user-7') !== '890cd9f4-4be2-56a3-a116-49b160d80fa5') {
    throw new Error('uuid5 self-test failed');
  }
  requireServer();
  requireUser(USER_OFFSET + VUS);
  const catalog = loadCatalog(concertIdsFromEnv());
  const known = Object.values(catalog.concerts).map((c) => c.code);
  const codes = CODES.length > 0 ? CODES : known;
  for (const code of codes) {
    if (!known.includes(code)) throw new Error(`concert code ${code} is not one of ${known} (set CONCERT_IDS)`);
  }
  if (!checkInvariants()) throw new Error('invariants already violated before the run; not starting');
  return { catalog, codes };
}

export default function (data) {
  const { catalog } = data;
  const userId = USER_OFFSET + exec.vu.idInTest;
  const uuid = userUuid(userId);
  const code = pick(data.codes);
  const concert = Object.values(catalog.concerts).find((c) => c.code === code);
  if (ARRIVAL_SPREAD_S > 0) sleep(Math.random() * ARRIVAL_SPREAD_S);

  // 1. charge
  const chargeRes = call('PATCH', `/api/v1/users/${uuid}/balance`, { amount: CHARGE }, { name: 'v1_charge' });
  const charged = json(chargeRes);
  if (
    !check(chargeRes, {
      'v1 charge: 200': (r) => r.status === 200,
      'v1 charge: UUID and id of the user': () =>
        charged !== null && charged.UUID === uuid && charged.userId === userId && charged.amount >= CHARGE,
    })
  ) {
    return;
  }
  const balance = charged.amount;

  // 2. token, 3. wait until active
  const joinedAt = Date.now();
  const joinRes = call('POST', `/api/v1/concerts/${code}/token`, { UUID: uuid }, { name: 'v1_join' });
  if (!checkTicket(joinRes, 'v1 join')) return;
  const first = json(joinRes);
  check(first, { 'v1 join: userId is the UUID': (t) => t.userId === uuid });
  const auth = { Authorization: `Bearer ${first.token}` };
  const pollFn = () => call('GET', `/api/v1/concerts/${code}/token`, null, { name: 'v1_poll', headers: auth });
  const { ticket, status } = waitUntilActive(first, pollFn, joinedAt, 'v1 poll');
  if (status !== 'active') return;
  check(ticket, {
    'v1 admitted: 활성, position 0, same join\'s token': (t) =>
      t.tokenStatus === ACTIVE && t.position === 0 && sameJoin(t.token, first.token),
  });

  // 4. dates of the concert
  const datesRes = call('GET', `/api/v1/concerts/${code}?UUID=${uuid}`, null, { name: 'v1_dates', headers: auth });
  const dates = json(datesRes);
  if (
    !check(datesRes, {
      'v1 dates: 200': (r) => r.status === 200,
      'v1 dates: schedules of the concert': () =>
        dates !== null &&
        dates.concertCode === code &&
        dates.concertId === concert.id &&
        Array.isArray(dates.schedules) &&
        dates.schedules.length === concert.schedules.length &&
        dates.schedules.every((s) => concert.schedules.includes(s.concertDateId)),
    })
  ) {
    return;
  }
  let candidates = dates.schedules.filter((s) => s.available);

  // 5. seats of one date, 6. hold seat by seat
  const held = [];
  let schedule = candidates.length > 0 ? pick(candidates) : null;
  const want = 1 + Math.floor(Math.random() * MAX_SEATS);
  const price = (n) => seatPrice(catalog.schedules[schedule.concertDateId], n);
  for (let attempt = 0; attempt < HOLD_ATTEMPTS && schedule !== null && held.length < want; attempt++) {
    const free = seatsOf(code, uuid, auth, catalog.schedules[schedule.concertDateId]).filter(
      (n) => !held.includes(n),
    );
    if (free.length === 0) {
      if (held.length > 0) break; // keep what we have on this date
      candidates = candidates.filter((s) => s.concertDateId !== schedule.concertDateId);
      schedule = candidates.length > 0 ? pick(candidates) : null;
      continue;
    }
    for (const seatNumber of sample(free, want - held.length)) {
      const res = call(
        'PATCH',
        `/api/v1/concerts/${code}`,
        { UUID: uuid, concertDate: schedule.scheduleAt, seatNumber },
        { name: 'v1_hold', headers: auth, expect: [200, 409] },
      );
      const body = json(res);
      if (res.status === 200) {
        check(res, {
          'v1 hold: the seat, at its price': () =>
            body !== null &&
            body.concertScheduleId === schedule.concertDateId &&
            body.seats.some((s) => s.seatNumber === seatNumber && s.seatPrice === price(seatNumber)),
        });
        holdsOk.add(1);
        held.push(seatNumber);
      } else if (errorCode(res) === 'SEAT_UNAVAILABLE') {
        holdConflicts.add(1);
      } else {
        check(res, { 'v1 hold: 200 or 409 SEAT_UNAVAILABLE': () => false });
        return;
      }
    }
  }
  if (held.length === 0) {
    noSeat.add(1);
    return;
  }

  // 7. pay everything held on this concert
  const total = held.reduce((sum, n) => sum + price(n), 0);
  const payRes = call('POST', '/api/v1/payments', { UUID: uuid }, { name: 'v1_pay', headers: auth });
  const paid = json(payRes);
  const ok = check(payRes, {
    'v1 pay: 200': (r) => r.status === 200,
    'v1 pay: 결제 완료 for every held seat': () =>
      paid !== null &&
      paid.paymentStatus === '결제 완료' &&
      paid.paymentAmount === total &&
      paid.seats.length === held.length &&
      paid.seats.every((s) => held.includes(s.seatNumber)),
    'v1 pay: balance debited by the total': () => paid !== null && paid.balance === balance - total,
  });
  if (payRes.status !== 200) return;
  paymentsOk.add(1);
  seatsPaid.add(held.length);
  wonPaid.add(total);

  // Payment ends the token.
  const standing = call('GET', `/api/v1/concerts/${code}/token`, null, { name: 'v1_poll', headers: auth });
  const standingBody = json(standing);
  check(standing, {
    'v1 after pay: token 만료': () => standingBody !== null && standingBody.tokenStatus === EXPIRED,
  });

  // 8. balance read back
  if (ok) {
    const after = call('GET', `/api/v1/users/${uuid}/balance`, null, { name: 'v1_balance' });
    const body = json(after);
    check(after, { 'v1 balance: debited once': () => body !== null && body.amount === balance - total });
  }
}

// Free seat numbers of one date of the concert (empty list on error; checked).
// `schedule` is the catalogue entry read in setup().
function seatsOf(code, uuid, auth, schedule) {
  const date = encodeURIComponent(schedule.scheduleAt);
  const res = call('GET', `/api/v1/concerts/${code}/seats?UUID=${uuid}&concertDate=${date}`, null, {
    name: 'v1_seats',
    headers: auth,
  });
  const body = json(res);
  const ok = check(res, {
    'v1 seats: 200': (r) => r.status === 200,
    'v1 seats: every seat of the date at its price': () =>
      body !== null &&
      body.scheduleId === schedule.id &&
      Array.isArray(body.seats) &&
      body.seats.length === schedule.seatCount &&
      body.seats.every((s) => s.seatPrice === seatPrice(schedule, s.seatNumber)),
  });
  return ok ? body.seats.filter((s) => s.reserveYn === 'N').map((s) => s.seatNumber) : [];
}

export function teardown(data) {
  console.log(`seats taken/total per schedule: ${JSON.stringify(takenSeats(data.catalog))}`);
  checkInvariants();
}
