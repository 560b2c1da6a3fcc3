/**
 * The small type language of rules. A type is written as a string — `number`, `string`,
 * `boolean`, `timestamp`, `duration`, `list<T>` — or as `{ list: T }`. Internally every type is
 * kept in its canonical string form so that equality of types is string equality; `null` is the
 * type of the `null` literal and `any` is accepted only for action params that pass JSON through.
 */
export type TypeSpec = string | { list: TypeSpec };

/** Canonical type strings (`number`, `list<string>`, ...). */
export type RuleType = string;

export const SCALAR_TYPES = ['number', 'string', 'boolean', 'timestamp', 'duration'] as const;

/** Parses a type spec into its canonical form, or `undefined` when it is not a valid type. */
export function parseType(spec: unknown, allowAny = false): RuleType | undefined {
  if (typeof spec === 'object' && spec !== null && !Array.isArray(spec)) {
    const keys = Object.keys(spec);
    if (keys.length !== 1 || keys[0] !== 'list') return undefined;
    const inner = parseType((spec as { list: unknown }).list);
    return inner === undefined || isList(inner) ? undefined : `list<${inner}>`;
  }
  if (typeof spec !== 'string') return undefined;
  const s = spec.replace(/\s+/g, '');
  if ((SCALAR_TYPES as readonly string[]).includes(s)) return s;
  if (allowAny && (s === 'any' || s === 'object')) return 'any';
  const m = /^list<(.+)>$/.exec(s);
  if (m) {
    const inner = parseType(m[1]);
    // Lists of lists have no operator that could use them, so they are refused rather than half-supported.
    return inner === undefined || isList(inner) ? undefined : `list<${inner}>`;
  }
  return undefined;
}

export function isList(t: RuleType): boolean {
  return t.startsWith('list<');
}

export function elementType(t: RuleType): RuleType {
  return isList(t) ? t.slice(5, -1) : 'any';
}

export function listOf(t: RuleType): RuleType {
  return `list<${t}>`;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses `30d`, `12h`, `15m`, `10s`, `500ms`, `2w` (also `1h30m`) into milliseconds. */
export function parseDuration(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;
  let total = 0;
  let pos = 0;
  if (text.length === 0) return undefined;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    pos = re.lastIndex;
  }
  return total;
}

export const ISO_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Parses an ISO-8601 date or date-time into epoch milliseconds (a date alone means UTC midnight).
 * Only a moment the calendar has: `2026-02-30` or `24:00`, which `Date.parse` would roll over into
 * another day, and a leap second, are undefined like any text that is not a timestamp.
 */
export function parseTimestamp(text: string): number | undefined {
  const m = ISO_TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1).map((p) => (p === undefined ? undefined : Number(p))) as number[];
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Renders a runtime value for messages and traces, in the rule language's own notation. */
export function formatValue(v: unknown, type?: RuleType): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (type === 'timestamp' && typeof v === 'number') return new Date(v).toISOString();
  if (type === 'duration' && typeof v === 'number') return formatDuration(v);
  if (Array.isArray(v)) {
    const inner = type ? elementType(type) : undefined;
    const items = v.slice(0, 10).map((x) => formatValue(x, inner));
    return `[${items.join(', ')}${v.length > 10 ? ', …' : ''}]`;
  }
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

export function formatDuration(ms: number): string {
  const units: [string, number][] = [['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  for (const [u, n] of units) if (ms !== 0 && ms % n === 0) return `${ms / n}${u}`;
  return `${ms}ms`;
}
