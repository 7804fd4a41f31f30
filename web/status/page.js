// The status page's only script: keep the page live over /ws/status/{token}. Without it the page
// still shows everything and its forms still work (they post and come back); it then never claims
// to be live.
(function () {
  'use strict';
  var root = document.documentElement;
  var token = root.getAttribute('data-token');
  var labels = JSON.parse(root.getAttribute('data-labels') || '{}');
  var banner = document.getElementById('offline');
  var heard = Number(root.getAttribute('data-seq')) || 0; // the last event the stream announced
  var shown = heard; // the last event the page on screen includes
  var socket = null;
  var connected = null; // null: first connection still opening (nothing to say yet)
  var gone = false;
  var connectDelay = 1000;
  var connectTimer = null;
  var failing = false; // the last page refresh failed: a retry is scheduled
  var refreshDelay = 1000;
  var refreshTimer = null;
  var loading = false;
  var pendingNotice = null; // an answer's notice survives the live refresh that its own event triggers

  // A notice (?n=…) belongs to the answer that brought it: a reload must not show it again.
  var start = new URLSearchParams(location.search);
  if (start.has('n') && window.history && history.replaceState) {
    start.delete('n');
    var rest = start.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  }

  // "Updates live" shows only while it is true: the stream is open and the page shows everything
  // the stream announced. Otherwise the banner says what is wrong and that it is being retried.
  function show(note) {
    var text = note || '';
    if (!text && connected === false) text = navigator.onLine === false ? labels.offline : labels.reconnecting;
    if (!text && failing) text = labels.retrying;
    banner.textContent = text;
    banner.hidden = !text;
    root.classList.toggle('is-live', connected === true && !failing && !text);
  }

  // Exponential backoff with jitter, capped: a shop full of phones must not retry in step.
  function jitter(delay) { return delay / 2 + Math.random() * delay; }

  function refresh(notice, wait) {
    if (notice) pendingNotice = notice;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(load, wait === undefined ? 150 : wait); // a burst of events: one fetch
  }

  function failed(retryAfter) {
    failing = true;
    show();
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(load, Math.max(jitter(refreshDelay), (retryAfter || 0) * 1000));
    refreshDelay = Math.min(refreshDelay * 2, 30000);
  }

  // One renderer: fetch this same page and swap <main>.
  function load() {
    if (loading) return refresh(); // one fetch at a time; look again once it is back
    loading = true;
    var asked = heard;
    var query = new URLSearchParams(location.search);
    query.delete('n');
    if (pendingNotice) query.set('n', pendingNotice);
    var abort = window.AbortController ? new AbortController() : null;
    var timeout = setTimeout(function () { if (abort) abort.abort(); }, 15000); // a hung request fails too
    fetch(location.pathname + '?' + query, {
      cache: 'no-store',
      credentials: 'omit',
      signal: abort ? abort.signal : undefined,
    })
      .then(function (r) {
        if (r.status === 404) { location.reload(); return null; } // the link expired: the server's own page
        if (!r.ok) return Promise.reject(Number(r.headers.get('Retry-After')) || 0);
        return r.text();
      })
      .then(function (html) {
        if (html === null) return;
        var next = new DOMParser().parseFromString(html, 'text/html').getElementById('page');
        if (!next) return Promise.reject(0);
        var seq = Number(next.getAttribute('data-seq')) || 0;
        if (seq < asked) return Promise.reject(0); // older than what the stream announced: not current
        document.getElementById('page').replaceWith(next);
        shown = Math.max(shown, seq);
        pendingNotice = null;
        failing = false;
        refreshDelay = 1000;
        wire();
        show();
        if (heard > shown) refresh(); // more happened while this page was on its way
      })
      .catch(function (retryAfter) { failed(typeof retryAfter === 'number' ? retryAfter : 0); })
      .then(function () { clearTimeout(timeout); loading = false; });
  }

  function connect() {
    if (gone || socket) return;
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/status/' + token + '?since=' + heard;
    try { socket = new WebSocket(url); } catch (e) { return reconnect(); }
    socket.onopen = function () {
      connectDelay = 1000;
      connected = true;
      show();
      if (heard > shown) refresh(null, 0); // announced while away and not shown yet
    };
    socket.onmessage = function (e) {
      var m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      if (m.type === 'ping') { socket.send('{"type":"pong"}'); return; }
      if (typeof m.seq === 'number' && m.seq > heard) {
        heard = m.seq;
        if (!failing) refresh(); // while failing, the scheduled retry fetches the latest anyway
      }
    };
    socket.onclose = function (e) {
      socket = null;
      if (e.code === 4404) { gone = true; return refresh(); } // expired link: show the server's page
      connected = false;
      show();
      reconnect();
    };
  }

  function reconnect() {
    clearTimeout(connectTimer);
    connectTimer = setTimeout(connect, jitter(connectDelay));
    connectDelay = Math.min(connectDelay * 2, 30000);
  }

  // Back in reach: retry now rather than at the end of a long backoff.
  function resume() {
    connectDelay = 1000;
    if (!socket) connect();
    if (failing) { refreshDelay = 1000; refresh(null, 0); }
  }

  // With JavaScript, answer in place (no reload) and keep the same Idempotency-Key as the form.
  function wire() {
    var forms = document.querySelectorAll('#page form');
    Array.prototype.forEach.call(forms, function (form) {
      form.addEventListener('submit', function (ev) {
        var data = new FormData(form);
        var button = ev.submitter;
        if (button && button.name) data.set(button.name, button.value);
        var body = {};
        var path = form.getAttribute('action').split('/').pop();
        if (path === 'approvals') body = { job_id: Number(data.get('job_id')), decision: data.get('decision') };
        else body = { score: Number(data.get('score')), comment: String(data.get('comment') || '') };
        ev.preventDefault();
        Array.prototype.forEach.call(form.querySelectorAll('button'), function (b) { b.disabled = true; });
        fetch('/api/status/' + token + '/' + path, {
          method: 'POST',
          credentials: 'omit',
          headers: { 'Content-Type': 'application/json', 'Idempotency-Key': String(data.get('key')) },
          body: JSON.stringify(body),
        })
          .then(function (r) {
            var notice = r.status === 409 || r.status === 404 ? 'stale' : r.status === 422 || r.status === 400 ? 'invalid' : 'failed';
            if (r.ok) notice = path === 'survey' ? 'rated' : body.decision === 'approve' ? 'approved' : 'declined';
            refresh(notice);
          })
          .catch(function () {
            show(labels.offline);
            Array.prototype.forEach.call(form.querySelectorAll('button'), function (b) { b.disabled = false; });
          });
      });
    });
  }

  window.addEventListener('online', resume);
  window.addEventListener('offline', function () { show(labels.offline); });
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') resume();
  });
  wire();
  connect();
})();
