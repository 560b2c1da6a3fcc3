import { IrNode, IrOf, render } from './ir';
import * as R from './runtime';
import { EvalContext, FactSite } from './runtime';
import { formatValue, RuleType } from './types';

const normalizers = new Map<RuleType, (v: unknown) => unknown>();
/** Memoised {@link R.normalizer}, so the interpreter never allocates per read. */
export function normalizerFor(type: RuleType): (v: unknown) => unknown {
  let n = normalizers.get(type);
  if (!n) normalizers.set(type, (n = R.normalizer(type)));
  return n;
}

const sites = new WeakMap<IrNode, FactSite>();
/** The constant-argument call site of a fact node, shared by every evaluation. */
export function factSite(n: IrOf<'fact'>): FactSite {
  let s = sites.get(n);
  if (!s) sites.set(n, (s = { key: n.constKey!, name: n.name, args: n.constArgs!, normalize: normalizerFor(n.type), type: n.type }));
  return s;
}

export function readPayload(path: readonly string[], type: RuleType, c: EvalContext): unknown {
  let o: Record<string, unknown> | undefined = c.payload;
  for (let i = 0; i < path.length - 1; i++) {
    o = R.readObj(R.own(o, path[i]));
    if (o === undefined) return undefined;
  }
  return normalizerFor(type)(R.own(o, path[path.length - 1]));
}

const ARITH = { '+': R.add, '-': R.sub, '*': R.mul, '/': R.div, '%': R.mod } as const;
const FNS = { min: R.fnMin, max: R.fnMax, abs: R.fnAbs, floor: R.fnFloor, ceil: R.fnCeil, round: R.fnRound } as const;
const CMP = {
  '==': R.eq,
  '!=': R.ne,
  '<': R.lt,
  '<=': R.le,
  '>': R.gt,
  '>=': R.ge,
  in: R.inList,
  'not in': R.notInList,
  contains: R.contains,
  starts_with: R.startsWith,
  ends_with: R.endsWith,
} as const;

/**
 * The closure-tree interpreter: evaluates an IR node against one event. It is the reference the
 * generated code is tested against, the engine behind traces, and the path for re-running rules
 * whose async facts have arrived. Values are normalised: `undefined` means missing.
 */
export function evalNode(n: IrNode, c: EvalContext): unknown {
  switch (n.k) {
    case 'lit':
      return n.value;
    case 'list':
      return n.items.map((i) => evalNode(i, c));
    case 'payload':
      return readPayload(n.path, n.type, c);
    case 'event':
      return c.eventField(n.field);
    case 'user':
      return normalizerFor(n.type)(R.own(c.user, n.attr));
    case 'now':
      return c.now;
    case 'fact':
      if (n.constKey !== undefined) return c.fact(factSite(n));
      return c.factWith(n.name, n.params, n.params.map((p) => evalNode(p.node, c)), normalizerFor(n.type), n.type);
    case 'neg':
      return R.neg(evalNode(n.arg, c));
    case 'arith':
      return ARITH[n.op](evalNode(n.left, c), evalNode(n.right, c));
    case 'fn':
      return (FNS[n.fn] as (...a: unknown[]) => unknown)(...n.args.map((a) => evalNode(a, c)));
    case 'cmp': {
      const l = evalNode(n.left, c);
      if (n.op === 'matches') return R.matches(l, n.regex!);
      return CMP[n.op](l, evalNode(n.right, c));
    }
    case 'exists':
      return R.exists(evalNode(n.arg, c));
    case 'truthy':
      return evalNode(n.arg, c) === true;
    case 'not':
      return !evalNode(n.arg, c);
    case 'and':
      for (const a of n.args) {
        if (!evalNode(a, c)) return false;
        // A pending fact decides nothing yet: stop here so no other fact is fetched speculatively.
        if (a.async && c.p) return false;
      }
      return true;
    case 'or':
      for (const a of n.args) {
        if (evalNode(a, c)) return true;
        if (a.async && c.p) return false;
      }
      return false;
  }
}

