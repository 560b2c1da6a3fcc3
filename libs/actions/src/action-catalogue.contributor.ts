import { Injectable, type OnModuleInit } from '@nestjs/common';
import { CatalogueService } from '@arbiter/facts';
import { ActionExplorer } from './action.explorer';
import { ActionRegistry } from './action.registry';

/**
 * Hands the registered actions to the rules catalogue (built by @arbiter/facts), so a rule naming
 * an unknown action, an unknown param or a param of the wrong type does not compile.
 */
@Injectable()
export class ActionCatalogueContributor implements OnModuleInit {
  constructor(
    private readonly explorer: ActionExplorer,
    private readonly registry: ActionRegistry,
    private readonly catalogue: CatalogueService,
  ) {}

  onModuleInit(): void {
    this.explorer.explore();
    this.catalogue.contribute('actions', { actions: [...this.registry.definitions()] });
  }
}
