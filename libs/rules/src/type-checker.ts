import { EVENT_FIELDS, FORBIDDEN_SEGMENTS, IndexedCatalogue } from './catalogue';
import { CompileError, CompileErrorCode } from './errors/compile.error';
import { BuiltinFn, children, IrNode, IrOf, Origin } from './ir';
import { ArithOp, Ast, COMPARE_OPS, CompareOp, DEFAULT_MAX_DEPTH, DEFAULT_MAX_EXPRESSION_LENGTH, parseExpression } from './parser';
import { vetRegex, DEFAULT_MAX_REGEX_LENGTH } from './regex-guard';
import { didYouMean } from './suggest';
import { SyntaxProblem } from './tokenizer';
import { elementType, formatValue, isList, listOf, parseDuration, parseTimestamp, RuleType } from './types';

/** Limits that keep hostile rule documents from exhausting the compiler or the evaluator. */
export interface CompileLimits {
  /** Maximum nesting of condition trees (including named-condition expansion) and of expressions. Default 64. */
  maxDepth?: number;
  /** Maximum characters in one expression string. Default 4096. */
  maxExpressionLength?: number;
  /** Maximum characters in one regex. Default 256. */
  maxRegexLength?: number;
  /** Maximum rules in one rule set. Default 100 000. */
  maxRules?: number;
}

/** Everything the checker needs while typing one rule (or one standalone condition). */
export interface Scope {
  ruleId: string;
  cat: IndexedCatalogue;
  /** Payload paths this rule may read (from its `on` types); a string starting with `!` is a conflict message. */
  payload: Map<string, RuleType>;
  payloadWhere: string;
  conditions: ReadonlyMap<string, unknown>;
  expanding: string[];
  errors: CompileError[];
  maxDepth: number;
  maxExpressionLength: number;
  maxRegexLength: number;
  /** Cost-order children of and/or (turned off only to prove reordering changes nothing). */
  reorder: boolean;
}

export function makeScope(ruleId: string, cat: IndexedCatalogue, on: readonly string[], conditions: ReadonlyMap<string, unknown>, errors: CompileError[], limits: CompileLimits & { reorder?: boolean } = {}): Scope {
  const { payload, where } = payloadScope(cat, on);
  return {
    ruleId,
    cat,
    payload,
    payloadWhere: where,
    conditions,
    expanding: [],
    errors,
    maxDepth: limits.maxDepth ?? DEFAULT_MAX_DEPTH,
    maxExpressionLength: limits.maxExpressionLength ?? DEFAULT_MAX_EXPRESSION_LENGTH,
    maxRegexLength: limits.maxRegexLength ?? DEFAULT_MAX_REGEX_LENGTH,
    reorder: limits.reorder ?? true,
  };
}

/**
 * Payload fields a rule may read. For listed types: every field declared by at least one of them,
 * provided all that declare it agree on its type. For `*`: the same over every declared event type.
 */
export function payloadScope(cat: IndexedCatalogue, on: readonly string[]): { payload: Map<string, RuleType>; where: string } {
  const wildcard = on.includes('*');
  const types = wildcard ? [...cat.events.keys()] : on.filter((t) => cat.events.has(t));
  const payload = new Map<string, RuleType>();
  const seen = new Map<string, string[]>();
  for (const type of types) {
    for (const [path, t] of cat.events.get(type)!) {
      const prev = payload.get(path);
      (seen.get(path) ?? seen.set(path, []).get(path)!).push(`${type}: ${t}`);
      if (prev === undefined) payload.set(path, t);
      else if (prev !== t) payload.set(path, '!');
    }
  }
  for (const [path, t] of payload) if (t === '!') payload.set(path, `!payload.${path} has different types across event types (${seen.get(path)!.join(', ')})`);
  const where = wildcard ? 'any declared event type' : types.length === 1 ? `event type "${types[0]}"` : `event types ${types.map((t) => `"${t}"`).join(', ')}`;
  return { payload, where };
}

function err(scope: Scope, code: CompileErrorCode, path: string, message: string, pos?: { line: number; column: number }, hint?: string): undefined {
  scope.errors.push(new CompileError({ code, ruleId: scope.ruleId, path, message, line: pos?.line, column: pos?.column, hint }));
  return undefined;
}

const LEAF_COST = { lit: 0, payload: 1, event: 1, now: 1, user: 2 } as const;
const FACT_BASE_COST = 100;

type NodeFields = { [K in IrNode['k']]: Omit<IrOf<K>, 'type' | 'origin' | 'cost' | 'async'> }[IrNode['k']];

