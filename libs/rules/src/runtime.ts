import { IrOf } from './ir';
import { formatValue, isList, parseDuration, RuleType } from './types';

/**
 * The event shape rules evaluate. `occurred_at` may be an ISO string, a Date or epoch
 * milliseconds; payload fields declared `timestamp` are read the same way.
 */
export interface RuleEvent {
  id: string;
  type: string;
  user_id: string;
  source?: string;
  occurred_at: string | Date | number;
  payload: object;
}

/**
 * Implemented by the caller (the facts lib): resolves computed facts. Return a plain value when
 * it is already known — the evaluator then stays synchronous — or a Promise when it must be
 * fetched. A throw or a rejection makes the fact's leaves false and is listed in `errors`; it
 * never stops other rules. This is where the per-session memo lives; timeouts are the
 * resolver's concern (reject when one fires).
 */
export interface FactResolver {
  resolve(fact: string, args: Record<string, unknown>, event: RuleEvent): unknown;
}

/** A fact that failed (threw, rejected, returned the wrong type) or a formula that could not be computed. */
export interface EvalError {
  kind: 'fact' | 'formula';
  /** The fact name for `kind: 'fact'`. */
  fact?: string;
  /** The rule whose action param, score or extension could not be computed. */
  ruleId?: string;
  message: string;
}

/** Options common to rule-set and condition evaluation. */
export interface EvaluateOptions {
  resolver?: FactResolver;
  /** Preloaded user attributes read by `user.<attr>`. */
  user?: Record<string, unknown>;
  /** The clock for `now`, epoch ms or Date; defaults to `Date.now()` at evaluation start. */
  now?: number | Date;
  /** Record a per-node trace with "why not" explanations (slower path). */
  trace?: boolean;
}

const hasOwn = Object.hasOwn;
export const EMPTY: object = Object.freeze(Object.create(null));
const NO_ERRORS: readonly EvalError[] = Object.freeze([]);
/** Sentinel for "not read yet" in generated code, distinct from every fact value including undefined. */
export const NONE: unique symbol = Symbol('none');

/**
 * An object to read fields from, or undefined. Objects with an unusual prototype (class
 * instances, objects inheriting data) are replaced by a copy of their own enumerable
 * properties, so inherited values can never be read as payload fields.
 */
export function readObj(v: unknown): Record<string, unknown> | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null ? (v as Record<string, unknown>) : { ...(v as Record<string, unknown>) };
}

/** Own-property read: the only way evaluation ever looks into caller data. */
export function own(o: Record<string, unknown> | undefined, key: string): unknown {
  return o !== undefined && hasOwn(o, key) ? o[key] : undefined;
}

export function toNum(v: unknown): number | null | undefined {
  return typeof v === 'number' ? (v === v ? v : undefined) : v === null ? null : undefined;
}
export function toStr(v: unknown): string | null | undefined {
  return typeof v === 'string' ? v : v === null ? null : undefined;
}
export function toBool(v: unknown): boolean | null | undefined {
  return typeof v === 'boolean' ? v : v === null ? null : undefined;
}
export function toTs(v: unknown): number | null | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string') {
    const ms = Date.parse(v);
    return ms === ms ? ms : undefined;
  }
  if (v instanceof Date) {
    const ms = v.getTime();
    return ms === ms ? ms : undefined;
  }
  return v === null ? null : undefined;
}
export function toDur(v: unknown): number | null | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string') return parseDuration(v);
  return v === null ? null : undefined;
}
export function toObj(v: unknown): unknown {
  return typeof v === 'object' && v !== null ? v : v === null ? null : undefined;
}

const SCALAR: Record<string, (v: unknown) => unknown> = { number: toNum, string: toStr, boolean: toBool, timestamp: toTs, duration: toDur, object: toObj };

/** Returns the function that maps a raw value to the declared type, `null`, or `undefined` (missing / wrong type). */
export function normalizer(type: RuleType): (v: unknown) => unknown {
  if (!isList(type)) return SCALAR[type] ?? ((v: unknown) => v);
  const inner = type.slice(5, -1);
  const item = SCALAR[inner];
  if (inner === 'timestamp' || inner === 'duration') {
    return (v) => (Array.isArray(v) ? v.map(item) : v === null ? null : undefined);
  }
  return (v) => (Array.isArray(v) ? v : v === null ? null : undefined);
}

