// Bayline staff app: boot sequence, hash router, top bar, idle sign-out and service-worker updates.
import { get, post, onUnauthorized } from './api.js';
import { initLang, getLang, setLang, onLangChange, setShopTimeZone } from './i18n.js';
import { h, clear, translateTree, toast, setText } from './dom.js';
import * as setupScreen from './setup.js';
import * as signinScreen from './signin.js';
import * as todayScreen from './today.js';
import * as newRoScreen from './new-ro.js';
import * as walkaroundScreen from './walkaround.js';
import * as myJobsScreen from './my-jobs.js';
import * as qcScreen from './qc.js';
import * as roDetailScreen from './ro-detail.js';
import * as findScreen from './find.js';
import * as vehicleScreen from './vehicle-history.js';
import * as dispatchScreen from './dispatch.js';
import * as handoverScreen from './handover.js';
import * as settingsScreen from './settings.js';
import * as staffScreen from './staff.js';
import * as careScreen from './care.js';
import { onLiveEvent, onSessionEnded, startLive, stopLive } from './live.js';
import { missed } from './apply.js';
import './photo-queue.js'; // moves photos queued by an older version of the app into the outbox
import { setOutboxUser, unsent, onOutbox, kick as kickOutbox } from './outbox.js';
import { confirmBig } from './clock.js';
import { openOutboxList } from './outbox-list.js';
import { cachedSession, forgetSession, keepOnlyFor, rememberSession, touchSession } from './screencache.js';
import { POLICY } from './domain.js';

// A bay tablet is shared: after this long without a touch or key press, whoever was signed in is
// signed out so the next person cannot act under their name.
export const IDLE_MINUTES = 10;

// param: true → the route needs "#/route/param"; 'optional' → it may have one. roles: who may open it
// (those the server lets do the screen's main work).
const routes = {
  '#/setup': { screen: setupScreen, auth: false },
  '#/signin': { screen: signinScreen, auth: false },
  '#/today': { screen: todayScreen, auth: true, roles: POLICY['ro.list'] },
  '#/new': { screen: newRoScreen, auth: true, roles: POLICY['ro.create'] },
  '#/walkaround': { screen: walkaroundScreen, auth: true, param: true, roles: POLICY['walkaround.edit'] },
  '#/my-jobs': { screen: myJobsScreen, auth: true, roles: POLICY['me.jobs'] },
  '#/qc': { screen: qcScreen, auth: true, param: 'optional', roles: POLICY['job.qc'] },
  '#/ro': { screen: roDetailScreen, auth: true, param: true, roles: POLICY['ro.read'] },
  '#/find': { screen: findScreen, auth: true, roles: POLICY['ro.search'] },
  '#/vehicle': { screen: vehicleScreen, auth: true, param: true, roles: POLICY['ro.search'] },
  '#/dispatch': { screen: dispatchScreen, auth: true, roles: POLICY['dispatch.read'] },
  '#/handover': { screen: handoverScreen, auth: true, param: true, roles: POLICY['ro.handover'] },
  '#/settings': { screen: settingsScreen, auth: true, roles: POLICY['shop.settings'] },
  '#/staff': { screen: staffScreen, auth: true, roles: POLICY['staff.list'] },
  '#/care': { screen: careScreen, auth: true, roles: POLICY['care.read'] },
};

// The top bar's links, each shown to the roles its route allows (and only when there is a choice).
const NAV = [
  { hash: '#/today', key: 'nav.today', testid: 'nav-today' },
  { hash: '#/my-jobs', key: 'nav.myJobs', testid: 'nav-my-jobs' },
  { hash: '#/qc', key: 'nav.qc', testid: 'nav-qc' },
  { hash: '#/dispatch', key: 'nav.dispatch', testid: 'nav-dispatch' },
  { hash: '#/find', key: 'nav.find', testid: 'nav-find' },
  // A manager has seven screens and a phone's top bar holds six: there the follow-up link is left
  // out for them (customer care and advisors keep it; a manager works it from a tablet or desk).
  { hash: '#/care', key: 'nav.care', testid: 'nav-care', spare: true },
  { hash: '#/staff', key: 'nav.staff', testid: 'nav-staff' },
  { hash: '#/settings', key: 'nav.settings', testid: 'nav-settings' },
];

/** Where a person starts: technicians on their own jobs, customer care at the follow-up calls, everyone else on the board. */
export function homeFor(user) {
  if (user?.role === 'technician') return '#/my-jobs';
  return user?.role === 'customer_care' ? '#/care' : '#/today';
}

