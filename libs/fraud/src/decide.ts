import type { Thresholds } from './config/fraud-config';
import { isOutcome, strongest, type FraudOutcome } from './fraud.constants';

/** A matched fraud rule as the decision records it. */
export interface MatchedFraudRule {
  rule_id: string;
  score: number;
  mode: 'live' | 'shadow';
  outcome?: string;
}

/** Why the decision is what it is, one entry per cause, strongest cause first. */
export interface FraudReason {
  code: 'rule_outcome' | 'score_threshold' | 'allow_listed' | 'snoozed' | 'invalid_outcome';
  message: string;
  rule_id?: string;
  list?: string;
}

/** What {@link decide} needs to know about one matched rule (a `RuleMatch` fits). */
export interface DecideMatch {
  ruleId: string;
  score?: unknown;
  outcome?: unknown;
  mode?: unknown;
}

export interface DecideInput {
  matches: readonly DecideMatch[];
  thresholds: Thresholds;
  /** Rule ids snoozed for this user right now, with the time the snooze ends. */
  snoozed?: ReadonlyMap<string, Date>;
  /** The allow list (and the value) that names this user, if any. */
  allowListed?: { list: string; value: string };
}

export interface DecideResult {
  outcome: FraudOutcome;
  score: number;
  reasons: FraudReason[];
  /** Every rule that matched and was not snoozed, live and shadow, with its score. */
  matched: MatchedFraudRule[];
  /** The live rules (their actions run). */
  live: string[];
}

/**
 * The fraud decision for a set of matched rules: score = sum of the live (not shadow, not snoozed)
 * matched rules' scores; outcome = the strongest of the score thresholds and the live rules' direct
 * outcomes (approve < review < decline). An allow-listed user is approved whatever the rest says,
 * and the reasons say so first. Pure: the service gathers the inputs.
 */
export function decide(input: DecideInput): DecideResult {
  const matched: MatchedFraudRule[] = [];
  const reasons: FraudReason[] = [];
  const live: string[] = [];
  let score = 0;
  let direct: FraudOutcome = 'approve';
  let directRule: string | undefined;
  for (const m of input.matches) {
    const until = input.snoozed?.get(m.ruleId);
    if (until) {
      reasons.push({ code: 'snoozed', rule_id: m.ruleId, message: `rule ${m.ruleId} matched but is snoozed for this user until ${until.toISOString()}` });
      continue;
    }
    const s = typeof m.score === 'number' && Number.isFinite(m.score) ? m.score : 0;
    const mode = m.mode === 'shadow' ? 'shadow' : 'live';
    const entry: MatchedFraudRule = { rule_id: m.ruleId, score: s, mode };
    if (m.outcome !== undefined && m.outcome !== null) entry.outcome = String(m.outcome);
    matched.push(entry);
    if (mode === 'shadow') continue;
    live.push(m.ruleId);
    score += s;
    if (m.outcome === undefined || m.outcome === null) continue;
    if (!isOutcome(m.outcome)) {
      reasons.push({ code: 'invalid_outcome', rule_id: m.ruleId, message: `rule ${m.ruleId} has outcome ${JSON.stringify(m.outcome)}, not one of approve, review, decline; ignored` });
      continue;
    }
    if (strongest(direct, m.outcome) !== direct) {
      direct = m.outcome;
      directRule = m.ruleId;
    }
  }
  const t = input.thresholds;
  const byScore: FraudOutcome = score >= t.decline ? 'decline' : score >= t.review ? 'review' : 'approve';
  let outcome = strongest(byScore, direct);
  const causes: FraudReason[] = [];
  if (directRule && direct !== 'approve') causes.push({ code: 'rule_outcome', rule_id: directRule, message: `rule ${directRule} sets outcome ${direct}` });
  if (byScore !== 'approve') causes.push({ code: 'score_threshold', message: `score ${score} reaches the ${byScore} threshold (${byScore === 'decline' ? t.decline : t.review})` });
  // The strongest cause first, so reasons[0] explains the outcome.
  causes.sort((a, b) => rank(b, byScore, direct) - rank(a, byScore, direct));
  if (input.allowListed) {
    outcome = 'approve';
    causes.unshift({ code: 'allow_listed', list: input.allowListed.list, message: `user is on allow list ${input.allowListed.list} (${input.allowListed.value}): approved whatever the score and rules` });
  }
  return { outcome, score, reasons: [...causes, ...reasons], matched, live };
}

function rank(r: FraudReason, byScore: FraudOutcome, direct: FraudOutcome): number {
  const o = r.code === 'rule_outcome' ? direct : byScore;
  return o === 'decline' ? 2 : o === 'review' ? 1 : 0;
}
