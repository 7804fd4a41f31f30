// What the technician's clock screens share: the stop reasons and their dialog, durations in words,
// and taps sent with the tablet's own clock and ONE Idempotency-Key per tap (a retry resends the
// very same request, so a reply lost on bad Wi-Fi can never clock twice).
import { action } from './action.js';
import { h } from './dom.js';
import { t } from './i18n.js';
import { STOP_REASONS } from './domain.js';

/**
 * A tap: one or more POSTs decided at the moment of the tap, each with device_time = when the
 * finger came down. `subject` names what a step is about, so a refused step holds back only
 * later steps about the same thing. Sent with send() (outbox first, see action.js).
 */
export function tap(steps) {
  const at = new Date().toISOString();
  const act = action(
    steps.map(({ path, body = {}, clock = true, tolerate = [], subject = path, meta = null }) => ({
      path,
      body: clock ? { ...body, device_time: at } : body,
      tolerate,
      subject,
      meta,
    })),
  );
  act.at = at;
  return act;
}

/** "1 h 05 min" / "1 小时 05 分" for a number of minutes (rounded down). */
export function formatMinutes(minutes) {
  const total = Math.max(0, Math.floor(minutes || 0));
  const hours = Math.floor(total / 60);
  const mins = total % 60;
  return hours ? t('dur.hm', { h: hours, m: String(mins).padStart(2, '0') }) : t('dur.m', { m: mins });
}

/** "1:05:09": a running timer, readable at arm's length. */
export function formatStopwatch(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n) => String(n).padStart(2, '0');
  return `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

/** Hours as the estimate is written ("1.5 h"). */
export function formatHours(hours) {
  const n = Number(hours);
  return Number.isFinite(n) ? t('dur.hours', { h: Math.round(n * 100) / 100 }) : '—';
}

/**
 * Ask why the clock stops: six big buttons, nothing to type (gloves). With `switchingTo` the job
 * being stopped is not the one tapped: starting another job stops the running one first.
 * Resolves with the reason, or null when cancelled.
 */
export function askStopReason({ jobTitle, switchingTo = null }) {
  return new Promise((resolve) => {
    let chosen = null;
    const buttons = STOP_REASONS.map((reason) =>
      h('button', {
        type: 'button',
        class: ['btn', 'reason-btn', `reason-${reason}`],
        'data-testid': `stop-reason-${reason}`,
        t: `stop.${reason}`,
        onclick: () => {
          chosen = reason;
          dialog.close();
        },
      }),
    );
    const lead = switchingTo
      ? h('p', { class: 'lead', t: 'stop.switchLead', tp: { running: jobTitle, next: switchingTo } })
      : h('p', { class: 'lead' }, h('strong', {}, jobTitle));
    const dialog = h(
      'dialog',
      { class: 'dialog stop-dialog', 'data-testid': 'stop-dialog' },
      h(
        'div',
        { class: 'dialog-form' },
        h('h2', { t: switchingTo ? 'stop.switchTitle' : 'stop.title' }),
        lead,
        h('div', { class: 'reason-grid', role: 'group', tattrs: { 'aria-label': 'stop.title' } }, buttons),
        h(
          'div',
          { class: 'dialog-actions' },
          h('button', { type: 'button', class: 'btn btn-ghost btn-xl', t: 'common.cancel', 'data-testid': 'stop-cancel', onclick: () => dialog.close() }),
        ),
      ),
    );
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(chosen);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A yes/no question with big buttons. Resolves true when confirmed. */
export function confirmBig({ titleKey, bodyKey, bodyParams, okKey, testid = 'confirm-dialog' }) {
  return new Promise((resolve) => {
    let ok = false;
    const dialog = h(
      'dialog',
      { class: 'dialog confirm-dialog', 'data-testid': testid },
      h(
        'div',
        { class: 'dialog-form' },
        h('h2', { t: titleKey }),
        bodyKey ? h('p', { class: 'lead', t: bodyKey, tp: bodyParams }) : null,
        h(
          'div',
          { class: 'dialog-actions' },
          h('button', { type: 'button', class: 'btn btn-ghost btn-xl', t: 'common.cancel', onclick: () => dialog.close() }),
          h('button', {
            type: 'button',
            class: 'btn btn-primary btn-xl',
            t: okKey,
            'data-testid': `${testid}-ok`,
            onclick: () => {
              ok = true;
              dialog.close();
            },
          }),
        ),
      ),
    );
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(ok);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
