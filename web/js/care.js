// Follow-up calls (回访, #/care): customer care calls each delivered car's customer on shop days 2–5
// after delivery. Four lists with their counts — due now, overdue, upcoming, done lately — oldest
// first. A call is recorded in one dialog: reached (the script's questions, read out in the
// CUSTOMER's language, answered with controls in the staff's language) or not reached (a call back
// time). The call goes through the outbox like every staff action; every open care screen reads its
// list again when a follow-up is opened or called (live events).
import { get } from './api.js';
import { action, send } from './action.js';
import { dictionaries, getShopTimeZone, onLangChange, t } from './i18n.js';
import { clear, h, timeEl, toast } from './dom.js';
import { field, formBanner, showError, clearError } from './forms.js';
import { onLiveEvent } from './live.js';
import { missed } from './apply.js';
import { shopDate, zonedToIso } from './time.js';

export const VIEWS = ['due', 'overdue', 'upcoming', 'done'];
const RELEVANT = /^(follow_up\.|survey\.submitted$|ro\.handed_over$|stage\.changed$)/;
const YES_NO = ['fixed', 'on_time', 'explained', 'reminder_confirmed'];
const REFRESH_MS = 5 * 60 * 1000;

let shown = 'due'; // the list last looked at, kept while the app runs

export function render(view) {
  const tabs = h('div', { class: 'care-tabs', role: 'tablist', 'data-testid': 'care-tabs' });
  const banner = formBanner();
  const list = h('div', { class: 'care-list', 'data-testid': 'care-list', 'aria-busy': 'true' });
  view.append(
    h(
      'section',
      { class: 'page care-page' },
      h('header', { class: 'page-head' }, h('h1', { t: 'care.title' })),
      h('p', { class: 'field-hint', t: 'care.hint' }),
      tabs,
      banner,
      list,
    ),
  );

  let data = null;
  let gone = false;
  let asked = 0;
  let timer = null;

  async function load() {
    const mine = ++asked;
    try {
      const found = await get(`/api/follow-ups?view=${shown}`);
      if (gone || mine !== asked) return;
      clearError(banner);
      data = found;
      paint();
    } catch (err) {
      if (gone || mine !== asked) return;
      if (err.status !== 401) showError(banner, err);
    }
  }
  const loadSoon = () => {
    clearTimeout(timer);
    timer = setTimeout(load, 150);
  };

  function paint() {
    clear(tabs);
    for (const v of VIEWS) {
      const count = data?.counts?.[v] ?? 0;
      tabs.append(
        h(
          'button',
          {
            type: 'button',
            role: 'tab',
            class: ['care-tab', v === shown && 'active', v === 'overdue' && count && 'care-tab-late'],
            'aria-selected': v === shown ? 'true' : 'false',
            'data-testid': `care-tab-${v}`,
            onclick: () => {
              shown = v;
              paint();
              load();
            },
          },
          h('span', { t: `care.view.${v}` }),
          ' ',
          h('span', { class: 'care-count', 'data-testid': `care-count-${v}` }, String(count)),
        ),
      );
    }
    clear(list);
    if (!data) return;
    list.removeAttribute('aria-busy');
    if (data.view !== shown) return;
    if (!data.items.length) {
      list.append(h('p', { class: 'muted', 'data-testid': 'care-empty', t: `care.empty.${shown}` }));
      return;
    }
    list.append(...data.items.map((item) => card(item)));
  }

  function card(item) {
    const attention = item.complaint_suggested;
    const answers = item.last_call?.reached ? item.last_call.answers : null;
    return h(
      'article',
      {
        class: ['card', 'care-card', attention && 'care-attention'],
        'data-testid': 'care-item',
        'data-ro': item.repair_order.number,
      },
      h(
        'header',
        { class: 'care-card-head' },
        h('a', { href: `#/ro/${item.repair_order.id}`, class: 'care-number' }, item.repair_order.number),
        h('strong', { class: 'care-plate' }, item.vehicle.plate),
        h('span', { class: 'muted' }, [item.vehicle.make, item.vehicle.model].filter(Boolean).join(' ')),
        attention && h('span', { class: 'badge badge-danger', 'data-testid': 'care-needs-attention', t: 'care.attention' }),
        item.state === 'unreachable' && h('span', { class: 'badge', 'data-testid': 'care-unreachable', t: 'care.unreachable' }),
      ),
      h(
        'p',
        { class: 'care-customer' },
        h('span', {}, item.customer.name),
        ' · ',
        h('a', { href: `tel:${item.customer.phone}`, 'data-testid': 'care-phone' }, item.customer.phone),
        ' · ',
        h('span', { class: 'muted', t: `care.speaks.${item.customer.language === 'en' ? 'en' : 'zh'}` }),
      ),
      item.work.length ? h('p', { class: 'care-work' }, h('span', { class: 'muted', t: 'care.work' }), ' ', item.work.join(' · ')) : null,
      h(
        'p',
        { class: 'care-meta muted' },
        item.advisor ? h('span', { t: 'care.advisor', tp: { name: item.advisor.name } }) : null,
        item.advisor ? ' · ' : null,
        h('span', { t: 'care.delivered' }),
        ' ',
        timeEl(item.delivered_at, 'short'),
        ' · ',
        h('span', { t: 'care.window' }),
        ' ',
        timeEl(item.due_from, 'date'),
        ' – ',
        timeEl(new Date(new Date(item.due_until).getTime() - 1).toISOString(), 'date'),
      ),
      item.rating ? h('p', { class: ['care-rating', item.rating.score <= 6 && 'care-low'], 'data-testid': 'care-rating', t: 'care.rating', tp: { score: item.rating.score, comment: item.rating.comment || '' } }) : null,
      item.call_back_at && item.state === 'open'
        ? h('p', { class: 'care-callback' }, h('span', { t: 'care.callBackAt' }), ' ', timeEl(item.call_back_at, 'smart'), ' · ', h('span', { t: 'care.tries', tp: { tries: item.tries, max: item.max_tries } }))
        : null,
      answers ? result(answers) : null,
      item.state === 'open'
        ? h('div', { class: 'care-actions' }, h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'care-call', t: 'care.call', onclick: () => openCallDialog(item, { onSaved: loadSoon }) }))
        : null,
    );
  }

  function result(a) {
    const yn = (name) => h('li', { class: a[name] ? '' : 'care-low', 'data-testid': `care-result-${name}`, t: `care.result.${name}.${a[name] ? 'yes' : 'no'}` });
    return h(
      'div',
      { class: 'care-result', 'data-testid': 'care-result' },
      h(
        'p',
        {},
        h('strong', { class: a.overall <= 6 ? 'care-low' : '', 'data-testid': 'care-result-overall', t: 'care.result.overall', tp: { score: a.overall } }),
        ' · ',
        h('strong', { class: a.recommend <= 6 ? 'care-low' : '', t: 'care.result.recommend', tp: { score: a.recommend } }),
      ),
      h('ul', { class: 'care-result-list' }, YES_NO.map(yn)),
      a.comment ? h('blockquote', { class: 'care-comment' }, a.comment) : null,
    );
  }

  const offEvent = onLiveEvent((m) => {
    if (missed(m) || RELEVANT.test(m.type || '')) loadSoon();
  });
  const offLang = onLangChange(paint);
  // Follow-ups fall due by the clock (a shop day starts, a call back time comes), not by an event.
  const refresh = setInterval(() => document.visibilityState === 'visible' && load(), REFRESH_MS);
  paint();
  load();
  return () => {
    gone = true;
    clearTimeout(timer);
    clearInterval(refresh);
    offEvent();
    offLang();
  };
}

