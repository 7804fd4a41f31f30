// What a live event changes on each screen, from the event alone. Every event of the catalogue
// (api/events.py) says what changed in the shape the screens show it: the job with its state and
// technician, the clock entries a tap changed, the order's stage, the new promise. So a screen
// updates what it shows without asking the server again, and asks again only when it cannot know
// (tests/test_apply_js.py runs this file in Node with the catalogue's own examples):
//   - the event names something shown but lacks what the screen needs (a job newly given to me:
//     its car is not in the event), or a type this version does not know;
//   - a resync or a gap in seq (live.js): something was missed.
// Pure functions (view, message) → {view, reload, fetch}: `view` is the same object when nothing
// changed; `reload` asks for the screen's whole read again; `fetch` (the board) lists repair orders
// to read again one by one. Applying an event twice, or an older one after a newer read, never
// leaves anything but what the later events say (each sets a value; lists are kept by id).
// No DOM, no network.
import { MINE, jobStateAfter } from './domain.js';

const MINUTE = 60000;
// An event older than a read by this much was committed before the read began: the read holds it.
// (A command's time is taken before it commits; a read's `now` after it has read.)
const SETTLED_MS = 10000;

/** The server writes some times as Python's str(datetime) ("2026-11-23 11:30:00+00:00"): ISO. */
export function isoTime(value) {
  return typeof value === 'string' ? value.replace(/^(\d{4}-\d{2}-\d{2}) (\d)/, '$1T$2') : value;
}
const instant = (value) => Date.parse(isoTime(value));

const done = (view) => ({ view, reload: false, fetch: [] }); // the same object when nothing changed
const again = (view) => ({ view, reload: true, fetch: [] });
const ids = (list) => (Array.isArray(list) ? list : []);

/** Put `item` in `list` by id (kept in id order, as the server lists them). */
function upsertById(list, item) {
  const out = [...(list || [])];
  const i = out.findIndex((x) => x.id === item.id);
  if (i >= 0) out[i] = item;
  else {
    out.push(item);
    out.sort((a, b) => a.id - b.id);
  }
  return out;
}

// ---------- the board: open repair orders (GET /api/repair-orders items) ----------

function boardRo(items, roId, change) {
  const i = items.findIndex((ro) => ro.id === roId);
  if (i < 0) return done(items);
  const next = change(items[i]);
  if (next === items[i]) return done(items);
  const out = [...items];
  if (next === null) out.splice(i, 1);
  else out[i] = next;
  return done(out);
}

const AWAITED_PARTS = new Set(['needed', 'ordered']); // not here yet (api/readmodels.py _attention)

/** The card's flags that follow from its jobs (parts waited for), as the server works them out. */
function withAttention(ro) {
  const jobs = ro.jobs || [];
  const expected = jobs
    .flatMap((j) => j.parts || [])
    .filter((p) => AWAITED_PARTS.has(p.state) && p.expected_at)
    .map((p) => p.expected_at)
    .sort((a, b) => instant(a) - instant(b));
  const paused = jobs.some((j) => j.state === 'paused' && j.pause_reason === 'waiting_parts');
  const was = ro.attention || {};
  const waiting = paused || expected.length > 0;
  const first = expected[0] ?? null;
  if (was.waiting_parts === waiting && (was.parts_expected_at ?? null) === first) return ro;
  return { ...ro, attention: { ...was, waiting_parts: waiting, parts_expected_at: first } };
}

/**
 * A job as an event shows it, over the card's: what only the order's read has (clocked time, parts,
 * QC records, the finding it was priced from) stays. `reason`: why a stopped job paused, from the
 * tap's entry (a tap's job does not carry it); a paused job's known reason stays otherwise.
 */
function mergeJob(was, job, reason = null) {
  const next = { ...(was || {}), ...job };
  if (job.state === 'paused') next.pause_reason = reason || job.pause_reason || (was?.state === 'paused' ? was.pause_reason : null) || null;
  else if ('pause_reason' in next || was) next.pause_reason = null;
  return next;
}

