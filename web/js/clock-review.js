// Clock taps to review (foreman, manager): job clock entries with a tap the server flagged — sent
// hours after it happened, older than its job, or older than the person's working day. Such taps
// count (offline work is real) but never silently: each is confirmed as it is, or its times are
// corrected with a reason. Both go through the outbox (action.js) like every staff action.
import { get } from './api.js';
import { h, timeEl } from './dom.js';
import { getLang, getShopTimeZone, onLangChange } from './i18n.js';
import { showError, clearError } from './forms.js';
import { onLiveEvent } from './live.js';
import { action, send } from './action.js';
import { toInputs, zonedToIso } from './time.js';
import { allowed } from './domain.js';
import { applyReview, missed, readLog } from './apply.js';

const COALESCE_MS = 250;
const WAIT_MS = 3000; // then the action shows as not sent yet (it stays in the outbox)

export const mayReview = (user) => allowed(user?.role, 'clock.review');

/** The panel, to put on a screen: {node, destroy}. Hidden while nothing waits for review. */
export function clockReview(ctx) {
  const me = ctx.state.user?.id;
  let entries = null; // the last GET /api/clock-entries/review
  const handled = new Map(); // entry id → 'sending' | 'queued': what this tablet is doing about it
  const editing = new Map(); // entry id → the correction form's values (survive repaints)

  const count = h('span', { class: 'count-pill', 'data-testid': 'clock-review-count' });
  const banner = h('div', { class: 'form-banner', role: 'alert', 'data-testid': 'clock-review-error', hidden: true });
  const list = h('div', { class: 'clock-review-list' });
  const node = h(
    'section',
    { class: 'clock-review review-panel', 'data-testid': 'clock-review', hidden: true },
    h('h2', { class: 'title-row' }, h('span', { t: 'review.title' }), count),
    h('p', { class: 'lead', t: 'review.lead' }),
    banner,
    list,
  );

  const heard = readLog(); // events heard while a read is on its way, applied again to its answer
  let loading = false;
  let again = false; // asked for while a load was on its way: load once more after it
  async function load() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    const from = heard.begin();
    let fresh = null;
    try {
      fresh = (await get('/api/clock-entries/review'))?.entries || [];
    } catch (err) {
      if (err.status !== 401) showError(banner, err);
    }
    const since = heard.end(from);
    if (fresh) {
      entries = since.reduce((view, m) => applyReview(view, m, me).view, { entries: fresh }).entries;
      forgetTaken();
      clearError(banner);
    }
    loading = false;
    paint();
    if (again) {
      again = false;
      load();
    }
  }

  // Sent and taken: the server no longer lists it. Still listed: it waits in the outbox.
  function forgetTaken() {
    const listed = new Set(entries.map((e) => e.id));
    for (const id of [...handled.keys()]) if (!listed.has(id)) handled.delete(id);
  }

  // A row is rebuilt only when what it shows changed: a live event while the foreman types a
  // correction must not take the field from under their finger.
  const painted = new Map(); // entry id → {key, node}
  function paint() {
    const shown = (entries || []).filter((e) => handled.get(e.id) !== 'sending');
    node.hidden = !shown.length && banner.hidden;
    count.textContent = String(shown.length);
    const nodes = shown.map((entry) => {
      const form = editing.get(entry.id);
      const key = JSON.stringify([entry, handled.get(entry.id) ?? null, form ? form.error ?? '' : null, getLang()]);
      const was = painted.get(entry.id);
      if (was?.key === key) return was.node;
      const fresh = row(entry);
      painted.set(entry.id, { key, node: fresh });
      return fresh;
    });
    const ids = new Set(shown.map((e) => e.id));
    for (const id of [...painted.keys()]) if (!ids.has(id)) painted.delete(id);
    nodes.forEach((child, i) => {
      if (list.children[i] !== child) list.insertBefore(child, list.children[i] ?? null);
    });
    while (list.children.length > nodes.length) list.lastElementChild.remove();
  }

  function row(entry) {
    const queued = handled.get(entry.id) === 'queued';
    const own = entry.technician_id === me;
    const item = h(
      'article',
      { class: 'review-entry', 'data-testid': 'review-tap', 'data-entry': entry.id },
      h(
        'div',
        { class: 'review-what' },
        h('strong', { class: 'review-title' }, entry.technician_name || ''),
        h('span', {}, [entry.job_title, entry.repair_order_number].filter(Boolean).join(' · ')),
        h('span', { class: 'review-times' }, timeEl(entry.started_at, 'smart'), ' – ', entry.ended_at ? timeEl(entry.ended_at, 'smart') : '…'),
        h('span', { class: 'chips', 'data-testid': 'review-reasons' },
          (entry.review_reasons || []).map((reason) => h('span', { class: 'chip chip-warn', 'data-reason': reason, t: `review.reason.${reason}` }))),
      ),
    );
    if (queued) {
      item.append(h('span', { class: 'chip chip-queued', 'data-testid': 'review-queued', t: 'outbox.notSent' }));
    } else if (own) {
      item.append(h('p', { class: 'muted', t: 'review.own' }));
    } else if (editing.has(entry.id)) {
      item.append(correctionForm(entry));
    } else {
      item.append(
        h(
          'div',
          { class: 'review-actions' },
          h('button', { type: 'button', class: 'btn btn-primary btn-xl', t: 'review.confirm', 'data-testid': 'review-confirm', onclick: () => confirm(entry) }),
          entry.ended_at
            ? h('button', { type: 'button', class: 'btn btn-secondary btn-xl', t: 'review.correct', 'data-testid': 'review-correct', onclick: () => openForm(entry) })
            : null,
        ),
      );
    }
    return item;
  }

  function openForm(entry) {
    const zone = getShopTimeZone();
    const start = toInputs(new Date(entry.started_at), zone);
    const end = toInputs(new Date(entry.ended_at), zone);
    editing.set(entry.id, { startDate: start.date, startTime: start.time, endDate: end.date, endTime: end.time, reason: '', error: null });
    paint();
    list.querySelector(`[data-entry="${entry.id}"] [data-testid="review-reason"]`)?.focus();
  }

  function correctionForm(entry) {
    const c = editing.get(entry.id);
    const input = (type, field, testid) =>
      h('input', { type, class: 'input input-big', value: c[field], 'data-testid': testid, step: type === 'time' ? 60 : null, tattrs: { 'aria-label': `review.${field}` }, oninput: (e) => (c[field] = e.target.value) });
    const reason = h('textarea', { class: 'input', rows: 2, maxlength: 300, id: `review-reason-${entry.id}`, 'data-testid': 'review-reason', oninput: (e) => (c.reason = e.target.value), tattrs: { placeholder: 'review.reasonHint' } });
    reason.value = c.reason;
    return h(
      'div',
      { class: 'correct-form' },
      h('p', { class: 'field-label' }, h('span', { t: 'review.start' }), h('span', { class: 'optional', t: 'mine.shopTime' })),
      h('div', { class: 'grid-2' }, input('date', 'startDate', 'review-start-date'), input('time', 'startTime', 'review-start-time')),
      h('p', { class: 'field-label' }, h('span', { t: 'review.end' }), h('span', { class: 'optional', t: 'mine.shopTime' })),
      h('div', { class: 'grid-2' }, input('date', 'endDate', 'review-end-date'), input('time', 'endTime', 'review-end-time')),
      h('label', { class: 'field-label', for: `review-reason-${entry.id}` }, h('span', { t: 'mine.correctReason' }), h('span', { class: 'required-mark', t: 'form.required' })),
      reason,
      c.error ? h('p', { class: 'field-error', 'data-testid': 'field-error', t: c.error }) : null,
      h(
        'div',
        { class: 'review-actions' },
        h('button', { type: 'button', class: 'btn btn-ghost btn-xl', t: 'common.cancel', onclick: () => { editing.delete(entry.id); paint(); } }),
        h('button', { type: 'button', class: 'btn btn-primary btn-xl', t: 'mine.saveCorrection', 'data-testid': 'review-save', onclick: () => correct(entry) }),
      ),
    );
  }

  function confirm(entry) {
    return run(entry, { path: `/api/clock-entries/${entry.id}/review`, body: {}, label: { key: 'outbox.what.review', params: { name: entry.technician_name || '' } } });
  }

  function correct(entry) {
    const c = editing.get(entry.id);
    const zone = getShopTimeZone();
    const startedAt = c.startDate && c.startTime ? zonedToIso(c.startDate, c.startTime, zone) : null;
    const endedAt = c.endDate && c.endTime ? zonedToIso(c.endDate, c.endTime, zone) : null;
    c.error = !startedAt || !endedAt ? 'review.needTimes' : !c.reason.trim() ? 'mine.correctNeedReason' : null;
    if (!c.error && Date.parse(endedAt) <= Date.parse(startedAt)) c.error = 'mine.correctBeforeStart';
    if (c.error) return paint();
    const body = { started_at: startedAt, ended_at: endedAt, reason: c.reason.trim() };
    return run(entry, { path: `/api/clock-entries/${entry.id}/correct`, body, label: { key: 'outbox.what.reviewCorrect', params: { name: entry.technician_name || '' } } }, () => editing.delete(entry.id));
  }

  async function run(entry, step, onTaken = () => {}) {
    let refused = false;
    clearError(banner);
    handled.set(entry.id, 'sending');
    paint();
    try {
      await send(action([{ ...step, subject: `entry:${entry.id}` }]), { waitMs: WAIT_MS });
      handled.delete(entry.id);
      entries = entries.filter((e) => e.id !== entry.id); // taken: gone until a new reason brings it back
      onTaken();
    } catch (err) {
      if (err.queued) {
        handled.set(entry.id, 'queued'); // safe on this tablet; the list says it is not sent yet
        onTaken();
      } else {
        handled.delete(entry.id); // refused (e.g. an overlap): the entry and the form stay
        if (err.status !== 401) showError(banner, err);
        refused = true;
      }
    }
    paint();
    if (refused) load(); // this list was behind the server (someone else took it): read it again
  }

  // Each clock event changes the list by itself (apply.js): an entry reviewed, confirmed or
  // corrected anywhere leaves it. One newly flagged is read again with the list (whose it is and
  // which car are not in the event), as after a resync or a gap.
  let timer = null;
  const loadSoon = () => {
    if (!timer) timer = setTimeout(() => { timer = null; load(); }, COALESCE_MS);
  };
  const offEvent = onLiveEvent((m) => {
    if (missed(m)) return loadSoon();
    heard.hear(m);
    if (entries === null) return;
    const result = applyReview({ entries }, m, me);
    if (result.reload) loadSoon();
    if (result.view.entries === entries) return;
    entries = result.view.entries;
    forgetTaken();
    paint();
  });
  const offLang = onLangChange(paint);
  load();
  return {
    node,
    destroy() {
      clearTimeout(timer);
      offEvent();
      offLang();
    },
  };
}
