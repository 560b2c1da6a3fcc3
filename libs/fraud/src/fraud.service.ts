import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { counter, timeOrderedId, type CarriedRead, type CarriedRow } from '@arbiter/platform';
import { ruleMatches } from '@arbiter/ingestion';
import { FactFailedError, FactsService, type EvaluationInputs } from '@arbiter/facts';
import { RuleSetService } from '@arbiter/ruleset';
import { currentSession, sessionValue } from '@arbiter/session';
import type { EvalError, FactResolver, RuleEvent, RuleMatch, RuleSet } from '@arbiter/rules';
import { FraudConfig } from './config/fraud-config';
import { decide, type FraudReason, type MatchedFraudRule } from './decide';
import { FraudDecisionRepository, type StoredDecision } from './decisions/fraud-decision.repository';
import { FRAUD_DOMAIN, isOutcome, type FraudOutcome } from './fraud.constants';
import { FraudOverridesRepository, type Overrides } from './overrides/fraud-overrides.repository';

/** The event fraud assesses (the pipeline's event; `id` is needed only to store the decision). */
export interface FraudEvent {
  id: string;
  type: string;
  user_id: string;
  source?: string;
  occurred_at?: string;
  session_id?: string;
  payload: Record<string, unknown>;
}

/** Fraud's answer for one event. `decision_id` is set when it was stored. */
export interface FraudDecision {
  outcome: FraudOutcome;
  score: number;
  reasons: FraudReason[];
  matched: MatchedFraudRule[];
  /** Every fact the fraud rules read, by call (`events_count({"type":"topup","within":600000})`, `user.country`). */
  facts: Record<string, unknown>;
  check: boolean;
  decision_id?: string;
}

export interface AssessOptions {
  /** Store the decision (the pipeline and /v1/fraud/check do; the `fraud.*` facts outside the pipeline do not). */
  store: boolean;
  /** Flags a stored decision as a check (POST /v1/fraud/check) rather than a pipeline decision. */
  check?: boolean;
  /** The call's evaluation inputs when the caller already has them (the pipeline stage). */
  inputs?: EvaluationInputs;
  /**
   * Do not write the decision: hand it back as a row (`carry`) for the caller's own statement to
   * write (the pipeline stage: it lands with the event's outcome). Its id is set on the decision.
   */
  carryStore?: boolean;
}

/** {@link FraudDecision} plus what the stage needs: the live matches (to run their actions) and evaluation errors. */
export interface FraudAssessment {
  decision: FraudDecision;
  live: RuleMatch[];
  errors: EvalError[];
  /** With `carryStore`: the decision as a row to write. */
  carry?: CarriedRow;
}

/**
 * The fraud assessment: evaluates the `fraud` rules against an event, then decides (score = sum of
 * the live matched rules' scores, outcome = the strongest of the thresholds of CONFIG_DIR/fraud.yaml
 * and the rules' direct outcomes, approve for an allow-listed user, snoozed rules skipped) and
 * optionally stores the decision with the rules that matched and the facts they read. It never
 * runs actions and never records the decision in the session: the pipeline stage does both.
 */
