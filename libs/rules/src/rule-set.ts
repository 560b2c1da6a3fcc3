import { Catalogue } from './catalogue';
import { ChunkFn, generateChunk } from './code-generator';
import { Dependencies } from './dependencies';
import { CompileError, RuleSetCompileError } from './errors/compile.error';
import { evalNode, TraceNode, traceNode } from './evaluator';
import { children, IrNode, render } from './ir';
import { checkUnusedConditions, compileRule, CompiledRule, CompileOptions, CompileResult, compilerContext, dedupeErrors, RuleDocument } from './rule-compiler';
import { EvalContext, EvalError, EvaluateOptions, RuleEvent } from './runtime';

/** An action of a matched rule with its params computed for this event. */
export interface ActionInvocation {
  action: string;
  params: Readonly<Record<string, unknown>>;
}

/**
 * A matched rule. Besides the fixed fields it carries the rule's passthrough fields (`mode`,
 * `outcome`, `metadata`, declared extensions) and computed formula fields such as `score`.
 * Matches of rules without formulas are shared frozen objects: treat every match as read-only.
 */
export interface RuleMatch {
  ruleId: string;
  domain: string;
  priority: number;
  actions: readonly ActionInvocation[];
  mode?: 'live' | 'shadow';
  score?: number;
  outcome?: string;
  metadata?: Record<string, unknown>;
  [field: string]: unknown;
}

/** Per-rule trace: whether it matched, the first reason it did not, and the node tree. */
export interface RuleTrace {
  ruleId: string;
  domain: string;
  matched: boolean;
  why?: string;
  root: TraceNode;
}

/** Outcome of evaluating a rule set against one event. */
export interface EvalResult {
  /** Matched rules, higher priority first, ties by rule id. */
  matches: RuleMatch[];
  /** Facts that failed and formulas that could not be computed; never stops other rules. */
  errors: EvalError[];
  /** Present when `trace: true`: one entry per rule that listens to the event, in priority order. */
  traces?: RuleTrace[];
}

/** A fact read whose arguments are constants: the same call for every event. */
export interface FactCall {
  name: string;
  args: Readonly<Record<string, unknown>>;
}

export interface RuleSetEvaluateOptions extends EvaluateOptions {
  /** Evaluate only this domain's rules (all domains when omitted). */
  domain?: string;
}

const EMPTY_BUCKET: Bucket = { rules: Object.freeze([]), chunks: [], matches: [], calls: Object.freeze([]) };

/** Rules per generated function: big enough to amortise calls, small enough for V8 to optimise. */
const CHUNK_SIZE = 24;

interface Bucket {
  rules: readonly CompiledRule[];
  chunks?: ChunkFn[];
  matches: (RuleMatch | undefined)[];
  calls?: readonly FactCall[];
}

/**
 * An immutable, compiled snapshot of rules, indexed by domain and event type. Build it with
 * {@link compileRules} (result union) or {@link RuleSet.compile} (throws); swap snapshots by
 * replacing the reference. `evaluate` returns synchronously unless an async fact was actually
 * awaited, so callers should `await` the result only when it is a Promise (or always — both work).
 * Cost per event grows with the rules listening to its type and domain, not with the whole set.
 */
export class RuleSet {
  /** Enabled and disabled rules, higher priority first, ties by id. */
  readonly rules: readonly CompiledRule[];
  private readonly enabled: readonly CompiledRule[];
  private readonly knownTypes: ReadonlySet<string>;
  private readonly knownDomains: ReadonlySet<string>;
  // Buckets and their generated code are built on first use of a (domain, type) pair; the
  // rule set stays logically immutable, this is a cache keyed by a bounded set of names (event
  // types no rule names share the `*` bucket, unknown domains get an empty map).
  private readonly allDomains = new Map<string, Bucket>();
  private readonly buckets = new Map<string, Map<string, Bucket>>();