function boardJobs(items, roId, jobs, entries = []) {
  return boardRo(items, roId, (ro) => {
    let list = ro.jobs || [];
    for (const job of jobs) {
      if (!job || job.id == null) continue;
      const stop = entries.find((e) => e && e.job_id === job.id && e.ended_at && e.reason);
      list = upsertById(list, mergeJob(list.find((j) => j.id === job.id), job, stop?.reason));
    }
    return JSON.stringify(list) === JSON.stringify(ro.jobs || []) ? ro : withAttention({ ...ro, jobs: list });
  });
}

/** The card's attention flags after `change` (a function of the flags); the same card when equal. */
function boardFlags(items, roId, change) {
  return boardRo(items, roId, (ro) => {
    const was = { ...NO_FLAGS, ...ro.attention };
    const patch = change(was);
    const same = Object.entries(patch).every(([k, v]) => JSON.stringify(was[k]) === JSON.stringify(v));
    return same ? ro : { ...ro, attention: { ...was, ...patch } };
  });
}
const NO_FLAGS = Object.freeze({ findings_to_price: [], waiting_parts: false, parts_expected_at: null, discount_pending: false });

// What the board's card shows of an order that an edit (ro.updated) may change.
const EDITED = ['customer', 'vehicle', 'mileage', 'fuel_level', 'concerns'];

const BOARD = {
  'ro.created': (items, d, m) => {
    if (d.order && typeof d.order === 'object') return done(upsertById(items, d.order));
    // The event has the number and plate; the card shows the customer, car, promise and link too.
    return items.some((ro) => ro.id === m.ro) ? done(items) : { view: items, reload: false, fetch: [m.ro] };
  },
  'stage.changed': (items, d, m) =>
    boardRo(items, m.ro, (ro) => (d.to === 'delivered' ? null : ro.stage === d.to ? ro : { ...ro, stage: d.to })),
  'promise.changed': (items, d, m) =>
    boardRo(items, m.ro, (ro) => {
      const change = { promised_at: isoTime(d.promised_at), previous_at: isoTime(d.previous_at), reason: d.reason, at: m.at };
      const history = ro.promise_history || [];
      const known = history.some((p) => instant(p.promised_at) === instant(change.promised_at) && instant(p.previous_at) === instant(change.previous_at) && p.reason === change.reason);
      if (known && instant(ro.promised_at) === instant(change.promised_at)) return ro;
      return { ...ro, promised_at: change.promised_at, promise_history: known ? history : [...history, change] };
    }),
  'ro.updated': (items, d, m) =>
    boardRo(items, m.ro, (ro) => {
      const next = { ...ro };
      for (const key of EDITED) if (key in d) next[key] = d[key];
      return EDITED.every((key) => JSON.stringify(next[key]) === JSON.stringify(ro[key])) ? ro : next;
    }),
  // The card is gone with the car (stage.changed to delivered says so too).
  'ro.handed_over': (items, d, m) => boardRo(items, m.ro, () => null),
  'job.added': (items, d, m) => boardJobs(items, m.ro, [d.job]),
  'job.updated': (items, d, m) => boardJobs(items, m.ro, [d.job]),
  'job.assigned': (items, d, m) => boardJobs(items, m.ro, [d.job]),
  'qc.recorded': (items, d, m) => boardJobs(items, m.ro, [d.job]),
  'clock.on': (items, d, m) => boardJobs(items, m.ro, ids(d.jobs), ids(d.entries)),
  'clock.off': (items, d, m) => boardJobs(items, m.ro, ids(d.jobs), ids(d.entries)),
  'settlement.updated': (items, d, m) => boardFlags(items, m.ro, () => ({ discount_pending: d.discount_state === 'pending' })),
  'discount.approved': (items, d, m) => boardFlags(items, m.ro, () => ({ discount_pending: false })),
  // The recommended job it became comes with job.added.
  'finding.priced': (items, d, m) =>
    boardFlags(items, m.ro, (was) => ({ findings_to_price: ids(was.findings_to_price).filter((f) => f !== d.finding_id) })),
  // Parts lines: the card's "waiting for parts" needs the order's lines as they are: read it again.
  'part.added': (items, d, m) => fetchShown(items, m.ro),
  'part.updated': (items, d, m) => fetchShown(items, m.ro),
  'part.awaited': (items, d, m) => fetchShown(items, m.ro),
  'approval.decided': (items, d, m) =>
    boardRo(items, m.ro, (ro) => {
      const job = (ro.jobs || []).find((j) => j.id === d.job_id);
      if (!job || job.approval === d.decision) return ro;
      return { ...ro, jobs: upsertById(ro.jobs, { ...job, approval: d.decision }) };
    }),
  'finding.added': (items, d, m) =>
    boardRo(items, m.ro, (ro) => {
      const f = d.finding;
      if (!f || f.id == null) return ro;
      let next = ro;
      if (Array.isArray(ro.findings) && !ro.findings.some((x) => x.id === f.id)) next = { ...next, findings: upsertById(ro.findings, f) };
      const waiting = ids(ro.attention?.findings_to_price);
      if (!f.recommended_job_id && !waiting.includes(f.id)) next = { ...next, attention: { ...(ro.attention || {}), findings_to_price: [...waiting, f.id].sort((a, b) => a - b) } };
      return next;
    }),
};

