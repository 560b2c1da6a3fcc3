import { timeOrderedId, type FieldProblem } from '@arbiter/platform';
import type { IncomingEvent } from './event.schema';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Turns a body that passed the route schema (either shape) into the event the pipeline runs,
 * giving it an id when it has none. `sessionHeader` (x-session-id) applies when the body names no
 * session of its own.
 */
export function normalizeEvent(body: Record<string, unknown>, sessionHeader?: string, now = new Date()): IncomingEvent {
  if (body.specversion !== undefined) {
    return {
      id: String(body.id),
      type: String(body.type),
      user_id: String(body.subject),
      source: String(body.source),
      session_id: typeof body.sessionid === 'string' ? body.sessionid : sessionHeader,
      occurred_at: typeof body.time === 'string' ? isoTime(body.time) : now.toISOString(),
      payload: (body.data ?? {}) as Record<string, unknown>,
    };
  }
  return {
    id: typeof body.id === 'string' ? body.id : timeOrderedId(),
    type: String(body.type),
    user_id: String(body.user_id),
    source: typeof body.source === 'string' && body.source ? body.source : 'api',
    session_id: typeof body.session_id === 'string' ? body.session_id : sessionHeader,
    occurred_at: typeof body.occurred_at === 'string' ? isoTime(body.occurred_at) : now.toISOString(),
    payload: (body.payload ?? {}) as Record<string, unknown>,
  };
}

/** A time as ISO 8601 in UTC; one that does not parse stays as sent, for {@link eventProblems} to report. */
function isoTime(value: string): string {
  const t = Date.parse(value);
  return Number.isNaN(t) ? value : new Date(t).toISOString();
}

/** The body's names of an event's fields: Arbiter's own shape, or a CloudEvent's. */
const NATIVE_NAMES = { user_id: 'user_id', occurred_at: 'occurred_at', payload: 'payload' } as const;
const CLOUD_NAMES = { user_id: 'subject', occurred_at: 'time', payload: 'data' } as const;

/** How `body` names an event's fields that a CloudEvent names otherwise (`subject`, `time`, `data`). */
export const namesOf = (body: Record<string, unknown>) => (body.specversion !== undefined ? CLOUD_NAMES : NATIVE_NAMES);

/** The path of an event's payload as `body` names it (`data` in a CloudEvent), after `at`. */
export function payloadPath(body: Record<string, unknown>, at = ''): string {
  return `${at}${namesOf(body).payload}`;
}

/** The limits {@link eventProblems} checks an event against, from the service's settings. */
export interface EventLimits {
  /** Deepest nesting of the payload (PAYLOAD_MAX_DEPTH). */
  maxDepth: number;
  /** How far ahead of this server's clock `occurred_at` may be (EVENT_MAX_FUTURE_MS); 0 for no limit. */
  maxFutureMs: number;
}

/**
 * What the route schema cannot say about an event ({@link normalizeEvent}'s, of `body`): a time
 * PostgreSQL can store (years 1 to 9999) and not further ahead of this server's clock than
 * `limits.maxFutureMs` (a future event would count in every window until then), and the
 * payload's shape ({@link payloadShapeProblems}). Paths name the body's fields (a CloudEvent's
 * `time`, `data`), after `at` ('' or `events[3].`). Text PostgreSQL cannot store (a NUL, a lone
 * surrogate) is refused with the body, by its parser.
 */
export function eventProblems(body: Record<string, unknown>, event: IncomingEvent, at: string, limits: EventLimits, now = Date.now()): FieldProblem[] {
  const names = namesOf(body);
  const problems: FieldProblem[] = [];
  const time = timeProblem(event.occurred_at, limits.maxFutureMs, now);
  if (time) problems.push({ path: `${at}${names.occurred_at}`, message: time });
  problems.push(...payloadShapeProblems(event.payload, limits.maxDepth, payloadPath(body, at)));
  return problems;
}

function timeProblem(iso: string, maxFutureMs: number, now: number): string | undefined {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'is not a date-time this server can read (ISO 8601; a leap second, :60, is not accepted)';
  const year = new Date(t).getUTCFullYear();
  if (year < 1 || year > 9999) return 'must fall in the years 1 to 9999 (UTC)';
  if (maxFutureMs > 0 && t - now > maxFutureMs) return `is ${Math.round((t - now) / 1000)} s ahead of this server's clock; at most ${maxFutureMs / 1000} s is accepted (EVENT_MAX_FUTURE_MS)`;
  return undefined;
}

/**
 * What a JSON Schema cannot say about a payload: how deep it nests (a bound against stack-hungry
 * documents) and which keys could reach an object's prototype. Returns every problem with its path.
 */
export function payloadShapeProblems(payload: unknown, maxDepth: number, path = 'payload'): FieldProblem[] {
  const problems: FieldProblem[] = [];
  // Iterative walk: a hostile document must not be able to overflow our stack either.
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: payload, path, depth: 1 }];
  while (stack.length) {
    const { value, path: at, depth } = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > maxDepth) {
      problems.push({ path: at, message: `nests deeper than ${maxDepth} levels` });
      continue;
    }
    if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push({ value: item, path: `${at}[${i}]`, depth: depth + 1 }));
      continue;
    }
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) problems.push({ path: `${at}.${key}`, message: 'this key is not allowed' });
      else stack.push({ value: (value as Record<string, unknown>)[key], path: `${at}.${key}`, depth: depth + 1 });
    }
  }
  return problems.sort((a, b) => a.path.localeCompare(b.path));
}
