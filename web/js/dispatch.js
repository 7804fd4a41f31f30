// Dispatch (派工), foreman-first, tablet landscape: on the left the jobs nobody has yet, soonest
// promise first; on the right one column per technician with what they are on now, their queue
// and a bar of queued sold time against the rest of their shift today (red when over).
// Assign: tap a job, then a technician (or the technician's "+"), or drag the job onto a column
// with a mouse or pen (a finger scrolls the lists, so touch uses taps). Reassign: tap a queued job,
// then another technician. Every assignment goes through the outbox (queued on the tablet before
// the network) and shows as "not sent yet" until the server has it. Live: every event that can
// change the picture reads the dispatch view again (one cheap read), coalesced, and so does a
// resync or a gap in the stream.
import { get } from './api.js';
import { action, send } from './action.js';
import { h, clear, setText, timeEl, toast } from './dom.js';
import { formatDateTime, onLangChange, t } from './i18n.js';
import { showError, clearError } from './forms.js';
import { onLiveEvent, onLiveState } from './live.js';
import { onOutbox, unsent } from './outbox.js';
import { formatMinutes, formatHours } from './clock.js';
import { keepScreen, readScreen, staleMark, unreachable } from './screencache.js';
import { missed } from './apply.js';

const COALESCE_MS = 300;
const REFRESH_MS = 60000; // the rest of a shift shrinks with the clock, not only on events
const SOON_MINUTES = 60;
const DRAG_PX = 8;
// Events after which the dispatch picture may differ (jobs, clocks, working days, people, hours).
const RELEVANT = /^(job|clock|attendance|stage|ro|approval|qc|staff|shop)\./;

