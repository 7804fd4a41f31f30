// Tiny DOM helpers. Screens build their markup with h() so that translated text carries its key
// (data-i18n) and can be re-translated in place when the language changes, without re-rendering a
// half-filled form and losing what the advisor typed.
import { getLang, t, formatDateTime } from './i18n.js';

/**
 * h('button', {class: 'btn', t: 'today.new', onclick: fn, 'data-testid': 'x'}, ...children)
 * Special props: t (translation key for the text), tp (its params), tattrs ({attr: key}),
 * on* functions become listeners, value/checked/disabled/hidden are set as properties.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, val] of Object.entries(props || {})) {
    if (val === undefined || val === null || val === false) continue;
    if (key === 't') {
      el.dataset.i18n = val;
    } else if (key === 'tp') {
      el.dataset.i18nParams = JSON.stringify(val);
    } else if (key === 'tattrs') {
      el.dataset.i18nAttrs = JSON.stringify(val);
    } else if (key.startsWith('on') && typeof val === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), val);
    } else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'hidden') {
      el[key] = val;
    } else if (key === 'class') {
      el.className = Array.isArray(val) ? val.filter(Boolean).join(' ') : val;
    } else {
      el.setAttribute(key, val === true ? '' : String(val));
    }
  }
  appendAll(el, children);
  if (props && (props.t || props.tattrs)) translateElement(el);
  return el;
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A <time> element whose text is re-formatted (shop time zone, current language) on language change. */
export function timeEl(iso, format = 'datetime', props = {}) {
  const el = h('time', { ...props, datetime: iso, 'data-at': iso, 'data-fmt': format });
  el.textContent = formatDateTime(iso, format);
  return el;
}

export function translateElement(el) {
  if (el.dataset.i18n) {
    const params = el.dataset.i18nParams ? JSON.parse(el.dataset.i18nParams) : undefined;
    // data-english: the server's own words for something the app has none for (forms.js), which
    // an English screen shows instead of the key's plain ones.
    el.textContent = el.dataset.english && getLang() === 'en' ? el.dataset.english : t(el.dataset.i18n, params);
  }
  if (el.dataset.i18nAttrs) {
    for (const [attr, key] of Object.entries(JSON.parse(el.dataset.i18nAttrs))) {
      el.setAttribute(attr, t(key));
    }
  }
  if (el.dataset.at) el.textContent = formatDateTime(el.dataset.at, el.dataset.fmt);
}

/** Re-translate every keyed element under root (called when the language toggles). */
export function translateTree(root = document) {
  root.querySelectorAll('[data-i18n],[data-i18n-attrs],time[data-at]').forEach(translateElement);
}

/** Change a keyed element's text (and params) so later language switches keep it. */
export function setText(el, key, params, english) {
  if (english) el.dataset.english = english;
  else delete el.dataset.english;
  el.dataset.i18n = key;
  if (params) el.dataset.i18nParams = JSON.stringify(params);
  else delete el.dataset.i18nParams;
  translateElement(el);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let lastId = 0;
/** A fresh document-unique id, to tie a control to the text that names it (aria-labelledby). */
export function uid(prefix = 'id') {
  return `${prefix}-${++lastId}`;
}

let toastTimer;
/** A short status message at the bottom of the screen (aria-live region in index.html). */
export function toast(key, params, kind = 'info') {
  const box = document.getElementById('toast');
  if (!box) return;
  clear(box);
  box.append(h('div', { class: ['toast', `toast-${kind}`], t: key, tp: params }));
  box.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.classList.remove('show'), 3500);
}

/**
 * Copy text. navigator.clipboard only exists in secure contexts, and a shop LAN server is often
 * plain http, so fall back to the old selection + execCommand route.
 */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through to the legacy path */
  }
  const area = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}