/** Read again the order `roId` when the board shows it. */
function fetchShown(items, roId) {
  return items.some((ro) => ro.id === roId) ? { view: items, reload: false, fetch: [roId] } : done(items);
}
// Nothing the board shows: the new job comes with job.added, the card shows no clock entries,
// attendance, photos, damage marks, surveys or staff.
for (const type of [
  'approval.requested',
  'clock.reviewed',
  'clock.confirmed',
  'clock.corrected',
  'attendance.in',
  'attendance.out',
  'photo.added',
  'walkaround.updated',
  'walkaround.signed',
  'survey.submitted',
  'follow_up.created',
  'follow_up.called',
  'shop.set_up',
  'shop.updated',
  'staff.added',
  'staff.unlocked',
  'staff.locked_out',
  'staff.signed_in',
  'staff.signed_out',
  'staff.deactivated',
  'staff.activated',
  'staff.pin_reset',
  'staff.pin_chosen',
]) {
  BOARD[type] = (items) => done(items);
}

/** The board (open repair orders) after `m`. */
export function applyBoard(items, m) {
  const handle = Object.hasOwn(BOARD, m.type) ? BOARD[m.type] : null;
  if (handle) return handle(items, m.data || {}, m);
  // A type this version does not know: read again whatever it names that the board shows.
  const jobs = new Set(ids(m.data?.job_ids));
  const fetch = items.filter((ro) => ro.id === m.ro || (ro.jobs || []).some((j) => jobs.has(j.id))).map((ro) => ro.id);
  return { view: items, reload: false, fetch };
}

// ---------- my jobs: the technician's own (GET /api/me/jobs) ----------

function mineView(view, jobs, rest = {}) {
  return { ...view, ...rest, jobs };
}

/** A job as the event shows it, on my list: it stays, changes, leaves, or (new to me) needs a read. */
function mineJob(view, job, me) {
  if (!job || job.id == null) return done(view);
  const jobs = view.jobs || [];
  const i = jobs.findIndex((j) => j.id === job.id);
  const mine = job.technician?.id === me && MINE.has(job.state);
  if (i < 0) return mine ? again(view) : done(view); // its car, promise and time are not in the event
  if (!mine) return done(mineView(view, jobs.filter((j) => j.id !== job.id)));
  const was = jobs[i];
  const next = { ...was, title: job.title, state: job.state, estimated_hours: job.estimated_hours, rework_count: job.rework_count };
  if (JSON.stringify(next) === JSON.stringify(was)) return done(view);
  const out = [...jobs];
  out[i] = next;
  return done(mineView(view, out));
}

function minutes(start, end) {
  return (instant(end) - instant(start)) / MINUTE;
}