export function render(root, ctx) {
  const me = ctx.state.user?.id;
  const stale = staleMark();
  const kept = readScreen(me, 'dispatch');
  let data = kept?.data && Array.isArray(kept.data.unassigned) ? kept.data : null;
  let loadedAt = kept?.at ?? null;
  let pending = new Map(); // job id → {techId, state, name} of its latest assignment still on this tablet
  let picked = null; // {jobId} chosen by a tap, waiting for a technician
  let drag = null; // {jobId, card, ghost, x0, y0, pointerId, moving, over}
  let swallowClick = false;

  const liveBadge = h('span', { class: 'live-state', 'data-testid': 'live-state', role: 'status' });
  const count = h('span', { class: 'count-pill', 'data-testid': 'dispatch-count', hidden: true });
  const shiftLine = h('span', { class: 'muted', 'data-testid': 'dispatch-shift' });
  const banner = h('div', { class: 'form-banner', role: 'alert', 'data-testid': 'dispatch-error', hidden: true });
  const hint = h('div', { class: 'dispatch-hint', 'aria-live': 'polite', 'data-testid': 'dispatch-hint' });
  const waiting = h('div', { class: 'dispatch-waiting', 'data-testid': 'dispatch-unassigned' });
  const columns = h('div', { class: 'dispatch-columns', 'data-testid': 'dispatch-technicians', 'aria-busy': 'true' });
  root.append(
    h(
      'div',
      { class: 'page dispatch-page' },
      h('header', { class: 'page-head' }, h('div', { class: 'title-row' }, h('h1', { t: 'dispatch.title' }), liveBadge), shiftLine),
      stale.el,
      banner,
      hint,
      h(
        'div',
        { class: 'dispatch-grid' },
        h('section', { class: 'dispatch-left', 'aria-labelledby': 'dispatch-unassigned-h' }, h('h2', { id: 'dispatch-unassigned-h', class: 'dispatch-h' }, h('span', { t: 'dispatch.unassigned' }), count), waiting),
        h('section', { class: 'dispatch-right', 'aria-labelledby': 'dispatch-tech-h' }, h('h2', { id: 'dispatch-tech-h', class: 'dispatch-h', t: 'dispatch.technicians' }), columns),
      ),
    ),
  );

  // ---------- reading ----------

  let loading = false;
  let again = false;
  async function load() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    const askedAt = new Date().toISOString();
    try {
      data = await get('/api/dispatch');
      loadedAt = keepScreen(me, 'dispatch', data, askedAt);
      stale.hide();
      clearError(banner);
    } catch (err) {
      if (err.status === 401) return;
      if (data && unreachable(err)) stale.show(loadedAt);
      else showError(banner, err);
    } finally {
      loading = false;
    }
    columns.removeAttribute('aria-busy');
    paint();
    if (again) {
      again = false;
      load();
    }
  }

  let timer = null;
  const loadSoon = () => {
    if (!timer) timer = setTimeout(() => { timer = null; load(); }, COALESCE_MS);
  };

  let outboxReads = 0;
  async function loadOutbox() {
    const token = ++outboxReads;
    let all = [];
    try {
      all = await unsent();
    } catch {
      /* no IndexedDB: nothing can be queued either */
    }
    if (token !== outboxReads) return;
    const next = new Map();
    for (const e of all) {
      if (e.meta?.kind === 'assign') next.set(e.meta.jobId, { techId: e.meta.techId, state: e.state, name: e.meta.name });
    }
    const same = JSON.stringify([...next]) === JSON.stringify([...pending]);
    pending = next;
    if (!same) paint();
  }

  // ---------- what is shown: the server's view with this tablet's unsent assignments laid over ----------

  function shown() {
    if (!data) return null;
    let view = data;
    for (const [jobId, move] of pending) view = moved(view, jobId, move.techId, { pending: move.state === 'parked' ? 'refused' : 'pending' });
    return view;
  }

  /** `view` with the job moved into a technician's queue (`extra` laid on the job), figures redone. */
  function moved(view, jobId, techId, extra = {}) {
    const techs = (view.technicians || []).map((p) => ({ ...p, queue: [...(p.queue || [])] }));
    let unassigned = [...(view.unassigned || [])];
    const target = techs.find((p) => p.id === techId);
    if (!target) return view;
    let job = unassigned.find((j) => j.id === jobId);
    if (job) unassigned = unassigned.filter((j) => j.id !== jobId);
    else {
      const from = techs.find((p) => p.queue.some((j) => j.id === jobId));
      if (!from) return view;
      job = from.queue.find((j) => j.id === jobId);
      from.queue = from.queue.filter((j) => j.id !== jobId);
      from.queued_minutes -= job.sold_minutes;
      from.over = from.queued_minutes > from.shift_rest_minutes;
    }
    const state = job.state === 'pending' ? 'assigned' : job.state;
    target.queue.push({ ...job, state, ...extra });
    target.queued_minutes += job.sold_minutes;
    target.over = target.queued_minutes > target.shift_rest_minutes;
    return { ...view, unassigned, technicians: techs };
  }

  /** The job by id and the person who has it now (null: nobody), as shown. */
  function find(view, jobId) {
    const waitingJob = view.unassigned.find((j) => j.id === jobId);
    if (waitingJob) return { job: waitingJob, owner: null };
    for (const p of view.technicians) {
      const job = p.queue.find((j) => j.id === jobId);
      if (job) return { job, owner: p };
    }
    return null;
  }

  // ---------- painting ----------

  function paint() {
    clear(waiting);
    clear(columns);
    const view = shown();
    if (!view) return paintHint(null);
    paintShift(view.shift);
    count.hidden = false;
    count.textContent = String(view.unassigned.length);
    if (picked && !find(view, picked.jobId)) picked = null;
    if (!view.unassigned.length) waiting.append(h('p', { class: 'empty-state small', 'data-testid': 'dispatch-none-waiting', t: 'dispatch.noneWaiting' }));
    for (const job of view.unassigned) waiting.append(jobCard(job, null, 'dispatch-job'));
    if (!view.technicians.length) columns.append(h('p', { class: 'empty-state small', t: 'dispatch.noTechnicians' }));
    for (const person of view.technicians) columns.append(column(person, view));
    paintHint(view);
  }

  function paintShift(shift) {
    if (!shift?.open_today) setText(shiftLine, 'dispatch.closedToday');
    else setText(shiftLine, 'dispatch.closesAt', { time: formatDateTime(shift.closes_at, 'time') });
  }

  function paintHint(view) {
    clear(hint);
    const found = picked && view ? find(view, picked.jobId) : null;
    if (!found) {
      hint.append(h('span', { t: 'dispatch.hint' }));
      hint.classList.remove('is-picked');
      return;
    }
    const plate = found.job.repair_order?.plate || '';
    hint.classList.add('is-picked');
    hint.append(
      found.owner
        ? h('strong', { t: 'dispatch.pickedMove', tp: { title: found.job.title, plate, name: found.owner.name } })
        : h('strong', { t: 'dispatch.picked', tp: { title: found.job.title, plate } }),
      h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'dispatch-cancel', t: 'dispatch.cancel', onclick: () => { picked = null; paint(); } }),
    );
  }

  function urgency(iso) {
    const left = (Date.parse(iso) - Date.now()) / 60000;
    if (left < 0) return 'promise-late';
    return left <= SOON_MINUTES ? 'promise-soon' : '';
  }

  function jobCard(job, owner, testid) {
    const ro = job.repair_order || {};
    const running = job.state === 'in_progress';
    const card = h(
      'button',
      {
        type: 'button',
        class: ['dispatch-card', `job-${job.state}`, picked?.jobId === job.id && 'is-picked', job.pending && 'is-pending', job.pending === 'refused' && 'is-parked'],
        'data-testid': testid,
        'data-job': job.id,
        'data-state': job.state,
        'aria-pressed': String(picked?.jobId === job.id),
        onclick: (ev) => {
          ev.stopPropagation();
          if (swallowClick) return;
          tapJob(job, owner);
        },
        onpointerdown: (ev) => startDrag(ev, job, owner, card),
      },
      h('span', { class: 'dispatch-card-top' }, h('span', { class: 'plate', lang: 'zh-CN' }, ro.plate || '—'), h('span', { class: 'muted' }, ro.number || '')),
      h('strong', { class: 'dispatch-card-title' }, job.title),
      h(
        'span',
        { class: 'dispatch-card-meta' },
        h('span', { t: 'dispatch.sold', tp: { hours: formatHours(job.estimated_hours) } }),
        ro.promised_at ? h('span', { class: ['dispatch-promise', urgency(ro.promised_at)] }, timeEl(ro.promised_at, 'smart')) : null,
      ),
      running ? h('span', { class: 'chip chip-warn', 'data-testid': 'dispatch-running', t: 'dispatch.running' }) : null,
      job.state === 'paused' || job.state === 'rework' ? h('span', { class: 'chip chip-muted', t: `job.${job.state}` }) : null,
      job.pending === 'pending' ? h('span', { class: 'chip chip-queued', 'data-testid': 'dispatch-not-sent', t: 'dispatch.notSent' }) : null,
      job.pending === 'refused' ? h('span', { class: 'chip chip-refused', 'data-testid': 'dispatch-refused', t: 'dispatch.refused' }) : null,
    );
    return card;
  }

  function column(person, view) {
    const rest = person.shift_rest_minutes;
    const queued = person.queued_minutes;
    const share = rest > 0 ? Math.min(100, Math.round((queued / rest) * 100)) : queued > 0 ? 100 : 0;
    let status;
    if (!person.active) status = h('span', { class: 'chip chip-refused', t: 'dispatch.inactive' });
    else if (person.on_now) status = h('span', { class: 'dispatch-on-now', 'data-testid': 'dispatch-on-now', t: 'dispatch.onNow', tp: { title: person.on_now.title || '', plate: person.on_now.plate || '' } });
    else if (person.day_ended) status = h('span', { class: 'muted', t: 'dispatch.dayEnded' });
    else status = h('span', { class: 'muted', t: person.clocked_in_at ? 'dispatch.idle' : 'dispatch.notIn' });
    const add = h(
      'button',
      {
        type: 'button',
        class: 'btn btn-secondary btn-icon dispatch-add',
        'data-testid': 'dispatch-add',
        'aria-label': t('dispatch.add', { name: person.name }),
        title: t('dispatch.add', { name: person.name }),
        disabled: !person.active,
        onclick: (ev) => {
          ev.stopPropagation();
          if (picked) assignTo(picked.jobId, person);
          else chooseFor(person, view);
        },
      },
      h('span', { class: 'plus', 'aria-hidden': 'true' }, '+'),
    );
    const fill = h('div', { class: 'dispatch-bar-fill' });
    fill.style.width = `${share}%`; // set from JS: the CSP forbids style="" in markup
    const bar = h(
      'div',
      {
        class: ['dispatch-bar', person.over && 'is-over'],
        role: 'meter',
        'aria-valuemin': '0',
        'aria-valuemax': String(Math.max(rest, queued)),
        'aria-valuenow': String(queued),
        'aria-label': t('dispatch.loadLabel'),
        'data-testid': 'dispatch-bar',
        'data-over': String(!!person.over),
      },
      fill,
    );
    const queue = h('div', { class: 'dispatch-queue' });
    if (!person.queue.length) queue.append(h('p', { class: 'muted', t: 'dispatch.queueEmpty' }));
    for (const job of person.queue) queue.append(jobCard(job, person, 'dispatch-queued'));
    return h(
      'section',
      {
        class: ['dispatch-tech', picked && person.active && 'is-target', !person.active && 'is-inactive', person.over && 'is-over'],
        'data-testid': 'dispatch-tech',
        'data-tech': person.id,
        onclick: () => picked && person.active && assignTo(picked.jobId, person),
      },
      h(
        'header',
        { class: 'dispatch-tech-head' },
        h('div', {}, h('h3', { class: 'dispatch-tech-name' }, person.name), person.role === 'foreman' ? h('span', { class: 'chip chip-muted', t: 'dispatch.foreman' }) : null),
        add,
      ),
      status,
      bar,
      h(
        'p',
        { class: ['dispatch-load', person.over && 'is-over'], 'data-testid': 'dispatch-load' },
        h('span', { t: 'dispatch.load', tp: { queued: formatMinutes(queued), rest: formatMinutes(rest) } }),
        person.over ? h('strong', { class: 'dispatch-over', t: 'dispatch.over', tp: { over: formatMinutes(queued - rest) } }) : null,
      ),
      queue,
    );
  }

  // ---------- choosing ----------

  function tapJob(job, owner) {
    if (owner && job.state === 'in_progress') {
      // The server refuses it too (job.assign_clocked): say so before anything is queued.
      toast('dispatch.clocked', { name: owner.name }, 'error');
      return;
    }
    picked = picked?.jobId === job.id ? null : { jobId: job.id };
    paint();
  }

  /** The "+" of a technician with no job picked: the waiting jobs to choose from. */
  function chooseFor(person, view) {
    const close = () => dialog.close();
    const list = view.unassigned.length
      ? view.unassigned.map((job) =>
          h(
            'button',
            {
              type: 'button',
              class: 'dispatch-choice',
              'data-testid': 'dispatch-choice',
              'data-job': job.id,
              onclick: () => {
                close();
                assignTo(job.id, person);
              },
            },
            h('span', { class: 'plate', lang: 'zh-CN' }, job.repair_order?.plate || '—'),
            h('strong', {}, job.title),
            h('span', { class: 'muted', t: 'dispatch.sold', tp: { hours: formatHours(job.estimated_hours) } }),
          ),
        )
      : [h('p', { class: 'muted', t: 'dispatch.noneWaiting' })];
    const dialog = h(
      'dialog',
      { class: 'dialog', 'data-testid': 'dispatch-dialog' },
      h(
        'div',
        { class: 'dialog-form' },
        h('h2', { t: 'dispatch.addTitle', tp: { name: person.name } }),
        h('div', { class: 'dispatch-choices' }, list),
        h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn btn-ghost', t: 'dispatch.cancel', onclick: close })),
      ),
    );
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  async function assignTo(jobId, person) {
    const view = shown();
    const found = view && find(view, jobId);
    picked = null;
    if (!found) return paint();
    const { job, owner } = found;
    if (owner?.id === person.id) {
      toast('dispatch.already', { title: job.title, name: person.name }, 'info');
      return paint();
    }
    if (owner && job.state === 'in_progress') {
      toast('dispatch.clocked', { name: owner.name }, 'error');
      return paint();
    }
    clearError(banner);
    const act = action([
      {
        path: `/api/jobs/${jobId}/assign`,
        body: { technician_id: person.id },
        subject: `job:${jobId}`,
        label: { key: 'outbox.what.assign', params: { title: job.title, name: person.name } },
        meta: { kind: 'assign', jobId, techId: person.id, name: person.name, title: job.title },
      },
    ]);
    paint();
    try {
      await send(act, { waitMs: 4000 });
      toast('dispatch.assigned', { title: job.title, name: person.name }, 'ok');
    } catch (err) {
      if (err.queued) {
        toast('dispatch.savedHere', { title: job.title, name: person.name }, 'info');
        return;
      }
      if (err.status === 401) return;
      showError(banner, err);
    }
    loadSoon();
  }

  // ---------- dragging (mouse and pen; a finger scrolls, and taps) ----------

  function startDrag(ev, job, owner, card) {
    if (ev.pointerType === 'touch' || ev.button !== 0) return;
    drag = { job, owner, card, x0: ev.clientX, y0: ev.clientY, pointerId: ev.pointerId, moving: false, over: null, ghost: null };
    swallowClick = false;
  }

  function columnAt(x, y) {
    const el = document.elementFromPoint(x, y);
    return el?.closest?.('[data-testid="dispatch-tech"]') || null;
  }

  function onMove(ev) {
    if (!drag || ev.pointerId !== drag.pointerId) return;
    if (!drag.moving) {
      if (Math.hypot(ev.clientX - drag.x0, ev.clientY - drag.y0) < DRAG_PX) return;
      drag.moving = true;
      drag.ghost = drag.card.cloneNode(true);
      drag.ghost.classList.add('dispatch-ghost');
      drag.ghost.removeAttribute('data-testid');
      drag.ghost.setAttribute('aria-hidden', 'true');
      document.body.append(drag.ghost);
      drag.card.classList.add('is-dragging');
    }
    ev.preventDefault();
    drag.ghost.style.left = `${ev.clientX + 6}px`;
    drag.ghost.style.top = `${ev.clientY + 6}px`;
    const over = columnAt(ev.clientX, ev.clientY);
    if (over !== drag.over) {
      drag.over?.classList.remove('is-drop');
      drag.over = over;
      over?.classList.add('is-drop');
    }
  }

  function onUp(ev) {
    if (!drag || ev.pointerId !== drag.pointerId) return;
    const was = drag;
    drag = null;
    if (!was.moving) return;
    was.ghost?.remove();
    was.card.classList.remove('is-dragging');
    was.over?.classList.remove('is-drop');
    // The click that ends a drag is not a tap.
    swallowClick = true;
    setTimeout(() => (swallowClick = false), 0);
    const techId = Number(was.over?.dataset.tech);
    const person = shown()?.technicians.find((p) => p.id === techId);
    if (person?.active) assignTo(was.job.id, person);
  }

  function onCancel(ev) {
    if (!drag || ev.pointerId !== drag.pointerId) return;
    drag.ghost?.remove();
    drag.card.classList.remove('is-dragging');
    drag.over?.classList.remove('is-drop');
    drag = null;
  }

  window.addEventListener('pointermove', onMove);
  window.addEventListener('pointerup', onUp);
  window.addEventListener('pointercancel', onCancel);
  const onKey = (ev) => {
    if (ev.key === 'Escape' && picked) {
      picked = null;
      paint();
    }
  };
  window.addEventListener('keydown', onKey);

  // ---------- live ----------

  const offEvent = onLiveEvent((m) => {
    if (missed(m) || RELEVANT.test(m.type || '')) loadSoon();
  });
  const offState = onLiveState((st) => {
    liveBadge.dataset.state = st;
    setText(liveBadge, `live.${st}`);
    if (st === 'live' && stale.shown) load();
  });
  const offOutbox = onOutbox((event) => {
    if (event.type !== 'change' && event.type !== 'done' && event.type !== 'parked') return;
    const meta = event.entry?.meta;
    if (event.type === 'done' && meta?.kind === 'assign') {
      // The server has it: shown where it now is at once, in the paint that drops the mark; the
      // read that follows brings the rest (the event that follows only confirms it).
      if (data) data = moved(data, meta.jobId, meta.techId);
      loadSoon();
    }
    loadOutbox();
  });
  const offLang = onLangChange(paint);
  const refresh = setInterval(() => document.visibilityState === 'visible' && load(), REFRESH_MS);

  if (data) {
    columns.removeAttribute('aria-busy');
    paint();
    stale.showSoon(loadedAt);
  } else paintHint(null);
  loadOutbox();
  load();
  window.addEventListener('online', load);
  return () => {
    clearTimeout(timer);
    clearInterval(refresh);
    stale.hide();
    offEvent();
    offState();
    offOutbox();
    offLang();
    window.removeEventListener('online', load);
    window.removeEventListener('pointermove', onMove);
    window.removeEventListener('pointerup', onUp);
    window.removeEventListener('pointercancel', onCancel);
    window.removeEventListener('keydown', onKey);
    drag?.ghost?.remove();
  };
}
