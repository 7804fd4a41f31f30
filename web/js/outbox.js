// The outbox: every staff action is written here (IndexedDB) before the network is tried, and
// replayed in order until the server has confirmed it. Nothing a person does on a tablet is lost,
// applied twice (each entry keeps its Idempotency-Key) or credited to someone else (each entry
// names its author and is only ever sent under that person's session).
//
// Replay rules (README "Offline"):
//   2xx from our API         → done, removed (X-Bayline-Api: a portal's or proxy's 200 is not)
//   401                      → kept; that person must sign in again (never sent under another session)
//   400/403/404/409/413/415/422 → parked with the server's message for a person to resolve; later
//                              entries about the same thing wait behind it, the rest go on
//   5xx, 408, 429, no answer, or an answer that is not our API (a captive portal's 200 page)
//                            → kept, retried with jittered backoff
// Safari has no Background Sync, so the page drives replay: at start, on `online`, when the page
// becomes visible, after each success and on a timer.
import { readCookie, newIdempotencyKey } from './api.js';
import { errorText, errorWords, getLang, t } from './i18n.js';

const DB_NAME = 'bayline-outbox';
const STORE = 'entries';
const RESULTS = 'results';
const DEVICE_KEY = 'bayline.device';
const PARK = new Set([400, 403, 404, 409, 410, 413, 415, 422]);

let dbPromise = null;
function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const open = indexedDB.open(DB_NAME, 2);
      open.onupgradeneeded = (ev) => {
        // autoIncrement keys are never reused: they are this device's sequence numbers.
        if (ev.oldVersion < 1) open.result.createObjectStore(STORE, { keyPath: 'seq', autoIncrement: true });
        // Answers that later entries refer to (a finding's id for its photos), until none does.
        if (ev.oldVersion < 2) open.result.createObjectStore(RESULTS, { keyPath: 'seq' });
      };
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }
  return dbPromise;
}

async function tx(mode, fn, store = STORE) {
  const conn = await db();
  return new Promise((resolve, reject) => {
    const txn = conn.transaction(store, mode);
    const request = fn(txn.objectStore(store));
    txn.oncomplete = () => resolve(request?.result);
    txn.onerror = () => reject(txn.error);
    txn.onabort = () => reject(txn.error);
  });
}

/** This tablet's id: random, kept across sign-ins (the server keeps it beside each action). */
function deviceId() {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id) {
    id = `tab-${newIdempotencyKey().slice(0, 13)}`;
    localStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}

const listeners = new Set();
/** fn({type: 'change'|'done'|'parked'|'auth'|'waiting', entry?, body?}) */
export function onOutbox(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
function emit(event) {
  listeners.forEach((fn) => {
    try {
      fn(event);
    } catch (err) {
      console.error(err);
    }
  });
}

let currentUser = () => null;
/** Who is signed in now ({id, name} or null). Entries are only sent under their author's session. */
export function setOutboxUser(fn) {
  currentUser = fn;
  kick();
}

// A value that is only known once an earlier entry is on the server (a new finding's id, for
// the photos taken with it): written as a token in the later entry, filled in at each send.
const REF = /\{\{ref:(\d+):([\w.]+)\}\}/g;
/** The token for `path` (e.g. 'id') in the answer to the entry with sequence `seq`. */
export function ref(seq, path = 'id') {
  return `{{ref:${seq}:${path}}}`;
}

function refsIn(value, found = []) {
  if (typeof value === 'string') {
    for (const m of value.matchAll(REF)) found.push(Number(m[1]));
  } else if (Array.isArray(value)) {
    value.forEach((v) => refsIn(v, found));
  } else if (value && typeof value === 'object' && !(value instanceof Blob)) {
    Object.values(value).forEach((v) => refsIn(v, found));
  }
  return found;
}

function fill(value, results) {
  if (typeof value === 'string') {
    return value.replace(REF, (_, seq, path) => String(path.split('.').reduce((v, k) => v?.[k], results.get(Number(seq)))));
  }
  if (Array.isArray(value)) return value.map((v) => fill(v, results));
  if (value && typeof value === 'object' && !(value instanceof Blob)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, results)]));
  }
  return value;
}

/** What an entry is about: one subject ('job:12') or several (a switch is about both jobs). */
const subjectsOf = (entry) => [].concat(entry.subject || []);

/**
 * Queue an action. `json` or `form` ([{name, value} | {name, blob, filename}]) is the body;
 * `subject` names what it is about ('job:12'): a parked entry holds back later ones with the same
 * subject. `label` is {key, params} for the list of unsent items. `keepResult`: later entries
 * refer to this one's answer through ref(seq). `key`, `author` and `deviceTime` are only given
 * when an action recorded elsewhere on this tablet moves into the outbox. Resolves once stored.
 */
