/**
 * @arbiter/facts — the user-fact store (users with typed attributes, the event log), computed
 * facts (`@Fact` providers discovered at boot, built-in event-log facts, aliases from
 * `facts.yaml`), the per-session memoising resolver the rules evaluator calls, and the rules
 * catalogue. See docs/facts.md.
 */
export { FactsModule } from './facts.module';
export { Fact } from './decorators/fact.decorator';
export type { FactContext, FactMethod, FactOptions, FactParamDeclaration } from './decorators/fact.decorator';
export { FactsService } from './facts.service';
export type { EvaluationInputs, FactPrefetch, FactValues } from './facts.service';
export { CatalogueService } from './catalogue/catalogue.service';
export type { CatalogueContribution } from './catalogue/catalogue.service';
export { EventLogService } from './events/event-log.service';
export type { NewEvent, StoredEvent, WindowQuery, WindowValue } from './events/event-log.service';
export { checkUserId, UserService, USER_ID, USER_ID_FORMAT } from './users/user.service';
export { userStringAttributeSql } from './users/user-attributes.query';
export type { UserView } from './users/user.service';
export { UserChanges } from './users/user-changes';
export type { UserChange, UserChangeListener } from './users/user-changes';
export { FactsConfig } from './config/facts-config';
export type { AliasDeclaration } from './config/facts-config';
export { FactRegistry } from './registry/fact.registry';
export type { RegisteredAlias, RegisteredFact } from './registry/fact.registry';
export { FactDeclarationError, FactFailedError } from './errors/fact.error';
export { FACTS_MIGRATIONS, CreateFactStore1732400000000 } from './migrations/create-fact-store.migration';
export { EventSource2561732400840000 } from './migrations/1732400840000-event-source-256';
