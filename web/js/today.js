// The live workshop board ("Today's vehicles"): every open repair order, soonest promise first,
// with its stage, jobs and who is on them. Updated from /ws/shop; a slow poll is only a safety net.
// What this tablet has not sent yet (outbox) shows too: new repair orders as pending cards at the
// top, and a changed promise as the new time marked "not sent yet", until the server has them.
import { get } from './api.js';
import { h, clear, timeEl, setText, toast, copyText, uid } from './dom.js';
import { formatDateTime, t } from './i18n.js';
import { showError } from './forms.js';
import { onLiveEvent, onLiveState } from './live.js';
import { onOutbox, unsent } from './outbox.js';
import { openOutboxList, refusedText } from './outbox-list.js';
import { openPromiseDialog } from './promise.js';
import { keepScreen, readScreen, staleMark, unreachable } from './screencache.js';
import { DONE_STATES, NOT_WORK, allowed } from './domain.js';
import { applyBoard, isoTime, missed, readLog } from './apply.js';

const SOON_MINUTES = 60; // amber when the promise is this close
const REFRESH_SECONDS = 120; // safety net only: the stream carries every change
const RECOLOUR_SECONDS = 30; // a promise turns amber/red with the clock, not only on events
const FULL_RELOAD_AFTER = 15; // more changed repair orders than this in one burst: reload the list