/**
 * One clock entry as the event shows it: my running clock, my entries to check, and the minutes on
 * each of my jobs. A job's `clocked_minutes` counts every entry up to the read's `now` (a running
 * one to `now`; the card adds the time since). An entry changes it by what it counts now minus what
 * it counted before: known for entries this view has seen (`counted`), for my running clock at the
 * read, and for entries begun after the read (nothing); otherwise the view cannot tell: read again.
 */
function mineEntry(view, e, me, { certain = false, before = null, times = true } = {}) {
  if (!e || e.id == null) return done(view);
  let next = view;
  let reload = false;
  const now = Date.parse(view.now);
  const counted = view.counted || {};
  const jobs = view.jobs || [];
  const j = jobs.findIndex((x) => x.id === e.job_id);
  const count = ((e.ended_at ? instant(e.ended_at) : now) - instant(e.started_at)) / MINUTE; // NaN: cannot tell
  if (j >= 0 && times) {
    let was = counted[e.id];
    if (was === undefined && view.open_entry?.id === e.id && Number.isFinite(now)) was = (now - instant(view.open_entry.started_at)) / MINUTE;
    if (was === undefined && before && certain) was = minutes(before.started_at, before.ended_at ?? view.now);
    if (!Number.isFinite(was) && Number.isFinite(now) && instant(e.started_at) >= now) was = 0;
    if (!Number.isFinite(was) || !Number.isFinite(count)) reload = true;
    else if (count !== was) {
      const out = [...jobs];
      out[j] = { ...jobs[j], clocked_minutes: (Number(jobs[j].clocked_minutes) || 0) + count - was };
      next = mineView(next, out);
    }
  }
  if (times && Number.isFinite(count) && counted[e.id] !== count) next = { ...next, counted: { ...counted, [e.id]: count } };
  if (e.technician_id === me && times) {
    if (e.ended_at == null) {
      // My running clock: at most one, so every other card stops.
      const out = (next.jobs || []).map((x) => {
        const since = x.id === e.job_id ? e.started_at : null;
        return x.running_since === since ? x : { ...x, running_since: since };
      });
      next = mineView(next, out, { open_entry: e });
    } else if (next.open_entry?.id === e.id) {
      const out = (next.jobs || []).map((x) => (x.id === e.job_id && x.running_since ? { ...x, running_since: null } : x));
      next = mineView(next, out, { open_entry: null });
    }
  }
  if (e.technician_id === me) {
    // Entries the system stopped on its own wait for me to confirm or correct them.
    const review = next.review || [];
    const listed = review.some((r) => r.id === e.id);
    const check = !!(e.auto_stopped && e.ended_at && !e.confirmed_at);
    if (check) {
      const out = upsertById(review, e).sort((a, b) => instant(a.started_at) - instant(b.started_at) || a.id - b.id);
      if (JSON.stringify(out) !== JSON.stringify(review)) next = { ...next, review: out };
    } else if (listed) next = { ...next, review: review.filter((r) => r.id !== e.id) };
  }
  return { view: next, reload, fetch: [] };
}

function mineSeq(view, steps) {
  let next = view;
  let reload = false;
  for (const step of steps) {
    const r = step(next);
    next = r.view;
    reload ||= r.reload;
  }
  return { view: next, reload, fetch: [] };
}

/** A clock tap: the jobs it moved, then its entries (closed ones before the one it opened). */
function mineClock(view, d, me) {
  const entries = [...ids(d.entries)].sort((a, b) => (a.ended_at == null) - (b.ended_at == null));
  return mineSeq(view, [...ids(d.jobs).map((job) => (v) => mineJob(v, job, me)), ...entries.map((e) => (v) => mineEntry(v, e, me))]);
}

