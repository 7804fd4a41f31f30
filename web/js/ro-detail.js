// The repair-order detail (#/ro/<id>): everything staff need of one car on one tablet screen —
// customer (phone tap-to-call), vehicle, concerns, jobs with clocked time, price, parts and QC,
// findings with photos, the walk-around, promise history, the timeline and the status link.
// Sections other areas own (pricing, parts, closing) are placed here and called on every paint.
// Every change (promise, a new job, an edit) goes through the outbox. Live: an event about this
// order reads it again (debounced); a resync or gap too. Kept for a reload without network.
import { get } from './api.js';
import { action, send } from './action.js';
import { h, clear, timeEl, toast, copyText, setText } from './dom.js';
import { field, formBanner, showError, clearError } from './forms.js';
import { getLang, onLangChange, t, formatDateTime } from './i18n.js';
import { onLiveEvent } from './live.js';
import { onOutbox, unsent } from './outbox.js';
import { openPromiseDialog } from './promise.js';
import { keepScreen, readScreen, staleMark, unreachable } from './screencache.js';
import { allowed } from './domain.js';
import { formatFen, parseFen } from './money.js';
import { formatMinutes } from './clock.js';
import { missed } from './apply.js';
import { stageBadge } from './today.js';
import { section as pricingSection } from './ro-pricing.js';
import { section as partsSection } from './ro-parts.js';
import { section as closingSection } from './ro-closing.js';

const SOON_MINUTES = 60; // amber when the promise is this close (as on the board)
const REFETCH_MS = 150; // a burst of events about this order is one read

