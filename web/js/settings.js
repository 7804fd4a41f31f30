// The shop's settings, for managers: name and contact details printed on the settlement, opening
// hours, labour rate, tax, the discount a manager must approve, the ready rule and the next-service
// defaults. A save goes through the outbox (PUT /api/shop/settings) with only what was changed, so a
// save that waits on the tablet never undoes what another manager changed meanwhile. Other tablets
// take the new settings from shop.updated (web/js/app.js); this form follows them too while untouched.
import { get } from './api.js';
import { action, send } from './action.js';
import { clear, h, toast } from './dom.js';
import { clearError, clearFieldErrors, field, formBanner, showBannerErrors, showError, showFieldErrors } from './forms.js';
import { onLiveEvent } from './live.js';
import { formatFen, parseFen } from './money.js';

const DAYS = [1, 2, 3, 4, 5, 6, 7];

/** Basis points → "13" / "6.5" (what a person reads as a percentage). */
export function bpToPercent(bp) {
  if (bp == null || !Number.isFinite(Number(bp))) return '';
  return String(Number(bp) / 100);
}

/** "13", "6.5", "13 %" → basis points (1300, 650), or null when it is not a percentage with at most two decimals. */
export function percentToBp(text) {
  const m = /^(\d{1,5})(?:[.。](\d{0,2}))?$/.exec(String(text ?? '').replace(/[%％\s]/g, ''));
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
}

const fenInput = (fen) => (fen == null ? '' : formatFen(fen).replace('¥', '').replace(/,/g, ''));

