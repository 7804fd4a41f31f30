// Shop-time-zone arithmetic. The tablet's own clock zone is irrelevant: a promise of "17:30" means
// 17:30 in the shop, even on a device left on another zone. Only Intl knows zone rules, so every
// conversion goes through formatToParts.

const partsFormatters = new Map();

function partsFormatter(timeZone) {
  if (!partsFormatters.has(timeZone)) {
    partsFormatters.set(
      timeZone,
      new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      }),
    );
  }
  return partsFormatters.get(timeZone);
}

/** Wall-clock fields of an instant in a zone: {year, month, day, hour, minute, second}. */
export function zonedParts(date, timeZone) {
  const out = {};
  for (const p of partsFormatter(timeZone).formatToParts(date)) {
    if (p.type !== 'literal') out[p.type] = Number(p.value);
  }
  if (out.hour === 24) out.hour = 0; // some engines still say 24 at midnight
  return out;
}

/** The zone's offset from UTC at that instant, in minutes (Asia/Shanghai → 480). */
export function offsetMinutes(date, timeZone) {
  const p = zonedParts(date, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return Math.round((asUtc - Math.floor(date.getTime() / 1000) * 1000) / 60000);
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

function formatOffset(minutes) {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/**
 * "2024-05-01" + "17:30" in the shop zone → "2024-05-01T17:30:00+08:00".
 * The offset is looked up twice because the first guess can sit on the wrong side of a DST change.
 */
export function zonedToIso(dateStr, timeStr, timeZone) {
  const [y, mo, d] = dateStr.split('-').map(Number);
  const [hh, mm] = timeStr.split(':').map(Number);
  if (![y, mo, d, hh, mm].every(Number.isFinite)) return null;
  const naive = Date.UTC(y, mo - 1, d, hh, mm);
  let offset = offsetMinutes(new Date(naive), timeZone);
  offset = offsetMinutes(new Date(naive - offset * 60000), timeZone);
  return `${pad(y, 4)}-${pad(mo)}-${pad(d)}T${pad(hh)}:${pad(mm)}:00${formatOffset(offset)}`;
}

/** Date and time input values ("YYYY-MM-DD", "HH:MM") for an instant, in the shop zone. */
export function toInputs(date, timeZone) {
  const p = zonedParts(date, timeZone);
  return { date: `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}`, time: `${pad(p.hour)}:${pad(p.minute)}` };
}

/** Shop-local "YYYY-MM-DD" of the day `plusDays` after today. */
export function shopDate(timeZone, plusDays = 0, now = new Date()) {
  const p = zonedParts(now, timeZone);
  const d = new Date(Date.UTC(p.year, p.month - 1, p.day + plusDays));
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

export function isValidZone(timeZone) {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}