const MINE_TYPES = {
  'job.added': (v, d, me) => mineJob(v, d.job, me),
  'job.updated': (v, d, me) => mineJob(v, d.job, me),
  'job.assigned': (v, d, me) => mineJob(v, d.job, me),
  'qc.recorded': (v, d, me) => {
    const r = mineJob(v, d.job, me);
    const i = (r.view.jobs || []).findIndex((j) => j.id === d.job?.id);
    if (i < 0 || d.passed) return r;
    // Sent back: the card shows the failed items in my language, with their notes and photos.
    if (!d.last_qc) return again(r.view);
    const out = [...r.view.jobs];
    out[i] = { ...out[i], last_qc: d.last_qc };
    return { ...r, view: mineView(r.view, out) };
  },
  'finding.added': (v, d) => {
    const f = d.finding;
    const i = (v.jobs || []).findIndex((j) => j.id === f?.job_id);
    if (i < 0 || (v.jobs[i].findings || []).some((x) => x.id === f.id)) return done(v);
    const out = [...v.jobs];
    out[i] = { ...out[i], findings: upsertById(out[i].findings, f) };
    return done(mineView(v, out));
  },
  'clock.on': (v, d, me) => mineClock(v, d, me),
  'clock.off': (v, d, me) => mineClock(v, d, me),
  // The car or the customer's words on my card may have changed; a priced finding of mine, a parts
  // line of my job: the event does not hold what my card shows of them.
  'ro.updated': (v, d, me, m) => ((v.jobs || []).some((j) => j.repair_order?.id === m.ro) ? again(v) : done(v)),
  'finding.priced': (v, d) => ((v.jobs || []).some((j) => (j.findings || []).some((f) => f.id === d.finding_id)) ? again(v) : done(v)),
  'part.added': (v, d) => mineNames(v, d),
  'part.updated': (v, d) => mineNames(v, d),
  'part.awaited': (v, d) => mineNames(v, d),
  // Looked at, its times unchanged.
  'clock.reviewed': (v, d, me) => mineEntry(v, d.entry, me, { times: false }),
  'clock.confirmed': (v, d, me) => mineEntry(v, d.entry, me, { times: false }),
  'clock.corrected': (v, d, me, m) => mineEntry(v, d.entry, me, { certain: isAfter(v, m), before: d.before }),
  'attendance.in': (v, d, me) =>
    d.attendance?.staff_id === me && JSON.stringify(v.attendance) !== JSON.stringify(d.attendance) ? done({ ...v, attendance: d.attendance }) : done(v),
  // The server's view lists only an open working day: a closed one reads as none (an older day
  // closing leaves a newer one open).
  'attendance.out': (v, d, me) =>
    d.attendance?.staff_id === me && v.attendance && (v.attendance.id == null || v.attendance.id === d.attendance.id) ? done({ ...v, attendance: null }) : done(v),
  'promise.changed': (v, d, me, m) => {
    let hit = false;
    const out = (v.jobs || []).map((j) => {
      if (j.repair_order?.id !== m.ro) return j;
      hit = true;
      return { ...j, repair_order: { ...j.repair_order, promised_at: isoTime(d.promised_at) } };
    });
    return hit ? done(mineView(v, out)) : done(v);
  },
  'photo.added': (v, d) => {
    // A photo of a failed check item reaches the server after the check that sent the job back.
    if (d.kind !== 'qc') return done(v);
    const i = (v.jobs || []).findIndex((j) => j.id === d.job_id);
    const qc = i >= 0 ? v.jobs[i].last_qc : null;
    const item = qc && !qc.passed ? (qc.failed || []).find((x) => x.item_id != null && d.panel === `qc:${x.item_id}`) : null;
    if (!item || (item.photos || []).some((p) => p.id === d.id)) return done(v);
    const failed = qc.failed.map((x) => (x === item ? { ...x, photos: [...(x.photos || []), { id: d.id, url: d.url, thumb_url: d.thumb_url }] } : x));
    const out = [...v.jobs];
    out[i] = { ...out[i], last_qc: { ...qc, failed } };
    return done(mineView(v, out));
  },
};
// Nothing my jobs show: stages, approvals (not work yet), new orders (jobs come unassigned),
// damage marks, surveys, the shop and staff.
for (const type of [
  'ro.created',
  'stage.changed',
  'approval.requested',
  'approval.decided',
  'walkaround.updated',
  'walkaround.signed',
  'survey.submitted',
  'follow_up.created',
  'follow_up.called',
  'shop.set_up',
  'shop.updated',
  'staff.added',
  'staff.unlocked',
  'staff.locked_out',
  'staff.signed_in',
  'staff.signed_out',
  'staff.deactivated',
  'staff.activated',
  'staff.pin_reset',
  'staff.pin_chosen',
  'settlement.updated',
  'discount.approved',
  'ro.handed_over',
]) {
  MINE_TYPES[type] = (v) => done(v);
}

