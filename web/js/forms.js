// Shared form behaviour: field-level errors from the server's `errors[].field` paths, and turning
// an ApiError into words a person can act on.
import { h, clear, setText } from './dom.js';
import { errorWords, hasText } from './i18n.js';

/**
 * The words for a server refusal with a stable code ({code, params}): a translation key and its
 * params when web/js/i18n.js has the code in both languages, else null (then the English text).
 */
export function codeText(code, params) {
  const key = `error.code.${code}`;
  return code && hasText(key) ? { key, params: params || undefined } : null;
}

/**
 * Put an error into a message element, in the screen's language (and following its toggle): a
 * screen's own message ({key, params}), or an ApiError by its code (errorWords: the server's
 * English only on an English screen, and only for a refusal the app has no words for).
 */
export function showError(el, err) {
  el.hidden = false;
  if (typeof err?.key === 'string') return setText(el, err.key, err.params, err.english);
  if (err?.status === 0) return setText(el, 'error.network');
  if (err?.status === 429) {
    return err.retryAfter != null
      ? setText(el, 'error.rateLimitedIn', { seconds: err.retryAfter })
      : setText(el, 'error.rateLimited');
  }
  const [key, params, english] = errorWords(err?.body, err?.status);
  return setText(el, key, params, english);
}

export function clearError(el) {
  el.hidden = true;
  delete el.dataset.i18n;
  delete el.dataset.english;
  el.textContent = '';
}

/** Remove every field error (and aria-invalid marks) inside a form. */
export function clearFieldErrors(form) {
  form.querySelectorAll('[data-testid="field-error"]').forEach((e) => e.remove());
  form.querySelectorAll('[aria-invalid="true"]').forEach((e) => e.removeAttribute('aria-invalid'));
}

/** Clear the error of one control when the person starts fixing it. */
export function clearFieldError(control) {
  const path = control.dataset.path;
  control.removeAttribute('aria-invalid');
  if (!path) return;
  const form = control.closest('form');
  form
    ?.querySelectorAll(`[data-testid="field-error"][data-field="${CSS.escape(path)}"]`)
    .forEach((e) => e.remove());
}

/** Find the control for a server path, walking up ("vehicle.vin.0" → "vehicle.vin") if needed. */
function controlFor(form, field) {
  let path = field;
  while (path) {
    const el = form.querySelector(`[data-path="${CSS.escape(path)}"]`);
    if (el) return { el, path };
    const cut = path.lastIndexOf('.');
    path = cut > 0 ? path.slice(0, cut) : '';
  }
  return null;
}

/**
 * A field error's words, as {key, params, english}: a client-side check's own, a server code's, or
 * (a code this version does not know, a framework's bare message) a plain "not accepted", with the
 * server's English for an English screen.
 */
function fieldText(err) {
  if (err.message && typeof err.message === 'object') return err.message;
  const english = typeof err.message === 'string' && err.message ? err.message : undefined;
  return codeText(err.code, err.params) || (err.code ? { key: 'error.fieldUnknown', params: { code: err.code }, english } : { key: 'error.fieldInvalid', english });
}

/**
 * Show each {field, message, code, params} next to its control, focus the first one, and return
 * the errors that had nowhere to go (the caller shows them in the form's banner).
 * `message` may be a translation key object {key, params} for client-side checks.
 */
export function showFieldErrors(form, errors) {
  const unplaced = [];
  let first = null;
  for (const err of errors) {
    const found = controlFor(form, err.field);
    if (!found) {
      unplaced.push(err);
      continue;
    }
    const { el, path } = found;
    el.setAttribute('aria-invalid', 'true');
    const holder = el.closest('.field, .row-item, .fieldset') || el.parentElement;
    const text = fieldText(err);
    const msg = h('p', { class: 'field-error', 'data-testid': 'field-error', 'data-field': path, 'data-code': err.code || null, 'data-english': text.english, t: text.key, tp: text.params });
    const id = `err-${path.replace(/[^a-z0-9]/gi, '-')}`;
    msg.id = id;
    el.setAttribute('aria-describedby', id);
    holder.append(msg);
    first ||= el;
  }
  if (first) {
    const target = first.matches('input,select,textarea,button') ? first : first.querySelector('input,select,textarea,button');
    (target || first).focus({ preventScroll: true });
    first.scrollIntoView({ block: 'center', behavior: 'smooth' });
  }
  return unplaced;
}

/** A labelled field wrapper: <div class="field"><label>…</label>control hint</div>. */
export function field(labelKey, control, { hintKey, hint, optional = false, className } = {}) {
  const id = control.id || `f-${(control.name || labelKey).replace(/[^a-z0-9]/gi, '-')}-${Math.random().toString(36).slice(2, 7)}`;
  control.id = id;
  const label = h('label', { for: id, class: 'field-label' }, h('span', { t: labelKey }), optional ? h('span', { class: 'optional', t: 'common.optional' }) : null);
  const hintEl = hintKey || hint ? h('p', { class: 'field-hint', t: hintKey }, hint || null) : null;
  return h('div', { class: ['field', className] }, label, control, hintEl);
}

/** Banner at the top of a form for errors that belong to no single field. */
export function formBanner() {
  return h('div', { class: 'form-banner', role: 'alert', hidden: true });
}

export function showBannerErrors(banner, errors) {
  clear(banner);
  banner.hidden = false;
  for (const e of errors) {
    const text = fieldText(e);
    banner.append(h('p', {}, e.field ? `${e.field}: ` : null, h('span', { 'data-english': text.english, t: text.key, tp: text.params })));
  }
}
