// The team, for managers (foremen see the list): add a person, deactivate and reactivate, reset a
// PIN, lift a lockout.
//
// Deactivate, reactivate and unlock go through the outbox like every staff action. Adding a person
// and resetting a PIN are sent online only: their answer is a one-time PIN the manager must see
// there and then (an answer that arrives later, to nobody, is useless), and a PIN the manager sets
// would otherwise sit in plain text in this shared tablet's IndexedDB until sent. They still carry
// an Idempotency-Key, so a double tap or a retry after a lost answer adds nobody twice.
import { api, get, newIdempotencyKey } from './api.js';
import { action, send } from './action.js';
import { clear, h, timeEl, toast } from './dom.js';
import { clearError, clearFieldErrors, field, formBanner, showBannerErrors, showError, showFieldErrors } from './forms.js';
import { confirmBig } from './clock.js';
import { ROLES, POLICY } from './domain.js';
import { onLiveEvent } from './live.js';

const PIN = /^\d{4,8}$/;

/** A username from a display name: its Latin words, lower case, joined with dots ("Li Na" → "li.na"); '' when it has none. */
export function suggestUsername(name) {
  const words = String(name || '')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .match(/[a-z0-9]+/g);
  return words ? words.join('.').slice(0, 40) : '';
}

export function render(view, ctx) {
  const me = ctx.state.user;
  const manager = !!me && (POLICY['staff.edit'] || []).includes(me.role);
  const page = h('div', { class: 'page staff-page', 'data-testid': 'staff' });
  const list = h('ul', { class: 'staff-list', role: 'list', 'aria-busy': 'true', 'data-testid': 'staff-list' });
  const listError = h('p', { class: 'form-banner', role: 'alert', hidden: true });
  const addButton = manager ? h('button', { type: 'button', class: 'btn btn-primary', t: 'staff.add', 'data-testid': 'staff-add', onclick: () => openAdd() }) : null;
  page.append(
    h('header', { class: 'page-head' }, h('h1', { t: 'staff.title' }), addButton),
    manager ? h('p', { class: 'lead', t: 'staff.lead' }) : h('p', { class: 'lead', t: 'staff.leadReadOnly' }),
    listError,
    list,
  );
  view.append(page);
  let people = [];

  async function load() {
    try {
      people = await get('/api/staff?inactive=true');
      clearError(listError);
      paint();
    } catch (err) {
      showError(listError, err);
    } finally {
      list.removeAttribute('aria-busy');
    }
  }

  function paint() {
    clear(list);
    for (const person of people) list.append(row(person));
  }

  function row(person) {
    const locked = person.locked_until && new Date(person.locked_until) > new Date();
    const badges = h(
      'span',
      { class: 'staff-badges' },
      h('span', { class: 'chip', t: `role.${person.role}` }),
      person.active ? null : h('span', { class: 'chip chip-muted', t: 'staff.inactive', 'data-testid': 'staff-inactive' }),
      person.pin_pending ? h('span', { class: 'chip chip-warn', t: 'staff.pinPending', 'data-testid': 'staff-pin-pending' }) : null,
      locked ? h('span', { class: 'chip chip-danger', 'data-testid': 'staff-locked' }, h('span', { t: 'staff.lockedUntil' }), ' ', timeEl(person.locked_until, 'time')) : null,
    );
    const buttons = [];
    if (manager) {
      if (locked) buttons.push(h('button', { type: 'button', class: 'btn btn-secondary', t: 'staff.unlock', 'data-testid': 'staff-unlock', onclick: () => change(person, 'unlock') }));
      if (person.id !== me.id) {
        buttons.push(h('button', { type: 'button', class: 'btn btn-ghost', t: 'staff.resetPin', 'data-testid': 'staff-reset', onclick: () => resetPin(person) }));
        buttons.push(
          person.active
            ? h('button', { type: 'button', class: 'btn btn-ghost btn-danger', t: 'staff.deactivate', 'data-testid': 'staff-deactivate', onclick: () => change(person, 'deactivate') })
            : h('button', { type: 'button', class: 'btn btn-secondary', t: 'staff.activate', 'data-testid': 'staff-activate', onclick: () => change(person, 'activate') }),
        );
      }
    }
    return h(
      'li',
      { class: ['staff-row', 'card', !person.active && 'staff-row-inactive'], 'data-testid': 'staff-row', 'data-username': person.username },
      h('div', { class: 'staff-who' }, h('strong', { class: 'staff-name' }, person.name), h('span', { class: 'muted staff-username' }, person.username), badges),
      buttons.length ? h('div', { class: 'staff-actions' }, buttons) : null,
    );
  }

  /** Deactivate, activate or unlock, through the outbox. */
  async function change(person, what) {
    if (what === 'deactivate') {
      const ok = await confirmBig({ titleKey: 'staff.deactivateTitle', bodyKey: 'staff.deactivateBody', bodyParams: { name: person.name }, okKey: 'staff.deactivate', testid: 'staff-confirm' });
      if (!ok) return;
    }
    const act = action([{ path: `/api/staff/${person.id}/${what}`, body: {}, subject: `staff:${person.id}`, label: { key: `outbox.what.staff.${what}`, params: { name: person.name } } }]);
    try {
      await send(act, { waitMs: 4000 });
      toast(`staff.done.${what}`, { name: person.name }, 'ok');
      load();
    } catch (err) {
      if (err.queued) return toast('outbox.savedHere', {}, 'info');
      showError(listError, err);
    }
  }

  async function resetPin(person) {
    const ok = await confirmBig({ titleKey: 'staff.resetTitle', bodyKey: 'staff.resetBody', bodyParams: { name: person.name }, okKey: 'staff.resetPin', testid: 'staff-confirm' });
    if (!ok) return;
    try {
      const res = await api(`/api/staff/${person.id}/reset-pin`, { method: 'POST', body: {}, idempotencyKey: newIdempotencyKey() });
      load();
      showPin(res, 'staff.pinResetTitle');
    } catch (err) {
      showError(listError, err.status === 0 ? { key: 'staff.needOnline' } : err);
    }
  }

  /** The one-time PIN, shown once, to be given to the person. */
  function showPin(person, titleKey) {
    const dialog = h(
      'dialog',
      { class: 'dialog', 'data-testid': 'one-time-pin-dialog' },
      h(
        'div',
        { class: 'dialog-form' },
        h('h2', { t: titleKey, tp: { name: person.name } }),
        person.one_time_pin
          ? [
              h('p', { t: 'staff.oneTimeLead', tp: { name: person.name, username: person.username } }),
              h('p', { class: 'one-time-pin', 'data-testid': 'one-time-pin' }, person.one_time_pin),
              h('p', { class: 'muted', t: 'staff.oneTimeOnce' }),
            ]
          : h('p', { t: person.pin_pending ? 'staff.oneTimeLost' : 'staff.pinSetLead', tp: { name: person.name, username: person.username } }),
        h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn btn-primary', t: 'staff.pinNoted', 'data-testid': 'one-time-pin-done', onclick: () => dialog.close() })),
      ),
    );
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  function openAdd() {
    const name = h('input', { class: 'input', name: 'name', 'data-path': 'name', maxlength: 80, required: true, 'data-testid': 'staff-name' });
    const username = h('input', { class: 'input', name: 'username', 'data-path': 'username', maxlength: 40, autocapitalize: 'none', spellcheck: 'false', 'data-testid': 'staff-username' });
    let usernameTyped = false;
    name.addEventListener('input', () => {
      if (!usernameTyped) username.value = suggestUsername(name.value);
    });
    username.addEventListener('input', () => {
      usernameTyped = username.value !== '';
    });
    const role = h(
      'select',
      { class: 'input', name: 'role', 'data-path': 'role', 'data-testid': 'staff-role' },
      ROLES.map((r) => h('option', { value: r, t: `role.${r}`, selected: r === 'technician' ? true : null })),
    );
    const choose = h('input', { type: 'radio', name: 'pin_mode', value: 'choose', checked: true, 'data-testid': 'staff-pin-choose' });
    const set = h('input', { type: 'radio', name: 'pin_mode', value: 'set', 'data-testid': 'staff-pin-set' });
    const pin = h('input', { class: 'input', name: 'pin', 'data-path': 'pin', type: 'password', inputmode: 'numeric', autocomplete: 'new-password', maxlength: 8, disabled: true, 'data-testid': 'staff-pin' });
    const mode = () => (set.checked ? 'set' : 'choose');
    for (const radio of [choose, set]) radio.addEventListener('change', () => (pin.disabled = mode() !== 'set'));
    const banner = formBanner();
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', t: 'staff.addSave', 'data-testid': 'staff-add-save' });
    const form = h(
      'form',
      { class: 'dialog-form', novalidate: true },
      h('h2', { t: 'staff.addTitle' }),
      banner,
      field('staff.name', name, { hintKey: 'staff.nameHint' }),
      field('staff.username', username, { hintKey: 'staff.usernameHint' }),
      field('staff.role', role),
      h(
        'fieldset',
        { class: 'fieldset' },
        h('legend', { class: 'field-label', t: 'staff.pinMode' }),
        h('label', { class: 'check' }, choose, h('span', { t: 'staff.pinChoose' })),
        h('label', { class: 'check' }, set, h('span', { t: 'staff.pinSet' })),
        field('staff.pin', pin, { hintKey: 'staff.pinHint' }),
      ),
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn btn-ghost', t: 'common.cancel', onclick: () => dialog.close() }), submit),
    );
    const dialog = h('dialog', { class: 'dialog', 'data-testid': 'staff-add-dialog' }, form);
    // One key per body: a double tap adds nobody twice; a changed form is a new request.
    let attempt = null;
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearError(banner);
      clearFieldErrors(form);
      const body = { name: name.value.trim(), username: username.value.trim().toLowerCase(), role: role.value };
      if (mode() === 'set') body.pin = pin.value;
      const errors = [];
      if (!body.name) errors.push({ field: 'name', message: { key: 'staff.needName' } });
      if (!body.username) errors.push({ field: 'username', message: { key: 'staff.needUsername' } });
      if (mode() === 'set' && !PIN.test(body.pin)) errors.push({ field: 'pin', code: 'pin.format', message: { key: 'error.code.pin.format' } });
      if (errors.length) return showFieldErrors(form, errors);
      const serial = JSON.stringify(body);
      if (!attempt || attempt.body !== serial) attempt = { body: serial, key: newIdempotencyKey() };
      submit.disabled = true;
      try {
        const added = await api('/api/staff', { method: 'POST', body, idempotencyKey: attempt.key });
        dialog.close();
        load();
        showPin(added, 'staff.addedTitle');
      } catch (err) {
        if (err.status !== 0) attempt = null;
        const rest = err.errors?.length ? showFieldErrors(form, err.errors) : [];
        if (rest.length) showBannerErrors(banner, rest);
        else if (!err.errors?.length) showError(banner, err.status === 0 ? { key: 'staff.needOnline' } : err);
      } finally {
        submit.disabled = false;
      }
    });
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
    name.focus();
  }

  // Someone else changed the team, or a person got locked out or in: the list follows.
  const offLive = onLiveEvent((m) => {
    if (typeof m.type === 'string' && m.type.startsWith('staff.') && m.type !== 'staff.signed_in' && m.type !== 'staff.signed_out') load();
  });
  load();
  return () => offLive();
}
