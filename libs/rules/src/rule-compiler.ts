import { Catalogue, indexCatalogue, IndexedCatalogue } from './catalogue';
import { collectDependencies, Dependencies } from './dependencies';
import { CompileError } from './errors/compile.error';
import { IrNode, IrOf } from './ir';
import { didYouMean } from './suggest';
import { assignable, checkCondition, checkValueExpr, CompileLimits, jsonLiteral, makeScope, Scope } from './type-checker';
import { formatValue, parseType, RuleType, TypeSpec } from './types';

/** A condition tree as written in rule documents (YAML or JSON, already parsed). */
export type ConditionTree =
  | string
  | boolean
  | { all: ConditionTree[] }
  | { any: ConditionTree[] }
  | { not: ConditionTree }
  | { ref: string }
  | { expr: string }
  | { fact: string; op: string; value?: unknown; params?: Record<string, unknown> };

/** One action of `then`: params are literals, formula strings, or `{expr: "..."}`. */
export interface ActionSpec {
  action: string;
  params?: Record<string, unknown>;
}

/** A rule as written by users. Unknown top-level fields are errors unless declared as extensions. */
export interface RuleSpec {
  id: string;
  domain: string;
  /** Event types that trigger the rule; `*` (the default) for all. */
  on?: string | string[];
  priority?: number;
  enabled?: boolean;
  description?: string;
  when?: ConditionTree;
  then?: ActionSpec[];
  score?: number | string;
  outcome?: string;
  mode?: 'live' | 'shadow';
  metadata?: Record<string, unknown>;
  [extension: string]: unknown;
}

/** A rule file: named conditions usable by every rule of the document set, and rules. */
export interface RuleDocument {
  conditions?: Record<string, ConditionTree>;
  rules?: RuleSpec[];
}

/**
 * A domain-specific rule field. With `formula: true` the value may be a formula string (or
 * `{expr}`) computed for matched rules, typed `type`; otherwise it is a literal checked against
 * `type` and `values` and passed through unchanged.
 */
export interface ExtensionField {
  type?: TypeSpec | 'any';
  formula?: boolean;
  values?: readonly string[];
  default?: unknown;
}

export interface CompileOptions extends CompileLimits {
  /** Extra rule fields domains interpret, on top of the built-in `score`, `outcome`, `mode`, `metadata`. */
  extensions?: Record<string, ExtensionField>;
  /** Order `all`/`any` children cheapest first (default true); off only to prove it changes nothing. */
  reorder?: boolean;
}

/** Expected business outcome of compiling: a value, or every error found. */
export type CompileResult<T> = { ok: true; value: T } | { ok: false; errors: CompileError[] };

export const BUILTIN_EXTENSIONS: Readonly<Record<string, ExtensionField>> = Object.freeze({
  score: { type: 'number', formula: true },
  outcome: { type: 'string' },
  mode: { type: 'string', values: ['live', 'shadow'], default: 'live' },
  metadata: { type: 'any' },
});

const CORE_FIELDS = ['id', 'domain', 'on', 'priority', 'enabled', 'description', 'when', 'then'];

export interface CompiledParam {
  name: string;
  value?: unknown;
  formula?: IrNode;
}

export interface CompiledAction {
  action: string;
  params: readonly CompiledParam[];
}

/** A rule after type checking: IR for `when`, actions with literal or formula params, and passthrough fields. */
export interface CompiledRule {
  readonly id: string;
  readonly domain: string;
  readonly on: readonly string[];
  readonly priority: number;
  readonly enabled: boolean;
  readonly description?: string;
  readonly when: IrNode;
  readonly actions: readonly CompiledAction[];
  /** Formula-valued fields (`score`, formula extensions) computed when the rule matches. */
  readonly outputs: readonly { field: string; node: IrNode }[];
  /** Literal fields passed through to matches (`mode`, `outcome`, `metadata`, extensions). */
  readonly fields: Readonly<Record<string, unknown>>;
  readonly dependencies: Dependencies;
}