function node(fields: NodeFields, type: RuleType, origin: Origin, own = 0, isAsync = false): IrNode {
  const n = { ...fields, type, origin, cost: own, async: isAsync } as IrNode;
  for (const c of children(n)) {
    n.cost += c.cost;
    n.async ||= c.async;
  }
  return n;
}

/** Wraps a boolean value (a fact, a literal) so it can stand as a condition: only `true` holds. */
export function asCondition(n: IrNode, scope: Scope, path: string, pos?: { line: number; column: number }): IrNode | undefined {
  if (n.type !== 'boolean') return err(scope, 'TYPE_MISMATCH', path, `a condition must be boolean, this is ${n.type}`, pos);
  if (n.k === 'cmp' || n.k === 'exists' || n.k === 'not' || n.k === 'and' || n.k === 'or' || n.k === 'truthy') return n;
  return node({ k: 'truthy', arg: n }, 'boolean', n.origin);
}

function logic(op: 'and' | 'or', args: IrNode[], origin: Origin, scope: Scope): IrNode {
  // Flatten nested same-op groups and order by cost; stable sort keeps author order among equals.
  const flat = args.flatMap((a) => (a.k === op ? a.args : [a]));
  const ordered = scope.reorder ? flat.map((a, i) => ({ a, i })).sort((x, y) => x.a.cost - y.a.cost || x.i - y.i).map((x) => x.a) : flat;
  return node({ k: op, args: ordered }, 'boolean', origin);
}

// ---------------------------------------------------------------------------------------------
// Condition trees

/**
 * Type-checks a `when` tree (`all`/`any`/`not`/`ref`, leaves `{fact, op, value}` and `{expr}`,
 * or a bare expression string) into a boolean IR node; errors go to `scope.errors`.
 */
export function checkCondition(tree: unknown, path: string, scope: Scope, depth = 0): IrNode | undefined {
  if (depth > scope.maxDepth) return err(scope, 'TOO_DEEP', path, `condition nests deeper than ${scope.maxDepth} levels`);
  const origin = { path };
  if (typeof tree === 'string') return checkConditionExpr(tree, path, scope, depth);
  if (typeof tree === 'boolean') return node({ k: 'lit', value: tree }, 'boolean', origin);
  if (typeof tree !== 'object' || tree === null || Array.isArray(tree)) {
    return err(scope, 'INVALID_RULE', path, `expected a condition ({all}, {any}, {not}, {fact, op, value}, {expr} or {ref}), found ${Array.isArray(tree) ? 'a list' : formatValue(tree)}`, undefined, Array.isArray(tree) ? 'wrap the list in {all: [...]} or {any: [...]}' : undefined);
  }
  const t = tree as Record<string, unknown>;
  const keys = Object.keys(t);
  const only = (...allowed: string[]) => {
    const extra = keys.filter((k) => !allowed.includes(k));
    if (extra.length) err(scope, 'INVALID_RULE', path, `unexpected key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')} in condition`, undefined, didYouMean(extra[0], allowed));
  };
  if ('all' in t || 'any' in t) {
    const op = 'all' in t ? 'all' : 'any';
    only(op);
    const list = t[op];
    if (!Array.isArray(list)) return err(scope, 'INVALID_RULE', `${path}.${op}`, `"${op}" must be a list of conditions`);
    const args: IrNode[] = [];
    let ok = true;
    list.forEach((child, i) => {
      const c = checkCondition(child, `${path}.${op}[${i}]`, scope, depth + 1);
      if (c) args.push(c);
      else ok = false;
    });
    return ok ? logic(op === 'all' ? 'and' : 'or', args, origin, scope) : undefined;
  }
  if ('not' in t) {
    only('not');
    const c = checkCondition(t.not, `${path}.not`, scope, depth + 1);
    return c && node({ k: 'not', arg: c }, 'boolean', origin);
  }
  if ('ref' in t) {
    only('ref');
    if (typeof t.ref !== 'string') return err(scope, 'INVALID_RULE', `${path}.ref`, '"ref" must name a condition');
    return expandNamed(t.ref, path, scope, depth);
  }
  if ('expr' in t) {
    only('expr');
    if (typeof t.expr !== 'string') return err(scope, 'INVALID_RULE', `${path}.expr`, '"expr" must be an expression string');
    return checkConditionExpr(t.expr, path, scope, depth);
  }
  if ('fact' in t) {
    only('fact', 'op', 'operator', 'value', 'params');
    return checkLeaf(t, path, scope, depth);
  }
  return err(scope, 'INVALID_RULE', path, `expected a condition ({all}, {any}, {not}, {fact, op, value}, {expr} or {ref}), found keys ${keys.map((k) => `"${k}"`).join(', ') || 'none'}`, undefined, keys[0] ? didYouMean(keys[0], ['all', 'any', 'not', 'fact', 'expr', 'ref']) : undefined);
}