export async function enqueue({ method = 'POST', url, json, form, subject = '', label = null, meta = null, keepResult = false, key = null, author = null, deviceTime = null }) {
  const user = author || currentUser();
  if (!user) throw new Error(t('outbox.signInFirst'));
  const entry = {
    deviceId: deviceId(),
    staffId: user.id,
    staffName: user.name,
    method,
    url,
    json: json === undefined ? null : json,
    form: form || null,
    key: key || newIdempotencyKey(),
    deviceTime: deviceTime || new Date().toISOString(),
    subject,
    label,
    meta,
    state: 'pending',
    error: null,
    attempts: 0,
    keepResult, // a later entry refers to this one's answer (see ref())
  };
  entry.needs = [...new Set(refsIn([entry.url, entry.json, entry.form]))];
  entry.seq = await tx('readwrite', (s) => s.add(entry));
  emit({ type: 'change', entry });
  kick();
  return entry;
}

export async function entries() {
  const all = await tx('readonly', (s) => s.getAll());
  return all.sort((a, b) => a.seq - b.seq);
}

/** Unsent items (pending and parked), optionally only one person's. */
export async function unsent(staffId = null) {
  return (await entries()).filter((e) => staffId == null || e.staffId === staffId);
}

export async function discard(seq) {
  await tx('readwrite', (s) => s.delete(seq));
  emit({ type: 'change' });
  kick(); // what waited behind it goes now, not at the next timer
}

export async function retry(seq) {
  const entry = await tx('readonly', (s) => s.get(seq));
  if (!entry) return;
  await tx('readwrite', (s) => s.put({ ...entry, state: 'pending', error: null }));
  emit({ type: 'change' });
  kick();
}

function send(entry) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest(); // fetch() cannot report upload progress (photos)
    xhr.open(entry.method, entry.url);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('Accept-Language', getLang());
    xhr.setRequestHeader('Idempotency-Key', entry.key);
    xhr.setRequestHeader('Acting-Staff', String(entry.staffId));
    xhr.setRequestHeader('Device-Id', entry.deviceId);
    xhr.setRequestHeader('Device-Seq', String(entry.seq));
    xhr.setRequestHeader('Device-Time', entry.deviceTime);
    // The tablet's clock as this attempt leaves: the server corrects a wrong tablet clock with it.
    // A header, new on every attempt, so the body (and the request, for idempotency) never changes.
    xhr.setRequestHeader('Device-Sent-At', new Date().toISOString());
    const csrf = readCookie('csrftoken');
    if (csrf) xhr.setRequestHeader('x-csrftoken', csrf);
    xhr.timeout = entry.form ? 120000 : 20000;
    if (entry.form) {
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) emit({ type: 'progress', entry, loaded: e.loaded, total: e.total });
      };
    }
    xhr.onload = () => {
      const type = xhr.getResponseHeader('content-type') || '';
      let body = null;
      if (type.includes('json')) {
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = null;
        }
      }
      // Only our API's answers count (see api/app.py): not a captive portal's or a proxy's.
      resolve({ status: xhr.status, body, ours: xhr.getResponseHeader('X-Bayline-Api') === '1' });
    };
    xhr.onerror = () => resolve({ status: 0, body: null, ours: false });
    xhr.ontimeout = () => resolve({ status: 0, body: null, ours: false });
    if (entry.form) {
      const data = new FormData();
      for (const part of entry.form) {
        if (part.blob) data.append(part.name, part.blob, part.filename || 'photo.jpg');
        else data.append(part.name, part.value);
      }
      xhr.send(data);
    } else if (entry.json !== null) {
      xhr.setRequestHeader('Content-Type', 'application/json');
      xhr.send(JSON.stringify(entry.json));
    } else {
      xhr.send();
    }
  });
}

async function primeCsrf() {
  try {
    await fetch('/api/health', { credentials: 'same-origin', cache: 'no-store' });
  } catch {
    /* the next send reports the network */
  }
}

/** Drop kept answers no entry on the tablet refers to any more. */
async function forgetResults() {
  const kept = await tx('readonly', (s) => s.getAll(), RESULTS);
  if (!kept?.length) return;
  const needed = new Set((await entries()).flatMap((e) => e.needs || []));
  // Kept a while even when unreferenced: the screen may still be queueing the entries that need it.
  const old = Date.now() - 10 * 60000;
  for (const r of kept) if (!needed.has(r.seq) && r.at < old) await tx('readwrite', (s) => s.delete(r.seq), RESULTS);
}

let running = false;
let again = false;
let delay = 2000;
let timer = null;


function later(ms) {
  clearTimeout(timer);
  timer = setTimeout(kick, ms);
}

/** Start a replay run now (or right after the current one). */
export function kick() {
  if (running) {
    again = true;
    return;
  }
  replay();
}

