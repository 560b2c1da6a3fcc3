import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CatalogueService, FactsService, type EvaluationInputs } from '@arbiter/facts';
import { ValidationError } from '@arbiter/platform';
import { compileCondition, Condition, type Catalogue, type CompileErrorInfo, type RuleEvent, type TraceNode } from '@arbiter/rules';
import { decisionOf } from '@arbiter/session';
import type { Campaign, Reward } from '../campaigns/campaign.model';
import { CampaignRepository, type PromoCode } from '../campaigns/campaign.repository';
import { formatMoney } from '../money';
import { parseCheckout, type CheckoutRequest } from './checkout.input';
import { bestCombination, type Combination, type Offer } from './stacking';

/** Why a code or campaign does not apply: a stable `code` and a sentence for people. */
export interface Reason {
  code: string;
  message: string;
  campaign_id?: string;
}

/** One campaign checked against one order. */
export interface CampaignCheck extends Offer {
  campaign: Campaign;
  ok: boolean;
  reasons: Reason[];
  freeShipping: boolean;
}

/** Fraud's verdict as promo read it; `available: false` when no fraud plugin provides `fraud.outcome`. */
export interface FraudView {
  available: boolean;
  outcome: string | null;
  score: number | null;
  error?: string;
}

/** Everything validate, redeem and the pipeline stage need to know about one checkout. */
export interface Evaluation {
  request: CheckoutRequest;
  event: RuleEvent;
  now: number;
  code?: PromoCode;
  fraud: FraudView;
  /** Reasons that hold for every campaign (fraud decline, unknown or expired code). */
  global: Reason[];
  checks: CampaignCheck[];
  best: Combination<CampaignCheck>;
}

/** The constraint reasons re-checked under lock by redeem; everything else is decided before. */
export const LIMIT_REASONS = new Set(['limit_exhausted', 'per_user_limit_exhausted', 'budget_exhausted', 'code_exhausted']);

/** Campaign rules are compiled for `checkout` events (the only event promo answers for). */
const ON = ['checkout'] as const;

/**
 * Decides which campaigns apply to a checkout, and why the others do not, without changing
 * anything. Eligibility rules are compiled once per campaign version and catalogue, evaluated with
 * the facts resolver of the caller's session (so `fraud.outcome` and every other fact are shared
 * with the pipeline), and explained with the evaluator's "why not" traces. Limits are read as they
 * stand; redeem re-checks them under row locks.
 */
@Injectable()
export class PromoEngine {
  private readonly logger = new Logger('Promo');
  private readonly compiled = new Map<string, { version: number; catalogue: Catalogue; result: { condition?: Condition; errors?: CompileErrorInfo[] } }>();
  private warnedNoFraud = false;

  constructor(
    private readonly catalogue: CatalogueService,
    private readonly facts: FactsService,
    private readonly campaigns: CampaignRepository,
  ) {}

  /** Compiles an eligibility rule against the current catalogue: every error, or the condition. */
  compile(id: string, eligibility: Campaign['eligibility']): { condition?: Condition; errors?: CompileErrorInfo[] } {
    if (eligibility === null) return {};
    const r = compileCondition(eligibility, this.catalogue.catalogue(), { on: ON, id: `campaign:${id}` });
    return r.ok ? { condition: r.value } : { errors: r.errors.map((e) => e.toJSON()) };
  }

  /**
   * Parses a validate/redeem body (400 with field paths) and checks the order against the declared
   * `checkout` event type, so a field of the wrong type is a 400 too instead of a silently false rule.
   */
  parse(body: unknown): CheckoutRequest {
    const req = parseCheckout(body);
    const problems = this.catalogue.validatePayload('checkout', { order: req.order.payload, ...(req.code !== undefined ? { coupon: req.code } : {}) }, 'payload');
    if (problems.length) throw new ValidationError(problems.map((p) => ({ path: p.path.replace(/^payload\.coupon/, 'code').replace(/^payload\./, ''), message: p.message })));
    return req;
  }

  /** The checkout event rules see for a validate/redeem call (never stored). */
  checkoutEvent(req: CheckoutRequest, now: number): RuleEvent {
    const payload: Record<string, unknown> = { order: req.order.payload };
    if (req.code !== undefined) payload.coupon = req.code;
    return { id: `promo-check-${randomUUID()}`, type: 'checkout', user_id: req.userId, source: 'promo', occurred_at: new Date(now).toISOString(), payload };
  }

