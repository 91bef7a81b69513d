// Talking to the server: the open /ops reads and the admin API, with the
// server's {code, message} error body surfaced as an ApiError, plus the admin
// token kept in sessionStorage only (gone when the tab closes).

const TOKEN_KEY = 'boxoffice.ops.adminToken';
const TIMEOUT_MS = 8000;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  // What an operator reads: the server's code and its message.
  describe() {
    return this.code ? `${this.code}: ${this.message}` : this.message;
  }
}

// One call; the body as text once the answer is a success. `accept` names
// what is wanted (JSON unless told); an error is read as the server's JSON.
async function send(method, path, { token, body, accept = 'application/json' } = {}) {
  const headers = { Accept: accept };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  let response;
  let text;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: abort.signal,
      cache: 'no-store',
    });
    text = await response.text();
  } catch (err) {
    const why = err.name === 'AbortError' ? `no answer within ${TIMEOUT_MS / 1000} s` : 'the server cannot be reached';
    throw new ApiError(0, 'NETWORK', `${method} ${path}: ${why}`);
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      // a proxy's HTML error page, say: report the status alone
    }
    const code = data && typeof data.code === 'string' ? data.code : `HTTP_${response.status}`;
    const message = data && typeof data.message === 'string' ? data.message : `${method} ${path} answered ${response.status}`;
    throw new ApiError(response.status, code, message);
  }
  return text;
}

export async function request(method, path, options = {}) {
  const text = await send(method, path, options);
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(0, 'UNREADABLE', `${method} ${path} answered something other than JSON`);
  }
}

export const openReads = {
  queues: () => request('GET', '/ops/queues'),
  sales: () => request('GET', '/ops/sales'),
  refusals: () => request('GET', '/ops/refusals'),
  seats: (scheduleId) => request('GET', `/ops/schedules/${encodeURIComponent(scheduleId)}/seats`),
};

export const admin = {
  queues: (token) => request('GET', '/admin/queues', { token }),
  change: (token, queue, patch) =>
    request('PATCH', `/admin/queues/${encodeURIComponent(queue)}`, { token, body: patch }),
  events: (token, queue, count = 20) =>
    request('GET', `/admin/queues/${encodeURIComponent(queue)}/events?count=${count}`, { token }),
  seats: (token, scheduleId) => request('GET', `/admin/schedules/${encodeURIComponent(scheduleId)}/seats`, { token }),
  // {key}: the only time the server shows it
  originKey: (token, queue) => request('POST', `/admin/queues/${encodeURIComponent(queue)}/origin-keys`, { token }),
  // {codes}: a batch of presale invitation codes
  invite: (token, queue, terms) =>
    request('POST', `/admin/queues/${encodeURIComponent(queue)}/invitations`, { token, body: terms }),
  invitations: (token, queue) => request('GET', `/admin/queues/${encodeURIComponent(queue)}/invitations`, { token }),
  // the same list as the server writes it in CSV, header row first
  invitationsCsv: (token, queue) =>
    send('GET', `/admin/queues/${encodeURIComponent(queue)}/invitations`, { token, accept: 'text/csv' }),
  // the sale's report, from Postgres; the CSV is its per-second figures
  report: (token, queue) => request('GET', `/admin/queues/${encodeURIComponent(queue)}/report`, { token }),
  reportCsv: (token, queue) =>
    send('GET', `/admin/queues/${encodeURIComponent(queue)}/report?format=csv`, { token, accept: 'text/csv' }),
  // {id, secret, url, events}: the only time the server shows the secret
  newWebhook: (token, endpoint) => request('POST', '/admin/webhooks', { token, body: endpoint }),
  webhooks: (token) => request('GET', '/admin/webhooks', { token }),
  removeWebhook: (token, id) => request('DELETE', `/admin/webhooks/${encodeURIComponent(id)}`, { token }),
  deliveries: (token, id, limit) =>
    request('GET', `/admin/webhooks/${encodeURIComponent(id)}/deliveries?limit=${limit}`, { token }),
};

// sessionStorage can throw (storage disabled); the page then keeps the token in memory.
let memoryToken = null;

export const tokenStore = {
  get() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || memoryToken;
    } catch {
      return memoryToken;
    }
  },
  set(value) {
    memoryToken = value;
    try {
      sessionStorage.setItem(TOKEN_KEY, value);
    } catch {
      // kept in memory only
    }
  },
  clear() {
    memoryToken = null;
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // nothing stored
    }
  },
};