const mayOpen = (hash, user) => !routes[hash].roles || (!!user && routes[hash].roles.includes(user.role));

const state = {
  setup: null, // {needed, default_timezone, timezones} while the install is brand new
  shop: null, // {name, timezone, ...}
  user: null, // {id, name, role, username}
};

const view = document.getElementById('view');
let cleanup = null;
let lastActivity = Date.now();

const ctx = {
  state,
  home: () => homeFor(state.user),
  go(hash, { replace = false } = {}) {
    if (location.hash === hash) return route();
    if (replace) history.replaceState(null, '', hash);
    else location.hash = hash;
    if (replace) route();
  },
  setUser(user) {
    state.user = user;
    lastActivity = Date.now();
    if (user) {
      rememberSession(user, state.shop, lastActivity);
      keepOnlyFor(user.id); // another person's kept screens are never shown to this one
      startLive();
      kickOutbox(); // what this person did earlier (offline, or before a reload) goes up now
    } else stopLive();
    renderTopbar();
  },
  async signOut(reasonKey) {
    if (state.user && !reasonKey) {
      // Switching user on a shared tablet: say what is still unsent (it stays, and goes later).
      const mine = (await unsent(state.user.id)).length;
      if (mine) {
        const ok = await confirmBig({
          titleKey: 'outbox.signOutTitle',
          bodyKey: 'outbox.signOutBody',
          bodyParams: { count: mine },
          okKey: 'outbox.signOutOk',
          testid: 'signout-unsent',
        });
        if (!ok) return;
      }
    }
    const wasSignedIn = !!state.user;
    state.user = null;
    forgetSession();
    stopLive();
    renderTopbar();
    try {
      await post('/api/auth/logout');
    } catch {
      /* the session is dropped locally either way; the server expires it on its own */
    }
    if (wasSignedIn && reasonKey) toast(reasonKey, { minutes: IDLE_MINUTES });
    ctx.go('#/signin', { replace: true });
  },
  async loadShop() {
    try {
      useShop(await get('/api/shop'));
    } catch {
      /* keep the previous / default zone; screens still work */
    }
    renderTopbar();
  },
};

function useShop(shop) {
  state.shop = shop;
  if (shop?.timezone) setShopTimeZone(shop.timezone);
  if (state.user) rememberSession(state.user, state.shop, lastActivity);
}

// A manager changed the shop in /admin (name, opening hours): the event carries it as /api/shop
// serves it, so every screen opened from now on (and the top bar) uses it without a reload; open
// promise choices follow the same event (web/js/promise.js). After a resync or a gap in seq
// (something was missed), the shop is read again like every screen's data.
onLiveEvent((m) => {
  if (m.type === 'shop.updated' && m.data?.shop) {
    useShop(m.data.shop);
    renderTopbar();
  } else if (missed(m) && state.user) ctx.loadShop();
});

// ---------- router ----------

