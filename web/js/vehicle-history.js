// Vehicle history (#/vehicle/<id>): the car and every visit, newest first — mileage in and out, the
// work done with its price, what the technicians found, and the recommended work the customer
// declined (the advisor offers it again at the next write-up). Reads only.
import { get } from './api.js';
import { h, clear, timeEl } from './dom.js';
import { formBanner, showError } from './forms.js';
import { formatFen } from './money.js';

const km = (n) => Number(n).toLocaleString('en-US');

export function render(view, ctx, param) {
  const banner = formBanner();
  const head = h('header', { class: 'page-head' }, h('h1', { t: 'history.title' }));
  const body = h('div', { class: 'history', 'data-testid': 'vehicle-history', 'aria-busy': 'true' });
  const back = h('button', { type: 'button', class: 'btn btn-ghost', t: 'history.back', onclick: () => ctx.go('#/find') });
  view.append(h('section', { class: 'page history-page' }, head, h('div', { class: 'form-actions' }, back), banner, body));
  let gone = false;

  get(`/api/vehicles/${encodeURIComponent(param)}/history`)
    .then((found) => {
      if (gone) return;
      body.removeAttribute('aria-busy');
      paint(found);
    })
    .catch((err) => {
      if (gone) return;
      body.removeAttribute('aria-busy');
      if (err.status !== 401) showError(banner, err);
    });

  function paint({ vehicle, visits }) {
    clear(body);
    const label = [vehicle.make, vehicle.model, vehicle.year, vehicle.color].filter(Boolean).join(' · ');
    body.append(
      h(
        'div',
        { class: 'card history-vehicle' },
        h('p', { class: 'plate', lang: 'zh-CN', 'data-testid': 'history-plate' }, vehicle.plate),
        label ? h('p', {}, label) : null,
        vehicle.vin ? h('p', { class: 'muted input-mono', t: 'history.vin', tp: { vin: vehicle.vin } }) : null,
        h('p', { class: 'muted', t: visits.length ? 'history.visits' : 'history.noVisits', tp: { count: visits.length } }),
      ),
      ...visits.map((visit) => visitCard(visit, ctx)),
    );
  }

  return () => {
    gone = true;
  };
}

function visitCard(visit, ctx) {
  const mileage = [h('span', { t: 'history.mileageIn', tp: { km: km(visit.mileage_in) } })];
  if (visit.mileage_out != null) mileage.push(' · ', h('span', { t: 'history.mileageOut', tp: { km: km(visit.mileage_out) } }));
  return h(
    'article',
    { class: 'card history-visit', 'data-testid': 'history-visit', 'data-ro-id': visit.id },
    h(
      'header',
      { class: 'find-card-head' },
      h('strong', { class: 'find-number' }, visit.number),
      h('span', { class: `chip stage-chip stage-${visit.stage}`, t: `stage.${visit.stage}` }),
    ),
    h('p', { class: 'muted' }, timeEl(visit.delivered_at || visit.created_at, 'date'), ' · ', visit.customer.name),
    h('p', { class: 'history-mileage' }, ...mileage),
    h('h3', { class: 'history-sub', t: 'history.work' }),
    visit.work.length ? workList(visit.work, 'history-work') : h('p', { class: 'muted', t: 'history.noWork' }),
    visit.findings.length
      ? [
          h('h3', { class: 'history-sub', t: 'history.findings' }),
          h('ul', { class: 'history-list' }, ...visit.findings.map((f) => h('li', {}, f.text || (f.phrase ? h('span', { t: `phrase.${f.phrase}` }) : '')))),
        ]
      : null,
    visit.declined.length
      ? [h('h3', { class: 'history-sub history-declined', t: 'history.declined' }), workList(visit.declined, 'history-declined')]
      : null,
    h('div', { class: 'form-actions' }, h('button', { type: 'button', class: 'btn btn-secondary', t: 'history.openOrder', onclick: () => ctx.go(`#/ro/${visit.id}`) })),
  );
}

function workList(jobs, testid) {
  return h(
    'ul',
    { class: 'history-list', 'data-testid': testid },
    ...jobs.map((job) =>
      h(
        'li',
        { class: 'history-job' },
        h('span', {}, job.customer_text || job.title),
        job.state && testid === 'history-work' ? h('span', { class: 'chip', t: `job.${job.state}` }) : null,
        job.price_fen != null ? h('span', { class: 'history-price' }, formatFen(job.price_fen)) : null,
      ),
    ),
  );
}
