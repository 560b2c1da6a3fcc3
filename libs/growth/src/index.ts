/**
 * @arbiter/growth — the growth domain: reactive segments kept current per user as events and user
 * updates arrive (only the segments whose conditions depend on what changed), with history,
 * `segment.entered`/`segment.exited` events through the pipeline, window expiry by delayed
 * re-check and background backfill; the loyalty points ledger (`reward_points` action, refunds,
 * idempotent per event); the `segment.member("id")` fact. See docs/growth.md.
 */
export { GrowthModule } from './growth.module';
export { GrowthStage } from './growth.stage';
export type { GrowthReport } from './growth.stage';
export { PointsLedgerService } from './loyalty/points-ledger.service';
export type { NewAward, PointsEntry } from './loyalty/points-ledger.service';
export { RewardPointsAction, pointsOf } from './loyalty/reward-points.action';
export type { RewardPointsParams, RewardPointsResult } from './loyalty/reward-points.action';
export { SegmentService, SEGMENT_ID } from './segments/segment.service';
export type { CompiledSegment, SegmentView } from './segments/segment.service';
export { MembershipService } from './segments/membership.service';
export type { MembershipChange, ReevaluationReport } from './segments/membership.service';
export { segmentTriggers, nextWindowChange, SEGMENT_EVENT_TYPES } from './segments/segment-dependencies';
export type { SegmentTriggers, WindowDependency } from './segments/segment-dependencies';
export { SegmentDoesNotCompileError } from './errors/growth.errors';
export type { SegmentProblem } from './errors/growth.errors';
export { GROWTH_QUEUE } from './growth.constants';
export { GROWTH_MIGRATIONS, CreateGrowth1732400700000 } from './migrations/1732400700000-create-growth';
