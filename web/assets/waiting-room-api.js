// Talking to boxoffice: JSON calls with the server's error body, Retry-After,
// the server's clock, and the demo users' UUIDs.

import { request, retryDelay } from './client/index.js';

// The request, its error and its retry pacing are the frontends' package's
// (clients/js), the same that follows the line: one home for each rule.
export { retryDelay };

/** `fetch`, keeping the server's clock from each answer's `Date`. */
export async function clockedFetch(url, init) {
  const response = await fetch(url, init);
  serverClock.observe(response.headers.get('Date'));
  return response;
}

/**
 * One JSON request. Resolves to `{ data, retryAfterMs }` on 2xx, throws
 * `ApiError` otherwise: status 0 with code NETWORK when no answer came.
 */
export function call(method, path, options = {}) {
  return request(clockedFetch, method, path, { ...options, now: () => serverClock.now() });
}

/**
 * The server writes local date-times without an offset ("2030-12-24T19:00:00"
 * in its BOXOFFICE_TIMEZONE). To count down to one, the page learns the zone
 * from answers whose absolute time it knows roughly (zones are whole quarter
 * hours, so a guess within a few minutes pins it), and the server's clock from
 * the `Date` header, so a wrong clock on the phone does not skew countdowns.
 */
class ServerClock {
  constructor() {
    this.skewMs = 0; // server minus this device
    this.zoneMs = null; // server's local time minus UTC
  }

  observe(dateHeader) {
    const at = dateHeader ? Date.parse(dateHeader) : NaN;
    // The header has whole seconds: the true time is up to a second later.
    if (!Number.isNaN(at)) this.skewMs = at + 500 - Date.now();
  }

  now() {
    return Date.now() + this.skewMs;
  }

  /** `local` is believed to fall at server time `aroundMs`, give or take `errorMs`. */
  learnZone(local, aroundMs, errorMs) {
    const asUtc = parseLocal(local);
    if (asUtc == null || errorMs > 7 * 60 * 1000) return;
    const quarter = 15 * 60 * 1000;
    this.zoneMs = Math.round((asUtc - aroundMs) / quarter) * quarter;
  }

  /** Milliseconds from now until the server-local date-time `local`; null if unknown. */
  until(local) {
    const asUtc = parseLocal(local);
    if (asUtc == null || this.zoneMs == null) return null;
    return asUtc - this.zoneMs - this.now();
  }
}

export const serverClock = new ServerClock();

function parseLocal(local) {
  if (typeof local !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(local)) return null;
  const at = Date.parse(`${local}Z`);
  return Number.isNaN(at) ? null : at;
}

/** "2030-12-24T19:00:00" → "2030-12-24 19:00", as the server meant it (no zone shift). */
export function showLocal(local, lang) {
  const at = parseLocal(local);
  if (at == null) return local;
  return new Intl.DateTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-GB', {
    dateStyle: 'medium',
    timeStyle: 'short',
    timeZone: 'UTC',
  }).format(new Date(at));
}

// ---- Users: a member number or a UUID -------------------------------------

const NAMESPACE_OID = '6ba7b812-9dad-11d1-80b4-00c04fd430c8';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The UUID of what the fan typed: a UUID as is, member N as uuid5(OID, "boxoffice-user-N"). */
export async function userUuid(input) {
  const text = String(input).trim();
  if (UUID_RE.test(text)) return text.toLowerCase();
  if (!/^[1-9]\d{0,17}$/.test(text)) return null;
  return uuid5(NAMESPACE_OID, `boxoffice-user-${text}`);
}

export async function uuid5(namespace, name) {
  const ns = hexBytes(namespace.replace(/-/g, ''));
  const text = new TextEncoder().encode(name);
  const input = new Uint8Array(ns.length + text.length);
  input.set(ns);
  input.set(text, ns.length);
  const digest = globalThis.crypto?.subtle
    ? new Uint8Array(await crypto.subtle.digest('SHA-1', input))
    : sha1(input); // crypto.subtle exists only on https and localhost
  const b = digest.slice(0, 16);
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function hexBytes(hex) {
  return Uint8Array.from(hex.match(/../g), (pair) => parseInt(pair, 16));
}

// SHA-1 (FIPS 180-4) for pages served over plain http on a LAN address.
function sha1(bytes) {
  const bitLength = bytes.length * 8;
  const padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLength / 2 ** 32));
  view.setUint32(padded.length - 4, bitLength >>> 0);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w = new Uint32Array(80);
  const rotl = (x, n) => (x << n) | (x >>> (32 - n));
  for (let block = 0; block < padded.length; block += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(block + i * 4);
    for (let i = 16; i < 80; i++) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    let [a, b, c, d, e] = h;
    for (let i = 0; i < 80; i++) {
      const [f, k] =
        i < 20 ? [(b & c) | (~b & d), 0x5a827999]
        : i < 40 ? [b ^ c ^ d, 0x6ed9eba1]
        : i < 60 ? [(b & c) | (b & d) | (c & d), 0x8f1bbcdc]
        : [b ^ c ^ d, 0xca62c1d6];
      const next = (rotl(a, 5) + f + e + k + w[i]) >>> 0;
      [e, d, c, b, a] = [d, c, rotl(b, 30) >>> 0, a, next];
    }
    h[0] = (h[0] + a) >>> 0;
    h[1] = (h[1] + b) >>> 0;
    h[2] = (h[2] + c) >>> 0;
    h[3] = (h[3] + d) >>> 0;
    h[4] = (h[4] + e) >>> 0;
  }
  const out = new Uint8Array(20);
  const outView = new DataView(out.buffer);
  h.forEach((word, i) => outView.setUint32(i * 4, word));
  return out;
}

/** A fresh Idempotency-Key: one per payment attempt, reused only to retry that attempt. */
export function newIdempotencyKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return [...bytes].map((x) => x.toString(16).padStart(2, '0')).join('');
}