function expandNamed(name: string, path: string, scope: Scope, depth: number, pos?: { line: number; column: number }): IrNode | undefined {
  const tree = scope.conditions.get(name);
  if (tree === undefined) return err(scope, 'UNKNOWN_CONDITION', path, `unknown condition "${name}"`, pos, didYouMean(name, scope.conditions.keys()));
  if (scope.expanding.includes(name)) return err(scope, 'CONDITION_CYCLE', path, `condition "${name}" refers to itself (${[...scope.expanding, name].join(' -> ')})`, pos);
  scope.expanding.push(name);
  try {
    return checkCondition(tree, `conditions.${name}`, scope, depth + 1);
  } finally {
    scope.expanding.pop();
  }
}

function checkConditionExpr(src: string, path: string, scope: Scope, depth: number): IrNode | undefined {
  const ast = parse(src, path, scope);
  if (!ast) return undefined;
  const n = fromAst(ast, { scope, path, depth });
  return n && asCondition(n, scope, path, ast);
}

function parse(src: string, path: string, scope: Scope): Ast | undefined {
  try {
    return parseExpression(src, { maxDepth: scope.maxDepth, maxLength: scope.maxExpressionLength });
  } catch (e) {
    if (e instanceof SyntaxProblem) return err(scope, e.message.includes('deeper') ? 'TOO_DEEP' : e.message.includes('characters, the limit') ? 'TOO_LARGE' : 'SYNTAX', path, e.message, e, e.hint);
    throw e;
  }
}

/** Type-checks an expression used as a value (action params, score, formulas). */
export function checkValueExpr(src: string, path: string, scope: Scope, expected?: RuleType): IrNode | undefined {
  const ast = parse(src, path, scope);
  if (!ast) return undefined;
  const n = fromAst(ast, { scope, path, depth: 0 }, expected);
  if (!n) return undefined;
  const coerced = expected ? coerceLiteral(n, expected) : n;
  if (expected && expected !== 'any' && !assignable(coerced.type, expected)) {
    return err(scope, 'TYPE_MISMATCH', path, `expected ${expected}, the formula "${src}" is ${coerced.type}`, ast);
  }
  return coerced;
}

const OP_ALIASES: Record<string, CompareOp | 'exists' | 'not_exists'> = {
  '=': '==', eq: '==', equal: '==', ne: '!=', notequal: '!=', lt: '<', lessthan: '<', lte: '<=', lessthaninclusive: '<=', gt: '>', greaterthan: '>', gte: '>=', greaterthaninclusive: '>=',
  not_in: 'not in', notin: 'not in', 'not in': 'not in', exists: 'exists', not_exists: 'not_exists', startswith: 'starts_with', endswith: 'ends_with',
};

function checkLeaf(t: Record<string, unknown>, path: string, scope: Scope, depth: number): IrNode | undefined {
  const origin = { path };
  const rawOp = t.op ?? t.operator;
  if (typeof rawOp !== 'string') return err(scope, 'INVALID_RULE', `${path}.op`, 'a leaf needs "op"', undefined, `one of ${[...COMPARE_OPS, 'exists'].join(', ')}`);
  const lower = rawOp.trim().toLowerCase().replace(/\s+/g, ' ');
  const op = (COMPARE_OPS as readonly string[]).includes(lower) ? (lower as CompareOp) : OP_ALIASES[lower];
  if (!op) return err(scope, 'BAD_OPERATOR', `${path}.op`, `unknown operator "${rawOp}"`, undefined, didYouMean(rawOp, [...COMPARE_OPS, 'exists']) ?? `use one of ${[...COMPARE_OPS, 'exists'].join(', ')}`);
  if (typeof t.fact !== 'string') return err(scope, 'INVALID_RULE', `${path}.fact`, '"fact" must be a fact name such as "payload.amount"');
  let ast = parse(t.fact, `${path}.fact`, scope);
  if (!ast) return undefined;
  if (t.params !== undefined) {
    if (ast.t !== 'path' || typeof t.params !== 'object' || t.params === null || Array.isArray(t.params)) {
      return err(scope, 'INVALID_RULE', `${path}.params`, '"params" needs a plain fact name and an object of arguments');
    }
    const fact = scope.cat.facts.get(ast.name);
    const args: { name?: string; value: Ast }[] = [];
    for (const [name, value] of Object.entries(t.params)) {
      const lit = jsonToAst(value, fact?.params.find((p) => p.name === name)?.type, { line: ast.line, column: ast.column });
      if (!lit) return err(scope, 'TYPE_MISMATCH', `${path}.params.${name}`, `argument ${formatValue(value)} is not a literal`);
      args.push({ name, value: lit });
    }
    ast = { t: 'call', name: ast.name, args, line: ast.line, column: ast.column };
  }
  const ctx = { scope, path: `${path}.fact`, depth };
  const left = fromAst(ast, ctx);
  if (!left) return undefined;
  if (op === 'exists' || op === 'not_exists') {
    if ('value' in t && t.value !== true) return err(scope, 'INVALID_RULE', `${path}.value`, `"${op}" takes no value`);
    const e = node({ k: 'exists', arg: left }, 'boolean', origin);
    return op === 'exists' ? e : node({ k: 'not', arg: e }, 'boolean', origin);
  }
  if (!('value' in t)) return err(scope, 'INVALID_RULE', `${path}.value`, `operator "${op}" needs a "value"`);
  let right: IrNode | undefined;
  const v = t.value;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const other = v as Record<string, unknown>;
    if (typeof other.fact !== 'string' || Object.keys(other).length !== 1) return err(scope, 'INVALID_RULE', `${path}.value`, 'an object value must be {fact: "<fact name>"} to compare two facts');
    const rast = parse(other.fact, `${path}.value.fact`, scope);
    right = rast && fromAst(rast, { scope, path: `${path}.value.fact`, depth });
  } else {
    const expected = op === 'in' || op === 'not in' ? listOf(left.type) : op === 'contains' && isList(left.type) ? elementType(left.type) : left.type;
    right = jsonLiteral(v, expected, `${path}.value`, scope);
  }
  if (!right) return undefined;
  return makeCmp(op, left, right, scope, origin, undefined, `${path}.value`);
}

