/**
 * SQLSTATE classes and codes of a database that cannot serve the statement now, whatever the
 * statement: connection failures (class 08), a statement cancelled by `statement_timeout` (57014),
 * a server shutting down or starting (57P01-57P03), too many connections (53300).
 */
const UNAVAILABLE_SQLSTATES = new Set(['57014', '57P01', '57P02', '57P03', '53300']);
const UNAVAILABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);
/** What the pg driver and its pool say when a connection breaks or cannot be had in time. */
const UNAVAILABLE_MESSAGES = /^(timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|Connection ended unexpectedly)/;

/**
 * Whether `err` says the database could not serve the statement in time (unreachable, restarting,
 * out of connections, or slower than STORE_TIMEOUT_MS), as opposed to refusing this statement
 * (a constraint, a type, a bug). The first is worth a retry of the same work a moment later, and
 * says nothing about the other statements of a grouped write; the second is not and does.
 * TypeORM's QueryFailedError carries the driver's error as `driverError`.
 */
export function isStoreUnavailable(err: unknown): boolean {
  for (const e of errorChain(err)) {
    if (typeof e.code === 'string' && (UNAVAILABLE_SQLSTATES.has(e.code) || e.code.startsWith('08') || UNAVAILABLE_SOCKET_CODES.has(e.code))) return true;
    if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.test(e.message)) return true;
  }
  return false;
}

type ChainLink = { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };

/** `err` and the errors it wraps (TypeORM's `driverError`, a `cause`), at most four deep. */
function* errorChain(err: unknown): Generator<ChainLink> {
  for (let e = err as ChainLink | undefined, depth = 0; e && depth < 4; depth++, e = (e.driverError ?? e.cause) as ChainLink | undefined) yield e;
}

/**
 * SQLSTATEs of a value PostgreSQL cannot store as given: too long for its column (22001), a NUL
 * character or an invalid byte sequence (22021), a `\u0000` escape `jsonb` refuses (22P05).
 * Requests are validated before they write; these mean a value got past that. (Text a type does
 * not read, 22P02, is left a 500: it comes from the service's own casts as often as from input.)
 */
const UNSTORABLE_SQLSTATES = new Set(['22001', '22021', '22P05']);

/** The database's own words when `err` says a value could not be stored ({@link UNSTORABLE_SQLSTATES}), else undefined. */
export function unstorableValue(err: unknown): string | undefined {
  for (const e of errorChain(err)) if (typeof e.code === 'string' && UNSTORABLE_SQLSTATES.has(e.code)) return typeof e.message === 'string' ? e.message : e.code;
  return undefined;
}
