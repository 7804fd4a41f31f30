// The status page's only script: keep the page live over /ws/status/{token}. Without it the page
// still shows everything and its forms still work (they post and come back).
(function () {
  'use strict';
  var root = document.documentElement;
  var token = root.getAttribute('data-token');
  var labels = JSON.parse(root.getAttribute('data-labels') || '{}');
  var seq = Number(root.getAttribute('data-seq')) || 0;
  var banner = document.getElementById('offline');
  var delay = 1000;
  var socket = null;
  var refreshTimer = null;
  var retryTimer = null;
  var gone = false;

  function offline(text) {
    banner.textContent = text || '';
    banner.hidden = !text;
    root.classList.toggle('offline', !!text);
  }

  // One renderer: fetch this same page and swap <main>. Bursts of events cost one fetch.
  var pendingNotice = null; // an answer's notice survives the live refresh that its own event triggers
  function refresh(notice) {
    if (notice) pendingNotice = notice;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      var query = new URLSearchParams(location.search);
      query.delete('n');
      if (pendingNotice) query.set('n', pendingNotice);
      pendingNotice = null;
      fetch(location.pathname + '?' + query, { cache: 'no-store', credentials: 'omit' })
        .then(function (r) {
          if (r.status === 404) location.reload(); // the link expired: show the server's own page
          return r.ok ? r.text() : Promise.reject(r.status);
        })
        .then(function (html) {
          var next = new DOMParser().parseFromString(html, 'text/html').getElementById('page');
          if (!next) return;
          seq = Math.max(seq, Number(next.getAttribute('data-seq')) || 0);
          document.getElementById('page').replaceWith(next);
          wire();
        })
        .catch(function () { /* the next event or reconnect tries again */ });
    }, 150);
  }

  function connect() {
    if (gone || socket) return;
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/status/' + token + '?since=' + seq;
    try { socket = new WebSocket(url); } catch (e) { return retry(); }
    socket.onopen = function () {
      delay = 1000;
      offline('');
    };
    socket.onmessage = function (e) {
      var m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      if (m.type === 'ping') { socket.send('{"type":"pong"}'); return; }
      if (typeof m.seq === 'number' && m.seq > seq) {
        seq = m.seq;
        refresh();
      }
    };
    socket.onclose = function (e) {
      socket = null;
      if (e.code === 4404) { gone = true; return refresh(); } // expired link: show the server's page
      offline(navigator.onLine === false ? labels.offline : labels.reconnecting);
      retry();
    };
  }

  // Exponential backoff with jitter, capped: a shop full of phones must not reconnect in step.
  function retry() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay / 2 + Math.random() * delay);
    delay = Math.min(delay * 2, 30000);
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
            offline(labels.offline);
            Array.prototype.forEach.call(form.querySelectorAll('button'), function (b) { b.disabled = false; });
          });
      });
    });
  }

  window.addEventListener('online', function () { delay = 1000; if (!socket) connect(); });
  window.addEventListener('offline', function () { offline(labels.offline); });
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible' && !socket) { delay = 1000; connect(); }
  });
  wire();
  connect();
})();
