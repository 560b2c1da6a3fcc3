import { parseDuration, parseTimestamp } from './types';

export type TokenKind = 'num' | 'str' | 'dur' | 'ts' | 'ident' | 'op' | 'eof';

export interface Token {
  kind: TokenKind;
  /** Source text (for `str`, the decoded string value). */
  text: string;
  /** Numeric value for `num`, milliseconds for `dur` and `ts`. */
  value?: number;
  offset: number;
  line: number;
  column: number;
}

/** A syntax problem with its 1-based position in the expression text. */
export class SyntaxProblem extends Error {
  constructor(message: string, readonly line: number, readonly column: number, readonly hint?: string) {
    super(message);
  }
}

const OPERATORS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '+', '-', '*', '/', '%', '(', ')', '[', ']', ',', ':', '.', '!', '='];
const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

/**
 * Splits an expression into tokens, tracking line and column for error messages. Durations
 * (`30d`) and unquoted ISO timestamps (`2024-01-01T00:00:00Z`) are recognised here, before the
 * parser could mistake them for arithmetic.
 */
export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const at = (offset: number) => ({ offset, line, column: offset - lineStart + 1 });

  while (i < src.length) {
    const c = src[i];
    if (c === '\n') {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    const start = at(i);
    if (c >= '0' && c <= '9') {
      const ts = /\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?/y;
      ts.lastIndex = i;
      const tm = ts.exec(src);
      if (tm) {
        const value = parseTimestamp(tm[0]);
        if (value === undefined) throw new SyntaxProblem(`invalid timestamp "${tm[0]}"`, start.line, start.column);
        tokens.push({ kind: 'ts', text: tm[0], value, ...start });
        i += tm[0].length;
        continue;
      }
      const dur = /(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+(?![A-Za-z0-9_])/y;
      dur.lastIndex = i;
      const dm = dur.exec(src);
      if (dm) {
        tokens.push({ kind: 'dur', text: dm[0], value: parseDuration(dm[0]), ...start });
        i += dm[0].length;
        continue;
      }
      const num = /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
      num.lastIndex = i;
      const nm = num.exec(src)!;
      const after = src[i + nm[0].length];
      if (after !== undefined && IDENT_START.test(after)) {
        throw new SyntaxProblem(`invalid number "${nm[0]}${after}"`, start.line, start.column, 'durations use ms, s, m, h, d or w, e.g. 30d');
      }
      tokens.push({ kind: 'num', text: nm[0], value: Number(nm[0]), ...start });
      i += nm[0].length;
      continue;
    }
    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < src.length && IDENT_PART.test(src[j])) j++;
      tokens.push({ kind: 'ident', text: src.slice(i, j), ...start });
      i = j;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let out = '';
      for (;;) {
        if (j >= src.length || src[j] === '\n') throw new SyntaxProblem('unterminated string', start.line, start.column);
        const ch = src[j];
        if (ch === c) break;
        if (ch === '\\') {
          const e = src[j + 1];
          const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", '/': '/' };
          if (e !== undefined && e in simple) {
            out += simple[e];
            j += 2;
          } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(src.slice(j + 2, j + 6))) {
            out += String.fromCharCode(parseInt(src.slice(j + 2, j + 6), 16));
            j += 6;
          } else {
            const p = at(j);
            throw new SyntaxProblem(`invalid escape "\\${e ?? ''}" in string`, p.line, p.column, 'in regexes write a backslash twice, e.g. "\\\\d+"');
          }
          continue;
        }
        out += ch;
        j++;
      }
      tokens.push({ kind: 'str', text: out, ...start });
      i = j + 1;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw new SyntaxProblem(`unexpected character "${c}"`, start.line, start.column);
    tokens.push({ kind: 'op', text: op, ...start });
    i += op.length;
  }
  tokens.push({ kind: 'eof', text: '', ...at(i) });
  return tokens;
}
