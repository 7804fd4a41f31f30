// New repair order, filled in while walking round the car with the customer. Built for one hand
// on a tablet: big controls, numeric keypads where numbers go, submit always within thumb reach.
// It is sent through the outbox: with the Wi-Fi down the repair order is kept on this tablet and
// sent by itself; its number and the customer's status link only exist once the server has it.
import { action, send } from './action.js';
import { get } from './api.js';
import { formatFen } from './money.js';
import { entryError, onOutbox } from './outbox.js';
import { h, clear, setText, toast, copyText, timeEl } from './dom.js';
import { getLang, getShopTimeZone, t } from './i18n.js';
import { shopDate, zonedToIso } from './time.js';
import { afterOpenHours } from './hours.js';
import { promiseChips } from './promise.js';
import { field, formBanner, showError, clearError, showFieldErrors, clearFieldErrors, clearFieldError, showBannerErrors } from './forms.js';

const FUEL_LABELS = ['E', '1/8', '1/4', '3/8', '1/2', '5/8', '3/4', '7/8', 'F'];
const VIN_LENGTH = 17;
const VIN_BAD = /[IOQ]/; // never used in VINs: too easy to confuse with 1 and 0

export function render(root, ctx) {
  const zone = getShopTimeZone();
  let fuel = null;
  let sending = false;
  let dirty = false;
  // One outbox action (one Idempotency-Key) per distinct body: a double tap sends it once; an
  // edited form, or a save after the server refused it, is a new action.
  let attempt = null;
  let offOutbox = () => {};
  // A returning customer (issue 13, item 3): the known vehicle and customer picked, their last mileage.
  let known = null; // {vehicleId, customerId, plate, lastMileage}
  let technicians = []; // who a job can be given to at write-up (GET /api/technicians)
  let gone = false;

  const input = (name, extra = {}) => h('input', { name, 'data-path': name, class: 'input', ...extra });

  // --- customer ---
  const custName = input('customer.name', { autocomplete: 'off', maxlength: 120, required: true });
  const phone = input('customer.phone', { type: 'tel', inputmode: 'tel', autocomplete: 'off', maxlength: 32, required: true });
  const custLang = segmented('customer.language', [
    { value: 'zh-CN', label: '中文' },
    { value: 'en', label: 'English' },
  ], ctx.state.shop?.language === 'en' || ctx.state.shop?.language === 'zh-CN' ? ctx.state.shop.language : getLang());

  // --- vehicle ---
  const plate = input('vehicle.plate', { class: 'input input-plate', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', maxlength: 16, required: true });
  const vin = input('vehicle.vin', { class: 'input input-mono', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', maxlength: VIN_LENGTH });
  const vinHint = h('p', { class: 'field-hint', 'aria-live': 'polite', t: 'newro.vinHint' });
  const make = input('vehicle.make', { autocomplete: 'off', maxlength: 60 });
  const model = input('vehicle.model', { autocomplete: 'off', maxlength: 60 });
  const year = input('vehicle.year', { inputmode: 'numeric', pattern: '[0-9]*', maxlength: 4, autocomplete: 'off' });
  const color = input('vehicle.color', { autocomplete: 'off', maxlength: 40 });

  // --- check-in ---
  const mileage = input('mileage', { inputmode: 'numeric', pattern: '[0-9]*', maxlength: 7, autocomplete: 'off', required: true });
  const fuelGroup = h('div', { class: 'fuel', role: 'group', 'data-path': 'fuel_level', tattrs: { 'aria-label': 'newro.fuel' } });
  const fuelButtons = FUEL_LABELS.map((label, eighths) =>
    h(
      'button',
      { type: 'button', class: 'fuel-btn', 'data-testid': 'fuel-button', 'data-eighths': eighths, 'aria-pressed': 'false', onclick: () => setFuel(eighths) },
      fuelTank(eighths),
      h('span', { class: 'fuel-label' }, label),
    ),
  );
  fuelGroup.append(...fuelButtons);

  // --- concerns & jobs ---
  const concernList = h('ol', { class: 'rows concern-rows' });
  const jobList = h('div', { class: 'rows job-rows' });

  // --- promise: by default three opening hours ahead; the quick choices keep inside opening hours ---
  const shopHours = ctx.state.shop?.hours;
  const initial = afterOpenHours(3, { zone, shopHours, now: new Date() });
  const pDate = input('promised_date', { type: 'date', value: initial.date, min: shopDate(zone), required: true, 'data-path': 'promised_at' });
  const pTime = input('promised_time', { type: 'time', value: initial.time, step: 900, required: true });
  const quick = promiseChips({
    shopHours,
    onPick: (v) => {
      pDate.value = v.date;
      pTime.value = v.time;
      clearFieldError(pDate);
      dirty = true;
    },
  });

  const knownBox = h('div', { class: 'known-box', 'data-testid': 'known-box', 'aria-live': 'polite' });
  const lastMileage = h('p', { class: 'field-hint', 'data-testid': 'last-mileage', hidden: true });
  const lowerBox = h('input', { type: 'checkbox', name: 'mileage_confirmed', 'data-testid': 'mileage-confirm' });
  const lowerRow = h('label', { class: 'check-row mileage-lower', hidden: true }, lowerBox, ' ', h('span', { class: 'lower-text' }));
  const carryBox = h('div', { class: 'carry-box', 'data-testid': 'carry-box', hidden: true });

  const banner = formBanner();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-lg', 'data-testid': 'submit-ro' }, h('span', { t: 'newro.submit' }));
  const cancel = h('button', { type: 'button', class: 'btn btn-ghost btn-lg', t: 'common.cancel', onclick: leave });

  const form = h(
    'form',
    { class: 'form new-ro-form', 'data-testid': 'new-ro-form', novalidate: true, autocomplete: 'off' },
    h('header', { class: 'page-head' }, h('h1', { t: 'newro.title' })),
    banner,
    knownBox,
    section(
      'newro.customerSection',
      h('div', { class: 'grid-2' }, field('newro.customerName', custName), field('newro.phone', phone)),
      field('newro.customerLanguage', custLang, { hintKey: 'newro.customerLanguageHint' }),
    ),
    section(
      'newro.vehicleSection',
      h('div', { class: 'grid-2' }, field('newro.plate', plate), field('newro.vin', vin, { optional: true })),
      h('div', { class: 'grid-4' }, field('newro.make', make, { optional: true }), field('newro.model', model, { optional: true }), field('newro.year', year, { optional: true }), field('newro.color', color, { optional: true })),
    ),
    section(
      'newro.checkinSection',
      field('newro.mileage', mileage, { hintKey: 'newro.mileageHint', className: 'field-mileage' }),
      lastMileage,
      lowerRow,
      h('div', { class: 'field fieldset-inline' }, h('span', { class: 'field-label', t: 'newro.fuel' }), fuelGroup),
    ),
    section(
      'newro.concernsSection',
      h('p', { class: 'field-hint', t: 'newro.concernsHint' }),
      concernList,
      h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'add-concern', onclick: () => addConcern(true) }, h('span', { 'aria-hidden': 'true' }, '+ '), h('span', { t: 'newro.addConcern' })),
    ),
    section(
      'newro.jobsSection',
      h('p', { class: 'field-hint', t: 'newro.jobsHint' }),
      carryBox,
      jobList,
      h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'add-job', onclick: () => addJob(true) }, h('span', { 'aria-hidden': 'true' }, '+ '), h('span', { t: 'newro.addJob' })),
    ),
    section(
      'newro.promiseSection',
      h('div', { class: 'grid-2' }, field('newro.promisedDate', pDate), field('newro.promisedTime', pTime)),
      quick.el,
      h('p', { class: 'field-hint', t: 'newro.shopTime', tp: { zone } }),
    ),
    h('div', { class: 'action-bar' }, cancel, submit),
  );

  const page = h('div', { class: 'page page-form' }, form);
  root.append(page);

  // ---------- behaviour ----------

  function setFuel(eighths) {
    fuel = fuel === eighths ? null : eighths; // tapping the chosen level again clears it
    fuelButtons.forEach((b, i) => {
      b.setAttribute('aria-pressed', String(i === fuel));
    });
    clearFieldError(fuelGroup);
    dirty = true;
  }

  function upper(el) {
    // Keep the caret where it was: a jumping caret makes correcting one character painful.
    const pos = el.selectionStart;
    el.value = el.value.toUpperCase();
    if (pos !== null) el.setSelectionRange(pos, pos);
  }
  plate.addEventListener('input', () => upper(plate));
  vin.addEventListener('input', () => {
    const pos = vin.selectionStart;
    vin.value = vin.value.toUpperCase().replace(/[^A-Z0-9]/g, '');
    if (pos !== null) vin.setSelectionRange(Math.min(pos, vin.value.length), Math.min(pos, vin.value.length));
    paintVinHint();
  });
  for (const el of [mileage, year]) el.addEventListener('input', () => (el.value = el.value.replace(/\D/g, '')));

  function paintVinHint() {
    const v = vin.value;
    vinHint.classList.remove('hint-ok', 'hint-bad');
    if (!v) return setText(vinHint, 'newro.vinHint');
    if (VIN_BAD.test(v)) {
      vinHint.classList.add('hint-bad');
      return setText(vinHint, 'newro.vinBadChars');
    }
    if (v.length === VIN_LENGTH) {
      vinHint.classList.add('hint-ok');
      return setText(vinHint, 'newro.vinComplete');
    }
    setText(vinHint, 'newro.vinCount', { count: v.length, total: VIN_LENGTH });
  }
  vin.closest('.field').append(vinHint);

  function renumber() {
    // Server error paths are positional (jobs.0.title), so keep data-path in step with the rows.
    [...concernList.children].forEach((row, i) => {
      row.querySelector('[name="concern"]').dataset.path = `concerns.${i}`;
    });
    [...jobList.children].forEach((row, i) => {
      row.querySelector('[name="job.title"]').dataset.path = `jobs.${i}.title`;
      row.querySelector('[name="job.hours"]').dataset.path = `jobs.${i}.estimated_hours`;
      row.querySelector('[name="job.price"]').dataset.path = `jobs.${i}.price`;
      row.querySelector('[name="job.technician"]').dataset.path = `jobs.${i}.technician_id`;
      row.querySelector('.row-index').textContent = String(i + 1);
    });
  }

  function addConcern(focus) {
    const text = h('textarea', { name: 'concern', class: 'input', rows: 2, maxlength: 500, tattrs: { placeholder: 'newro.concernPlaceholder', 'aria-label': 'newro.concern' } });
    const row = h(
      'li',
      { class: 'row-item concern-row' },
      text,
      removeButton(() => {
        row.remove();
        if (!concernList.children.length) addConcern(false);
        renumber();
      }),
    );
    concernList.append(row);
    renumber();
    if (focus) text.focus();
  }

  function addJob(focus, preset = null) {
    const title = h('input', { name: 'job.title', class: 'input', maxlength: 200, autocomplete: 'off', tattrs: { placeholder: 'newro.jobTitlePlaceholder', 'aria-label': 'newro.jobTitle' } });
    const hours = h('input', { name: 'job.hours', class: 'input', inputmode: 'decimal', autocomplete: 'off', maxlength: 6, tattrs: { placeholder: 'newro.hoursShort', 'aria-label': 'newro.hours' } });
    const price = h('input', { name: 'job.price', class: 'input', inputmode: 'decimal', autocomplete: 'off', maxlength: 10, tattrs: { placeholder: 'newro.priceShort', 'aria-label': 'newro.price' } });
    const tech = technicianSelect();
    const row = h(
      'div',
      { class: 'row-item job-row', 'data-carried': preset?.carried ?? null },
      h('span', { class: 'row-index', 'aria-hidden': 'true' }),
      h('div', { class: 'job-title' }, title),
      h('div', { class: 'job-num' }, h('span', { class: 'unit', t: 'newro.hoursUnit' }), hours),
      h('div', { class: 'job-num' }, h('span', { class: 'unit', t: 'newro.priceUnit' }), price),
      h('div', { class: 'job-tech' }, tech),
      removeButton(() => {
        row.remove();
        renumber();
        if (preset?.onRemove) preset.onRemove();
      }),
    );
    if (preset) {
      title.value = preset.title;
      hours.value = preset.hours;
      price.value = preset.price;
    }
    for (const el of [hours, price]) el.addEventListener('input', () => (el.value = el.value.replace(',', '.').replace(/[^\d.]/g, '')));
    jobList.append(row);
    renumber();
    if (focus) title.focus();
  }

  function removeButton(onRemove) {
    return h(
      'button',
      { type: 'button', class: 'btn btn-icon remove-row', tattrs: { 'aria-label': 'common.remove', title: 'common.remove' }, onclick: () => { onRemove(); dirty = true; } },
      h('span', { 'aria-hidden': 'true' }, '×'),
    );
  }

  function leave() {
    if (dirty && !sending && !window.confirm(t('newro.discard'))) return;
    ctx.go('#/today');
  }

  form.addEventListener('input', (e) => {
    dirty = true;
    clearFieldError(e.target);
    if (e.target === pTime) clearFieldError(pDate);
  });

  // ---------- validation & submit ----------

  function collect() {
    const problems = [];
    const req = (el, path) => {
      if (!el.value.trim()) problems.push({ field: path, message: { key: 'form.required' } });
    };
    req(custName, 'customer.name');
    req(phone, 'customer.phone');
    req(plate, 'vehicle.plate');
    req(mileage, 'mileage');
    if (isLower() && !lowerBox.checked) {
      problems.push({ field: 'mileage', message: { key: 'newro.mileageLower', params: { km: km(known.lastMileage) } } });
    }
    if (vin.value && (vin.value.length !== VIN_LENGTH || VIN_BAD.test(vin.value))) {
      problems.push({ field: 'vehicle.vin', message: { key: VIN_BAD.test(vin.value) ? 'newro.vinBadChars' : 'newro.vinLength' } });
    }
    const nextYear = new Date().getFullYear() + 1;
    if (year.value && (Number(year.value) < 1900 || Number(year.value) > nextYear)) {
      problems.push({ field: 'vehicle.year', message: { key: 'newro.yearRange', params: { max: nextYear } } });
    }

    const promisedAt = pDate.value && pTime.value ? zonedToIso(pDate.value, pTime.value, zone) : null;
    if (!promisedAt) problems.push({ field: 'promised_at', message: { key: 'form.required' } });
    else if (Date.parse(promisedAt) < Date.now() - 60000) problems.push({ field: 'promised_at', message: { key: 'newro.promiseInPast' } });

    const concerns = [...concernList.querySelectorAll('[name="concern"]')].map((el) => el.value.trim()).filter(Boolean);

    const jobs = [];
    [...jobList.children].forEach((row) => {
      const title = row.querySelector('[name="job.title"]');
      const hours = row.querySelector('[name="job.hours"]');
      const price = row.querySelector('[name="job.price"]');
      if (!title.value.trim() && !hours.value.trim() && !price.value.trim()) return; // blank row: ignore
      if (!title.value.trim()) problems.push({ field: title.dataset.path, message: { key: 'form.required' } });
      const h_ = Number(hours.value);
      if (!hours.value.trim() || !Number.isFinite(h_) || h_ < 0) problems.push({ field: hours.dataset.path, message: { key: 'newro.hoursNeeded' } });
      const p_ = Number(price.value);
      if (price.value.trim() && (!Number.isFinite(p_) || p_ < 0)) problems.push({ field: price.dataset.path, message: { key: 'newro.priceInvalid' } });
      const job = { title: title.value.trim(), estimated_hours: h_ };
      if (price.value.trim()) job.price = p_;
      const tech = row.querySelector('[name="job.technician"]').value;
      if (tech) job.technician_id = Number(tech);
      if (row.dataset.carried) job.carried_from_job_id = Number(row.dataset.carried);
      jobs.push(job);
    });

    const vehicle = { plate: plate.value.trim() };
    if (vin.value) vehicle.vin = vin.value;
    if (make.value.trim()) vehicle.make = make.value.trim();
    if (model.value.trim()) vehicle.model = model.value.trim();
    if (year.value) vehicle.year = Number(year.value);
    if (color.value.trim()) vehicle.color = color.value.trim();

    const body = {
      customer: { name: custName.value.trim(), phone: phone.value.trim(), language: custLang.dataset.value },
      vehicle,
      mileage: Number(mileage.value),
      concerns,
      promised_at: promisedAt,
      jobs,
    };
    if (fuel !== null) body.fuel_level = fuel;
    if (known) {
      body.vehicle_id = known.vehicleId;
      body.customer_id = known.customerId;
      if (isLower() && lowerBox.checked) body.mileage_confirmed = true;
    }
    return { body, problems };
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (sending) return;
    clearFieldErrors(form);
    clearError(banner);
    const { body, problems } = collect();
    if (problems.length) return showFieldErrors(form, problems);

    const serial = JSON.stringify(body);
    if (!attempt || attempt.body !== serial) attempt = { act: newRoAction(body), body: serial };

    sending = true;
    submit.disabled = true;
    setText(submit.firstChild, 'newro.sending');
    form.setAttribute('aria-busy', 'true');
    try {
      const ro = await send(attempt.act, { waitMs: 5000 });
      dirty = false;
      showCreated(ro);
    } catch (err) {
      if (err.queued) {
        dirty = false; // safe on the tablet: nothing is lost by leaving this screen
        showQueued(attempt.act.steps[0].seq, body);
        return;
      }
      // Refused while the advisor is here: the entry left the outbox, so the next save is new.
      attempt = null;
      if (err.status === 401) return; // app.js returns to sign-in
      const errors = err.errors || [];
      const rest = errors.length ? showFieldErrors(form, errors) : [];
      if (rest.length) showBannerErrors(banner, rest);
      else if (!errors.length) showError(banner, err);
      if (!banner.hidden) banner.scrollIntoView({ block: 'center', behavior: 'smooth' });
    } finally {
      sending = false;
      submit.disabled = false;
      setText(submit.firstChild, 'newro.submit');
      form.removeAttribute('aria-busy');
    }
  });

  function showCreated(ro) {
    offOutbox();
    const link = ro?.status_url ? new URL(ro.status_url, location.origin).href : '';
    const copy = h('button', { type: 'button', class: 'btn btn-secondary btn-lg', t: 'today.copyLink', disabled: !link });
    copy.addEventListener('click', async () => {
      const ok = await copyText(link);
      toast(ok ? 'today.linkCopied' : 'today.copyFailed', undefined, ok ? 'ok' : 'error');
    });
    const done = h('button', { type: 'button', class: 'btn btn-primary btn-lg', t: 'newro.backToToday', onclick: () => ctx.go('#/today') });
    clear(page);
    page.append(
      h(
        'section',
        { class: 'card created', 'data-testid': 'ro-created', 'data-number': ro?.number ?? '', role: 'status' },
        h('div', { class: 'created-check', 'aria-hidden': 'true' }, '✓'),
        h('p', { class: 'lead', t: 'newro.created' }),
        h('p', { class: 'created-number' }, ro?.number ?? ''),
        h('p', { class: 'plate' }, ro?.vehicle?.plate ?? plate.value),
        link ? h('div', { class: 'link-box' }, h('p', { class: 'field-label', t: 'newro.statusLink' }), h('code', { class: 'status-link' }, link), h('p', { class: 'field-hint', t: 'newro.statusLinkHint' })) : null,
        h('div', { class: 'form-actions' }, copy, done),
      ),
    );
    done.focus();
  }

  /**
   * Kept on the tablet: say so plainly, with no number or link (the server gives those). If it
   * reaches the server while this is still on screen, the usual "created" panel replaces it.
   */
  function showQueued(seq, body) {
    const note = h('p', { class: 'field-hint', 'data-testid': 'ro-queued-note', t: 'newro.queuedNumberLater' });
    const done = h('button', { type: 'button', class: 'btn btn-primary btn-lg', 'data-testid': 'queued-back', t: 'newro.backToToday', onclick: () => ctx.go('#/today') });
    clear(page);
    page.append(
      h(
        'section',
        { class: 'card created created-queued', 'data-testid': 'ro-queued', role: 'status' },
        h('div', { class: 'created-check queued-mark', 'aria-hidden': 'true' }, '⇡'),
        h('p', { class: 'lead', t: 'newro.queuedTitle' }),
        h('p', { class: 'plate', lang: 'zh-CN' }, body.vehicle.plate),
        h('p', {}, body.customer.name),
        h('p', { class: 'muted' }, h('span', { t: 'today.promised' }), ' ', timeEl(body.promised_at, 'smart')),
        h('span', { class: 'chip chip-queued', t: 'outbox.notSent' }),
        note,
        h('div', { class: 'form-actions' }, done),
      ),
    );
    done.focus();
    offOutbox();
    offOutbox = onOutbox((event) => {
      if (event.entry?.seq !== seq) return;
      if (event.type === 'done') showCreated(event.body);
      if (event.type === 'parked') {
        // Refused later, with nobody looking: it waits in the list of unsent items (the badge).
        note.classList.add('field-error');
        setText(note, 'newro.queuedRefused', { reason: entryError(event.entry) });
      }
    });
  }

  // ---------- returning customers ----------

  function isLower() {
    return Boolean(known && mileage.value && Number(mileage.value) < known.lastMileage);
  }

  function paintLower() {
    lowerRow.hidden = !isLower();
    if (lowerRow.hidden) lowerBox.checked = false;
    setText(lowerRow.querySelector('.lower-text'), 'newro.mileageConfirm');
  }
  mileage.addEventListener('input', paintLower);

  const plateKey = (v) => v.replace(/[\s·.-]/g, '').toUpperCase();
  let lookupTimer = null;
  let lookedUp = '';
  function lookupSoon(params) {
    clearTimeout(lookupTimer);
    lookupTimer = setTimeout(() => lookup(params), 400);
  }
  async function lookup(params) {
    const query = new URLSearchParams(params).toString();
    if (query === lookedUp) return;
    lookedUp = query;
    let found;
    try {
      found = await get(`/api/vehicles/lookup?${query}`);
    } catch {
      return; // offline or refused: the write-up works as for a new customer
    }
    if (gone || lookedUp !== query) return;
    offerKnown((found.items || []).filter((item) => item.vehicle.id !== known?.vehicleId));
  }
  plate.addEventListener('input', () => {
    const key = plateKey(plate.value);
    if (known && key !== known.plate) forgetKnown();
    if (key.length >= 5) lookupSoon({ plate: key });
  });
  phone.addEventListener('input', () => {
    const digits = phone.value.replace(/\D/g, '');
    if (!known && digits.length >= 7) lookupSoon({ phone: digits });
  });

  function offerKnown(items) {
    clear(knownBox);
    for (const item of items.slice(0, 3)) {
      const vehicle = [item.vehicle.make, item.vehicle.model].filter(Boolean).join(' ') || item.vehicle.plate;
      knownBox.append(
        h(
          'div',
          { class: 'card known-card', 'data-testid': 'known-vehicle', role: 'status' },
          h('p', { class: 'known-text' }, h('span', { t: 'newro.known', tp: { vehicle: `${vehicle} (${item.vehicle.plate})`, name: item.customer.name } })),
          h(
            'div',
            { class: 'form-actions' },
            h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'use-known', t: 'newro.knownUse', onclick: () => useKnown(item) }),
            h('button', { type: 'button', class: 'btn btn-ghost', t: 'newro.knownDismiss', onclick: (e) => e.target.closest('.known-card').remove() }),
          ),
        ),
      );
    }
  }

  function useKnown(item) {
    const v = item.vehicle;
    const c = item.customer;
    custName.value = c.name;
    phone.value = c.phone;
    custLang.querySelector(`[value="${c.language}"]`)?.click();
    plate.value = v.plate;
    vin.value = v.vin || '';
    make.value = v.make || '';
    model.value = v.model || '';
    year.value = v.year ? String(v.year) : '';
    color.value = v.color || '';
    paintVinHint();
    known = { vehicleId: v.id, customerId: c.id, plate: plateKey(v.plate), lastMileage: item.last_mileage };
    dirty = true;
    clear(knownBox);
    knownBox.append(h('p', { class: 'field-hint known-used', 'data-testid': 'known-used', t: 'newro.knownUsed', tp: { number: item.last_visit.number } }));
    lastMileage.hidden = false;
    setText(lastMileage, 'newro.lastMileage', { km: km(item.last_mileage) });
    paintLower();
    offerCarry(item.declined || []);
    mileage.focus();
  }

  function forgetKnown() {
    known = null;
    lookedUp = '';
    clear(knownBox);
    lastMileage.hidden = true;
    paintLower();
    clear(carryBox);
    carryBox.hidden = true;
  }

  function offerCarry(declined) {
    clear(carryBox);
    carryBox.hidden = !declined.length;
    if (!declined.length) return;
    carryBox.append(h('p', { class: 'field-label', t: 'newro.carryTitle' }));
    for (const job of declined) {
      const text = job.customer_text || job.title;
      const button = h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'carry-forward', t: 'newro.carry' });
      button.addEventListener('click', () => {
        button.disabled = true;
        setText(button, 'newro.carried');
        // A blank first row is replaced rather than left above the carried job.
        const blank = [...jobList.children].find((row) => [...row.querySelectorAll('input')].every((el) => !el.value.trim()));
        if (blank) blank.remove();
        addJob(false, {
          title: text,
          hours: String(job.estimated_hours),
          price: job.price_fen != null ? String(job.price_fen / 100) : '',
          carried: job.id,
          onRemove: () => {
            button.disabled = false;
            setText(button, 'newro.carry');
          },
        });
        dirty = true;
      });
      carryBox.append(
        h(
          'div',
          { class: 'carry-row', 'data-testid': 'carry-row' },
          h('span', { class: 'carry-title' }, text),
          job.price_fen != null ? h('span', { class: 'carry-price' }, formatFen(job.price_fen)) : null,
          button,
        ),
      );
    }
  }

  // ---------- assign at write-up ----------

  function technicianSelect() {
    const select = h('select', { name: 'job.technician', class: 'input', tattrs: { 'aria-label': 'newro.technician' } });
    fillTechnicians(select);
    return select;
  }

  function fillTechnicians(select) {
    const chosen = select.value;
    clear(select);
    select.append(h('option', { value: '', t: 'newro.technicianNone' }), ...technicians.map((p) => h('option', { value: String(p.id) }, p.name)));
    select.value = chosen;
  }

  get('/api/technicians')
    .then((found) => {
      if (gone) return;
      technicians = found.items || [];
      jobList.querySelectorAll('[name="job.technician"]').forEach(fillTechnicians);
    })
    .catch(() => {}); // offline: jobs are assigned later on the dispatch screen

  addConcern(false);
  addJob(false);
  custName.focus();

  return () => {
    gone = true;
    clearTimeout(lookupTimer);
    offOutbox();
    quick.stop();
  };
}

