// Unix-cron schedules as Cloud Scheduler reads them: five fields (minute hour day-of-month month
// day-of-week) with `*`, lists, ranges, steps and month/day names, evaluated in an IANA time zone.
// Pure: no timers, no I/O.

export interface CronSchedule {
  readonly source: string;
  readonly timeZone: string;
  /** The first fire time strictly after `afterMs`, in epoch milliseconds (on a whole minute). */
  next(afterMs: number): number;
}

export class CronError extends Error {
  override readonly name = 'CronError';
}

interface Field {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const FIELDS: readonly Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  // 7 is Sunday too, as in Vixie cron.
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

const MINUTE = 60_000;
/** Give up looking for a fire time after this long (a Feb 29 schedule fires within 8 years). */
const SEARCH_LIMIT_MS = 9 * 366 * 86_400_000;

/** Parses a five-field unix-cron expression; throws a CronError naming the bad field. */
export function parseCron(source: string, timeZone = 'Etc/UTC'): CronSchedule {
  const parts = source.trim().split(/\s+/);
  if (parts.length !== 5) {
    throw new CronError(
      `schedule "${source}" must have 5 fields (minute hour day-of-month month day-of-week)`,
    );
  }
  const sets = parts.map((part, i) => parseField(part, FIELDS[i]!, source));
  const [minutes, hours, days, months, weekdays] = sets as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  if (weekdays.has(7)) weekdays.add(0);
  // Vixie cron: when both day fields are restricted, a day matching either one fires.
  const domAny = parts[2] === '*' || parts[2]!.startsWith('*/');
  const dowAny = parts[4] === '*' || parts[4]!.startsWith('*/');
  const wallClock = wallClockIn(timeZone);

  const dayMatches = (f: WallClock): boolean => {
    if (!months.has(f.month)) return false;
    const dom = days.has(f.day);
    const dow = weekdays.has(f.weekday);
    if (domAny && dowAny) return dom && dow;
    if (domAny) return dow;
    if (dowAny) return dom;
    return dom || dow;
  };

  return {
    source,
    timeZone,
    next(afterMs) {
      let t = Math.floor(afterMs / MINUTE) * MINUTE + MINUTE;
      const limit = afterMs + SEARCH_LIMIT_MS;
      while (t <= limit) {
        const f = wallClock(t);
        if (!dayMatches(f) || !hours.has(f.hour)) {
          // Nothing in the rest of this wall-clock hour can match: go to its end.
          t += (60 - f.minute) * MINUTE;
          continue;
        }
        if (minutes.has(f.minute)) return t;
        t += MINUTE;
      }
      throw new CronError(`schedule "${source}" never fires`);
    },
  };
}

function parseField(part: string, field: Field, source: string): Set<number> {
  const out = new Set<number>();
  const bad = (why: string) => new CronError(`schedule "${source}": ${field.name} "${part}" ${why}`);
  const value = (raw: string): number => {
    const index = field.names?.indexOf(raw.toUpperCase()) ?? -1;
    const n = index >= 0 ? index + (field.name === 'month' ? 1 : 0) : /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < field.min || n > field.max) {
      throw bad(`is out of range ${field.min}-${field.max}`);
    }
    return n;
  };
  for (const item of part.split(',')) {
    const [range, stepRaw, ...rest] = item.split('/');
    if (range === undefined || range === '' || rest.length > 0) throw bad('is malformed');
    let step = 1;
    if (stepRaw !== undefined) {
      if (!/^\d+$/.test(stepRaw) || Number(stepRaw) < 1) throw bad('has an invalid step');
      step = Number(stepRaw);
    }
    let from: number;
    let to: number;
    if (range === '*') {
      from = field.min;
      to = field.name === 'day of week' ? 6 : field.max;
    } else if (range.includes('-')) {
      const [a, b, ...more] = range.split('-');
      if (a === undefined || b === undefined || more.length > 0) throw bad('is malformed');
      from = value(a);
      to = value(b);
      if (from > to) throw bad('is a backwards range');
    } else {
      from = value(range);
      // `5/15` means from 5 to the end in steps of 15.
      to = stepRaw === undefined ? from : field.max;
    }
    for (let n = from; n <= to; n += step) out.add(n);
  }
  return out;
}

interface WallClock {
  readonly month: number;
  readonly day: number;
  readonly weekday: number;
  readonly hour: number;
  readonly minute: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** Wall-clock fields of an instant in `timeZone`; throws a CronError for an unknown zone. */
function wallClockIn(timeZone: string): (ms: number) => WallClock {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') {
    return (ms) => {
      const d = new Date(ms);
      return {
        month: d.getUTCMonth() + 1,
        day: d.getUTCDate(),
        weekday: d.getUTCDay(),
        hour: d.getUTCHours(),
        minute: d.getUTCMinutes(),
      };
    };
  }
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      month: 'numeric',
      day: 'numeric',
      weekday: 'short',
      hour: 'numeric',
      minute: 'numeric',
    });
  } catch {
    throw new CronError(`unknown time zone "${timeZone}"`);
  }
  return (ms) => {
    const parts: Record<string, string> = {};
    for (const p of format.formatToParts(ms)) parts[p.type] = p.value;
    return {
      month: Number(parts.month),
      day: Number(parts.day),
      weekday: WEEKDAYS[parts.weekday ?? ''] ?? 0,
      hour: Number(parts.hour),
      minute: Number(parts.minute),
    };
  };
}
