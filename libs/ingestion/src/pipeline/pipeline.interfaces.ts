import type { ActionOutcome } from '@arbiter/actions';
import type { CarriedRead, CarriedRow } from '@arbiter/platform';
import type { EvaluationInputs } from '@arbiter/facts';
import type { EvalResult, RuleMatch, RuleSet } from '@arbiter/rules';
import type { IncomingEvent } from '../event.schema';

/** How the event arrived: a synchronous call, a queued batch, an `emit_event` follow-up. */
export type PipelineMode = 'sync' | 'batch' | 'emitted';

/** One action as the response reports it. */
export interface ActionReport {
  rule_id: string;
  action: string;
  status: string;
  result?: unknown;
  error?: { code: string; message: string };
}

/** What processing one event produced; stored, and returned again for a repeated event id. */
export interface PipelineResult {
  event_id: string;
  duplicate: boolean;
  /** Fraud's decision for this event (`{outcome, score, ...}`), or null when no fraud stage ran. */
  fraud: Record<string, unknown> | null;
  matched: { rule_id: string; domain: string }[];
  actions: ActionReport[];
  /** What each domain stage reported beyond matches and actions (eligible campaigns, segments...). */
  domains: Record<string, unknown>;
  /** Facts that failed while evaluating (their leaves counted as false). */
  errors?: { fact?: string; rule_id?: string; message: string }[];
}

/**
 * What a stage gets: the event, the evaluation inputs of this call (resolver with the session's
 * memo, preloaded user attributes, the clock), helpers to evaluate one domain's rules and run
 * matched actions, and the result being built.
 */
export interface StageContext {
  readonly event: IncomingEvent;
  readonly mode: PipelineMode;
  readonly inputs: EvaluationInputs;
  /** Evaluates the loaded rules of `domain` against the event (awaiting async facts only if needed). */
  evaluate(domain: string): Promise<EvalResult>;
  /**
   * Runs (inline) or enqueues (deferred) the actions of these matches; shadow rules' are skipped.
   * The action log's records of inline outcomes are carried (see `carry`).
   */
  runActions(matches: readonly RuleMatch[]): Promise<ActionOutcome[]>;
  /**
   * A row that nothing later in the call reads (the fraud decision): the statement that stores
   * the event's outcome writes it too, so it lands with the outcome or not at all — except rows
   * that record something done (`RowKind.recordsDone`), which are written even if the event fails.
   */
  carry(row: CarriedRow): void;
  /** Adds matches and their action outcomes to the response. */
  report(matches: readonly RuleMatch[], outcomes: readonly ActionOutcome[]): void;
  readonly result: PipelineResult;
}

/**
 * A domain's step in the pipeline: fraud, promo and growth each register one (with
 * {@link PipelineStage}); they run in `order`, one after another, in the same session, so a later
 * stage can read what an earlier one decided. A domain with rules but no stage of its own gets the
 * default step: evaluate its rules, run their actions.
 */
export interface StageHandler {
  /**
   * Optional: called in the event's session just before the event is appended, to ask reads the
   * stage will need (fraud reads the user's snoozes and allow lists). The reads it returns run in
   * the statement that appends the event, and each is settled with its answer, or with the
   * append's error (see `CarriedRead`). Called for a repeated event too, which then does not run:
   * it must not write, and should not throw (a throw is logged and ignored).
   */
  prepare?(event: IncomingEvent, ruleSet: RuleSet): readonly CarriedRead[] | void;
  run(context: StageContext): Promise<void>;
}

export interface PipelineStageOptions {
  domain: string;
  /** Lower runs first: fraud 100, promo 200, growth 300; default 1000. */
  order?: number;
}