// "#/walkaround/12" → route "#/walkaround" with param "12".
function parseHash(raw) {
  const m = /^(#\/[a-z-]+)(?:\/([A-Za-z0-9-]+))?$/.exec(raw || '');
  return m && routes[m[1]] ? { base: m[1], param: m[2] ?? null } : null;
}

function route() {
  const home = homeFor(state.user);
  let hash = location.hash || home;
  const parsed = parseHash(hash);
  let param = parsed?.param ?? null;
  hash = parsed ? parsed.base : home;
  if (routes[hash].param === true && !param) hash = home;
  if (state.setup?.needed && hash !== '#/setup') hash = '#/setup';
  else if (!state.setup?.needed && hash === '#/setup') hash = state.user ? home : '#/signin';
  else if (routes[hash].auth && !state.user) hash = '#/signin';
  else if (!mayOpen(hash, state.user)) hash = home;
  if (hash !== parsed?.base || !routes[hash].param) param = null;
  const full = param ? `${hash}/${param}` : hash;
  if (location.hash !== full) history.replaceState(null, '', full);

  if (typeof cleanup === 'function') cleanup();
  cleanup = null;
  clear(view);
  document.body.dataset.route = hash.slice(2);
  cleanup = routes[hash].screen.render(view, ctx, param);
  paintNav(hash);
  view.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

// ---------- top bar ----------

function renderTopbar() {
  const shopName = document.getElementById('shop-name');
  shopName.textContent = state.shop?.name || state.setup?.shop_name || '';
  const who = document.getElementById('who');
  clear(who);
  if (state.user) {
    who.append(
      h('span', { class: 'who-name' }, state.user.name || state.user.username || ''),
      h('span', { class: 'who-role', t: `role.${state.user.role}` }),
    );
  }
  who.hidden = !state.user;
  document.getElementById('switch-user').hidden = !state.user;
  paintNav(parseHash(location.hash)?.base);
  const toggle = document.getElementById('lang-toggle');
  // The button names the language it switches *to*, in that language, so anyone can find it. That
  // is its accessible name too (speech control finds a button by what it shows); what it does is
  // its description (#lang-toggle-hint, in the current language).
  toggle.textContent = getLang() === 'zh-CN' ? 'English' : '中文';
  toggle.setAttribute('lang', getLang() === 'zh-CN' ? 'en' : 'zh-CN');
}

function paintNav(current) {
  const nav = document.getElementById('nav');
  clear(nav);
  const links = state.user ? NAV.filter((item) => mayOpen(item.hash, state.user)) : [];
  nav.hidden = links.length < 2;
  for (const item of links) {
    nav.append(
      h('a', {
        class: ['nav-link', item.spare && links.length > 6 && 'nav-spare'],
        href: item.hash,
        t: item.key,
        'data-testid': item.testid,
        'aria-current': item.hash === current ? 'page' : null,
      }),
    );
  }
}

function wireTopbar() {
  document.getElementById('lang-toggle').addEventListener('click', () => {
    setLang(getLang() === 'zh-CN' ? 'en' : 'zh-CN');
  });
  document.getElementById('switch-user').addEventListener('click', () => ctx.signOut());
  onLangChange(() => {
    translateTree(document);
    renderTopbar();
  });
}

// ---------- idle sign-out ----------

function watchIdle() {
  const mark = () => {
    lastActivity = Date.now();
  };
  for (const type of ['pointerdown', 'touchstart', 'keydown']) {
    window.addEventListener(type, mark, { passive: true, capture: true });
  }
  // Compare timestamps instead of one long setTimeout: a sleeping tablet pauses timers, and on
  // wake-up the check below still sees how long it really was.
  const check = () => {
    if (state.user && Date.now() - lastActivity > IDLE_MINUTES * 60000) ctx.signOut('top.signedOutIdle');
    // Kept with the session: a tablet reopened after this long idle must not reopen signed in.
    else if (state.user) touchSession(lastActivity);
  };
  setInterval(check, 15000);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') check();
  });
}

// ---------- service worker ----------

function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  let reloadRequested = false;
  const banner = document.getElementById('update-banner');

  const offer = (worker) => {
    banner.hidden = false;
    document.getElementById('update-reload').onclick = () => {
      reloadRequested = true;
      worker.postMessage({ type: 'SKIP_WAITING' });
    };
  };

  // Only reload when the person asked for it: the first install also changes the controller
  // (clients.claim) and must not reload a page they are typing into.
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (reloadRequested) location.reload();
  });

  navigator.serviceWorker
    .register('/sw.js', { scope: '/' })
    .then((reg) => {
      if (reg.waiting && navigator.serviceWorker.controller) offer(reg.waiting);
      reg.addEventListener('updatefound', () => {
        const worker = reg.installing;
        worker?.addEventListener('statechange', () => {
          if (worker.state === 'installed' && navigator.serviceWorker.controller) offer(worker);
        });
      });
      // Tablets stay open for days; look for a new version when the app comes back to the front.
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'visible') reg.update().catch(() => {});
      });
    })
    .catch(() => {
      /* no offline shell (e.g. plain http on a LAN address); the app still works online */
    });
}

// ---------- boot ----------

// Without the server's answer boot tries again by itself: at once when the browser says the
// network is back, else after a growing pause (a dead Wi-Fi spot does not always say so).
const BOOT_RETRY_MS = [2000, 5000, 10000, 30000];
let bootTries = 0;
let bootTimer = null;
let booting = null;
let bootPending = false;

function bootLater() {
  bootPending = true;
  clearTimeout(bootTimer);
  bootTimer = setTimeout(boot, BOOT_RETRY_MS[Math.min(bootTries++, BOOT_RETRY_MS.length - 1)]);
}
window.addEventListener('online', () => bootPending && boot());

