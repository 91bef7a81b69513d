// Sales: totals over every schedule, a row per schedule, and the seat map of
// the chosen one (with the holder and the hold's end when a token is present).

import { admin, openReads } from './ops-api.js';
import { el, fmtClock, fmtInt, fmtLocal, fmtWon, setText } from './ops-format.js';

function percent(part, whole) {
  return whole > 0 ? `${Math.round((part / whole) * 100)}%` : '0%';
}

// Sold / held / free as one bar; the numbers are in the row's cells beside it.
function stackBar(s) {
  const total = Math.max(1, s.seats);
  const part = (cls, n) => el('span', { class: cls, style: `width:${(n / total) * 100}%` });
  return el('div', { class: 'stack', 'aria-hidden': 'true' }, part('sold', s.sold), part('held', s.held), part('free', s.free));
}

export class Sales {
  constructor({ totals, tbody, seatmap, getToken, onUnauthorized }) {
    Object.assign(this, { totals, tbody, seatmap, getToken, onUnauthorized });
    this.selected = null;
    this.schedules = new Map();
    this.rows = new Map();
    this.tileNodes = new Map();
  }

  tile(key, label, value, note) {
    let tile = this.tileNodes.get(key);
    if (!tile) {
      tile = { main: el('dd', { id: `sales-${key}` }), note: el('dd', { class: 'tile-note' }) };
      this.totals.append(el('div', { class: 'tile' }, el('dt', {}, label), tile.main, tile.note));
      this.tileNodes.set(key, tile);
    }
    setText(tile.main, value);
    setText(tile.note, note || '');
    tile.note.hidden = !note;
  }

  render(concerts) {
    const sum = { seats: 0, free: 0, held: 0, sold: 0, revenue: 0, soldOut: 0, schedules: 0 };
    const rows = [];
    for (const concert of concerts) {
      for (const s of concert.schedules) {
        for (const key of ['seats', 'free', 'held', 'sold', 'revenue']) sum[key] += s[key];
        sum.schedules += 1;
        if (s.free === 0 && s.held === 0) sum.soldOut += 1;
        this.schedules.set(s.scheduleId, { concert, schedule: s });
        rows.push(this.row(concert, s));
      }
    }
    this.tile('sold', 'Seats sold', `${fmtInt(sum.sold)} / ${fmtInt(sum.seats)}`, `${percent(sum.sold, sum.seats)} of all seats`);
    this.tile('held', 'Held now', fmtInt(sum.held));
    this.tile('free', 'Free', fmtInt(sum.free));
    this.tile('revenue', 'Revenue', fmtWon(sum.revenue));
    this.tile('soldout', 'Schedules sold out', `${sum.soldOut} / ${sum.schedules}`);
    if (this.tbody.querySelector('td[colspan]')) this.tbody.replaceChildren();
    rows.forEach((tr) => tr.parentNode !== this.tbody && this.tbody.append(tr));
    if (this.selected === null && rows.length) this.select(Number(rows[0].dataset.schedule), false);
  }

  row(concert, s) {
    let row = this.rows.get(s.scheduleId);
    if (!row) {
      const button = el(
        'button',
        { type: 'button', class: 'linkish', 'aria-pressed': 'false', onclick: () => this.select(s.scheduleId, true) },
        fmtLocal(s.scheduleAt),
      );
      const cells = {};
      const td = (key) => (cells[key] = el('td', { class: 'num' }));
      const tr = el(
        'tr',
        { dataset: { schedule: s.scheduleId } },
        el('td', {}, concert.name, ' ', el('span', { class: 'muted small' }, concert.code)),
        el('td', {}, button, el('span', { class: 'muted small' }, ` #${s.scheduleId}`)),
        td('seats'),
        td('free'),
        td('held'),
        td('sold'),
        td('revenue'),
        (cells.bar = el('td', { class: 'bar-cell' })),
      );
      row = { tr, button, cells };
      this.rows.set(s.scheduleId, row);
    }
    const { tr, button, cells } = row;
    for (const key of ['seats', 'free', 'held', 'sold']) setText(cells[key], fmtInt(s[key]));
    setText(cells.revenue, fmtInt(s.revenue));
    cells.bar.replaceChildren(stackBar(s));
    const selected = s.scheduleId === this.selected;
    tr.classList.toggle('selected', selected);
    button.setAttribute('aria-pressed', String(selected));
    return tr;
  }

  select(scheduleId, focusMap) {
    this.selected = scheduleId;
    for (const [id, { tr, button }] of this.rows) {
      tr.classList.toggle('selected', id === scheduleId);
      button.setAttribute('aria-pressed', String(id === scheduleId));
    }
    this.refreshSeats().then(() => {
      if (focusMap) this.seatmap.focus();
    });
  }

  async refreshSeats() {
    const id = this.selected;
    if (id === null) return;
    const token = this.getToken();
    let map;
    try {
      map = token ? await admin.seats(token, id) : await openReads.seats(id);
    } catch (err) {
      if (err.status === 401) {
        this.onUnauthorized(err);
        return;
      }
      if (id !== this.selected) return;
      this.seatmap.replaceChildren(el('h3', {}, 'Seat map'), el('p', { class: 'error', role: 'alert' }, `Could not read the seats: ${err.describe()}`));
      return;
    }
    if (id !== this.selected) return;
    this.renderMap(map, Boolean(token));
  }

  renderMap(map, withHolders) {
    const known = this.schedules.get(map.scheduleId);
    const title = known ? `${known.concert.name}, ${fmtLocal(map.scheduleAt)}` : fmtLocal(map.scheduleAt);
    const seats = [...map.seats].sort((a, b) => a.seatNumber - b.seatNumber);
    const summary = `${map.free} free, ${map.held} held, ${map.sold} sold`;
    const list = el('ul', { class: 'seats', 'aria-label': `Seats: ${summary}` });
    for (const seat of seats) {
      let detail = `Seat ${seat.seatNumber} · ${fmtWon(seat.seatPrice)} · ${seat.state}`;
      if (seat.state === 'held' && withHolders && seat.heldBy !== undefined) {
        detail += ` by user ${seat.heldBy}${seat.heldUntil ? ` until ${fmtLocal(seat.heldUntil)}` : ''}`;
      }
      list.append(el('li', { class: `seat seat-${seat.state}`, title: detail, 'aria-label': detail, dataset: { state: seat.state } }, String(seat.seatNumber)));
    }
    const legend = el(
      'ul',
      { class: 'seat-legend' },
      el('li', {}, el('span', { class: 'seat seat-free', 'aria-hidden': 'true' }), `Free ${fmtInt(map.free)}`),
      el('li', {}, el('span', { class: 'seat seat-held', 'aria-hidden': 'true' }), `Held ${fmtInt(map.held)}`),
      el('li', {}, el('span', { class: 'seat seat-sold', 'aria-hidden': 'true' }), `Sold ${fmtInt(map.sold)}`),
      el('li', { class: 'muted' }, `Revenue ${fmtWon(map.revenue)}`),
    );
    Object.assign(this.seatmap.dataset, { schedule: map.scheduleId, free: map.free, held: map.held, sold: map.sold });
    this.seatmap.setAttribute('tabindex', '-1');
    this.seatmap.replaceChildren(
      el('h3', { id: 'seatmap-title' }, `Seat map · ${title} `, el('span', { class: 'muted small' }, `schedule #${map.scheduleId}`)),
      legend,
      list,
      el('p', { class: 'muted small' }, `Updated ${fmtClock(Date.now())}${withHolders ? '; hover a held seat for its holder' : ''}.`),
    );
  }
}
