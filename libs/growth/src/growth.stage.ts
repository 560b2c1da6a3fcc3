import { Injectable } from '@nestjs/common';
import type { ActionOutcome } from '@arbiter/actions';
import { PipelineStage, type StageContext, type StageHandler } from '@arbiter/ingestion';
import { recordDecision } from '@arbiter/session';
import { PointsLedgerService } from './loyalty/points-ledger.service';
import type { RewardPointsResult } from './loyalty/reward-points.action';
import { MembershipService, type MembershipChange } from './segments/membership.service';
import { SegmentService } from './segments/segment.service';

/** What growth adds to an event's response as `domains.growth`. */
export interface GrowthReport {
  /** Points the `reward_points` actions of this event awarded. */
  points_awarded: number;
  /** Points taken back by this event when it is a `refund` naming the original event. */
  points_reversed: number;
  entered: MembershipChange[];
  exited: MembershipChange[];
  /** Segments re-evaluated for the user because this event (or a user change it caused) can affect them. */
  segments_evaluated: string[];
  errors?: { segment: string; message: string }[];
}

/**
 * Growth's step in the pipeline, last (after fraud and promo): its rules run and report their
 * actions (triggers, `reward_points`), a `refund` naming `payload.original_event_id` reverses the
 * points that event earned, then the segments this event can affect — indexed by the event types
 * and user attributes their conditions read — are re-evaluated for this user only.
 */
@PipelineStage({ domain: 'growth', order: 300 })
@Injectable()
export class GrowthStage implements StageHandler {
  constructor(
    private readonly segments: SegmentService,
    private readonly membership: MembershipService,
    private readonly ledger: PointsLedgerService,
  ) {}

  async run(ctx: StageContext): Promise<void> {
    const { event } = ctx;
    const { matches } = await ctx.evaluate('growth');
    const outcomes: ActionOutcome[] = matches.length ? await ctx.runActions(matches) : [];
    if (matches.length) ctx.report(matches, outcomes);
    const awarded = outcomes.filter((o) => o.action === 'reward_points' && o.status === 'succeeded').reduce((sum, o) => sum + ((o.result as RewardPointsResult | undefined)?.points ?? 0), 0);

    let reversed = 0;
    const original = event.payload?.original_event_id;
    if (event.type === 'refund' && typeof original === 'string' && original !== '') {
      const entries = await this.ledger.reverseEvent(event.user_id, original, event.id);
      reversed = -entries.reduce((sum, e) => sum + e.amount, 0);
    }

    // An action of any domain in this call may have changed the user's attributes.
    const userChanged = ctx.result.actions.some((a) => a.action === 'set_user_attribute' && a.status === 'succeeded');
    const affected = await this.segments.affectedBy(event.type, userChanged);
    const report = await this.membership.reevaluate(event.user_id, affected, `event:${event.id}`, event.depth ?? 0);

    const growth: GrowthReport = { points_awarded: round(awarded), points_reversed: round(reversed), entered: report.entered, exited: report.exited, segments_evaluated: report.evaluated };
    if (report.errors.length) growth.errors = report.errors;
    ctx.result.domains.growth = growth;
    recordDecision('growth', { points_awarded: growth.points_awarded, entered: report.entered.map((c) => c.segment), exited: report.exited.map((c) => c.segment) });
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
