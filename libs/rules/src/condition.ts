import { Catalogue } from './catalogue';
import { ChunkFn, generateChunk } from './code-generator';
import { collectDependencies, Dependencies } from './dependencies';
import { CompileError, RuleSetCompileError } from './errors/compile.error';
import { evalNode, TraceNode, traceNode } from './evaluator';
import { IrNode } from './ir';
import { CompileOptions, CompileResult, compilerContext, ConditionTree, dedupeErrors } from './rule-compiler';
import { EvalContext, EvalError, EvaluateOptions, RuleEvent } from './runtime';
import { checkCondition, makeScope } from './type-checker';

/** Outcome of evaluating one standalone condition. */
export interface ConditionResult {
  value: boolean;
  errors: EvalError[];
  trace?: TraceNode;
}

export interface ConditionCompileOptions extends CompileOptions {
  /** Event types the condition will see (types its `payload.*` reads); default `['*']`. */
  on?: readonly string[];
  /** Named conditions it may reference with `{ref}` or by bare name in expressions. */
  conditions?: Record<string, ConditionTree>;
  /** Name used as `ruleId` in compile errors (e.g. a campaign or segment id). */
  id?: string;
}

/**
 * A standalone compiled condition — promo eligibility, a growth segment — with the same typing,
 * evaluation semantics, async behaviour and traces as a rule's `when`. Immutable.
 */
export class Condition {
  private fn?: ChunkFn;

  constructor(readonly id: string, readonly node: IrNode, readonly dependencies: Dependencies) {}

  /** Compiles a `when` tree or an expression string, or throws {@link RuleSetCompileError}. */
  static compile(input: ConditionTree, catalogue: Catalogue, options: ConditionCompileOptions = {}): Condition {
    const r = compileCondition(input, catalogue, options);
    if (!r.ok) throw new RuleSetCompileError(r.errors);
    return r.value;
  }

  /** Evaluates against one event; synchronous unless an async fact had to be awaited. */
  evaluate(event: RuleEvent, options: EvaluateOptions = {}): ConditionResult | Promise<ConditionResult> {
    const c = new EvalContext(event, options.resolver, options.user, options.now);
    const run = (): ConditionResult => {
      c.p = false;
      if (options.trace) {
        const { value, trace } = traceNode(this.node, c);
        return { value, errors: c.errors, trace };
      }
      const m: number[] = [];
      (this.fn ??= generateChunk([{ index: 0, when: this.node }]))(c, m);
      c.q = undefined;
      return { value: m.length === 1, errors: c.errors };
    };
    const first = run();
    if (!c.p) return first;
    return (async () => {
      let r = first;
      while (c.p && c.hasInflight) {
        await c.settle();
        r = run();
      }
      return r;
    })();
  }

  /** The interpreter's verdict, for callers (and tests) that want the reference path. */
  evaluateInterpreted(event: RuleEvent, options: EvaluateOptions = {}): boolean | Promise<boolean> {
    const c = new EvalContext(event, options.resolver, options.user, options.now);
    const v = evalNode(this.node, c) as boolean;
    if (!c.p) return v;
    return (async () => {
      let r = v;
      while (c.p && c.hasInflight) {
        await c.settle();
        c.p = false;
        r = evalNode(this.node, c) as boolean;
      }
      return r;
    })();
  }
}

/**
 * Compiles a single condition (tree or expression) against a catalogue. Returns every error,
 * like {@link compileRules}; `ruleId` in errors is `options.id` (default `condition`).
 */
export function compileCondition(input: ConditionTree, catalogue: Catalogue, options: ConditionCompileOptions = {}): CompileResult<Condition> {
  const ctx = compilerContext([{ conditions: options.conditions }], catalogue, options);
  const id = options.id ?? 'condition';
  const on = options.on?.length ? options.on : ['*'];
  on.forEach((t, i) => {
    if (t !== '*' && !ctx.cat.events.has(t)) ctx.errors.push(new CompileError({ code: 'UNKNOWN_EVENT_TYPE', ruleId: id, path: `on[${i}]`, message: `event type "${t}" is not declared` }));
  });
  const scope = makeScope(id, ctx.cat, on, ctx.conditions, ctx.errors, options);
  const node = checkCondition(input, 'when', scope);
  if (ctx.errors.length || !node) return { ok: false, errors: dedupeErrors(ctx.errors) };
  return { ok: true, value: new Condition(id, node, collectDependencies([node], on)) };
}
