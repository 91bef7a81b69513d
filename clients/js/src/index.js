// @boxoffice/waiting-room: the waiting loop of a boxoffice sale for any
// frontend (docs/client.md). The element lives in './element.js', so that
// importing the loop alone defines no custom element.
export { WaitingRoom } from './waiting-room.js';
export { ApiError, request, retryDelay, parseRetryAfter } from './http.js';
