// UI strings of one area of the app, in both languages (merged into web/js/i18n.js). Flat
// `'key': 'text',` lines only: api/messages.py reads these files by their lines, as it reads i18n.js.
export const en = {
};

export const zh = {
};
