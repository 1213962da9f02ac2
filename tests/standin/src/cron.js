// A minimal five-field cron evaluator (minute hour day-of-month month day-of-week),
// evaluated in the process's local time zone, i.e. the runtime's `TZ`.
//
// Supported: `*`, numbers, ranges `a-b`, steps `*/n`, `a-b/n`, `a/n`, lists `x,y`,
// month names JAN-DEC, day names SUN-SAT, 7 as Sunday, and the macros
// @yearly @annually @monthly @weekly @daily @midnight @hourly.
// When both day fields are restricted, a day matches either (classic cron rule).
// Every instant whose local wall-clock time matches is a run: a time skipped by a DST
// change does not run that day, a time repeated by one runs twice.

const MACROS = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day-of-week', min: 0, max: 7, names: DAYS, nameBase: 0 },
];

function parseValue(text, field) {
  const lower = text.toLowerCase();
  if (field.names) {
    const index = field.names.indexOf(lower);
    if (index >= 0) return index + field.nameBase;
  }
  if (!/^\d+$/.test(text)) throw new Error(`bad ${field.name} value "${text}"`);
  const value = Number(text);
  if (value < field.min || value > field.max) {
    throw new Error(`${field.name} value ${value} out of range ${field.min}-${field.max}`);
  }
  return value;
}

function parseField(text, field) {
  const allowed = new Set();
  for (const part of text.split(',')) {
    if (part === '') throw new Error(`empty list item in ${field.name}`);
    const [rangeText, stepText, extra] = part.split('/');
    if (extra !== undefined) throw new Error(`bad step in ${field.name}: "${part}"`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) {
        throw new Error(`bad step in ${field.name}: "${part}"`);
      }
      step = Number(stepText);
    }
    let low;
    let high;
    if (rangeText === '*') {
      low = field.min;
      high = field.max === 7 ? 6 : field.max;
    } else if (rangeText.includes('-')) {
      const [a, b, more] = rangeText.split('-');
      if (more !== undefined) throw new Error(`bad range in ${field.name}: "${part}"`);
      low = parseValue(a, field);
      high = parseValue(b, field);
      if (high < low) throw new Error(`backwards range in ${field.name}: "${part}"`);
    } else {
      low = parseValue(rangeText, field);
      high = stepText !== undefined ? (field.max === 7 ? 6 : field.max) : low;
    }
    for (let v = low; v <= high; v += step) allowed.add(field.max === 7 && v === 7 ? 0 : v);
  }
  return { allowed, restricted: !text.startsWith('*') };
}

/** Parses a cron expression; throws an Error with a readable message when it is invalid. */
export function parseCron(expression) {
  if (typeof expression !== 'string') throw new Error('cron expression must be a string');
  let text = expression.trim();
  if (MACROS[text.toLowerCase()]) text = MACROS[text.toLowerCase()];
  const parts = text.split(/\s+/);
  if (parts.length !== 5) {
    throw new Error(`cron expression needs 5 fields, got ${parts.length}: "${expression}"`);
  }
  const [minute, hour, dom, month, dow] = parts.map((p, i) => parseField(p, FIELDS[i]));
  return { minute, hour, dom, month, dow };
}

function dayMatches(cron, date) {
  const domOk = cron.dom.allowed.has(date.getDate());
  const dowOk = cron.dow.allowed.has(date.getDay());
  if (cron.dom.restricted && cron.dow.restricted) return domOk || dowOk;
  if (cron.dom.restricted) return domOk;
  if (cron.dow.restricted) return dowOk;
  return true;
}

/** The first minute strictly after `from` that the expression matches, or null. */
export function nextCronRun(expression, from = new Date()) {
  const cron = typeof expression === 'string' ? parseCron(expression) : expression;
  const d = new Date(from.getTime());
  d.setSeconds(0, 0);
  d.setMinutes(d.getMinutes() + 1);
  for (let i = 0; i < 200000; i += 1) {
    if (!cron.month.allowed.has(d.getMonth() + 1)) {
      d.setMonth(d.getMonth() + 1, 1);
      d.setHours(0, 0, 0, 0);
    } else if (!dayMatches(cron, d)) {
      d.setDate(d.getDate() + 1);
      d.setHours(0, 0, 0, 0);
    } else if (!cron.hour.allowed.has(d.getHours())) {
      // Absolute steps within a day, so an hour repeated at a DST change is visited twice.
      d.setTime(d.getTime() + (60 - d.getMinutes()) * 60000);
    } else if (!cron.minute.allowed.has(d.getMinutes())) {
      d.setTime(d.getTime() + 60000);
    } else {
      return d;
    }
  }
  return null;
}