/** Converts a JSON value from a tree leaf into a literal node; strings become timestamps/durations only where that type is expected. */
export function jsonLiteral(v: unknown, expected: RuleType | undefined, path: string, scope: Scope): IrNode | undefined {
  const origin = { path };
  if (v === null) return node({ k: 'lit', value: null }, 'null', origin);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return err(scope, 'TYPE_MISMATCH', path, `${v} is not a finite number`);
    return node({ k: 'lit', value: v }, 'number', origin);
  }
  if (typeof v === 'boolean') return node({ k: 'lit', value: v }, 'boolean', origin);
  if (typeof v === 'string') {
    if (expected === 'timestamp') {
      const ms = parseTimestamp(v);
      if (ms !== undefined) return node({ k: 'lit', value: ms }, 'timestamp', origin);
    }
    if (expected === 'duration') {
      const ms = parseDuration(v);
      if (ms !== undefined) return node({ k: 'lit', value: ms }, 'duration', origin);
    }
    return node({ k: 'lit', value: v }, 'string', origin);
  }
  if (Array.isArray(v)) {
    const inner = expected && isList(expected) ? elementType(expected) : undefined;
    const items: IrNode[] = [];
    for (let i = 0; i < v.length; i++) {
      const item = jsonLiteral(v[i], inner, `${path}[${i}]`, scope);
      if (!item) return undefined;
      items.push(item);
    }
    return literalList(items, origin, scope, path);
  }
  return err(scope, 'TYPE_MISMATCH', path, `unsupported value ${formatValue(v)}`);
}

function jsonToAst(v: unknown, expected: RuleType | undefined, pos: { line: number; column: number }): Ast | undefined {
  if (typeof v === 'number') return { t: 'num', value: v, ...pos };
  if (typeof v === 'boolean') return { t: 'bool', value: v, ...pos };
  if (v === null) return { t: 'null', ...pos };
  if (typeof v === 'string') {
    if (expected === 'duration' && parseDuration(v) !== undefined) return { t: 'dur', value: parseDuration(v)!, text: v, ...pos };
    if (expected === 'timestamp' && parseTimestamp(v) !== undefined) return { t: 'ts', value: parseTimestamp(v)!, text: v, ...pos };
    return { t: 'str', value: v, ...pos };
  }
  if (Array.isArray(v)) {
    const items = v.map((x) => jsonToAst(x, expected && isList(expected) ? elementType(expected) : undefined, pos));
    return items.every(Boolean) ? { t: 'list', items: items as Ast[], ...pos } : undefined;
  }
  return undefined;
}

function literalList(items: IrNode[], origin: Origin, scope: Scope, path: string, pos?: { line: number; column: number }): IrNode | undefined {
  if (items.length === 0) return node({ k: 'lit', value: [] }, 'list<any>', origin);
  const t = items[0].type;
  if (isList(t) || t === 'null') return err(scope, 'TYPE_MISMATCH', path, `lists may hold numbers, strings, booleans, timestamps or durations, not ${t}`, pos);
  const bad = items.find((i) => i.type !== t);
  if (bad) return err(scope, 'TYPE_MISMATCH', path, `a list mixes ${t} and ${bad.type}`, pos, 'numbers and strings are never coerced into each other');
  if (items.every((i) => i.k === 'lit')) return node({ k: 'lit', value: Object.freeze(items.map((i) => (i as IrOf<'lit'>).value)) }, listOf(t), origin);
  return node({ k: 'list', items }, listOf(t), origin);
}

