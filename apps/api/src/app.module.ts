import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig, PlatformModule } from '@arbiter/platform';
import { ACTIONS_MIGRATIONS, ActionsModule } from '@arbiter/actions';
import { FACTS_MIGRATIONS, FactsModule } from '@arbiter/facts';
import { RULESET_MIGRATIONS, RulesetModule } from '@arbiter/ruleset';
import { INGESTION_MIGRATIONS, IngestionModule } from '@arbiter/ingestion';
import { PROMO_MIGRATIONS, PromoModule } from '@arbiter/promo';
import { FRAUD_MIGRATIONS, FraudModule } from '@arbiter/fraud';
import { GROWTH_MIGRATIONS, GrowthModule } from '@arbiter/growth';

/**
 * The composition root: the platform plus every domain module, with every lib's migrations.
 * The worker process boots this same module without HTTP.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [PlatformModule.forRoot({ config, migrations: [...FACTS_MIGRATIONS, ...ACTIONS_MIGRATIONS, ...RULESET_MIGRATIONS, ...INGESTION_MIGRATIONS, ...PROMO_MIGRATIONS, ...FRAUD_MIGRATIONS, ...GROWTH_MIGRATIONS] }), ActionsModule, FactsModule, RulesetModule, IngestionModule, PromoModule, FraudModule, GrowthModule],
    };
  }
}