export function render(view, ctx, param) {
  const id = Number(param);
  const me = ctx.state.user?.id;
  const role = ctx.state.user?.role;
  const screenName = `ro-${id}`;
  const stale = staleMark();
  const kept = readScreen(me, screenName);
  let ro = kept?.data?.ro ?? null;
  let events = kept?.data?.events ?? [];
  let loadedAt = kept?.at ?? null;
  let pending = 0; // this order's actions still on this tablet
  let failure = null;
  let alive = true;

  const page = h('div', { class: 'page ro-detail', 'data-testid': 'ro-detail', 'data-ro': id });
  view.append(page);

  let loading = null;
  let again = false;
  function load() {
    if (loading) {
      again = true;
      return loading;
    }
    loading = readOrder().finally(() => {
      loading = null;
      if (again && alive) {
        again = false;
        load();
      }
    });
    return loading;
  }

  async function readOrder() {
    const askedAt = new Date().toISOString();
    try {
      const [order, timeline] = await Promise.all([get(`/api/repair-orders/${id}`), get(`/api/repair-orders/${id}/timeline`)]);
      if (!alive) return;
      ro = order;
      events = Array.isArray(timeline?.events) ? timeline.events : [];
      failure = null;
      loadedAt = keepScreen(me, screenName, { ro, events }, askedAt);
      stale.hide();
    } catch (err) {
      if (!alive || err.status === 401) return;
      if (ro && unreachable(err)) stale.show(loadedAt);
      else failure = err;
    }
    paint();
  }

  async function loadOutbox() {
    let all = [];
    try {
      all = await unsent();
    } catch {
      /* no IndexedDB: nothing can be queued either */
    }
    const mine = all.filter((e) => e.meta?.roId === id).length;
    if (mine !== pending && alive) {
      pending = mine;
      paint();
    }
  }

  function paint() {
    if (!alive) return;
    clear(page);
    const back = allowed(role, 'ro.list') ? '#/today' : '#/find'; // customer care works from the search
    page.append(h('a', { class: 'back-link', href: back, 'data-testid': 'detail-back', t: 'detail.back' }), stale.el);
    if (!ro) {
      if (failure) {
        const banner = h('div', { class: 'form-banner', role: 'alert', 'data-testid': 'detail-error' });
        if (failure.status === 404) setText(banner, 'detail.notFound');
        else showError(banner, failure);
        page.append(banner);
      } else page.append(h('p', { class: 'muted', t: 'common.loading' }));
      return;
    }
    const office = allowed(role, 'ro.create');
    const delivered = !!ro.delivered_at;
    const parts = [
      header(ro, { pending, office, delivered }),
      statusLink(ro),
      h('div', { class: 'detail-grid' }, customerCard(ro), vehicleCard(ro)),
      concernsCard(ro),
      jobsCard(ro),
      placed(partsSection, ro),
      findingsCard(ro),
      placed(pricingSection, ro),
      walkaroundCard(ro, office && !delivered),
      promiseCard(ro),
      timelineCard(ro, events),
      placed(closingSection, ro),
    ];
    page.append(...parts.filter(Boolean)); // native append writes "null" for an empty section
  }

  /** Another area's section: never lets a fault there blank the whole order. */
  function placed(section, order) {
    try {
      return section(order, ctx) || null;
    } catch (err) {
      console.error(err);
      return null;
    }
  }

  function header(order, { pending: unsentCount, office, delivered }) {
    const v = order.vehicle || {};
    const when = Date.parse(order.promised_at);
    const now = Date.now();
    const urgency = delivered ? 'ok' : when < now ? 'late' : when - now <= SOON_MINUTES * 60000 ? 'soon' : 'ok';
    const buttons = [];
    if (office && !delivered) {
      buttons.push(
        h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'detail-change-promise', t: 'detail.changePromise', onclick: changePromise }),
        h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'detail-add-job', t: 'detail.addJob', onclick: () => openAddJob(order) }),
        h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'detail-edit', t: 'detail.edit', onclick: () => openEdit(order) }),
      );
    }
    if (allowed(role, 'walkaround.edit')) {
      buttons.push(h('a', { class: 'btn btn-ghost', href: `#/walkaround/${order.id}`, 'data-testid': 'detail-walkaround-button', t: 'board.walkaround' }));
    }
    return h(
      'header',
      { class: ['detail-head', `urgency-${urgency}`] },
      h(
        'div',
        { class: 'title-row' },
        h('h1', { 'data-testid': 'detail-number' }, order.number),
        h('span', { class: 'plate', lang: 'zh-CN', 'data-testid': 'detail-plate' }, v.plate || '—'),
        stageBadge(order.stage),
        unsentCount ? h('span', { class: 'chip chip-queued', 'data-testid': 'detail-pending', t: 'detail.notSent' }) : null,
      ),
      h(
        'p',
        { class: ['ro-promise', `promise-${urgency}`], 'data-testid': 'detail-promise' },
        h('span', { class: 'promise-label', t: urgency === 'late' ? 'detail.overdue' : 'detail.promised' }),
        ' ',
        timeEl(order.promised_at, 'smart'),
        order.ready_at && !delivered ? h('span', { class: 'chip chip-ok', t: 'detail.readyAt', tp: { time: formatDateTime(order.ready_at, 'smart') } }) : null,
        delivered ? h('span', { class: 'chip chip-muted', 'data-testid': 'detail-delivered', t: 'detail.delivered', tp: { time: formatDateTime(order.delivered_at, 'smart') } }) : null,
      ),
      buttons.length ? h('div', { class: 'detail-actions' }, buttons) : null,
    );
  }

  function changePromise() {
    openPromiseDialog(ro, {
      hours: ctx.state.shop?.hours,
      onSaved: (updated) => {
        if (updated?.promise_pending) loadOutbox();
        else if (updated?.id === id) {
          ro = updated;
          paint();
        }
        load();
      },
    });
  }

  // ---------- dialogs: add a job, edit the order (both through the outbox) ----------

  function dialogShell(testid, titleKey, titleParams, body, saveKey, onSubmit) {
    const banner = formBanner();
    const save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': `${testid}-save`, t: saveKey });
    const cancel = h('button', { type: 'button', class: 'btn btn-ghost', t: 'common.cancel', onclick: () => dialog.close() });
    const form = h('form', { class: 'dialog-form', novalidate: true }, h('h2', { t: titleKey, tp: titleParams }), banner, body, h('div', { class: 'dialog-actions' }, cancel, save));
    const dialog = h('dialog', { class: 'dialog', 'data-testid': testid }, form);
    let sending = false;
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (sending) return;
      clearError(banner);
      sending = true;
      save.disabled = true;
      try {
        await onSubmit({ banner, close: () => dialog.close() });
      } finally {
        sending = false;
        save.disabled = false;
      }
    });
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
    return dialog;
  }

  /** Send one outbox action; the dialog closes on success or when it is kept on the tablet. */
  async function sendAction(attempt, { banner, close }, { saved, savedHere }) {
    try {
      const reply = await send(attempt.act, { waitMs: 4000 });
      close();
      toast(saved, undefined, 'ok');
      if (reply?.id === id && reply.number) {
        ro = reply;
        paint();
      }
      load();
      return true;
    } catch (err) {
      if (err.queued) {
        close();
        toast(savedHere, undefined, 'info');
        loadOutbox();
        return true;
      }
      attempt.act = null; // refused: the entry left the outbox; the next save is a new action
      showError(banner, err);
      return false;
    }
  }

  function openAddJob(order) {
    const title = h('input', { class: 'input', name: 'title', maxlength: 200, required: true, 'data-testid': 'add-job-title' });
    const hours = h('input', { class: 'input', name: 'hours', inputmode: 'decimal', value: '1', 'data-testid': 'add-job-hours' });
    const price = h('input', { class: 'input', name: 'price', inputmode: 'decimal', 'data-testid': 'add-job-price' });
    const approval = h('input', { type: 'checkbox', name: 'needs_approval', 'data-testid': 'add-job-approval' });
    const body = h(
      'div',
      {},
      field('detail.jobTitle', title),
      h('div', { class: 'grid-2' }, field('detail.jobHours', hours), field('detail.jobPrice', price, { optional: true })),
      h('label', { class: 'check' }, approval, h('span', { t: 'detail.jobNeedsApproval' })),
    );
    const attempt = { serial: null, act: null };
    dialogShell('add-job-dialog', 'detail.addJobTitle', { number: order.number }, body, 'detail.jobSave', async (ui) => {
      const text = title.value.trim();
      const h8 = Number(String(hours.value).replace(',', '.'));
      const fen = price.value.trim() ? parseFen(price.value) : null;
      if (!text) return showError(ui.banner, { key: 'detail.needTitle' });
      if (!Number.isFinite(h8) || h8 < 0 || h8 > 200) return showError(ui.banner, { key: 'detail.badHours' });
      if (price.value.trim() && fen == null) return showError(ui.banner, { key: 'detail.badPrice' });
      const job = { title: text, estimated_hours: Math.round(h8 * 100) / 100, needs_approval: approval.checked };
      if (fen != null) job.price = (fen / 100).toFixed(2);
      const serial = JSON.stringify(job);
      if (!attempt.act || attempt.serial !== serial) {
        attempt.serial = serial;
        attempt.act = action([
          {
            path: `/api/repair-orders/${order.id}/jobs`,
            body: job,
            subject: `ro:${order.id}`,
            label: { key: 'outbox.what.addJob', params: { title: text } },
            meta: { kind: 'addJob', roId: order.id },
          },
        ]);
      }
      await sendAction(attempt, ui, { saved: 'detail.jobAdded', savedHere: 'detail.jobSavedHere' });
    });
    title.focus();
  }

  function openEdit(order) {
    const c = order.customer || {};
    const v = order.vehicle || {};
    const signed = !!order.walkaround?.signed_at;
    const input = (name, value, extra = {}) => h('input', { class: 'input', name, value: value ?? '', 'data-testid': `edit-${name}`, ...extra });
    const f = {
      name: input('name', c.name, { maxlength: 80 }),
      phone: input('phone', c.phone, { type: 'tel', inputmode: 'tel', maxlength: 20 }),
      language: h(
        'select',
        { class: 'input', name: 'language', 'data-testid': 'edit-language' },
        ['zh-CN', 'en'].map((l) => h('option', { value: l, selected: c.language === l, t: `detail.lang.${l}` })),
      ),
      vin: input('vin', v.vin, { maxlength: 17, autocapitalize: 'characters' }),
      make: input('make', v.make, { maxlength: 40 }),
      model: input('model', v.model, { maxlength: 60 }),
      year: input('year', v.year, { inputmode: 'numeric', maxlength: 4 }),
      color: input('color', v.color, { maxlength: 30 }),
      mileage: input('mileage', order.mileage, { inputmode: 'numeric', disabled: signed }),
      fuel: h(
        'select',
        { class: 'input', name: 'fuel_level', 'data-testid': 'edit-fuel_level', disabled: signed },
        h('option', { value: '', selected: order.fuel_level == null }, '—'),
        [0, 1, 2, 3, 4, 5, 6, 7, 8].map((n) => h('option', { value: String(n), selected: order.fuel_level === n }, `${n}/8`)),
      ),
      concerns: h('textarea', { class: 'input', name: 'concerns', rows: 3, 'data-testid': 'edit-concerns' }),
    };
    f.concerns.value = (order.concerns || []).join('\n');
    const body = h(
      'div',
      {},
      h('div', { class: 'grid-2' }, field('newro.customerName', f.name), field('newro.phone', f.phone)),
      field('detail.language', f.language),
      field('newro.vin', f.vin, { optional: true }),
      h('div', { class: 'grid-2' }, field('newro.make', f.make, { optional: true }), field('newro.model', f.model, { optional: true })),
      h('div', { class: 'grid-2' }, field('newro.year', f.year, { optional: true }), field('newro.color', f.color, { optional: true })),
      h('div', { class: 'grid-2' }, field('newro.mileage', f.mileage), field('newro.fuel', f.fuel, { optional: true })),
      signed ? h('p', { class: 'field-hint', 'data-testid': 'edit-signed-hint', t: 'detail.editSigned' }) : null,
      field('detail.concerns', f.concerns, { hintKey: 'detail.concernsOnePerLine' }),
    );
    const attempt = { serial: null, act: null };
    dialogShell('edit-dialog', 'detail.editTitle', { number: order.number }, body, 'detail.editSave', async (ui) => {
      const patch = {};
      const customer = {};
      const vehicle = {};
      if (f.name.value.trim() !== (c.name || '')) customer.name = f.name.value.trim();
      if (f.phone.value.trim() !== (c.phone || '')) customer.phone = f.phone.value.trim();
      if (f.language.value !== c.language) customer.language = f.language.value;
      const vin = f.vin.value.trim().toUpperCase();
      if (vin !== (v.vin || '')) vehicle.vin = vin;
      for (const k of ['make', 'model', 'color']) if (f[k].value.trim() !== (v[k] || '')) vehicle[k] = f[k].value.trim();
      const year = f.year.value.trim() ? Number(f.year.value) : null;
      if (year !== (v.year ?? null)) vehicle.year = year;
      if (Object.keys(customer).length) patch.customer = customer;
      if (Object.keys(vehicle).length) patch.vehicle = vehicle;
      if (!signed) {
        const km = Number(f.mileage.value);
        if (!/^\d+$/.test(f.mileage.value.trim())) return showError(ui.banner, { key: 'detail.badMileage' });
        if (km !== order.mileage) patch.mileage = km;
        const fuel = f.fuel.value === '' ? null : Number(f.fuel.value);
        if (fuel !== (order.fuel_level ?? null)) patch.fuel_level = fuel;
      }
      const concerns = f.concerns.value.split('\n').map((s) => s.trim()).filter(Boolean);
      if (JSON.stringify(concerns) !== JSON.stringify(order.concerns || [])) patch.concerns = concerns;
      if (!Object.keys(patch).length) {
        ui.close();
        toast('detail.editNothing', undefined, 'info');
        return;
      }
      const serial = JSON.stringify(patch);
      if (!attempt.act || attempt.serial !== serial) {
        attempt.serial = serial;
        attempt.act = action([
          {
            path: `/api/repair-orders/${order.id}`,
            method: 'PATCH',
            body: patch,
            subject: `ro:${order.id}`,
            label: { key: 'outbox.what.roEdit', params: {} },
            meta: { kind: 'roEdit', roId: order.id },
          },
        ]);
      }
      await sendAction(attempt, ui, { saved: 'detail.editSaved', savedHere: 'detail.editSavedHere' });
    });
    f.name.focus();
  }

  // ---------- live ----------

  let refetchTimer = null;
  const refetchSoon = () => {
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(load, REFETCH_MS);
  };
  const offEvent = onLiveEvent((m) => {
    if (missed(m) || m.ro === id) refetchSoon();
  });
  const offOutbox = onOutbox((event) => {
    if (event.type !== 'change' && event.type !== 'done' && event.type !== 'parked') return;
    if (event.type === 'done' && event.entry?.meta?.roId === id) refetchSoon();
    loadOutbox();
  });
  const offLang = onLangChange(() => paint()); // the timeline's words are built in the language
  const onOnline = () => load();
  window.addEventListener('online', onOnline);
  const recolour = setInterval(paint, 30000); // late / amber follows the clock

  if (ro) {
    paint();
    stale.showSoon(loadedAt);
  } else paint();
  load();
  loadOutbox();

  return () => {
    alive = false;
    clearTimeout(refetchTimer);
    clearInterval(recolour);
    stale.hide();
    offEvent();
    offOutbox();
    offLang();
    window.removeEventListener('online', onOnline);
  };
}

