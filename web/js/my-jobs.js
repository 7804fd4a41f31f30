// The technician's home on the bay tablet: the working day (clock in / out), anything the system
// stopped on its own to confirm, and my jobs soonest promise first, each with ONE huge Start/Stop
// button, a running timer and sold-vs-actual time. Made for gloves and for reading from a metre away.
import { get } from './api.js';
import { h, clear, setText, timeEl, toast, uid } from './dom.js';
import { getLang, getShopTimeZone, onLangChange, t } from './i18n.js';
import { showError, clearError } from './forms.js';
import { onLiveEvent, onLiveState } from './live.js';
import { unsent, onOutbox } from './outbox.js';
import { send } from './action.js';
import { tap, askStopReason, confirmBig, formatMinutes, formatStopwatch, formatHours } from './clock.js';
import { openFindingDialog } from './finding.js';
import { askWaitingPart, partsBlock, partsBook } from './job-parts.js';
import { shopDate, toInputs, zonedToIso } from './time.js';
import { keepScreen, readScreen, staleMark, unreachable } from './screencache.js';
import { STARTABLE, fold, jobStateAfter } from './domain.js';
import { applyMine, applyReply, entryMarks, missed, readLog, replyAsEvent } from './apply.js';

// Taps this screen lays over the server's view until the server has them (withPending).
const OVERLAID = /\/(clock-on|clock-off|clock-in|clock-out|findings)$/;
const COALESCE_MS = 250;
const TAP_WAIT_MS = 3000; // how long a tap waits for the server before it shows as queued (gloves wait badly)
const REFRESH_SECONDS = 120; // safety net only: the stream carries every change
const AMBER_FROM = 0.8; // share of the estimate used: green below, amber up to 100 %, red over