export const TRUE_NODE: IrNode = Object.freeze({ k: 'lit', value: true, type: 'boolean', origin: { path: 'when' }, cost: 0, async: false }) as IrNode;

export interface CompilerContext {
  cat: IndexedCatalogue;
  conditions: Map<string, unknown>;
  options: CompileOptions;
  errors: CompileError[];
}

/** Builds the checker context for a document set: catalogue index, merged named conditions. */
export function compilerContext(docs: readonly RuleDocument[], catalogue: Catalogue, options: CompileOptions): CompilerContext {
  const { index, errors: catErrors } = indexCatalogue(catalogue);
  const errors = [...catErrors];
  const conditions = new Map<string, unknown>();
  docs.forEach((doc, d) => {
    for (const [name, tree] of Object.entries(doc?.conditions ?? {})) {
      if (conditions.has(name)) errors.push(new CompileError({ code: 'DUPLICATE_ID', ruleId: `conditions.${name}`, path: `documents[${d}].conditions.${name}`, message: `condition "${name}" is defined twice` }));
      else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || ['payload', 'event', 'user', 'now'].includes(name)) {
        errors.push(new CompileError({ code: 'INVALID_RULE', ruleId: `conditions.${name}`, path: `documents[${d}].conditions`, message: `invalid condition name "${name}"`, hint: 'use letters, digits and _' }));
      } else conditions.set(name, tree);
    }
  });
  return { cat: index, conditions, options, errors };
}

/** Checks named conditions that no rule used, so their errors are not silently skipped. */
export function checkUnusedConditions(ctx: CompilerContext, used: ReadonlySet<string>): void {
  for (const [name, tree] of ctx.conditions) {
    if (used.has(name)) continue;
    const scope = makeScope(`conditions.${name}`, ctx.cat, ['*'], ctx.conditions, ctx.errors, ctx.options);
    scope.expanding.push(name);
    checkCondition(tree, `conditions.${name}`, scope);
  }
}

