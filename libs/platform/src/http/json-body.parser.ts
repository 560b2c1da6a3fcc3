import { ArbiterError, ValidationError } from '../errors/arbiter.error';

const FORBIDDEN = 'contains a forbidden key (__proto__ or constructor.prototype)';

/**
 * Parses a JSON request body, refusing keys that could reach an object's prototype
 * (`__proto__`, or `prototype` under `constructor`) with a 400 that says so. Bodies that cannot
 * hold such a key — no `proto`, no `prototype`, no `\u` escape that could spell one — take the
 * plain `JSON.parse` path; only the rest pay for the checking reviver.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new ArbiterError(400, 'INVALID_JSON', 'the body is empty but content-type is application/json');
  try {
    if (!text.includes('proto') && !text.includes('\\u')) return JSON.parse(text);
    return JSON.parse(text, function check(this: Record<string, unknown>, key, value) {
      if (key === '__proto__' || (key === 'constructor' && value !== null && typeof value === 'object' && Object.hasOwn(value, 'prototype'))) {
        throw new ValidationError([{ path: '(body)', message: FORBIDDEN }], `the body ${FORBIDDEN}`);
      }
      return value;
    });
  } catch (err) {
    if (err instanceof ArbiterError) throw err;
    throw new ArbiterError(400, 'INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`);
  }
}
