// Photos wait in the tablet's own queue (IndexedDB) until the server has them: taken offline, they
// survive a reload and go up when the network returns. An entry is written before any network call
// and removed only when the server answered 201 for its Idempotency-Key.
import { newIdempotencyKey, readCookie } from './api.js';

const DB_NAME = 'bayline';
const STORE = 'photo-queue';
const MAX_SIDE = 2048; // bytes on shop Wi-Fi are the real cost: downscale on the device
const JPEG_QUALITY = 0.85;

let dbPromise = null;
function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const open = indexedDB.open(DB_NAME, 1);
      open.onupgradeneeded = () => open.result.createObjectStore(STORE, { keyPath: 'key' });
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }
  return dbPromise;
}

async function tx(mode, fn) {
  const conn = await db();
  return new Promise((resolve, reject) => {
    const t = conn.transaction(STORE, mode);
    const result = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(result?.result ?? result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

const listeners = new Set();
export function onPhotoQueue(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
function emit(event) {
  listeners.forEach((fn) => fn(event));
}

/** A JPEG of at most 2048 px, upright (the browser applies EXIF orientation while decoding). */
export async function downscale(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    return file; // not something this browser decodes (e.g. HEIC): the server will say what to send
  }
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return new Promise((resolve) => canvas.toBlob((blob) => resolve(blob || file), 'image/jpeg', JPEG_QUALITY));
}

/** Queue a photo (saved locally first), then try to send it. */
export async function enqueuePhoto({ roId, panel = '', kind = 'walkaround', blob, staffId }) {
  const entry = { key: newIdempotencyKey(), roId, panel, kind, blob, staffId, createdAt: Date.now(), state: 'queued', error: null };
  await tx('readwrite', (s) => s.put(entry));
  emit({ type: 'queued', entry });
  flush();
  return entry;
}

export async function pendingPhotos(roId) {
  const all = await tx('readonly', (s) => s.getAll());
  return all.filter((e) => roId == null || e.roId === roId).sort((a, b) => a.createdAt - b.createdAt);
}

export async function discardPhoto(key) {
  await tx('readwrite', (s) => s.delete(key));
  emit({ type: 'discarded', key });
}

let currentStaff = () => null;
/** Who is signed in now: entries are only ever sent under their own author's session. */
export function setPhotoUploader({ staff }) {
  currentStaff = staff;
}

async function primeCsrf() {
  if (readCookie('csrftoken')) return;
  try {
    await fetch('/api/health', { credentials: 'same-origin', cache: 'no-store' });
  } catch {
    /* the upload reports the network */
  }
}

function send(entry) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest(); // fetch() cannot report upload progress
    xhr.open('POST', `/api/repair-orders/${entry.roId}/photos`);
    xhr.setRequestHeader('Idempotency-Key', entry.key);
    xhr.setRequestHeader('Accept', 'application/json');
    const csrf = readCookie('csrftoken');
    if (csrf) xhr.setRequestHeader('x-csrftoken', csrf);
    xhr.timeout = 120000;
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) emit({ type: 'progress', key: entry.key, loaded: e.loaded, total: e.total });
    };
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      resolve({ status: xhr.status, body });
    };
    xhr.onerror = () => resolve({ status: 0, body: null });
    xhr.ontimeout = () => resolve({ status: 0, body: null });
    const form = new FormData();
    form.append('kind', entry.kind);
    form.append('panel', entry.panel || '');
    form.append('file', entry.blob, 'photo.jpg');
    xhr.send(form);
  });
}

let running = false;
let again = false; // a photo queued while a run was under way: run once more at the end
let retryDelay = 2000;
let retryTimer = null;

/** Send queued photos, oldest first. Safe to call any time; one runner at a time. */
export async function flush() {
  if (running) {
    again = true;
    return;
  }
  running = true;
  again = false;
  clearTimeout(retryTimer);
  try {
    await primeCsrf();
    for (const entry of await pendingPhotos(null)) {
      if (entry.state !== 'queued' || entry.staffId !== currentStaff()) continue;
      const { status, body } = await send(entry);
      if (status === 201 && body && typeof body.id === 'number') {
        await tx('readwrite', (s) => s.delete(entry.key));
        retryDelay = 2000;
        emit({ type: 'done', key: entry.key, entry, photo: body });
      } else if (status === 401 || status === 403) {
        emit({ type: 'auth', key: entry.key }); // keep it: the same person signs in again
        return;
      } else if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        // The server refused this photo for a reason a person must see; it will not get better by retrying.
        const failed = { ...entry, state: 'failed', error: body?.detail || `HTTP ${status}` };
        await tx('readwrite', (s) => s.put(failed));
        emit({ type: 'failed', key: entry.key, entry: failed });
      } else {
        // Network gone, server error, or an answer that is not our API (captive portal): keep, retry later.
        emit({ type: 'waiting', key: entry.key });
        retryTimer = setTimeout(flush, retryDelay + Math.random() * 1000);
        retryDelay = Math.min(retryDelay * 2, 60000);
        return;
      }
    }
  } finally {
    running = false;
    if (again) setTimeout(flush, 0);
  }
}

window.addEventListener('online', () => {
  retryDelay = 2000;
  flush();
});
document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && flush());
