import { Injectable, Logger } from '@nestjs/common';
import { AppConfig, canonicalJson, ValidationError } from '@arbiter/platform';
import { currentSession } from '@arbiter/session';
import type { FactCall, FactResolver, RuleEvent } from '@arbiter/rules';
import { EVENT_LOG_WINDOWS } from './builtin/event-log.facts';
import { FactsConfig } from './config/facts-config';
import type { FactContext } from './decorators/fact.decorator';
import { FactFailedError } from './errors/fact.error';
import { factMetrics } from './facts.metrics';
import { parseFactCall, splitCalls } from './registry/call-syntax';
import { FactExplorer } from './registry/fact.explorer';
import { coerceArgs, FactRegistry, type RegisteredFact } from './registry/fact.registry';
import { isValidWindow, type WindowQuery, type WindowValue } from './events/event-log.service';
import { isThenable, memoised, sessionMemo } from './session-memo';
import { UserService, userMarker } from './users/user.service';

/** What rule evaluation needs for one user: the resolver, the loaded attributes and the call's clock. */
export interface EvaluationInputs {
  resolver: FactResolver;
  user: Record<string, unknown>;
  now: number;
}

/** The debug answer of `GET /v1/users/:id/facts`. */
export interface FactValues {
  user_id: string;
  now: string;
  facts: Record<string, { type: string; value: unknown }>;
  errors: { fact: string; message: string }[];
}

const MAX_DEBUG_FACTS = 50;

/** Windows to read ahead, and how to hand their values to the session (see {@link FactsService.prefetch}). */
export interface FactPrefetch {
  windows: WindowQuery[];
  seed(values: readonly WindowValue[] | undefined): void;
}

const NOTHING_TO_PREFETCH: FactPrefetch = Object.freeze({ windows: [], seed: () => undefined });

/**
 * The fact resolver the rules evaluator calls. Within one session a fact with the same user and
 * arguments is computed once — whichever domain asks, and even when two leaves ask at the same
 * moment (they share one promise); once settled the value comes back synchronously, so later
 * evaluations stay on the evaluator's sync path. Each computation has a time limit (the fact's
 * own or FACT_TIMEOUT_MS); a failure or timeout yields the fact's declared fallback, or rejects
 * (the leaf is then false and the evaluator reports it). Outside a session nothing is memoised.
 */
@Injectable()
export class FactsService implements FactResolver {
  private readonly logger = new Logger('Facts');
  private readonly metrics = factMetrics();
  private readonly argsKeys = new WeakMap<object, string>();

  constructor(
    private readonly registry: FactRegistry,
    private readonly explorer: FactExplorer,
    private readonly users: UserService,
    private readonly config: FactsConfig,
    private readonly app: AppConfig,
  ) {}

  /** {@link FactResolver}: the fact is about `event.user_id`. */
  resolve(fact: string, args: Record<string, unknown>, event: RuleEvent): unknown {
    const userId = typeof event?.user_id === 'string' && event.user_id !== '' ? event.user_id : undefined;
    if (!userId) throw new FactFailedError(fact, 'error', `fact "${fact}" needs the event's user_id`);
    return this.get(fact, args ?? {}, userId, event);
  }

  /** A fact's value for a user: plain when known (memo), a Promise when it has to be computed. */
  get(name: string, args: Record<string, unknown>, userId: string, event?: RuleEvent): unknown {
    this.explorer.explore();
    const found = this.registry.lookup(name);
    if (!found) throw new FactFailedError(name, 'unknown', `unknown fact "${name}"`);
    const fact = found.fact;
    const full = found.fixed ? { ...args, ...found.fixed } : args;
    if (fact.cache === 'none') return this.compute(fact, full, userId, event);
    const label = fact.definition.name;
    return memoised(memoKey(label, userId, this.argsKey(args, found.fixed, full)), () => this.compute(fact, full, userId, event), () => this.metrics.memoHits.inc(label));
  }