// ---------------------------------------------------------------------------------------------
// Expressions

interface ExprCtx {
  scope: Scope;
  path: string;
  depth: number;
}

function fromAst(a: Ast, ctx: ExprCtx, expected?: RuleType): IrNode | undefined {
  const { scope, path } = ctx;
  const origin: Origin = { path, line: a.line, column: a.column };
  switch (a.t) {
    case 'num':
      if (!Number.isFinite(a.value)) return err(scope, 'SYNTAX', path, 'number is too large', a);
      return node({ k: 'lit', value: a.value }, 'number', origin);
    case 'str':
      return node({ k: 'lit', value: a.value }, 'string', origin);
    case 'bool':
      return node({ k: 'lit', value: a.value }, 'boolean', origin);
    case 'null':
      return node({ k: 'lit', value: null }, 'null', origin);
    case 'dur':
      return node({ k: 'lit', value: a.value }, 'duration', origin);
    case 'ts':
      return node({ k: 'lit', value: a.value }, 'timestamp', origin);
    case 'list': {
      const inner = expected && isList(expected) ? elementType(expected) : undefined;
      const items: IrNode[] = [];
      for (const i of a.items) {
        const n = fromAst(i, ctx, inner);
        if (!n) return undefined;
        items.push(inner ? coerceLiteral(n, inner) : n);
      }
      return literalList(items, origin, scope, path, a);
    }
    case 'path':
      return resolvePath(a.name, a, ctx);
    case 'call':
      return resolveCall(a, ctx);
    case 'neg': {
      const arg = fromAst(a.arg, ctx);
      if (!arg) return undefined;
      if (arg.type !== 'number' && arg.type !== 'duration') return err(scope, 'TYPE_MISMATCH', path, `unary minus needs a number or duration, found ${arg.type}`, a);
      return node({ k: 'neg', arg }, arg.type, origin);
    }
    case 'not': {
      const arg = fromAst(a.arg, ctx);
      const c = arg && asCondition(arg, scope, path, a.arg);
      return c && node({ k: 'not', arg: c }, 'boolean', origin);
    }
    case 'exists': {
      const arg = fromAst(a.arg, ctx);
      return arg && node({ k: 'exists', arg }, 'boolean', origin);
    }
    case 'logic': {
      const args: IrNode[] = [];
      let ok = true;
      for (const x of a.args) {
        const n = fromAst(x, ctx);
        const c = n && asCondition(n, scope, path, x);
        if (c) args.push(c);
        else ok = false;
      }
      return ok ? logic(a.op, args, origin, scope) : undefined;
    }
    case 'arith': {
      const left = fromAst(a.left, ctx);
      const right = fromAst(a.right, ctx);
      if (!left || !right) return undefined;
      const type = arithType(a.op, left.type, right.type);
      if (!type) return err(scope, 'TYPE_MISMATCH', path, `"${a.op}" cannot combine ${left.type} and ${right.type}`, a, left.type === 'string' || right.type === 'string' ? 'arithmetic works on numbers, durations and timestamps only' : undefined);
      return node({ k: 'arith', op: a.op, left, right }, type, origin);
    }
    case 'cmp': {
      const left = fromAst(a.left, ctx);
      const right = left && fromAst(a.right, ctx, a.op === 'in' || a.op === 'not in' ? listOf(left.type) : undefined);
      if (!left || !right) return undefined;
      return makeCmp(a.op, left, right, scope, origin, a, path);
    }
  }
}

function arithType(op: ArithOp, l: RuleType, r: RuleType): RuleType | undefined {
  if (l === 'number' && r === 'number') return 'number';
  const key = `${l}${op}${r}`;
  const table: Record<string, RuleType> = {
    'timestamp+duration': 'timestamp',
    'duration+timestamp': 'timestamp',
    'duration+duration': 'duration',
    'timestamp-duration': 'timestamp',
    'timestamp-timestamp': 'duration',
    'duration-duration': 'duration',
    'duration*number': 'duration',
    'number*duration': 'duration',
    'duration/number': 'duration',
    'duration/duration': 'number',
  };
  return table[key];
}

export function assignable(from: RuleType, to: RuleType): boolean {
  return from === to || to === 'any' || (from === 'list<any>' && isList(to));
}

