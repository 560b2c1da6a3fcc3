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
      occurred_at: typeof body.time === 'string' ? new Date(body.time).toISOString() : now.toISOString(),
      payload: (body.data ?? {}) as Record<string, unknown>,
    };
  }
  return {
    id: typeof body.id === 'string' ? body.id : timeOrderedId(),
    type: String(body.type),
    user_id: String(body.user_id),
    source: typeof body.source === 'string' && body.source ? body.source : 'api',
    session_id: typeof body.session_id === 'string' ? body.session_id : sessionHeader,
    occurred_at: typeof body.occurred_at === 'string' ? new Date(body.occurred_at).toISOString() : now.toISOString(),
    payload: (body.payload ?? {}) as Record<string, unknown>,
  };
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
