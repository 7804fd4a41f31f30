// "I found something": a technician reports extra work on the car (worn pads, a leak…) for the
// advisor to price and the customer to approve. One tap on a common phrase writes it; the finding
// and its photos are queued on the tablet together (photos hang off it: panel "finding:<id>").
import { action, prepare, send } from './action.js';
import { discard, ref } from './outbox.js';
import { h, clear, toast } from './dom.js';
import { t } from './i18n.js';
import { formBanner, showError, clearError } from './forms.js';
import { hasLiveCamera, openCamera } from './camera.js';
import { discardPhoto, downscale, enqueuePhoto } from './photo-queue.js';

// Keys of the phrase list; the server keeps the key (`phrase`) so reports can count them.
export const PHRASES = [
  'brake_pads_worn',
  'brake_discs_worn',
  'tyre_tread_low',
  'tyre_damaged',
  'oil_leak',
  'coolant_leak',
  'wiper_blades_worn',
  'battery_weak',
  'suspension_noise',
  'light_out',
  'air_filter_dirty',
  'cabin_filter_dirty',
  'belt_cracked',
  'brake_fluid_old',
];
const MAX_TEXT = 500;

export function openFindingDialog(job, { onSaved } = {}) {
  let phrase = null;
  let sending = false;
  const shots = []; // [{blob, url}] waiting for the finding's id

  const text = h('textarea', {
    class: 'input finding-text',
    name: 'finding',
    rows: 3,
    maxlength: MAX_TEXT,
    'data-testid': 'finding-text',
    tattrs: { 'aria-label': 'finding.text', placeholder: 'finding.placeholder' },
  });
  const banner = formBanner();
  banner.dataset.testid = 'finding-error';
  const chips = h(
    'div',
    { class: 'chips phrase-chips', role: 'group', tattrs: { 'aria-label': 'finding.phrases' } },
    PHRASES.map((key) =>
      h('button', {
        type: 'button',
        class: 'chip chip-button chip-big',
        t: `phrase.${key}`,
        'data-testid': `phrase-${key}`,
        onclick: () => addPhrase(key),
      }),
    ),
  );
  const tiles = h('div', { class: 'photo-row', 'data-testid': 'finding-photos' });
  const fileInput = h('input', { type: 'file', accept: 'image/*', capture: 'environment', multiple: true, class: 'offscreen', 'data-testid': 'finding-photo-input' });
  fileInput.addEventListener('change', async () => {
    const files = [...(fileInput.files || [])];
    fileInput.value = '';
    for (const file of files) await addShot(file);
  });
  const save = h('button', { type: 'submit', class: 'btn btn-primary btn-xl', t: 'finding.save', 'data-testid': 'finding-save' });
  const cancel = h('button', { type: 'button', class: 'btn btn-ghost btn-xl', t: 'common.cancel', onclick: () => dialog.close() });
  const v = job.repair_order?.vehicle || {};
  const form = h(
    'form',
    { class: 'dialog-form', novalidate: true },
    h('h2', { t: 'finding.title' }),
    h('p', { class: 'muted' }, [job.repair_order?.number, v.plate, job.title].filter(Boolean).join(' · ')),
    banner,
    h('p', { class: 'field-label', t: 'finding.phrases' }),
    chips,
    h('label', { class: 'field-label', for: 'finding-text', t: 'finding.text' }),
    text,
    tiles,
    h(
      'div',
      { class: 'photo-row' },
      h('label', { class: 'btn btn-secondary btn-xl', 'data-testid': 'finding-photo-add' }, fileInput, h('span', { t: 'finding.addPhoto' })),
      hasLiveCamera()
        ? h('button', { type: 'button', class: 'btn btn-secondary btn-xl', t: 'camera.open', 'data-testid': 'finding-camera', onclick: () => openCamera(addShot) })
        : null,
    ),
    h('div', { class: 'dialog-actions' }, cancel, save),
  );
  text.id = 'finding-text';
  const dialog = h('dialog', { class: 'dialog finding-dialog', 'data-testid': 'finding-dialog' }, form);

  function addPhrase(key) {
    const words = t(`phrase.${key}`);
    const now = text.value.trim();
    if (!now.includes(words)) text.value = now ? `${now}; ${words}` : words;
    phrase ??= key; // the first phrase names the finding; more words may follow
    clearError(banner);
  }

  async function addShot(source) {
    const blob = await downscale(source);
    shots.push({ blob, url: URL.createObjectURL(blob) });
    paintShots();
  }

  function paintShots() {
    clear(tiles);
    shots.forEach((shot, i) =>
      tiles.append(
        h(
          'div',
          { class: 'photo-tile', 'data-testid': 'finding-photo' },
          h('img', { src: shot.url, alt: '' }),
          h('button', {
            type: 'button',
            class: 'photo-remove',
            tattrs: { 'aria-label': 'common.remove' },
            onclick: () => {
              URL.revokeObjectURL(shot.url);
              shots.splice(i, 1);
              paintShots();
            },
          }, '×'),
        ),
      ),
    );
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (sending) return;
    clearError(banner);
    const words = text.value.trim();
    if (!words) {
      showError(banner, { key: 'finding.needText' });
      text.focus();
      return;
    }
    // A phrase only names the finding while its words are still in the text.
    const body = { text: words.slice(0, MAX_TEXT) };
    if (phrase && words.includes(t(`phrase.${phrase}`))) body.phrase = phrase;
    sending = true;
    save.disabled = true;
    // The finding and its photos go into the outbox together, before any network call; the
    // photos name the finding by a ref() filled in with its id once the server has it.
    const act = action([
      {
        path: `/api/jobs/${job.id}/findings`,
        body,
        subject: `job:${job.id}`,
        keepResult: true,
        label: { key: 'outbox.what.finding', params: {} },
        meta: { kind: 'finding', jobId: job.id, text: body.text, photos: shots.length },
      },
    ]);
    const photoKeys = [];
    try {
      await prepare(act);
      for (const shot of shots) {
        const photo = await enqueuePhoto({
          roId: job.repair_order.id,
          kind: 'finding',
          jobId: job.id,
          panel: `finding:${ref(act.steps[0].seq)}`,
          note: body.text,
          blob: shot.blob,
        });
        photoKeys.push(photo.key);
      }
      let finding = null;
      try {
        finding = await send(act, { waitMs: 4000 });
        toast(shots.length ? 'finding.savedPhotos' : 'finding.saved', { count: shots.length }, 'ok');
      } catch (err) {
        if (!err.queued) throw err;
        toast('finding.savedHere', { count: shots.length }, 'ok');
      }
      dialog.close();
      onSaved?.(finding);
    } catch (err) {
      // Refused while the person is here (the finding left the outbox), or the tablet could not
      // store everything: its photos go, and the finding too, so saving again cannot make two.
      for (const key of photoKeys) await discardPhoto(key);
      if (!err.status && act.steps[0].seq != null) await discard(act.steps[0].seq);
      if (err.status !== 401) showError(banner, err);
    } finally {
      sending = false;
      save.disabled = false;
    }
  });

  dialog.addEventListener('close', () => {
    shots.forEach((shot) => URL.revokeObjectURL(shot.url));
    dialog.remove();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}