  /**
   * The memo key's text for a call's arguments (`full`: `args` with an alias's fixed ones). A
   * rule's constant arguments are one frozen object per call site, and an alias's are fixed: their
   * text is worked out once, not on every read of every event.
   */
  private argsKey(args: Record<string, unknown>, fixed: Readonly<Record<string, unknown>> | undefined, full: Record<string, unknown>): string {
    const stable = fixed ? (Object.keys(args).length ? undefined : fixed) : Object.isFrozen(args) ? args : undefined;
    if (!stable) return canonicalJson(full);
    let text = this.argsKeys.get(stable);
    if (text === undefined) this.argsKeys.set(stable, (text = canonicalJson(full)));
    return text;
  }

  /**
   * The event-log windows among `calls` (an event's constant fact reads, `RuleSet.factCalls`) that
   * this session has not computed: the statement that appends the event reads them too
   * (`EventLogService.append`'s `windows`), and `seed` puts the answers in the session memo, where
   * the rules find them without a wait or a statement of their own. Nothing outside a session.
   */
  prefetch(calls: readonly FactCall[], userId: string): FactPrefetch {
    const memo = sessionMemo();
    if (!memo || !calls.length) return NOTHING_TO_PREFETCH;
    this.explorer.explore();
    const now = currentSession()?.startedAt ?? Date.now();
    const keys: string[] = [];
    const labels: string[] = [];
    const windows: WindowQuery[] = [];
    for (const call of calls) {
      const found = this.registry.lookup(call.name);
      const window = found && found.fact.cache !== 'none' && Object.hasOwn(EVENT_LOG_WINDOWS, found.fact.definition.name) ? EVENT_LOG_WINDOWS[found.fact.definition.name] : undefined;
      if (!window) continue;
      const full = found!.fixed ? { ...call.args, ...found!.fixed } : call.args;
      const key = memoKey(found!.fact.definition.name, userId, this.argsKey(call.args, found!.fixed, full));
      const query = window(full, userId, now);
      if (memo.has(key) || keys.includes(key) || !isValidWindow(query)) continue;
      keys.push(key);
      labels.push(found!.fact.definition.name);
      windows.push(query);
    }
    if (!windows.length) return NOTHING_TO_PREFETCH;
    return {
      windows,
      seed: (values) => {
        if (!values) return;
        keys.forEach((key, i) => {
          if (memo.has(key)) return;
          memo.set(key, { state: 'ok', value: values[i] });
          this.metrics.prefetched.inc(labels[i]);
        });
      },
    };
  }

  /** Like {@link get}, always as a Promise. */
  async value(name: string, args: Record<string, unknown>, userId: string): Promise<unknown> {
    return this.get(name, args, userId);
  }

  /**
   * Everything `RuleSet.evaluate` needs for this user; attributes come from the session memo
   * (`loaded`: already read by the caller, see `EventLogService.append`'s `withUser`).
   */
  async evaluationInputs(userId: string, loaded?: Record<string, unknown>): Promise<EvaluationInputs> {
    return { resolver: this, user: await this.users.attributes(userId, loaded), now: currentSession()?.startedAt ?? Date.now() };
  }

