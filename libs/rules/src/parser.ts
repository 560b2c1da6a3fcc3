import { SyntaxProblem, Token, tokenize } from './tokenizer';

export interface Pos {
  line: number;
  column: number;
}

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in' | 'contains' | 'starts_with' | 'ends_with' | 'matches';
export type ArithOp = '+' | '-' | '*' | '/' | '%';

/** Untyped syntax tree of one expression; the type checker turns it into IR. */
export type Ast = Pos &
  (
    | { t: 'num'; value: number }
    | { t: 'str'; value: string }
    | { t: 'bool'; value: boolean }
    | { t: 'null' }
    | { t: 'dur'; value: number; text: string }
    | { t: 'ts'; value: number; text: string }
    | { t: 'list'; items: Ast[] }
    | { t: 'path'; name: string }
    | { t: 'call'; name: string; args: { name?: string; value: Ast }[] }
    | { t: 'neg'; arg: Ast }
    | { t: 'not'; arg: Ast }
    | { t: 'exists'; arg: Ast }
    | { t: 'arith'; op: ArithOp; left: Ast; right: Ast }
    | { t: 'cmp'; op: CompareOp; left: Ast; right: Ast }
    | { t: 'logic'; op: 'and' | 'or'; args: Ast[] }
  );

export const COMPARE_OPS: readonly CompareOp[] = ['==', '!=', '<', '<=', '>', '>=', 'in', 'not in', 'contains', 'starts_with', 'ends_with', 'matches'];
const WORD_COMPARE = new Set(['contains', 'starts_with', 'ends_with', 'matches']);
/** Words that cannot start or continue a fact path, in either case where the language allows both. */
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'true', 'false', 'null', 'exists', 'contains', 'starts_with', 'ends_with', 'matches']);

export interface ParseOptions {
  maxDepth?: number;
  maxLength?: number;
}

export const DEFAULT_MAX_EXPRESSION_LENGTH = 4096;
export const DEFAULT_MAX_DEPTH = 64;

/**
 * Parses one infix expression (`payload.amount > 1000 AND payload.category == "food"`) into an
 * {@link Ast}. Throws {@link SyntaxProblem} with a 1-based line and column; nesting beyond
 * `maxDepth` is a syntax problem too, so hostile input cannot overflow the stack.
 */
export function parseExpression(src: string, opts: ParseOptions = {}): Ast {
  const maxLength = opts.maxLength ?? DEFAULT_MAX_EXPRESSION_LENGTH;
  if (src.length > maxLength) throw new SyntaxProblem(`expression is ${src.length} characters, the limit is ${maxLength}`, 1, 1);
  return new Parser(tokenize(src), opts.maxDepth ?? DEFAULT_MAX_DEPTH).parseAll();
}