// ---------- sections (pure: the order in, elements out) ----------

function card(titleKey, testid, ...children) {
  return h('section', { class: 'card detail-card', 'data-testid': testid }, h('h2', { t: titleKey }), ...children);
}

function row(labelKey, value, testid) {
  return h('div', { class: 'detail-row' }, h('dt', { t: labelKey }), h('dd', testid ? { 'data-testid': testid } : {}, value ?? t('detail.none')));
}

function statusLink(ro) {
  if (!ro.status_url) return null;
  const href = new URL(ro.status_url, location.origin).href;
  const copy = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'detail-copy-link', t: 'detail.copyLink' });
  copy.addEventListener('click', async () => {
    const ok = await copyText(href);
    toast(ok ? 'today.linkCopied' : 'today.copyFailed', undefined, ok ? 'ok' : 'error');
  });
  return h(
    'div',
    { class: 'detail-link', 'data-testid': 'detail-status-link' },
    h('span', { class: 'field-label', t: 'detail.statusLink' }),
    copy,
    h('a', { class: 'btn btn-ghost btn-sm', href, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'detail-open-link', t: 'detail.openLink' }),
  );
}

function customerCard(ro) {
  const c = ro.customer || {};
  const tel = String(c.phone || '').replace(/[^\d+]/g, '');
  return card(
    'detail.customer',
    'detail-customer',
    h(
      'dl',
      { class: 'detail-list' },
      row('newro.customerName', c.name, 'detail-customer-name'),
      row('newro.phone', c.phone ? h('a', { href: `tel:${tel}`, 'data-testid': 'detail-phone', 'aria-label': t('detail.call', { phone: c.phone }) }, c.phone) : null),
      row('detail.language', c.language ? h('span', { t: `detail.lang.${c.language}` }) : null),
    ),
  );
}

