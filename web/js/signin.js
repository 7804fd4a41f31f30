// "Who are you?" tiles, then a PIN pad. Picking the person first means a PIN only has to be unique
// per person, and the lockout counts per person (all bay tablets share one address).
// Someone signing in with a one-time PIN (a manager added them or reset their PIN) then chooses
// their own on the same pad, typed twice; until then their session is good for nothing else.
// A lockout names the managers who can lift it.
import { get, post } from './api.js';
import { h, clear, setText } from './dom.js';
import { showError, clearError } from './forms.js';
import { ROLES } from './domain.js';

const MIN_PIN = 4;
const MAX_PIN = 8;
const CONTROLS = 'button, a[href], input, select, textarea, summary, [role="button"], [contenteditable="true"]';

export function render(root, ctx) {
  const page = h('div', { class: 'page signin' });
  root.append(page);
  let disposePad = null;

  async function showTiles() {
    disposePad?.();
    disposePad = null;
    clear(page);
    // role=list again: Safari drops a <ul>'s list semantics once its bullets are styled away.
    const list = h('ul', { class: 'tiles', role: 'list', 'aria-busy': 'true' });
    const error = h('p', { class: 'form-banner', role: 'alert', hidden: true });
    page.append(
      h('header', { class: 'page-head centered' }, h('h1', { t: 'signin.title' }), h('p', { class: 'lead', t: 'signin.lead' })),
      error,
      list,
    );
    try {
      const { staff = [] } = (await get('/api/auth/staff')) || {};
      tilesFailed = false;
      list.removeAttribute('aria-busy');
      if (!staff.length) {
        list.replaceWith(h('div', { class: 'empty-state' }, h('h2', { t: 'signin.noStaffTitle' }), h('p', { t: 'signin.noStaffBody' }), h('code', { class: 'cli' }, 'python -m api staff add --username … --name "…" --role advisor --pin …')));
        return;
      }
      for (const person of staff) list.append(h('li', { class: 'tile-slot' }, tile(person)));
    } catch (err) {
      tilesFailed = true;
      list.remove();
      showError(error, err);
      error.append(' ', h('button', { type: 'button', class: 'btn btn-link', t: 'common.retry', onclick: showTiles }));
    }
  }

  function tile(person) {
    const role = ROLES.includes(person.role) ? person.role : 'other';
    return h(
      'button',
      {
        type: 'button',
        class: ['tile', `role-${role}`],
        'data-testid': 'staff-tile',
        'data-username': person.username,
        onclick: () => showPad(person),
      },
      avatar(person),
      h('span', { class: 'tile-name' }, person.name || person.username),
      h('span', { class: 'tile-role', t: `role.${person.role}` }),
    );
  }

  function showPad(person) {
    clear(page);
    disposePad = pinPad(page, person, {
      onBack: showTiles,
      async onSignedIn(user) {
        ctx.setUser({ username: person.username, ...user });
        // Signed in, the shop's settlement settings come too (before the first screen opens).
        await ctx.loadShop?.();
        ctx.go(ctx.home());
      },
    });
  }

  // Handed over with the Wi-Fi down, the tiles could not load: show them as soon as it is back.
  let tilesFailed = false;
  const onOnline = () => tilesFailed && !disposePad && showTiles();
  window.addEventListener('online', onOnline);
  showTiles();
  return () => {
    window.removeEventListener('online', onOnline);
    disposePad?.();
  };
}

// Scripts written without spaces inside a name, one syllable per character: an avatar shows
// characters from these, letters from any other.
const SYLLABIC = /[\p{Script=Han}\p{Script=Hangul}]/u;

/**
 * The avatar's initials. A name with a Chinese (or Korean) part uses that part, whatever the screen's
 * language ("刘洋 Liu Yang" → 刘洋): people find themselves by their avatar, so it must not change when
 * the language does, and in these shops the Chinese name is the one colleagues use. Two characters
 * stay whole; a longer name gives its last two, the given name (王小明 → 小明). Any other name gives
 * the first letters of its first and last words (a username's parts count as words: li.na → LN).
 */
