import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { FactsModule } from '@arbiter/facts';
import { ActionExecutor } from './action.executor';
import { ActionExplorer } from './action.explorer';
import { ActionLogEntry } from './action-log.entity';
import { ActionLogRepository } from './action-log.repository';
import { ActionQueueProcessor } from './action-queue.processor';
import { ActionRegistry } from './action.registry';
import { ActionCatalogueContributor } from './action-catalogue.contributor';
import { EmitEventAction } from './builtins/emit-event.action';
import { SetUserAttributeAction } from './builtins/set-user-attribute.action';
import { WebhookAction } from './builtins/webhook.action';
import { EventSinks } from './event-sink';
import { FailedActionsController } from './failed-actions.controller';

/**
 * Actions: discovery of `@Action` providers in every module, the registry, the action log, the
 * executor (inline now, deferred on the `actions` queue), the worker that runs deferred actions,
 * the failed-actions endpoints and the built-ins (`webhook`, `emit_event`, `set_user_attribute`).
 * A domain plugin adds an action by listing its `@Action` class in its own module's providers.
 */
@Module({
  imports: [DiscoveryModule, FactsModule, TypeOrmModule.forFeature([ActionLogEntry])],
  controllers: [FailedActionsController],
  providers: [ActionRegistry, ActionExplorer, ActionLogRepository, ActionExecutor, ActionQueueProcessor, EventSinks, ActionCatalogueContributor, WebhookAction, EmitEventAction, SetUserAttributeAction],
  exports: [ActionRegistry, ActionExecutor, EventSinks],
})
export class ActionsModule {}
