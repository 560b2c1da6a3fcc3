import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig, PlatformModule } from '@arbiter/platform';
import { FACTS_MIGRATIONS, FactsModule } from '@arbiter/facts';

/**
 * The composition root: the platform plus every domain module, with every lib's migrations.
 * The worker process boots this same module without HTTP.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [PlatformModule.forRoot({ config, migrations: [...FACTS_MIGRATIONS] }), FactsModule],
    };
  }
}
