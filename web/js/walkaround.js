// The walk-around at check-in (环车检查): tap where the damage is on the outline, pick its type, take
// photos for it, note fuel and mileage, and let the customer sign. Made to be done in under two minutes
// while talking to the customer; photos queue on the tablet when the Wi-Fi drops.
import { get, put, post, newIdempotencyKey } from './api.js';
import { h, clear, setText, toast, timeEl } from './dom.js';
import { showError } from './forms.js';
import { vehicleView, drawMarks } from './vehicle.js';
import { hasLiveCamera, openCamera } from './camera.js';
import { downscale, enqueuePhoto, pendingPhotos, onPhotoQueue, discardPhoto, flush } from './photo-queue.js';

const TYPES = ['scratch', 'dent', 'chip', 'crack', 'other'];
const VIEW_ORDER = ['left', 'top', 'right', 'front', 'rear'];
const SAVE_DELAY_MS = 500;

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
  const title = h('h1', { t: 'walk.title' });
  const sub = h('p', { class: 'muted' });
  const views = h('div', { class: 'car-views' });
  const svgs = {};
  for (const view of VIEW_ORDER) {
    const svg = vehicleView(view, (x, y) => addMark(view, x, y));
    svg.setAttribute('data-testid', `car-${view}`);
    svgs[view] = svg;
    views.append(h('figure', { class: `car-figure fig-${view}` }, svg, h('figcaption', { t: `walk.view.${view}` })));
  }
  const list = h('ol', { class: 'mark-list', 'data-testid': 'mark-list' });
  const fuel = h('div', { class: 'fuel-row', role: 'group' });
  const mileage = h('input', { type: 'number', class: 'input', inputmode: 'numeric', min: 0, max: 2000000, 'data-testid': 'walk-mileage' });
  const signPanel = h('section', { class: 'card sign-panel', 'data-testid': 'sign-panel' });
  const back = h('button', { type: 'button', class: 'btn btn-ghost', t: 'walk.back', onclick: () => ctx.go('#/today') });

  root.append(
    h(
      'div',
      { class: 'page walk-page', 'data-testid': 'walkaround' },
      h('header', { class: 'page-head' }, h('div', {}, title, sub), back),
      banner,
      h(
        'div',
        { class: 'walk-grid' },
        h('section', { class: 'card walk-map' }, h('p', { class: 'muted', t: 'walk.tapHint' }), views),
        h(
          'div',
          { class: 'walk-side' },
          h('section', { class: 'card' }, h('h2', { t: 'walk.marks' }), list),
          h(
            'section',
            { class: 'card' },
            h('h2', { t: 'walk.fuelMileage' }),
            fuel,
            h('label', { class: 'field-label', t: 'walk.mileage' }),
            mileage,
          ),
          signPanel,
        ),
      ),
    ),
  );

  const locked = () => !!walk.signed_at;

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

  async function save() {
    const body = {
      marks: marks.filter((m) => m.type).map(({ id, view, x, y, type, note }) => ({ id, view, x, y, type, note })),
      fuel_level: ro?.fuel_level ?? null,
      mileage: mileage.value ? Number(mileage.value) : null,
    };
    try {
      walk = await put(`/api/repair-orders/${roId}/walkaround`, body);
      banner.hidden = true;
      paint();
    } catch (err) {
      showError(banner, err);
    }
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
        h('a', { class: 'photo-tile done', href: p.url, target: '_blank', 'data-testid': 'photo-thumb' }, h('img', { src: p.thumb_url, alt: '', loading: 'lazy' })),
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
        h('span', { class: 'photo-bar', role: 'progressbar', 'aria-valuenow': pct, 'aria-valuemin': 0, 'aria-valuemax': 100 }, bar),
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
    clear(list);
    if (!marks.length) list.append(h('li', { class: 'muted', t: locked() ? 'walk.noDamageSigned' : 'walk.noMarks' }));
    for (const mark of marks) {
      const camera = h('input', { type: 'file', accept: 'image/*', capture: 'environment', multiple: true, class: 'offscreen', 'data-testid': 'photo-input' });
      camera.addEventListener('change', () => takePhoto(mark, camera));
      list.append(
        h(
          'li',
          { class: ['mark-item', mark.id === selected ? 'selected' : ''], 'data-testid': 'mark-item', 'data-type': mark.type || '', onclick: () => { selected = mark.id; paint(); } },
          h('div', { class: 'mark-head' }, h('span', { class: 'mark-number' }, String(mark.number)), h('span', { class: 'muted', t: `walk.view.${mark.view}` }),
            locked() ? null : h('button', { type: 'button', class: 'btn btn-ghost btn-sm', t: 'common.remove', 'data-testid': 'mark-remove', onclick: (ev) => { ev.stopPropagation(); removeMark(mark); } })),
          h(
            'div',
            { class: 'chips type-chips', role: 'group' },
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
  const signer = h('input', { type: 'text', class: 'input', maxlength: 120, 'data-testid': 'sign-name', tattrs: { placeholder: 'walk.signerName' } });
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
    await save(); // the customer signs what is on the screen
    const blob = await new Promise((resolve) => pad.toBlob(resolve, 'image/png'));
    const form = new FormData();
    form.append('signed_by', signer.value.trim());
    form.append('file', blob, 'signature.png');
    try {
      walk = await post(`/api/repair-orders/${roId}/walkaround/signature`, form);
      toast('walk.signed', undefined, 'ok');
      paint();
    } catch (err) {
      showError(banner, err);
    }
  }

  function paintSignature() {
    clear(signPanel);
    signPanel.append(h('h2', { t: 'walk.signature' }));
    if (locked()) {
      signPanel.append(
        h('img', { class: 'sign-image', src: walk.signature_url, alt: '', 'data-testid': 'signature-image' }),
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
      [ro, walk] = await Promise.all([get(`/api/repair-orders/${roId}`), get(`/api/repair-orders/${roId}/walkaround`)]);
      marks = number(walk.marks.map((m) => ({ ...m })));
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
  load();
  return () => {
    clearTimeout(saveTimer);
    offQueue();
    previews.forEach((url) => URL.revokeObjectURL(url));
  };
}