class Parser {
  private i = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[], private readonly maxDepth: number) {}

  parseAll(): Ast {
    const e = this.expr();
    const t = this.peek();
    if (t.kind !== 'eof') {
      const hint = t.kind === 'op' && t.text === '=' ? 'use == to compare' : undefined;
      this.fail(t, `unexpected ${describe(t)}`, hint);
    }
    return e;
  }

  private peek(k = 0): Token {
    return this.tokens[Math.min(this.i + k, this.tokens.length - 1)];
  }
  private next(): Token {
    return this.tokens[this.i++];
  }
  private isOp(text: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'op' && t.text === text;
  }
  private isWord(word: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'ident' && (t.text === word || t.text === word.toUpperCase());
  }
  private expectOp(text: string, context: string): Token {
    const t = this.peek();
    if (t.kind !== 'op' || t.text !== text) this.fail(t, `expected "${text}" ${context}, found ${describe(t)}`);
    return this.next();
  }
  private fail(t: Token, message: string, hint?: string): never {
    throw new SyntaxProblem(message, t.line, t.column, hint);
  }
  private enter(t: Token): void {
    if (++this.depth > this.maxDepth) this.fail(t, `expression nests deeper than ${this.maxDepth} levels`);
  }

  private expr(): Ast {
    return this.or();
  }

  private or(): Ast {
    const first = this.and();
    if (!(this.isWord('or') || this.isOp('||'))) return first;
    const args = [first];
    while (this.isWord('or') || this.isOp('||')) {
      this.next();
      args.push(this.and());
    }
    return { t: 'logic', op: 'or', args, line: first.line, column: first.column };
  }

  private and(): Ast {
    const first = this.not();
    if (!(this.isWord('and') || this.isOp('&&'))) return first;
    const args = [first];
    while (this.isWord('and') || this.isOp('&&')) {
      this.next();
      args.push(this.not());
    }
    return { t: 'logic', op: 'and', args, line: first.line, column: first.column };
  }

  private not(): Ast {
    if (this.isWord('not') || this.isOp('!')) {
      const t = this.next();
      this.enter(t);
      const arg = this.not();
      this.depth--;
      return { t: 'not', arg, line: t.line, column: t.column };
    }
    return this.comparison();
  }

  private comparison(): Ast {
    const left = this.additive();
    const t = this.peek();
    if (this.isWord('exists')) {
      this.next();
      return { t: 'exists', arg: left, line: left.line, column: left.column };
    }
    let op: CompareOp | undefined;
    if (t.kind === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.text)) op = t.text as CompareOp;
    else if (this.isWord('in')) op = 'in';
    else if (this.isWord('not') && this.isWord('in', 1)) op = 'not in';
    else if (t.kind === 'ident' && WORD_COMPARE.has(t.text.toLowerCase())) op = t.text.toLowerCase() as CompareOp;
    else if (t.kind === 'op' && t.text === '=') this.fail(t, 'unexpected "="', 'use == to compare');
    if (!op) return left;
    this.next();
    if (op === 'not in') this.next();
    const right = this.additive();
    const after = this.peek();
    if (after.kind === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(after.text)) {
      this.fail(after, `comparisons do not chain: "${after.text}" after "${op}"`, 'combine two comparisons with and');
    }
    return { t: 'cmp', op, left, right, line: t.line, column: t.column };
  }

  private additive(): Ast {
    const depth = this.depth;
    let left = this.multiplicative();
    while (this.isOp('+') || this.isOp('-')) {
      const t = this.next();
      this.enter(t);
      const right = this.multiplicative();
      left = { t: 'arith', op: t.text as ArithOp, left, right, line: t.line, column: t.column };
    }
    this.depth = depth;
    return left;
  }

  private multiplicative(): Ast {
    const depth = this.depth;
    let left = this.unary();
    while (this.isOp('*') || this.isOp('/') || this.isOp('%')) {
      const t = this.next();
      this.enter(t);
      const right = this.unary();
      left = { t: 'arith', op: t.text as ArithOp, left, right, line: t.line, column: t.column };
    }
    this.depth = depth;
    return left;
  }

  private unary(): Ast {
    if (this.isOp('-')) {
      const t = this.next();
      this.enter(t);
      const arg = this.unary();
      this.depth--;
      // Folding keeps `-5` a literal so it can sit in lists and leaf values.
      if (arg.t === 'num') return { ...arg, value: -arg.value, line: t.line, column: t.column };
      return { t: 'neg', arg, line: t.line, column: t.column };
    }
    return this.primary();
  }

  private primary(): Ast {
    const t = this.peek();
    const pos = { line: t.line, column: t.column };
    switch (t.kind) {
      case 'num':
        this.next();
        return { t: 'num', value: t.value!, ...pos };
      case 'dur':
        this.next();
        return { t: 'dur', value: t.value!, text: t.text, ...pos };
      case 'ts':
        this.next();
        return { t: 'ts', value: t.value!, text: t.text, ...pos };
      case 'str':
        this.next();
        return { t: 'str', value: t.text, ...pos };
      case 'eof':
        return this.fail(t, 'unexpected end of expression');
      case 'op':
        if (t.text === '(') {
          this.next();
          this.enter(t);
          const e = this.expr();
          this.depth--;
          this.expectOp(')', `to close "(" opened at ${t.line}:${t.column}`);
          return e;
        }
        if (t.text === '[') return this.list();
        return this.fail(t, `unexpected ${describe(t)}`);
      case 'ident':
        return this.identifier();
    }
  }

  private list(): Ast {
    const open = this.next();
    this.enter(open);
    const items: Ast[] = [];
    if (!this.isOp(']')) {
      for (;;) {
        items.push(this.expr());
        if (this.isOp(',')) {
          this.next();
          if (this.isOp(']')) break;
          continue;
        }
        break;
      }
    }
    this.expectOp(']', `to close "[" opened at ${open.line}:${open.column}`);
    this.depth--;
    return { t: 'list', items, line: open.line, column: open.column };
  }

  private identifier(): Ast {
    const t = this.next();
    const pos = { line: t.line, column: t.column };
    const lower = t.text.toLowerCase();
    if ((lower === 'true' || lower === 'false') && (t.text === lower || t.text === t.text.toUpperCase())) {
      return { t: 'bool', value: lower === 'true', ...pos };
    }
    if (lower === 'null' && (t.text === lower || t.text === 'NULL')) return { t: 'null', ...pos };
    if (t.text === 'exists') {
      this.enter(t);
      const arg = this.isOp('(') ? this.primary() : this.additive();
      this.depth--;
      return { t: 'exists', arg, ...pos };
    }
    if (KEYWORDS.has(lower) && (t.text === lower || t.text === t.text.toUpperCase())) this.fail(t, `unexpected keyword "${t.text}"`);
    let name = t.text;
    while (this.isOp('.')) {
      this.next();
      const part = this.peek();
      if (part.kind !== 'ident') this.fail(part, `expected a field name after ".", found ${describe(part)}`);
      this.next();
      name += `.${part.text}`;
    }
    if (!this.isOp('(')) return { t: 'path', name, ...pos };
    const open = this.next();
    this.enter(open);
    const args: { name?: string; value: Ast }[] = [];
    if (!this.isOp(')')) {
      for (;;) {
        let argName: string | undefined;
        if (this.peek().kind === 'ident' && this.isOp(':', 1)) {
          argName = this.next().text;
          this.next();
        }
        args.push({ name: argName, value: this.expr() });
        if (!this.isOp(',')) break;
        this.next();
      }
    }
    this.expectOp(')', `to close the arguments of ${name}(`);
    this.depth--;
    return { t: 'call', name, args, ...pos };
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of expression';
    case 'str':
      return `string ${JSON.stringify(t.text)}`;
    case 'ident':
      return `"${t.text}"`;
    default:
      return `"${t.text}"`;
  }
}