function vehicleCard(ro) {
  const v = ro.vehicle || {};
  const km = (n) => (n == null ? null : t('detail.km', { km: Number(n).toLocaleString(getLang()) }));
  return card(
    'detail.vehicle',
    'detail-vehicle',
    h(
      'dl',
      { class: 'detail-list' },
      row('detail.plate', v.plate ? h('span', { lang: 'zh-CN' }, v.plate) : null),
      row('newro.vin', v.vin ? h('span', { class: 'mono' }, v.vin) : null, 'detail-vin'),
      row('newro.make', v.make || null),
      row('newro.model', v.model || null),
      row('newro.year', v.year ?? null),
      row('newro.color', v.color || null),
      row('detail.mileageIn', km(ro.mileage), 'detail-mileage'),
      row('detail.mileageOut', km(ro.settlement?.mileage_out)),
      row('detail.fuel', ro.fuel_level == null ? null : t('detail.fuelEighths', { n: ro.fuel_level }), 'detail-fuel'),
    ),
  );
}

function concernsCard(ro) {
  const list = ro.concerns || [];
  return card(
    'detail.concerns',
    'detail-concerns',
    list.length ? h('ul', { class: 'concern-list' }, list.map((text) => h('li', { 'data-testid': 'detail-concern' }, text))) : h('p', { class: 'muted', t: 'detail.noConcerns' }),
  );
}