async function replay() {
  running = true;
  again = false;
  let backoff = false;
  try {
    const user = currentUser();
    const blocked = new Set();
    if (!readCookie('csrftoken')) await primeCsrf();
    for (const entry of await entries()) {
      if (entry.state === 'parked') {
        subjectsOf(entry).forEach((s) => blocked.add(s));
        continue;
      }
      if (!user || entry.staffId !== user.id) {
        continue; // only ever sent under its author's own session
      }
      if (subjectsOf(entry).some((s) => blocked.has(s))) {
        // It depends on a parked (or itself held) entry: hold it, and what depends on it.
        subjectsOf(entry).forEach((s) => blocked.add(s));
        continue;
      }
      let request = entry;
      if (entry.needs?.length) {
        const results = new Map();
        let missing = null;
        for (const seq of entry.needs) {
          const got = await tx('readonly', (s) => s.get(seq), RESULTS);
          if (got) results.set(seq, got.body);
          else missing = seq;
        }
        if (missing !== null) {
          if (await tx('readonly', (s) => s.get(missing))) continue; // what it needs is not on the server yet
          // What it refers to was discarded on this tablet: it cannot be sent as it is.
          const parked = { ...entry, state: 'parked', error: t('outbox.refGone'), errorKey: 'outbox.refGone', status: 0 };
          await tx('readwrite', (s) => s.put(parked));
          subjectsOf(entry).forEach((s) => blocked.add(s));
          emit({ type: 'parked', entry: parked, body: null });
          continue;
        }
        // Filled in for this send only: the stored entry keeps its tokens, so every retry is the
        // same request.
        request = { ...entry, url: fill(entry.url, results), json: fill(entry.json, results), form: fill(entry.form, results) };
      }
      const { status, body, ours } = await send(request);
      if (status >= 200 && status < 300 && ours) {
        if (entry.keepResult) await tx('readwrite', (s) => s.put({ seq: entry.seq, body, at: Date.now() }), RESULTS);
        await tx('readwrite', (s) => s.delete(entry.seq));
        delay = 2000;
        emit({ type: 'done', entry, body });
        emit({ type: 'change' });
        continue;
      }
      if (status === 401 && ours) {
        emit({ type: 'auth', entry });
        break; // this person's session is gone: keep everything, ask them to sign in
      }
      if (status === 403 && ours && /csrf/i.test(body?.detail || '')) {
        await primeCsrf();
        backoff = true;
        break;
      }
      // 409 "still being carried out" (a repeat of a send the server is still working on) is not a
      // refusal: sent again below after the backoff, it gets the first send's reply.
      const inFlight = status === 409 && body?.code === 'request.in_flight';
      if (PARK.has(status) && ours && !inFlight) {
        // Kept as the code and its params (entryWords: shown in the language of whoever reads the
        // list later, maybe offline), with the words of now for entries read by an older version.
        const parked = { ...entry, state: 'parked', error: errorText(body, status), errorBody: refusal(body), status };
        await tx('readwrite', (s) => s.put(parked));
        subjectsOf(entry).forEach((s) => blocked.add(s));
        emit({ type: 'parked', entry: parked, body });
        emit({ type: 'change' });
        continue;
      }
      // No answer, a server error, or a page that is not our API (captive portal): try again later.
      await tx('readwrite', (s) => s.put({ ...entry, attempts: entry.attempts + 1 }));
      emit({ type: 'waiting', entry, status });
      backoff = true;
      break;
    }
    await forgetResults();
  } catch (err) {
    console.error(err);
    backoff = true;
  } finally {
    running = false;
    emit({ type: 'change' });
    if (again) {
      setTimeout(kick, 0);
    } else if (backoff) {
      later(delay + Math.random() * delay * 0.5);
      delay = Math.min(delay * 2, 60000);
    } else {
      later(30000); // a slow heartbeat: nothing is stuck without a trigger
    }
  }
}

window.addEventListener('online', () => {
  delay = 2000;
  kick();
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') kick();
});

/** What of a refusal's body an entry keeps: its code and params (the English detail for support). */
function refusal(body) {
  if (!body || typeof body !== 'object') return null;
  return { code: typeof body.code === 'string' ? body.code : null, params: body.params ?? null, detail: typeof body.detail === 'string' ? body.detail : null };
}

/** Why a parked entry was refused, as errorWords' [key, params, english] (null: not known). */
export function entryWords(entry) {
  if (entry?.errorKey) return [entry.errorKey, undefined, undefined];
  if (entry?.errorBody || entry?.status) return errorWords(entry.errorBody, entry.status);
  return null;
}

/** Why a parked entry was refused, in words of the language shown now. */
export function entryError(entry) {
  if (entry?.errorKey) return t(entry.errorKey);
  if (entry?.errorBody || entry?.status) return errorText(entry.errorBody, entry.status);
  return entry?.error || '';
}
