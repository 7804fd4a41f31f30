// Parts on the technician's tablet (web/js/my-jobs.js): the lines of their jobs with their state
// (GET /api/me/parts, kept current by the part.* events), which line a "waiting for parts" stop
// waits for, and the question which one it is. An arrival shows on the card ("Part arrived: …").
import { get } from './api.js';
import { h, timeEl } from './dom.js';

/** The parts of my jobs, by job id, kept current from the live events. */
export function partsBook() {
  let parts = new Map(); // part id → part
  let awaited = new Map(); // job id → part id (the last "waiting for parts" stop's line)
  return {
    async load() {
      const got = await get('/api/me/parts');
      parts = new Map((got?.parts || []).map((p) => [p.id, p]));
      awaited = new Map(Object.entries(got?.awaited || {}).map(([job, part]) => [Number(job), part]));
    },
    /** Take a part.* event in; answers the part when it has just arrived (for the toast), else null. */
    hear(m) {
      const part = m?.data?.part;
      if (!part || !['part.added', 'part.updated', 'part.awaited'].includes(m.type)) return null;
      const before = parts.get(part.id);
      parts.set(part.id, part);
      if (m.type === 'part.awaited') awaited.set(part.job_id, part.id);
      return part.state === 'arrived' && before?.state !== 'arrived' && m.data.from_state !== 'arrived' ? part : null;
    },
    /** Remember the line named by my own stop (before the server's event arrives). */
    wait(jobId, partId) {
      if (partId != null) awaited.set(jobId, partId);
    },
    of(jobId) {
      return [...parts.values()].filter((p) => p.job_id === jobId);
    },
    awaitedOf(jobId) {
      return awaited.get(jobId) ?? null;
    },
    /** What a card shows of its parts, for the card's "has anything changed" key. */
    key(jobId) {
      return JSON.stringify([this.of(jobId).map((p) => [p.id, p.state, p.expected_at]), this.awaitedOf(jobId)]);
    },
  };
}

/** The card's parts block: each line with its state; arrived ones say so in big letters. */
export function partsBlock(list, awaitedId) {
  if (!list.length) return null;
  const arrived = list.filter((p) => p.state === 'arrived');
  return h(
    'div',
    { class: 'job-parts', 'data-testid': 'job-parts' },
    ...arrived.map((p) => h('p', { class: 'part-arrived', 'data-testid': 'part-arrived', role: 'status', t: 'mine.partArrived', tp: { name: p.name } })),
    h(
      'ul',
      { class: 'parts-list' },
      list.map((p) =>
        h(
          'li',
          { class: ['part-line', p.id === awaitedId ? 'is-awaited' : ''], 'data-testid': 'job-part', 'data-part': p.id, 'data-state': p.state },
          h('span', { class: 'part-name' }, p.name, p.quantity > 1 ? ` × ${p.quantity}` : ''),
          h('span', { class: ['chip', `part-${p.state}`], t: `part.state.${p.state}` }),
          p.state === 'ordered' && p.expected_at ? timeEl(p.expected_at, 'smart', { class: 'muted' }) : null,
          p.id === awaitedId && p.state !== 'arrived' && p.state !== 'fitted'
            ? h('span', { class: 'chip chip-warn', 'data-testid': 'part-awaited', t: 'mine.waitingFor' })
            : null,
        ),
      ),
    ),
  );
}

/**
 * "Which part are you waiting for?" after the reason "waiting for parts": one big button per line
 * not yet here, and "None of these". Resolves the part id, null for none, undefined when cancelled.
 */
export function askWaitingPart(list) {
  const candidates = list.filter((p) => p.state === 'needed' || p.state === 'ordered');
  if (!candidates.length) return Promise.resolve(null);
  return new Promise((resolve) => {
    let chosen;
    const pick = (value) => () => {
      chosen = value;
      dialog.close();
    };
    const dialog = h(
      'dialog',
      { class: 'dialog stop-dialog', 'data-testid': 'part-pick-dialog' },
      h(
        'div',
        { class: 'dialog-form' },
        h('h2', { t: 'mine.pickPart' }),
        h(
          'div',
          { class: 'reason-grid', role: 'group' },
          candidates.map((p) =>
            h('button', { type: 'button', class: 'btn reason-btn', 'data-testid': 'part-pick', 'data-part': p.id, onclick: pick(p.id) }, p.name),
          ),
          h('button', { type: 'button', class: 'btn btn-ghost reason-btn', 'data-testid': 'part-pick-none', t: 'mine.pickPartNone', onclick: pick(null) }),
        ),
        h(
          'div',
          { class: 'dialog-actions' },
          h('button', { type: 'button', class: 'btn btn-ghost btn-xl', t: 'common.cancel', onclick: () => dialog.close() }),
        ),
      ),
    );
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(chosen);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