export function initials(name = '') {
  const chars = [...String(name)].filter((ch) => SYLLABIC.test(ch));
  if (chars.length) return chars.slice(-2).join('');
  const firsts = String(name)
    .split(/[\s._·-]+/)
    .map((word) => [...word].find((ch) => /[\p{L}\p{N}]/u.test(ch)))
    .filter(Boolean);
  if (!firsts.length) return '?';
  return (firsts.length > 1 ? firsts[0] + firsts[firsts.length - 1] : firsts[0]).toUpperCase();
}

function avatar(person) {
  // A stable colour per person helps people find themselves faster than reading names.
  let hash = 0;
  for (const ch of person.username || person.name || '') hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return h('span', { class: ['avatar', `avatar-c${hash % 8}`], 'aria-hidden': 'true' }, initials(person.name || person.username));
}

/** The PIN pad for one person. Returns a dispose function (removes the keyboard listener). */
function pinPad(page, person, { onBack, onSignedIn }) {
  let pin = '';
  let busy = false;
  let lockedUntil = 0;
  let countdown = null;
  let managers = null; // who can lift a lockout (the server names them)
  // 'signin'; after a one-time PIN 'choose' (the new PIN), then 'confirm' (it again).
  let stage = 'signin';
  let chosen = '';

  const dots = h('div', { class: 'pin-dots', 'data-testid': 'pin-display', role: 'status', 'aria-live': 'polite' });
  const error = h('p', { class: 'signin-error', 'data-testid': 'signin-error', role: 'alert', hidden: true });
  const keys = [];
  const key = (k, content, extra = {}) => {
    const b = h(
      'button',
      { type: 'button', class: ['pin-key', `pin-key-${/\d/.test(k) ? 'digit' : k}`], 'data-testid': 'pin-key', 'data-key': k, onclick: () => press(k), ...extra },
      content,
    );
    keys.push(b);
    return b;
  };
  const okKey = key('ok', h('span', { t: 'signin.ok' }));
  const lead = h('p', { class: 'lead', t: 'signin.enterPin', 'data-testid': 'pin-lead' });
  const pad = h(
    'div',
    { class: 'pin-pad' },
    ['1', '2', '3', '4', '5', '6', '7', '8', '9'].map((d) => key(d, d)),
    key('back', backIcon(), { tattrs: { 'aria-label': 'signin.backspace' } }),
    key('0', '0'),
    okKey,
  );

  page.append(
    h(
      'div',
      { class: 'pin-screen' },
      h(
        'div',
        { class: 'pin-who' },
        h('button', { type: 'button', class: 'btn btn-ghost back-btn', onclick: back }, h('span', { 'aria-hidden': 'true' }, '‹ '), h('span', { t: 'signin.back' })),
        avatar(person),
        h('h1', { class: 'pin-name' }, person.name || person.username),
        h('p', { class: 'tile-role', t: `role.${person.role}` }),
        lead,
      ),
      h('div', { class: 'pin-entry' }, dots, error, pad),
    ),
  );

  function paint() {
    clear(dots);
    const slots = Math.max(MIN_PIN, pin.length);
    for (let i = 0; i < slots; i++) dots.append(h('span', { class: ['dot', i < pin.length && 'filled'] }));
    dots.dataset.length = String(pin.length);
    dots.setAttribute('aria-label', `${pin.length}`);
    const locked = Date.now() < lockedUntil;
    for (const b of keys) b.disabled = busy || locked;
    okKey.disabled = busy || locked || pin.length < MIN_PIN;
  }

  function press(k) {
    if (busy || Date.now() < lockedUntil) return;
    if (k === 'back') pin = pin.slice(0, -1);
    else if (k === 'ok') return submit();
    else if (/^\d$/.test(k) && pin.length < MAX_PIN) pin += k;
    if (pin.length) {
      clearError(error);
      dots.classList.remove('shake');
    }
    paint();
  }

  function back() {
    // Gave up choosing a PIN: the one-time sign-in ends (it was good for nothing else anyway).
    if (stage !== 'signin') post('/api/auth/logout').catch(() => {});
    onBack();
  }

  function ask(stageNow, leadKey) {
    stage = stageNow;
    setText(lead, leadKey);
    lead.dataset.stage = stageNow;
  }

  async function submit() {
    if (pin.length < MIN_PIN || busy) return;
    if (stage === 'choose') {
      chosen = pin;
      pin = '';
      ask('confirm', 'signin.confirmPin');
      return paint();
    }
    busy = true;
    paint();
    try {
      if (stage === 'confirm') {
        if (pin !== chosen) {
          pin = '';
          setText(error, 'signin.pinMismatch');
          error.hidden = false;
          shake();
          ask('choose', 'signin.choosePin');
          return;
        }
        const res = await post('/api/auth/pin', { pin });
        pin = '';
        onSignedIn(res?.user || {});
        return;
      }
      const res = await post('/api/auth/login', { username: person.username, pin });
      pin = '';
      if (res?.must_choose_pin) {
        clearError(error);
        ask('choose', 'signin.choosePin');
        return;
      }
      onSignedIn(res?.user || {});
      return;
    } catch (err) {
      pin = '';
      if (stage !== 'signin') {
        // A weak PIN, or the one-time one again: choose another (both typings again).
        if (err.status === 401) {
          // The one-time sign-in ended meanwhile (idle, or the manager reset the PIN again).
          showError(error, { key: 'signin.oneTimeExpired' });
          ask('signin', 'signin.enterPin');
        } else {
          showError(error, err);
          ask('choose', 'signin.choosePin');
        }
        shake();
      } else if (err.status === 401) {
        setText(error, 'signin.wrongPin');
        error.hidden = false;
        shake();
      } else if (err.status === 429) {
        const names = err.body?.params?.managers;
        managers = Array.isArray(names) && names.length ? names : null;
        lockFor(err.retryAfter ?? 60);
      } else {
        showError(error, err);
      }
    } finally {
      busy = false;
      paint();
    }
  }

  function shake() {
    dots.classList.remove('shake');
    void dots.offsetWidth; // restart the animation on repeated failures
    dots.classList.add('shake');
    navigator.vibrate?.(120);
  }

  // Count the lockout down on screen so nobody keeps tapping into a wall.
  function lockFor(seconds) {
    lockedUntil = Date.now() + seconds * 1000;
    const tick = () => {
      const left = Math.max(0, Math.ceil((lockedUntil - Date.now()) / 1000));
      if (left <= 0) {
        clearInterval(countdown);
        countdown = null;
        clearError(error);
      } else {
        setText(error, managers ? 'signin.tooManyAsk' : 'signin.tooMany', { seconds: left, managers });
        error.hidden = false;
      }
      paint();
    };
    clearInterval(countdown);
    countdown = setInterval(tick, 1000);
    tick();
  }

  // Enter on a control reached with the keyboard (the language button, "Not me", a key of the pad)
  // is that control's own. A control clicked keeps the focus, though: Enter typed after clicking the
  // digits still means OK.
  let clicked = null;
  const onPointer = (e) => {
    clicked = e.target instanceof Element ? e.target.closest(CONTROLS) : null;
  };

  function onKey(e) {
    if (e.key === 'Tab') clicked = null;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const control = e.target instanceof Element ? e.target.closest(CONTROLS) : null;
    if (e.key === 'Enter' && control && control !== clicked) return;
    if (/^\d$/.test(e.key)) press(e.key);
    else if (e.key === 'Backspace') press('back');
    else if (e.key === 'Enter') press('ok');
    else if (e.key === 'Escape') back();
    else return;
    e.preventDefault();
  }
  document.addEventListener('keydown', onKey);
  document.addEventListener('pointerdown', onPointer, true);
  paint();

  return () => {
    document.removeEventListener('keydown', onKey);
    document.removeEventListener('pointerdown', onPointer, true);
    clearInterval(countdown);
  };
}

function backIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', 'M21 5H9l-6 7 6 7h12a1 1 0 0 0 1-1V6a1 1 0 0 0-1-1zm-4.3 9.3-1.4 1.4L13 13.4l-2.3 2.3-1.4-1.4 2.3-2.3-2.3-2.3 1.4-1.4 2.3 2.3 2.3-2.3 1.4 1.4-2.3 2.3z');
  path.setAttribute('fill', 'currentColor');
  svg.append(path);
  return svg;
}
