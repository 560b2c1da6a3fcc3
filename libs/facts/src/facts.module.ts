import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '@arbiter/platform';
import { EventLogFacts } from './builtin/event-log.facts';
import { CatalogueService } from './catalogue/catalogue.service';
import { FactsConfig } from './config/facts-config';
import { EventEntity } from './entities/event.entity';
import { UserEntity } from './entities/user.entity';
import { EventLogService } from './events/event-log.service';
import { FactsService } from './facts.service';
import { FactExplorer } from './registry/fact.explorer';
import { FactRegistry } from './registry/fact.registry';
import { UserChanges } from './users/user-changes';
import { UserService } from './users/user.service';
import { UsersController } from './users/users.controller';

/**
 * The user-fact store and the fact registry: `users` and the `events` log (entities and
 * migrations owned here), the `/v1/users` API, the built-in event-log facts, `@Fact` discovery,
 * the per-session memoising resolver and the rules catalogue. Import it where facts, users or the
 * event log are needed; its providers are singletons shared by every importer.
 */
@Module({
  imports: [DiscoveryModule, TypeOrmModule.forFeature([UserEntity, EventEntity])],
  controllers: [UsersController],
  providers: [
    { provide: FactsConfig, inject: [AppConfig], useFactory: (config: AppConfig) => FactsConfig.load(config.configDir) },
    FactRegistry,
    FactExplorer,
    EventLogService,
    UserService,
    UserChanges,
    FactsService,
    CatalogueService,
    EventLogFacts,
  ],
  exports: [FactsConfig, FactRegistry, EventLogService, UserService, UserChanges, FactsService, CatalogueService],
})
export class FactsModule {}