export function render(root, ctx) {
  const me = ctx.state.user?.id;
  let server = null; // the last GET /api/me/jobs, with the events (and answers to my taps) heard since
  let data = null; // what the screen shows: the server's view with my taps still on this tablet
  let pendingMine = []; // my taps the server's view may lack: unsent, or sent since it was asked for (oldest first)
  // My entries the outbox sent whose answer could not go into the view as an event would, each
  // with the number of views asked for by then: a view asked for later includes it.
  let sentMine = [];
  let asked = 0; // views asked for so far
  let skew = 0; // server clock − tablet clock, so timers tick from the server's running_since
  let busy = false;
  let loadFailed = false; // the banner shows a load error (cleared by the next good load)
  // My jobs as this tablet last loaded them (a reload without network still shows them, my taps
  // laid over them as always), marked as not fresh until the server answers.
  const stale = staleMark();
  const kept = readScreen(me, 'mine');
  let loadedAt = kept?.at ?? null;
  if (kept?.data?.server) {
    server = kept.data.server;
    skew = Number(kept.data.skew) || 0;
  }
  const corrections = new Map(); // entry id → {date, time, reason, error}: survives repaints
  // The parts of my jobs (their own read and events: job-parts.js); a failed read leaves the last.
  const parts = partsBook();
  const loadParts = () => parts.load().then(() => data && paintJobs(), () => {});

  const liveBadge = h('span', { class: 'live-state', 'data-testid': 'live-state', role: 'status' });
  const shift = h('section', { class: 'shift-bar', 'data-testid': 'shift-bar' });
  const banner = h('div', { class: 'form-banner', role: 'alert', 'data-testid': 'mine-error', hidden: true });
  const review = h('section', { class: 'review-panel', 'data-testid': 'review-panel', hidden: true });
  const list = h('div', { class: 'job-cards', 'data-testid': 'my-jobs', 'aria-busy': 'true' });

  root.append(
    h(
      'div',
      { class: 'page mine' },
      h('header', { class: 'page-head' }, h('div', { class: 'title-row' }, h('h1', { t: 'mine.title' }), liveBadge)),
      stale.el,
      shift,
      banner,
      review,
      list,
    ),
  );

  const serverNow = () => Date.now() + skew;

  // ---------- load ----------

  let loading = null;
  let again = false;
  async function load() {
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      const from = log.begin();
      let read = false;
      try {
        const sentAt = Date.now();
        const ask = ++asked;
        loadParts();
        const fresh = await get('/api/me/jobs');
        // A tap sent while this answer was on its way may be missing from it: it stays laid over
        // the answer until a view asked for after it was sent arrives, so the card never flips back.
        sentMine = sentMine.filter((e) => e.asked >= ask);
        const stillHere = await unsent(me);
        const receivedAt = Date.now();
        // What was heard meanwhile (events, answers to my taps) goes again over the answer.
        const since = log.end(from);
        read = true;
        const at = Date.parse(fresh?.now);
        const measured = Number.isFinite(at) ? at - (sentAt + receivedAt) / 2 : null;
        if (loadFailed) clearError(banner);
        loadFailed = false;
        // Nothing changed on screen (events about my own tap arrive after its reply; a queued tap
        // that reaches the server moves from the overlay into the server's view and looks the
        // same): keep the screen as it is, so a finger already on a button never meets a freshly
        // rebuilt one — not even while a long queue drains.
        const chipsBefore = JSON.stringify([...queuedJobs]);
        server = since.reduce((view, m) => step(view, m).view, fresh);
        notePending(stillHere);
        const view = withPending(server, pendingMine);
        const sameChips = chipsBefore === JSON.stringify([...queuedJobs]);
        if (measured !== null) skew = measured;
        loadedAt = keepScreen(me, 'mine', { server, skew }, new Date(sentAt).toISOString());
        stale.hide();
        if (data && sameChips && sameView(data, view) && paintedBusy === busy) return;
        data = view;
        list.removeAttribute('aria-busy');
        paint();
      } catch (err) {
        if (!read) log.end(from);
        if (err.status === 401) return;
        if (server && unreachable(err)) {
          stale.show(loadedAt); // the view as last loaded stays, marked with when
        } else {
          showError(banner, err);
          loadFailed = true;
        }
        list.removeAttribute('aria-busy');
        paint();
      }
    })();
    await loading;
    loading = null;
    if (again) {
      again = false;
      return load();
    }
  }

  // The server keeps both labels of a failed QC item: show it in this screen's language, whatever
  // the checker's tablet showed; an item no checklist knows reads as the checker wrote it.
  const qcName = (item) => (getLang() === 'zh-CN' ? item.name_zh : item.name_en) || item.name;

  // ---------- taps ----------

  /** Send a tap; errors go to the banner in words. Resolves true when the server took it. */
  async function run(action) {
    if (busy) return false;
    busy = true;
    loadFailed = false;
    clearError(banner);
    banner.classList.remove('form-banner-info');
    paint();
    let ok = false;
    try {
      await send(action, { waitMs: TAP_WAIT_MS });
      ok = true;
    } catch (err) {
      if (err.queued) {
        // Safe on this tablet (outbox); it goes to the server by itself when the network is back.
        busy = false; // the next tap may come at once: paint the buttons enabled
        banner.hidden = false;
        banner.classList.add('form-banner-info');
        setText(banner, 'outbox.savedHere');
        await paintQueued();
        return true;
      }
      if (err.status === 401) return false;
      showError(banner, err);
      if (err.status === 0 || err.status >= 500) {
        // Nothing is known to have happened: offer the very same request again (same keys and body).
        banner.append(' ', h('button', { type: 'button', class: 'btn btn-secondary', t: 'common.retry', 'data-testid': 'mine-retry', onclick: () => run(action) }));
      }
    } finally {
      busy = false;
    }
    // The server's answer is already in the view (the outbox's `done`, below): show it. A refusal
    // means this tablet's view was behind: read it again.
    await paintQueued();
    if (!ok) await load();
    return ok;
  }

  const runningJob = () => data?.jobs?.find((j) => j.running_since) || null;

  async function startJob(job) {
    const open = data?.open_entry;
    const steps = [];
    if (open && open.job_id !== job.id) {
      const runningTitle = open.job_title || data.jobs.find((j) => j.id === open.job_id)?.title || '';
      const reason = await askStopReason({ jobTitle: runningTitle, switchingTo: job.title });
      if (!reason) return;
      // Stop the running one with its reason; 409 means it already stopped (another tablet):
      // the start below (switch: true) is what matters.
      steps.push({ path: `/api/jobs/${open.job_id}/clock-off`, body: { reason }, tolerate: [409], subject: `job:${open.job_id}`, meta: { jobId: open.job_id, kind: 'stop' } });
    }
    // The start is about both jobs: if the stop is refused, the start waits behind it.
    const subject = open && open.job_id !== job.id ? [`job:${job.id}`, `job:${open.job_id}`] : `job:${job.id}`;
    steps.push({ path: `/api/jobs/${job.id}/clock-on`, body: { switch: true }, subject, meta: { jobId: job.id, kind: 'start' } });
    await run(tap(steps));
  }

  async function stopJob(job) {
    const reason = await askStopReason({ jobTitle: job.title });
    if (!reason) return;
    const body = { reason };
    if (reason === 'waiting_parts') {
      // Which line it waits for (none when the part is not on the order yet): the card and the
      // office see it, and its arrival is the news the technician waits for.
      const partId = await askWaitingPart(parts.of(job.id));
      if (partId === undefined) return;
      if (partId != null) body.part_id = partId;
      parts.wait(job.id, partId);
    }
    const ok = await run(tap([{ path: `/api/jobs/${job.id}/clock-off`, body, subject: `job:${job.id}`, meta: { jobId: job.id, kind: 'stop' } }]));
    if (ok && reason === 'finished') toast('mine.toQc', { title: job.title }, 'ok');
  }

  async function clockIn() {
    await run(tap([{ path: '/api/attendance/clock-in', subject: 'attendance' }]));
  }

  async function clockOut() {
    const running = runningJob();
    const ok = await confirmBig({
      titleKey: 'mine.endDayTitle',
      bodyKey: running ? 'mine.endDayRunning' : 'mine.endDayBody',
      bodyParams: running ? { title: running.title } : undefined,
      okKey: 'mine.endDay',
      testid: 'end-day',
    });
    if (ok) await run(tap([{ path: '/api/attendance/clock-out', subject: 'attendance' }]));
  }

  async function confirmEntry(entry) {
    await run(tap([{ path: `/api/clock-entries/${entry.id}/confirm`, clock: false, subject: `entry:${entry.id}` }]));
  }

  async function correctEntry(entry) {
    const c = corrections.get(entry.id);
    const reason = c.reason.trim();
    const endedAt = c.date && c.time ? zonedToIso(c.date, c.time, getShopTimeZone()) : null;
    c.error = !endedAt ? 'mine.correctNeedTime' : !reason ? 'mine.correctNeedReason' : null;
    if (!c.error && Date.parse(endedAt) <= Date.parse(entry.started_at)) c.error = 'mine.correctBeforeStart';
    if (!c.error && Date.parse(endedAt) > serverNow() + 60000) c.error = 'mine.correctFuture';
    if (c.error) return paint();
    corrections.delete(entry.id);
    await run(tap([{ path: `/api/clock-entries/${entry.id}/correct`, body: { ended_at: endedAt, reason }, clock: false, subject: `entry:${entry.id}` }]));
  }

  // ---------- paint ----------

  let paintedBusy = null;
  function paint() {
    paintedBusy = busy;
    paintShift();
    paintReview();
    paintJobs();
    tick();
  }

  function paintShift() {
    clear(shift);
    if (!data) return;
    const att = data.attendance;
    const onShift = !!(att && att.clock_in_at && !att.clock_out_at);
    shift.dataset.onShift = String(onShift);
    const info = h('div', { class: 'shift-info' });
    if (onShift) {
      info.append(
        h('span', { class: 'shift-label', t: 'mine.onShiftSince' }),
        timeEl(att.clock_in_at, 'time', { class: 'shift-since' }),
        h('span', { class: 'shift-length', 'data-testid': 'shift-length', 'data-tick': 'shift', 'data-since': att.clock_in_at }),
        att.opened_by === 'job_start' ? h('span', { class: 'muted', 'data-testid': 'day-opened-by-job', t: 'mine.dayOpenedByJob' }) : null,
      );
    } else if (att?.clock_out_at) {
      info.append(h('span', { class: 'shift-label', t: 'mine.dayEndedAt' }), timeEl(att.clock_out_at, 'time', { class: 'shift-since' }));
    } else {
      info.append(h('span', { class: 'shift-label', t: 'mine.notOnShift' }));
    }
    shift.append(
      info,
      onShift
        ? h('button', { type: 'button', class: 'btn btn-ghost btn-xl', t: 'mine.endDay', 'data-testid': 'clock-out', disabled: busy, onclick: clockOut })
        : h('button', { type: 'button', class: 'btn btn-accent btn-xl', t: 'mine.startDay', 'data-testid': 'clock-in', disabled: busy, onclick: clockIn }),
    );
  }

  function paintReview() {
    const entries = data?.review || [];
    review.hidden = !entries.length;
    clear(review);
    if (!entries.length) return;
    review.append(h('h2', { t: 'mine.pleaseCheck' }), h('p', { class: 'lead', t: 'mine.pleaseCheckLead' }));
    for (const entry of entries) review.append(reviewEntry(entry));
  }

  function reviewEntry(entry) {
    const c = corrections.get(entry.id);
    const row = h(
      'article',
      { class: 'review-entry', 'data-testid': 'review-entry', 'data-entry': entry.id },
      h('div', { class: 'review-what' }, h('strong', { class: 'review-title' }, entry.job_title || ''),
        h('span', { class: 'review-times' }, timeEl(entry.started_at, 'smart'), ' – ', entry.ended_at ? timeEl(entry.ended_at, 'time') : '…'),
        h('span', { class: 'chip chip-warn', t: entry.auto_stopped ? 'mine.autoStopped' : 'mine.flagged' })),
    );
    if (!c) {
      row.append(
        h(
          'div',
          { class: 'review-actions' },
          h('button', { type: 'button', class: 'btn btn-primary btn-xl', t: 'mine.confirm', 'data-testid': 'review-confirm', disabled: busy, onclick: () => confirmEntry(entry) }),
          h('button', {
            type: 'button',
            class: 'btn btn-secondary btn-xl',
            t: 'mine.correct',
            'data-testid': 'review-correct',
            disabled: busy,
            onclick: () => {
              const at = toInputs(new Date(entry.ended_at || serverNow()), getShopTimeZone());
              corrections.set(entry.id, { date: at.date, time: at.time, reason: '', error: null });
              paint();
              review.querySelector(`[data-entry="${entry.id}"] [data-testid="correct-time"]`)?.focus();
            },
          }),
        ),
      );
      return row;
    }
    const date = h('input', { type: 'date', class: 'input input-big', value: c.date, 'data-testid': 'correct-date', oninput: (e) => (c.date = e.target.value) });
    const time = h('input', { type: 'time', class: 'input input-big', value: c.time, step: 60, 'data-testid': 'correct-time', oninput: (e) => (c.time = e.target.value) });
    const reason = h('textarea', { class: 'input', rows: 2, maxlength: 300, 'data-testid': 'correct-reason', oninput: (e) => (c.reason = e.target.value), tattrs: { placeholder: 'mine.correctReasonHint' } });
    reason.value = c.reason;
    row.append(
      h(
        'div',
        { class: 'correct-form' },
        h('label', { class: 'field-label' }, h('span', { t: 'mine.correctEnd' }), h('span', { class: 'optional', t: 'mine.shopTime' })),
        h('div', { class: 'grid-2' }, date, time),
        h('label', { class: 'field-label' }, h('span', { t: 'mine.correctReason' }), h('span', { class: 'required-mark', t: 'form.required' })),
        reason,
        c.error ? h('p', { class: 'field-error', 'data-testid': 'field-error', t: c.error }) : null,
        h(
          'div',
          { class: 'review-actions' },
          h('button', { type: 'button', class: 'btn btn-ghost btn-xl', t: 'common.cancel', onclick: () => { corrections.delete(entry.id); paint(); } }),
          h('button', { type: 'button', class: 'btn btn-primary btn-xl', t: 'mine.saveCorrection', 'data-testid': 'correct-save', disabled: busy, onclick: () => correctEntry(entry) }),
        ),
      ),
    );
    return row;
  }

  // A card is rebuilt only when what it shows changed: a gloved finger already on a button of
  // another card (or of this one, while a queue drains) keeps the very button it is pressing.
  const painted = new Map(); // job id → {key, node}
  let paintedTimes = ''; // the day and each card's urgency when painted (tick repaints when they move)
  function paintJobs() {
    paintedTimes = timesKey();
    if (!data) return clear(list);
    const jobs = [...(data.jobs || [])].sort((a, b) => promised(a) - promised(b));
    if (!jobs.length) {
      painted.clear();
      clear(list);
      list.append(h('div', { class: 'empty-state' }, h('h2', { t: 'mine.emptyTitle' }), h('p', { t: 'mine.emptyBody' })));
      return;
    }
    const nodes = jobs.map((job) => {
      // tick() draws a running clock's minutes from data-clocked / data-since, updated in place below.
      const key = JSON.stringify([steady(job), queuedJobs.get(job.id) ?? null, busy, getLang(), urgency(job), shopToday(), parts.key(job.id)]);
      const was = painted.get(job.id);
      if (was?.key === key) {
        was.node.dataset.clocked = String(Number(job.clocked_minutes) || 0);
        was.node.dataset.since = job.running_since && data.now ? data.now : '';
        return was.node;
      }
      const node = card(job);
      painted.set(job.id, { key, node });
      return node;
    });
    const shown = new Set(jobs.map((j) => j.id));
    for (const id of [...painted.keys()]) if (!shown.has(id)) painted.delete(id);
    nodes.forEach((node, i) => {
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] ?? null);
    });
    while (list.children.length > nodes.length) list.lastElementChild.remove();
  }

  // "Overdue" and "Today / Tomorrow" move with the clock, not with the data.
  const shopToday = () => shopDate(getShopTimeZone(), 0, new Date(serverNow()));
  const timesKey = () => JSON.stringify([shopToday(), (data?.jobs || []).map(urgency)]);

  function urgency(job) {
    const when = promised(job);
    const now = serverNow();
    return when < now ? 'late' : when - now <= 3600000 ? 'soon' : 'ok';
  }

  // Taps still on this tablet (outbox), by job: their cards say so until the server has them.
  let queuedJobs = new Map();
  function notePending(mineUnsent) {
    // Everything still here (held, waiting or refused: a refused finding says so on its card), and
    // what was sent since the shown view was asked for. Laying a tap the view already holds over it
    // again changes nothing: each sets where its job ends up.
    // By seq: an outbox read begun just before a send completed can still hold what `done` reported.
    const bySeq = new Map();
    for (const e of [...sentMine.map((x) => x.entry), ...mineUnsent]) bySeq.set(e.seq, e);
    pendingMine = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    // A refused tap says so (the list says why), it is not "not sent yet".
    queuedJobs = new Map(mineUnsent.filter((e) => e.meta?.jobId != null && (e.meta.kind === 'start' || e.meta.kind === 'stop')).map((e) => [e.meta.jobId, e.state === 'parked' ? 'refused' : e.meta.kind]));
  }
  async function paintQueued() {
    notePending(await unsent(me));
    data = withPending(server, pendingMine);
    paint();
  }

  function card(job) {
    const ro = job.repair_order || {};
    const v = ro.vehicle || {};
    const running = !!job.running_since;
    const sentBack = job.state === 'rework' && job.last_qc && !job.last_qc.passed;
    const due = urgency(job);

    let action;
    if (running) {
      action = h('button', { type: 'button', class: 'btn clock-btn clock-stop', 'data-testid': 'stop-job', disabled: busy, onclick: () => stopJob(job) },
        h('span', { class: 'clock-icon', 'aria-hidden': 'true' }, '■'), h('span', { t: 'mine.stop' }));
    } else if (STARTABLE.has(job.state)) {
      action = h('button', { type: 'button', class: 'btn clock-btn clock-start', 'data-testid': 'start-job', disabled: busy, onclick: () => startJob(job) },
        h('span', { class: 'clock-icon', 'aria-hidden': 'true' }, '▶'), h('span', { t: job.state === 'rework' ? 'mine.startRework' : 'mine.start' }));
    } else {
      action = h('div', { class: 'clock-waiting', 'data-testid': 'waiting-qc', t: job.state === 'finished' ? 'mine.waitingQc' : `job.${job.state}` });
    }

    const estimateMin = Number(job.estimated_hours) * 60;
    const fill = h('span', { class: 'sold-fill' });
    // The meter is named by its own text ("25 min of 1 h (42 %)"), which tick() keeps current.
    const soldId = uid('sold');
    const bar = h('div', { class: 'sold-bar', role: 'meter', 'aria-valuemin': 0, 'aria-labelledby': soldId, 'data-testid': 'sold-bar' }, fill);
    const soldText = h('span', { class: 'sold-text', id: soldId, 'data-testid': 'sold-text' });

    return h(
      'article',
      {
        class: ['job-card', `state-${job.state}`, running ? 'is-running' : '', sentBack ? 'is-sent-back' : ''],
        'data-testid': 'job-card',
        'data-job': job.id,
        'data-state': job.state,
        'data-running': String(running),
        // read by tick(): the bar moves with the running clock. clocked_minutes already counts a
        // running clock up to the server's `now`; only the time since then is added here.
        'data-estimate': estimateMin,
        'data-clocked': Number(job.clocked_minutes) || 0,
        'data-since': running && data.now ? data.now : '',
      },
      h(
        'div',
        { class: 'job-main' },
        h('div', { class: 'job-vehicle' },
          h('span', { class: 'plate', lang: 'zh-CN' }, v.plate || '—'),
          h('span', { class: 'job-car' }, [v.make, v.model, v.color].filter(Boolean).join(' · ')),
          h('span', { class: 'ro-number' }, ro.number || '')),
        h('div', { class: ['ro-promise', `promise-${due}`] },
          h('span', { class: 'promise-label', t: due === 'late' ? 'today.overdue' : 'today.promised' }),
          ro.promised_at ? timeEl(ro.promised_at, 'smart') : h('span', {}, '—'),
          h('span', { class: ['chip', 'job-state', `job-${job.state}`], 'data-testid': 'job-state', t: `job.${job.state}` }),
          queuedJobs.has(job.id)
            ? h('span', { class: ['chip', queuedJobs.get(job.id) === 'refused' ? 'chip-warn' : 'chip-queued'], 'data-testid': 'queued-tap', t: `outbox.queued.${queuedJobs.get(job.id)}` })
            : null,
          job.rework_count > 1 ? h('span', { class: 'chip chip-warn', t: 'mine.reworkCount', tp: { count: job.rework_count } }) : null),
        sentBack ? reworkBanner(job.last_qc) : null,
        h('h2', { class: 'job-name' }, job.title),
        ro.concerns?.length
          ? h('ul', { class: 'concerns', 'data-testid': 'concerns' }, ro.concerns.map((c) => h('li', {}, c)))
          : null,
        h('div', { class: 'sold' }, bar, soldText),
        job.findings?.length
          ? h('ul', { class: 'findings', 'data-testid': 'findings' },
              job.findings.map((f) =>
                h('li', { 'data-testid': 'finding', 'data-pending': String(!!f.pending) },
                  h('span', { class: 'finding-mark', 'aria-hidden': 'true' }, '!'), f.text,
                  f.pending ? h('span', { class: ['chip', f.refused ? 'chip-warn' : 'chip-queued'], t: f.refused ? 'outbox.refusedShort' : 'outbox.notSent' }) : null)))
          : null,
        partsBlock(parts.of(job.id), job.state === 'paused' ? parts.awaitedOf(job.id) : null),
      ),
      h(
        'div',
        { class: 'job-side' },
        running ? h('div', { class: 'stopwatch', 'data-testid': 'stopwatch', 'data-tick': 'run', 'data-since': job.running_since, 'aria-live': 'off' }) : null,
        action,
        h('button', {
          type: 'button',
          class: 'btn btn-secondary btn-xl finding-btn',
          t: 'mine.finding',
          'data-testid': 'finding-button',
          onclick: () => openFindingDialog(job, { onSaved: () => paintQueued() }),
        }),
      ),
    );
  }

  function reworkBanner(qc) {
    return h(
      'div',
      { class: 'rework-banner', 'data-testid': 'rework-banner', role: 'note' },
      h('strong', { class: 'rework-title', t: 'mine.sentBack' }),
      qc.signed_at ? h('span', { class: 'muted' }, timeEl(qc.signed_at, 'smart')) : null,
      h('ul', { class: 'rework-items' },
        (qc.failed || []).map((item) =>
          h('li', { 'data-testid': 'rework-item' },
            h('strong', {}, qcName(item)),
            item.note ? h('span', {}, ` — ${item.note}`) : null,
            item.photos?.length
              ? h('div', { class: 'rework-photos' }, item.photos.map((p) =>
                  h('button', { type: 'button', class: 'rework-photo', 'data-testid': 'rework-photo', 'aria-label': t('mine.qcPhoto', { item: qcName(item) }), onclick: () => openQcPhoto(p, qcName(item)) },
                    h('img', { src: p.thumb_url, alt: '', loading: 'lazy' }))))
              : null))),
    );
  }

  /** The checker's photo large, over the screen: the close button, or a tap on the photo, closes it. */
  function openQcPhoto(photo, label) {
    const close = h('button', { type: 'button', class: 'btn btn-secondary btn-lg', 'data-testid': 'photo-large-close', t: 'common.close' });
    const dialog = h('dialog', { class: 'dialog photo-large', 'data-testid': 'photo-large', 'aria-label': label },
      h('img', { src: photo.url, alt: label }),
      h('div', { class: 'dialog-actions' }, close));
    close.addEventListener('click', () => dialog.close());
    dialog.querySelector('img').addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
    close.focus();
  }

  // Once a second: running timers, the shift length and the sold-vs-actual bars (no repaint).
  function tick() {
    if (data?.jobs?.length && timesKey() !== paintedTimes) paintJobs();
    const now = serverNow();
    root.querySelectorAll('[data-tick="run"]').forEach((el) => {
      el.textContent = formatStopwatch(now - Date.parse(el.dataset.since));
    });
    root.querySelectorAll('[data-tick="shift"]').forEach((el) => {
      el.textContent = `· ${formatMinutes((now - Date.parse(el.dataset.since)) / 60000)}`;
    });
    root.querySelectorAll('.job-card').forEach((cardEl) => {
      const estimate = Number(cardEl.dataset.estimate);
      const since = cardEl.dataset.since ? Date.parse(cardEl.dataset.since) : null;
      const clocked = Number(cardEl.dataset.clocked) + (since ? Math.max(0, (now - since) / 60000) : 0);
      const share = estimate > 0 ? clocked / estimate : 0;
      const level = share < AMBER_FROM ? 'ok' : share <= 1 ? 'warn' : 'over';
      const bar = cardEl.querySelector('.sold-bar');
      bar.dataset.level = level;
      bar.setAttribute('aria-valuenow', String(Math.round(share * 100)));
      cardEl.querySelector('.sold-fill').style.width = `${Math.min(100, share * 100)}%`;
      setText(cardEl.querySelector('.sold-text'), 'mine.soldVsActual', {
        clocked: formatMinutes(clocked),
        estimate: estimate > 0 ? formatHours(estimate / 60) : '—',
        pct: Math.round(share * 100),
      });
    });
  }

  // ---------- live ----------

  // Each event changes the view by itself (apply.js): a tap on another tablet, the foreman's check,
  // a moved promise. The server is asked again only when an event names something of mine it does
  // not carry (a job newly given to me, a check that sent one back), and after a resync or a gap.
  const step = (view, m) => (m.reply ? applyReply(view, m, me) : applyMine(view, m, me));
  const log = readLog(); // what was heard while a read is on its way (applied again to its answer)

  let reloadTimer = null;
  function loadSoon() {
    if (!reloadTimer) reloadTimer = setTimeout(() => { reloadTimer = null; load(); }, COALESCE_MS);
  }
  let paintTimer = null;
  function receive(m) {
    log.hear(m);
    if (!server) {
      if (!log.busy) loadSoon(); // else the read on its way takes it in
      return;
    }
    const result = step(server, m);
    if (result.reload) loadSoon();
    if (result.view === server) return;
    server = result.view;
    // Bursts (a switch is two entries, two jobs and a stage) paint once.
    if (!paintTimer) {
      paintTimer = setTimeout(() => {
        paintTimer = null;
        const view = withPending(server, pendingMine);
        if (data && sameView(data, view) && paintedBusy === busy) return;
        data = view;
        list.removeAttribute('aria-busy');
        paint();
      }, 30);
    }
  }

  // Entries heard in events: the answer to my own tap whose event came first is not news (and
  // laid over what came after it, it would be old news).
  const heardMarks = new Set();
  const heard = (m) => entryMarks(m).some((mark) => heardMarks.has(mark));

  const offEvent = onLiveEvent((m) => {
    if (missed(m)) return load();
    if (m.type?.startsWith('part.')) {
      const arrived = parts.hear(m);
      if (arrived && (data?.jobs || []).some((j) => j.id === arrived.job_id)) {
        toast('mine.partArrived', { name: arrived.name }, 'ok');
        navigator.vibrate?.(120);
      }
      if (data) paintJobs();
      return;
    }
    const sentBack = m.type === 'qc.recorded' && m.data && !m.data.passed ? (data?.jobs || []).find((j) => j.id === m.data.job_id) : null;
    if (sentBack) {
      toast('mine.sentBackToast', { title: sentBack.title || '' }, 'error');
      navigator.vibrate?.([120, 80, 120]);
    }
    if (heardMarks.size > 2000) heardMarks.clear();
    for (const mark of entryMarks(m)) heardMarks.add(mark);
    receive(m);
  });
  const offState = onLiveState((st) => {
    liveBadge.dataset.state = st;
    setText(liveBadge, `live.${st}`);
    // The stream is back (a dead spot does not always fire `online`): refresh a view that is not fresh.
    if (st === 'live' && stale.shown) load();
  });
  const offLang = onLangChange(() => paint());

  const offOutbox = onOutbox((event) => {
    if (event.type !== 'done' && event.type !== 'parked') return;
    if (event.entry?.staffId !== me) return;
    if (event.type === 'done' && banner.dataset.i18n === 'outbox.savedHere') {
      clearError(banner);
      banner.classList.remove('form-banner-info');
    }
    if (event.type === 'parked') {
      // Refused: the server's view stands; read it, the tap no longer laid over it.
      paintQueued();
      loadSoon();
      return;
    }
    // Sent: the server's answer goes into the view at once, as its event will (unless the event
    // came first), so the tap leaves the overlay with no moment in between and nothing is read.
    const reply = replyAsEvent(event.entry.url, event.body);
    if (reply) {
      if (!heard(reply)) receive({ ...reply, reply: true });
    } else if (OVERLAID.test(event.entry.url || '')) {
      // An answer not in the shape of an event: it stays laid over until a read that includes it.
      sentMine = [...sentMine.slice(-199), { entry: event.entry, asked }];
      loadSoon();
    }
  });
  if (kept) {
    list.removeAttribute('aria-busy');
    stale.showSoon(loadedAt);
  }
  load();
  paintQueued();
  const ticker = setInterval(tick, 1000);
  const refresh = setInterval(load, REFRESH_SECONDS * 1000);
  const onVisible = () => document.visibilityState === 'visible' && load();
  document.addEventListener('visibilitychange', onVisible);
  // Shown from what the tablet kept: refresh as soon as the network is back.
  const onOnline = () => load();
  window.addEventListener('online', onOnline);
  return () => {
    clearInterval(ticker);
    clearInterval(refresh);
    clearTimeout(reloadTimer);
    clearTimeout(paintTimer);
    stale.hide();
    offEvent();
    offOutbox();
    offState();
    offLang();
    document.removeEventListener('visibilitychange', onVisible);
    window.removeEventListener('online', onOnline);
  };
}