/** The outbox action for one new repair order (meta lets the board show it before the server has it). */
function newRoAction(body) {
  const { plate, make = '', model = '' } = body.vehicle;
  return action([
    {
      path: '/api/repair-orders',
      body,
      subject: '', // repair orders do not depend on each other: one refused holds back none
      label: { key: 'outbox.what.newRo', params: { plate } },
      meta: { kind: 'newRo', plate, customer: body.customer.name, promisedAt: body.promised_at, make, model },
    },
  ]);
}

const km = (n) => Number(n).toLocaleString('en-US');

/** A little tank drawn to its level, so the buttons read as a gauge at a glance. */
function fuelTank(eighths) {
  const fill = h('span', { class: 'fuel-fill' });
  fill.style.height = `${(eighths / 8) * 100}%`; // from JS: the CSP forbids style="" in markup
  return h('span', { class: ['fuel-level', eighths <= 1 && 'fuel-low'], 'aria-hidden': 'true' }, fill);
}

function section(titleKey, ...children) {
  return h('fieldset', { class: 'fieldset card' }, h('legend', { t: titleKey }), ...children);
}

/** A row of toggle buttons acting as one radio group; the value lives in data-value. */
function segmented(name, options, initial) {
  const group = h('div', { class: 'segmented', role: 'radiogroup', 'data-path': name, 'data-value': initial });
  const buttons = options.map((o) =>
    h('button', {
      type: 'button',
      role: 'radio',
      class: 'seg-btn',
      name,
      value: o.value,
      'aria-checked': String(o.value === initial),
      onclick: () => {
        group.dataset.value = o.value;
        buttons.forEach((b) => b.setAttribute('aria-checked', String(b.value === o.value)));
      },
    }, o.label),
  );
  group.append(...buttons);
  return group;
}