  /**
   * Evaluates a checkout: with a code, its campaign; without, every active automatic campaign and
   * the best combination. `inputs` and `event` come from the pipeline when it runs the stage.
   */
  async evaluate(req: CheckoutRequest, options: { inputs?: EvaluationInputs; event?: RuleEvent; explain?: boolean } = {}): Promise<Evaluation> {
    const inputs = options.inputs ?? (await this.facts.evaluationInputs(req.userId));
    const now = inputs.now;
    const event = options.event ?? this.checkoutEvent(req, now);
    const global: Reason[] = [];
    const fraud = await this.fraud(req.userId, event);
    if (fraud.outcome === 'decline') global.push({ code: 'fraud_declined', message: `fraud declined this checkout (score ${fraud.score ?? 'unknown'})` });

    let candidates: Campaign[] = [];
    let code: PromoCode | undefined;
    if (req.code !== undefined) {
      code = await this.campaigns.findCode(req.code);
      if (!code) global.push({ code: 'code_not_found', message: `code ${req.code} does not exist` });
      else {
        if (code.expiresAt && code.expiresAt.getTime() <= now) global.push({ code: 'code_expired', message: `code ${code.code} expired at ${code.expiresAt.toISOString()}` });
        if (code.maxUses !== null && code.used >= code.maxUses) global.push({ code: 'code_exhausted', message: `code ${code.code} was used ${code.used} of ${code.maxUses} times` });
        const c = await this.campaigns.find(code.campaignId);
        if (c) candidates = [c];
      }
    } else {
      candidates = await this.campaigns.automatic();
    }
    const usage = await this.campaigns.userUsage(candidates.map((c) => c.id), req.userId);
    const checks: CampaignCheck[] = [];
    for (const c of candidates) checks.push(await this.check(c, req, event, inputs, usage.get(c.id) ?? 0, options.explain !== false));
    const usable = global.length ? [] : checks.filter((c) => c.ok);
    return { request: req, event, now, code, fraud, global, checks, best: bestCombination(usable, req.order.amountMinor) };
  }

  /** Every reason one campaign does not apply to this order, or ok with its discount. */
  private async check(c: Campaign, req: CheckoutRequest, event: RuleEvent, inputs: EvaluationInputs, userUsed: number, explain: boolean): Promise<CampaignCheck> {
    const reasons: Reason[] = [];
    const r = (code: string, message: string) => reasons.push({ code, message, campaign_id: c.id });
    const now = inputs.now;
    if (c.status !== 'active') r('campaign_not_active', `campaign "${c.name}" is ${c.status}`);
    if (c.startsAt && c.startsAt.getTime() > now) r('campaign_not_started', `campaign "${c.name}" starts at ${c.startsAt.toISOString()}`);
    if (c.endsAt && c.endsAt.getTime() <= now) r('campaign_ended', `campaign "${c.name}" ended at ${c.endsAt.toISOString()}`);
    if (c.currency && c.currency !== req.order.currency) r('currency_mismatch', `campaign "${c.name}" is for orders in ${c.currency}, this order is in ${req.order.currency}`);
    const value = rewardValue(c.reward, req.order.amountMinor, req.order.shippingMinor);
    reasons.push(...limitReasons(c, userUsed, value.discountMinor));
    const compiled = this.compiledFor(c);
    if (compiled.errors) r('eligibility_invalid', `the eligibility rule no longer compiles: ${compiled.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    else if (compiled.condition) {
      const result = await compiled.condition.evaluate(event, { resolver: inputs.resolver, user: inputs.user, now });
      for (const e of result.errors) r('fact_failed', e.message);
      if (!result.value) {
        const whys = explain ? await this.whyNot(compiled.condition, event, inputs) : [];
        if (whys.length === 0) r('not_eligible', `the eligibility rule of "${c.name}" does not hold`);
        for (const why of whys) r('not_eligible', why);
      }
    }
    return { campaign: c, campaignId: c.id, stacking: c.stacking, priority: c.priority, ok: reasons.length === 0, reasons, ...value };
  }

  /**
   * Every failed condition of a false eligibility rule. The evaluator stops an `all` at its first
   * false leaf, so each top-level conjunct is traced on its own to report all of them at once.
   */
  private async whyNot(condition: Condition, event: RuleEvent, inputs: EvaluationInputs): Promise<string[]> {
    const parts = condition.node.k === 'and' ? condition.node.args.map((n, i) => new Condition(`${condition.id}#${i}`, n, condition.dependencies)) : [condition];
    const out: string[] = [];
    for (const part of parts) {
      const res = await part.evaluate(event, { resolver: inputs.resolver, user: inputs.user, now: inputs.now, trace: true });
      if (!res.value && res.trace) out.push(...explainTrace(res.trace));
    }
    return out;
  }

  private compiledFor(c: Campaign): { condition?: Condition; errors?: CompileErrorInfo[] } {
    const catalogue = this.catalogue.catalogue();
    const hit = this.compiled.get(c.id);
    if (hit && hit.version === c.version && hit.catalogue === catalogue) return hit.result;
    const result = this.compile(c.id, c.eligibility);
    this.compiled.set(c.id, { version: c.version, catalogue, result });
    return result;
  }

  /**
   * Fraud's verdict on this checkout. Inside the pipeline the decision recorded in the session
   * wins; outside it the `fraud.outcome` fact computes it for this event. Without a fraud plugin
   * the check is reported unavailable (and logged once) instead of silently passing as approve.
   */
  async fraud(userId: string, event: RuleEvent): Promise<FraudView> {
    const recorded = decisionOf<{ outcome?: string; score?: number }>('fraud');
    if (recorded && typeof recorded.outcome === 'string') return { available: true, outcome: recorded.outcome, score: typeof recorded.score === 'number' ? recorded.score : null };
    let outcome: unknown;
    try {
      outcome = await this.facts.get('fraud.outcome', {}, userId, event);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/unknown fact/.test(message)) {
        if (!this.warnedNoFraud) this.logger.warn('fact "fraud.outcome" is not registered (no fraud plugin): promo cannot refuse fraud-declined checkouts');
        this.warnedNoFraud = true;
        return { available: false, outcome: null, score: null, error: 'fact "fraud.outcome" is not registered: install the fraud plugin (libs/fraud) to refuse fraud-declined users' };
      }
      return { available: false, outcome: null, score: null, error: `fraud check failed: ${message}` };
    }
    let score: number | null = null;
    try {
      const s = await this.facts.get('fraud.score', {}, userId, event);
      score = typeof s === 'number' ? s : null;
    } catch {
      score = null;
    }
    return { available: true, outcome: typeof outcome === 'string' ? outcome : null, score };
  }
}