@Injectable()
export class FraudService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Fraud');
  private readonly decisionsCounter = counter({ name: 'arbiter_fraud_decisions_total', help: 'Fraud decisions by outcome and kind (pipeline, check, preview)', labelNames: ['outcome', 'kind'] as const });
  private readonly attributesCache = new WeakMap<RuleSet, Map<string, string[]>>();
  private readonly matchesCounter = ruleMatches();

  constructor(
    private readonly rules: RuleSetService,
    private readonly facts: FactsService,
    private readonly config: FraudConfig,
    private readonly overrides: FraudOverridesRepository,
    private readonly decisions: FraudDecisionRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.rules.onSwap((snap) => this.vet(snap.ruleSet));
    this.vet(this.rules.current());
  }

  /** Assesses `event`; see {@link FraudService}. */
  async assess(event: FraudEvent, options: AssessOptions): Promise<FraudDecision> {
    return (await this.run(event, options)).decision;
  }

  /** {@link assess} with the live matches and evaluation errors (for the pipeline stage). */
  async run(event: FraudEvent, options: AssessOptions): Promise<FraudAssessment> {
    const ruleSet = this.rules.current();
    const inputs = options.inputs ?? (await this.facts.evaluationInputs(event.user_id));
    const read: Record<string, unknown> = {};
    const resolver = recording(inputs.resolver, read);
    // Snoozes and allow lists change only a decision that has matches. When the type has fraud
    // rules, they are read while the rules wait on their facts (one wait instead of two in a row)
    // — in the pipeline, while the event was appended (readOverridesEarly).
    const early = takeEarlyOverrides(event) ?? (hasFraudRules(ruleSet, event.type) ? this.readOverrides(event, inputs) : undefined);
    early?.catch(() => undefined); // awaited below when a rule matched
    const evaluated = await ruleSet.evaluate(event as RuleEvent, { domain: FRAUD_DOMAIN, resolver, user: inputs.user, now: inputs.now });
    const matches = evaluated.matches;
    const { snoozed, allowListed } = matches.length ? await (early ?? this.readOverrides(event, inputs)) : { snoozed: undefined, allowListed: undefined };
    const decided = decide({ matches, thresholds: this.config.thresholdsFor(event.type), snoozed, allowListed });
    for (const attr of this.attributesRead(ruleSet, event.type)) read[`user.${attr}`] = inputs.user[attr] ?? null;
    const decision: FraudDecision = { outcome: decided.outcome, score: decided.score, reasons: decided.reasons, matched: decided.matched, facts: read, check: options.check === true };
    let carry: CarriedRow | undefined;
    if (options.store) {
      const row = { id: timeOrderedId(), eventId: event.id, eventType: event.type, userId: event.user_id, isCheck: options.check === true, score: decision.score, outcome: decision.outcome, matched: decision.matched, reasons: decision.reasons, facts: read, event: options.check === true ? event : null };
      if (options.carryStore && !options.check) {
        carry = this.decisions.carried(row);
        decision.decision_id = row.id;
      } else {
        decision.decision_id = await this.decisions.insert(row);
      }
    }
    this.decisionsCounter.inc({ outcome: decision.outcome, kind: options.check ? 'check' : options.store ? 'pipeline' : 'preview' });
    if (options.store && !options.check) for (const m of decided.matched) this.matchesCounter.inc(m.rule_id, FRAUD_DOMAIN);
    const liveIds = new Set(decided.live);
    return { decision, live: matches.filter((m) => liveIds.has(m.ruleId)), errors: evaluated.errors, carry };
  }

  /** The decision stored for an event by the pipeline (whichever delivery of it stored one first). */
  pipelineDecision(eventId: string): Promise<StoredDecision | undefined> {
    return this.decisions.forEvent(eventId);
  }

  private readOverrides(event: FraudEvent, inputs: EvaluationInputs): Promise<Overrides> {
    return this.overrides.read(event.user_id, new Date(inputs.now), identities(event, inputs.user));
  }

  /**
   * The read of the user's snoozes and allow lists for an event about to be appended, when its
   * type has fraud rules, for the append's statement to run: the next {@link run} for that event
   * in this session uses the answer. The user's attributes are not loaded yet, so the statement
   * looks up the stored email itself.
   */
  readOverridesEarly(event: FraudEvent, ruleSet: RuleSet): CarriedRead[] {
    if (!hasFraudRules(ruleSet, event.type)) return [];
    const now = currentSession()?.startedAt;
    const early = sessionValue(EARLY_OVERRIDES, () => new Map<string, Promise<Overrides>>());
    if (now === undefined || !early) return [];
    const { read, answer } = this.overrides.carried(event.user_id, new Date(now), [event.user_id], { storedEmail: true });
    answer.catch(() => undefined); // a repeated event never asks for it
    early.set(earlyKey(event), answer);
    return [read];
  }

  /** The user attributes the fraud rules of `type` read (worked out once per rule set and type). */
  private attributesRead(ruleSet: RuleSet, type: string): string[] {
    let byType = this.attributesCache.get(ruleSet);
    if (!byType) this.attributesCache.set(ruleSet, (byType = new Map()));
    let attrs = byType.get(type);
    if (!attrs) {
      attrs = [...new Set(ruleSet.rulesFor(type, FRAUD_DOMAIN).flatMap((r) => r.dependencies.userAttributes))];
      // Event types are the clients' to choose: keep the cache bounded.
      if (byType.size < 1000) byType.set(type, attrs);
    }
    return attrs;
  }

  /**
   * Fraud rules must not read `fraud.*` (the decision they are computing) and their `outcome` must
   * be a fraud outcome. The rules lib has no per-domain validation hook, so such rules load; this
   * says so loudly at every load, and the evaluation treats them safely (the fact fails, the
   * outcome is ignored and reported in the decision's reasons).
   */
  private vet(ruleSet: RuleSet): void {
    for (const rule of ruleSet.rules) {
      if (rule.domain !== FRAUD_DOMAIN) continue;
      const selfRefs = rule.dependencies.facts.filter((f) => f.startsWith('fraud.'));
      if (selfRefs.length) this.logger.error(`fraud rule "${rule.id}" reads ${selfRefs.join(', ')}: fraud rules cannot read their own decision; those leaves will be false`);
      const outcome = rule.fields.outcome;
      if (outcome !== undefined && !isOutcome(outcome)) this.logger.error(`fraud rule "${rule.id}" has outcome ${JSON.stringify(outcome)}: expected approve, review or decline; it will be ignored`);
    }
  }
}

/**
 * Wraps a resolver to note every computed fact it answers (keyed by call), keeping sync answers
 * sync. It refuses `fraud.*`: a fraud rule reading the decision it is computing would wait for itself.
 */
function recording(inner: FactResolver, read: Record<string, unknown>): FactResolver {
  return {
    resolve(fact, args, event) {
      if (fact.startsWith(`${FRAUD_DOMAIN}.`)) throw new FactFailedError(fact, 'error', `fraud rules cannot read ${fact}: it is the decision they are computing`);
      const key = args && Object.keys(args).length ? `${fact}(${JSON.stringify(args)})` : fact;
      const value = inner.resolve(fact, args, event);
      if (value instanceof Promise) {
        return value.then((v) => {
          read[key] = v ?? null;
          return v;
        });
      }
      read[key] = value ?? null;
      return value;
    },
  };
}

const EARLY_OVERRIDES = Symbol('arbiter.fraud.early-overrides');
const earlyKey = (event: FraudEvent) => `${event.id}\u0000${event.user_id}`;

const hasFraudRules = (ruleSet: RuleSet, type: string) => ruleSet.rulesFor(type, FRAUD_DOMAIN).length > 0;

/** The read {@link FraudService.readOverridesEarly} started for this event in this session, once. */
function takeEarlyOverrides(event: FraudEvent): Promise<Overrides> | undefined {
  const early = currentSession()?.bag.get(EARLY_OVERRIDES) as Map<string, Promise<Overrides>> | undefined;
  const read = early?.get(earlyKey(event));
  if (read) early!.delete(earlyKey(event));
  return read;
}

/** The values that can put a user on an allow list: the user id, and the user's email when known. */
function identities(event: FraudEvent, user: Record<string, unknown>): string[] {
  const out = [event.user_id];
  if (typeof user.email === 'string' && user.email) out.push(user.email);
  return out;
}