  /**
   * Evaluates named facts now, for debugging: names are facts, aliases, calls such as
   * `events_count(type: "topup", within: 30d)`, `user.<attribute>` or `now`, comma-separated.
   * An unknown name or a bad call is a 400 listing each; a fact that fails is listed in `errors`.
   */
  async evaluateNamed(userId: string, names: string): Promise<FactValues> {
    this.explorer.explore();
    const list = splitCalls(names ?? '');
    const problems: string[] = [];
    if (list.length === 0) problems.push('give at least one fact name, e.g. ?names=first_seen_at,topup_count_30d');
    if (list.length > MAX_DEBUG_FACTS) problems.push(`at most ${MAX_DEBUG_FACTS} facts per call`);
    const now = currentSession()?.startedAt ?? Date.now();
    const jobs: { name: string; type: string; run: () => unknown }[] = [];
    for (const text of list.slice(0, MAX_DEBUG_FACTS)) {
      if (text === 'now') {
        jobs.push({ name: text, type: 'timestamp', run: () => now });
        continue;
      }
      if (text.startsWith('user.')) {
        const attr = text.slice(5);
        const type = this.config.attributes.get(attr);
        if (!type) problems.push(`"${text}" is not a declared user attribute (declared: ${[...this.config.attributes.keys()].join(', ') || 'none'})`);
        else jobs.push({ name: text, type, run: async () => (await this.users.attributes(userId))[attr] ?? null });
        continue;
      }
      let call;
      try {
        call = parseFactCall(text);
      } catch (err) {
        problems.push((err as Error).message);
        continue;
      }
      const found = this.registry.lookup(call.name);
      if (!found) {
        problems.push(`unknown fact "${call.name}" (known: ${this.registry.names().join(', ')}, user.<attribute>, now)`);
        continue;
      }
      const before = problems.length;
      const args = found.fixed ? (Object.keys(call.args).length ? (problems.push(`"${call.name}" is an alias and takes no arguments`), {}) : {}) : coerceArgs(found.fact, call.args, `"${text}"`, problems);
      if (problems.length > before) continue;
      jobs.push({ name: text, type: found.fact.type, run: () => this.get(call.name, args, userId) });
    }
    if (problems.length) throw new ValidationError(problems.map((message) => ({ path: 'names', message })));
    const settled = await Promise.allSettled(jobs.map(async (j) => j.run()));
    const out: FactValues = { user_id: userId, now: new Date(now).toISOString(), facts: {}, errors: [] };
    settled.forEach((s, i) => {
      const { name, type } = jobs[i];
      if (s.status === 'fulfilled') out.facts[name] = { type, value: render(type, s.value) };
      else out.errors.push({ fact: name, message: s.reason instanceof Error ? s.reason.message : String(s.reason) });
    });
    return out;
  }

  private compute(fact: RegisteredFact, args: Record<string, unknown>, userId: string, event: RuleEvent | undefined): unknown {
    const session = currentSession();
    const ctx: FactContext = { userId, event, now: session?.startedAt ?? Date.now(), session };
    const started = performance.now();
    const name = fact.definition.name;
    let raw: unknown;
    try {
      raw = fact.invoke(args, ctx);
    } catch (err) {
      return this.failed(fact, err, 'error', started);
    }
    if (!isThenable(raw)) {
      this.metrics.duration.observe({ fact: name, outcome: 'ok' }, (performance.now() - started) / 1000);
      return raw;
    }
    const limit = fact.timeoutMs ?? this.app.factTimeoutMs;
    // The first of the answer and the time limit settles it: one promise and one timer per
    // computation (this runs for every async fact of every event).
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown, reason: 'error' | 'timeout') => {
        try {
          resolve(this.failed(fact, err, reason, started));
        } catch (failure) {
          reject(failure);
        }
      };
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        fail(new FactFailedError(name, 'timeout', `fact "${name}" timed out after ${limit}ms`), 'timeout');
      }, limit);
      timer.unref?.();
      raw.then(
        (value) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.metrics.duration.observe({ fact: name, outcome: 'ok' }, (performance.now() - started) / 1000);
          resolve(value);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          fail(err, 'error');
        },
      );
    });
  }

  /** Records a failure; answers the fallback when the fact declares one, else throws. */
  private failed(fact: RegisteredFact, err: unknown, reason: 'error' | 'timeout', started: number): unknown {
    const name = fact.definition.name;
    this.metrics.errors.inc({ fact: name, reason });
    this.metrics.duration.observe({ fact: name, outcome: reason }, (performance.now() - started) / 1000);
    const detail = err instanceof Error ? err.message : String(err);
    this.logger.warn(`fact "${name}" (${fact.owner}) ${reason === 'timeout' ? 'timed out' : 'failed'}: ${detail}`);
    if (fact.hasFallback) {
      this.metrics.fallbacks.inc({ fact: name });
      return fact.fallback;
    }
    if (err instanceof FactFailedError) throw err;
    throw new FactFailedError(name, 'error', `fact "${name}" failed: ${detail.slice(0, 200)}`);
  }
}

/** A fact's entry in the session memo: the fact (an alias's target), the user, the full arguments' canonical JSON. */
const memoKey = (fact: string, userId: string, argsKey: string) => `${fact}${userMarker(userId)}${argsKey}`;

function render(type: string, value: unknown): unknown {
  if (value === undefined) return null;
  if (type === 'timestamp' && typeof value === 'number') return new Date(value).toISOString();
  if (type === 'timestamp' && value instanceof Date) return value.toISOString();
  return value;
}