export function render(root, ctx) {
  let items = []; // the server's view only; what is still on the tablet is laid over it in paint()
  let query = '';
  let loaded = false;
  let pendingRos = []; // outbox entries of new repair orders (pending or parked)
  let pendingPromises = new Map(); // repair order id → {promisedAt, state} of its latest unsent change
  const me = ctx.state.user?.id;
  const stale = staleMark();
  // What the board last loaded on this tablet: shown at once, as not fresh until the server answers.
  const kept = readScreen(me, 'today');
  let loadedAt = kept?.at ?? null;
  let fresh = false; // `items` is the server's list as of now (loaded, then kept up by the stream)
  if (kept && Array.isArray(kept.data)) {
    items = kept.data;
    loaded = true;
  }

  const search = h('input', {
    type: 'search',
    class: 'input search-input',
    name: 'search',
    autocomplete: 'off',
    autocapitalize: 'characters',
    enterkeyhint: 'search',
    tattrs: { placeholder: 'today.searchPlaceholder', 'aria-label': 'today.searchPlaceholder' },
  });
  const count = h('span', { class: 'count-pill', hidden: true });
  const liveBadge = h('span', { class: 'live-state', 'data-testid': 'live-state', role: 'status' });
  const list = h('div', { class: 'ro-grid', 'data-testid': 'today-list', 'aria-live': 'polite', 'aria-busy': 'true' });
  const error = h('div', { class: 'form-banner', role: 'alert', hidden: true });

  const newButton = h(
    'button',
    { type: 'button', class: 'btn btn-accent btn-lg', 'data-testid': 'new-ro-button', onclick: () => ctx.go('#/new') },
    h('span', { class: 'plus', 'aria-hidden': 'true' }, '+'),
    h('span', { t: 'today.newRo' }),
  );

  root.append(
    h(
      'div',
      { class: 'page' },
      h('header', { class: 'page-head' }, h('div', { class: 'title-row' }, h('h1', { t: 'today.title' }), count, liveBadge), newButton),
      h('div', { class: 'toolbar' }, h('div', { class: 'search' }, searchIcon(), search)),
      stale.el,
      error,
      list,
    ),
  );

  search.addEventListener('input', () => {
    query = search.value;
    paint();
  });

  const heard = readLog(); // events heard while a read is on its way, applied again to its answer
  const replay = (list) => list.reduce((acc, m) => applyBoard(acc, m).view, items);

  // One read of the whole list at a time; one asked for meanwhile follows it.
  let loading = null;
  let loadAgain = false;
  function load() {
    if (loading) {
      loadAgain = true;
      return loading;
    }
    loading = readAll().finally(() => {
      loading = null;
      if (loadAgain) {
        loadAgain = false;
        load();
      }
    });
    return loading;
  }

  async function readAll() {
    const askedAt = new Date().toISOString();
    const from = heard.begin();
    let data = null;
    let failure = null;
    try {
      data = await get('/api/repair-orders');
    } catch (err) {
      failure = err;
    }
    const since = heard.end(from);
    if (!failure) {
      items = Array.isArray(data?.items) ? data.items : Array.isArray(data) ? data : [];
      items = replay(since);
      loaded = true;
      error.hidden = true;
      fresh = true;
      remember(askedAt);
      stale.hide();
    } else {
      const err = failure;
      if (err.status === 401) return; // app.js sends us to sign-in
      fresh = false;
      if (loaded && unreachable(err)) {
        // The board as last loaded stays, marked with when: better than a blank board.
        stale.show(loadedAt);
        error.hidden = true;
      } else {
        if (err.status === 403) setText(error, 'today.forbidden');
        else showError(error, err);
        error.hidden = false;
      }
    }
    list.removeAttribute('aria-busy');
    paint();
  }

  // Reads of the outbox may finish out of order; only the latest one is painted.
  let outboxReads = 0;
  let outboxSig = '';
  async function loadOutbox() {
    const token = ++outboxReads;
    let all = [];
    try {
      all = await unsent();
    } catch {
      /* no IndexedDB (private mode): nothing can be queued either */
    }
    if (token !== outboxReads) return;
    const ros = all.filter((e) => e.meta?.kind === 'newRo');
    const promises = new Map();
    for (const e of all) {
      if (e.meta?.kind === 'promise') promises.set(e.meta.roId, { promisedAt: e.meta.promisedAt, state: e.state });
    }
    // The outbox reports a change after every replay run (every few seconds while offline):
    // repaint only when what the board shows from it changed.
    const sig = JSON.stringify([ros.map((e) => [e.seq, e.state, e.error]), [...promises]]);
    const same = sig === outboxSig && sameMap(promises, pendingPromises);
    outboxSig = sig;
    pendingRos = ros;
    pendingPromises = promises;
    if (!same) paint();
  }

  /** A repair order as this tablet knows it: a promise change not yet on the server shows. */
  function view(ro) {
    const change = pendingPromises.get(ro.id);
    if (!change) return ro;
    if (change.state === 'parked') return { ...ro, promise_parked: true };
    return { ...ro, promised_at: change.promisedAt, promise_pending: true };
  }

  function paint() {
    const now = Date.now();
    const q = normalise(query);
    const sorted = items.map(view).sort((a, b) => promiseTime(a) - promiseTime(b));
    const shown = q ? sorted.filter((ro) => matches(ro, q)) : sorted;
    const pending = q ? pendingRos.filter((e) => normalise(e.meta.plate).includes(q) || normalise(e.meta.customer).includes(q)) : pendingRos;
    count.hidden = !loaded;
    count.textContent = String(items.length);
    clear(list);
    // Shown even when the server's list could not load: they are on this tablet, not the server.
    for (const entry of pending) list.append(pendingCard(entry));
    if (!loaded) return;
    if (!items.length && !pendingRos.length) {
      list.append(
        h(
          'div',
          { class: 'empty-state' },
          emptyIcon(),
          h('h2', { t: 'today.emptyTitle' }),
          h('p', { t: 'today.emptyBody' }),
          h('button', { type: 'button', class: 'btn btn-primary btn-lg', t: 'today.newRo', onclick: () => ctx.go('#/new') }),
        ),
      );
      return;
    }
    if (!shown.length && !pending.length) {
      list.append(h('div', { class: 'empty-state small' }, h('p', { t: 'today.noMatch', tp: { query: query.trim() } })));
      return;
    }
    const canPromise = allowed(ctx.state.user?.role, 'ro.promise');
    const walk = (ro) => ctx.go(`#/walkaround/${ro.id}`);
    const open = (ro) => ctx.go(`#/ro/${ro.id}`);
    for (const ro of shown) list.append(card(ro, now, canPromise ? openPromise : null, canPromise ? walk : null, open));
  }

  function upsert(ro) {
    const i = items.findIndex((x) => x.id === ro.id);
    if (ro.delivered_at) {
      if (i >= 0) items.splice(i, 1); // handed back: off the board
    } else if (i >= 0) items[i] = ro;
    else items.push(ro);
  }

  /** Keep the board as it now is for a reload without network (only a list that is up to date). */
  function remember(at) {
    if (fresh) loadedAt = keepScreen(me, 'today', items, at);
  }

  function openPromise(ro) {
    openPromiseDialog(ro, {
      hours: ctx.state.shop?.hours,
      onSaved: (updated) => {
        if (updated?.promise_pending) {
          // Kept on the tablet: shown from the outbox (laid over the server's data), never
          // mixed into `items`, so a reload cannot lose the mark or keep a stale time.
          pendingPromises.set(updated.id, { promisedAt: updated.promised_at, state: 'pending' });
          loadOutbox();
        } else if (updated?.id) {
          upsert(updated);
          remember();
        }
        paint();
      },
    });
  }

  function openList() {
    openOutboxList().catch((err) => console.error(err));
  }

  /** A new repair order still on this tablet: no number and no status link until the server has it. */
  function pendingCard(entry) {
    const m = entry.meta;
    const parked = entry.state === 'parked';
    const vehicleLine = [m.make, m.model].filter(Boolean).join(' ');
    return h(
      'article',
      { class: ['ro-card', 'ro-card-pending', parked && 'is-parked'], 'data-testid': 'pending-ro', 'data-state': entry.state, 'data-plate': m.plate },
      h(
        'div',
        { class: 'ro-top' },
        parked
          ? h('span', { class: 'chip chip-refused', t: 'today.pendingRoRefused' })
          : h('span', { class: 'chip chip-queued', 'data-testid': 'pending-ro-mark', t: 'today.pendingRo' }),
      ),
      h('div', { class: 'plate', lang: 'zh-CN' }, m.plate || '—'),
      vehicleLine ? h('div', { class: 'ro-vehicle' }, h('span', {}, vehicleLine)) : null,
      h('div', { class: 'ro-customer' }, personIcon(), h('span', {}, m.customer || '')),
      h(
        'div',
        { class: 'ro-promise' },
        h('span', { class: 'promise-label', t: 'today.promised' }),
        m.promisedAt ? timeEl(m.promisedAt, 'smart') : h('span', {}, '—'),
      ),
      parked
        ? refusedText(entry, { class: 'outbox-error' })
        : h('p', { class: 'field-hint', t: 'today.pendingRoHint' }),
      parked
        ? h('div', { class: 'ro-actions' }, h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': 'pending-ro-open-list', t: 'today.openOutbox', onclick: openList }))
        : null,
    );
  }

  // Each event changes the board by itself (apply.js). A repair order is read again only when an
  // event names one the board cannot draw from it (a new order: its customer, car and link are not
  // in the event); the whole list only after a resync or a gap in seq (something was missed).
  const dirty = new Set();
  let flushTimer = null;
  async function flush() {
    flushTimer = null;
    const ids = [...dirty];
    dirty.clear();
    if (ids.length > FULL_RELOAD_AFTER) return load();
    for (const id of ids) {
      const from = heard.begin();
      let ro = null;
      let failure = null;
      try {
        ro = await get(`/api/repair-orders/${id}`);
      } catch (err) {
        failure = err;
      }
      const since = heard.end(from);
      if (failure && failure.status !== 404) return load(); // network trouble mid-way: the full reload sorts it out
      if (failure) items = items.filter((x) => x.id !== id);
      else upsert(ro);
      items = replay(since);
    }
    remember();
    paint();
  }

  // Bursts (a tap is a clock event, a job update and a stage change) paint once; the copy kept for
  // a reload without network is written at most once a second.
  let paintTimer = null;
  let keepTimer = null;
  function paintSoon() {
    if (!paintTimer) paintTimer = setTimeout(() => { paintTimer = null; paint(); }, 30);
    if (!keepTimer) keepTimer = setTimeout(() => { keepTimer = null; remember(); }, 1000);
  }

  const offEvent = onLiveEvent((m) => {
    if (missed(m)) return load();
    if (m.type === 'approval.decided') {
      const ro = items.find((x) => x.id === m.ro);
      const key = m.data?.decision === 'approved' ? 'board.approved' : 'board.declined';
      toast(key, { title: m.data?.title || '', number: ro?.number || '' }, m.data?.decision === 'approved' ? 'ok' : 'info');
    }
    heard.hear(m);
    if (!loaded) return; // the first read is on its way: it takes this in
    const result = applyBoard(items, m);
    if (result.view !== items) {
      items = result.view;
      paintSoon();
    }
    for (const id of result.fetch) dirty.add(id);
    if (dirty.size && !flushTimer) flushTimer = setTimeout(flush, 200);
  });
  const offState = onLiveState((st) => {
    liveBadge.dataset.state = st;
    setText(liveBadge, `live.${st}`);
    // The stream is back (a dead spot does not always fire `online`): refresh a board that is not fresh.
    if (st === 'live' && stale.shown) load();
  });
  const offOutbox = onOutbox((event) => {
    if (event.type !== 'change' && event.type !== 'done' && event.type !== 'parked') return;
    const kind = event.entry?.meta?.kind;
    if (event.type === 'done' && (kind === 'newRo' || kind === 'promise')) {
      // The server's answer is the repair order as it now is: show it at once, in the same
      // paint that drops the pending mark (the live event that follows only confirms it).
      if (!loaded) load();
      else if (event.body?.id) {
        upsert(event.body);
        remember();
      }
      paint();
    }
    loadOutbox();
  });

  if (kept) {
    list.removeAttribute('aria-busy');
    paint();
    stale.showSoon(loadedAt);
  }
  load();
  loadOutbox();
  const timer = setInterval(load, REFRESH_SECONDS * 1000);
  const recolour = setInterval(paint, RECOLOUR_SECONDS * 1000);
  const onVisible = () => document.visibilityState === 'visible' && load();
  document.addEventListener('visibilitychange', onVisible);
  // Opened without a network the board could not load: fetch it as soon as the network is back.
  const onOnline = () => load();
  window.addEventListener('online', onOnline);
  return () => {
    clearInterval(timer);
    clearInterval(recolour);
    clearTimeout(flushTimer);
    clearTimeout(paintTimer);
    clearTimeout(keepTimer);
    stale.hide();
    offEvent();
    offState();
    offOutbox();
    document.removeEventListener('visibilitychange', onVisible);
    window.removeEventListener('online', onOnline);
  };
}

function sameMap(a, b) {
  return a.size === b.size && [...a].every(([k, v]) => JSON.stringify(b.get(k)) === JSON.stringify(v));
}

function promiseTime(ro) {
  const when = Date.parse(ro.promised_at);
  return Number.isFinite(when) ? when : Infinity;
}

// Plates are typed with and without spaces/dots ("沪A·12345"); compare without them.
function normalise(s) {
  return String(s || '').toUpperCase().replace(/[\s·.\-]/g, '');
}

function matches(ro, q) {
  return [ro.vehicle?.plate, ro.customer?.name, ro.number, ro.vehicle?.vin].some((v) => normalise(v).includes(q));
}

/** What needs someone on this car: findings to price, parts waited for, a discount to approve. */
function flags(ro) {
  const a = ro.attention || {};
  const toPrice = Array.isArray(a.findings_to_price) ? a.findings_to_price.length : 0;
  const out = [];
  if (toPrice) out.push(h('span', { class: 'chip chip-warn', 'data-testid': 'card-findings', t: 'card.findingsToPrice', tp: { count: toPrice } }));
  if (a.waiting_parts) {
    out.push(
      a.parts_expected_at
        ? h('span', { class: 'chip chip-muted', 'data-testid': 'card-parts', t: 'card.partsExpected', tp: { time: formatDateTime(a.parts_expected_at, 'smart') } })
        : h('span', { class: 'chip chip-muted', 'data-testid': 'card-parts', t: 'card.waitingParts' }),
    );
  }
  if (a.discount_pending) out.push(h('span', { class: 'chip chip-warn', 'data-testid': 'card-discount', t: 'card.discountToApprove' }));
  return out.length ? h('div', { class: 'ro-flags' }, out) : null;
}

function card(ro, now, onPromise, onWalk, onOpen) {
  const v = ro.vehicle || {};
  const jobs = (ro.jobs || []).filter((j) => !NOT_WORK.has(j.state) && j.approval !== 'declined');
  const done = jobs.filter((j) => DONE_STATES.has(j.state)).length;
  const awaiting = (ro.jobs || []).filter((j) => j.needs_approval && (j.approval === 'pending' || j.approval == null) && j.state === 'recommended').length;
  const when = promiseTime(ro);
  const urgency = when < now ? 'late' : when - now <= SOON_MINUTES * 60000 ? 'soon' : 'ok';
  // Compared as instants: an event and a read may write the same time differently.
  const moved = ro.first_promised_at && Date.parse(isoTime(ro.first_promised_at)) !== Date.parse(isoTime(ro.promised_at));
  const vehicleLine = [v.year, v.make, v.model].filter(Boolean).join(' ');

  const copy = h(
    'button',
    { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'copy-status-link', disabled: !ro.status_url },
    linkIcon(),
    h('span', { t: 'today.copyLink' }),
  );
  copy.addEventListener('click', async () => {
    const ok = await copyText(new URL(ro.status_url, location.origin).href);
    toast(ok ? 'today.linkCopied' : 'today.copyFailed', undefined, ok ? 'ok' : 'error');
  });

  const pct = jobs.length ? Math.round((done / jobs.length) * 100) : 0;
  const bar = h('span', { class: 'progress-fill' });
  bar.style.width = `${pct}%`; // set from JS: the CSP forbids style="" in markup
  const jobsTextId = uid('ro-jobs'); // the bar is named by its "1 of 2 jobs done"

  // The number is the card's link to the order (keyboard and screen readers); a tap anywhere on the
  // card but its buttons and links opens it too.
  const article = h(
    'article',
    { class: ['ro-card', `urgency-${urgency}`, onOpen && 'ro-card-open'], 'data-testid': 'ro-card', 'data-number': ro.number, 'data-stage': ro.stage },
    h(
      'div',
      { class: 'ro-top' },
      onOpen
        ? h('a', { class: 'ro-number', href: `#/ro/${ro.id}`, 'data-testid': 'ro-open', 'aria-label': t('card.open', { number: ro.number ?? '' }) }, ro.number ?? '')
        : h('span', { class: 'ro-number' }, ro.number ?? ''),
      stageBadge(ro.stage),
    ),
    h('div', { class: 'plate', lang: 'zh-CN' }, v.plate || '—'),
    h(
      'div',
      { class: 'ro-vehicle' },
      vehicleLine ? h('span', {}, vehicleLine) : null,
      v.color ? h('span', { class: vehicleLine ? 'ro-color' : '' }, v.color) : null,
    ),
    h('div', { class: 'ro-customer' }, personIcon(), h('span', {}, ro.customer?.name || '')),
    h(
      'div',
      { class: ['ro-promise', `promise-${urgency}`] },
      h('span', { class: 'promise-label', t: urgency === 'late' ? 'today.overdue' : 'today.promised' }),
      ro.promised_at ? timeEl(ro.promised_at, 'smart') : h('span', {}, '—'),
      moved && !ro.promise_pending ? h('span', { class: 'chip chip-muted', t: 'today.moved' }) : null,
      ro.promise_pending ? h('span', { class: 'chip chip-queued', 'data-testid': 'promise-pending', t: 'today.promisePending' }) : null,
      ro.promise_parked ? h('span', { class: 'chip chip-refused', 'data-testid': 'promise-parked', t: 'today.promiseRefused' }) : null,
    ),
    h(
      'div',
      { class: 'ro-jobs' },
      h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': jobs.length, 'aria-valuenow': done, 'aria-labelledby': jobsTextId }, bar),
      h('span', { class: 'ro-jobs-text', id: jobsTextId, t: jobs.length ? 'today.jobsDone' : 'today.noJobs', tp: { done, total: jobs.length } }),
      awaiting ? h('span', { class: 'chip chip-warn', t: 'today.awaitingApproval', tp: { count: awaiting } }) : null,
    ),
    flags(ro),
    jobLines(ro.jobs || []),
    h(
      'div',
      { class: 'ro-actions' },
      copy,
      onWalk
        ? h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'walkaround-button', t: 'board.walkaround', onclick: () => onWalk(ro) })
        : null,
      onPromise
        ? h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'change-promise', t: 'board.changePromise', onclick: () => onPromise(ro) })
        : null,
    ),
  );
  if (onOpen) {
    article.addEventListener('click', (ev) => {
      if (ev.target.closest('button, a, input, select, textarea')) return; // its own actions
      if (String(window.getSelection?.() || '')) return; // selecting text (a VIN, a phone) is not a tap
      onOpen(ro);
    });
  }
  return article;
}

