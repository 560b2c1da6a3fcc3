import type { CarriedRow } from '@arbiter/platform';
import type { TypeSpec } from '@arbiter/rules';

/** How an action runs: in the call (its result is in the response) or later on the `actions` queue. */
export type ActionMode = 'inline' | 'deferred';

/**
 * How often a deferred action is tried and how long it waits between tries: attempt n+1 starts
 * `backoffMs * 2^(n-1)` after attempt n failed (BullMQ's exponential backoff). Inline actions run
 * once; their retry policy is ignored.
 */
export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
}

/** One typed param of an action, as rules must supply it (checked when a rule compiles). */
export interface ActionParamSpec {
  type: TypeSpec;
  required?: boolean;
  description?: string;
}

/** What `@Action({...})` declares about a handler class. */
export interface ActionOptions {
  /** The name rules use in `then: [{action: <name>}]`; unique across the application. */
  name: string;
  params?: Record<string, ActionParamSpec>;
  /** `inline` (default) or `deferred`. */
  mode?: ActionMode;
  /** Deferred only; defaults to 5 attempts, 1 s base backoff. */
  retry?: Partial<RetryPolicy>;
  description?: string;
}

/** The event an action runs for: what the pipeline evaluated, plus how deep in an emit_event chain it is. */
export interface ActionEvent {
  id: string;
  type: string;
  user_id: string;
  source?: string;
  occurred_at?: string | number | Date;
  payload: Record<string, unknown>;
  /** 0 for an event that came from outside; n for the n-th follow-up of an `emit_event` chain. */
  depth?: number;
}

/** Everything a handler knows about the one execution it is asked to perform. */
export interface ActionContext {
  /** `<event id>/<rule id>/<action index>`: stable across replays and queue retries. */
  readonly idempotencyKey: string;
  readonly event: ActionEvent;
  readonly ruleId: string;
  readonly domain: string;
  /** Position of the action in the rule's `then` list. */
  readonly actionIndex: number;
  readonly mode: ActionMode;
  /** 1 for the first try; deferred actions count up on each retry. */
  readonly attempt: number;
  /**
   * Present for an inline action of an event's first run: a write handed here (a `CarriedRow` of
   * the module that owns the table) is made by the statement that stores the event's outcome,
   * together with the action's log entry, instead of by a statement of its own; if the event
   * fails, it is written with that entry. Other calls see it once the event's outcome is stored.
   * `ifDropped` is for a row of a kind that may drop it (`RowKind.mayDrop`) because another
   * delivery of the event, running at once in another process, wrote its key first: called when
   * the statement wrote fewer rows of that kind than it was given, it answers the action's result
   * as what is stored (what the other wrote), or undefined if this row was written after all.
   */
  readonly carry?: (row: CarriedRow, ifDropped?: () => Promise<unknown>) => void;
}

/**
 * The one interface every `@Action` class implements. `execute` gets the params the rule computed
 * for this event (already type-checked at compile time) and returns a JSON-serialisable result,
 * which is logged under the idempotency key and — for inline actions — returned to the caller.
 * Throw to fail the execution (a deferred action is then retried per its policy; throw
 * {@link PermanentActionError} to stop retrying at once). A handler may define `retryPolicy()`
 * to refine the decorator's policy from configuration.
 */
export interface ActionHandler<P = Record<string, unknown>, R = unknown> {
  execute(params: P, context: ActionContext): R | Promise<R>;
  retryPolicy?(): Partial<RetryPolicy>;
}

/** A discovered action: its metadata made complete, and the handler instance. */
export interface RegisteredAction {
  readonly name: string;
  readonly mode: ActionMode;
  readonly params: Readonly<Record<string, ActionParamSpec>>;
  readonly retry: RetryPolicy;
  readonly description?: string;
  /** The class name, for error messages and the registry listing. */
  readonly className: string;
  readonly handler: ActionHandler;
}
