import { Injectable } from '@nestjs/common';
import { PipelineStage, type IncomingEvent, type StageContext, type StageHandler } from '@arbiter/ingestion';
import type { CarriedRead } from '@arbiter/platform';
import type { RuleSet } from '@arbiter/rules';
import { recordDecision } from '@arbiter/session';
import { FraudService } from './fraud.service';

/**
 * Fraud's step of the event pipeline, first of all (order 100): assess and store the decision,
 * run the live matched rules' actions, report matches and actions, and record
 * `{outcome, score, decision_id, reasons}` as the session's fraud decision — the response's
 * `fraud` field, and what `fraud.outcome`/`fraud.score` answer for the later stages.
 */
@PipelineStage({ domain: 'fraud', order: 100 })
@Injectable()
export class FraudStage implements StageHandler {
  constructor(private readonly fraud: FraudService) {}

  /** The user's snoozes and allow lists are read by the statement that appends the event. */
  prepare(event: IncomingEvent, ruleSet: RuleSet): CarriedRead[] {
    return this.fraud.readOverridesEarly(event, ruleSet);
  }

  async run(ctx: StageContext): Promise<void> {
    // The decision is written by the statement that stores the event's outcome.
    const { decision, live, errors, carry } = await this.fraud.run(ctx.event, { store: true, carryStore: true, inputs: ctx.inputs });
    // The session's decision, once recorded (the response's `fraud`).
    let reported: Record<string, unknown> | undefined;
    if (carry) ctx.carry({ kind: carry.kind, row: carry.row, dropped: () => this.answerStored(ctx, reported) });
    const outcomes = live.length ? await ctx.runActions(live) : [];
    // Report live and shadow matches alike (shadow ones are how a new rule is watched); the
    // executor skips shadow actions anyway, and only live rules are passed to it.
    ctx.report(
      decision.matched.map((m) => ({ ruleId: m.rule_id, domain: 'fraud', priority: 0, actions: [] })),
      outcomes,
    );
    if (errors.length) {
      const list = (ctx.result.errors ??= []);
      for (const e of errors) list.push({ fact: (e as { fact?: string }).fact, rule_id: (e as { ruleId?: string }).ruleId, message: e.message });
    }
    ctx.result.domains.fraud = { matched: decision.matched, facts: decision.facts };
    reported = { outcome: decision.outcome, score: decision.score, decision_id: decision.decision_id, reasons: decision.reasons };
    recordDecision('fraud', reported);
  }

  /**
   * The statement that stores the outcome wrote fewer decisions than it carried: this run's may
   * have been dropped, another delivery of the event, running at once in another process, having
   * stored one first. If so, the response shows that one (the decision `decision_id` names), in place.
   */
  private async answerStored(ctx: StageContext, reported: Record<string, unknown> | undefined): Promise<void> {
    const stored = await this.fraud.pipelineDecision(ctx.event.id);
    if (!stored || !reported || stored.id === reported.decision_id) return;
    reported.outcome = stored.outcome;
    reported.score = stored.score;
    reported.decision_id = stored.id;
    reported.reasons = stored.reasons;
    ctx.result.domains.fraud = { matched: stored.matched, facts: stored.facts };
  }
}