/** Read my jobs again when the event names one of them. */
function mineNames(view, d) {
  const jobs = new Set((view.jobs || []).map((j) => j.id));
  return ids(d.job_ids).some((id) => jobs.has(id)) ? again(view) : done(view);
}

/** True when `m` was certainly recorded after the view was read (its `now`). */
function isAfter(view, m) {
  const now = Date.parse(view?.now);
  const at = instant(m?.at);
  return Number.isFinite(now) && Number.isFinite(at) && at > now;
}

/** True when `m` is older than the view by SETTLED_MS: the view was read after it and holds it. */
function isSettled(view, m) {
  const now = Date.parse(view?.now);
  const at = instant(m?.at);
  return Number.isFinite(now) && Number.isFinite(at) && at < now - SETTLED_MS;
}

/** My jobs (the technician `me`) after `m`. */
export function applyMine(view, m, me) {
  if (!view) return again(view);
  if (isSettled(view, m)) return done(view);
  const handle = Object.hasOwn(MINE_TYPES, m.type) ? MINE_TYPES[m.type] : null;
  const d = m.data || {};
  if (handle) return handle(view, d, me, m);
  // A type this version does not know: read again when it names me, my jobs or their cars.
  const jobs = new Set((view.jobs || []).map((j) => j.id));
  const names = ids(d.staff_ids).includes(me) || ids(d.job_ids).some((id) => jobs.has(id)) || (view.jobs || []).some((j) => j.repair_order?.id === m.ro && m.ro != null);
  return names ? again(view) : done(view);
}

/**
 * What the server answered to one of my own taps, as the event it will send: the tablet shows the
 * tap at once, and the event (when it comes) changes nothing more. Null for answers that are not
 * a tap's. `path` is the request's ('/api/jobs/12/clock-on').
 */
export function replyAsEvent(path, body) {
  if (!body || typeof body !== 'object') return null;
  const what = String(path || '').split('?')[0].split('/').pop();
  if ((what === 'clock-on' || what === 'clock-off') && Array.isArray(body.entries)) {
    return { type: `clock.${what.slice(6)}`, data: { jobs: body.job ? [body.job] : [], entries: body.entries } };
  }
  if (what === 'clock-in' && body.attendance) return { type: 'attendance.in', data: { attendance: body.attendance } };
  if (what === 'clock-out' && body.attendance) {
    return { type: 'attendance.out', data: { attendance: body.attendance }, stopped: ids(body.auto_stopped) };
  }
  if (what === 'confirm' && body.id != null) return { type: 'clock.confirmed', data: { entry: body } };
  if (what === 'findings' && body.id != null && body.job_id != null) return { type: 'finding.added', data: { finding: body } };
  return null;
}

/**
 * My own tap's answer on my jobs. The end of my day stops my running clock: its job is paused (or
 * finished) by the same rule as the server's (domain.js jobStateAfter), until the events say so.
 */
export function applyReply(view, reply, me) {
  if (!view || !reply) return done(view);
  let r = applyMine(view, reply, me);
  for (const e of reply.stopped || []) {
    const job = (r.view.jobs || []).find((j) => j.id === e.job_id);
    const steps = [(v) => mineEntry(v, e, me, { certain: false })];
    if (job && job.state === 'in_progress') {
      const state = jobStateAfter(job.state, [{ start: e.started_at, end: e.ended_at, reason: e.reason }]);
      steps.unshift((v) => mineJob(v, { ...job, technician: { id: me }, state }, me));
    }
    const s = mineSeq(r.view, steps);
    r = { view: s.view, reload: r.reload || s.reload, fetch: [] };
  }
  return r;
}

