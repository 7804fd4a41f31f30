// The shop's live stream (/ws/shop): one socket per tablet, shared by every screen.
// It resumes by seq after any drop, answers the server's pings, and notices a dead link itself
// (a tablet that walked out of Wi-Fi range never gets a close frame).

const eventListeners = new Set();
const stateListeners = new Set();
const endedListeners = new Set();
const SILENCE_MS = 70000; // the server pings every 25 s; three missed pings means the link is dead
// The server closes with this when the session is over (signed out, deactivated, idle): reconnecting
// cannot help, the person has to sign in again (api/realtime/streams.py SIGNED_OUT).
const SESSION_ENDED = 4401;

let socket = null;
let wanted = false;
let lastSeq = null; // null until the first event: then reconnects ask for what was missed
let delay = 1000;
let retryTimer = null;
let lastHeard = 0;
let state = 'off'; // off | connecting | live | reconnecting | offline

function setState(next) {
  if (state === next) return;
  state = next;
  stateListeners.forEach((fn) => fn(state));
}

function emit(message) {
  eventListeners.forEach((fn) => {
    try {
      fn(message);
    } catch (err) {
      console.error(err); // one screen's bug must not stop the others hearing events
    }
  });
}

function connect() {
  if (!wanted || socket) return;
  clearTimeout(retryTimer);
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const resuming = lastSeq !== null;
  const url = `${proto}//${location.host}/ws/shop${resuming ? `?since=${lastSeq}` : ''}`;
  if (state !== 'reconnecting' && state !== 'offline') setState('connecting');
  let ws;
  try {
    ws = new WebSocket(url);
  } catch {
    return retry();
  }
  socket = ws;
  ws.onopen = () => {
    delay = 1000;
    lastHeard = Date.now();
    setState('live');
    // Without a seq to resume from, whatever happened while we were away is unknown: reload.
    if (!resuming) emit({ type: 'resync' });
  };
  ws.onmessage = (e) => {
    lastHeard = Date.now();
    let m;
    try {
      m = JSON.parse(e.data);
    } catch {
      return;
    }
    if (m.type === 'ping') {
      ws.send('{"type":"pong"}');
      return;
    }
    if (typeof m.seq !== 'number') return;
    if (lastSeq !== null && m.seq <= lastSeq) return; // already seen (replay overlap)
    // Seqs follow each other on the shop's stream: a jump means events this tablet never got (a
    // frame lost on the way, a rolled-back seq on PostgreSQL). Screens update themselves from each
    // event, so one they missed would stay missing: they read everything again (apply.js missed()).
    const gap = lastSeq !== null && m.seq !== lastSeq + 1 ? { type: 'gap', after: lastSeq, seq: m.seq } : null;
    lastSeq = m.seq;
    if (gap) emit(gap);
    emit(m);
  };
  ws.onclose = (e) => {
    if (socket !== ws) return; // one we let go of already (stopLive): its close changes nothing
    socket = null;
    if (e.code === SESSION_ENDED) {
      stopLive();
      endedListeners.forEach((fn) => fn());
      return;
    }
    if (!wanted) return setState('off');
    setState(navigator.onLine === false ? 'offline' : 'reconnecting');
    retry();
  };
}

// Exponential backoff with jitter: fifty tablets must not hammer the server in step after a restart.
function retry() {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(connect, delay / 2 + Math.random() * delay);
  delay = Math.min(delay * 2, 30000);
}

function reconnectNow() {
  delay = 1000;
  if (wanted && !socket) connect();
}

window.addEventListener('online', reconnectNow);
window.addEventListener('offline', () => wanted && setState('offline'));
document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && reconnectNow());
setInterval(() => {
  if (socket && state === 'live' && Date.now() - lastHeard > SILENCE_MS) socket.close();
}, 10000);

/** Start (or keep) the stream for the signed-in person. */
export function startLive() {
  wanted = true;
  connect();
}

/** Stop on sign-out: the next person starts from a fresh view, not the previous one's seq. */
export function stopLive() {
  wanted = false;
  lastSeq = null;
  clearTimeout(retryTimer);
  if (socket) {
    const ws = socket;
    socket = null;
    ws.close(1000);
  }
  setState('off');
}

/** `fn()` when the server ends this tablet's session (the stream has stopped; sign in again). */
export function onSessionEnded(fn) {
  endedListeners.add(fn);
  return () => endedListeners.delete(fn);
}

/** The last seq this tablet heard (null before the first event of a stream). */
export const liveSeq = () => lastSeq;

/**
 * fn(message) for every event, in seq order, and for {type: 'resync'} (connected without a seq
 * to resume from) and {type: 'gap', after, seq} (seqs after `after` and before `seq` never came).
 */
export function onLiveEvent(fn) {
  eventListeners.add(fn);
  return () => eventListeners.delete(fn);
}

export function onLiveState(fn) {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}
