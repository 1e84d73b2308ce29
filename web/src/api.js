// The hexcover HTTP API (docs/api.md), seen from the page.
//
// Every call resolves against the page's own location, so the page works
// wherever `hexcover serve` mounts it. A non-2xx answer becomes an ApiError
// carrying the server's `{"error": ...}` message; nothing is swallowed here.

export class ApiError extends Error {
  constructor(method, url, status, message) {
    super(`${method} ${url} → ${status}: ${message}`);
    this.name = 'ApiError';
    this.method = method;
    this.url = url;
    this.status = status;
    this.serverMessage = message;
  }
}

/** An absolute URL for an API path or a URL the server handed out. */
export function apiUrl(path) {
  const rel = path.startsWith('/') ? path.slice(1) : path;
  // Paths the server returns are absolute ("/api/v1/…"); resolve both kinds
  // against the directory the page was served from.
  return new URL(rel, new URL('./', window.location.href)).href;
}

const TOKEN_KEY = 'hexcoverToken';

/** The bearer token for POST endpoints, when the server was started with one. */
export function token() {
  try {
    return window.localStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(value) {
  try {
    if (value) window.localStorage.setItem(TOKEN_KEY, value);
    else window.localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage disabled: the token lasts as long as the page.
  }
  memoryToken = value;
}
let memoryToken = '';

async function request(method, path, body) {
  const url = apiUrl(path);
  const headers = { Accept: 'application/json' };
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
    const t = token() || memoryToken;
    if (t) headers.Authorization = `Bearer ${t}`;
  }
  let res;
  try {
    res = await fetch(url, { method, headers, body: payload });
  } catch (e) {
    throw new ApiError(method, path, 'network', e.message || String(e));
  }
  const text = await res.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) {
    let msg = json && typeof json.error === 'string' ? json.error : text.slice(0, 300) || res.statusText;
    const retry = res.headers.get('Retry-After');
    if (retry) msg += ` (retry after ${retry} s)`;
    if (res.status === 401) msg += ' (set the API token at the bottom of the panel)';
    throw new ApiError(method, path, res.status, msg);
  }
  if (json === null) throw new ApiError(method, path, res.status, 'the answer is not JSON');
  return { status: res.status, body: json };
}

export const getJson = async (path) => (await request('GET', path)).body;
export const postJson = (path, body) => request('POST', path, body);