/** Reasons from the limits as they stand (used: redemptions so far; userUsed: this user's). */
export function limitReasons(c: Campaign, userUsed: number, discountMinor: number): Reason[] {
  const reasons: Reason[] = [];
  const r = (code: string, message: string) => reasons.push({ code, message, campaign_id: c.id });
  if (c.maxRedemptions !== null && c.used >= c.maxRedemptions) r('limit_exhausted', `campaign "${c.name}" reached its limit of ${c.maxRedemptions} redemptions`);
  if (c.perUserLimit !== null && userUsed >= c.perUserLimit) r('per_user_limit_exhausted', `this user already redeemed campaign "${c.name}" ${userUsed} of ${c.perUserLimit} times`);
  if (c.budgetMinor !== null && c.spentMinor + discountMinor > c.budgetMinor) {
    r('budget_exhausted', `campaign "${c.name}" has ${formatMoney(Math.max(0, c.budgetMinor - c.spentMinor), c.currency)} of budget left, this discount is ${formatMoney(discountMinor, c.currency)}`);
  }
  return reasons;
}

/** What a reward is worth on this order, never more than the order amount. */
export function rewardValue(reward: Reward, amountMinor: number, shippingMinor: number): { discountMinor: number; freeShipping: boolean; points: number } {
  let discountMinor = 0;
  switch (reward.kind) {
    case 'percent':
      // Rounded down: a discount never exceeds its advertised rate.
      discountMinor = Math.floor((amountMinor * reward.percent) / 100 + 1e-9);
      if (reward.maxDiscountMinor !== undefined) discountMinor = Math.min(discountMinor, reward.maxDiscountMinor);
      break;
    case 'fixed':
      discountMinor = reward.amountMinor;
      break;
    case 'free_shipping':
      discountMinor = shippingMinor;
      break;
    case 'points':
      break;
  }
  return { discountMinor: Math.min(discountMinor, amountMinor), freeShipping: reward.kind === 'free_shipping', points: reward.kind === 'points' ? reward.points : 0 };
}

/** The "why not" sentences of a false trace: each failed leaf (all alternatives of an `any`). */
export function explainTrace(t: TraceNode): string[] {
  if (t.result !== false) return [];
  const failed = (t.children ?? []).filter((c) => c.result === false);
  if (failed.length === 0 || /^not /.test(t.expr) || t.expr.startsWith('!')) return [t.why ?? `${t.expr} is false`];
  if (t.why === 'no alternative holds') return [`none of: ${failed.flatMap(explainTrace).join('; ')}`];
  return failed.flatMap(explainTrace);
}
