// The closing section of the repair-order detail (web/js/ro-detail.js places it): "Mark ready" in one
// tap through the outbox when every approved job passed QC (else what is still open), the settlement
// in short, "Hand over" to #/handover/<id>, a manager's "Approve discount", and after delivery the
// print links. The settlement is read on its own and read again when an event says it changed.
import { get } from './api.js';
import { action, send } from './action.js';
import { h, clear, timeEl, toast } from './dom.js';
import { SETTLED, allowed } from './domain.js';
import { getLang } from './i18n.js';
import { onLiveEvent } from './live.js';
import { formatFen } from './money.js';
import { showError } from './forms.js';

// Job states that do not keep an order from being ready (beside passed QC: work the customer declined).
// The last settlement read per order: a repaint of the detail shows it at once, not an empty gap.
const known = new Map();
const REFRESH_ON = new Set(['settlement.updated', 'discount.approved', 'ro.handed_over', 'stage.changed', 'job.updated', 'job.added', 'approval.decided']);

/** The jobs that keep this order from being ready (the same rule as api.workshop.ready_blockers). */
export function openJobs(ro) {
  return (ro.jobs || []).filter((j) => j.state === 'recommended' || !SETTLED.has(j.state));
}

export function printUrl(roId, size, lang = getLang()) {
  return `/print/repair-orders/${roId}?size=${size}&lang=${encodeURIComponent(lang)}`;
}

export function printLinks(roId) {
  return h(
    'div',
    { class: 'closing-print' },
    h('a', { class: 'btn btn-secondary', href: printUrl(roId, 'a4'), target: '_blank', rel: 'noopener', t: 'handover.printA4', 'data-testid': 'print-a4' }),
    h('a', { class: 'btn btn-secondary', href: printUrl(roId, 'a5'), target: '_blank', rel: 'noopener', t: 'handover.printA5', 'data-testid': 'print-a5' }),
  );
}

/** The section's element for this repair order (as GET /api/repair-orders/{id} answers), or null. */
export function section(ro, ctx) {
  const user = ctx?.state?.user;
  if (!ro || !user || !allowed(user.role, 'ro.read')) return null;
  const banner = h('div', { class: 'form-banner', role: 'alert', hidden: true });
  const body = h('div', { class: 'closing-body' });
  const summary = h('div', { class: 'closing-summary', 'data-testid': 'closing-summary' });
  const el = h('section', { class: 'card closing', 'data-testid': 'ro-closing' }, h('h2', { t: 'closing.title' }), banner, body, summary);
  let readyQueued = false;

  function paintActions() {
    clear(body);
    if (ro.stage === 'delivered') {
      body.append(h('p', { 'data-testid': 'closing-delivered' }, h('span', { t: 'closing.delivered' }), ' ', ro.delivered_at ? timeEl(ro.delivered_at) : null));
      if (allowed(user.role, 'ro.handover')) body.append(printLinks(ro.id));
      return;
    }
    if (ro.stage === 'ready') {
      if (allowed(user.role, 'ro.handover')) {
        body.append(h('a', { class: 'btn btn-primary btn-lg', href: `#/handover/${ro.id}`, t: 'closing.handOver', 'data-testid': 'closing-handover' }));
      }
      return;
    }
    const open = openJobs(ro);
    if (readyQueued) {
      body.append(h('p', { class: 'chip chip-queued', t: 'closing.readyQueued', 'data-testid': 'ready-queued' }));
      return;
    }
    if (open.length || !(ro.jobs || []).length) {
      body.append(
        h('p', { class: 'muted', t: 'closing.openItems' }),
        h('ul', { class: 'closing-open', 'data-testid': 'closing-open' }, open.map((j) => h('li', {}, `${j.title} · `, h('span', { t: `job.${j.state}` })))),
      );
      return;
    }
    // ro.ready and ro.print are the office's, as ro.handover is (domain.js POLICY lists that one).
    if (allowed(user.role, 'ro.handover')) {
      body.append(h('button', { type: 'button', class: 'btn btn-primary btn-lg', t: 'closing.markReady', 'data-testid': 'mark-ready', onclick: markReady }));
    }
  }

  async function markReady(ev) {
    const button = ev.currentTarget;
    button.disabled = true;
    banner.hidden = true;
    const act = action([
      {
        path: `/api/repair-orders/${ro.id}/ready`,
        subject: `ro:${ro.id}`,
        label: { key: 'outbox.what.ready', params: {} },
        meta: { kind: 'ready', roId: ro.id },
      },
    ]);
    try {
      const updated = await send(act, { waitMs: 4000 });
      if (updated) Object.assign(ro, updated);
      toast('closing.readyDone', undefined, 'ok');
    } catch (err) {
      if (err.queued) readyQueued = true;
      else showError(banner, err);
    } finally {
      button.disabled = false;
      paintActions();
    }
  }

  function paintSummary(s) {
    known.set(ro.id, s);
    clear(summary);
    const rows = [
      ['handover.labourTotal', s.labour_fen],
      ['handover.partsTotal', s.parts_fen],
      ...(s.discount_fen ? [['handover.discount', -s.discount_fen]] : []),
    ];
    summary.append(
      h('dl', { class: 'closing-figures' }, rows.map(([key, fen]) => [h('dt', { t: key }), h('dd', {}, formatFen(fen))])),
      h('p', { class: 'closing-total' }, h('span', { t: 'handover.total' }), ' ', h('strong', { 'data-testid': 'closing-total' }, formatFen(s.total_fen))),
      h('p', { class: 'muted' }, h('span', { t: 'handover.taxInside', tp: { rate: s.tax_rate_bp / 100 } }), ' ', formatFen(s.tax_fen)),
    );
    if (s.discount_state === 'pending') {
      summary.append(h('p', { class: 'chip chip-warn', t: 'closing.discountPending', 'data-testid': 'discount-pending' }));
      if (allowed(user.role, 'discount.approve') && ro.stage !== 'delivered') {
        summary.append(h('button', { type: 'button', class: 'btn btn-accent', t: 'closing.approveDiscount', 'data-testid': 'approve-discount', onclick: approve }));
      }
    } else if (s.discount_state === 'approved' && s.discount_approved_by) {
      summary.append(h('p', { class: 'muted', t: 'closing.discountApproved', tp: { name: s.discount_approved_by.name } }));
    }
  }

  async function approve(ev) {
    ev.currentTarget.disabled = true;
    const act = action([
      {
        path: `/api/repair-orders/${ro.id}/settlement/approve-discount`,
        subject: `ro:${ro.id}`,
        label: { key: 'outbox.what.discount', params: {} },
        meta: { kind: 'discount-approve', roId: ro.id },
      },
    ]);
    try {
      paintSummary(await send(act, { waitMs: 4000 }));
    } catch (err) {
      if (!err.queued) showError(banner, err);
    }
  }

  async function loadSummary() {
    try {
      paintSummary(await get(`/api/repair-orders/${ro.id}/settlement`));
    } catch {
      // The summary is a convenience here: offline, the order detail still shows its jobs.
    }
  }

  paintActions();
  if (known.has(ro.id)) paintSummary(known.get(ro.id)); // at once, then fresh from the server
  loadSummary();
  // The detail paints a new section on each change: a replaced one stops listening (events come
  // after the synchronous paint that placed it, so a section not in the page now is an old one).
  const off = onLiveEvent((m) => {
    if (!el.isConnected) return off();
    if (m.ro !== ro.id || !REFRESH_ON.has(m.type)) return;
    if (m.type === 'stage.changed' && m.data?.to) ro.stage = m.data.to;
    paintActions();
    loadSummary();
  });
  return el;
}
