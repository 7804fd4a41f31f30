// Placeholder: a section of the repair-order detail (web/js/ro-detail.js), being built.

/** The section's element for this repair order (as GET /api/repair-orders/{id} answers), or null. */
export function section(_ro, _ctx) {
  return null;
}
