import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TooManyRequestsError } from './arbiter.error';
import { toErrorResponse } from './error-body';

/** The one global filter: every error leaves as `{error: {code, message, details?}}`. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const health = readinessFailure(exception);
    if (health) {
      void reply.status(503).send(health);
      return;
    }
    const { status, body, unexpected, refused } = toErrorResponse(exception, request?.id);
    if (unexpected) this.logger.error(`${request?.method} ${request?.url} failed`, (exception as Error)?.stack ?? String(exception));
    if (refused !== undefined) this.logger.warn(`${request?.method} ${request?.url}: the database refused a value (${refused})`);
    if (exception instanceof TooManyRequestsError) void reply.header('retry-after', String(exception.retryAfterSeconds));
    if (body.error.code === 'DEPENDENCY_DOWN') {
      // A dependency's outage is worth a line each time, not a stack: the request was fine.
      const dependency = (body.error.details as { dependency?: string } | undefined)?.dependency ?? 'a dependency';
      this.logger.warn(`${request?.method} ${request?.url}: ${dependency} unavailable (${(exception as Error)?.message ?? String(exception)})`);
      void reply.header('retry-after', '1');
    }
    void reply.status(status).send(body);
  }
}

/** Terminus' 503 carries which checks failed (`{status: 'error', info, error, details}`): pass it on. */
function readinessFailure(exception: unknown): object | undefined {
  const e = exception as { getStatus?: () => number; getResponse?: () => unknown };
  if (typeof e?.getStatus !== 'function' || e.getStatus() !== 503) return undefined;
  const body = e.getResponse?.() as { status?: string; details?: unknown } | undefined;
  return body && typeof body === 'object' && body.status === 'error' && body.details ? body : undefined;
}
