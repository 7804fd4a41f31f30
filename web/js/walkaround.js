// The walk-around at check-in (环车检查): tap where the damage is on the outline, pick its type, take
// photos for it, note fuel and mileage, and let the customer sign. Made to be done in under two minutes
// while talking to the customer; photos queue on the tablet when the Wi-Fi drops.
import { get, newIdempotencyKey } from './api.js';
import { action, send } from './action.js';
import { entries, entryWords, onOutbox } from './outbox.js';
import { h, clear, setText, toast, timeEl, uid } from './dom.js';
import { showError } from './forms.js';
import { t } from './i18n.js';
import { vehicleView, drawMarks } from './vehicle.js';
import { hasLiveCamera, openCamera } from './camera.js';
import { downscale, enqueuePhoto, pendingPhotos, onPhotoQueue, discardPhoto, flush } from './photo-queue.js';
import { keepScreen, readScreen, staleMark, unreachable } from './screencache.js';

const TYPES = ['scratch', 'dent', 'chip', 'crack', 'other'];
const VIEW_ORDER = ['left', 'top', 'right', 'front', 'rear'];
const SAVE_DELAY_MS = 500;
// One arrow key press moves a mark this share of its view (with Shift: NUDGE_FAR).
const NUDGE = 0.02;
const NUDGE_FAR = 0.1;
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

