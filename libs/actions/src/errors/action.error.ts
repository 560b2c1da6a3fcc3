import { ArbiterError } from '@arbiter/platform';

/**
 * Boot-time failure of action discovery: a duplicate name, a class that does not implement
 * `execute`, a request-scoped class or invalid metadata. The message names the class, and the
 * application refuses to start.
 */
export class ActionDiscoveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActionDiscoveryError';
  }
}

/**
 * Thrown by a handler when retrying cannot help (a 4xx from a webhook, a missing user): a deferred
 * action fails at once instead of using up its retries. `code` is stable and lands in the action log.
 */
export class PermanentActionError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PermanentActionError';
  }
}

/** 409: the action log entry is not in the `failed` state, so there is nothing to retry. */
export class ActionNotFailedError extends ArbiterError {
  constructor(id: string, status: string) {
    super(409, 'ACTION_NOT_FAILED', `action execution ${id} is ${status}, only failed executions can be retried`, { id, status });
  }
}