export function render(view) {
  const page = h('div', { class: 'page settings-page', 'data-testid': 'settings' });
  view.append(page);
  let shop = null;
  let dirty = false;
  let attempt = null;
  let sending = false;

  const input = (name, extra = {}) => h('input', { class: 'input', name, 'data-path': name, 'data-testid': `settings-${name}`, ...extra });
  const controls = {
    name: input('name', { maxlength: 120, required: true }),
    language: h(
      'select',
      { class: 'input', name: 'language', 'data-path': 'language', 'data-testid': 'settings-language' },
      h('option', { value: 'zh-CN' }, '中文'),
      h('option', { value: 'en' }, 'English'),
    ),
    address: input('address', { maxlength: 200 }),
    phone: input('phone', { maxlength: 32, type: 'tel' }),
    tax_id: input('tax_id', { maxlength: 40 }),
    opens: input('opens', { type: 'time', step: 300 }),
    closes: input('closes', { type: 'time', step: 300 }),
    labour_rate_fen: input('labour_rate_fen', { inputmode: 'decimal' }),
    tax_rate_bp: input('tax_rate_bp', { inputmode: 'decimal' }),
    discount_threshold_fen: input('discount_threshold_fen', { inputmode: 'decimal' }),
    next_service_months: input('next_service_months', { type: 'number', min: 0, max: 60, step: 1 }),
    next_service_km: input('next_service_km', { type: 'number', min: 0, max: 100000, step: 500 }),
  };
  const days = DAYS.map((d) => h('input', { type: 'checkbox', name: 'open_days', value: String(d), 'data-testid': `settings-day-${d}` }));
  const daysBox = h(
    'fieldset',
    { class: 'fieldset settings-days', 'data-path': 'open_days' },
    h('legend', { class: 'field-label', t: 'settings.openDays' }),
    DAYS.map((d, i) => h('label', { class: 'check' }, days[i], h('span', { t: `settings.day${d}` }))),
  );
  const ready = ['manual', 'auto'].map((v) => h('input', { type: 'radio', name: 'ready_rule', value: v, 'data-testid': `settings-ready-${v}` }));
  const readyBox = h(
    'fieldset',
    { class: 'fieldset', 'data-path': 'ready_rule' },
    h('legend', { class: 'field-label', t: 'settings.readyRule' }),
    ready.map((r) => h('label', { class: 'check' }, r, h('span', { t: `settings.ready.${r.value}` }))),
  );

  const banner = formBanner();
  const note = h('p', { class: 'form-banner info', role: 'status', hidden: true, 'data-testid': 'settings-note' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', t: 'settings.save', 'data-testid': 'settings-save' });
  const form = h(
    'form',
    { class: 'settings-form', novalidate: true },
    banner,
    note,
    h('h2', { t: 'settings.shopSection' }),
    field('settings.name', controls.name),
    field('settings.language', controls.language),
    field('settings.address', controls.address, { optional: true, hintKey: 'settings.printedHint' }),
    h('div', { class: 'grid-2' }, field('settings.phone', controls.phone, { optional: true }), field('settings.taxId', controls.tax_id, { optional: true })),
    h('h2', { t: 'settings.hoursSection' }),
    h('div', { class: 'grid-2' }, field('settings.opens', controls.opens), field('settings.closes', controls.closes)),
    daysBox,
    h('h2', { t: 'settings.moneySection' }),
    field('settings.labourRate', controls.labour_rate_fen, { hintKey: 'settings.labourRateHint' }),
    field('settings.taxRate', controls.tax_rate_bp, { hintKey: 'settings.taxRateHint' }),
    field('settings.discountThreshold', controls.discount_threshold_fen, { hintKey: 'settings.discountThresholdHint' }),
    h('h2', { t: 'settings.workshopSection' }),
    readyBox,
    h('div', { class: 'grid-2' }, field('settings.nextMonths', controls.next_service_months, { hintKey: 'settings.nextMonthsHint' }), field('settings.nextKm', controls.next_service_km, { hintKey: 'settings.nextKmHint' })),
    h('div', { class: 'form-actions' }, save),
  );
  form.addEventListener('input', () => {
    dirty = true;
  });

  const links = h(
    'aside',
    { class: 'settings-links card' },
    h('h2', { t: 'settings.teamTitle' }),
    h('p', { t: 'settings.teamHint' }),
    h('a', { class: 'btn btn-secondary', href: '#/staff', t: 'settings.teamLink', 'data-testid': 'settings-team-link' }),
    h('h2', { t: 'settings.adminTitle' }),
    h('p', { t: 'settings.adminHint' }),
    h('a', { class: 'btn btn-ghost', href: '/admin/', t: 'settings.adminLink', 'data-testid': 'settings-admin-link' }),
  );
  const loadError = h('p', { class: 'form-banner', role: 'alert', hidden: true });
  page.append(h('header', { class: 'page-head' }, h('h1', { t: 'settings.title' })), loadError, h('div', { class: 'settings-layout' }, form, links));

  function fill(s) {
    shop = s;
    controls.name.value = s.name || '';
    controls.language.value = s.language === 'en' ? 'en' : 'zh-CN';
    controls.address.value = s.address ?? '';
    controls.phone.value = s.phone ?? '';
    controls.tax_id.value = s.tax_id ?? '';
    controls.opens.value = s.hours?.opens || '';
    controls.closes.value = s.hours?.closes || '';
    const open = new Set(s.hours?.days || []);
    days.forEach((box, i) => (box.checked = open.has(DAYS[i])));
    controls.labour_rate_fen.value = fenInput(s.labour_rate_fen);
    controls.tax_rate_bp.value = bpToPercent(s.tax_rate_bp);
    controls.discount_threshold_fen.value = fenInput(s.discount_threshold_fen);
    ready.forEach((r) => (r.checked = r.value === (s.ready_rule || 'manual')));
    controls.next_service_months.value = s.next_service_months ?? '';
    controls.next_service_km.value = s.next_service_km ?? '';
    dirty = false;
  }

  /** What the form says, as the API takes it; {errors} for what cannot be read. */
  function read() {
    const errors = [];
    const out = {
      name: controls.name.value.trim(),
      language: controls.language.value,
      address: controls.address.value.trim(),
      phone: controls.phone.value.trim(),
      tax_id: controls.tax_id.value.trim(),
      opens: controls.opens.value,
      closes: controls.closes.value,
      open_days: days.filter((b) => b.checked).map((b) => b.value).join(''),
      ready_rule: ready.find((r) => r.checked)?.value || 'manual',
    };
    if (!out.name) errors.push({ field: 'name', message: { key: 'settings.needName' } });
    if (!out.open_days) errors.push({ field: 'open_days', message: { key: 'settings.needDays' } });
    for (const name of ['labour_rate_fen', 'discount_threshold_fen']) {
      const text = controls[name].value.trim();
      if (/^-/.test(text)) errors.push({ field: name, code: 'shop.negative', message: { key: 'error.code.shop.negative' } });
      else if ((out[name] = parseFen(text)) == null) errors.push({ field: name, message: { key: 'settings.badAmount' } });
    }
    const tax = controls.tax_rate_bp.value.trim();
    out.tax_rate_bp = percentToBp(tax);
    if (out.tax_rate_bp == null) errors.push({ field: 'tax_rate_bp', message: { key: /^-/.test(tax) ? 'error.code.shop.negative' : 'settings.badPercent' } });
    for (const name of ['next_service_months', 'next_service_km']) {
      const text = controls[name].value.trim();
      out[name] = /^\d{1,7}$/.test(text) ? Number(text) : null;
      if (out[name] == null) errors.push({ field: name, message: { key: /^-/.test(text) ? 'error.code.shop.negative' : 'settings.badWhole' } });
    }
    return { body: out, errors };
  }

  /** Only what differs from the settings as loaded. */
  function changes(body) {
    const before = {
      ...shop,
      opens: shop.hours?.opens,
      closes: shop.hours?.closes,
      open_days: (shop.hours?.days || []).join(''),
    };
    return Object.fromEntries(Object.entries(body).filter(([k, v]) => v !== (before[k] ?? (typeof v === 'string' ? '' : null))));
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (sending || !shop) return;
    clearError(banner);
    note.hidden = true;
    clearFieldErrors(form);
    const { body, errors } = read();
    if (errors.length) {
      const rest = showFieldErrors(form, errors);
      if (rest.length) showBannerErrors(banner, rest);
      return;
    }
    const changed = changes(body);
    if (!Object.keys(changed).length) {
      toast('settings.nothingChanged', {}, 'info');
      return;
    }
    const serial = JSON.stringify(changed);
    if (!attempt || attempt.body !== serial) {
      attempt = {
        body: serial,
        act: action([{ method: 'PUT', path: '/api/shop/settings', body: changed, subject: 'shop', label: { key: 'outbox.what.settings', params: {} } }]),
      };
    }
    sending = true;
    save.disabled = true;
    try {
      const saved = await send(attempt.act, { waitMs: 4000 });
      attempt = null;
      if (saved) fill(saved);
      toast('settings.saved', {}, 'ok');
    } catch (err) {
      if (err.queued) {
        toast('settings.savedHere', {}, 'info');
        return;
      }
      attempt = null;
      // A refusal about one field (a negative amount, a closing time before the opening) goes next to it.
      const rest = err.errors?.length ? showFieldErrors(form, err.errors) : [];
      if (rest.length) showBannerErrors(banner, rest);
      else if (!err.errors?.length) showError(banner, err);
    } finally {
      sending = false;
      save.disabled = false;
    }
  });

  async function load() {
    clearError(loadError);
    try {
      fill(await get('/api/shop'));
    } catch (err) {
      showError(loadError, err);
    }
  }

  // Another manager (or /admin) saved: an untouched form shows it; a form being edited says so.
  const offLive = onLiveEvent((m) => {
    if (m.type !== 'shop.updated' || !m.data?.shop) return;
    if (!dirty) return fill({ ...shop, ...m.data.shop });
    shop = { ...shop, ...m.data.shop };
    note.hidden = false;
    clear(note);
    note.append(h('span', { t: 'settings.changedElsewhere' }), ' ', h('button', { type: 'button', class: 'btn btn-link', t: 'settings.showTheirs', onclick: () => {
      note.hidden = true;
      fill(shop);
    } }));
  });

  load();
  return () => offLive();
}
