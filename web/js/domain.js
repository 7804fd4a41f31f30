// The workshop's rules that the screens need before the server answers: job states, stop
// reasons, who may open what, and the clock fold that shows a tap still on the tablet as the
// server will take it. Each is the server's rule (api/workshop.py, api/policy.py,
// api/clockbook.py) written once for the browser; tests/test_domain_js.py runs this file in Node
// against the Python, so the two cannot drift apart. Pure: no DOM, no imports.

// ---------- jobs ----------

export const JOB_STATES = Object.freeze(['recommended', 'declined', 'pending', 'assigned', 'in_progress', 'paused', 'finished', 'qc_passed', 'rework']);

// Why a clock stops; `finished` sends the job to its quality check. In the order the dialog shows them.
export const STOP_REASONS = Object.freeze(['finished', 'waiting_parts', 'waiting_approval', 'break', 'end_of_shift', 'other']);

// The assigned technician may start the clock on a job in these states.
export const STARTABLE = new Set(['assigned', 'paused', 'rework']);

// Work done: waiting for its quality check or through it.
export const DONE_STATES = new Set(['finished', 'qc_passed']);

// A technician's own jobs, as their tablet lists them (api/floor.py MY_STATES): given to them and
// not yet through its quality check.
export const MINE = new Set(['assigned', 'in_progress', 'paused', 'rework', 'finished']);

// Not (yet) work the customer agreed to: it neither holds back nor moves a repair order.
export const NOT_WORK = new Set(['recommended', 'declined']);

// Nothing is left to do on a job in these states: it passed QC, or the customer declined it.
export const SETTLED = new Set(['qc_passed', 'declined']);

// States clock taps move a job between (job_state_after leaves any other state alone).
const CLOCKED = new Set(['assigned', 'in_progress', 'paused', 'finished', 'rework']);

// ---------- people ----------

export const ROLES = Object.freeze(['advisor', 'technician', 'foreman', 'manager', 'customer_care']);

const OFFICE = Object.freeze(['advisor', 'foreman', 'manager']);
const FLOOR = Object.freeze(['technician', 'foreman']); // people who clock time on jobs
const READERS = Object.freeze([...OFFICE, 'customer_care']); // who looks orders and vehicles up
const MANAGER = Object.freeze(['manager']);

// The rows of the server's policy table that decide what a screen offers. The server checks
// every request anyway: this only keeps people from screens and buttons that would be refused.
export const POLICY = Object.freeze({
  'ro.list': OFFICE,
  'ro.read': READERS,
  'ro.search': READERS,
  'ro.create': OFFICE,
  'dispatch.read': OFFICE,
  'part.edit': OFFICE,
  'ro.handover': OFFICE,
  'discount.approve': MANAGER,
  'shop.settings': MANAGER,
  'care.read': Object.freeze(['customer_care', 'advisor', 'manager']),
  'care.call': Object.freeze(['customer_care', 'advisor', 'manager']),
  'staff.list': Object.freeze(['foreman', 'manager']),
  'staff.edit': MANAGER,
  'ro.promise': OFFICE,
  'walkaround.edit': OFFICE,
  'job.qc': OFFICE,
  'me.jobs': FLOOR,
  'clock.review': Object.freeze(['foreman', 'manager']),
});

/** True when `role` may perform `operation`; unknown roles and operations are denied. */
export function allowed(role, operation) {
  return Object.hasOwn(POLICY, operation) && POLICY[operation].includes(role);
}

// ---------- the clock ----------

// Ties at the same instant: stops before starts, so "stop A, start B" in one tap closes A first.
const TIE = { off: 0, stop_all: 1, on: 2 };

// Times come as ISO strings with any offset (the server's, the tablet's own UTC): order by instant.
const instant = (at) => new Date(at).getTime();
const byKey = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The intervals that a set of clock taps means, as api/clockbook.py fold() finds them: same set
 * in any order → same answer. A tap is {key, kind: 'on' | 'off' | 'stop_all', at, job, reason}.
 * A start while another job runs closes that one ("switched"); a stop for the running job closes
 * it with its reason; a stop that comes after its job was switched away leaves the switch time
 * (flag "late_stop"); any other stop is an orphan; a stop-all closes whatever runs; a repeated key
 * counts once; a second start of the running job is ignored.
 * Returns {intervals (by start), orphans, open (the running interval or null)}; an interval is
 * {key, job, start, end, reason, autoStopped, flags, endKey} with `start`/`end` the taps' own `at`.
 */
export function fold(taps) {
  const unique = new Map();
  for (const tap of taps) unique.set(tap.key, tap); // a replayed key is one tap
  const intervals = [];
  const orphans = [];
  const lastClosed = new Map(); // job → index in intervals of its last closed interval
  let running = null;

  const close = (by, reason, { auto = false, flag = null } = {}) => {
    const flags = flag ? [...running.flags, flag] : running.flags;
    intervals.push({ ...running, end: by.at, reason, autoStopped: auto, flags, endKey: by.key });
    lastClosed.set(running.job, intervals.length - 1);
    running = null;
  };

  const ordered = [...unique.values()].sort((a, b) => instant(a.at) - instant(b.at) || TIE[a.kind] - TIE[b.kind] || byKey(a.key, b.key));
  for (const tap of ordered) {
    if (tap.kind === 'on') {
      if (running && running.job === tap.job) continue; // started twice (two tablets): it runs already
      if (running) close(tap, 'switched', { flag: 'switched' });
      running = { key: tap.key, job: tap.job, start: tap.at, end: null, reason: null, autoStopped: false, flags: [], endKey: null };
    } else if (tap.kind === 'off') {
      if (running && running.job === tap.job) {
        close(tap, tap.reason || 'other');
        continue;
      }
      const index = tap.job != null ? lastClosed.get(tap.job) : undefined;
      if (index !== undefined && intervals[index].reason === 'switched') {
        // The stop came after the technician had started elsewhere: the switch time stands.
        const late = intervals[index];
        if (!late.flags.includes('late_stop')) intervals[index] = { ...late, flags: [...late.flags, 'late_stop'] };
        continue;
      }
      orphans.push(tap);
    } else if (running) {
      close(tap, 'end_of_shift', { auto: true, flag: 'auto_stopped' });
    }
  }
  if (running) intervals.push(running);
  intervals.sort((a, b) => instant(a.start) - instant(b.start) || byKey(a.key, b.key));
  return { intervals, orphans, open: intervals.find((i) => i.end === null) ?? null };
}

/** A job's state from its clock intervals (api/clockbook.py job_state_after). */
export function jobStateAfter(current, intervals) {
  if (!CLOCKED.has(current)) return current;
  if (intervals.some((i) => i.end === null)) return 'in_progress';
  if (!intervals.length) return current === 'in_progress' ? 'assigned' : current;
  // The last to end (then to start); the first of equals, as Python's max() picks.
  const later = (a, b) => instant(b.end) - instant(a.end) || instant(b.start) - instant(a.start);
  const last = intervals.reduce((best, i) => (later(best, i) > 0 ? i : best));
  return last.reason === 'finished' ? 'finished' : 'paused';
}