  /** Use {@link compileRules} or {@link RuleSet.compile}; this takes already-compiled rules. */
  constructor(rules: readonly CompiledRule[]) {
    const sorted = [...rules].sort((a, b) => b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.rules = Object.freeze(sorted);
    this.enabled = sorted.filter((r) => r.enabled);
    this.knownTypes = new Set(this.enabled.flatMap((r) => r.on).filter((t) => t !== '*'));
    this.knownDomains = new Set(this.enabled.map((r) => r.domain));
    Object.freeze(this);
  }

  /** Compiles rule documents or throws {@link RuleSetCompileError} listing every error. */
  static compile(documents: RuleDocument | readonly RuleDocument[], catalogue: Catalogue, options: CompileOptions = {}): RuleSet {
    const r = compileRules(documents, catalogue, options);
    if (!r.ok) throw new RuleSetCompileError(r.errors);
    return r.value;
  }

  get size(): number {
    return this.rules.length;
  }

  get(id: string): CompiledRule | undefined {
    return this.rules.find((r) => r.id === id);
  }

  get domains(): string[] {
    return [...new Set(this.rules.map((r) => r.domain))].sort();
  }

  /** Union of the dependencies of the enabled rules of a domain (or all domains). */
  dependencies(domain?: string): Dependencies {
    const rules = this.enabled.filter((r) => domain === undefined || r.domain === domain);
    const merge = (pick: (d: Dependencies) => readonly string[]) => Object.freeze([...new Set(rules.flatMap((r) => pick(r.dependencies)))].sort());
    return Object.freeze({
      facts: merge((d) => d.facts),
      userAttributes: merge((d) => d.userAttributes),
      payloadFields: merge((d) => d.payloadFields),
      eventFields: merge((d) => d.eventFields),
      eventTypes: merge((d) => d.eventTypes),
      usesNow: rules.some((r) => r.dependencies.usesNow),
    });
  }

  /** The enabled rules that an event of this type (and domain) evaluates, in priority order. */
  rulesFor(type: string, domain?: string): readonly CompiledRule[] {
    return this.bucket(type, domain).rules;
  }

  /**
   * The fact reads with constant arguments in the conditions and formulas of the enabled rules an
   * event of this type evaluates, in every domain: what such an event will most likely ask for
   * (a short-circuited leaf may not), so a caller can fetch them ahead of the evaluation.
   */
  factCalls(type: string): readonly FactCall[] {
    const bucket = this.bucket(type, undefined);
    if (bucket.calls) return bucket.calls;
    const calls = new Map<string, FactCall>();
    const stack: IrNode[] = bucket.rules.flatMap((r) => [r.when, ...r.outputs.map((o) => o.node)]);
    while (stack.length) {
      const n = stack.pop()!;
      if (n.k === 'fact' && n.constKey !== undefined && !calls.has(n.constKey)) calls.set(n.constKey, Object.freeze({ name: n.name, args: n.constArgs ?? {} }));
      stack.push(...children(n));
    }
    return (bucket.calls = Object.freeze([...calls.values()]));
  }

  private bucket(type: string, domain: string | undefined): Bucket {
    let byType = domain === undefined ? this.allDomains : this.buckets.get(domain);
    if (byType === undefined) {
      if (!this.knownDomains.has(domain!)) return EMPTY_BUCKET;
      this.buckets.set(domain!, (byType = new Map()));
    }
    const hit = byType.get(type);
    if (hit !== undefined) return hit;
    const t = this.knownTypes.has(type) ? type : '*';
    let b = byType.get(t);
    if (!b) {
      const rules = this.enabled.filter((r) => (domain === undefined || r.domain === domain) && (r.on.includes('*') || r.on.includes(t)));
      b = { rules, matches: rules.map(staticMatch) };
      byType.set(t, b);
    }
    return b;
  }

  /**
   * Evaluates the rules listening to `event.type` (optionally one domain). Synchronous unless an
   * async fact had to be awaited; see {@link EvalResult}.
   */
  evaluate(event: RuleEvent, options?: RuleSetEvaluateOptions): EvalResult | Promise<EvalResult> {
    const bucket = this.bucket(typeof event?.type === 'string' ? event.type : '', options?.domain);
    const c = options === undefined ? new EvalContext(event, undefined, undefined, undefined) : new EvalContext(event, options.resolver, options.user, options.now);
    if (options?.trace) return traced(bucket, c);
    let chunks = bucket.chunks;
    if (!chunks) {
      chunks = [];
      for (let i = 0; i < bucket.rules.length; i += CHUNK_SIZE) {
        chunks.push(generateChunk(bucket.rules.slice(i, i + CHUNK_SIZE).map((r, k) => ({ index: i + k, when: r.when }))));
      }
      bucket.chunks = chunks;
    }
    const matched: number[] = [];
    for (let i = 0; i < chunks.length; i++) chunks[i](c, matched);
    if (c.q === undefined) return finish(bucket, c, matched);
    return resume(bucket, c, matched);
  }
}

async function resume(bucket: Bucket, c: EvalContext, matched: number[]): Promise<EvalResult> {
  while (c.q !== undefined) {
    if (!c.hasInflight) break;
    await c.settle();
    const pending = c.q;
    c.q = undefined;
    // Re-run only the pending rules, through the same generated chunks with a selection mask:
    // their facts are now cached, so most finish or move on to their next async fact.
    const select = new Uint8Array(bucket.rules.length);
    for (const i of pending) select[i] = 1;
    const chunks = bucket.chunks!;
    let last = -1;
    for (const i of pending) {
      const k = (i / CHUNK_SIZE) | 0;
      if (k !== last) chunks[k](c, matched, select);
      last = k;
    }
  }
  matched.sort((a, b) => a - b);
  return finish(bucket, c, matched);
}

function traced(bucket: Bucket, c: EvalContext): EvalResult | Promise<EvalResult> {
  const traces: RuleTrace[] = new Array(bucket.rules.length);
  const run = (i: number) => {
    const rule = bucket.rules[i];
    c.p = false;
    const { value, trace } = traceNode(rule.when, c);
    if (c.p) c.pend(i);
    const t: RuleTrace = { ruleId: rule.id, domain: rule.domain, matched: value, root: trace };
    if (!value && trace.why) t.why = trace.why;
    traces[i] = t;
  };
  for (let i = 0; i < bucket.rules.length; i++) run(i);
  const done = (): EvalResult | Promise<EvalResult> => {
    const matched: number[] = [];
    traces.forEach((t, i) => t.matched && matched.push(i));
    const r = finish(bucket, c, matched);
    const attach = (res: EvalResult) => ({ ...res, traces });
    return r instanceof Promise ? r.then(attach) : attach(r);
  };
  if (c.q === undefined) return done();
  return (async () => {
    while (c.q !== undefined && c.hasInflight) {
      await c.settle();
      const pending = c.q;
      c.q = undefined;
      pending.forEach(run);
    }
    return done();
  })();
}

function staticMatch(rule: CompiledRule): RuleMatch | undefined {
  if (rule.outputs.length || rule.actions.some((a) => a.params.some((p) => p.formula))) return undefined;
  const actions = Object.freeze(rule.actions.map((a) => Object.freeze({ action: a.action, params: Object.freeze(Object.fromEntries(a.params.map((p) => [p.name, p.value]))) })));
  return Object.freeze({ ...rule.fields, ruleId: rule.id, domain: rule.domain, priority: rule.priority, actions });
}

function finish(bucket: Bucket, c: EvalContext, matched: number[]): EvalResult | Promise<EvalResult> {
  const out: (RuleMatch | undefined)[] = [];
  let pending = false;
  for (let k = 0; k < matched.length; k++) {
    const i = matched[k];
    const m = bucket.matches[i] ?? computeMatch(bucket.rules[i], c);
    out.push(m);
    if (m === undefined) pending = true;
  }
  if (!pending) return { matches: out as RuleMatch[], errors: c.errors };
  return (async () => {
    while (pending && c.hasInflight) {
      await c.settle();
      pending = false;
      for (let k = 0; k < matched.length; k++) {
        if (out[k]) continue;
        const m = computeMatch(bucket.rules[matched[k]], c);
        if (m) out[k] = m;
        else pending = true;
      }
    }
    return { matches: out.filter((m): m is RuleMatch => m !== undefined), errors: c.errors };
  })();
}

/** Computes formula params and fields of a matched rule; undefined while an async fact is pending. */
function computeMatch(rule: CompiledRule, c: EvalContext): RuleMatch | undefined {
  c.p = false;
  const problems: EvalError[] = [];
  const compute = (node: CompiledRule['when'], where: string) => {
    const v = evalNode(node, c);
    if (v === undefined && !c.p) {
      problems.push({ kind: 'formula', ruleId: rule.id, message: `${where}: ${render(node)} could not be computed (a value is missing or not finite); used null` });
      return null;
    }
    return v;
  };
  const match: RuleMatch = { ...rule.fields, ruleId: rule.id, domain: rule.domain, priority: rule.priority, actions: [] };
  for (const o of rule.outputs) match[o.field] = compute(o.node, o.field);
  const actions = rule.actions.map((a, ai) => {
    const params: Record<string, unknown> = {};
    for (const p of a.params) params[p.name] = p.formula ? compute(p.formula, `then[${ai}].params.${p.name}`) : p.value;
    return { action: a.action, params };
  });
  if (c.p) return undefined;
  for (const e of problems) c.report(e);
  match.actions = actions;
  return match;
}

/**
 * Compiles rule documents (plain objects: the caller reads YAML or database rows) against a
 * catalogue into a {@link RuleSet}. Collects every error in every rule — unknown facts with a
 * "did you mean", type errors with line and column, unknown actions and params, unsafe regexes —
 * and returns them all; a rule set with any error does not compile.
 */
export function compileRules(documents: RuleDocument | readonly RuleDocument[], catalogue: Catalogue, options: CompileOptions = {}): CompileResult<RuleSet> {
  const docs: readonly RuleDocument[] = Array.isArray(documents) ? documents : [documents as RuleDocument];
  const ctx = compilerContext(docs, catalogue, options);
  const maxRules = options.maxRules ?? 100_000;
  const total = docs.reduce((n, d) => n + (Array.isArray(d?.rules) ? d.rules.length : 0), 0);
  if (total > maxRules) {
    return { ok: false, errors: [new CompileError({ code: 'TOO_LARGE', ruleId: '', path: 'rules', message: `${total} rules, the limit is ${maxRules}` })] };
  }
  const compiled: CompiledRule[] = [];
  const ids = new Map<string, string>();
  const used = new Set<string>();
  docs.forEach((doc, d) => {
    if (doc?.rules !== undefined && !Array.isArray(doc.rules)) {
      ctx.errors.push(new CompileError({ code: 'INVALID_RULE', ruleId: '', path: `documents[${d}].rules`, message: '"rules" must be a list' }));
      return;
    }
    (doc?.rules ?? []).forEach((spec, i) => {
      const where = docs.length > 1 ? `documents[${d}].rules[${i}]` : `rules[${i}]`;
      const id = typeof spec?.id === 'string' ? spec.id : undefined;
      if (id !== undefined && ids.has(id)) {
        ctx.errors.push(new CompileError({ code: 'DUPLICATE_ID', ruleId: id, path: 'id', message: `rule id "${id}" is used twice (first at ${ids.get(id)})` }));
      } else if (id !== undefined) ids.set(id, where);
      const rule = compileRule(spec, where, ctx, used);
      if (rule) compiled.push(rule);
    });
  });
  checkUnusedConditions(ctx, used);
  if (ctx.errors.length) return { ok: false, errors: dedupeErrors(ctx.errors) };
  return { ok: true, value: new RuleSet(compiled) };
}
