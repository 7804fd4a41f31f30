// Hand-over (交车), #/handover/<id>: what the customer reads and signs at the counter. The work done in
// the customer's words with its QC result, the parts replaced and whether the old part goes back with
// them (旧件), the next service (prefilled from the shop's defaults), mileage out, the settlement
// (labour per job, parts, discount with its reason, tax inside, total), the payment method (recorded,
// not processed) and the customer's signature. "Hand over" is one outbox entry: the signature travels
// inside it as a PNG data URL, so signing and paying reach the server together or not at all.
import { get } from './api.js';
import { action, send } from './action.js';
import { h, clear, setText, timeEl, toast } from './dom.js';
import { allowed } from './domain.js';
import { showError, clearError, field } from './forms.js';
import { onLiveEvent } from './live.js';
import { formatFen, parseFen } from './money.js';
import { printLinks } from './ro-closing.js';

const METHODS = ['cash', 'card', 'wechat', 'alipay', 'transfer'];

export function render(view, ctx, param) {
  const roId = Number(param);
  const user = ctx.state.user;
  const banner = h('div', { class: 'form-banner', role: 'alert', hidden: true });
  const main = h('div', { class: 'handover-main', 'aria-busy': 'true' });
  const title = h('h1', { t: 'handover.title', tp: { number: '' } });
  const back = h('a', { class: 'btn btn-ghost', href: `#/ro/${roId}`, t: 'handover.back' });
  view.append(h('div', { class: 'page handover-page', 'data-testid': 'handover' }, h('header', { class: 'page-head' }, title, back), banner, main));

  let ro = null;
  let s = null;
  let payment = null;
  let sending = false;
  let attempt = null;
  let inked = false;
  let kmEdited = false;
  const returned = new Map(); // part id → old part returned?

  async function load() {
    try {
      [ro, s] = await Promise.all([get(`/api/repair-orders/${roId}`), get(`/api/repair-orders/${roId}/settlement`)]);
      setText(title, 'handover.title', { number: ro.number });
      payment = payment || s.payment_method;
      for (const p of s.parts) if (!returned.has(p.id)) returned.set(p.id, !!p.old_part_returned);
      paint();
    } catch (err) {
      showError(banner, err);
    } finally {
      main.removeAttribute('aria-busy');
    }
  }

  // ---------- the pieces ----------
  const mileageOut = h('input', { type: 'number', class: 'input', min: 0, inputmode: 'numeric', 'data-testid': 'mileage-out' });
  const nextOn = h('input', { type: 'date', class: 'input', 'data-testid': 'next-service-on' });
  const nextKm = h('input', { type: 'number', class: 'input', min: 0, inputmode: 'numeric', 'data-testid': 'next-service-km', oninput: () => (kmEdited = true) });
  mileageOut.addEventListener('input', () => {
    const out = Number(mileageOut.value);
    if (!kmEdited && s && Number.isFinite(out) && mileageOut.value !== '') nextKm.value = String(out + s.next_service_add_km);
  });
  const discountAmount = h('input', { type: 'text', class: 'input', inputmode: 'decimal', 'data-testid': 'discount-amount' });
  const discountReason = h('input', { type: 'text', class: 'input', maxlength: 200, 'data-testid': 'discount-reason' });
  const signer = h('input', { type: 'text', class: 'input', maxlength: 120, 'data-testid': 'handover-signer', tattrs: { 'aria-label': 'handover.signerName' } });
  const pad = h('canvas', { class: 'sign-pad', width: 600, height: 200, 'data-testid': 'handover-pad', tattrs: { 'aria-label': 'handover.signature' } });
  wirePad(pad, () => (inked = true));
  let filled = false;

  function fillInputs() {
    if (filled) return;
    filled = true;
    mileageOut.value = String(s.mileage_out ?? ro.mileage ?? '');
    nextOn.value = s.next_service_on || '';
    nextKm.value = s.next_service_km != null ? String(s.next_service_km) : '';
    discountAmount.value = s.discount_fen ? (s.discount_fen / 100).toFixed(2) : '';
    discountReason.value = s.discount_reason || '';
    signer.value = s.signed_by || ro.customer?.name || '';
  }

  function paint() {
    clear(main);
    if (!ro || !s) return;
    fillInputs();
    const delivered = ro.stage === 'delivered';
    const ready = ro.stage === 'ready';
    const cards = [h('p', { class: 'lead' }, `${ro.vehicle?.plate || ''} · ${ro.customer?.name || ''}`), workCard(), partsCard(delivered), settlementCard(delivered)];
    main.append(...cards.filter(Boolean));
    if (delivered) {
      main.append(doneCard());
      return;
    }
    if (!ready) {
      main.append(h('p', { class: 'form-banner', 'data-testid': 'handover-not-ready', t: 'handover.notReady' }));
      return;
    }
    main.append(serviceCard(), paymentCard(), signatureCard());
  }

  function workCard() {
    const jobs = new Map((ro.jobs || []).map((j) => [j.id, j]));
    return h(
      'section',
      { class: 'card' },
      h('h2', { t: 'handover.workDone' }),
      h(
        'ul',
        { class: 'handover-work', 'data-testid': 'handover-work' },
        s.jobs.map((j) => {
          const passed = (jobs.get(j.id)?.state ?? j.state) === 'qc_passed';
          return h(
            'li',
            {},
            h('span', {}, j.customer_text),
            ' ',
            h('span', { class: ['chip', passed ? 'chip-on' : 'chip-warn'], t: passed ? 'handover.qcPassed' : 'handover.qcOpen', 'data-testid': 'handover-qc' }),
          );
        }),
      ),
    );
  }

  function partsCard(delivered) {
    if (!s.parts.length) return null;
    return h(
      'section',
      { class: 'card' },
      h('h2', { t: 'handover.partsReplaced' }),
      h(
        'ul',
        { class: 'handover-parts' },
        s.parts.map((p) =>
          h(
            'li',
            { 'data-testid': 'handover-part' },
            h('span', {}, `${p.name} × ${p.quantity}`),
            h(
              'label',
              { class: 'check-row' },
              h('input', {
                type: 'checkbox',
                checked: returned.get(p.id),
                disabled: delivered,
                'data-testid': 'old-part-returned',
                onchange: (ev) => returned.set(p.id, ev.target.checked),
              }),
              h('span', { t: 'handover.oldReturnedAsk' }),
            ),
          ),
        ),
      ),
    );
  }

  function settlementCard(delivered) {
    const rows = [
      ...s.jobs.map((j) => h('tr', {}, h('td', {}, h('span', { t: 'handover.labour' }), ` · ${j.customer_text}`), h('td', { class: 'num' }, formatFen(j.labour_fen)))),
      ...s.parts.map((p) => h('tr', {}, h('td', {}, `${p.name} × ${p.quantity}`), h('td', { class: 'num' }, formatFen(p.line_fen)))),
    ];
    if (s.discount_fen) {
      rows.push(h('tr', {}, h('td', {}, h('span', { t: 'handover.discount' }), s.discount_reason ? ` (${s.discount_reason})` : ''), h('td', { class: 'num', 'data-testid': 'handover-discount' }, formatFen(-s.discount_fen))));
    }
    const card = h(
      'section',
      { class: 'card', 'data-testid': 'handover-settlement' },
      h('h2', { t: 'handover.settlement' }),
      h('table', { class: 'handover-bill' }, h('tbody', {}, rows)),
      h('p', { class: 'handover-total' }, h('span', { t: 'handover.total' }), ' ', h('strong', { 'data-testid': 'handover-total' }, formatFen(s.total_fen))),
      h('p', { class: 'muted' }, h('span', { t: 'handover.taxInside', tp: { rate: s.tax_rate_bp / 100 } }), ' ', formatFen(s.tax_fen)),
    );
    if (s.discount_state === 'pending') {
      card.append(h('p', { class: 'chip chip-warn', t: 'closing.discountPending', 'data-testid': 'discount-pending' }));
      if (allowed(user.role, 'discount.approve')) {
        card.append(h('button', { type: 'button', class: 'btn btn-accent', t: 'closing.approveDiscount', 'data-testid': 'approve-discount', onclick: approve }));
      }
    }
    if (!delivered && allowed(user.role, 'ro.handover')) {
      card.append(
        h(
          'div',
          { class: 'grid-2 handover-discount' },
          field('handover.discountAmount', discountAmount, { optional: true }),
          field('handover.discountReason', discountReason, { optional: true }),
        ),
        h('p', { class: 'muted', t: 'handover.discountPendingNote', tp: { threshold: formatFen(s.discount_threshold_fen).replace('¥', '') } }),
        h('button', { type: 'button', class: 'btn btn-secondary', t: 'handover.saveDiscount', 'data-testid': 'save-discount', onclick: saveDiscount }),
      );
    }
    return card;
  }

  function serviceCard() {
    return h(
      'section',
      { class: 'card' },
      h('h2', { t: 'handover.nextService' }),
      h('p', {}, h('span', { t: 'handover.mileageIn' }), ` ${s.mileage_in} km`),
      h('div', { class: 'grid-2' }, field('handover.mileageOut', mileageOut), h('span')),
      h('div', { class: 'grid-2' }, field('handover.nextServiceOn', nextOn), field('handover.nextServiceKm', nextKm)),
    );
  }

  function paymentCard() {
    return h(
      'section',
      { class: 'card' },
      h('h2', { t: 'handover.payment' }),
      h(
        'div',
        { class: 'chips', role: 'group', tattrs: { 'aria-label': 'handover.payment' } },
        METHODS.map((m) =>
          h('button', {
            type: 'button',
            class: ['chip', 'chip-button', 'chip-big', payment === m ? 'chip-on' : ''],
            'aria-pressed': String(payment === m),
            t: `handover.method.${m}`,
            'data-testid': `pay-${m}`,
            onclick: () => {
              payment = m;
              paint();
            },
          }),
        ),
      ),
      h('p', { class: 'muted', t: 'handover.paymentNote' }),
    );
  }

  function signatureCard() {
    return h(
      'section',
      { class: 'card sign-panel' },
      h('h2', { t: 'handover.signature' }),
      pad,
      h('button', { type: 'button', class: 'btn btn-ghost btn-sm', t: 'handover.clearSignature', onclick: clearPad }),
      field('handover.signerName', signer),
      h('button', { type: 'button', class: 'btn btn-primary btn-xl', t: 'handover.submit', 'data-testid': 'handover-submit', onclick: handOver }),
    );
  }

  function doneCard() {
    return h(
      'section',
      { class: 'card', 'data-testid': 'handover-done' },
      h('p', {}, h('span', { t: 'closing.delivered' }), ' ', s.handed_over_at ? timeEl(s.handed_over_at) : null, s.signed_by ? ` · ${s.signed_by}` : ''),
      s.payment_method ? h('p', {}, h('span', { t: 'handover.payment' }), ': ', h('span', { t: `handover.method.${s.payment_method}` })) : null,
      s.signature_url ? h('img', { class: 'sign-image', src: s.signature_url, alt: '', 'data-testid': 'handover-signature' }) : null,
      printLinks(roId),
    );
  }

  function clearPad() {
    pad.getContext('2d').clearRect(0, 0, pad.width, pad.height);
    inked = false;
    attempt = null;
  }

  // ---------- actions ----------
  async function saveDiscount(ev) {
    clearError(banner);
    const fen = discountAmount.value.trim() === '' ? 0 : parseFen(discountAmount.value);
    if (fen == null) return showError(banner, { key: 'handover.badAmount' });
    const button = ev.currentTarget;
    button.disabled = true;
    const act = action([
      {
        method: 'PUT',
        path: `/api/repair-orders/${roId}/settlement`,
        body: { discount_fen: fen, discount_reason: discountReason.value.trim() },
        subject: `ro:${roId}`,
        label: { key: 'outbox.what.discount', params: {} },
        meta: { kind: 'discount', roId },
      },
    ]);
    try {
      s = await send(act, { waitMs: 4000 });
      toast('handover.discountSaved', undefined, 'ok');
      paint();
    } catch (err) {
      if (!err.queued) showError(banner, err);
    } finally {
      button.disabled = false;
    }
  }

  async function approve(ev) {
    ev.currentTarget.disabled = true;
    const act = action([
      {
        path: `/api/repair-orders/${roId}/settlement/approve-discount`,
        subject: `ro:${roId}`,
        label: { key: 'outbox.what.discount', params: {} },
        meta: { kind: 'discount-approve', roId },
      },
    ]);
    try {
      s = await send(act, { waitMs: 4000 });
      paint();
    } catch (err) {
      if (!err.queued) showError(banner, err);
    }
  }

  async function handOver(ev) {
    if (sending) return;
    clearError(banner);
    const missing = !payment ? 'handover.needPayment' : mileageOut.value === '' ? 'handover.needMileage' : !inked ? 'handover.needSignature' : !signer.value.trim() ? 'handover.needName' : null;
    if (missing) return showError(banner, { key: missing });
    const body = {
      mileage_out: Number(mileageOut.value),
      next_service_on: nextOn.value || null,
      next_service_km: nextKm.value === '' ? null : Number(nextKm.value),
      old_parts_returned: Object.fromEntries([...returned].map(([id, back]) => [String(id), back])),
      payment_method: payment,
      signed_by: signer.value.trim(),
      signature: pad.toDataURL('image/png'),
    };
    const serial = JSON.stringify(body);
    // One outbox entry per body: a second tap cannot hand over twice; a changed form is a new action.
    if (!attempt || attempt.body !== serial) {
      attempt = {
        body: serial,
        act: action([
          {
            path: `/api/repair-orders/${roId}/handover`,
            body,
            subject: `ro:${roId}`,
            label: { key: 'outbox.what.handover', params: {} },
            meta: { kind: 'handover', roId },
          },
        ]),
      };
    }
    sending = true;
    const button = ev.currentTarget;
    button.disabled = true;
    try {
      s = await send(attempt.act, { waitMs: 6000 });
      ro.stage = 'delivered';
      toast('handover.done', { number: ro.number }, 'ok');
      paint();
    } catch (err) {
      if (err.queued) {
        clear(main);
        main.append(h('section', { class: 'card', 'data-testid': 'handover-queued' }, h('p', { class: 'chip chip-queued', t: 'handover.queued' }), printLinks(roId)));
        return;
      }
      attempt = null;
      showError(banner, err);
    } finally {
      sending = false;
      button.disabled = false;
    }
  }

  load();
  // Another tablet changed the bill (a manager approved the discount, a part arrived): read it again,
  // keeping what is typed here.
  const off = onLiveEvent((m) => {
    if (m.ro !== roId || sending) return;
    if (['settlement.updated', 'discount.approved', 'ro.handed_over', 'stage.changed'].includes(m.type)) load();
  });
  return () => off();
}

function wirePad(pad, onInk) {
  const g = pad.getContext('2d');
  g.lineWidth = 3;
  g.lineCap = 'round';
  g.strokeStyle = '#111';
  let drawing = false;
  const at = (ev) => {
    const box = pad.getBoundingClientRect();
    return [((ev.clientX - box.left) / box.width) * pad.width, ((ev.clientY - box.top) / box.height) * pad.height];
  };
  pad.addEventListener('pointerdown', (ev) => {
    drawing = true;
    pad.setPointerCapture(ev.pointerId);
    g.beginPath();
    g.moveTo(...at(ev));
  });
  pad.addEventListener('pointermove', (ev) => {
    if (!drawing) return;
    g.lineTo(...at(ev));
    g.stroke();
    onInk();
  });
  const end = () => (drawing = false);
  pad.addEventListener('pointerup', end);
  pad.addEventListener('pointercancel', end);
}
