// Pricing findings on the repair-order detail (placed by web/js/ro-detail.js after the findings):
// each unpriced finding gets a form — the words the customer reads (the finding's phrase in the
// CUSTOMER's language to start from), labour hours × the shop's rate (the amount editable), parts
// lines, the total — and one button sends it all to the customer for approval through the outbox.
// Priced findings show where the customer's decision stands.
import { action, send } from './action.js';
import { get } from './api.js';
import { h, clear, setText, toast } from './dom.js';
import { dictionaries } from './i18n.js';
import { formBanner, showError, clearError } from './forms.js';
import { formatFen, parseFen } from './money.js';
import { allowed } from './domain.js';

const DEFAULT_RATE_FEN = 20000; // the shop's default until its settings are read
const MAX_WORDS = 300;

// Forms survive the detail's re-renders (every live event re-renders it): the same element, with
// what the advisor typed, is handed back for the same finding. Sends waiting in the outbox too.
const forms = new Map(); // finding id → {el, refresh}
const waiting = new Set(); // finding ids whose pricing is on this tablet, not yet on the server
let rateFen = null;
let rateAsked = null;

/** The shop's labour rate per hour in fen (staff read it in GET /api/shop). */
function labourRate(ctx) {
  const known = ctx?.state?.shop?.labour_rate_fen;
  if (Number.isFinite(known)) rateFen = known;
  if (rateFen == null && !rateAsked) {
    rateAsked = get('/api/shop')
      .then((shop) => {
        if (Number.isFinite(shop?.labour_rate_fen)) rateFen = shop.labour_rate_fen;
        for (const form of forms.values()) form.refresh();
      })
      .catch(() => {
        rateAsked = null; // offline: the default stands until the next render asks again
      });
  }
  return rateFen ?? DEFAULT_RATE_FEN;
}

/** The words the customer reads to start from: the finding's phrase in the customer's language. */
export function customerWords(finding, customerLang) {
  const dict = dictionaries[customerLang] || dictionaries['zh-CN'];
  return (finding.phrase && (dict[`phrase.${finding.phrase}`] || dictionaries.en[`phrase.${finding.phrase}`])) || finding.text || '';
}

/** Sold hours as typed ("1.5", "1,5") → a number with at most two decimals, or null. */
function parseHours(text) {
  const clean = String(text ?? '').trim().replace(',', '.');
  if (!/^\d{1,3}(\.\d{0,2})?$/.test(clean)) return null;
  const n = Number(clean);
  return n >= 0 && n <= 200 ? n : null;
}

export function section(ro, ctx) {
  const findings = ro?.findings || [];
  if (!findings.length) return null;
  const role = ctx?.state?.user?.role;
  // finding.recommend is the office's, as part.edit (domain.js mirrors only the rows screens ask for).
  const mayPrice = allowed(role, 'part.edit');
  const jobs = new Map((ro.jobs || []).map((j) => [j.id, j]));
  const open = findings.filter((f) => !isPriced(f) && mayPrice);
  const priced = findings.filter(isPriced);
  for (const id of [...forms.keys()]) if (!open.some((f) => f.id === id)) forms.delete(id);
  for (const f of priced) waiting.delete(f.id);
  if (!open.length && !priced.length) return null;
  return h(
    'section',
    { class: 'card pricing', 'data-testid': 'pricing' },
    h('h2', { t: 'pricing.title' }),
    ...priced.map((f) => pricedRow(f, jobs.get(f.recommended_job_id))),
    ...open.map((f) => formFor(f, ro, ctx)),
  );
}

const isPriced = (f) => !!(f.priced || f.recommended_job_id);

function pricedRow(finding, job) {
  const approval = job?.approval || 'pending';
  const total = job ? (job.price_fen ?? Math.round((job.price || 0) * 100)) + (job.parts || []).reduce((s, p) => s + (p.line_fen || 0), 0) : null;
  return h(
    'div',
    { class: 'pricing-done', 'data-testid': 'priced-finding', 'data-finding': finding.id, 'data-approval': approval },
    h('p', { class: 'pricing-finding' }, finding.text),
    job?.customer_text ? h('p', { class: 'pricing-words' }, `“${job.customer_text}”`) : null,
    h(
      'p',
      { class: 'pricing-state' },
      total != null ? h('span', { class: 'pricing-total', t: 'pricing.priced', tp: { total: formatFen(total) } }) : null,
      ' ',
      h('span', { class: ['chip', `approval-${approval}`], 'data-testid': 'pricing-state', t: `pricing.state.${approval}` }),
    ),
  );
}

