// Booking once admitted: dates, the seat map, holds (one PATCH per seat), the
// balance and payment, then the receipt.
import { t, lang, won, clock, errorText } from './waiting-room-i18n.js';
import { call, serverClock, showLocal, retryDelay, newIdempotencyKey } from './waiting-room-api.js';

export const $ = (id) => document.getElementById(id);
export const show = (el, visible) => { el.hidden = !visible; };

/** Label a button and disable it; `aria-busy` tells assistive tech a request is in flight. */
export function busy(button, disabled, label, inFlight = disabled) {
  if (button.textContent !== label) button.textContent = label;
  button.disabled = disabled;
  button.setAttribute('aria-busy', String(Boolean(inFlight)));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const seatKey = (scheduleAt, n) => `${scheduleAt}#${n}`;
const PAID = { '결제 완료': { en: 'Paid', ko: '결제 완료' } };

export function createBooking({ config, session, save, onWindowOver, onPaid }) {
  const st = {
    active: false,
    schedules: [],
    scheduleAt: null,
    seats: [],
    seatsFor: null,
    selected: new Set(),
    held: new Map(), // seatKey -> { scheduleAt, seatNumber, price, expiresAt }
    balance: null,
    receipt: null,
    topupTouched: false,
    loading: false,
    holding: false,
    toppingUp: false,
    paying: false,
    message: null, // { key, values } or { error }
    payMessage: null,
  };

  const path = (suffix = '') => `/api/v1/concerts/${encodeURIComponent(session().code)}${suffix}`;
  const auth = () => ({ token: session().token });

  /** Errors every booking call can meet: the admission is over, or the request failed. */
  function failed(error, where = 'message') {
    if (error.code === 'TOKEN_EXPIRED' || error.code === 'TOKEN_NOT_FOUND') {
      onWindowOver();
      return;
    }
    st[where] = { error };
  }

  async function loadDates() {
    st.loading = true;
    render();
    try {
      const { data } = await call('GET', `${path()}?UUID=${encodeURIComponent(session().uuid)}`, auth());
      st.schedules = data.schedules || [];
      if (!st.schedules.some((s) => s.scheduleAt === st.scheduleAt)) {
        st.scheduleAt = (st.schedules.find((s) => s.available) || st.schedules[0])?.scheduleAt ?? null;
      }
      await loadSeats();
    } catch (error) {
      failed(error);
    }
    st.loading = false;
    render();
  }

  async function loadSeats() {
    if (!st.scheduleAt) return;
    const at = st.scheduleAt;
    st.loading = true;
    render();
    try {
      const query = `?UUID=${encodeURIComponent(session().uuid)}&concertDate=${encodeURIComponent(at)}`;
      const { data } = await call('GET', path(`/seats${query}`), auth());
      if (st.scheduleAt === at) {
        st.seats = data.seats || [];
        st.seatsFor = at;
        for (const n of [...st.selected]) {
          if (st.seats.find((s) => s.seatNumber === n)?.reserveYn === 'Y') st.selected.delete(n);
        }
        const free = st.seats.filter((s) => s.reserveYn === 'N').length;
        const date = st.schedules.find((s) => s.scheduleAt === at);
        if (date) Object.assign(date, { availableSeatCount: free, available: free > 0 });
      }
    } catch (error) {
      failed(error);
    }
    st.loading = false;
    render();
  }

  async function loadBalance() {
    try {
      st.balance = (await call('GET', `/api/v1/users/${encodeURIComponent(session().uuid)}/balance`)).data.amount;
    } catch (error) {
      failed(error, 'payMessage');
    }
    render();
  }

  /** Holds are kept with the session, so a reload can still pay for them. */
  function keepHolds() {
    session().held = [...st.held.values()];
    save();
  }

  const heldHere = () => [...st.held.values()].filter((h) => h.scheduleAt === st.scheduleAt);
  const heldTotal = () => [...st.held.values()].reduce((sum, h) => sum + h.price, 0);

  function toggleSeat(n) {
    if (st.holding) return;
    if (st.selected.has(n)) st.selected.delete(n);
    else if (heldHere().length + st.selected.size >= config.maxSeatsPerUser) st.message = { error: { code: 'TOO_MANY_SEATS', body: { limit: config.maxSeatsPerUser } } };
    else st.selected.add(n);
    render();
  }

  async function holdSelected() {
    if (st.holding || !st.selected.size) return;
    st.holding = true;
    st.message = null;
    render();
    const at = st.scheduleAt;
    for (const n of [...st.selected].sort((a, b) => a - b)) {
      try {
        const { data } = await call('PATCH', path(), { ...auth(), body: { UUID: session().uuid, concertDate: at, seatNumber: n } });
        // A hold lasts holdSeconds from now (a re-hold keeps its earlier end): enough to learn the zone.
        const half = config.holdSeconds * 500;
        serverClock.learnZone(data.holdExpiresAt, serverClock.now() + half, half + 2000);
        const price = data.seats?.find((s) => s.seatNumber === n)?.seatPrice ?? st.seats.find((s) => s.seatNumber === n)?.seatPrice ?? 0;
        st.held.set(seatKey(at, n), { scheduleAt: at, seatNumber: n, price, expiresAt: data.holdExpiresAt });
        st.selected.delete(n);
        st.message = { key: 'heldOk', values: { n } };
      } catch (error) {
        if (error.code === 'SEAT_UNAVAILABLE') st.selected.delete(n);
        failed(error);
        break;
      }
      render();
    }
    st.holding = false;
    keepHolds();
    await loadSeats();
  }

  async function topUp(event) {
    event.preventDefault();
    if (st.toppingUp) return;
    const input = $('topup-amount');
    const amount = Number(input.value);
    if (!Number.isSafeInteger(amount) || amount < 1) {
      st.payMessage = { error: { code: 'INVALID_AMOUNT' } };
      input.setAttribute('aria-invalid', 'true');
      render();
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    st.toppingUp = true;
    st.payMessage = null;
    render();
    const { data, error } = await withRetries('PATCH', `/api/v1/users/${encodeURIComponent(session().uuid)}/balance`, { amount });
    st.toppingUp = false;
    if (data) {
      st.balance = data.amount;
      st.topupTouched = false;
      input.value = '';
      st.payMessage = { key: 'toppedUp', values: { amount: won(data.amount) } };
    } else {
      failed(error, 'payMessage');
    }
    render();
  }

  async function pay() {
    if (st.paying || !st.held.size) return;
    st.paying = true;
    st.payMessage = null;
    render();
    const { data, error } = await withRetries('POST', '/api/v1/payments', { UUID: session().uuid }, true);
    st.paying = false;
    if (data) {
      st.receipt = data;
      st.balance = data.balance ?? st.balance;
      st.held.clear();
      st.selected.clear();
      keepHolds();
      onPaid();
      $('receipt-heading').focus();
      return;
    }
    if (error.code === 'INSUFFICIENT_BALANCE' && error.body.required != null) {
      st.balance = error.body.balance ?? st.balance;
      $('topup-amount').value = String(error.body.required - (st.balance ?? 0));
      st.topupTouched = true;
    }
    if (['HOLD_EXPIRED', 'NO_HOLD'].includes(error.code)) st.held.clear();
    if (error.code === 'SEAT_UNAVAILABLE') {
      for (const n of error.body.seats || []) for (const [key, h] of st.held) if (h.seatNumber === n) st.held.delete(key);
    }
    keepHolds();
    failed(error, 'payMessage');
    render();
    if (error.code === 'INSUFFICIENT_BALANCE') $('topup-amount').focus();
    if (['HOLD_EXPIRED', 'NO_HOLD', 'SEAT_UNAVAILABLE'].includes(error.code)) loadSeats();
  }

  /**
   * A charge or payment with one Idempotency-Key for this attempt, retried with
   * the same key when no answer came or the server was busy: a retry of one
   * that went through gets its first answer, never a second charge.
   */
  async function withRetries(method, url, body, gated = false) {
    const headers = { 'Idempotency-Key': newIdempotencyKey() };
    for (let attempt = 1; ; attempt++) {
      try {
        return { data: (await call(method, url, { body, headers, ...(gated ? auth() : {}) })).data };
      } catch (error) {
        if (!error.transient || attempt >= 5) return { error };
        const wait = retryDelay(error, attempt);
        st.payMessage = { error };
        render();
        await sleep(wait);
      }
    }
  }

  // ---- Rendering ------------------------------------------------------------

  function renderDates() {
    const select = $('date');
    const options = st.schedules.map((s) => {
      const left = s.available ? t('seatsLeft', { n: s.availableSeatCount }) : t('soldOut');
      return new Option(`${showLocal(s.scheduleAt, lang())} · ${left}`, s.scheduleAt);
    });
    const labels = options.map((o) => o.text).join('|');
    if (select.dataset.labels !== labels) {
      select.replaceChildren(...options);
      select.dataset.labels = labels;
    }
    if (st.scheduleAt) select.value = st.scheduleAt;
    select.disabled = st.holding || !st.schedules.length;
  }

  function renderSeats() {
    const grid = $('seat-grid');
    if (grid.dataset.for !== st.seatsFor || grid.children.length !== st.seats.length) {
      grid.replaceChildren(...st.seats.map((seat) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'seat';
        button.dataset.seat = String(seat.seatNumber);
        button.textContent = String(seat.seatNumber);
        button.addEventListener('click', () => toggleSeat(seat.seatNumber));
        return button;
      }));
      grid.dataset.for = st.seatsFor ?? '';
    }
    grid.setAttribute('aria-busy', String(st.loading));
    st.seats.forEach((seat, i) => {
      const button = grid.children[i];
      const mine = st.held.has(seatKey(st.seatsFor, seat.seatNumber));
      const taken = seat.reserveYn === 'Y' && !mine;
      const selected = st.selected.has(seat.seatNumber);
      const state = mine ? 'mine' : taken ? 'taken' : selected ? 'selected' : 'free';
      button.dataset.state = state;
      button.disabled = taken || mine || st.holding;
      if (taken || mine) button.removeAttribute('aria-pressed');
      else button.setAttribute('aria-pressed', String(selected));
      const what = mine ? t('seatMine') : taken ? t('seatTaken') : t('seatFree');
      button.setAttribute('aria-label', `${t('seatLabel', { n: seat.seatNumber, price: won(seat.seatPrice) })}, ${what}`);
      button.title = button.getAttribute('aria-label');
    });
  }

  function renderHeld() {
    const list = $('held-list');
    const items = [...st.held.values()].map((h) => {
      const li = document.createElement('li');
      li.textContent = `${t('seatNo', { n: h.seatNumber })} · ${showLocal(h.scheduleAt, lang())} · ${won(h.price)}`;
      return li;
    });
    if (!items.length) {
      const li = document.createElement('li');
      li.className = 'empty';
      li.textContent = t('heldNone');
      items.push(li);
    } else {
      const li = document.createElement('li');
      li.className = 'total';
      li.textContent = `${t('total')} ${won(heldTotal())}`;
      items.push(li);
    }
    const text = items.map((li) => li.textContent).join('|');
    if (list.dataset.text !== text) {
      list.replaceChildren(...items);
      list.dataset.text = text;
    }
  }

  function renderReceipt() {
    const r = st.receipt;
    const list = $('receipt');
    if (!r) return list.replaceChildren();
    const dateOf = (id) => st.schedules.find((s) => s.concertDateId === id)?.scheduleAt;
    const rows = [
      ['paymentDate', showLocal(r.paymentDate, lang())],
      ['paymentAmount', won(r.paymentAmount)],
      ['paymentStatus', PAID[r.paymentStatus]?.[lang()] ?? r.paymentStatus],
      ...(r.seats || []).map((s) => [null, `${t('seatNo', { n: s.seatNumber })} · ${dateOf(s.concertScheduleId) ? showLocal(dateOf(s.concertScheduleId), lang()) : ''} · ${won(s.seatPrice)}`]),
      ['paymentIds', (r.paymentIds || []).join(', ')],
      ['balanceAfter', r.balance != null ? won(r.balance) : '–'],
    ];
    list.replaceChildren(...rows.flatMap(([key, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = key ? t(key) : t('seatMap');
      const dd = document.createElement('dd');
      dd.textContent = value;
      if (!key) dd.dataset.seat = 'paid';
      return [dt, dd];
    }));
  }

  const messageText = (m) => (!m ? '' : m.error ? errorText(m.error) : t(m.key, m.values));
  function showMessage(el, m) {
    const text = messageText(m);
    if (el.textContent !== text) el.textContent = text;
    el.dataset.kind = m?.error ? 'error' : 'ok';
  }

  function render() {
    const booking = st.active && !st.receipt;
    show($('booking-panel'), booking);
    show($('balance-panel'), booking);
    show($('receipt-panel'), Boolean(st.receipt));
    renderReceipt();
    if (!booking) return;
    renderDates();
    renderSeats();
    renderHeld();
    $('select-hint').textContent = t('selectHint', { n: config.maxSeatsPerUser });
    const n = st.selected.size;
    busy($('hold-button'), st.holding || !n, st.holding ? t('holding') : n ? t('hold', { n }) : t('holdNone'), st.holding);
    busy($('refresh-seats'), st.loading || st.holding, t('refreshSeats'), st.loading);
    showMessage($('booking-message'), st.message);
    $('balance-amount').textContent = st.balance == null ? '–' : won(st.balance);
    const total = heldTotal();
    const short = st.balance == null ? 0 : total - st.balance;
    $('shortfall').textContent = short > 0 ? t('shortfall', { amount: won(short) }) : '';
    if (short > 0 && !st.topupTouched && !$('topup-amount').value) $('topup-amount').value = String(short);
    busy($('topup-button'), st.toppingUp, st.toppingUp ? t('toppingUp') : t('topUp'));
    busy($('pay-button'), st.paying || !st.held.size, st.paying ? t('paying') : total ? t('pay', { amount: won(total) }) : t('payNone'), st.paying);
    showMessage($('pay-message'), st.payMessage);
    tick();
  }

  /** Once a second: the hold countdown; lapsed holds are dropped and the map reloaded. */
  function tick() {
    const box = $('hold-countdown');
    if (!st.active || st.receipt || !st.held.size) {
      box.textContent = '';
      return;
    }
    const ends = [...st.held.values()].map((h) => serverClock.until(h.expiresAt)).filter((ms) => ms != null);
    if (!ends.length) {
      box.textContent = '';
      return;
    }
    const left = Math.min(...ends);
    if (left <= 0) {
      for (const [key, h] of st.held) if ((serverClock.until(h.expiresAt) ?? 1) <= 0) st.held.delete(key);
      st.message = { key: 'holdLapsed' };
      keepHolds();
      box.textContent = '';
      loadSeats();
      return;
    }
    box.textContent = t('holdCountdown', { t: clock(left / 1000) });
    box.dataset.urgent = String(left < 60000);
  }

  $('date').addEventListener('change', (event) => {
    st.scheduleAt = event.target.value;
    st.selected.clear();
    st.message = null;
    loadSeats();
  });
  $('refresh-seats').addEventListener('click', () => loadDates());
  $('hold-button').addEventListener('click', holdSelected);
  $('topup-form').addEventListener('submit', topUp);
  $('topup-amount').addEventListener('input', () => { st.topupTouched = true; });
  $('pay-button').addEventListener('click', pay);

  return {
    enter() {
      const fresh = !st.active;
      st.active = true;
      st.receipt = null;
      if (fresh) {
        Object.assign(st, { message: null, payMessage: null, topupTouched: false });
        st.selected.clear();
        st.held.clear();
        for (const h of session().held || []) st.held.set(seatKey(h.scheduleAt, h.seatNumber), h);
        loadDates();
        loadBalance();
      }
      render();
    },
    leave() {
      st.active = false;
      st.receipt = null;
      render();
    },
    render,
    tick,
  };
}
