// The shop's opening hours and the promise quick choices that keep inside them. Pure functions of an
// explicit `now` (the tests pass it), on the shop's wall clock: "17:30" is 17:30 in the shop, whatever
// zone the tablet is set to. A day is counted as a number (days since 1970-01-01 on the wall clock),
// so moving to the next day never trips over a zone's offset.
import { zonedParts } from './time.js';

// Until a manager sets them in /admin (the server sends the same default).
export const DEFAULT_HOURS = Object.freeze({ opens: '08:30', closes: '18:00', days: Object.freeze([1, 2, 3, 4, 5, 6, 7]) });

const DAY_MS = 86400000;
const STEP = 30; // a promise reads "16:30", never "16:17"
const TODAY_BEFORE_CLOSE = 30; // "Today 17:30": half an hour before closing, to hand the car back
const NEXT_DAY_AFTER_OPEN = 90; // "Tomorrow 10:00": the first cars of the morning are done by then
const SEARCH_DAYS = 400; // a long stretch of work still ends; a shop open one day a week is found

const pad = (n, w = 2) => String(n).padStart(w, '0');
const clock = (minutes) => `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;

function minutesOf(text) {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(typeof text === 'string' ? text : '');
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

function parse(raw) {
  const opens = minutesOf(raw?.opens);
  const closes = minutesOf(raw?.closes);
  const days = Array.isArray(raw?.days) ? raw.days.filter((d) => Number.isInteger(d) && d >= 1 && d <= 7) : [];
  if (opens === null || closes === null || opens >= closes || !days.length) return null;
  return { opens, closes, days: new Set(days) };
}

/** Hours as the server sends them ({opens, closes, days}), in minutes; anything unusable → the default. */
export const readHours = (raw) => parse(raw) ?? parse(DEFAULT_HOURS);

/** ISO weekday of a wall-clock day number: 1 Monday … 7 Sunday. */
const weekday = (day) => ((new Date(day * DAY_MS).getUTCDay() + 6) % 7) + 1;

function dateOf(day) {
  const d = new Date(day * DAY_MS);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** The shop's wall clock at `now`: the day number and the minute of the day (a started minute counts). */
function wallClock(now, zone) {
  const p = zonedParts(now, zone);
  return { day: Date.UTC(p.year, p.month - 1, p.day) / DAY_MS, minute: p.hour * 60 + p.minute + (p.second > 0 ? 1 : 0) };
}

/**
 * `hours` of opening time after `now`, as date and time inputs ({date: "YYYY-MM-DD", time: "HH:MM"}):
 * what is left of today counts, the rest continues at the next opening. Rounded up to the half hour,
 * never past closing.
 */
export function afterOpenHours(hours, { zone, shopHours, now }) {
  const h = readHours(shopHours);
  let { day, minute } = wallClock(now, zone);
  let left = Math.max(0, Math.round(hours * 60));
  for (let i = 0; i < SEARCH_DAYS; i += 1, day += 1, minute = 0) {
    if (!h.days.has(weekday(day))) continue;
    const start = Math.max(minute, h.opens);
    if (start >= h.closes) continue;
    if (start + left <= h.closes) {
      const at = Math.min(Math.ceil((start + left) / STEP) * STEP, h.closes);
      return { date: dateOf(day), time: clock(at) };
    }
    left -= h.closes - start;
  }
  return null;
}

/** The next day the shop opens after the day of `now` (a day number). */
function nextOpenDay(day, h) {
  let next = day + 1;
  while (!h.days.has(weekday(next))) next += 1; // at most six steps: at least one day is open
  return next;
}

/**
 * The quick promise choices at `now`, each {id, key, params, date, time} (key and params name its
 * label in web/js/i18n.js): in 2 and in 4 opening hours; today before closing, only while that is
 * still ahead on a day the shop is open; and the next day the shop opens ("Tomorrow" when it is
 * tomorrow, else its weekday in `lang`).
 */
export function promiseChoices({ zone, shopHours, now, lang = 'en' }) {
  const h = readHours(shopHours);
  const { day, minute } = wallClock(now, zone);
  const choices = [2, 4].map((hours) => ({ id: `in${hours}`, key: 'newro.inHours', params: { hours }, ...afterOpenHours(hours, { zone, shopHours, now }) }));
  const todayAt = Math.max(h.opens, h.closes - TODAY_BEFORE_CLOSE);
  if (h.days.has(weekday(day)) && minute < todayAt) {
    choices.push({ id: 'today', key: 'newro.todayAt', params: { time: clock(todayAt) }, date: dateOf(day), time: clock(todayAt) });
  }
  const next = nextOpenDay(day, h);
  const nextAt = clock(Math.min(h.opens + NEXT_DAY_AFTER_OPEN, h.closes));
  const tomorrow = next === day + 1;
  choices.push({
    id: 'next',
    key: tomorrow ? 'newro.tomorrowAt' : 'newro.dayAt',
    params: tomorrow ? { time: nextAt } : { time: nextAt, day: weekdayName(next, lang) },
    date: dateOf(next),
    time: nextAt,
  });
  return choices;
}

function weekdayName(day, lang) {
  return new Intl.DateTimeFormat(lang === 'zh-CN' ? 'zh-CN' : 'en-GB', { weekday: 'short', timeZone: 'UTC' }).format(new Date(day * DAY_MS));
}
