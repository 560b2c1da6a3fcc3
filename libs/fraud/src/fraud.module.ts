import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '@arbiter/platform';
import { FactsModule } from '@arbiter/facts';
import { RulesetModule } from '@arbiter/ruleset';
import { FraudConfig } from './config/fraud-config';
import { FraudDecisionRepository } from './decisions/fraud-decision.repository';
import { FraudDecisionsController } from './decisions/fraud-decisions.controller';
import { FRAUD_ENTITIES } from './entities/fraud.entities';
import { FraudFacts } from './fraud.facts';
import { FraudService } from './fraud.service';
import { FraudStage } from './fraud.stage';
import { FraudListRepository } from './lists/fraud-list.repository';
import { FraudListsController } from './lists/fraud-lists.controller';
import { FraudOverridesRepository } from './overrides/fraud-overrides.repository';
import { FraudRulesController } from './snoozes/fraud-rules.controller';
import { FraudSnoozeRepository } from './snoozes/fraud-snooze.repository';

/**
 * The fraud domain: the pipeline stage (first, order 100), the `fraud.outcome`, `fraud.score` and
 * `list_contains` facts, allow/block lists, stored decisions with reviews, snoozes, and the
 * thresholds of CONFIG_DIR/fraud.yaml (validated at boot). See docs/fraud.md.
 */
@Module({
  imports: [FactsModule, RulesetModule, TypeOrmModule.forFeature(FRAUD_ENTITIES)],
  controllers: [FraudListsController, FraudDecisionsController, FraudRulesController],
  providers: [
    { provide: FraudConfig, inject: [AppConfig], useFactory: (config: AppConfig) => FraudConfig.load(config.configDir) },
    FraudListRepository,
    FraudDecisionRepository,
    FraudSnoozeRepository,
    FraudOverridesRepository,
    FraudService,
    FraudFacts,
    FraudStage,
  ],
  exports: [FraudService, FraudConfig],
})
export class FraudModule {}
