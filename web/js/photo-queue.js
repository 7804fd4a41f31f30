// Photos are outbox entries like every other staff action (web/js/outbox.js): the picture is
// kept as a Blob in IndexedDB before any network call, survives reloads and sign-outs, goes up in
// the person's order with its Idempotency-Key and is removed only when the server has it. This
// module keeps the photo-shaped view the walk-around, finding and QC screens use.
import { discard, enqueue, entries, entryError, kick, onOutbox } from './outbox.js';

const MAX_SIDE = 2048; // bytes on shop Wi-Fi are the real cost: downscale on the device
const JPEG_QUALITY = 0.85;

/** A JPEG of at most 2048 px, upright (the browser applies EXIF orientation while decoding). */
export async function downscale(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    return file; // not something this browser decodes (e.g. HEIC): the server will say what to send
  }
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return new Promise((resolve) => canvas.toBlob((blob) => resolve(blob || file), 'image/jpeg', JPEG_QUALITY));
}

const isPhoto = (entry) => !!entry?.meta?.photo;

/** The photo-shaped view of an outbox entry. */
function asPhoto(entry) {
  const m = entry.meta;
  return {
    key: entry.key,
    seq: entry.seq,
    roId: m.roId,
    panel: m.panel,
    kind: m.kind,
    jobId: m.jobId,
    note: m.note,
    blob: entry.form.find((part) => part.blob)?.blob,
    staffId: entry.staffId,
    state: entry.state === 'parked' ? 'failed' : 'queued',
    error: entryError(entry), // in the language shown now
  };
}

/**
 * Queue a photo. Finding and QC photos name their job. `panel` (and `roId`) may hold a ref() to
 * an earlier outbox entry, e.g. the finding the photo belongs to, filled in when it is sent.
 */
export async function enqueuePhoto({ roId, panel = '', kind = 'walkaround', blob, jobId = null, note = '', earlier = {} }) {
  const form = [
    { name: 'kind', value: kind },
    { name: 'panel', value: panel || '' },
    ...(jobId != null ? [{ name: 'job_id', value: String(jobId) }] : []),
    ...(note ? [{ name: 'note', value: note.slice(0, 500) }] : []),
    { name: 'file', blob, filename: 'photo.jpg' },
  ];
  const entry = await enqueue({
    url: `/api/repair-orders/${roId}/photos`,
    form,
    label: { key: 'outbox.what.photo', params: {} },
    meta: { photo: true, roId, panel, kind, jobId, note },
    ...earlier, // {key, author, deviceTime} of a photo taken before the outbox held photos
  });
  const photo = asPhoto(entry);
  emit({ type: 'queued', key: photo.key, entry: photo });
  return photo;
}

/** Photos not yet on the server (one repair order's, or all). */
export async function pendingPhotos(roId) {
  return (await entries()).filter((e) => isPhoto(e) && (roId == null || e.meta.roId === roId)).map(asPhoto);
}

export async function discardPhoto(key) {
  const entry = (await entries()).find((e) => e.key === key);
  if (entry) await discard(entry.seq);
  emit({ type: 'discarded', key });
}

export function flush() {
  kick();
}

const listeners = new Set();
/** fn({type: 'queued'|'progress'|'done'|'failed'|'waiting'|'auth'|'discarded', key, entry?, photo?}) */
export function onPhotoQueue(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
function emit(event) {
  listeners.forEach((fn) => fn(event));
}
const TYPES = { progress: 'progress', done: 'done', parked: 'failed', waiting: 'waiting', auth: 'auth' };
onOutbox((event) => {
  if (!isPhoto(event.entry) || !TYPES[event.type]) return;
  emit({ type: TYPES[event.type], key: event.entry.key, entry: asPhoto(event.entry), photo: event.body, loaded: event.loaded, total: event.total });
});

// Photos taken before the outbox held them (the older 'bayline' / 'photo-queue' store of this
// tablet) move into the outbox once, keeping their Idempotency-Key, author and time, so an
// upgrade loses nothing and cannot upload one twice.
async function adoptOlderQueue() {
  if (!indexedDB.databases || !(await indexedDB.databases()).some((d) => d.name === 'bayline')) return;
  const conn = await new Promise((resolve, reject) => {
    const open = indexedDB.open('bayline');
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  if (!conn.objectStoreNames.contains('photo-queue')) return conn.close();
  const read = (mode, fn) =>
    new Promise((resolve, reject) => {
      const t = conn.transaction('photo-queue', mode);
      const request = fn(t.objectStore('photo-queue'));
      t.oncomplete = () => resolve(request?.result);
      t.onerror = () => reject(t.error);
    });
  const older = ((await read('readonly', (s) => s.getAll())) || []).sort((a, b) => a.createdAt - b.createdAt);
  for (const old of older) {
    await enqueuePhoto({ ...old, earlier: { key: old.key, author: { id: old.staffId, name: '' }, deviceTime: new Date(old.createdAt).toISOString() } });
    await read('readwrite', (s) => s.delete(old.key));
  }
  conn.close();
}
adoptOlderQueue().catch((err) => console.error('older photo queue not adopted', err));
