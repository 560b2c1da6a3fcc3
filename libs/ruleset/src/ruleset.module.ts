import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ActionsModule } from '@arbiter/actions';
import { FactsModule } from '@arbiter/facts';
import { RuleReloadBroadcaster } from './broadcast/rule-reload.broadcaster';
import { RuleEntity, RuleNodeEntity, RuleVersionEntity } from './entities/rule.entities';
import { RuleAdminService } from './rule-admin.service';
import { RuleSetService } from './rule-set.service';
import { RulesController } from './rules.controller';
import { SimulateService } from './simulate.service';
import { RuleFilesWatcher } from './sources/rule-files.watcher';
import { RuleRepository } from './sources/rule.repository';

/**
 * Rule sources (YAML files and database rows), the rule set in force with atomic swaps, hot
 * reload (file watcher, reload endpoint, broadcast to every process) and the admin API. The event
 * pipeline imports this module and reads {@link RuleSetService.current}.
 */
@Module({
  imports: [FactsModule, ActionsModule, TypeOrmModule.forFeature([RuleEntity, RuleVersionEntity, RuleNodeEntity])],
  controllers: [RulesController],
  providers: [RuleRepository, RuleSetService, RuleReloadBroadcaster, RuleFilesWatcher, RuleAdminService, SimulateService],
  exports: [RuleSetService],
})
export class RulesetModule {}
