// Find (#/find): one box for a plate (any part), a phone (any 4+ digits), a name, an order number or
// the VIN's last digits, over open and delivered orders. Results are cards: open the order, or the
// vehicle's history. Reads only, so nothing goes through the outbox; the last query is kept for the
// session, so coming back from an order shows the same results.
import { get } from './api.js';
import { h, clear, setText, timeEl } from './dom.js';
import { formBanner, showError, clearError } from './forms.js';

const KEEP = 'bayline.find.q';
const TYPING_MS = 350; // search once typing pauses: a tablet keyboard is slow, the server is not

export function render(view, ctx) {
  const input = h('input', {
    type: 'search',
    class: 'input find-input',
    name: 'q',
    'data-testid': 'find-input',
    autocomplete: 'off',
    autocapitalize: 'characters',
    spellcheck: 'false',
    enterkeyhint: 'search',
    maxlength: 40,
    tattrs: { placeholder: 'find.placeholder', 'aria-label': 'find.placeholder' },
  });
  const button = h('button', { type: 'submit', class: 'btn btn-primary', t: 'find.search' });
  const banner = formBanner();
  const status = h('p', { class: 'field-hint find-status', role: 'status', 'aria-live': 'polite' });
  const list = h('div', { class: 'find-results', 'data-testid': 'find-results' });
  const form = h('form', { class: 'find-form', role: 'search', novalidate: true }, input, button);
  view.append(
    h(
      'section',
      { class: 'page find-page' },
      h('header', { class: 'page-head' }, h('h1', { t: 'find.title' })),
      form,
      h('p', { class: 'field-hint', t: 'find.hint' }),
      banner,
      status,
      list,
    ),
  );

  let timer = null;
  let asked = 0; // answers to an older query are dropped when a newer one was sent
  let gone = false;

  async function run() {
    const q = input.value.trim();
    sessionStorage.setItem(KEEP, q);
    clearError(banner);
    if (!q) {
      clear(list);
      status.textContent = '';
      return;
    }
    const mine = ++asked;
    setStatus('find.searching');
    try {
      const found = await get(`/api/search?q=${encodeURIComponent(q)}`);
      if (gone || mine !== asked) return;
      paint(q, found.items || []);
    } catch (err) {
      if (gone || mine !== asked) return;
      status.textContent = '';
      if (err.status !== 401) showError(banner, err);
    }
  }

  function setStatus(key, params) {
    setText(status, key, params);
  }

  function paint(q, items) {
    clear(list);
    if (!items.length) return setStatus('find.none', { q });
    setStatus(items.length >= 50 ? 'find.many' : 'find.count', { count: items.length });
    list.append(...items.map((hit) => card(hit, ctx)));
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clearTimeout(timer);
    run();
  });
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, TYPING_MS);
  });

  input.value = sessionStorage.getItem(KEEP) || '';
  if (input.value) run();
  input.focus();
  return () => {
    gone = true;
    clearTimeout(timer);
  };
}

function card(hit, ctx) {
  const when = timeEl(hit.delivered_at || hit.created_at, 'date');
  const vehicle = [hit.make, hit.model].filter(Boolean).join(' ');
  return h(
    'article',
    { class: 'card find-card', 'data-testid': 'find-card', 'data-ro-id': hit.id, 'data-stage': hit.stage },
    h(
      'header',
      { class: 'find-card-head' },
      h('span', { class: 'plate', lang: 'zh-CN' }, hit.plate),
      h('span', { class: `chip stage-chip stage-${hit.stage}`, t: `stage.${hit.stage}` }),
    ),
    vehicle ? h('p', { class: 'find-vehicle' }, vehicle) : null,
    h(
      'p',
      { class: 'find-customer' },
      h('span', {}, hit.customer_name),
      ' · ',
      h('a', { href: `tel:${hit.phone.replace(/[^\d+]/g, '')}`, class: 'tel' }, hit.phone),
    ),
    h(
      'p',
      { class: 'muted find-meta' },
      h('span', { class: 'find-number' }, hit.number),
      ' · ',
      h('span', { t: hit.delivered_at ? 'find.delivered' : 'find.created' }),
      ' ',
      when,
      ' · ',
      h('span', { t: 'find.mileage', tp: { km: hit.mileage.toLocaleString('en-US') } }),
    ),
    h(
      'div',
      { class: 'form-actions find-actions' },
      h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'find-open', t: 'find.open', onclick: () => ctx.go(`#/ro/${hit.id}`) }),
      h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'find-vehicle', t: 'find.vehicle', onclick: () => ctx.go(`#/vehicle/${hit.vehicle_id}`) }),
    ),
  );
}