// Each job with its state and who is on it: the foreman's "who is doing what" at a glance.
function jobLines(jobs) {
  if (!jobs.length) return null;
  return h(
    'ul',
    { class: 'job-lines' },
    jobs.map((j) =>
      h(
        'li',
        { 'data-testid': 'job-line', 'data-job': j.id, 'data-state': j.state, 'data-approval': j.approval || '' },
        h('span', { class: 'job-title' }, j.title),
        j.technician?.name ? h('span', { class: 'job-tech' }, personIcon(), j.technician.name) : null,
        j.approval === 'approved' ? h('span', { class: 'chip job-finished', t: 'board.customerApproved' }) : null,
        h('span', { class: ['chip', 'job-state', `job-${j.state}`], t: `job.${j.state}` }),
      ),
    ),
  );
}

export function stageBadge(stage) {
  return h('span', { class: ['badge', `stage-${stage}`], 'data-stage': stage, t: `stage.${stage}` });
}

function svg(d, cls = 'icon') {
  const ns = 'http://www.w3.org/2000/svg';
  const el = document.createElementNS(ns, 'svg');
  el.setAttribute('viewBox', '0 0 24 24');
  el.setAttribute('aria-hidden', 'true');
  el.setAttribute('class', cls);
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', d);
  p.setAttribute('fill', 'none');
  p.setAttribute('stroke', 'currentColor');
  p.setAttribute('stroke-width', '2');
  p.setAttribute('stroke-linecap', 'round');
  p.setAttribute('stroke-linejoin', 'round');
  el.append(p);
  return el;
}
const searchIcon = () => svg('M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14zm10 3-5.2-5.2');
const linkIcon = () => svg('M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1');
const personIcon = () => svg('M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7 8a7 7 0 0 1 14 0');
const emptyIcon = () =>
  svg('M3 13l2-6a2 2 0 0 1 2-1.4h10A2 2 0 0 1 19 7l2 6v5a1 1 0 0 1-1 1h-2a1 1 0 0 1-1-1v-1H7v1a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1zm0 0h18M7 16h.01M17 16h.01', 'icon icon-xl');