/** Entry signatures an event carries: the answer to a tap whose event was heard is not news. */
export function entryMarks(m) {
  const d = m?.data || {};
  return [...ids(d.entries), d.entry, ...ids(m?.stopped)].filter((e) => e && e.id != null).map((e) => `${e.id}|${e.started_at}|${e.ended_at}|${e.confirmed_at ?? ''}`);
}

// ---------- the quality-check queue: finished jobs (GET /api/qc/queue) ----------

function queueJob(view, job) {
  if (!job || job.id == null) return done(view);
  const jobs = view.jobs || [];
  const i = jobs.findIndex((j) => j.id === job.id);
  const waiting = job.state === 'finished';
  if (i < 0) return waiting ? again(view) : done(view); // its car and clocked time are not in the event
  if (!waiting) return done({ ...view, jobs: jobs.filter((j) => j.id !== job.id) });
  const was = jobs[i];
  const next = { ...was, title: job.title, state: job.state, estimated_hours: job.estimated_hours, rework_count: job.rework_count, technician: job.technician ?? null };
  if (JSON.stringify(next) === JSON.stringify(was)) return done(view);
  const out = [...jobs];
  out[i] = next;
  return done({ ...view, jobs: out });
}

function queueSeq(view, jobs, entries) {
  let next = view;
  let reload = false;
  for (const job of jobs) {
    const r = queueJob(next, job);
    next = r.view;
    reload ||= r.reload;
  }
  // Time booked on a waiting job (a late tap, a correction) changes its clocked minutes: read again.
  const waiting = new Set((next.jobs || []).map((j) => j.id));
  if (entries.some((e) => e && waiting.has(e.job_id))) reload = true;
  return { view: next, reload, fetch: [] };
}

const QUEUE = {
  'job.added': (v, d) => queueJob(v, d.job),
  'job.updated': (v, d) => queueJob(v, d.job),
  'job.assigned': (v, d) => queueJob(v, d.job),
  'qc.recorded': (v, d) => queueJob(v, d.job),
  'clock.on': (v, d) => queueSeq(v, ids(d.jobs), ids(d.entries)),
  'clock.off': (v, d) => queueSeq(v, ids(d.jobs), ids(d.entries)),
  'clock.corrected': (v, d) => queueSeq(v, [], [d.entry]),
  'promise.changed': (v, d, m) => {
    let hit = false;
    const out = (v.jobs || []).map((j) => {
      if (j.repair_order?.id !== m.ro) return j;
      hit = true;
      return { ...j, repair_order: { ...j.repair_order, promised_at: isoTime(d.promised_at) } };
    });
    return hit ? done({ ...v, jobs: out }) : done(v);
  },
};
for (const type of [
  'ro.created',
  'stage.changed',
  'approval.requested',
  'approval.decided',
  'finding.added',
  'clock.reviewed',
  'clock.confirmed',
  'attendance.in',
  'attendance.out',
  'photo.added',
  'walkaround.updated',
  'walkaround.signed',
  'survey.submitted',
  'follow_up.created',
  'follow_up.called',
  'shop.set_up',
  'shop.updated',
  'staff.added',
  'staff.unlocked',
  'staff.locked_out',
  'staff.signed_in',
  'staff.signed_out',
  'staff.deactivated',
  'staff.activated',
  'staff.pin_reset',
  'staff.pin_chosen',
  'ro.updated',
  'finding.priced',
  'part.added',
  'part.updated',
  'part.awaited',
  'settlement.updated',
  'discount.approved',
  'ro.handed_over',
]) {
  QUEUE[type] = (v) => done(v);
}

/** The QC queue ({jobs}) after `m`. */
export function applyQueue(view, m) {
  if (!view) return again(view);
  const handle = Object.hasOwn(QUEUE, m.type) ? QUEUE[m.type] : null;
  if (handle) return handle(view, m.data || {}, m);
  const jobs = new Set(ids(m.data?.job_ids));
  const names = (view.jobs || []).some((j) => jobs.has(j.id) || (m.ro != null && j.repair_order?.id === m.ro));
  return names ? again(view) : done(view);
}