/** A string literal standing where a timestamp or duration is expected is parsed at compile time. */
function coerceLiteral(n: IrNode, target: RuleType): IrNode {
  if (n.k !== 'lit' || n.type !== 'string') return n;
  const ms = target === 'timestamp' ? parseTimestamp(n.value as string) : target === 'duration' ? parseDuration(n.value as string) : undefined;
  return ms === undefined ? n : { ...n, value: ms, type: target };
}

const ORDERED = new Set(['number', 'string', 'timestamp', 'duration']);
const SCALAR = new Set(['number', 'string', 'boolean', 'timestamp', 'duration']);

function mismatchHint(a: IrNode, b: IrNode): string | undefined {
  const lit = b.k === 'lit' ? b : a.k === 'lit' ? a : undefined;
  const other = lit === b ? a : b;
  if (lit && lit.type === 'string' && other.type === 'number' && /^-?\d+(\.\d+)?$/.test(lit.value as string)) return `write ${lit.value} without quotes; numbers and strings are never coerced`;
  if (lit && lit.type === 'number' && other.type === 'string') return `write "${lit.value}" in quotes; numbers and strings are never coerced`;
  if (lit && lit.type === 'string' && other.type === 'timestamp') return 'write an ISO timestamp such as 2024-01-31T00:00:00Z';
  if (lit && lit.type === 'string' && other.type === 'duration') return 'write a duration such as 30d, 12h or 15m';
  return undefined;
}

function makeCmp(op: CompareOp, leftIn: IrNode, rightIn: IrNode, scope: Scope, origin: Origin, pos: { line: number; column: number } | undefined, path: string): IrNode | undefined {
  const left = coerceLiteral(leftIn, rightIn.type);
  const right = coerceLiteral(rightIn, left.type);
  const l = left.type;
  const r = right.type;
  const mismatch = (message: string) => err(scope, 'TYPE_MISMATCH', path, message, pos, mismatchHint(left, right));
  if (l === 'object' || r === 'object') return err(scope, 'TYPE_MISMATCH', path, `${l === 'object' ? 'the left side' : 'the right side'} is an object; compare one of its fields, or test it with exists`, pos);
  switch (op) {
    case '==':
    case '!=':
      if (l === 'null' || r === 'null') break;
      if (!SCALAR.has(l) || !SCALAR.has(r)) return err(scope, 'BAD_OPERATOR', path, `"${op}" compares single values, not ${isList(l) ? l : r}`, pos, isList(l) || isList(r) ? 'use in, not in or contains' : undefined);
      if (l !== r) return mismatch(`cannot compare ${l} with ${r}`);
      break;
    case '<':
    case '<=':
    case '>':
    case '>=':
      if (!ORDERED.has(l)) return err(scope, 'BAD_OPERATOR', path, `"${op}" needs numbers, strings, timestamps or durations, the left side is ${l}`, pos);
      if (l !== r) return mismatch(`cannot compare ${l} with ${r}`);
      break;
    case 'in':
    case 'not in':
      if (!SCALAR.has(l)) return err(scope, 'BAD_OPERATOR', path, `"${op}" needs a single value on the left, found ${l}`, pos, isList(l) ? 'use contains to look inside a list' : undefined);
      if (!isList(r)) return err(scope, 'TYPE_MISMATCH', path, `"${op}" needs a list on the right, found ${r}`, pos, `write [${right.k === 'lit' ? formatValue(right.value) : '...'}]`);
      if (r !== 'list<any>' && elementType(r) !== l) return mismatch(`cannot look for a ${l} in a ${r}`);
      break;
    case 'contains':
      if (l === 'string') {
        if (r !== 'string') return mismatch(`a string can only contain a string, found ${r}`);
      } else if (isList(l)) {
        if (elementType(l) !== r) return mismatch(`a ${l} cannot contain a ${r}`);
      } else return err(scope, 'BAD_OPERATOR', path, `"contains" needs a string or a list on the left, found ${l}`, pos);
      break;
    case 'starts_with':
    case 'ends_with':
      if (l !== 'string' || r !== 'string') return err(scope, 'BAD_OPERATOR', path, `"${op}" needs strings, found ${l} and ${r}`, pos);
      break;
    case 'matches': {
      if (l !== 'string') return err(scope, 'BAD_OPERATOR', path, `"matches" needs a string on the left, found ${l}`, pos);
      if (right.k !== 'lit' || r !== 'string') return err(scope, 'BAD_REGEX', path, '"matches" needs a regex written as a string literal', pos);
      let pattern = right.value as string;
      let flags = '';
      if (pattern.startsWith('(?i)')) {
        pattern = pattern.slice(4);
        flags = 'i';
      }
      const problem = vetRegex(pattern, scope.maxRegexLength);
      if (problem) return err(scope, problem.reason.includes('limit') ? 'BAD_REGEX' : 'UNSAFE_REGEX', path, problem.reason, pos, problem.hint);
      let regex: RegExp;
      try {
        regex = new RegExp(pattern, flags);
      } catch (e) {
        return err(scope, 'BAD_REGEX', path, `invalid regex: ${(e as Error).message}`, pos);
      }
      return node({ k: 'cmp', op, left, right, regex }, 'boolean', origin);
    }
  }
  return node({ k: 'cmp', op, left, right }, 'boolean', origin);
}

