import { isStoreUnavailable, unstorableValue } from '../store/store-unavailable';
import { ArbiterError, DependencyDownError } from './arbiter.error';

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown; request_id?: string };
}

const FASTIFY_CODES: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'BODY_TOO_LARGE', message: 'request body is larger than the limit' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the body as application/json (a CloudEvent may come as application/cloudevents+json)' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'INVALID_CONTENT_LENGTH' },
  FST_ERR_VALIDATION: { status: 400, code: 'VALIDATION_FAILED' },
};

const UNSTORABLE = 'a value in the request cannot be stored: too long for its field, or not text the database accepts';

const STORE_DOWN = 'the database did not answer in time or cannot be reached; retry in a moment (sending the same event id or idempotency key again is safe)';

/**
 * Maps anything thrown while handling a request to a status and a client-safe JSON body: typed
 * errors keep their code and details, framework errors get a stable code, a database that is
 * unreachable or slower than STORE_TIMEOUT_MS is a 503 `DEPENDENCY_DOWN`, a value it refused to
 * store (too long, a NUL character) a 400 `VALIDATION_FAILED`, and anything unexpected
 * becomes a 500 whose message says nothing of the internals (no stack trace ever leaves).
 */
export function toErrorResponse(err: unknown, requestId?: string): { status: number; body: ErrorBody; unexpected: boolean; refused?: string } {
  const withId = (status: number, code: string, message: string, details?: unknown, unexpected = false) => ({
    status,
    unexpected,
    body: { error: { code, message, ...(details === undefined ? {} : { details }), ...(requestId ? { request_id: requestId } : {}) } },
  });
  if (err instanceof ArbiterError) return withId(err.status, err.code, err.message, err.details);

  // Nest wraps Fastify's own errors (body parsing) in an HttpException with the original as cause.
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string' && FASTIFY_CODES[cause.code]) return toErrorResponse(cause, requestId);

  const e = err as { code?: string; statusCode?: number; status?: number; message?: string; validation?: unknown[]; getStatus?: () => number; getResponse?: () => unknown; type?: string };
  const fastify = e?.code ? FASTIFY_CODES[e.code] : undefined;
  if (fastify) {
    if (e.code === 'FST_ERR_VALIDATION' && Array.isArray(e.validation)) {
      // `if` only says which branch failed; the branch's own errors say what is wrong.
      const errors = dedupe(e.validation.filter((v) => (v as AjvError).keyword !== 'if').map((v) => validationProblem(v as AjvError)));
      return withId(400, 'VALIDATION_FAILED', errors.map((p) => `${p.path}: ${p.message}`).join('; '), { errors });
    }
    return withId(fastify.status, fastify.code, fastify.message ?? e.message ?? fastify.code);
  }

  if (typeof e?.getStatus === 'function') {
    const status = e.getStatus();
    if (status === 404) return withId(404, 'NOT_FOUND', 'no such route');
    if (status < 500) return withId(status, httpCode(status), e.message ?? 'request refused');
    return withId(status, httpCode(status), 'the service failed to handle this request', undefined, true);
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return withId(e.statusCode, e.code && /^[A-Z_]+$/.test(e.code) ? e.code.replace(/^FST_ERR_/, '') : httpCode(e.statusCode), e.message ?? 'request refused');
  }
  if (isStoreUnavailable(err)) return toErrorResponse(new DependencyDownError('database', STORE_DOWN), requestId);
  // A value an endpoint's validation let through and the database refused: the client's to fix.
  // The database's own words (`refused`) are for the log, not the answer.
  const refused = unstorableValue(err);
  if (refused !== undefined) return { ...withId(400, 'VALIDATION_FAILED', UNSTORABLE, { errors: [{ path: '(request)', message: UNSTORABLE }] }), refused };
  return withId(500, 'INTERNAL', 'the service failed to handle this request', undefined, true);
}

interface AjvError {
  keyword?: string;
  instancePath?: string;
  message?: string;
  params?: { missingProperty?: string; additionalProperty?: string };
}

/** `/events/3/payload` -> `events[3].payload`, plus the property a `required` error names. */
function validationProblem(v: AjvError): { path: string; message: string } {
  const segments = (v.instancePath ?? '').split('/').filter(Boolean).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (v.params?.missingProperty) segments.push(v.params.missingProperty);
  if (v.params?.additionalProperty) segments.push(v.params.additionalProperty);
  const path = segments.reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '');
  const message = v.params?.additionalProperty ? 'is not a known field' : (v.message ?? 'is invalid');
  return { path: path || '(body)', message };
}

function dedupe(problems: { path: string; message: string }[]): { path: string; message: string }[] {
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(`${p.path}\0${p.message}`) && seen.add(`${p.path}\0${p.message}`));
}

function httpCode(status: number): string {
  const names: Record<number, string> = { 400: 'BAD_REQUEST', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 409: 'CONFLICT', 413: 'BODY_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE', 422: 'UNPROCESSABLE', 429: 'TOO_MANY_REQUESTS', 503: 'DEPENDENCY_DOWN' };
  return names[status] ?? (status >= 500 ? 'INTERNAL' : 'BAD_REQUEST');
}
