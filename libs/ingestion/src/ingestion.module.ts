import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ActionsModule } from '@arbiter/actions';
import { FactsModule } from '@arbiter/facts';
import { RulesetModule } from '@arbiter/ruleset';
import { EventQueue } from './batch/event-queue';
import { EventsController } from './events.controller';
import { OutcomeRepository } from './outcome.repository';
import { EventPipeline } from './pipeline/event-pipeline';

/** Event intake (sync and batch), the pipeline that runs the domain stages, and its workers. */
@Module({
  imports: [DiscoveryModule, TerminusModule, FactsModule, ActionsModule, RulesetModule],
  controllers: [EventsController],
  providers: [EventPipeline, EventQueue, OutcomeRepository],
  exports: [EventPipeline, EventQueue],
})
export class IngestionModule {}
