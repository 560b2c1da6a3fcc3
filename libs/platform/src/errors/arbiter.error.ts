/**
 * Base of every expected failure Arbiter reports to a client: a stable machine-readable `code`,
 * the HTTP status it maps to, a human message and optional structured details (for bad input,
 * the path of each bad field). The global filter turns it into `{error: {code, message, details}}`.
 */
export class ArbiterError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** One problem with a request field: where (`payload.amount`, `body[3].type`) and what. */
export interface FieldProblem {
  readonly path: string;
  readonly message: string;
}

/** 400: the request is malformed. `details.errors` lists every bad field with its path. */
export class ValidationError extends ArbiterError {
  constructor(errors: readonly FieldProblem[], message?: string) {
    super(400, 'VALIDATION_FAILED', message ?? errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
  }
}

export class UnauthorizedError extends ArbiterError {
  constructor(message = 'missing or invalid API key (send Authorization: Bearer <key>)') {
    super(401, 'UNAUTHORIZED', message);
  }
}

export class ForbiddenError extends ArbiterError {
  constructor(scope: string) {
    super(403, 'FORBIDDEN', `this API key lacks the "${scope}" scope`, { required_scope: scope });
  }
}

export class NotFoundError extends ArbiterError {
  constructor(what: string, id?: string) {
    super(404, 'NOT_FOUND', id === undefined ? `${what} not found` : `${what} "${id}" not found`);
  }
}

export class ConflictError extends ArbiterError {
  constructor(code: string, message: string, details?: unknown) {
    super(409, code, message, details);
  }
}

export class UnprocessableError extends ArbiterError {
  constructor(code: string, message: string, details?: unknown) {
    super(422, code, message, details);
  }
}

export class TooManyRequestsError extends ArbiterError {
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(429, 'TOO_MANY_REQUESTS', message, { retry_after_seconds: retryAfterSeconds });
  }
}

export class DependencyDownError extends ArbiterError {
  constructor(dependency: string, message: string) {
    super(503, 'DEPENDENCY_DOWN', message, { dependency });
  }
}

/** The queue (Redis, or BullMQ's PostgreSQL backend) did not answer within QUEUE_TIMEOUT_MS. */
export class QueueDownError extends DependencyDownError {
  /** `queue`: the queue's name, for the message; `message`: a message of the caller's own instead. */
  constructor(queue: string, message = `the ${queue} queue did not answer in time; retry in a moment`) {
    super('queue', message);
  }
}