function jobsCard(ro) {
  const jobs = ro.jobs || [];
  return card('detail.jobs', 'detail-jobs', jobs.length ? h('ul', { class: 'detail-jobs' }, jobs.map(jobItem)) : h('p', { class: 'muted', t: 'detail.noJobs' }));
}

function jobItem(j) {
  const last = (j.qc || [])[j.qc.length - 1];
  const priceFen = j.price_fen ?? (j.price == null ? null : Math.round(j.price * 100));
  return h(
    'li',
    { class: 'detail-job', 'data-testid': 'detail-job', 'data-job': j.id, 'data-state': j.state },
    h(
      'div',
      { class: 'job-head' },
      h('strong', { class: 'job-title' }, j.title),
      h('span', { class: ['chip', 'job-state', `job-${j.state}`], t: `job.${j.state}` }),
      j.approval === 'approved' ? h('span', { class: 'chip job-finished', t: 'board.customerApproved' }) : null,
      j.approval === 'declined' ? h('span', { class: 'chip chip-muted', t: 'job.declined' }) : null,
    ),
    j.customer_text ? h('p', { class: 'muted' }, j.customer_text) : null,
    h(
      'p',
      { class: 'job-facts' },
      h('span', {}, j.technician?.name || t('detail.unassigned')),
      ' · ',
      h('span', { t: 'detail.soldHours', tp: { hours: j.estimated_hours } }),
      ' · ',
      h('span', { 'data-testid': 'detail-job-clocked' }, t('detail.clocked', { time: formatMinutes(j.clocked_minutes || 0) })),
      ' · ',
      priceFen == null ? h('span', { t: 'detail.noPrice' }) : h('span', { 'data-testid': 'detail-job-price' }, formatFen(priceFen)),
      j.rework_count ? h('span', { class: 'chip chip-warn', t: 'detail.reworks', tp: { count: j.rework_count } }) : null,
      j.state === 'paused' && j.pause_reason ? h('span', { class: 'chip chip-muted', 'data-testid': 'detail-job-paused' }, t('detail.pausedFor', { reason: t(`stop.${j.pause_reason}`) })) : null,
    ),
    (j.parts || []).length
      ? h(
          'ul',
          { class: 'detail-parts', tattrs: { 'aria-label': 'detail.parts' } },
          j.parts.map((p) =>
            h(
              'li',
              { 'data-testid': 'detail-part', 'data-state': p.state },
              h('span', {}, t('detail.partLine', { name: p.name, quantity: p.quantity })),
              p.part_number ? h('span', { class: 'mono muted' }, ` ${p.part_number}`) : null,
              ' ',
              h('span', {}, formatFen(p.line_fen)),
              ' ',
              h('span', { class: 'chip chip-muted', t: `detail.part.${p.state}` }),
              p.expected_at && (p.state === 'needed' || p.state === 'ordered') ? h('span', { class: 'muted' }, ` ${t('detail.partExpected', { time: formatDateTime(p.expected_at, 'smart') })}`) : null,
            ),
          ),
        )
      : null,
    last ? qcLine(last) : null,
  );
}