// ---------------------------------------------------------------------------------------------
// Names

function forbidden(name: string, pos: { line: number; column: number }, ctx: ExprCtx): boolean {
  const bad = name.split('.').find((s) => FORBIDDEN_SEGMENTS.has(s));
  if (bad) err(ctx.scope, 'FORBIDDEN_PATH', ctx.path, `"${bad}" may not appear in a fact path`, pos);
  return bad !== undefined;
}

function allNames(scope: Scope): string[] {
  const names = ['now'];
  for (const [p, t] of scope.payload) if (!t.startsWith('!')) names.push(`payload.${p}`);
  for (const f of EVENT_FIELDS.keys()) names.push(`event.${f}`);
  for (const u of scope.cat.user.keys()) names.push(`user.${u}`);
  names.push(...scope.cat.facts.keys(), ...scope.conditions.keys());
  return names;
}

function resolvePath(name: string, pos: { line: number; column: number }, ctx: ExprCtx): IrNode | undefined {
  const { scope, path } = ctx;
  if (forbidden(name, pos, ctx)) return undefined;
  const origin = { path, line: pos.line, column: pos.column };
  const segs = name.split('.');
  if (name === 'now') return node({ k: 'now' }, 'timestamp', origin, LEAF_COST.now);
  if (segs[0] === 'payload') {
    const rest = segs.slice(1).join('.');
    const t = scope.payload.get(rest);
    if (t === undefined) {
      const candidates = [...scope.payload.keys()].filter((p) => !scope.payload.get(p)!.startsWith('!')).map((p) => `payload.${p}`);
      return err(scope, 'UNKNOWN_FIELD', path, `unknown fact "${name}": not declared by ${scope.payloadWhere}`, pos, didYouMean(name, candidates));
    }
    if (t.startsWith('!')) return err(scope, 'TYPE_MISMATCH', path, t.slice(1), pos, 'list only the event types that agree in "on"');
    return node({ k: 'payload', path: segs.slice(1) }, t, origin, LEAF_COST.payload);
  }
  if (segs[0] === 'event') {
    const t = segs.length === 2 ? EVENT_FIELDS.get(segs[1]) : undefined;
    if (!t) return err(scope, 'UNKNOWN_FACT', path, `unknown fact "${name}"`, pos, didYouMean(name, [...EVENT_FIELDS.keys()].map((f) => `event.${f}`)) ?? 'event fields are id, type, source, user_id and occurred_at');
    return node({ k: 'event', field: segs[1] }, t, origin, LEAF_COST.event);
  }
  if (segs[0] === 'user') {
    const t = segs.length === 2 ? scope.cat.user.get(segs[1]) : undefined;
    if (!t) return err(scope, 'UNKNOWN_FACT', path, `unknown fact "${name}": not a declared user attribute`, pos, didYouMean(name, [...scope.cat.user.keys()].map((u) => `user.${u}`)));
    return node({ k: 'user', attr: segs[1] }, t, origin, LEAF_COST.user);
  }
  const fact = scope.cat.facts.get(name);
  if (fact) return resolveCall({ t: 'call', name, args: [], ...pos }, ctx);
  if (segs.length === 1 && scope.conditions.has(name)) {
    if (scope.cat.facts.has(name)) return err(scope, 'UNKNOWN_CONDITION', path, `"${name}" is both a fact and a condition`, pos);
    return expandNamed(name, path, scope, ctx.depth, pos);
  }
  return err(scope, 'UNKNOWN_FACT', path, `unknown fact "${name}"`, pos, didYouMean(name, allNames(scope)));
}

const BUILTINS: Record<BuiltinFn, { min: number; max: number }> = {
  min: { min: 2, max: 16 },
  max: { min: 2, max: 16 },
  abs: { min: 1, max: 1 },
  floor: { min: 1, max: 1 },
  ceil: { min: 1, max: 1 },
  round: { min: 1, max: 2 },
};

function containsFact(n: IrNode): boolean {
  return n.k === 'fact' || children(n).some(containsFact);
}

