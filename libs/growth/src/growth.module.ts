import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ActionsModule } from '@arbiter/actions';
import { FactsModule } from '@arbiter/facts';
import { IngestionModule } from '@arbiter/ingestion';
import { PointsEntryEntity, SegmentEntity, SegmentMembershipEntity } from './growth.entities';
import { GrowthStage } from './growth.stage';
import { PointsController } from './loyalty/points.controller';
import { PointsLedgerService } from './loyalty/points-ledger.service';
import { RewardPointsAction } from './loyalty/reward-points.action';
import { GrowthJobsProcessor } from './segments/growth-jobs.processor';
import { MembershipService } from './segments/membership.service';
import { SegmentMemberFact } from './segments/segment-member.fact';
import { SegmentService } from './segments/segment.service';
import { SegmentsController, UserSegmentsController } from './segments/segments.controller';
import { UserChangesListener } from './segments/user-changes.listener';
import { UserDirectory } from './segments/user-directory';

/**
 * Growth, the last domain of the pipeline: reactive segments (definitions, membership with
 * history, `segment.entered`/`segment.exited` events, window expiry by delayed re-check, backfill),
 * the loyalty points ledger with the `reward_points` action and refunds, the `segment.member`
 * fact, and the growth stage that runs growth rules as triggers. Tables and migrations are owned
 * here (`GROWTH_MIGRATIONS`).
 */
@Module({
  imports: [FactsModule, ActionsModule, IngestionModule, TypeOrmModule.forFeature([SegmentEntity, SegmentMembershipEntity, PointsEntryEntity])],
  controllers: [SegmentsController, UserSegmentsController, PointsController],
  providers: [
    PointsLedgerService,
    RewardPointsAction,
    SegmentService,
    MembershipService,
    UserDirectory,
    GrowthJobsProcessor,
    SegmentMemberFact,
    GrowthStage,
    UserChangesListener,
  ],
  exports: [PointsLedgerService, SegmentService, MembershipService],
})
export class GrowthModule {}