function qcLine(qc) {
  const failed = (qc.items || []).filter((i) => i.result === 'fail');
  const zh = getLang() === 'zh-CN';
  return h(
    'div',
    { class: ['detail-qc', qc.passed ? 'qc-passed' : 'qc-failed'], 'data-testid': 'detail-qc', 'data-passed': String(!!qc.passed) },
    h('span', { class: ['chip', qc.passed ? 'chip-ok' : 'chip-warn'], t: qc.passed ? 'detail.qcPassed' : 'detail.qcFailed' }),
    qc.signer_name ? h('span', { class: 'muted' }, ` ${t('detail.qcBy', { name: qc.signer_name })} · `) : ' ',
    timeEl(qc.signed_at, 'smart'),
    failed.length
      ? h('ul', { class: 'rework-items' }, failed.map((i) => h('li', {}, h('strong', {}, (zh ? i.name_zh : i.name_en) || i.name), i.note ? ` — ${i.note}` : '')))
      : null,
  );
}

function findingsCard(ro) {
  const list = ro.findings || [];
  return card(
    'detail.findings',
    'detail-findings',
    list.length
      ? h(
          'ul',
          { class: 'detail-findings' },
          list.map((f) =>
            h(
              'li',
              { 'data-testid': 'detail-finding', 'data-finding': f.id, 'data-priced': String(!!f.priced) },
              h('p', {}, h('strong', {}, f.text), ' ', h('span', { class: ['chip', f.priced ? 'chip-ok' : 'chip-warn'], t: f.priced ? 'detail.findingPriced' : 'detail.findingToPrice' })),
              h('p', { class: 'muted' }, t('detail.findingBy', { name: f.created_by?.name || '' }), ' · ', timeEl(f.created_at, 'smart')),
              thumbs(f.photos || [], f.text),
            ),
          ),
        )
      : h('p', { class: 'muted', t: 'detail.noFindings' }),
  );
}

