import type { FieldProblem } from '@arbiter/platform';
import { parseDuration, parseTimestamp, type PayloadSchema, type RuleType } from '@arbiter/rules';

/**
 * Checks one value against a canonical rule type (`number`, `list<string>`, ...). `null` is always
 * accepted: it means "unknown", and rules read it as such. Returns what is wrong, or undefined.
 */
export function checkValue(type: RuleType, value: unknown, path: string, problems: FieldProblem[]): void {
  if (value === null || value === undefined) return;
  const wrong = (expected: string) => void problems.push({ path, message: `must be ${expected}, got ${describe(value)}` });
  if (type.startsWith('list<')) {
    if (!Array.isArray(value)) return wrong(`a list (${type})`);
    const inner = type.slice(5, -1);
    value.forEach((item, i) => checkValue(inner, item, `${path}[${i}]`, problems));
    return;
  }
  switch (type) {
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) wrong('a number');
      return;
    case 'string':
      if (typeof value !== 'string') wrong('a string');
      return;
    case 'boolean':
      if (typeof value !== 'boolean') wrong('true or false');
      return;
    case 'timestamp':
      if (!(typeof value === 'string' && parseTimestamp(value) !== undefined) && !(typeof value === 'number' && Number.isFinite(value))) wrong('an ISO-8601 timestamp such as 2024-01-31T12:00:00Z');
      return;
    case 'duration':
      if (!(typeof value === 'string' && parseDuration(value) !== undefined) && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) wrong('a duration such as 30d, 12h or 15m');
      return;
    default:
      return;
  }
}

/**
 * Checks a payload against an event type's declared fields: every declared field present with the
 * wrong type is a problem (`payload.order.amount: must be a number, got string`); undeclared
 * fields are allowed (kept in the event log, invisible to rules).
 */
export function checkPayload(schema: ReadonlyMap<string, RuleType | ReadonlyMap<string, unknown>>, payload: unknown, path: string, problems: FieldProblem[]): void {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    problems.push({ path, message: `must be an object, got ${describe(payload)}` });
    return;
  }
  for (const [field, type] of schema) {
    if (!Object.hasOwn(payload, field)) continue;
    const value = (payload as Record<string, unknown>)[field];
    if (typeof type === 'string') checkValue(type, value, `${path}.${field}`, problems);
    else if (value !== null && value !== undefined) checkPayload(type as ReadonlyMap<string, RuleType | ReadonlyMap<string, unknown>>, value, `${path}.${field}`, problems);
  }
}

/** A declared payload schema compiled into nested maps of canonical types. */
export type CompiledSchema = ReadonlyMap<string, RuleType | CompiledSchema>;

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return typeof value === 'object' ? 'an object' : typeof value === 'string' ? `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}` : `${typeof value} ${String(value)}`;
}

export type { PayloadSchema };
