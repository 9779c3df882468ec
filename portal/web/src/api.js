// The only place that talks to /api/v1 (docs/api.md). Every state-changing call carries the CSRF
// token; every error becomes an ApiError carrying the server's JSON `message`.

let csrfToken = null;
let unauthenticatedHandler = () => {};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/// Stores the token from POST /login, POST /login/totp or GET /me.
export function setCsrf(token) {
  csrfToken = token ?? null;
}

/// Called with the ApiError of any 401 (session expired or ended elsewhere).
export function onUnauthenticated(handler) {
  unauthenticatedHandler = handler;
}

/// Calls the API. GET sends no body; other methods send `body` (default `{}`) as JSON with the CSRF
/// header. Returns the parsed JSON, or null for 204. Throws ApiError; a 401 also goes to the
/// unauthenticated handler unless `opts.expect401` (the login steps, where 401 means a wrong code).
export async function request(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
    init.body = JSON.stringify(body ?? {});
  }

  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'The portal cannot be reached. Check the connection and try again.');
  }
  if (response.status === 204) return null;

  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    let message = typeof data?.message === 'string' && data.message
      ? data.message
      : `${response.status} ${response.statusText || 'error'}`;
    const retryAfter = response.headers.get('Retry-After');
    if (response.status === 429 && retryAfter) message += ` (try again in ${retryAfter} s)`;
    const error = new ApiError(response.status, data?.error ?? `http_${response.status}`, message);
    if (response.status === 401 && !opts.expect401) unauthenticatedHandler(error);
    throw error;
  }
  return data;
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);

/// Builds `path?k=v&...`, leaving out empty values.
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value != null && String(value).trim() !== '') query.set(key, String(value).trim());
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/// Path segment for ids, including text session ids.
export const seg = (id) => encodeURIComponent(String(id));

/// A WebSocket to `path` (docs/api.md "WebSockets") on this portal's own origin, always over TLS:
/// the server checks the Origin header and the session cookie, which is sent only over TLS.
export function openSocket(path) {
  const socket = new WebSocket(`wss://${location.host}${path}`);
  socket.binaryType = 'arraybuffer';
  return socket;
}