function thumbs(photos, label) {
  if (!photos.length) return null;
  return h(
    'div',
    { class: 'rework-photos', tattrs: { 'aria-label': 'detail.photos' } },
    photos.map((p, i) =>
      h(
        'button',
        { type: 'button', class: 'rework-photo', 'data-testid': 'detail-photo', 'aria-label': t('detail.photo', { n: i + 1 }), onclick: () => openPhoto(p, label) },
        h('img', { src: p.thumb_url, alt: '', loading: 'lazy' }),
        p.note ? h('span', { class: 'photo-note' }, p.note) : null,
      ),
    ),
  );
}

/** A photo large, over the screen: the close button, or a tap on the photo, closes it. */
function openPhoto(photo, label) {
  const close = h('button', { type: 'button', class: 'btn btn-secondary btn-lg', 'data-testid': 'photo-large-close', t: 'common.close' });
  const dialog = h('dialog', { class: 'dialog photo-large', 'data-testid': 'photo-large', 'aria-label': label || '' }, h('img', { src: photo.url, alt: label || '' }), photo.note ? h('p', {}, photo.note) : null, h('div', { class: 'dialog-actions' }, close));
  close.addEventListener('click', () => dialog.close());
  dialog.querySelector('img').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}

function walkaroundCard(ro, canEdit) {
  const w = ro.walkaround;
  const photos = (ro.photos || []).filter((p) => p.kind === 'walkaround');
  return card(
    'detail.walkaround',
    'detail-walkaround',
    w
      ? h(
          'p',
          {},
          h('span', { t: 'detail.walkMarks', tp: { count: w.marks } }),
          ' · ',
          w.signed_at
            ? h('span', { 'data-testid': 'detail-walk-signed' }, t('detail.walkSigned', { name: w.signed_by || '' }), ' · ', timeEl(w.signed_at, 'smart'))
            : h('span', { t: 'detail.walkUnsigned' }),
        )
      : h('p', { class: 'muted', t: 'detail.walkNone' }),
    thumbs(photos, t('detail.walkaround')),
    canEdit || w ? h('a', { class: 'btn btn-ghost btn-sm', href: `#/walkaround/${ro.id}`, 'data-testid': 'detail-walkaround-link', t: 'detail.walkOpen' }) : null,
  );
}