// ---------- clock taps to review: the foreman's list (GET /api/clock-entries/review) ----------

function reviewEntry(view, e, me) {
  if (!e || e.id == null) return done(view);
  const entries = view.entries || [];
  const i = entries.findIndex((x) => x.id === e.id);
  const waits = ids(e.review_reasons).length > 0 && !e.reviewed_at;
  if (i < 0) return waits && e.technician_id !== me ? again(view) : done(view); // whose and which car: not in the event
  if (!waits) return done({ ...view, entries: entries.filter((x) => x.id !== e.id) });
  const next = { ...entries[i], ...e };
  if (JSON.stringify(next) === JSON.stringify(entries[i])) return done(view);
  const out = [...entries];
  out[i] = next;
  return done({ ...view, entries: out });
}

function reviewSeq(view, list, me) {
  let next = view;
  let reload = false;
  for (const e of list) {
    const r = reviewEntry(next, e, me);
    next = r.view;
    reload ||= r.reload;
  }
  return { view: next, reload, fetch: [] };
}

const REVIEW = {
  'clock.on': (v, d, me) => reviewSeq(v, ids(d.entries), me),
  'clock.off': (v, d, me) => reviewSeq(v, ids(d.entries), me),
  'clock.reviewed': (v, d, me) => reviewEntry(v, d.entry, me),
  'clock.confirmed': (v, d, me) => reviewEntry(v, d.entry, me),
  'clock.corrected': (v, d, me) => reviewEntry(v, d.entry, me),
};
for (const type of [
  'ro.created',
  'stage.changed',
  'promise.changed',
  'job.added',
  'job.updated',
  'job.assigned',
  'qc.recorded',
  'approval.requested',
  'approval.decided',
  'finding.added',
  'attendance.in',
  'attendance.out',
  'photo.added',
  'walkaround.updated',
  'walkaround.signed',
  'survey.submitted',
  'follow_up.created',
  'follow_up.called',
  'shop.set_up',
  'shop.updated',
  'staff.added',
  'staff.unlocked',
  'staff.locked_out',
  'staff.signed_in',
  'staff.signed_out',
  'staff.deactivated',
  'staff.activated',
  'staff.pin_reset',
  'staff.pin_chosen',
  'ro.updated',
  'finding.priced',
  'part.added',
  'part.updated',
  'part.awaited',
  'settlement.updated',
  'discount.approved',
  'ro.handed_over',
]) {
  REVIEW[type] = (v) => done(v);
}

/** The list of clock entries to review ({entries}) for reviewer `me` after `m`. */
export function applyReview(view, m, me) {
  if (!view) return again(view);
  const handle = Object.hasOwn(REVIEW, m.type) ? REVIEW[m.type] : null;
  if (handle) return handle(view, m.data || {}, me);
  const jobs = new Set(ids(m.data?.job_ids));
  return (view.entries || []).some((e) => jobs.has(e.job_id)) ? again(view) : done(view);
}

/** The event types each screen knows (tests/test_apply_js.py: every type of the catalogue). */
export const KNOWN = Object.freeze({
  board: Object.keys(BOARD),
  mine: Object.keys(MINE_TYPES),
  queue: Object.keys(QUEUE),
  review: Object.keys(REVIEW),
});

/**
 * Events heard while reads are on their way: a read may have been made before them, so each is
 * applied again to what the read brings (one it already holds changes nothing).
 * begin() when a read is asked for → its mark; end(mark) when it is answered (or failed) → the
 * events heard since.
 */
export function readLog() {
  let reads = 0;
  let log = [];
  return {
    hear(m) {
      if (reads) log.push(m);
    },
    begin() {
      reads += 1;
      return log.length;
    },
    end(mark) {
      const since = log.slice(mark);
      reads -= 1;
      if (!reads) log = [];
      return since;
    },
    get busy() {
      return reads > 0;
    },
  };
}

/** The stream says something was missed (live.js): every screen reads what it shows again. */
export const missed = (m) => m?.type === 'resync' || m?.type === 'gap';
