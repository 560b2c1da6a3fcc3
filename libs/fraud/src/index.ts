/**
 * @arbiter/fraud — the fraud domain. {@link FraudStage} runs first in the event pipeline: the
 * `fraud` rules score the event, thresholds (CONFIG_DIR/fraud.yaml) and the rules' direct outcomes
 * decide approve / review / decline, allow lists override, snoozed rules are skipped, shadow rules
 * are recorded without counting; the decision is stored and recorded in the session, where other
 * domains read it as the facts `fraud.outcome` and `fraud.score`. `list_contains(list, value)`
 * reads the allow/block lists. APIs under /v1/fraud; see docs/fraud.md.
 */
export { FraudModule } from './fraud.module';
export { FraudService } from './fraud.service';
export type { AssessOptions, FraudAssessment, FraudDecision, FraudEvent } from './fraud.service';
export { FraudStage } from './fraud.stage';
export { FraudFacts } from './fraud.facts';
export { FraudConfig } from './config/fraud-config';
export type { Thresholds } from './config/fraud-config';
export { decide } from './decide';
export type { DecideInput, DecideResult, FraudReason, MatchedFraudRule } from './decide';
export { OUTCOMES, strongest, isOutcome } from './fraud.constants';
export type { FraudOutcome } from './fraud.constants';
export type { StoredDecision } from './decisions/fraud-decision.repository';
export { FRAUD_MIGRATIONS, CreateFraud1732400500000 } from './migrations/1732400500000-create-fraud';
