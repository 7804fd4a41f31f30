// First-run setup: name the shop, pick its time zone and language, create the first manager.
// Shown only while GET /api/setup says {needed: true}.
import { post } from './api.js';
import { h } from './dom.js';
import { getLang, setLang, setShopTimeZone } from './i18n.js';
import { field, formBanner, showError, clearError, showFieldErrors, clearFieldErrors, clearFieldError } from './forms.js';
import { newIdempotencyKey } from './api.js';

const PIN_RE = /^\d{4,8}$/;

export function render(root, ctx) {
  const setup = ctx.state.setup || {};
  const zones = Array.isArray(setup.timezones) && setup.timezones.length ? setup.timezones : [setup.default_timezone || 'Asia/Shanghai'];
  const defaultZone = setup.default_timezone || zones[0];

  const input = (name, extra = {}) => h('input', { name, 'data-path': name, class: 'input', ...extra });
  const shopName = input('shop_name', { required: true, maxlength: 120, autocomplete: 'organization' });
  const zone = h(
    'select',
    { name: 'timezone', 'data-path': 'timezone', class: 'input' },
    zones.map((z) => h('option', { value: z, selected: z === defaultZone }, z.replace(/_/g, ' '))),
  );
  const language = h(
    'select',
    { name: 'language', 'data-path': 'language', class: 'input' },
    h('option', { value: 'zh-CN', selected: getLang() === 'zh-CN' }, '中文（简体）'),
    h('option', { value: 'en', selected: getLang() === 'en' }, 'English'),
  );
  const managerName = input('manager.name', { required: true, maxlength: 120, autocomplete: 'name' });
  const username = input('manager.username', {
    required: true,
    maxlength: 64,
    autocomplete: 'username',
    autocapitalize: 'none',
    spellcheck: 'false',
  });
  const pinAttrs = { type: 'password', inputmode: 'numeric', pattern: '[0-9]*', maxlength: 8, autocomplete: 'new-password', required: true };
  const pin = input('manager.pin', pinAttrs);
  const pin2 = input('manager.pin_confirm', pinAttrs);

  const banner = formBanner();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-lg', 'data-testid': 'setup-submit', t: 'setup.submit' });

  // The shop's language is also the obvious language for the person setting it up.
  language.addEventListener('change', () => setLang(language.value));
  zone.addEventListener('change', () => setShopTimeZone(zone.value));
  for (const el of [pin, pin2]) el.addEventListener('input', () => (el.value = el.value.replace(/\D/g, '').slice(0, 8)));

  let sending = false;
  let attempt = null; // {key, body}: the same body retried keeps its Idempotency-Key

  const form = h(
    'form',
    { class: 'card form setup-form', 'data-testid': 'setup-form', novalidate: true },
    h('header', { class: 'form-head' }, h('h1', { t: 'setup.title' }), h('p', { class: 'lead', t: 'setup.lead' })),
    banner,
    h(
      'fieldset',
      { class: 'fieldset' },
      h('legend', { t: 'setup.shopSection' }),
      field('setup.shopName', shopName),
      h('div', { class: 'grid-2' }, field('setup.timezone', zone, { hintKey: 'setup.timezoneHint' }), field('setup.language', language)),
    ),
    h(
      'fieldset',
      { class: 'fieldset' },
      h('legend', { t: 'setup.managerSection' }),
      h('p', { class: 'field-hint', t: 'setup.managerHint' }),
      h('div', { class: 'grid-2' }, field('setup.managerName', managerName), field('setup.username', username, { hintKey: 'setup.usernameHint' })),
      h('div', { class: 'grid-2' }, field('setup.pin', pin, { hintKey: 'setup.pinHint' }), field('setup.pinConfirm', pin2)),
    ),
    h('div', { class: 'form-actions' }, submit),
  );

  form.addEventListener('input', (e) => clearFieldError(e.target));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (sending) return;
    clearFieldErrors(form);
    clearError(banner);

    const problems = [];
    if (!shopName.value.trim()) problems.push({ field: 'shop_name', message: { key: 'form.required' } });
    if (!managerName.value.trim()) problems.push({ field: 'manager.name', message: { key: 'form.required' } });
    if (!username.value.trim()) problems.push({ field: 'manager.username', message: { key: 'form.required' } });
    if (!PIN_RE.test(pin.value)) problems.push({ field: 'manager.pin', message: { key: 'form.pinDigits' } });
    else if (pin.value !== pin2.value) problems.push({ field: 'manager.pin_confirm', message: { key: 'form.pinMismatch' } });
    if (problems.length) return showFieldErrors(form, problems);

    const body = {
      shop_name: shopName.value.trim(),
      timezone: zone.value,
      language: language.value,
      manager: { username: username.value.trim(), name: managerName.value.trim(), pin: pin.value },
    };
    const serial = JSON.stringify(body);
    if (!attempt || attempt.body !== serial) attempt = { key: newIdempotencyKey(), body: serial };

    sending = true;
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const res = await post('/api/setup', body, { idempotencyKey: attempt.key });
      ctx.state.setup = null;
      setShopTimeZone(body.timezone);
      await ctx.loadShop();
      ctx.setUser(res?.user || null);
      // A new shop's manager starts where the team is added and the shop is set up.
      ctx.go(res?.user ? '#/staff' : '#/signin', { replace: true });
    } catch (err) {
      if (err.status === 409) {
        // Someone finished setup first (another tablet): the shop exists, so sign in instead.
        ctx.state.setup = null;
        await ctx.loadShop();
        return ctx.go('#/signin', { replace: true });
      }
      // A refusal about one field (a PIN too easy to guess) goes by that field, in words of the
      // tablet's language from its code; anything else to the banner, the same way.
      const one = err.body?.field && err.body?.code ? [{ field: err.body.field, code: err.body.code, params: err.body.params }] : [];
      const errors = err.errors?.length ? err.errors : one;
      const rest = errors.length ? showFieldErrors(form, errors) : [];
      if (!errors.length || rest.length) {
        showError(banner, err);
        banner.scrollIntoView({ block: 'center' });
      }
    } finally {
      sending = false;
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });

  root.append(h('div', { class: 'page page-narrow' }, form));
  shopName.focus();
}
