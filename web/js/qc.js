// Quality check (质检): the queue of finished jobs, oldest first, and the checklist for one job.
// Every item is Pass / Fail / N/A with big buttons; a Fail needs a note (the technician reads it on
// the bay tablet) and may have photos. Signed by someone who did not work on the job.
import { get } from './api.js';
import { h, clear, setText, timeEl, toast } from './dom.js';
import { getLang, onLangChange } from './i18n.js';
import { showError, clearError } from './forms.js';
import { onLiveEvent, onLiveState } from './live.js';
import { send } from './action.js';
import { formatMinutes, formatHours, tap } from './clock.js';
import { hasLiveCamera, openCamera } from './camera.js';
import { downscale, enqueuePhoto, onPhotoQueue } from './photo-queue.js';
import { keepScreen, readScreen, staleMark, unreachable } from './screencache.js';
import { clockReview, mayReview } from './clock-review.js';
import { applyQueue, missed, readLog } from './apply.js';

const RESULTS = ['pass', 'fail', 'na'];
const COALESCE_MS = 250;

export function render(root, ctx, param) {
  return param ? renderChecklist(root, ctx, Number(param)) : renderQueue(root, ctx);
}

// ---------- the queue ----------

function renderQueue(root, ctx) {
  const me = ctx.state.user?.id;
  const stale = staleMark();
  // The queue as this tablet last loaded it: shown at once, as not fresh until the server answers.
  const kept = readScreen(me, 'qc.queue');
  let loadedAt = kept?.at ?? null;
  let jobs = Array.isArray(kept?.data) ? kept.data : null;
  const liveBadge = h('span', { class: 'live-state', 'data-testid': 'live-state', role: 'status' });
  const count = h('span', { class: 'count-pill', hidden: true });
  const banner = h('div', { class: 'form-banner', role: 'alert', hidden: true });
  const list = h('div', { class: 'qc-queue', 'data-testid': 'qc-queue', 'aria-busy': 'true' });
  // The foreman's other checking: clock taps flagged as late or out of place (clock-review.js).
  const review = mayReview(ctx.state.user) ? clockReview(ctx) : null;
  root.append(
    h(
      'div',
      { class: 'page' },
      h('header', { class: 'page-head' }, h('div', { class: 'title-row' }, h('h1', { t: 'qc.queueTitle' }), count, liveBadge)),
      stale.el,
      banner,
      list,
      review?.node,
    ),
  );

  const heard = readLog(); // events heard while a read is on its way, applied again to its answer
  let loading = false;
  let again = false;
  async function load() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    const askedAt = new Date().toISOString();
    const from = heard.begin();
    let since = null;
    try {
      const fresh = (await get('/api/qc/queue'))?.jobs || [];
      since = heard.end(from);
      jobs = since.reduce((view, m) => applyQueue(view, m).view, { jobs: fresh }).jobs;
      loadedAt = keepScreen(me, 'qc.queue', jobs, askedAt);
      stale.hide();
      clearError(banner);
    } catch (err) {
      if (since === null) heard.end(from);
      if (err.status === 401) return;
      if (jobs && unreachable(err)) stale.show(loadedAt);
      else showError(banner, err);
    } finally {
      loading = false;
    }
    list.removeAttribute('aria-busy');
    paint();
    if (again) {
      again = false;
      load();
    }
  }

  function paint() {
    clear(list);
    if (!jobs) return;
    count.hidden = false;
    count.textContent = String(jobs.length);
    if (!jobs.length) {
      list.append(h('div', { class: 'empty-state' }, h('h2', { t: 'qc.emptyTitle' }), h('p', { t: 'qc.emptyBody' })));
      return;
    }
    for (const job of jobs) {
      const ro = job.repair_order || {};
      const v = ro.vehicle || {};
      list.append(
        h(
          'a',
          { class: 'qc-row', href: `#/qc/${job.id}`, 'data-testid': 'qc-job', 'data-job': job.id },
          h('span', { class: 'plate', lang: 'zh-CN' }, v.plate || '—'),
          h(
            'span',
            { class: 'qc-row-main' },
            h('strong', { class: 'qc-row-title' }, job.title),
            h('span', { class: 'muted' }, [ro.number, [v.make, v.model, v.color].filter(Boolean).join(' '), job.technician?.name].filter(Boolean).join(' · ')),
          ),
          h(
            'span',
            { class: 'qc-row-side' },
            h('span', { class: 'promise-label', t: 'today.promised' }),
            ro.promised_at ? timeEl(ro.promised_at, 'smart') : '—',
            h('span', { class: 'muted', t: 'qc.timeUsed', tp: { clocked: formatMinutes(job.clocked_minutes), estimate: formatHours(job.estimated_hours) } }),
          ),
          h('span', { class: 'qc-row-go', 'aria-hidden': 'true' }, '›'),
        ),
      );
    }
  }

  // Each event changes the queue by itself (apply.js): a job checked, taken back or moved leaves
  // it. A job that joins it is read again with the queue (its car is not in the event), as after
  // a resync or a gap.
  let timer = null;
  const loadSoon = () => {
    if (!timer) timer = setTimeout(() => { timer = null; load(); }, COALESCE_MS);
  };
  const offEvent = onLiveEvent((m) => {
    if (missed(m)) return loadSoon();
    heard.hear(m);
    if (!jobs) return;
    const result = applyQueue({ jobs }, m);
    if (result.reload) loadSoon();
    if (result.view.jobs === jobs) return;
    jobs = result.view.jobs;
    paint();
  });
  const offState = onLiveState((st) => {
    liveBadge.dataset.state = st;
    setText(liveBadge, `live.${st}`);
    if (st === 'live' && stale.shown) load(); // the stream is back: refresh a queue that is not fresh
  });
  const offLang = onLangChange(paint);
  if (jobs) {
    list.removeAttribute('aria-busy');
    paint();
    stale.showSoon(loadedAt);
  }
  load();
  window.addEventListener('online', load);
  return () => {
    clearTimeout(timer);
    stale.hide();
    offEvent();
    offState();
    offLang();
    window.removeEventListener('online', load);
    review?.destroy();
  };
}

