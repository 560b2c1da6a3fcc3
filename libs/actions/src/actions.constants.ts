/** The BullMQ queue deferred actions go through (prefixed by QUEUE_PREFIX like every queue). */
export const ACTIONS_QUEUE = 'actions';

/** Default retry policy of a deferred action whose decorator names none. */
export const DEFAULT_DEFERRED_RETRY = Object.freeze({ attempts: 5, backoffMs: 1000 });