// Operator semantics shared by the interpreter and the generated code: missing (undefined)
// operands make a comparison false, null equals only null, and no value is ever coerced.
export function eq(a: unknown, b: unknown): boolean {
  return a !== undefined && b !== undefined && a === b;
}
export function ne(a: unknown, b: unknown): boolean {
  return a !== undefined && b !== undefined && a !== b;
}
function ordered(a: unknown, b: unknown): boolean {
  return (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string');
}
export function lt(a: unknown, b: unknown): boolean {
  return ordered(a, b) && (a as number) < (b as number);
}
export function le(a: unknown, b: unknown): boolean {
  return ordered(a, b) && (a as number) <= (b as number);
}
export function gt(a: unknown, b: unknown): boolean {
  return ordered(a, b) && (a as number) > (b as number);
}
export function ge(a: unknown, b: unknown): boolean {
  return ordered(a, b) && (a as number) >= (b as number);
}
export function inList(a: unknown, list: unknown): boolean {
  return a !== undefined && Array.isArray(list) && list.includes(a);
}
export function notInList(a: unknown, list: unknown): boolean {
  return a !== undefined && Array.isArray(list) && !list.includes(a);
}
export function contains(a: unknown, b: unknown): boolean {
  if (typeof a === 'string') return typeof b === 'string' && a.includes(b);
  return Array.isArray(a) && b !== undefined && a.includes(b);
}
export function startsWith(a: unknown, b: unknown): boolean {
  return typeof a === 'string' && typeof b === 'string' && a.startsWith(b);
}
export function endsWith(a: unknown, b: unknown): boolean {
  return typeof a === 'string' && typeof b === 'string' && a.endsWith(b);
}
export function matches(a: unknown, re: RegExp): boolean {
  return typeof a === 'string' && re.test(a);
}
export function exists(a: unknown): boolean {
  return a !== undefined && a !== null;
}

function finite(x: number): number | undefined {
  return x === x && x !== Infinity && x !== -Infinity ? x : undefined;
}
export function add(a: unknown, b: unknown): number | undefined {
  return typeof a === 'number' && typeof b === 'number' ? finite(a + b) : undefined;
}
export function sub(a: unknown, b: unknown): number | undefined {
  return typeof a === 'number' && typeof b === 'number' ? finite(a - b) : undefined;
}
export function mul(a: unknown, b: unknown): number | undefined {
  return typeof a === 'number' && typeof b === 'number' ? finite(a * b) : undefined;
}
export function div(a: unknown, b: unknown): number | undefined {
  return typeof a === 'number' && typeof b === 'number' ? finite(a / b) : undefined;
}
export function mod(a: unknown, b: unknown): number | undefined {
  return typeof a === 'number' && typeof b === 'number' ? finite(a % b) : undefined;
}
export function neg(a: unknown): number | undefined {
  return typeof a === 'number' ? -a : undefined;
}
export function fnMin(...xs: unknown[]): number | undefined {
  for (const x of xs) if (typeof x !== 'number') return undefined;
  return Math.min(...(xs as number[]));
}
export function fnMax(...xs: unknown[]): number | undefined {
  for (const x of xs) if (typeof x !== 'number') return undefined;
  return Math.max(...(xs as number[]));
}
export function fnAbs(x: unknown): number | undefined {
  return typeof x === 'number' ? Math.abs(x) : undefined;
}
export function fnFloor(x: unknown): number | undefined {
  return typeof x === 'number' ? Math.floor(x) : undefined;
}
export function fnCeil(x: unknown): number | undefined {
  return typeof x === 'number' ? Math.ceil(x) : undefined;
}
/** `round(x)` or `round(x, digits)`; halves round away from zero so money never drifts by sign. */
export function fnRound(x: unknown, digits?: unknown): number | undefined {
  if (typeof x !== 'number') return undefined;
  if (digits === undefined) return Math.sign(x) * Math.round(Math.abs(x));
  if (typeof digits !== 'number') return undefined;
  const f = 10 ** Math.max(0, Math.min(12, Math.trunc(digits)));
  return finite((Math.sign(x) * Math.round(Math.abs(x) * f)) / f);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** A fact call site with its arguments already known at compile time. */
export interface FactSite {
  key: string;
  name: string;
  args: Record<string, unknown>;
  normalize: (v: unknown) => unknown;
  type: RuleType;
}

/**
 * Per-evaluation state: the event, the clock, the fact cache and the pending flag. Evaluation is
 * restartable: when a fact comes back as a Promise, the leaf reads as missing, `p` is set, and the
 * driver awaits the in-flight fetches and re-runs only the rules that were pending — so rules
 * whose facts are synchronous never see a Promise.
 */
export class EvalContext {
  readonly payload: Record<string, unknown>;
  readonly user: Record<string, unknown>;
  /** Set when a fact needed by the current rule is still being fetched. */
  p = false;
  /** Rules to re-run after in-flight fetches settle (indexes into the running bucket); allocated on first need. */
  q: number[] | undefined = undefined;
  private errs: EvalError[] | undefined = undefined;
  private values: Map<string, unknown> | undefined = undefined;
  private inflight: Map<string, Promise<void>> | undefined = undefined;
  private occurred: number | null | undefined | false = false;
  private clock: number | Date | undefined;

  constructor(readonly event: RuleEvent, readonly resolver: FactResolver | undefined, user: Record<string, unknown> | undefined, now: number | Date | undefined) {
    this.payload = readObj(event?.payload) ?? (EMPTY as Record<string, unknown>);
    this.user = user === undefined ? (EMPTY as Record<string, unknown>) : readObj(user) ?? (EMPTY as Record<string, unknown>);
    this.clock = now;
  }

  /** The evaluation's clock, read once: most events never need it, and Date.now() is not free. */
  get now(): number {
    const c = this.clock;
    if (typeof c === 'number') return c;
    const ms = c === undefined ? Date.now() : c.getTime();
    this.clock = ms;
    return ms;
  }

  /** Marks a rule to re-run once the in-flight fetches settle. */
  pend(index: number): void {
    (this.q ??= []).push(index);
  }

  /** Errors so far; a shared frozen empty list when there are none. */
  get errors(): EvalError[] {
    return this.errs ?? (NO_ERRORS as EvalError[]);
  }

  report(e: EvalError): void {
    (this.errs ??= []).push(e);
  }

  eventField(field: string): unknown {
    const e = this.event as unknown as Record<string, unknown>;
    if (field === 'occurred_at') {
      if (this.occurred === false) this.occurred = toTs(own(e, 'occurred_at'));
      return this.occurred;
    }
    return toStr(own(e, field));
  }

  get hasInflight(): boolean {
    return this.inflight !== undefined && this.inflight.size > 0;
  }

  /** Waits for every in-flight fetch; their values (or failures) are then in the cache. */
  settle(): Promise<unknown> {
    const m = this.inflight;
    this.inflight = undefined;
    if (m === undefined) return Promise.resolve();
    // One fetch is the common case; awaiting it directly saves a Promise.all round.
    if (m.size === 1) return m.values().next().value!;
    return Promise.all(m.values());
  }

  /** Reads a fact whose arguments are compile-time constants. */
  fact(site: FactSite): unknown {
    const values = this.values;
    if (values !== undefined) {
      const v = values.get(site.key);
      if (v !== undefined || values.has(site.key)) return v;
    }
    return this.fetch(site.key, site.name, site.args, site.normalize, site.type);
  }

  /** Reads a fact whose arguments were computed for this event; a missing required argument makes the fact missing. */
  factWith(name: string, params: IrOf<'fact'>['params'], args: unknown[], normalize: (v: unknown) => unknown, type: RuleType): unknown {
    const obj: Record<string, unknown> = {};
    for (let i = 0; i < params.length; i++) {
      const a = args[i];
      if (a === undefined) {
        if (params[i].optional) continue;
        return undefined;
      }
      obj[params[i].name] = a;
    }
    const key = `${name}\u0000${JSON.stringify(obj)}`;
    const values = this.values;
    if (values !== undefined) {
      const v = values.get(key);
      if (v !== undefined || values.has(key)) return v;
    }
    return this.fetch(key, name, obj, normalize, type);
  }

  private fetch(key: string, name: string, args: Record<string, unknown>, normalize: (v: unknown) => unknown, type: RuleType): unknown {
    if (this.inflight?.has(key)) {
      this.p = true;
      return undefined;
    }
    const values = (this.values ??= new Map());
    if (!this.resolver) {
      this.fail(name, 'no fact resolver was given');
      values.set(key, undefined);
      return undefined;
    }
    let raw: unknown;
    try {
      raw = this.resolver.resolve(name, args, this.event);
    } catch (err) {
      this.fail(name, err);
      values.set(key, undefined);
      return undefined;
    }
    if (isThenable(raw)) {
      const done = (raw instanceof Promise ? raw : Promise.resolve(raw)).then(
        (v) => void values.set(key, this.accept(name, v, normalize, type)),
        (err: unknown) => {
          this.fail(name, err);
          values.set(key, undefined);
        },
      );
      (this.inflight ??= new Map()).set(key, done);
      this.p = true;
      return undefined;
    }
    const v = this.accept(name, raw, normalize, type);
    values.set(key, v);
    return v;
  }

  private accept(name: string, raw: unknown, normalize: (v: unknown) => unknown, type: RuleType): unknown {
    const v = normalize(raw);
    if (v === undefined && raw !== undefined) this.fail(name, `returned ${formatValue(raw)}, expected ${type}`);
    return v;
  }

  fail(fact: string, err: unknown): void {
    const message = err instanceof Error ? err.message : typeof err === 'string' ? err : formatValue(err);
    this.report({ kind: 'fact', fact, message });
  }
}