// ---------- one job's checklist ----------

function renderChecklist(root, ctx, jobId) {
  const me = ctx.state.user?.id;
  let job = null;
  let template = null;
  let gone = false; // signed elsewhere, or no longer finished
  let sending = false;
  const answers = new Map(); // item id → {result, note}
  const photos = new Map(); // item id → count queued

  const banner = h('div', { class: 'form-banner', role: 'alert', 'data-testid': 'qc-error', hidden: true });
  const head = h('div', { class: 'qc-head' });
  const items = h('ol', { class: 'qc-items', 'data-testid': 'qc-checklist' });
  const sign = h('button', { type: 'button', class: 'btn btn-primary btn-xl', 'data-testid': 'qc-sign', onclick: () => submit() });
  const summary = h('p', { class: 'qc-summary', 'aria-live': 'polite' });
  const back = h('a', { class: 'btn btn-ghost btn-lg', href: '#/qc', t: 'qc.back' });
  const stale = staleMark();
  let loadedAt = null;
  root.append(
    h(
      'div',
      { class: 'page page-form qc-page' },
      h('header', { class: 'page-head' }, h('h1', { t: 'qc.title' }), back),
      stale.el,
      head,
      banner,
      items,
      h('div', { class: 'action-bar' }, summary, sign),
    ),
  );

  const heard = readLog(); // events heard while a read is on its way, applied again to its answer
  async function load() {
    const from = heard.begin();
    let since = null;
    try {
      const fetchTemplate = !template;
      const askedAt = new Date().toISOString();
      const [queue, tpl] = await Promise.all([get('/api/qc/queue'), template ? template : get('/api/qc-templates/default')]);
      since = heard.end(from);
      template = tpl;
      const mine = (queue?.jobs || []).filter((j) => j.id === jobId);
      job = since.reduce((view, m) => applyQueue(view, m).view, { jobs: mine }).jobs[0] || null;
      gone = !job;
      loadedAt = keepScreen(me, 'qc.queue', queue?.jobs || [], askedAt);
      if (fetchTemplate) keepScreen(me, 'qc.template', tpl, askedAt);
      stale.hide();
      if (!sending) clearError(banner);
    } catch (err) {
      if (since === null) heard.end(from);
      if (err.status === 401) return;
      // No network: the checklist from what the tablet last loaded (the queue and the template);
      // signing goes through the outbox as always.
      const keptQueue = job ? null : readScreen(me, 'qc.queue');
      const keptJob = job || (keptQueue?.data || []).find((j) => j.id === jobId);
      const keptTemplate = template || readScreen(me, 'qc.template')?.data;
      if (unreachable(err) && keptJob && keptTemplate) {
        job = keptJob;
        template = keptTemplate;
        loadedAt = loadedAt ?? keptQueue?.at;
        stale.show(loadedAt);
      } else {
        showError(banner, err);
      }
    }
    paint();
  }

  const nameIn = (item, lang) => (lang === 'zh-CN' ? item.name_zh || item.name_en : item.name_en || item.name_zh) || '';
  const itemName = (item) => nameIn(item, getLang());
  // The record keeps each item's name in the shop's language, whatever this tablet shows, so the
  // same item reads the same in every report; the item's id lets the server keep both labels, which
  // the technician's screen shows in its own language.
  const shopLang = ['en', 'zh-CN'].includes(ctx.state.shop?.language) ? ctx.state.shop.language : getLang();

  function paint() {
    clear(head);
    clear(items);
    if (gone) {
      head.append(h('div', { class: 'empty-state', 'data-testid': 'qc-gone' }, h('h2', { t: 'qc.goneTitle' }), h('p', { t: 'qc.goneBody' }), h('a', { class: 'btn btn-primary btn-lg', href: '#/qc', t: 'qc.back' })));
      sign.hidden = true;
      summary.hidden = true;
      return;
    }
    if (!job || !template) return;
    const ro = job.repair_order || {};
    const v = ro.vehicle || {};
    head.append(
      h(
        'div',
        { class: 'card qc-job' },
        h('span', { class: 'plate', lang: 'zh-CN' }, v.plate || '—'),
        h('div', {},
          h('h2', {}, job.title),
          h('p', { class: 'muted' }, [ro.number, [v.make, v.model, v.color].filter(Boolean).join(' '), job.technician?.name].filter(Boolean).join(' · '))),
      ),
    );
    for (const item of template.items || []) items.append(itemRow(item));
    paintSummary();
  }

  function itemRow(item) {
    const answer = answers.get(item.id) || { result: null, note: '' };
    answers.set(item.id, answer);
    const note = h('textarea', {
      class: 'input',
      rows: 1,
      maxlength: 500,
      'data-testid': 'qc-note',
      tattrs: { placeholder: answer.result === 'fail' ? 'qc.noteNeeded' : 'qc.noteOptional', 'aria-label': 'qc.note' },
      oninput: (e) => {
        answer.note = e.target.value;
        row.querySelector('[data-testid="field-error"]')?.remove();
        note.removeAttribute('aria-invalid');
        paintSummary();
      },
    });
    note.value = answer.note;
    const camera = h('input', { type: 'file', accept: 'image/*', capture: 'environment', multiple: true, class: 'offscreen', 'data-testid': 'qc-photo-input' });
    camera.addEventListener('change', async () => {
      const files = [...(camera.files || [])];
      camera.value = '';
      for (const file of files) await addPhoto(item, file);
    });
    const n = photos.get(item.id) || 0;
    const row = h(
      'li',
      { class: ['qc-item', answer.result ? `qc-${answer.result}` : ''], 'data-testid': 'qc-item', 'data-item': item.id, 'data-result': answer.result || '' },
      h('div', { class: 'qc-item-name' }, itemName(item)),
      h(
        'div',
        { class: 'qc-seg', role: 'radiogroup', tattrs: { 'aria-label': 'qc.result' } },
        RESULTS.map((r) =>
          h('button', {
            type: 'button',
            role: 'radio',
            class: ['qc-seg-btn', `qc-seg-${r}`],
            'aria-checked': String(answer.result === r),
            'data-testid': `qc-${r}`,
            t: `qc.${r}`,
            onclick: () => {
              answer.result = r;
              const fresh = itemRow(item);
              row.replaceWith(fresh);
              if (r === 'fail' && !answer.note.trim()) fresh.querySelector('textarea').focus();
              paintSummary();
            },
          }),
        ),
      ),
      h(
        'div',
        { class: 'qc-extra' },
        note,
        h('label', { class: 'btn btn-ghost btn-lg qc-photo', 'data-testid': 'qc-photo-add' }, camera, h('span', { t: 'qc.photo' }), n ? h('span', { class: 'count-pill', 'data-testid': 'qc-photo-count' }, String(n)) : null),
        hasLiveCamera()
          ? h('button', { type: 'button', class: 'btn btn-ghost btn-lg', t: 'camera.open', onclick: () => openCamera((blob) => addPhoto(item, blob)) })
          : null,
      ),
      answer.result === 'fail' && answer.missing ? h('p', { class: 'field-error', 'data-testid': 'field-error', t: 'qc.noteNeeded' }) : null,
    );
    return row;
  }

  async function addPhoto(item, source) {
    if (!job) return;
    const blob = await downscale(source);
    await enqueuePhoto({ roId: job.repair_order.id, kind: 'qc', jobId: job.id, panel: `qc:${item.id}`, note: answers.get(item.id)?.note || '', blob, staffId: me });
    photos.set(item.id, (photos.get(item.id) || 0) + 1);
    paint();
  }

  function paintSummary() {
    const all = [...answers.values()];
    const open = (template?.items || []).filter((i) => !answers.get(i.id)?.result).length;
    const fails = all.filter((a) => a.result === 'fail').length;
    sign.hidden = false;
    summary.hidden = false;
    setText(sign, fails ? 'qc.signFail' : 'qc.signPass');
    sign.classList.toggle('btn-danger', !!fails);
    setText(summary, open ? 'qc.open' : fails ? 'qc.failCount' : 'qc.allPass', { count: open || fails });
  }

  async function submit() {
    if (sending || !job || !template) return;
    clearError(banner);
    const list = template.items || [];
    const open = list.filter((i) => !answers.get(i.id)?.result);
    for (const item of list) {
      const a = answers.get(item.id);
      a.missing = a.result === 'fail' && !a.note.trim();
    }
    const missing = list.filter((i) => answers.get(i.id).missing);
    if (open.length || missing.length) {
      paint();
      showError(banner, { key: open.length ? 'qc.answerAll' : 'qc.failNeedsNote', params: { count: open.length || missing.length } });
      const first = items.querySelector(open.length ? `[data-item="${open[0].id}"]` : `[data-item="${missing[0].id}"] textarea`);
      first?.scrollIntoView({ block: 'center', behavior: 'smooth' });
      if (!open.length) first?.focus({ preventScroll: true });
      return;
    }
    const body = {
      items: list.map((item) => {
        const a = answers.get(item.id);
        const out = { item_id: item.id, name: nameIn(item, shopLang), result: a.result };
        if (a.note.trim()) out.note = a.note.trim();
        return out;
      }),
    };
    sending = true;
    sign.disabled = true;
    try {
      // Through the outbox: written on the tablet first, so a check signed in a dead spot is not lost.
      const res = await send(tap([{ path: `/api/jobs/${jobId}/qc`, body, clock: false, subject: `job:${jobId}` }]));
      toast(res?.passed ? 'qc.signedPass' : 'qc.signedFail', { title: job.title, name: job.technician?.name || '' }, res?.passed ? 'ok' : 'info');
      ctx.go('#/qc');
    } catch (err) {
      if (err.queued) {
        toast('outbox.savedHere', {}, 'info');
        ctx.go('#/qc');
        return;
      }
      if (err.status === 401) return;
      if (err.status === 403) {
        showError(banner, { key: 'qc.ownWork' });
      } else if (err.status === 409 || err.status === 404) {
        showError(banner, { key: 'qc.goneBody' });
      } else {
        showError(banner, err);
      }
      banner.scrollIntoView({ block: 'center', behavior: 'smooth' });
    } finally {
      sending = false;
      sign.disabled = false;
    }
  }

  // Someone else signed it, or the technician took it back: the event says so and the checklist
  // says it is gone (answers are kept). Read again only when the events cannot tell.
  let timer = null;
  const loadSoon = () => {
    if (!timer) timer = setTimeout(() => { timer = null; if (!sending) load(); }, COALESCE_MS);
  };
  const offEvent = onLiveEvent((m) => {
    if (missed(m)) return loadSoon();
    heard.hear(m);
    if (sending || !template) return; // our own signature, or the first read is on its way
    const result = applyQueue({ jobs: job ? [job] : [] }, m);
    const next = result.view.jobs[0] || null;
    if (result.reload && (m.data?.job_ids || []).includes(jobId)) loadSoon(); // not about another job
    if (next === job) return;
    job = next;
    gone = !job;
    paint();
  });
  const offQueue = onPhotoQueue((ev) => {
    if (ev.type === 'failed' && ev.entry?.kind === 'qc') toast('walk.photoRefused', undefined, 'error');
  });
  const offLang = onLangChange(paint);
  load();
  const onOnline = () => stale.shown && !sending && load();
  window.addEventListener('online', onOnline);
  return () => {
    clearTimeout(timer);
    stale.hide();
    offEvent();
    offQueue();
    offLang();
    window.removeEventListener('online', onOnline);
  };
}
