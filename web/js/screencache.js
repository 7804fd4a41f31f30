// What this tablet keeps so it can reopen without the network: who was signed in (for showing
// only: every API call still needs the server's session, and a 401 asks for sign-in as always)
// and what each screen last loaded, per person, with when it was loaded. A screen that cannot
// refresh shows its kept data marked as not fresh, never as live.
import { h, clear, timeEl } from './dom.js';
import { getShopTimeZone } from './i18n.js';
import { shopDate } from './time.js';

const SESSION_KEY = 'bayline.session';
const INDEX_KEY = 'bayline.screens'; // {storage key: {staffId, at}}, to find a person's and the oldest
const SCREEN_PREFIX = 'bayline.screen.';
// Per person: the board, My jobs, the QC queue and template, and the walk-arounds of a busy day.
const MAX_SCREENS = 40;
// Online, a load normally answers well within this: only then is kept data marked not fresh.
const GRACE_MS = 2000;

function read(key) {
  try {
    const raw = localStorage.getItem(key);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null; // private mode, or a value an older version wrote
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false; // storage full or off: the screen still works, it just cannot reopen offline
  }
}

// ---------- the session ----------

/** Remember who is signed in and the shop they are in (its name and time zone for the top bar). */
export function rememberSession(user, shop, activeAt = Date.now()) {
  write(SESSION_KEY, { user, shop: shop || null, activeAt });
}

/** A touch or key press happened at `activeAt`: an idle tablet must not reopen signed in. */
export function touchSession(activeAt) {
  const kept = read(SESSION_KEY);
  if (kept && kept.activeAt !== activeAt) write(SESSION_KEY, { ...kept, activeAt });
}

/** {user, shop, activeAt} of the last person signed in on this tablet, or null. */
export function cachedSession() {
  const kept = read(SESSION_KEY);
  return kept?.user?.id != null ? kept : null;
}

/** Sign-out: forget who it was and everything their screens kept. */
export function forgetSession() {
  try {
    localStorage.removeItem(SESSION_KEY);
  } catch {
    /* nothing kept */
  }
  dropScreens(() => true);
}

// ---------- screens' data ----------

const screenKey = (staffId, name) => `${SCREEN_PREFIX}${staffId}.${name}`;

function dropScreens(which) {
  const index = read(INDEX_KEY) || {};
  for (const [key, info] of Object.entries(index)) {
    if (!which(info)) continue;
    try {
      localStorage.removeItem(key);
    } catch {
      /* gone already */
    }
    delete index[key];
  }
  write(INDEX_KEY, index);
}

/** Someone signed in: what anyone else's screens kept on this tablet goes (never shown to them). */
export function keepOnlyFor(staffId) {
  dropScreens((info) => info.staffId !== staffId);
}

/** What screen `name` last loaded for this person: {data, at (ISO)} or null. */
export function readScreen(staffId, name) {
  if (staffId == null) return null;
  const kept = read(screenKey(staffId, name));
  return kept && typeof kept.at === 'string' ? kept : null;
}

/**
 * Keep what screen `name` just loaded; `at` is when it was asked for (the data is at least that
 * fresh). Returns `at`, for the not-fresh mark.
 */
export function keepScreen(staffId, name, data, at = new Date().toISOString()) {
  if (staffId == null) return at;
  const key = screenKey(staffId, name);
  const index = read(INDEX_KEY) || {};
  index[key] = { staffId, at };
  // The oldest of this person's go first when there are too many, or when storage is full.
  const mine = Object.entries(index)
    .filter(([, info]) => info.staffId === staffId)
    .sort((a, b) => a[1].at.localeCompare(b[1].at));
  const drop = (entries) => entries.forEach(([k]) => {
    try {
      localStorage.removeItem(k);
    } catch {
      /* gone already */
    }
    delete index[k];
  });
  drop(mine.slice(0, Math.max(0, mine.length - MAX_SCREENS)));
  if (!write(key, { data, at })) {
    drop(mine.filter(([k]) => k !== key).slice(0, Math.ceil(mine.length / 2)));
    if (!write(key, { data, at })) delete index[key];
  }
  write(INDEX_KEY, index);
  return at;
}

/** A failed load that says nothing about the data itself: no network, or server trouble. */
export const unreachable = (err) => [0, 408, 429].includes(err?.status) || err?.status >= 500;

// ---------- the not-fresh mark ----------

/**
 * The line a screen shows above data it could not refresh: "Not up to date: last loaded at 14:05"
 * (shop time; the day too when it is not today). show(at) at once, showSoon(at) unless the load
 * answers first (no flash on every screen change online), hide() once fresh data is painted.
 */
export function staleMark() {
  const el = h('p', { class: 'stale-mark', 'data-testid': 'stale-mark', role: 'status', hidden: true });
  let timer = null;
  const show = (at) => {
    clearTimeout(timer);
    if (!at) return;
    const zone = getShopTimeZone();
    const today = shopDate(zone, 0, new Date(at)) === shopDate(zone);
    clear(el);
    el.append(h('span', { t: 'cache.stale' }), ' ', timeEl(at, today ? 'time' : 'smart', { 'data-testid': 'stale-at' }));
    el.hidden = false;
  };
  return {
    el,
    show,
    showSoon(at) {
      clearTimeout(timer);
      if (!navigator.onLine) show(at);
      else timer = setTimeout(() => show(at), GRACE_MS);
    },
    hide() {
      clearTimeout(timer);
      el.hidden = true;
    },
    get shown() {
      return !el.hidden;
    },
  };
}