/** The script's line `key` in the customer's language: what the caller reads out. */
function script(lang, key, params) {
  let text = dictionaries[lang]?.[key] ?? t(key);
  if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (params[name] == null ? m : String(params[name])));
  return text;
}

/** The call form: reached or not; the script and its answers; a call back time. */
export function openCallDialog(item, { onSaved } = {}) {
  const lang = item.customer.language === 'en' ? 'en' : 'zh-CN';
  const zone = getShopTimeZone();
  const last = item.tries + 1 >= item.max_tries;
  let attempt = null;
  let sending = false;

  const reachedYes = h('input', { type: 'radio', name: 'reached', value: 'yes', checked: true, 'data-testid': 'care-reached-yes' });
  const reachedNo = h('input', { type: 'radio', name: 'reached', value: 'no', 'data-testid': 'care-reached-no' });
  const overall = h('input', { type: 'number', class: 'input', name: 'overall', min: 1, max: 10, step: 1, inputmode: 'numeric', 'data-testid': 'care-overall' });
  const recommend = h('input', { type: 'number', class: 'input', name: 'recommend', min: 0, max: 10, step: 1, inputmode: 'numeric', 'data-testid': 'care-recommend' });
  const comment = h('textarea', { class: 'input', name: 'comment', rows: 2, maxlength: 1000, 'data-testid': 'care-comment' });
  const yesNo = {};
  const question = (name) => {
    const yes = h('input', { type: 'radio', name, value: 'yes', checked: true, 'data-testid': `care-${name}-yes` });
    const no = h('input', { type: 'radio', name, value: 'no', 'data-testid': `care-${name}-no` });
    yesNo[name] = yes;
    return h(
      'fieldset',
      { class: 'care-question' },
      h('legend', { class: 'care-script', lang }, script(lang, `care.script.${name}`)),
      h('label', { class: 'care-choice' }, yes, ' ', h('span', { t: 'care.yes' })),
      h('label', { class: 'care-choice' }, no, ' ', h('span', { t: 'care.no' })),
    );
  };
  const scored = (name, control) =>
    h('div', { class: 'care-question' }, h('p', { class: 'care-script', lang }, script(lang, `care.script.${name}`)), field(`care.answer.${name}`, control));
  const reachedPart = h(
    'div',
    { class: 'care-reached', 'data-testid': 'care-script' },
    h('p', { class: 'care-script', lang }, script(lang, 'care.script.hello', { name: item.customer.name, plate: item.vehicle.plate })),
    scored('overall', overall),
    question('fixed'),
    question('on_time'),
    question('explained'),
    scored('recommend', recommend),
    h('div', { class: 'care-question' }, h('p', { class: 'care-script', lang }, script(lang, 'care.script.comment')), field('care.answer.comment', comment, { optional: true })),
    question('reminder_confirmed'),
    h('p', { class: 'care-script', lang }, script(lang, 'care.script.thanks')),
  );
  const tomorrow = shopDate(zone, 1);
  const cbDate = h('input', { type: 'date', class: 'input', name: 'cb_date', value: tomorrow, min: shopDate(zone), 'data-testid': 'care-callback-date' });
  const cbTime = h('input', { type: 'time', class: 'input', name: 'cb_time', value: '10:00', step: 900, 'data-testid': 'care-callback-time' });
  const notReachedPart = h(
    'div',
    { class: 'care-not-reached', hidden: true },
    last
      ? h('p', { class: 'care-low', 'data-testid': 'care-last-try', t: 'care.lastTry', tp: { max: item.max_tries } })
      : h('div', { class: 'grid-2' }, field('care.callBackDate', cbDate), field('care.callBackTime', cbTime)),
  );
  const switchPart = () => {
    reachedPart.hidden = !reachedYes.checked;
    notReachedPart.hidden = reachedYes.checked;
  };
  reachedYes.addEventListener('change', switchPart);
  reachedNo.addEventListener('change', switchPart);

  const banner = formBanner();
  const save = h('button', { type: 'submit', class: 'btn btn-primary', t: 'care.save', 'data-testid': 'care-save' });
  const cancel = h('button', { type: 'button', class: 'btn btn-ghost', t: 'common.cancel', onclick: () => dialog.close() });
  const form = h(
    'form',
    { class: 'dialog-form care-form', novalidate: true },
    h('h2', { t: 'care.callTitle', tp: { number: item.repair_order.number } }),
    h('p', { class: 'muted' }, `${item.customer.name} · `, h('a', { href: `tel:${item.customer.phone}` }, item.customer.phone), ` · ${item.vehicle.plate}`),
    h('p', { class: 'field-hint', t: 'care.scriptLanguage', tp: { lang: t(`care.lang.${lang === 'en' ? 'en' : 'zh'}`) } }),
    banner,
    h(
      'fieldset',
      { class: 'care-question' },
      h('legend', { t: 'care.reachedQuestion' }),
      h('label', { class: 'care-choice' }, reachedYes, ' ', h('span', { t: 'care.reached' })),
      h('label', { class: 'care-choice' }, reachedNo, ' ', h('span', { t: 'care.notReached' })),
    ),
    reachedPart,
    notReachedPart,
    h('div', { class: 'dialog-actions' }, cancel, save),
  );
  const dialog = h('dialog', { class: 'dialog care-dialog', 'data-testid': 'care-dialog' }, form);

  function body() {
    if (!reachedYes.checked) {
      if (last) return { reached: false, call_back_at: null };
      if (!cbDate.value || !cbTime.value) throw { key: 'care.needCallBack' };
      return { reached: false, call_back_at: zonedToIso(cbDate.value, cbTime.value, zone) };
    }
    const o = overall.value.trim();
    const r = recommend.value.trim();
    if (!o || !r) throw { key: 'care.needScores' };
    return {
      reached: true,
      answers: {
        overall: Number(o),
        recommend: Number(r),
        fixed: yesNo.fixed.checked,
        on_time: yesNo.on_time.checked,
        explained: yesNo.explained.checked,
        reminder_confirmed: yesNo.reminder_confirmed.checked,
        comment: comment.value.trim(),
      },
    };
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (sending) return;
    clearError(banner);
    let sent;
    try {
      sent = body();
    } catch (problem) {
      showError(banner, problem);
      return;
    }
    const serial = JSON.stringify(sent);
    if (!attempt || attempt.body !== serial) attempt = { body: serial, act: callAction(item, sent) };
    sending = true;
    save.disabled = true;
    try {
      const updated = await send(attempt.act, { waitMs: 4000 });
      dialog.close();
      toast('care.saved', { number: item.repair_order.number }, 'ok');
      onSaved?.(updated);
    } catch (err) {
      if (err.queued) {
        dialog.close();
        toast('care.savedHere', { number: item.repair_order.number }, 'info');
        onSaved?.(null);
        return;
      }
      attempt = null; // refused while the person is here: the next save is a new action
      showError(banner, err);
    } finally {
      sending = false;
      save.disabled = false;
    }
  });
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

function callAction(item, body) {
  return action([
    {
      path: `/api/follow-ups/${item.id}/calls`,
      body,
      subject: `follow_up:${item.id}`,
      label: { key: 'outbox.what.followUpCall', params: { number: item.repair_order.number } },
      meta: { kind: 'follow_up_call', followUpId: item.id },
    },
  ]);
}
