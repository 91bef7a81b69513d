// Talking to boxoffice: one JSON request, the server's error body
// (`{"code", "message"}`), its Retry-After, and how long to wait before the
// same request goes again. No dependencies: `fetch`, `AbortController`.

/** A request that hangs must not stall the line forever: give up and retry. */
const REQUEST_TIMEOUT_MS = 15000;

/** The longest pause between retries, however many failed in a row. */
const MOST_BACKOFF_MS = 60000;

/** A refusal from the server, or status 0 and code NETWORK when no answer came. */
export class ApiError extends Error {
  constructor(status, code, message, body = {}, retryAfterMs = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = body;
    this.retryAfterMs = retryAfterMs;
  }

  /** Worth retrying later with the same request: busy, briefly down, or no answer. */
  get transient() {
    return [0, 429, 502, 503, 504].includes(this.status);
  }
}

/**
 * Retry-After is either seconds or an HTTP date; null when absent or
 * unreadable. `now` is the server's time as this device best knows it.
 */
export function parseRetryAfter(value, now = Date.now()) {
  if (!value) return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * How long to wait before retrying: never sooner than the server's
 * Retry-After (or the poll hint of a refused poll), longer after each failure
 * in a row (1 s, 2 s, 4 s … up to a minute), with up to 20 % jitter so that a
 * crowd that failed together does not come back together.
 */
export function retryDelay(error, failures, random = Math.random) {
  const asked = Math.max(error?.retryAfterMs ?? 0, error?.body?.pollAfterMs ?? 0);
  const backoff = Math.min(MOST_BACKOFF_MS, 1000 * 2 ** Math.min(Math.max(failures - 1, 0), 6));
  return Math.max(asked, backoff) * (1 + random() * 0.2);
}

/**
 * One JSON request. Resolves to `{ data, retryAfterMs }` on 2xx; throws
 * `ApiError` otherwise. `token` goes as `Authorization: Bearer`.
 */
export async function request(fetcher, method, url, { body, token, headers = {}, now } = {}) {
  const sent = { Accept: 'application/json', ...headers };
  if (body !== undefined) sent['Content-Type'] = 'application/json';
  if (token) sent.Authorization = `Bearer ${token}`;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  let response;
  try {
    response = await fetcher(url, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      signal: abort.signal,
    });
  } catch (error) {
    throw new ApiError(0, 'NETWORK', error?.message || 'no answer', {}, null);
  } finally {
    clearTimeout(timer);
  }
  const retryAfterMs = parseRetryAfter(response.headers.get('Retry-After'), now?.());
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null; // an empty or non-JSON body: the status says enough
  }
  if (!response.ok) {
    const code = data?.code || `HTTP_${response.status}`;
    throw new ApiError(response.status, code, data?.message || response.statusText, data || {}, retryAfterMs);
  }
  return { data, retryAfterMs };
}
