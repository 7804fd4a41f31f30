// The vehicle outline for the damage map, drawn by us: left side, top, right side, front and rear.
// Each view is its own <svg>; a tap gives x, y in 0..1 of that view, which is what the server stores.
const NS = 'http://www.w3.org/2000/svg';

export const VIEWS = {
  left: { w: 400, h: 170 },
  top: { w: 400, h: 170 },
  right: { w: 400, h: 170 },
  front: { w: 200, h: 170 },
  rear: { w: 200, h: 170 },
};

function el(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

const SIDE_BODY = 'M22 128 L22 98 Q26 80 62 74 L122 68 Q152 34 196 30 L268 30 Q302 32 334 66 L370 74 Q384 78 384 100 L384 128 Z';
const SIDE_WINDOWS = 'M132 68 Q158 40 196 38 L228 38 L228 68 Z M236 38 L266 38 Q294 40 320 68 L236 68 Z';

function side(svg, mirrored) {
  const g = el('g', mirrored ? { transform: 'translate(400 0) scale(-1 1)' } : {});
  g.append(
    el('path', { d: SIDE_BODY, class: 'car-body' }),
    el('path', { d: SIDE_WINDOWS, class: 'car-glass' }),
    el('line', { x1: 230, y1: 70, x2: 230, y2: 126, class: 'car-line' }),
    el('line', { x1: 130, y1: 70, x2: 130, y2: 126, class: 'car-line' }),
    el('circle', { cx: 96, cy: 128, r: 26, class: 'car-wheel' }),
    el('circle', { cx: 308, cy: 128, r: 26, class: 'car-wheel' }),
    el('circle', { cx: 96, cy: 128, r: 11, class: 'car-hub' }),
    el('circle', { cx: 308, cy: 128, r: 11, class: 'car-hub' }),
  );
  svg.append(g);
}

function top(svg) {
  svg.append(
    el('rect', { x: 24, y: 22, width: 352, height: 126, rx: 52, class: 'car-body' }),
    el('path', { d: 'M118 34 L150 44 L150 126 L118 136 Q104 85 118 34 Z', class: 'car-glass' }),
    el('path', { d: 'M300 38 L278 46 L278 124 L300 132 Q312 85 300 38 Z', class: 'car-glass' }),
    el('rect', { x: 158, y: 44, width: 112, height: 82, rx: 10, class: 'car-roof' }),
    el('line', { x1: 60, y1: 85, x2: 104, y2: 85, class: 'car-line' }),
  );
}

function front(svg, rear) {
  svg.append(
    el('path', { d: 'M26 128 L26 96 Q30 80 48 76 L58 44 Q62 34 74 34 L126 34 Q138 34 142 44 L152 76 Q170 80 174 96 L174 128 Z', class: 'car-body' }),
    el('path', { d: 'M66 46 L134 46 L142 74 L58 74 Z', class: 'car-glass' }),
    el('rect', { x: 34, y: 90, width: 30, height: 14, rx: 5, class: rear ? 'car-rear-light' : 'car-light' }),
    el('rect', { x: 136, y: 90, width: 30, height: 14, rx: 5, class: rear ? 'car-rear-light' : 'car-light' }),
    el('rect', { x: 76, y: rear ? 104 : 96, width: 48, height: rear ? 12 : 16, rx: 3, class: 'car-line-fill' }),
    el('rect', { x: 30, y: 128, width: 26, height: 22, rx: 5, class: 'car-wheel' }),
    el('rect', { x: 144, y: 128, width: 26, height: 22, rx: 5, class: 'car-wheel' }),
  );
}

/**
 * An <svg> for one view; `onTap(x, y)` gets 0..1 coordinates. It is a control (a button in the tab
 * order): the caller names it and gives it its keyboard use.
 */
export function vehicleView(view, onTap) {
  const { w, h } = VIEWS[view];
  const svg = el('svg', { viewBox: `0 0 ${w} ${h}`, class: `car-view car-${view}`, 'data-view': view, role: 'button', tabindex: 0 });
  if (view === 'left') side(svg, false);
  else if (view === 'right') side(svg, true);
  else if (view === 'top') top(svg);
  else front(svg, view === 'rear');
  svg.append(el('g', { class: 'car-marks' }));
  svg.addEventListener('click', (ev) => {
    const box = svg.getBoundingClientRect();
    const x = (ev.clientX - box.left) / box.width;
    const y = (ev.clientY - box.top) / box.height;
    if (x >= 0 && x <= 1 && y >= 0 && y <= 1) onTap(Math.round(x * 1000) / 1000, Math.round(y * 1000) / 1000);
  });
  return svg;
}

/** Draw numbered marks on a view (replaces what was there). */
export function drawMarks(svg, marks, selectedId) {
  const layer = svg.querySelector('.car-marks');
  while (layer.firstChild) layer.firstChild.remove();
  const { w, h } = VIEWS[svg.dataset.view];
  marks.forEach((m) => {
    if (m.view !== svg.dataset.view) return;
    const g = el('g', { class: `car-mark mark-${m.type || 'new'}${m.id === selectedId ? ' selected' : ''}`, 'data-mark': m.id, 'data-x': m.x, 'data-y': m.y });
    g.append(el('circle', { cx: m.x * w, cy: m.y * h, r: 13 }));
    const label = el('text', { x: m.x * w, y: m.y * h + 5, 'text-anchor': 'middle' });
    label.textContent = String(m.number);
    g.append(label);
    layer.append(g);
  });
}
