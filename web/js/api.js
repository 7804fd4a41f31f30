// The one door to the server. Every screen goes through api() so cookies, CSRF, idempotency and
// error shapes are handled the same way everywhere.
import { getLang } from './i18n.js';

export class ApiError extends Error {
  constructor({ status, detail, errors = [], retryAfter = null, body = null }) {
    super(detail || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status; // 0 means the network never answered
    this.detail = detail;
    this.errors = errors; // [{field: 'vehicle.vin', message: '...', code: 'vin.check_digit', params: {...}}]
    this.retryAfter = retryAfter; // seconds, from Retry-After on 429
    this.body = body;
  }
}

export function readCookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...rest] = part.trim().split('=');
    if (k === name) return decodeURIComponent(rest.join('='));
  }
  return null;
}

export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; a LAN http server is not one, getRandomValues works anywhere.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// Sessions expire on the server (idle timeout, manager logout); screens should not each handle that.
const unauthorizedListeners = new Set();
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

/** The server sets the csrftoken cookie on any GET; health is the cheapest one. */
async function primeCsrf() {
  try {
    await fetch('/api/health', { credentials: 'same-origin', cache: 'no-store' });
  } catch {
    /* the real request will report the network problem */
  }
}

function parseRetryAfter(value) {
  if (!value) return null;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, Math.ceil(secs));
  const when = Date.parse(value); // HTTP-date form
  return Number.isFinite(when) ? Math.max(0, Math.ceil((when - Date.now()) / 1000)) : null;
}

// Litestar validation errors use `extra: [{key, message}]`; our own use `errors: [{field, message,
// code, params}]`: the English message, and the code the screens translate (forms.js).
export function normaliseErrors(body) {
  const raw = Array.isArray(body?.errors) ? body.errors : Array.isArray(body?.extra) ? body.extra : [];
  return raw
    .map((e) => ({
      field: String(e.field ?? e.key ?? '').replace(/^body\./, ''),
      message: String(e.message ?? e.msg ?? ''),
      code: typeof e.code === 'string' ? e.code : null,
      params: e.params && typeof e.params === 'object' ? e.params : null,
    }))
    .filter((e) => e.message);
}

/**
 * api('/api/x', {method, body, idempotencyKey}) → parsed JSON (null for 204).
 * Throws ApiError. Non-GET requests carry x-csrftoken and an Idempotency-Key (the caller's, so a
 * retried form reuses it, or a fresh one).
 */
export async function api(path, { method = 'GET', body, idempotencyKey, signal } = {}) {
  method = method.toUpperCase();
  const unsafe = method !== 'GET' && method !== 'HEAD';
  if (unsafe && !readCookie('csrftoken')) await primeCsrf();

  const key = unsafe ? idempotencyKey || newIdempotencyKey() : null;
  const send = () => {
    const headers = { Accept: 'application/json', 'Accept-Language': getLang() };
    const isForm = typeof FormData !== 'undefined' && body instanceof FormData; // multipart: the browser sets the boundary
    if (body !== undefined && !isForm) headers['Content-Type'] = 'application/json';
    if (unsafe) {
      const csrf = readCookie('csrftoken');
      if (csrf) headers['x-csrftoken'] = csrf;
      headers['Idempotency-Key'] = key;
    }
    return fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : isForm ? body : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal,
    });
  };

  let res;
  try {
    res = await send();
    // A stale csrftoken (cookie rotated or cleared) gives 403: fetch a fresh one and retry once
    // with the same Idempotency-Key, so the retry cannot double the effect.
    if (res.status === 403 && unsafe && /csrf/i.test(await res.clone().text())) {
      await primeCsrf();
      res = await send();
    }
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError({ status: 0, detail: null });
  }

  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  let data = null;
  if (type.includes('json')) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }

  if (!res.ok) {
    const error = new ApiError({
      status: res.status,
      detail: typeof data?.detail === 'string' ? data.detail : null,
      errors: normaliseErrors(data),
      retryAfter: parseRetryAfter(res.headers.get('Retry-After')),
      body: data,
    });
    if (res.status === 401 && !path.startsWith('/api/auth/')) {
      unauthorizedListeners.forEach((fn) => fn(error));
    }
    throw error;
  }
  return data;
}

export const get = (path, opts) => api(path, { ...opts, method: 'GET' });
export const post = (path, body, opts) => api(path, { ...opts, method: 'POST', body });
export const put = (path, body, opts) => api(path, { ...opts, method: 'PUT', body });
