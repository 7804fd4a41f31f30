// Bayline service worker: keeps the staff app shell available on a tablet with dead Wi-Fi spots.
// Bump VERSION whenever any shell file changes: assets are served cache-first, so a new VERSION
// is what makes tablets fetch them again. The page decides when a new version takes over
// (never skipWaiting on our own: it would swap code under a half-filled form).
const VERSION = 'bayline-shell-v27';
const CACHE_PREFIX = 'bayline-shell-';

const SHELL = [
  '/',
  '/manifest.webmanifest',
  '/web/css/app.css',
  '/web/js/api.js',
  '/web/js/app.js',
  '/web/js/camera.js',
  '/web/js/action.js',
  '/web/js/apply.js',
  '/web/js/clock.js',
  '/web/js/clock-review.js',
  '/web/js/dom.js',
  '/web/js/domain.js',
  '/web/js/finding.js',
  '/web/js/forms.js',
  '/web/js/hours.js',
  '/web/js/i18n.js',
  '/web/js/strings/admin.js',
  '/web/js/strings/care.js',
  '/web/js/strings/detail.js',
  '/web/js/strings/dispatch.js',
  '/web/js/strings/find.js',
  '/web/js/strings/handover.js',
  '/web/js/strings/pricing.js',
  '/web/js/live.js',
  '/web/js/money.js',
  '/web/js/job-parts.js',
  '/web/js/my-jobs.js',
  '/web/js/new-ro.js',
  '/web/js/outbox.js',
  '/web/js/outbox-list.js',
  '/web/js/photo-queue.js',
  '/web/js/promise.js',
  '/web/js/qc.js',
  '/web/js/ro-closing.js',
  '/web/js/ro-parts.js',
  '/web/js/ro-pricing.js',
  '/web/js/staff.js',
  '/web/js/settings.js',
  '/web/js/handover.js',
  '/web/js/dispatch.js',
  '/web/js/vehicle-history.js',
  '/web/js/care.js',
  '/web/js/find.js',
  '/web/js/ro-detail.js',
  '/web/js/screencache.js',
  '/web/js/setup.js',
  '/web/js/signin.js',
  '/web/js/time.js',
  '/web/js/today.js',
  '/web/js/vehicle.js',
  '/web/js/walkaround.js',
  '/web/icons/icon.svg',
  '/web/icons/icon-maskable.svg',
];

// Live data and the customer's pages must always come from the server, never from a cache.
const NETWORK_ONLY = ['/api/', '/ws/', '/s/', '/schema', '/admin'];

// A navigation that hangs on weak Wi-Fi falls back to the cached shell after this long.
const NAVIGATION_TIMEOUT_MS = 4000;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(VERSION)
      // cache: 'reload' skips the HTTP cache so a new version never precaches stale files.
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: 'reload' })))),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const keys = await caches.keys();
      await Promise.all(keys.filter((k) => k.startsWith(CACHE_PREFIX) && k !== VERSION).map((k) => caches.delete(k)));
      // First install only: take the already-open page so it works offline without a reload.
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'SKIP_WAITING') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (NETWORK_ONLY.some((prefix) => url.pathname.startsWith(prefix))) return; // untouched

  if (request.mode === 'navigate') {
    event.respondWith(networkFirst(request, url));
    return;
  }
  if (url.pathname.startsWith('/web/') || url.pathname === '/manifest.webmanifest') {
    event.respondWith(cacheFirst(request));
  }
  // Anything else goes to the network as if there were no service worker.
});

async function networkFirst(request, url) {
  const cache = await caches.open(VERSION);
  try {
    const response = await withTimeout(fetch(request), NAVIGATION_TIMEOUT_MS);
    // Keep the cached shell fresh, but only with a real page (not an error or a captive portal's).
    if (url.pathname === '/' && response.ok && response.type === 'basic') {
      cache.put('/', response.clone());
    }
    return response;
  } catch {
    const shell = await cache.match('/');
    return shell || Response.error();
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(VERSION);
  const hit = await cache.match(request, { ignoreSearch: true });
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok && response.type === 'basic') cache.put(request, response.clone());
  return response;
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