/**
 * One node of an evaluation trace. `result` is the node's outcome (`skipped` when short-circuit
 * never reached it, `pending` when an async fact had not arrived); `value` is the value the node
 * read (for comparisons, the left side); `why` explains a false outcome in the rule language,
 * e.g. `payload.amount is 38, needs > 50`. Children appear in evaluation order (cheapest first).
 */
export interface TraceNode {
  path: string;
  line?: number;
  column?: number;
  expr: string;
  result: boolean | 'skipped' | 'pending';
  value?: unknown;
  why?: string;
  children?: TraceNode[];
}

function describeValue(n: IrNode, v: unknown, c: EvalContext): string {
  const base = formatValue(v, n.type);
  if (v === undefined && n.k === 'fact') {
    const e = c.errors.find((x) => x.fact === n.name);
    if (e) return `${base} (fact failed: ${e.message})`;
  }
  return base;
}

function traceBase(n: IrNode): Pick<TraceNode, 'path' | 'line' | 'column' | 'expr'> {
  const t: Pick<TraceNode, 'path' | 'line' | 'column' | 'expr'> = { path: n.origin.path, expr: render(n) };
  if (n.origin.line !== undefined) {
    t.line = n.origin.line;
    t.column = n.origin.column;
  }
  return t;
}

/** Evaluates a boolean node like {@link evalNode} and records why it came out the way it did. */
export function traceNode(n: IrNode, c: EvalContext): { value: boolean; trace: TraceNode } {
  const base = traceBase(n);
  const done = (value: boolean, extra: Partial<TraceNode> = {}) => {
    const pending = n.async && c.p;
    return { value, trace: { ...base, result: pending ? ('pending' as const) : value, ...extra } };
  };
  switch (n.k) {
    case 'and':
    case 'or': {
      const children: TraceNode[] = [];
      let value = n.k === 'and';
      let stopped = false;
      for (const a of n.args) {
        if (stopped) {
          children.push({ ...traceBase(a), result: 'skipped' });
          continue;
        }
        const r = traceNode(a, c);
        children.push(r.trace);
        if ((n.k === 'and' && !r.value) || (a.async && c.p)) {
          value = false;
          stopped = true;
        } else if (n.k === 'or' && r.value) {
          value = true;
          stopped = true;
        }
      }
      const failed = children.find((ch) => ch.result === false && ch.why);
      const why = value ? undefined : n.k === 'and' ? failed?.why : children.length ? 'no alternative holds' : 'empty any';
      return done(value, why ? { why, children } : { children });
    }
    case 'not': {
      const r = traceNode(n.arg, c);
      const value = !r.value;
      return done(value, value ? { children: [r.trace] } : { why: `${render(n.arg)} holds`, children: [r.trace] });
    }
    case 'truthy': {
      const v = evalNode(n.arg, c);
      return done(v === true, v === true ? { value: v } : { value: v, why: `${render(n.arg)} is ${describeValue(n.arg, v, c)}, needs true` });
    }
    case 'exists': {
      const v = evalNode(n.arg, c);
      const ok = R.exists(v);
      return done(ok, ok ? { value: v } : { value: v, why: `${render(n.arg)} is ${describeValue(n.arg, v, c)}` });
    }
    case 'cmp': {
      const l = evalNode(n.left, c);
      const ok = evalNode(n, c) as boolean;
      if (ok) return done(true, { value: l });
      const r = n.right.k === 'lit' ? undefined : evalNode(n.right, c);
      const target = n.right.k === 'lit' ? render(n.right) : `${render(n.right)} (${describeValue(n.right, r, c)})`;
      return done(false, { value: l, why: `${render(n.left)} is ${describeValue(n.left, l, c)}, needs ${n.op} ${target}` });
    }
    default: {
      const v = evalNode(n, c) === true;
      return done(v, v ? {} : { why: `${render(n)} is false` });
    }
  }
}
