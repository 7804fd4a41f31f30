// What is still on this tablet, opened from the badge: items waiting for the network or for their
// author to sign in, and items the server refused (parked) with its reason — try again or discard.
import { h, timeEl } from './dom.js';
import { t } from './i18n.js';
import { discard, entries, entryWords, retry, kick } from './outbox.js';

// What an item is, from the last part of its address (every outbox action is one of these).
const WHAT = {
  'clock-on': 'outbox.what.start',
  'clock-off': 'outbox.what.stop',
  'clock-in': 'outbox.what.dayStart',
  'clock-out': 'outbox.what.dayEnd',
  confirm: 'outbox.what.confirm',
  correct: 'outbox.what.correct',
  qc: 'outbox.what.qc',
  photos: 'outbox.what.photo',
  findings: 'outbox.what.finding',
  promise: 'outbox.what.promise',
  'repair-orders': 'outbox.what.newRo',
};

function describe(entry) {
  if (entry.label?.key) return t(entry.label.key, entry.label.params);
  const key = WHAT[entry.url.split('/').pop()];
  return key ? t(key) : entry.url;
}

export async function openOutboxList() {
  const list = h('ul', { class: 'outbox-list', 'data-testid': 'outbox-list' });
  const dialog = h(
    'dialog',
    { class: 'dialog', 'data-testid': 'outbox-dialog' },
    h(
      'div',
      { class: 'dialog-form' },
      h('h2', { t: 'outbox.listTitle' }),
      list,
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn btn-primary btn-xl', t: 'outbox.close', onclick: () => dialog.close() })),
    ),
  );
  async function paint() {
    list.replaceChildren();
    const all = await entries();
    if (!all.length) list.append(h('li', { t: 'outbox.empty' }));
    for (const entry of all) {
      const parked = entry.state === 'parked';
      list.append(
        h(
          'li',
          { class: ['outbox-item', parked ? 'is-parked' : ''], 'data-testid': 'outbox-item', 'data-state': entry.state },
          h('div', { class: 'outbox-what' }, h('strong', {}, describe(entry)), ' ', timeEl(entry.deviceTime, 'smart')),
          h('div', { class: 'outbox-who', t: 'outbox.by', tp: { name: entry.staffName || '' } }),
          parked
            ? h('div', {}, refusedText(entry, { class: 'outbox-error', 'data-testid': 'outbox-error' }), h('p', { class: 'outbox-note', t: 'outbox.parkedHint' }))
            : h('p', { class: 'outbox-note', t: 'outbox.waiting' }),
          parked
            ? h(
                'div',
                { class: 'outbox-actions' },
                h('button', { type: 'button', class: 'btn btn-secondary', t: 'outbox.retry', onclick: async () => { await retry(entry.seq); paint(); } }),
                h('button', { type: 'button', class: 'btn btn-ghost', t: 'outbox.discard', 'data-testid': 'outbox-discard', onclick: async () => { await discard(entry.seq); paint(); } }),
              )
            : null,
        ),
      );
    }
  }
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  await paint();
  dialog.showModal();
  kick();
}

/** Why an entry was refused, in the language shown (and following the toggle). */
export function refusedText(entry, props = {}) {
  const words = entryWords(entry);
  return words ? h('p', { ...props, 'data-english': words[2], t: words[0], tp: words[1] }) : h('p', props, entry.error || '');
}
