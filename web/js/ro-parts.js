// Parts lines (配件) on the repair-order detail (placed by web/js/ro-detail.js after the jobs): each
// job's parts with their state and a button for the next step — Ordered (with the expected time),
// Arrived, Fitted — and a line to add. Every change goes through the outbox; the detail re-renders
// from the live event once the server has it, and meanwhile the line says "not sent yet".
import { action, send } from './action.js';
import { h, timeEl, toast } from './dom.js';
import { getShopTimeZone } from './i18n.js';
import { formBanner, showError, clearError } from './forms.js';
import { formatFen, parseFen } from './money.js';
import { NOT_WORK, allowed } from './domain.js';
import { toInputs, zonedToIso } from './time.js';

const waiting = new Map(); // part id (or `job:<id>` for a new line) → what is on this tablet, not yet on the server
const open = new Map(); // `order:<part id>` / `add:<job id>` → the inline form element (kept across re-renders)

export function section(ro, ctx) {
  const role = ctx?.state?.user?.role;
  const mayEdit = allowed(role, 'part.edit');
  // part.fit: the office and the floor (api/policy.py); domain.js has no row of its own for it.
  const mayFit = mayEdit || allowed(role, 'me.jobs');
  const jobs = (ro?.jobs || []).filter((j) => j.state !== 'declined' && (j.parts?.length || mayEdit));
  if (!jobs.length) return null;
  const refresh = () => ctx?.refresh?.();
  return h(
    'section',
    { class: 'card ro-parts', 'data-testid': 'ro-parts' },
    h('h2', { t: 'parts.title' }),
    ...jobs.map((job) =>
      h(
        'div',
        { class: 'parts-job', 'data-testid': 'parts-job', 'data-job': job.id },
        h('h3', {}, job.customer_text || job.title),
        job.parts?.length
          ? h('ul', { class: 'parts-list' }, job.parts.map((p) => partRow(p, job, { mayEdit, mayFit, refresh })))
          : h('p', { class: 'muted', t: 'parts.none' }),
        mayEdit ? addLine(job, ro, refresh) : null,
      ),
    ),
  );
}

async function submit(path, body, meta, label, banner) {
  const act = action([{ path, body, subject: meta.subject, label, meta }]);
  try {
    await send(act, { waitMs: 4000 });
    waiting.delete(meta.key);
    return true;
  } catch (err) {
    if (err.queued) {
      waiting.set(meta.key, meta);
      toast('parts.savedHere', {}, 'info');
      return true;
    }
    if (err.status !== 401) {
      if (banner) showError(banner, err);
      else toast('error.unexpected', {}, 'error');
    }
    return false;
  }
}

function partRow(part, job, { mayEdit, mayFit, refresh }) {
  if (waiting.get(part.id)?.state === part.state) waiting.delete(part.id); // the server has it now
  const banner = formBanner();
  const label = { key: 'outbox.what.part', params: { name: part.name } };
  const meta = (state) => ({ kind: 'part', key: part.id, partId: part.id, jobId: job.id, state, subject: `job:${job.id}` });
  const move = async (state, extra = {}) => {
    clearError(banner);
    if (await submit(`/api/parts/${part.id}`, { state, ...extra }, meta(state), label, banner)) refresh();
  };
  const buttons = [];
  if (mayEdit && part.state === 'needed') {
    buttons.push(h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'part-order', t: 'parts.ordered', onclick: () => toggleOrder(part, row, move) }));
  }
  if (mayEdit && (part.state === 'needed' || part.state === 'ordered')) {
    buttons.push(h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'part-arrived', t: 'parts.arrived', onclick: () => move('arrived') }));
  }
  if (mayFit && part.state === 'arrived' && !NOT_WORK.has(job.state)) {
    buttons.push(
      h('button', {
        type: 'button',
        class: 'btn btn-primary',
        'data-testid': 'part-fitted',
        t: 'parts.fitted',
        onclick: async () => {
          clearError(banner);
          if (await submit(`/api/parts/${part.id}/fitted`, undefined, meta('fitted'), label, banner)) refresh();
        },
      }),
    );
  }
  const row = h(
    'li',
    { class: 'part-line', 'data-testid': 'part-line', 'data-part': part.id, 'data-state': part.state },
    h('span', { class: 'part-name' }, part.name, part.part_number ? h('span', { class: 'muted' }, ` · ${part.part_number}`) : null),
    h('span', { class: 'part-qty' }, `× ${part.quantity}`),
    h('span', { class: 'part-price' }, formatFen(part.line_fen ?? part.quantity * part.unit_price_fen)),
    h('span', { class: ['chip', `part-${part.state}`], 'data-testid': 'part-state', t: `part.state.${part.state}` }),
    part.state === 'ordered' && part.expected_at
      ? h('span', { class: 'muted', 'data-testid': 'part-expected' }, timeEl(part.expected_at, 'smart'))
      : null,
    waiting.has(part.id) ? h('span', { class: 'chip chip-queued', 'data-testid': 'part-pending', t: 'parts.notSent' }) : null,
    h('span', { class: 'part-actions' }, buttons),
    banner,
  );
  const kept = open.get(`order:${part.id}`);
  if (kept && part.state === 'needed') row.append(kept);
  else open.delete(`order:${part.id}`);
  return row;
}

