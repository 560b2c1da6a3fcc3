import { randomInt } from 'node:crypto';
import type { FieldProblem } from '@arbiter/platform';

/** Named charsets; any other string is taken as the literal list of characters to draw from. */
export const CHARSETS: Readonly<Record<string, string>> = {
  // No 0/O, 1/I/L: codes are read aloud and typed from paper.
  unambiguous: 'ABCDEFGHJKMNPQRSTUVWXYZ23456789',
  alphanumeric: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  alpha: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  numeric: '0123456789',
};

const DIGITS = CHARSETS.numeric;
const LETTERS = CHARSETS.alpha;
export const CODE_MAX_LENGTH = 64;
const CODE_CHARS = /^[A-Z0-9_-]+$/;

/** How to build codes: `prefix` + either `length` charset characters or the `pattern`. */
export interface CodeShape {
  prefix: string;
  length: number;
  charset: string;
  /** `#` a digit, `?` a letter, `*` a charset character; anything else is copied as is. */
  pattern?: string;
}

/** Codes are case-insensitive: stored, generated and looked up in upper case. */
export function normalizeCode(code: string): string {
  return code.trim().toUpperCase();
}

/** Whether a hand-written code is acceptable (letters, digits, `-` and `_`, at most 64). */
export function codeProblem(code: string): string | undefined {
  if (code.length === 0) return 'must not be empty';
  if (code.length > CODE_MAX_LENGTH) return `must be at most ${CODE_MAX_LENGTH} characters`;
  if (!CODE_CHARS.test(code)) return 'may hold only letters, digits, - and _';
  return undefined;
}

/** Resolves the charset name or literal (upper-cased, duplicates removed). */
export function resolveCharset(charset: string): string {
  const named = CHARSETS[charset.toLowerCase()];
  return named ?? [...new Set(charset.toUpperCase())].join('');
}

/** How many distinct codes `shape` can produce (Infinity past 2^53). */
export function codeSpace(shape: CodeShape): number {
  const slots = shape.pattern !== undefined ? [...shape.pattern].map((c) => (c === '#' ? DIGITS.length : c === '?' ? LETTERS.length : c === '*' ? shape.charset.length : 1)) : Array(shape.length).fill(shape.charset.length);
  let n = 1;
  for (const s of slots) {
    n *= s;
    if (n > Number.MAX_SAFE_INTEGER) return Infinity;
  }
  return n;
}

/** Problems with a generation request, as field problems under `path`. */
export function shapeProblems(shape: CodeShape, count: number, path = ''): FieldProblem[] {
  const p = (field: string, message: string) => ({ path: path ? `${path}.${field}` : field, message });
  const problems: FieldProblem[] = [];
  if (shape.charset.length < 2) problems.push(p('charset', 'needs at least 2 distinct characters'));
  else if (!CODE_CHARS.test(shape.charset)) problems.push(p('charset', `may hold only letters, digits, - and _ (or be one of ${Object.keys(CHARSETS).join(', ')})`));
  if (shape.prefix !== '' && !CODE_CHARS.test(shape.prefix.toUpperCase())) problems.push(p('prefix', 'may hold only letters, digits, - and _'));
  if (shape.pattern !== undefined) {
    if (!/[#?*]/.test(shape.pattern)) problems.push(p('pattern', 'needs at least one placeholder: # (digit), ? (letter) or * (charset character)'));
    else if (!CODE_CHARS.test(shape.pattern.replace(/[#?*]/g, 'A').toUpperCase())) problems.push(p('pattern', 'literal characters may be only letters, digits, - and _'));
  } else if (!Number.isInteger(shape.length) || shape.length < 4 || shape.length > 32) {
    problems.push(p('length', 'must be a whole number from 4 to 32'));
  }
  const total = shape.prefix.length + (shape.pattern !== undefined ? shape.pattern.length : shape.length);
  if (total > CODE_MAX_LENGTH) problems.push(p(shape.pattern !== undefined ? 'pattern' : 'length', `codes would be ${total} characters long; at most ${CODE_MAX_LENGTH}`));
  if (problems.length === 0) {
    // Stay far from the space's size: past half of it, collisions make generation crawl, and a
    // small space makes codes guessable.
    const space = codeSpace(shape);
    if (count * 2 > space) problems.push(p(shape.pattern !== undefined ? 'pattern' : 'length', `this shape allows only ${space} distinct codes; ${count} would use more than half of them (make codes longer)`));
  }
  return problems;
}

/** One cryptographically random code of `shape` (unbiased: `randomInt` per character). */
export function generateCode(shape: CodeShape): string {
  const pick = (chars: string) => chars[randomInt(chars.length)];
  let body = '';
  if (shape.pattern !== undefined) {
    for (const c of shape.pattern) body += c === '#' ? pick(DIGITS) : c === '?' ? pick(LETTERS) : c === '*' ? pick(shape.charset) : c.toUpperCase();
  } else {
    for (let i = 0; i < shape.length; i++) body += pick(shape.charset);
  }
  return normalizeCode(shape.prefix) + body;
}

/** `count` distinct codes, none of them in `taken`. */
export function generateDistinct(shape: CodeShape, count: number, taken: ReadonlySet<string> = new Set()): string[] {
  const out = new Set<string>();
  while (out.size < count) {
    const code = generateCode(shape);
    if (!taken.has(code)) out.add(code);
  }
  return [...out];
}
