// Not shipped: type-checked by `tsc --project .` (tests/browser/client.mjs) so
// that the declarations hold together with the generated api.d.ts and read
// as a frontend would use them.
import { WaitingRoom, ApiError, retryDelay, type Ticket, type Status } from '@boxoffice/waiting-room';
import { WaitingRoomElement } from '@boxoffice/waiting-room/element';

const room = new WaitingRoom({ concert: 'hero-autumn', user: '890cd9f4-4be2-56a3-a116-49b160d80fa5', storage: null });
room.addEventListener('position', (event) => {
  const place: number = event.detail.position;
  const eta: number | null = event.detail.etaSeconds;
  console.log(place, eta);
});
room.addEventListener('admitted', (event) => {
  const token: string = event.detail.token;
  const ticket: Ticket = event.detail.ticket;
  const status: string = ticket.tokenStatus;
  console.log(token, status, ticket.pollAfterMs);
});
room.addEventListener('retry', (event) => {
  const error: ApiError = event.detail.error;
  console.log(error.code, error.status, error.retryAfterMs, event.detail.delayMs);
});
const status: Status = room.start().status;
const wait: number = retryDelay(new ApiError(503, 'OVERLOADED', 'busy'), 1);
const element = document.querySelector('boxoffice-waiting-room');
if (element instanceof WaitingRoomElement) element.addEventListener('admitted', (event) => console.log(event.detail.token));
console.log(status, wait);
