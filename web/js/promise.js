// "Change the promised time": a dialog with the new time (shop time zone) and a reason the customer
// will read on their phone. Common reasons are one tap and are written in the CUSTOMER's language.
// The change goes through the outbox: with the Wi-Fi down it is kept on the tablet, the dialog
// closes and the caller shows the new time marked as not sent yet (onSaved gets promise_pending).
// The quick time choices (here and on the new repair order) keep inside the shop's opening hours.
import { action, send } from './action.js';
import { dictionaries, getLang, getShopTimeZone, onLangChange } from './i18n.js';
import { clear, h, toast } from './dom.js';
import { field, formBanner, showError, clearError } from './forms.js';
import { afterOpenHours, promiseChoices } from './hours.js';
import { toInputs, zonedToIso, shopDate } from './time.js';
import { onLiveEvent } from './live.js';

export const REASONS = ['parts', 'extraWork', 'diagnosis', 'busy', 'rework', 'customer', 'earlier'];

/** `hours`: the shop's opening hours (GET /api/shop), for the quick choices. */
export function openPromiseDialog(ro, { onSaved, hours } = {}) {
  const zone = getShopTimeZone();
  const initial = ro.promised_at
    ? toInputs(new Date(ro.promised_at), zone)
    : afterOpenHours(3, { zone, shopHours: hours, now: new Date() });
  const customerLang = ro.customer?.language === 'en' ? 'en' : 'zh-CN';
  // One action (one outbox entry, one Idempotency-Key) per body: a second tap on Save cannot apply
  // twice; an edited time or reason, or a save after a refusal, is a new action.
  let attempt = null;
  let sending = false;

  const date = h('input', { type: 'date', class: 'input', name: 'date', value: initial.date, min: shopDate(zone), required: true, 'data-testid': 'promise-date' });
  const time = h('input', { type: 'time', class: 'input', name: 'time', value: initial.time, step: 900, required: true, 'data-testid': 'promise-time' });
  const reason = h('textarea', { class: 'input', name: 'reason', rows: 2, maxlength: 300, required: true, 'data-testid': 'promise-reason' });
  const quick = promiseChips({
    shopHours: hours,
    onPick: (choice) => {
      date.value = choice.date;
      time.value = choice.time;
    },
  });
  const banner = formBanner();
  const chips = h(
    'div',
    { class: 'chips', role: 'group', tattrs: { 'aria-label': 'promise.commonReasons' } },
    REASONS.map((r) =>
      h('button', {
        type: 'button',
        class: 'chip chip-button',
        t: `reason.${r}`,
        'data-testid': `reason-${r}`,
        onclick: () => {
          reason.value = dictionaries[customerLang][`reason.${r}`];
          reason.focus();
        },
      }),
    ),
  );
  const save = h('button', { type: 'submit', class: 'btn btn-primary', t: 'promise.save', 'data-testid': 'promise-save' });
  const cancel = h('button', { type: 'button', class: 'btn btn-ghost', t: 'common.cancel', onclick: () => dialog.close() });
  const form = h(
    'form',
    { class: 'dialog-form', novalidate: true },
    h('h2', { t: 'promise.title' }),
    h('p', { class: 'muted' }, `${ro.number} · ${ro.vehicle?.plate || ''}`),
    banner,
    h('div', { class: 'grid-2' }, field('promise.date', date), field('promise.time', time)),
    quick.el,
    h('p', { class: 'field-label', t: 'promise.commonReasons' }),
    chips,
    field('promise.reason', reason, { hintKey: customerLang === 'en' ? 'promise.reasonHintEn' : 'promise.reasonHintZh' }),
    h('div', { class: 'dialog-actions' }, cancel, save),
  );
  const dialog = h('dialog', { class: 'dialog', 'data-testid': 'promise-dialog' }, form);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (sending) return;
    clearError(banner);
    const promisedAt = date.value && time.value ? zonedToIso(date.value, time.value, zone) : null;
    const text = reason.value.trim();
    if (!promisedAt || !text) {
      showError(banner, { key: !promisedAt ? 'promise.needTime' : 'promise.needReason' });
      return;
    }
    const body = { promised_at: promisedAt, reason: text };
    const serial = JSON.stringify(body);
    if (!attempt || attempt.body !== serial) attempt = { body: serial, act: changeAction(ro, body) };
    sending = true;
    save.disabled = true;
    try {
      const updated = await send(attempt.act, { waitMs: 4000 });
      dialog.close();
      toast('promise.saved', { number: ro.number }, 'ok');
      onSaved?.(updated);
    } catch (err) {
      if (err.queued) {
        // Safe on this tablet and sent by itself; the customer sees it once the server has it.
        dialog.close();
        toast('promise.savedHere', { number: ro.number ?? '' }, 'info');
        onSaved?.({ ...ro, promised_at: promisedAt, promise_pending: true });
        return;
      }
      // Refused while the person is here: the entry left the outbox, so the next save is new.
      attempt = null;
      showError(banner, err);
    } finally {
      sending = false;
      save.disabled = false;
    }
  });
  dialog.addEventListener('close', () => {
    quick.stop();
    dialog.remove();
  });
  document.body.append(dialog);
  dialog.showModal();
  reason.focus();
  return dialog;
}

/**
 * The quick promise choices as one-tap chips, each inside the shop's opening hours (web/js/hours.js).
 * Worked out again every half minute, on a language change and at the tap itself, so "Today 17:30"
 * goes once it has passed even on a form left open. onPick gets {date, time}; stop() ends the updates.
 */
export function promiseChips({ shopHours, onPick }) {
  const row = h('div', { class: 'chips', role: 'group', 'data-testid': 'promise-choices', tattrs: { 'aria-label': 'promise.quickChoices' } });
  let hours = shopHours;
  const choices = () => promiseChoices({ zone: getShopTimeZone(), shopHours: hours, now: new Date(), lang: getLang() });
  let shown = '';
  function paint() {
    const list = choices();
    const sig = JSON.stringify(list.map((c) => [c.id, c.key, c.params]));
    if (sig === shown) return; // unchanged: keep the buttons (and the focus on one)
    shown = sig;
    clear(row);
    row.append(
      ...list.map((c) =>
        h('button', { type: 'button', class: 'chip chip-button', 'data-testid': 'promise-choice', 'data-choice': c.id, t: c.key, tp: c.params, onclick: () => pick(c.id) }),
      ),
    );
  }
  function pick(id) {
    const choice = choices().find((c) => c.id === id);
    paint();
    if (choice) onPick(choice);
  }
  paint();
  const timer = setInterval(() => (row.isConnected ? paint() : stop()), 30000);
  const offLang = onLangChange(paint);
  // A manager changed the opening hours in /admin: the choices follow while the form is open.
  const offShop = onLiveEvent((m) => {
    if (m.type !== 'shop.updated' || !m.data?.shop?.hours) return;
    hours = m.data.shop.hours;
    paint();
  });
  function stop() {
    clearInterval(timer);
    offLang();
    offShop();
  }
  return { el: row, stop };
}

/** The outbox action for one promise change (meta lets screens show it before the server has it). */
function changeAction(ro, body) {
  return action([
    {
      path: `/api/repair-orders/${ro.id}/promise`,
      body,
      subject: `ro:${ro.id}`,
      label: { key: 'outbox.what.promise', params: {} },
      meta: { kind: 'promise', roId: ro.id, promisedAt: body.promised_at, reason: body.reason },
    },
  ]);
}
