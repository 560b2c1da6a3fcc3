/**
 * @arbiter/actions — what rules do when they match. `@Action` marks a provider class implementing
 * {@link ActionHandler}; the explorer registers it at boot (strictly: duplicates, a missing
 * `execute` or a request-scoped class stop the boot). {@link ActionExecutor} runs the actions of
 * matched rules under idempotency keys recorded in the action log: inline ones in the call,
 * deferred ones on the `actions` queue with retries and exponential backoff.
 */
export { Action } from './decorators/action.decorator';
export type { ActionContext, ActionEvent, ActionHandler, ActionMode, ActionOptions, ActionParamSpec, RegisteredAction, RetryPolicy } from './action.interfaces';
export { ActionRegistry } from './action.registry';
export { ActionExplorer } from './action.explorer';
export { ActionExecutor, ENQUEUE_FAILED } from './action.executor';
export type { ActionJobData, ActionOutcome, MatchedRule } from './action.executor';
export type { ActionStatus } from './action-log.entity';
export { ActionDiscoveryError, ActionNotFailedError, PermanentActionError } from './errors/action.error';
export { EventSinks } from './event-sink';
export type { EmittedEvent, EventSink } from './event-sink';
export { SIGNATURE_HEADER, webhookSignature } from './builtins/webhook.action';
export { idempotencyKey } from './idempotency';
export { ACTIONS_QUEUE } from './actions.constants';
export { ACTIONS_MIGRATIONS } from './migrations';
export { ActionsModule } from './actions.module';
