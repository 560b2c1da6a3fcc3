import { ArbiterError, ValidationError } from '../errors/arbiter.error';

const FORBIDDEN = 'contains a forbidden key (__proto__ or constructor.prototype)';
const UNSTORABLE = 'holds a NUL character (\\u0000) or a lone UTF-16 surrogate, which cannot be stored';

/** Text PostgreSQL can store as sent: no NUL character, no lone UTF-16 surrogate. */
export function storableText(s: string): boolean {
  return !s.includes('\u0000') && (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/**
 * Parses a JSON request body, refusing with a 400 that says so: keys that could reach an object's
 * prototype (`__proto__`, or `prototype` under `constructor`); text no column could store as sent
 * (a NUL character, a lone surrogate: `jsonb` refuses them, and a text column would store U+FFFD
 * in place of a surrogate), each listed with its path; and nesting deeper than `maxDepth` (code
 * that walks a document must not run out of stack). Bodies that cannot hold a forbidden key or
 * such text — no `proto`, no `prototype`, no `\u` escape (a raw NUL is not JSON, and a raw
 * surrogate is not UTF-8) — take the plain `JSON.parse` path; only the rest pay for the reviver.
 */
export function parseJsonBody(text: string, maxDepth = 64): unknown {
  if (text.trim() === '') throw new ArbiterError(400, 'INVALID_JSON', 'the body is empty but content-type is application/json');
  if (nestsDeeper(text, maxDepth)) throw new ValidationError([{ path: '(body)', message: `nests deeper than ${maxDepth} levels` }]);
  try {
    if (!text.includes('proto') && !text.includes('\\u')) return JSON.parse(text);
    let unstorable = false;
    const parsed: unknown = JSON.parse(text, function check(this: Record<string, unknown>, key, value) {
      if (key === '__proto__' || (key === 'constructor' && value !== null && typeof value === 'object' && Object.hasOwn(value, 'prototype'))) {
        throw new ValidationError([{ path: '(body)', message: FORBIDDEN }], `the body ${FORBIDDEN}`);
      }
      if (!unstorable && ((typeof value === 'string' && !storableText(value)) || !storableText(key))) unstorable = true;
      return value;
    });
    if (unstorable) throw new ValidationError(unstorablePaths(parsed));
    return parsed;
  } catch (err) {
    if (err instanceof ArbiterError) throw err;
    throw new ArbiterError(400, 'INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

/** The paths (`events[0].payload.note`, `attributes.k`), in document order, of every string and key of `doc` that {@link storableText} refuses. */
function unstorablePaths(doc: unknown): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const stack: { value: unknown; path: string; badKey?: boolean }[] = [{ value: doc, path: '' }];
  while (stack.length) {
    const { value, path, badKey } = stack.pop()!;
    if (badKey) {
      problems.push({ path, message: `this key ${UNSTORABLE}` });
      continue;
    }
    if (typeof value === 'string') {
      if (!storableText(value)) problems.push({ path: path || '(body)', message: UNSTORABLE });
      continue;
    }
    const children: { value: unknown; path: string; badKey?: boolean }[] = [];
    if (Array.isArray(value)) {
      value.forEach((item, i) => children.push({ value: item, path: `${path}[${i}]` }));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) children.push({ value: item, path: path ? `${path}.${key}` : key, badKey: !storableText(key) });
    }
    // Last child first onto the stack, so that they come off it in document order.
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return problems;
}

/**
 * Whether the JSON `text` opens more than `max` arrays and objects inside one another (brackets
 * inside strings do not count). One pass; a string is skipped with `indexOf`, about 0.35 µs for
 * an 800-byte event here.
 */
export function nestsDeeper(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // To the closing quote: the next one not escaped by an odd run of backslashes.
      let end = text.indexOf('"', i + 1);
      for (;;) {
        if (end < 0) return false; // not JSON: JSON.parse says so
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 92) backslashes++;
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      i = end;
    } else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) {
      depth--;
    }
  }
  return false;
}
