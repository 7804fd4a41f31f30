// Money on screens: amounts travel as integer fen (分) and are shown as ¥ with two decimals.

/** 12345 → "¥123.45"; negative amounts (a discount line) keep their sign in front: "-¥10.00". */
export function formatFen(fen) {
  if (fen == null || !Number.isFinite(Number(fen))) return '';
  const n = Math.round(Number(fen));
  const abs = Math.abs(n);
  const yuan = Math.floor(abs / 100).toLocaleString('en-US');
  return `${n < 0 ? '-' : ''}¥${yuan}.${String(abs % 100).padStart(2, '0')}`;
}

/**
 * What a person typed ("380", "380.5", "1,200.00", "¥45") → fen, or null when it is not an amount
 * with at most two decimals. Parsed as text so 0.1 + 0.2 never happens.
 */
export function parseFen(text) {
  const clean = String(text ?? '').replace(/[¥,\s]/g, '').replace('，', '').replace('。', '.');
  const m = /^(\d{1,9})(?:\.(\d{0,2}))?$/.exec(clean);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
}