export function render(root, ctx, param) {
  const roId = Number(param);
  const me = ctx.state.user?.id;
  let ro = null;
  let walk = { marks: [], photos: [], signed_at: null };
  let marks = []; // [{id, view, x, y, type, note, number}]
  let selected = null;
  let queued = []; // local photo-queue entries for this repair order
  const progress = new Map(); // key → percent
  const previews = new Map(); // key → object URL
  let saveTimer = null;

  const banner = h('div', { class: 'form-banner', role: 'alert', hidden: true });
  const stale = staleMark();
  const title = h('h1', { t: 'walk.title' });
  const sub = h('p', { class: 'muted' });
  const views = h('div', { class: 'car-views' });
  // Without a pointer: each view is a button named by its caption; Enter adds a mark in its middle
  // and the arrow keys move it (keyHint says so, visibly while a view has keyboard focus).
  const keyHint = h('p', { class: 'muted key-hint', id: uid('walk-keys'), t: 'walk.keyHint' });
  const svgs = {};
  for (const view of VIEW_ORDER) {
    const svg = vehicleView(view, (x, y) => addMark(view, x, y));
    const caption = h('figcaption', { id: uid('walk-view'), t: `walk.view.${view}` });
    svg.setAttribute('data-testid', `car-${view}`);
    svg.setAttribute('aria-labelledby', caption.id);
    svg.setAttribute('aria-describedby', keyHint.id);
    svg.addEventListener('keydown', (ev) => viewKey(view, ev));
    svgs[view] = svg;
    views.append(h('figure', { class: `car-figure fig-${view}` }, svg, caption));
  }
  const list = h('ol', { class: 'mark-list', 'data-testid': 'mark-list' });
  const fuel = h('div', { class: 'fuel-row', role: 'group', tattrs: { 'aria-label': 'newro.fuel' } });
  const mileageId = uid('walk-mileage');
  const mileage = h('input', { type: 'number', class: 'input', id: mileageId, inputmode: 'numeric', min: 0, max: 2000000, 'data-testid': 'walk-mileage' });
  const signPanel = h('section', { class: 'card sign-panel', 'data-testid': 'sign-panel' });
  const back = h('button', { type: 'button', class: 'btn btn-ghost', t: 'walk.back', onclick: () => ctx.go('#/today') });

  root.append(
    h(
      'div',
      { class: 'page walk-page', 'data-testid': 'walkaround' },
      h('header', { class: 'page-head' }, h('div', {}, title, sub), back),
      stale.el,
      banner,
      h(
        'div',
        { class: 'walk-grid' },
        h('section', { class: 'card walk-map' }, h('p', { class: 'muted', t: 'walk.tapHint' }), keyHint, views),
        h(
          'div',
          { class: 'walk-side' },
          h('section', { class: 'card' }, h('h2', { t: 'walk.marks' }), list),
          h(
            'section',
            { class: 'card' },
            h('h2', { t: 'walk.fuelMileage' }),
            fuel,
            h('label', { class: 'field-label', for: mileageId, t: 'walk.mileage' }),
            mileage,
          ),
          signPanel,
        ),
      ),
    ),
  );

  let pendingSignature = null; // {name, url}: signed on this tablet, not yet on the server
  const locked = () => !!walk.signed_at || !!pendingSignature;

  function number(list) {
    list.forEach((m, i) => (m.number = i + 1));
    return list;
  }

  function addMark(view, x, y) {
    if (locked()) return toast('walk.lockedToast');
    const mark = { id: `m${newIdempotencyKey().replace(/-/g, '').slice(0, 12)}`, view, x, y, type: null, note: '' };
    marks = number([...marks, mark]);
    selected = mark.id;
    paint();
  }

  function viewKey(view, ev) {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      if (locked()) return toast('walk.lockedToast');
      addMark(view, 0.5, 0.5);
      const mark = marks.at(-1);
      toast('walk.markAdded', { number: mark.number, view: t(`walk.view.${view}`) });
      return;
    }
    const [dx, dy] = ARROWS[ev.key] || [];
    if (dx === undefined || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    ev.preventDefault(); // the arrows move the mark, not the page
    const here = marks.filter((m) => m.view === view);
    const mark = here.find((m) => m.id === selected) || here.at(-1);
    if (!mark || locked()) return;
    const step = ev.shiftKey ? NUDGE_FAR : NUDGE;
    const clamp = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;
    mark.x = clamp(mark.x + dx * step);
    mark.y = clamp(mark.y + dy * step);
    selected = mark.id;
    paint();
    if (mark.type) scheduleSave();
  }

  // Keyboard focus entering a mark's row selects it (the arrows then move that one), without
  // rebuilding the list under the focus.
  function selectQuietly(mark) {
    if (selected === mark.id) return;
    selected = mark.id;
    for (const view of VIEW_ORDER) drawMarks(svgs[view], marks, selected);
    list.querySelectorAll('.mark-item').forEach((li) => li.classList.toggle('selected', li.dataset.mark === mark.id));
  }

  function setType(mark, type) {
    mark.type = type;
    paint();
    scheduleSave();
  }

  function removeMark(mark) {
    marks = number(marks.filter((m) => m.id !== mark.id));
    if (selected === mark.id) selected = null;
    paint();
    scheduleSave();
  }

  function scheduleSave() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, SAVE_DELAY_MS);
  }

  // Every change of the map goes into the outbox as the whole map (a PUT): replayed in order, the
  // last one wins, so a walk-around done with the Wi-Fi down is complete on the server later.
  const subject = `walk:${roId}`;
  async function save() {
    const body = {
      marks: marks.filter((m) => m.type).map(({ id, view, x, y, type, note }) => ({ id, view, x, y, type, note })),
      fuel_level: ro?.fuel_level ?? null,
      mileage: mileage.value ? Number(mileage.value) : null,
    };
    const act = action([{ path: `/api/repair-orders/${roId}/walkaround`, method: 'PUT', body, subject, label: { key: 'outbox.what.walkaround', params: {} }, meta: { kind: 'damage-map', roId } }]);
    return submit(act, (reply) => {
      walk = reply;
    });
  }

  /**
   * Send through the outbox; `onReply` gets the server's answer if it comes within a moment.
   * Resolves false only when the server refused it (shown in the banner).
   */
  async function submit(act, onReply) {
    let ok = true;
    try {
      const reply = await send(act, { waitMs: 3000 });
      onReply(reply);
      banner.hidden = true;
      banner.classList.remove('form-banner-info');
    } catch (err) {
      if (err.queued) {
        banner.hidden = false;
        banner.classList.add('form-banner-info');
        setText(banner, 'outbox.savedHere');
      } else {
        banner.classList.remove('form-banner-info');
        showError(banner, err);
        ok = false;
      }
    }
    paint();
    return ok;
  }

  async function queuePhoto(mark, source) {
    const blob = await downscale(source);
    const entry = await enqueuePhoto({ roId, panel: mark.id, kind: 'walkaround', blob, staffId: me });
    previews.set(entry.key, URL.createObjectURL(blob));
    queued.push(entry);
    paint();
  }

  async function takePhoto(mark, input) {
    const files = [...(input.files || [])];
    input.value = '';
    for (const file of files) await queuePhoto(mark, file);
  }

  function photoTiles(mark) {
    const tiles = [];
    for (const p of walk.photos.filter((p) => p.panel === mark.id)) {
      tiles.push(
        h('a', { class: 'photo-tile done', href: p.url, target: '_blank', 'data-testid': 'photo-thumb', tattrs: { 'aria-label': 'walk.openPhoto' } }, h('img', { src: p.thumb_url, alt: '', loading: 'lazy' })),
      );
    }
    for (const e of queued.filter((q) => q.panel === mark.id)) {
      const pct = progress.get(e.key) ?? 0;
      const bar = h('span', { class: 'photo-bar-fill' });
      bar.style.width = `${pct}%`;
      const tile = h(
        'div',
        { class: ['photo-tile', e.state === 'failed' ? 'failed' : 'pending'], 'data-testid': 'photo-pending', 'data-key': e.key },
        previews.get(e.key) ? h('img', { src: previews.get(e.key), alt: '' }) : null,
        h('span', { class: 'photo-bar', role: 'progressbar', 'aria-valuenow': pct, 'aria-valuemin': 0, 'aria-valuemax': 100, tattrs: { 'aria-label': 'walk.photoUpload' } }, bar),
        e.state === 'failed' ? h('span', { class: 'photo-error' }, e.error || '') : null,
        e.state === 'failed'
          ? h('button', { type: 'button', class: 'btn btn-ghost btn-sm', t: 'common.remove', onclick: () => discardPhoto(e.key) })
          : null,
      );
      tiles.push(tile);
    }
    return tiles;
  }

  function paint() {
    setText(title, 'walk.title', { number: ro?.number ?? '' });
    sub.textContent = ro ? [ro.vehicle?.plate, [ro.vehicle?.make, ro.vehicle?.model].filter(Boolean).join(' '), ro.customer?.name].filter(Boolean).join(' · ') : '';
    for (const view of VIEW_ORDER) drawMarks(svgs[view], marks, selected);
    // The list is rebuilt: a keyboard user's focus goes back to the same control of the same mark.
    const focused = list.contains(document.activeElement) ? document.activeElement : null;
    const refocus = focused && { mark: focused.closest('.mark-item')?.dataset.mark, testid: focused.dataset.testid };
    clear(list);
    if (!marks.length) list.append(h('li', { class: 'muted', t: locked() ? 'walk.noDamageSigned' : 'walk.noMarks' }));
    for (const mark of marks) {
      const camera = h('input', { type: 'file', accept: 'image/*', capture: 'environment', multiple: true, class: 'offscreen', 'data-testid': 'photo-input' });
      camera.addEventListener('change', () => takePhoto(mark, camera));
      list.append(
        h(
          'li',
          { class: ['mark-item', mark.id === selected ? 'selected' : ''], 'data-testid': 'mark-item', 'data-mark': mark.id, 'data-type': mark.type || '', onclick: () => { selected = mark.id; paint(); }, onfocusin: () => selectQuietly(mark) },
          h('div', { class: 'mark-head' }, h('span', { class: 'mark-number', id: `mark-${mark.id}-number` }, String(mark.number)), h('span', { class: 'muted', id: `mark-${mark.id}-view`, t: `walk.view.${mark.view}` }),
            locked() ? null : h('button', { type: 'button', class: 'btn btn-ghost btn-sm', t: 'common.remove', 'data-testid': 'mark-remove', onclick: (ev) => { ev.stopPropagation(); removeMark(mark); } })),
          h(
            'div',
            { class: 'chips type-chips', role: 'group', 'aria-labelledby': `mark-${mark.id}-number mark-${mark.id}-view` },
            TYPES.map((type) =>
              h('button', {
                type: 'button',
                class: ['chip', 'chip-button', mark.type === type ? 'chip-on' : ''],
                'aria-pressed': String(mark.type === type),
                disabled: locked(),
                t: `walk.type.${type}`,
                'data-testid': `type-${type}`,
                onclick: (ev) => { ev.stopPropagation(); setType(mark, type); },
              }),
            ),
          ),
          h(
            'div',
            { class: 'photo-row' },
            photoTiles(mark),
            locked() || !mark.type
              ? null
              : h('label', { class: 'btn btn-ghost photo-add', 'data-testid': 'photo-add' }, camera, h('span', { t: 'walk.addPhoto' })),
            locked() || !mark.type || !hasLiveCamera()
              ? null
              : h('button', {
                  type: 'button',
                  class: 'btn btn-ghost photo-add',
                  t: 'camera.open',
                  'data-testid': 'camera-open',
                  onclick: (ev) => {
                    ev.stopPropagation();
                    openCamera((blob) => queuePhoto(mark, blob));
                  },
                }),
          ),
        ),
      );
    }
    if (refocus?.mark && refocus.testid) {
      const again = [...list.querySelectorAll('.mark-item')].find((li) => li.dataset.mark === refocus.mark);
      again?.querySelector(`[data-testid="${refocus.testid}"]`)?.focus();
    }
    clear(fuel);
    for (let eighths = 0; eighths <= 8; eighths++) {
      fuel.append(
        h('button', {
          type: 'button',
          class: ['fuel-button', ro?.fuel_level === eighths ? 'on' : ''],
          'aria-pressed': String(ro?.fuel_level === eighths),
          disabled: locked(),
          'data-testid': 'walk-fuel',
          'data-eighths': eighths,
          onclick: () => { ro.fuel_level = eighths; paint(); scheduleSave(); },
        }, eighths === 0 ? 'E' : eighths === 8 ? 'F' : `${eighths}/8`),
      );
    }
    mileage.disabled = locked();
    paintSignature();
  }

  // ---------- signature ----------
  const pad = h('canvas', { class: 'sign-pad', width: 600, height: 200, 'data-testid': 'sign-pad' });
  const signer = h('input', { type: 'text', class: 'input', maxlength: 120, 'data-testid': 'sign-name', tattrs: { placeholder: 'walk.signerName', 'aria-label': 'walk.signerName' } });
  let inked = false;
  (function wirePad() {
    const g = pad.getContext('2d');
    g.lineWidth = 3;
    g.lineCap = 'round';
    g.strokeStyle = '#111';
    let drawing = false;
    const at = (ev) => {
      const box = pad.getBoundingClientRect();
      return [((ev.clientX - box.left) / box.width) * pad.width, ((ev.clientY - box.top) / box.height) * pad.height];
    };
    pad.addEventListener('pointerdown', (ev) => {
      drawing = true;
      pad.setPointerCapture(ev.pointerId);
      g.beginPath();
      g.moveTo(...at(ev));
    });
    pad.addEventListener('pointermove', (ev) => {
      if (!drawing) return;
      g.lineTo(...at(ev));
      g.stroke();
      inked = true;
    });
    const end = () => (drawing = false);
    pad.addEventListener('pointerup', end);
    pad.addEventListener('pointercancel', end);
  })();

  async function sign() {
    if (!inked || !signer.value.trim()) {
      banner.hidden = false;
      return setText(banner, !inked ? 'walk.signFirst' : 'walk.nameFirst');
    }
    clearTimeout(saveTimer);
    // The customer signs what is on the screen (queued before the signature); a map the server
    // refused is not signed: the banner says why.
    if (!(await save())) return;
    const blob = await new Promise((resolve) => pad.toBlob(resolve, 'image/png'));
    const name = signer.value.trim();
    const act = action([
      {
        path: `/api/repair-orders/${roId}/walkaround/signature`,
        form: [{ name: 'signed_by', value: name }, { name: 'file', blob, filename: 'signature.png' }],
        subject,
        label: { key: 'outbox.what.signature', params: { name } },
        meta: { kind: 'signature', roId, name },
      },
    ]);
    // Signed is signed, on the server or not yet: the map is closed on this screen either way.
    pendingSignature = { name, url: URL.createObjectURL(blob) };
    const ok = await submit(act, (reply) => {
      walk = reply;
      toast('walk.signed', undefined, 'ok');
    });
    if (!ok) {
      URL.revokeObjectURL(pendingSignature.url);
      pendingSignature = null; // refused: the customer can sign again once it is put right
      paint();
    }
  }

  function paintSignature() {
    clear(signPanel);
    signPanel.append(h('h2', { t: 'walk.signature' }));
    if (!walk.signed_at && pendingSignature) {
      signPanel.append(
        h('img', { class: 'sign-image', src: pendingSignature.url, tattrs: { alt: 'walk.signature' }, 'data-testid': 'signature-image' }),
        h('p', { 'data-testid': 'signed-by' }, h('span', { t: 'walk.signedBy', tp: { name: pendingSignature.name } }), ' ', h('span', { class: 'chip chip-queued', 'data-testid': 'signature-pending', t: 'outbox.notSent' })),
      );
      return;
    }
    if (locked()) {
      signPanel.append(
        h('img', { class: 'sign-image', src: walk.signature_url, tattrs: { alt: 'walk.signature' }, 'data-testid': 'signature-image' }),
        h('p', { 'data-testid': 'signed-by' }, h('span', { t: 'walk.signedBy', tp: { name: walk.signed_by } }), ' · ', timeEl(walk.signed_at, 'smart')),
      );
      return;
    }
    const clearPad = () => {
      pad.getContext('2d').clearRect(0, 0, pad.width, pad.height);
      inked = false;
    };
    signPanel.append(
      h('p', { class: 'muted', t: 'walk.signIntro' }),
      pad,
      signer,
      h(
        'div',
        { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'btn btn-ghost', t: 'walk.clear', onclick: clearPad }),
        h('button', { type: 'button', class: 'btn btn-primary', t: 'walk.sign', 'data-testid': 'sign-button', onclick: sign }),
      ),
    );
  }

  // ---------- load ----------
  async function load() {
    try {
      try {
        const askedAt = new Date().toISOString();
        [ro, walk] = await Promise.all([get(`/api/repair-orders/${roId}`), get(`/api/repair-orders/${roId}/walkaround`)]);
        keepScreen(me, `walk:${roId}`, { ro, walk }, askedAt);
        stale.hide();
      } catch (err) {
        // No network: the walk-around as this tablet last loaded it, marked as not fresh; what is
        // done on it now goes through the outbox as always.
        const kept = readScreen(me, `walk:${roId}`);
        if (!unreachable(err) || !kept?.data?.ro || !kept.data.walk) throw err;
        ({ ro, walk } = kept.data);
        stale.show(kept.at);
      }
      // What this tablet saved but has not sent yet is newer than the server's copy.
      const waiting = (await entries()).filter((e) => e.meta?.roId === roId && e.state === 'pending');
      const lastMap = waiting.filter((e) => e.meta.kind === 'damage-map').pop();
      if (lastMap && !walk.signed_at) {
        walk = { ...walk, marks: lastMap.json.marks };
        ro = { ...ro, fuel_level: lastMap.json.fuel_level, mileage: lastMap.json.mileage };
      }
      const signature = waiting.find((e) => e.meta.kind === 'signature');
      if (signature && !walk.signed_at && !pendingSignature) {
        pendingSignature = { name: signature.meta.name, url: URL.createObjectURL(signature.form.find((p) => p.blob).blob) };
      }
      // A tap on the outline can land before this answer does: keep such new marks (unsigned only).
      const early = walk.signed_at ? [] : marks.filter((m) => !walk.marks.some((w) => w.id === m.id));
      marks = number([...walk.marks.map((m) => ({ ...m })), ...early]);
      mileage.value = ro.mileage ?? '';
      if (!signer.value) signer.value = ro.customer?.name || '';
      queued = await pendingPhotos(roId);
      for (const e of queued) if (!previews.has(e.key)) previews.set(e.key, URL.createObjectURL(e.blob));
      paint();
      flush();
    } catch (err) {
      showError(banner, err);
    }
  }

  mileage.addEventListener('change', scheduleSave);
  const offQueue = onPhotoQueue((ev) => {
    if (ev.type === 'progress') {
      progress.set(ev.key, Math.round((ev.loaded / ev.total) * 100));
      const bar = list.querySelector(`[data-key="${ev.key}"] .photo-bar-fill`);
      if (bar) bar.style.width = `${progress.get(ev.key)}%`;
      return;
    }
    if (ev.type === 'done' && ev.entry.roId === roId) {
      queued = queued.filter((q) => q.key !== ev.key);
      if (!walk.photos.some((p) => p.id === ev.photo.id)) walk.photos.push(ev.photo);
    } else if (ev.type === 'failed') {
      queued = queued.map((q) => (q.key === ev.key ? ev.entry : q));
      toast('walk.photoRefused', undefined, 'error');
    } else if (ev.type === 'discarded') {
      queued = queued.filter((q) => q.key !== ev.key);
    } else if (ev.type === 'waiting') {
      toast('walk.photoWaiting');
    }
    paint();
  });
  // The map or the signature reached the server later (queued here): its answer is the walk-around.
  const offOutbox = onOutbox((event) => {
    const meta = event.entry?.meta;
    if (meta?.roId !== roId || !['damage-map', 'signature'].includes(meta.kind)) return;
    if (event.type === 'parked') {
      // Refused after it was queued: the server's walk-around stands; the list keeps the item.
      banner.classList.remove('form-banner-info');
      const words = entryWords(event.entry);
      showError(banner, words ? { key: words[0], params: words[1], english: words[2] } : { key: 'error.unexpected' });
      if (meta.kind === 'signature' && pendingSignature) {
        URL.revokeObjectURL(pendingSignature.url);
        pendingSignature = null;
      }
      load();
      return;
    }
    if (event.type !== 'done') return;
    if (event.body && typeof event.body === 'object') {
      const known = new Set((event.body.photos || []).map((p) => p.id));
      walk = { ...event.body, photos: [...(event.body.photos || []), ...walk.photos.filter((p) => !known.has(p.id))] };
    }
    if (meta.kind === 'signature' && banner.classList.contains('form-banner-info')) {
      banner.hidden = true;
      banner.classList.remove('form-banner-info');
      toast('walk.signed', undefined, 'ok');
    }
    paint();
  });
  load();
  // Opened from what the tablet kept: load the server's copy once the network is back (only then:
  // a walk-around being filled in is not reloaded under the advisor's finger).
  const onOnline = () => stale.shown && load();
  window.addEventListener('online', onOnline);
  return () => {
    clearTimeout(saveTimer);
    stale.hide();
    window.removeEventListener('online', onOnline);
    offQueue();
    offOutbox();
    previews.forEach((url) => URL.revokeObjectURL(url));
  };
}