/** Type-checks one rule; returns undefined (with errors recorded) when it does not compile. */
export function compileRule(spec: unknown, path: string, ctx: CompilerContext, used: Set<string>): CompiledRule | undefined {
  const before = ctx.errors.length;
  const fail = (ruleId: string, p: string, message: string, hint?: string) => {
    ctx.errors.push(new CompileError({ code: 'INVALID_RULE', ruleId, path: p, message, hint }));
  };
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    fail('', path, `a rule must be an object, found ${formatValue(spec)}`);
    return undefined;
  }
  const r = spec as Record<string, unknown>;
  const id = typeof r.id === 'string' && r.id.trim() ? r.id : '';
  if (!id) fail('', `${path}.id`, 'a rule needs a non-empty string "id"');
  if (typeof r.domain !== 'string' || !r.domain) fail(id, 'domain', 'a rule needs a string "domain"');
  const on = r.on === undefined ? ['*'] : typeof r.on === 'string' ? [r.on] : r.on;
  const onOk = Array.isArray(on) && on.length > 0 && on.every((t) => typeof t === 'string' && t.length > 0);
  if (!onOk) fail(id, 'on', '"on" must be an event type or a non-empty list of them ("*" for all)');
  const onList = onOk ? (on as string[]) : ['*'];
  if (onOk) {
    onList.forEach((t, i) => {
      if (t !== '*' && !ctx.cat.events.has(t)) {
        ctx.errors.push(new CompileError({ code: 'UNKNOWN_EVENT_TYPE', ruleId: id, path: `on[${i}]`, message: `event type "${t}" is not declared`, hint: didYouMean(t, ctx.cat.events.keys()) }));
      }
    });
  }
  if (r.priority !== undefined && (typeof r.priority !== 'number' || !Number.isFinite(r.priority))) fail(id, 'priority', '"priority" must be a number');
  if (r.enabled !== undefined && typeof r.enabled !== 'boolean') fail(id, 'enabled', '"enabled" must be true or false');
  if (r.description !== undefined && typeof r.description !== 'string') fail(id, 'description', '"description" must be a string');

  const extensions = { ...BUILTIN_EXTENSIONS, ...ctx.options.extensions };
  for (const key of Object.keys(r)) {
    if (!CORE_FIELDS.includes(key) && !(key in extensions)) fail(id, key, `unknown rule field "${key}"`, didYouMean(key, [...CORE_FIELDS, ...Object.keys(extensions)]));
  }

  const scope = makeScope(id, ctx.cat, onList, ctx.conditions, ctx.errors, ctx.options);
  const trackingScope = trackUses(scope, used);
  const when = r.when === undefined ? TRUE_NODE : checkCondition(r.when, 'when', trackingScope);

  const actions: CompiledAction[] = [];
  if (r.then !== undefined && !Array.isArray(r.then)) fail(id, 'then', '"then" must be a list of actions');
  (Array.isArray(r.then) ? r.then : []).forEach((a: unknown, i: number) => {
    const compiled = compileAction(a, `then[${i}]`, trackingScope);
    if (compiled) actions.push(compiled);
  });

  const outputs: { field: string; node: IrNode }[] = [];
  const fields: Record<string, unknown> = {};
  for (const [name, ext] of Object.entries(extensions)) {
    const value = r[name];
    if (value === undefined) {
      if (ext.default !== undefined) fields[name] = ext.default;
      continue;
    }
    const type = ext.type === undefined || ext.type === 'any' ? 'any' : parseType(ext.type, true) ?? 'any';
    if (ext.formula && type !== 'any') {
      const p = compileParam(value, type, name, trackingScope);
      if (p?.formula) outputs.push({ field: name, node: p.formula });
      else if (p) fields[name] = p.value;
      continue;
    }
    if (ext.values && !ext.values.includes(value as string)) {
      fail(id, name, `"${name}" must be one of ${ext.values.map((v) => `"${v}"`).join(', ')}, found ${formatValue(value)}`, typeof value === 'string' ? didYouMean(value, ext.values) : undefined);
      continue;
    }
    if (type === 'any') {
      if (name === 'metadata' && (typeof value !== 'object' || value === null || Array.isArray(value))) fail(id, name, '"metadata" must be an object');
      else fields[name] = value;
      continue;
    }
    const lit = jsonLiteral(value, type, name, scope);
    if (lit && lit.k === 'lit' && assignable(lit.type, type)) fields[name] = lit.value;
    else if (lit) ctx.errors.push(new CompileError({ code: 'TYPE_MISMATCH', ruleId: id, path: name, message: `"${name}" must be ${type}, found ${lit.type}` }));
  }

  if (ctx.errors.length > before || !when) return undefined;
  return Object.freeze({
    id,
    domain: r.domain as string,
    on: Object.freeze([...onList]),
    priority: (r.priority as number | undefined) ?? 0,
    enabled: r.enabled !== false,
    description: r.description as string | undefined,
    when,
    actions: Object.freeze(actions),
    outputs: Object.freeze(outputs),
    fields: Object.freeze(fields),
    dependencies: collectDependencies([when, ...outputs.map((o) => o.node), ...actions.flatMap((a) => a.params.flatMap((p) => (p.formula ? [p.formula] : [])))], onList),
  });
}

function trackUses(scope: Scope, used: Set<string>): Scope {
  // Named conditions are looked up through this map; recording the names lets the compiler check
  // the unused ones separately without a second walk.
  const conditions = scope.conditions;
  const tracking: ReadonlyMap<string, unknown> = {
    get: (name: string) => {
      if (conditions.has(name)) used.add(name);
      return conditions.get(name);
    },
    has: (name: string) => conditions.has(name),
    keys: () => conditions.keys(),
  } as ReadonlyMap<string, unknown>;
  return { ...scope, conditions: tracking };
}

