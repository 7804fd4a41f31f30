// A staff action from a screen: every step goes into the outbox first (on the tablet, before any
// network call), then the screen waits a moment for the server's answer. When the answer cannot
// come soon (offline, the outbox backing off, earlier items still ahead) the action is Queued:
// safe here, sent by itself, and the screen shows it as not sent yet.
import { ApiError, normaliseErrors } from './api.js';
import { discard, enqueue, onOutbox, unsent } from './outbox.js';

/** The action is safe on this tablet and will be sent when the network allows (not an error). */
export class Queued extends Error {
  constructor() {
    super('queued');
    this.name = 'Queued';
    this.queued = true;
  }
}

const KEEP_OUTCOMES = 100; // answers that came before anyone waited (a later send() of the action)
const outcomes = new Map(); // outbox seq → {type: 'done'|'parked', body, entry}
const waiters = new Map(); // outbox seq → resolve
let stalledAt = -1; // performance.now() when the outbox last stopped for now
onOutbox((event) => {
  if (event.type === 'waiting' || event.type === 'auth') {
    // The outbox stopped for now (no network, server trouble, session gone): nobody gets an
    // answer soon, so nobody waits for one.
    stalledAt = performance.now();
    for (const resolve of [...waiters.values()]) resolve({ type: 'queued' });
    return;
  }
  if ((event.type !== 'done' && event.type !== 'parked') || !event.entry) return;
  const outcome = { type: event.type, body: event.body, entry: event.entry };
  const resolve = waiters.get(event.entry.seq);
  if (resolve) return resolve(outcome);
  outcomes.set(event.entry.seq, outcome);
  if (outcomes.size > KEEP_OUTCOMES) outcomes.delete(outcomes.keys().next().value);
});

function settle(seq, waitMs) {
  if (outcomes.has(seq)) {
    const outcome = outcomes.get(seq);
    outcomes.delete(seq);
    return Promise.resolve(outcome);
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiters.delete(seq);
      resolve({ type: 'queued' });
    }, waitMs);
    waiters.set(seq, (outcome) => {
      clearTimeout(timer);
      waiters.delete(seq);
      resolve(outcome);
    });
  });
}

/**
 * Steps: [{path, method?, body?, form?, subject?, meta?, label?, tolerate?, keepResult?}].
 * `tolerate` lists statuses that count as done (e.g. 409 "that clock was already stopped").
 */
export function action(steps) {
  return {
    done: 0,
    steps: steps.map(({ tolerate = [], subject = '', ...rest }) => ({ ...rest, tolerate, subject, seq: null })),
  };
}

/**
 * Put every step in the outbox, then wait up to `waitMs` for the server. Resolves with the last
 * reply; throws ApiError when the server refused a step while the person is looking (the refusal
 * is shown on their screen, so it leaves the outbox), Queued when no answer can come soon.
 */
export async function send(act, { waitMs = 5000 } = {}) {
  await prepare(act);
  return settleAll(act, waitMs);
}

/** Put the steps in the outbox (once) without waiting: later entries may then ref() them. */
export async function prepare(act) {
  act.preparedAt = performance.now();
  for (const step of act.steps) {
    if (step.seq != null) continue;
    const entry = await enqueue({
      method: step.method || 'POST',
      url: step.path,
      json: step.form ? undefined : step.body,
      form: step.form,
      subject: step.subject,
      meta: step.meta,
      label: step.label,
      keepResult: !!step.keepResult,
    });
    step.seq = entry.seq;
    step.staffId = entry.staffId;
  }
}

async function settleAll(act, waitMs) {
  if (!navigator.onLine) throw new Queued();
  // The outbox stopped after this action was stored: no answer is coming soon.
  if (stalledAt > act.preparedAt) throw new Queued();
  // Earlier items of this person still waiting go first: this one's answer is not coming soon.
  const first = act.steps[act.done];
  if (first) {
    const ahead = (await unsent(first.staffId)).filter((e) => e.seq < first.seq && e.state === 'pending');
    if (ahead.some((e) => e.attempts > 0)) throw new Queued();
  }
  let reply = null;
  // One wait for the whole action (a switch is two steps): the person is not kept waiting twice.
  const deadline = performance.now() + waitMs;
  while (act.done < act.steps.length) {
    const step = act.steps[act.done];
    const outcome = await settle(step.seq, Math.max(0, deadline - performance.now()));
    if (outcome.type === 'queued') throw new Queued();
    if (outcome.type === 'parked') {
      const refused = !step.tolerate.includes(outcome.entry.status);
      if (refused) {
        // Later steps were decided together with this one (the start after a stop): they are
        // held behind it by their subjects and leave with it, before it, so none slips out.
        for (const later of act.steps.slice(act.done + 1)) {
          if (later.seq != null) await discard(later.seq);
          later.seq = null;
        }
      }
      await discard(step.seq);
      if (refused) {
        step.seq = null; // sent again (once put right), it is a new entry with a new key
        const detail = typeof outcome.body?.detail === 'string' ? outcome.body.detail : outcome.entry.error; // the server's English
        throw new ApiError({ status: outcome.entry.status, detail, errors: normaliseErrors(outcome.body), body: outcome.body });
      }
    } else {
      reply = outcome.body;
    }
    act.done += 1;
  }
  return reply;
}