/** The expected time of an order: tomorrow 10:00 in the shop's time to start from. */
function toggleOrder(part, row, move) {
  const id = `order:${part.id}`;
  if (open.has(id)) {
    open.get(id).remove();
    open.delete(id);
    return;
  }
  const zone = getShopTimeZone();
  const start = toInputs(new Date(Date.now() + 86400000), zone);
  const date = h('input', { type: 'date', class: 'input', value: start.date, 'data-testid': 'part-expected-date', tattrs: { 'aria-label': 'parts.expected' } });
  const time = h('input', { type: 'time', class: 'input', value: '10:00', step: 60, 'data-testid': 'part-expected-time', tattrs: { 'aria-label': 'parts.expected' } });
  const banner = formBanner();
  const form = h(
    'div',
    { class: 'part-order', 'data-testid': 'part-order-form' },
    h('span', { class: 'field-label', t: 'parts.expected' }),
    date,
    time,
    h('button', {
      type: 'button',
      class: 'btn btn-primary',
      'data-testid': 'part-order-save',
      t: 'parts.confirmOrder',
      onclick: async () => {
        const at = date.value && time.value ? zonedToIso(date.value, time.value, zone) : null;
        if (!at) return showError(banner, { key: 'parts.needExpected' });
        open.delete(id);
        form.remove();
        await move('ordered', { expected_at: at });
      },
    }),
    banner,
  );
  open.set(id, form);
  row.append(form);
  date.focus();
}

function addLine(job, ro, refresh) {
  const id = `add:${job.id}`;
  const kept = open.get(id);
  if (kept) return kept;
  const name = h('input', { class: 'input', maxlength: 120, 'data-testid': 'new-part-name', tattrs: { 'aria-label': 'pricing.partName', placeholder: 'pricing.partName' } });
  const number = h('input', { class: 'input', maxlength: 40, 'data-testid': 'new-part-number', tattrs: { 'aria-label': 'pricing.partNumber', placeholder: 'pricing.partNumber' } });
  const qty = h('input', { class: 'input input-num', inputmode: 'numeric', value: '1', 'data-testid': 'new-part-quantity', tattrs: { 'aria-label': 'pricing.quantity' } });
  const price = h('input', { class: 'input input-num', inputmode: 'decimal', 'data-testid': 'new-part-price', tattrs: { 'aria-label': 'pricing.unitPrice', placeholder: 'pricing.unitPrice' } });
  const banner = formBanner();
  const form = h(
    'form',
    { class: 'part-add', novalidate: true, 'data-testid': 'part-add', 'data-job': job.id },
    name,
    number,
    qty,
    price,
    h('button', { type: 'submit', class: 'btn btn-secondary', 'data-testid': 'new-part-save', t: 'parts.add' }),
    banner,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError(banner);
    const quantity = Number(qty.value);
    const unit = parseFen(price.value);
    if (!name.value.trim() || !Number.isInteger(quantity) || quantity < 1 || unit == null) {
      return showError(banner, { key: 'pricing.badPart' });
    }
    const body = { name: name.value.trim(), part_number: number.value.trim(), quantity, unit_price_fen: unit };
    const meta = { kind: 'part', key: `job:${job.id}`, jobId: job.id, roId: ro.id, subject: `job:${job.id}` };
    if (await submit(`/api/jobs/${job.id}/parts`, body, meta, { key: 'outbox.what.part', params: { name: body.name } }, banner)) {
      name.value = '';
      number.value = '';
      qty.value = '1';
      price.value = '';
      refresh();
    }
  });
  open.set(id, form);
  return form;
}