function promiseCard(ro) {
  const list = [...(ro.promise_history || [])].reverse();
  return card(
    'detail.promiseHistory',
    'detail-promises',
    list.length
      ? h(
          'ul',
          { class: 'detail-timeline' },
          list.map((p) =>
            h(
              'li',
              { 'data-testid': 'detail-promise-change' },
              h('span', {}, t('detail.promiseMoved', { from: formatDateTime(p.previous_at, 'smart'), to: formatDateTime(p.promised_at, 'smart') })),
              h('span', { class: 'muted' }, ` — ${p.reason} · `),
              timeEl(p.at, 'smart'),
            ),
          ),
        )
      : h('p', { class: 'muted', t: 'detail.noPromiseChanges' }),
  );
}

function timelineCard(ro, events) {
  const list = [...events].reverse(); // newest first
  return card(
    'detail.timeline',
    'detail-timeline',
    list.length
      ? h(
          'ol',
          { class: 'detail-timeline' },
          list.map((ev) =>
            h(
              'li',
              { 'data-testid': 'timeline-item', 'data-type': ev.type },
              h('span', { class: 'tl-words' }, eventWords(ev, ro)),
              h('span', { class: 'muted' }, ` — ${who(ev)} · `),
              timeEl(ev.device_at || ev.at, 'smart'),
            ),
          ),
        )
      : h('p', { class: 'muted', t: 'detail.noEvents' }),
  );
}

function who(ev) {
  if (ev.actor?.name) return ev.actor.name;
  return t(ev.by === 'customer' ? 'tl.by.customer' : 'tl.by.system');
}

/** An event of the log in words, in the screen's language. */
export function eventWords(ev, ro) {
  const d = ev.data || {};
  const titleOf = (jobId) => (ro?.jobs || []).find((j) => j.id === jobId)?.title || '';
  const job = d.job || {};
  switch (ev.type) {
    case 'ro.created':
      return t('tl.ro.created', { number: d.number || ro?.number || '' });
    case 'ro.updated':
      return t('tl.ro.updated', { fields: (d.changed || []).map((f) => t(`tl.field.${f}`)).join(getLang() === 'zh-CN' ? '、' : ', ') });
    case 'stage.changed':
      return t('tl.stage.changed', { to: t(`stage.${d.to}`) });
    case 'promise.changed':
      return t('tl.promise.changed', { time: formatDateTime(d.promised_at, 'smart'), reason: d.reason || '' });
    case 'job.added':
      return t('tl.job.added', { title: job.title || '' });
    case 'job.updated':
      return t('tl.job.updated', { title: job.title || '', state: t(`job.${job.state}`) });
    case 'job.assigned':
      return t('tl.job.assigned', { title: job.title || titleOf(d.job_id), name: job.technician?.name || '' });
    case 'qc.recorded':
      return t('tl.qc.recorded', { title: job.title || titleOf(d.job_id), result: t(d.passed ? 'tl.passed' : 'tl.failed') });
    case 'approval.requested':
      return t('tl.approval.requested', { title: d.title || titleOf(d.job_id) });
    case 'approval.decided':
      return t('tl.approval.decided', { title: d.title || titleOf(d.job_id), decision: t(d.decision === 'approved' ? 'tl.approved' : 'tl.declined') });
    case 'finding.added':
      return t('tl.finding.added', { text: d.finding?.text || '' });
    case 'clock.on':
    case 'clock.off':
    case 'clock.confirmed':
    case 'clock.reviewed':
    case 'photo.added':
      return t(`tl.${ev.type}`);
    case 'clock.corrected':
      return t('tl.clock.corrected', { reason: d.reason || '' });
    case 'walkaround.updated':
      return t('tl.walkaround.updated', { count: d.marks ?? 0 });
    case 'walkaround.signed':
      return t('tl.walkaround.signed', { name: d.signed_by || '' });
    case 'survey.submitted':
      return t('tl.survey.submitted', { score: d.score ?? '' });
    default:
      return t('tl.other', { type: ev.type });
  }
}