function compileAction(a: unknown, path: string, scope: Scope): CompiledAction | undefined {
  const bad = (p: string, message: string, code: 'INVALID_RULE' | 'UNKNOWN_ACTION' | 'UNKNOWN_PARAM' | 'MISSING_PARAM' = 'INVALID_RULE', hint?: string) => {
    scope.errors.push(new CompileError({ code, ruleId: scope.ruleId, path: p, message, hint }));
    return undefined;
  };
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return bad(path, 'an action must be {action, params}');
  const spec = a as Record<string, unknown>;
  const extra = Object.keys(spec).filter((k) => k !== 'action' && k !== 'params');
  if (extra.length) bad(`${path}.${extra[0]}`, `unexpected key "${extra[0]}" in action`, 'INVALID_RULE', didYouMean(extra[0], ['action', 'params']));
  if (typeof spec.action !== 'string') return bad(`${path}.action`, 'an action needs a string "action"');
  const def = scope.cat.actions.get(spec.action);
  if (!def) return bad(`${path}.action`, `unknown action "${spec.action}"`, 'UNKNOWN_ACTION', didYouMean(spec.action, scope.cat.actions.keys()));
  const given = spec.params ?? {};
  if (typeof given !== 'object' || given === null || Array.isArray(given)) return bad(`${path}.params`, '"params" must be an object');
  const params: CompiledParam[] = [];
  let ok = true;
  for (const [name, value] of Object.entries(given)) {
    const p = def.params.get(name);
    if (!p) {
      ok = false;
      bad(`${path}.params.${name}`, `action "${def.name}" has no param "${name}"`, 'UNKNOWN_PARAM', didYouMean(name, def.params.keys()));
      continue;
    }
    const compiled = compileParam(value, p.type, `${path}.params.${name}`, scope);
    if (compiled) params.push({ name, ...compiled });
    else ok = false;
  }
  for (const [name, p] of def.params) {
    if (p.required && !(name in given)) {
      ok = false;
      bad(`${path}.params`, `action "${def.name}" needs param "${name}" (${p.type})`, 'MISSING_PARAM');
    }
  }
  return ok ? { action: def.name, params: Object.freeze(params) } : undefined;
}

/**
 * A param value: `{expr}` is always a formula; a string is a formula unless the param is a
 * string (then it is literal text); anything else is a literal checked against the type.
 */
function compileParam(value: unknown, type: RuleType, path: string, scope: Scope): { value?: unknown; formula?: IrNode } | undefined {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && 'expr' in value) {
    const expr = (value as { expr: unknown }).expr;
    if (typeof expr !== 'string' || Object.keys(value).length !== 1) {
      scope.errors.push(new CompileError({ code: 'INVALID_RULE', ruleId: scope.ruleId, path, message: '{expr} must hold one expression string' }));
      return undefined;
    }
    return formulaOrLiteral(checkValueExpr(expr, path, scope, type));
  }
  if (type === 'any') return { value };
  if (typeof value === 'string' && type !== 'string') return formulaOrLiteral(checkValueExpr(value, path, scope, type));
  const lit = jsonLiteral(value, type, path, scope);
  if (!lit) return undefined;
  if (!assignable(lit.type, type) && lit.type !== 'null') {
    scope.errors.push(new CompileError({ code: 'TYPE_MISMATCH', ruleId: scope.ruleId, path, message: `expected ${type}, found ${lit.type} ${formatValue(value)}` }));
    return undefined;
  }
  return { value: (lit as IrOf<'lit'>).value };
}

function formulaOrLiteral(n: IrNode | undefined): { value?: unknown; formula?: IrNode } | undefined {
  if (!n) return undefined;
  return n.k === 'lit' ? { value: n.value } : { formula: n };
}

/** Keeps one copy of errors raised inside a named condition, which every rule using it would repeat. */
export function dedupeErrors(errors: CompileError[]): CompileError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    if (!e.path.startsWith('conditions.')) return true;
    const key = `${e.code}|${e.path}|${e.line}|${e.column}|${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