/**
 * The server's view with my taps still on this tablet laid over it, so the screen shows what I
 * did (a started job runs, a stopped one stops) before the network is back. The clock taps are
 * folded by the server's own rules (domain.js fold) together with the clock the server has
 * running, so the overlay is what the server will make of them, whatever order they reach it in:
 * a start stops whatever runs; the stop reason decides between paused and finished; ending the
 * day stops the running job; a stop for a job already switched away changes nothing. The working
 * day and findings are laid over in the order I made them.
 */
function withPending(server, pending) {
  if (!server || !pending.length) return server;
  const view = structuredClone(server);
  const jobs = new Map((view.jobs || []).map((j) => [j.id, j]));
  const open = view.open_entry;
  // The server's running clock as a start tap. Key '' sorts it first among starts at its instant:
  // when the view already holds my start, the server's own time stays (no repaint for nothing).
  const taps = open ? [{ key: '', kind: 'on', at: open.started_at, job: open.job_id }] : [];
  for (const e of pending) {
    const what = e.url.split('/').pop();
    if (e.state === 'parked' && what !== 'findings') continue; // refused: the server's view stands
    const at = e.json?.device_time || e.deviceTime;
    const job = jobs.get(e.meta?.jobId);
    if (what === 'clock-on' && job) {
      taps.push({ key: e.key, kind: 'on', at, job: job.id });
      // A job start opens the working day when it is not open (the server does the same: api/workday.py).
      if (!view.attendance || view.attendance.clock_out_at) view.attendance = { clock_in_at: at, clock_out_at: null, opened_by: 'job_start' };
    } else if (what === 'clock-off' && job) {
      taps.push({ key: e.key, kind: 'off', at, job: job.id, reason: e.json?.reason });
    } else if (what === 'clock-in') {
      if (!view.attendance || view.attendance.clock_out_at) view.attendance = { clock_in_at: at, clock_out_at: null };
    } else if (what === 'clock-out') {
      taps.push({ key: e.key, kind: 'stop_all', at });
      if (view.attendance && !view.attendance.clock_out_at) view.attendance = { ...view.attendance, clock_out_at: at };
    } else if (what === 'findings' && job) {
      job.findings = [...(job.findings || []), { text: e.meta.text, pending: true, refused: e.state === 'parked' }];
    }
  }
  const book = fold(taps);
  for (const job of view.jobs || []) {
    const intervals = book.intervals.filter((i) => i.job === job.id);
    if (!intervals.length) continue;
    job.state = jobStateAfter(job.state, intervals);
    job.running_since = book.open?.job === job.id ? book.open.start : null;
  }
  if (!book.open) view.open_entry = null;
  else if (book.open.key !== '') {
    view.open_entry = { job_id: book.open.job, job_title: jobs.get(book.open.job)?.title, started_at: book.open.start };
  }
  return view;
}

// A job as the card shows it: a running clock's minutes move with every read of the server's clock.
const steady = (job) => (job.running_since ? { ...job, clocked_minutes: null } : job);

// The same screen apart from the server's clock (`now`, and the minutes of a running clock) and
// what apply.js keeps to count minutes (`counted`).
function sameView(a, b) {
  const strip = (d) => JSON.stringify({ ...d, now: null, counted: null, jobs: (d.jobs || []).map(steady) });
  return strip(a) === strip(b);
}

function promised(job) {
  const when = Date.parse(job.repair_order?.promised_at);
  return Number.isFinite(when) ? when : Infinity;
}