function resolveCall(a: Extract<Ast, { t: 'call' }>, ctx: ExprCtx): IrNode | undefined {
  const { scope, path } = ctx;
  const origin = { path, line: a.line, column: a.column };
  if (forbidden(a.name, a, ctx)) return undefined;
  if (a.name in BUILTINS) {
    const fn = a.name as BuiltinFn;
    const spec = BUILTINS[fn];
    if (a.args.some((x) => x.name)) return err(scope, 'SYNTAX', path, `${fn}() takes positional arguments only`, a);
    if (a.args.length < spec.min || a.args.length > spec.max) return err(scope, 'SYNTAX', path, `${fn}() takes ${spec.min === spec.max ? spec.min : `${spec.min} to ${spec.max}`} argument${spec.max === 1 ? '' : 's'}, found ${a.args.length}`, a);
    const args: IrNode[] = [];
    for (const x of a.args) {
      const n = fromAst(x.value, ctx);
      if (!n) return undefined;
      args.push(n);
    }
    const t = args[0].type;
    const okType = fn === 'min' || fn === 'max' ? ORDERED.has(t) && t !== 'string' && args.every((x) => x.type === t) : args.every((x) => x.type === 'number');
    if (!okType) return err(scope, 'TYPE_MISMATCH', path, `${fn}() needs ${fn === 'min' || fn === 'max' ? 'arguments of one type (numbers, durations or timestamps)' : 'numbers'}, found ${args.map((x) => x.type).join(', ')}`, a);
    return node({ k: 'fn', fn, args }, fn === 'min' || fn === 'max' ? t : 'number', origin);
  }
  const fact = scope.cat.facts.get(a.name);
  if (!fact) {
    const names = [...scope.cat.facts.keys(), ...Object.keys(BUILTINS)];
    return err(scope, 'UNKNOWN_FACT', path, `unknown fact "${a.name}"`, a, didYouMean(a.name, names));
  }
  const bound = new Map<string, Ast>();
  let positional = 0;
  let failed = false;
  for (const arg of a.args) {
    if (arg.name === undefined) {
      if (bound.size > positional) {
        err(scope, 'SYNTAX', path, 'positional arguments must come before named ones', arg.value);
        failed = true;
        continue;
      }
      const p = fact.params[positional++];
      if (!p) {
        err(scope, 'UNKNOWN_PARAM', path, `${a.name}() takes ${fact.params.length} argument${fact.params.length === 1 ? '' : 's'}`, arg.value);
        failed = true;
        continue;
      }
      bound.set(p.name, arg.value);
    } else {
      const p = fact.params.find((x) => x.name === arg.name);
      if (!p) {
        err(scope, 'UNKNOWN_PARAM', path, `${a.name}() has no parameter "${arg.name}"`, arg.value, didYouMean(arg.name, fact.params.map((x) => x.name)));
        failed = true;
      } else if (bound.has(arg.name)) {
        err(scope, 'SYNTAX', path, `argument "${arg.name}" given twice`, arg.value);
        failed = true;
      } else bound.set(arg.name, arg.value);
    }
  }
  const params: IrOf<'fact'>['params'] = [];
  for (const p of fact.params) {
    const arg = bound.get(p.name);
    if (!arg) {
      if (!p.optional) {
        err(scope, 'MISSING_PARAM', path, `${a.name}() needs argument "${p.name}" (${p.type})`, a);
        failed = true;
      }
      continue;
    }
    const n0 = fromAst(arg, ctx, p.type);
    if (!n0) {
      failed = true;
      continue;
    }
    const n = coerceLiteral(n0, p.type);
    if (!assignable(n.type, p.type)) {
      err(scope, 'TYPE_MISMATCH', path, `argument "${p.name}" of ${a.name}() must be ${p.type}, found ${n.type}`, arg, mismatchHint(n, { ...n, k: 'payload', type: p.type } as IrNode));
      failed = true;
      continue;
    }
    if (containsFact(n)) {
      err(scope, 'BAD_OPERATOR', path, `arguments of ${a.name}() may read payload, event and user facts, not computed facts`, arg);
      failed = true;
      continue;
    }
    params.push({ name: p.name, type: p.type, node: n, optional: p.optional });
  }
  if (failed) return undefined;
  const fields: Extract<NodeFields, { k: 'fact' }> = { k: 'fact', name: fact.name, params };
  if (params.every((p) => p.node.k === 'lit')) {
    const args: Record<string, unknown> = {};
    for (const p of params) args[p.name] = (p.node as IrOf<'lit'>).value;
    fields.constArgs = Object.freeze(args);
    fields.constKey = `${fact.name}\u0000${JSON.stringify(args)}`;
  }
  // Any computed fact may come back as a Promise (the catalogue's `async` is a promise from the
  // caller, not a guarantee), so every fact read is treated as possibly pending.
  return node(fields, fact.type, origin, FACT_BASE_COST + fact.cost, true);
}