function formFor(finding, ro, ctx) {
  const rate = labourRate(ctx);
  const kept = forms.get(finding.id);
  if (kept) {
    kept.refresh();
    return kept.el;
  }
  let labourEdited = false;
  let sending = false;
  let attempt = null; // {body, act}: the same request (same key) is sent again until it changes

  const words = h('textarea', { class: 'input', rows: 2, maxlength: MAX_WORDS, 'data-testid': 'pricing-words', tattrs: { 'aria-label': 'pricing.words' } });
  words.value = customerWords(finding, ro.customer?.language);
  const hours = h('input', { class: 'input input-num', inputmode: 'decimal', 'data-testid': 'pricing-hours', tattrs: { 'aria-label': 'pricing.hours' } });
  const labour = h('input', { class: 'input input-num', inputmode: 'decimal', 'data-testid': 'pricing-labour', tattrs: { 'aria-label': 'pricing.labour' } });
  const rateNote = h('span', { class: 'muted', 'data-testid': 'pricing-rate' });
  const lines = h('div', { class: 'pricing-lines', 'data-testid': 'pricing-parts' });
  const total = h('p', { class: 'pricing-total big', 'data-testid': 'pricing-total' });
  const banner = formBanner();
  banner.dataset.testid = 'pricing-error';
  const pendingMark = h('span', { class: 'chip chip-queued', 'data-testid': 'pricing-pending', t: 'pricing.notSent', hidden: !waiting.has(finding.id) });
  const sendBtn = h('button', { type: 'submit', class: 'btn btn-primary btn-xl', 'data-testid': 'pricing-send', t: 'pricing.send' });

  const currentRate = () => labourRate(ctx);
  function autoLabour() {
    const hrs = parseHours(hours.value);
    if (!labourEdited) labour.value = hrs == null ? '' : (Math.round((Math.round(hrs * 60) * currentRate()) / 60) / 100).toFixed(2);
  }
  function partRows() {
    return [...lines.querySelectorAll('[data-testid="pricing-part"]')].map((row) => ({
      name: row.querySelector('[name="name"]').value.trim(),
      part_number: row.querySelector('[name="part_number"]').value.trim(),
      quantity: Number(row.querySelector('[name="quantity"]').value),
      unit_price_fen: parseFen(row.querySelector('[name="unit_price"]').value),
      row,
    }));
  }
  function showTotal() {
    let sum = parseFen(labour.value) ?? 0;
    for (const p of partRows()) {
      const line = Number.isInteger(p.quantity) && p.unit_price_fen != null ? p.quantity * p.unit_price_fen : 0;
      p.row.querySelector('[data-testid="pricing-line"]').textContent = line ? formatFen(line) : '';
      sum += line;
    }
    setText(total, 'pricing.total', { total: formatFen(sum) });
  }
  function addPart() {
    const input = (name, key, extra = {}) => h('input', { class: 'input', name, tattrs: { 'aria-label': key, placeholder: key }, ...extra });
    const row = h(
      'div',
      { class: 'pricing-part', 'data-testid': 'pricing-part' },
      input('name', 'pricing.partName', { maxlength: 120, 'data-testid': 'part-name' }),
      input('part_number', 'pricing.partNumber', { maxlength: 40, 'data-testid': 'part-number' }),
      input('quantity', 'pricing.quantity', { inputmode: 'numeric', value: '1', class: 'input input-num', 'data-testid': 'part-quantity' }),
      input('unit_price', 'pricing.unitPrice', { inputmode: 'decimal', class: 'input input-num', 'data-testid': 'part-price' }),
      h('span', { class: 'pricing-line', 'data-testid': 'pricing-line' }),
      h('button', {
        type: 'button',
        class: 'btn btn-ghost',
        'data-testid': 'part-remove',
        tattrs: { 'aria-label': 'pricing.removePart' },
        onclick: () => {
          row.remove();
          showTotal();
        },
      }, '×'),
    );
    lines.append(row);
    row.querySelector('input').focus();
  }
  hours.addEventListener('input', () => {
    autoLabour();
    showTotal();
  });
  labour.addEventListener('input', () => {
    labourEdited = labour.value.trim() !== '';
    showTotal();
  });
  lines.addEventListener('input', showTotal);

  const form = h(
    'form',
    { class: 'pricing-form', novalidate: true, 'data-testid': 'pricing-form', 'data-finding': finding.id },
    h('p', { class: 'pricing-finding' }, h('strong', {}, finding.text), ' ', pendingMark),
    finding.created_by?.name ? h('p', { class: 'muted', t: 'pricing.foundBy', tp: { name: finding.created_by.name } }) : null,
    (finding.photos || []).length
      ? h('div', { class: 'photo-row' }, finding.photos.map((p) => h('a', { href: p.url, target: '_blank', rel: 'noopener', class: 'photo-tile' }, h('img', { src: p.thumb_url, alt: '', loading: 'lazy' }))))
      : null,
    banner,
    h('label', { class: 'field-label', t: 'pricing.words' }),
    words,
    h('div', { class: 'pricing-labour' },
      h('label', { class: 'field' }, h('span', { class: 'field-label', t: 'pricing.hours' }), hours),
      rateNote,
      h('label', { class: 'field' }, h('span', { class: 'field-label', t: 'pricing.labour' }), labour)),
    h('p', { class: 'field-label', t: 'pricing.parts' }),
    lines,
    h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'pricing-add-part', t: 'pricing.addPart', onclick: addPart }),
    total,
    h('div', { class: 'dialog-actions' }, sendBtn),
  );

  function refresh() {
    setText(rateNote, 'pricing.rate', { rate: formatFen(currentRate()) });
    pendingMark.hidden = !waiting.has(finding.id);
    autoLabour();
    showTotal();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (sending) return;
    clearError(banner);
    const text = words.value.trim();
    const hrs = parseHours(hours.value);
    const labourFen = parseFen(labour.value);
    const parts = partRows().filter((p) => p.name || p.part_number || p.row.querySelector('[name="unit_price"]').value.trim());
    let problem = null;
    if (!text) problem = 'pricing.needWords';
    else if (hrs == null) problem = 'pricing.needHours';
    else if (labourFen == null) problem = 'pricing.badLabour';
    else if (parts.some((p) => !p.name || !Number.isInteger(p.quantity) || p.quantity < 1 || p.unit_price_fen == null)) problem = 'pricing.badPart';
    if (problem) {
      showError(banner, { key: problem });
      return;
    }
    const body = {
      customer_text: text,
      labour_hours: hrs,
      labour_fen: labourFen,
      parts: parts.map(({ name, part_number, quantity, unit_price_fen }) => ({ name, part_number, quantity, unit_price_fen })),
    };
    const serial = JSON.stringify(body);
    if (!attempt || attempt.body !== serial) {
      attempt = {
        body: serial,
        act: action([
          {
            path: `/api/findings/${finding.id}/recommend`,
            body,
            subject: `ro:${ro.id}`,
            label: { key: 'outbox.what.pricing', params: {} },
            meta: { kind: 'pricing', roId: ro.id, findingId: finding.id },
          },
        ]),
      };
    }
    sending = true;
    sendBtn.disabled = true;
    try {
      await send(attempt.act, { waitMs: 4000 });
      toast('pricing.sent', {}, 'ok');
      waiting.delete(finding.id);
    } catch (err) {
      if (err.queued) {
        waiting.add(finding.id);
        toast('pricing.savedHere', {}, 'info');
      } else {
        attempt = null; // refused while the advisor is here: the next send is a new request
        if (err.status !== 401) showError(banner, err);
      }
    } finally {
      sending = false;
      sendBtn.disabled = false;
      refresh();
    }
  });

  clear(lines);
  forms.set(finding.id, { el: form, refresh });
  refresh();
  return form;
}