function bootError(err) {
  clear(view);
  const retry = h('button', { class: 'btn btn-primary', type: 'button', t: 'common.retry', onclick: () => boot() });
  view.append(
    h(
      'section',
      { class: 'empty-state' },
      h('h1', { t: 'boot.failedTitle' }),
      h('p', { t: err?.status === 0 ? 'error.network' : 'boot.failedBody' }),
      retry,
    ),
  );
}

/** The last person signed in here, as kept, unless the tablet sat idle long enough to sign them out. */
function keptSession() {
  const kept = cachedSession();
  if (kept && Date.now() - kept.activeAt > IDLE_MINUTES * 60000) {
    forgetSession();
    return null;
  }
  return kept;
}

function boot() {
  if (!booting) booting = start().finally(() => (booting = null));
  return booting;
}

async function start() {
  bootPending = false;
  clearTimeout(bootTimer);
  const kept = state.user ? null : keptSession();
  if (kept) {
    // Reopen the last screen from what the tablet kept, without waiting for the server: each
    // screen shows its kept data marked as not fresh until it loads. Only for showing: every call
    // still needs the server's session, and a 401 then asks for sign-in.
    state.setup = null;
    state.shop = kept.shop;
    if (kept.shop?.timezone) setShopTimeZone(kept.shop.timezone);
    ctx.setUser(kept.user);
    route();
  }
  const shown = state.user; // on screen from the kept session (this boot's or an earlier try's)
  try {
    const setup = await get('/api/setup');
    if (setup?.needed) {
      if (state.user) {
        // A brand-new server behind a kept session: nobody is signed in on it.
        state.user = null;
        forgetSession();
        stopLive();
      }
      state.setup = setup;
      if (setup.default_timezone) setShopTimeZone(setup.default_timezone);
      renderTopbar();
      return ctx.go('#/setup', { replace: true });
    }
    state.setup = null;
    await ctx.loadShop();
    let me = null;
    try {
      me = (await get('/api/auth/me'))?.user || null;
    } catch (err) {
      if (err.status !== 401) throw err;
    }
    bootTries = 0;
    if (state.user !== shown) return; // signed out (or in) on this tablet meanwhile: that stands
    if (shown && me?.id === shown.id) {
      // Still signed in on the server: the kept screen stays (it refreshes its own data).
      state.user = { ...state.user, ...me };
      rememberSession(state.user, state.shop, lastActivity);
      renderTopbar();
      return;
    }
    if (shown && !me) return ctx.signOut('top.sessionExpired');
    if (me) ctx.setUser(me);
    else state.user = null;
    renderTopbar();
    route();
  } catch (err) {
    if (!state.user) bootError(err);
    bootLater();
  }
}

onUnauthorized(() => {
  // The server dropped the session (expired, or a manager signed this person out).
  if (state.user) ctx.signOut('top.sessionExpired');
});
// The live stream hears it first, even on a screen that sends no requests (a board on the wall).
onSessionEnded(() => state.user && ctx.signOut('top.sessionExpired'));

setOutboxUser(() => (state.user ? { id: state.user.id, name: state.user.name } : null));

/** The number of actions not yet on the server (every person's, photos included), on every screen. */
let badgeReads = 0;
async function paintOutboxBadge() {
  const badge = document.getElementById('outbox-badge');
  const read = ++badgeReads;
  let count = 0;
  try {
    count = (await unsent()).length;
  } catch {
    /* no IndexedDB (private mode): nothing can be queued either */
  }
  // Reads may finish out of order: one started before the latest change must not paint over it.
  if (read !== badgeReads) return;
  badge.hidden = count === 0;
  badge.dataset.count = String(count);
  setText(badge, 'outbox.badge', { count });
}
onOutbox((event) => event.type !== 'progress' && paintOutboxBadge());
onOutbox((event) => {
  // The server says this person's session is over: ask them to sign in again (their items stay).
  if (event.type === 'auth' && state.user && event.entry?.staffId === state.user.id) ctx.signOut('top.sessionExpired');
});
paintOutboxBadge();
document.getElementById('outbox-badge').addEventListener('click', () => openOutboxList());
initLang();
wireTopbar();
renderTopbar();
translateTree(document);
watchIdle();
registerServiceWorker();
// Ask the browser not to evict this site's storage under pressure: the outbox lives there.
navigator.storage?.persist?.().catch(() => {});
window.addEventListener('hashchange', route);
boot();
