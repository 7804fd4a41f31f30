// Placeholder: this screen is being built.
import { h } from './dom.js';

export function render(view) {
  view.append(h('section', { class: 'empty-state' }, h('h1', { t: 'common.comingSoon' })));
  return null;
}
