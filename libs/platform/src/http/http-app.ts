import type { INestApplication, INestApplicationContext, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { runInSession } from '@arbiter/session';
import { AppConfig } from '../config/app-config';
import { JsonLogger } from '../logging/json.logger';
import { httpRequestDuration } from '../metrics/metrics';
import { ValidationError } from '../errors/arbiter.error';
import { toErrorResponse } from '../errors/error-body';
import { parseJsonBody } from './json-body.parser';
import { QueueService } from '../queue/queue.service';
import { EmbeddedDatabase } from '../store/embedded-database';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Builds the HTTP application (not yet listening): Fastify with the body limit, a request id per
 * request (the caller's `x-request-id` when sane, else a new UUID) echoed in every response and
 * carried by the session into every log line, the request-duration histogram, JSON errors for
 * what fails before a controller is reached, and the OpenAPI document at /docs and /docs/json.
 */
export async function createHttpApp(module: Type<unknown> | ReturnType<() => unknown>, config: AppConfig): Promise<NestFastifyApplication> {
  const logger = new JsonLogger(config.logLevel);
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimit,
    genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    logger: false,
    // Route schemas report every error (each with its path), never drop unknown fields silently
    // and never coerce types: a wrong type is the client's to fix, not ours to guess.
    ajv: { customOptions: { allErrors: true, removeAdditional: false, coerceTypes: false, useDefaults: true } },
    // Ids in paths (events, users) are up to 128 characters (the router measures a parameter
    // decoded); Fastify's default of 100 answered longer ones 414.
    routerOptions: { maxParamLength: 1024 },
    // What the router refuses before any hook runs (a malformed escape in the path, a parameter
    // over maxParamLength) answers in the service's error shape, with the request id.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => {
      const { status, body } = toErrorResponse(error, request.id);
      void reply.header('x-request-id', request.id).header('content-type', 'application/json; charset=utf-8').code(status).send(JSON.stringify(body));
    },
    // Bytes that are not HTTP (a control byte in a header) never reach Fastify's request: answer
    // in the same shape, then close.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: import('node:net').Socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
      const [status, code, message] = timeout ? [408, 'REQUEST_TIMEOUT', 'the request took too long to arrive'] : tooLarge ? [431, 'HEADERS_TOO_LARGE', 'the request headers are too large'] : [400, 'BAD_REQUEST', 'the request is not valid HTTP'];
      const body = JSON.stringify({ error: { code, message } });
      // Not into a response already on its way (as Node's own handler guards).
      const inFlight = (socket as unknown as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
      if (socket.writable && !inFlight?.headersSent) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      socket.destroy(err);
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  const fastify = adapter.getInstance();
  const duration = httpRequestDuration();

  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    const sessionId = request.headers['x-session-id'];
    runInSession({ requestId: request.id, sessionId: typeof sessionId === 'string' ? sessionId.slice(0, 128) : undefined }, done);
  });
  // Every query parameter is one value: `?after=a&after=b` is the client's mistake, not a list.
  fastify.addHook('preValidation', (request, _reply, done) => {
    const repeated = Object.entries((request.query ?? {}) as Record<string, unknown>).filter(([, v]) => Array.isArray(v));
    done(repeated.length ? new ValidationError(repeated.map(([name]) => ({ path: name, message: 'is given more than once' }))) : undefined);
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions?.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    duration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, seconds);
    const level = reply.statusCode >= 500 ? 'error' : 'debug';
    logger.record(level, 'request', { request_id: request.id, method: request.method, url: request.url, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 });
    done();
  });

  // Bodies are JSON: Fastify's own text/plain parser would hand a string to the controllers.
  fastify.removeContentTypeParser('text/plain');
  // Bodies may nest deeper than any payload may (PAYLOAD_MAX_DEPTH) plus a batch's envelope, and
  // than a JSON condition tree the rule compiler takes (64 levels, two JSON levels each).
  const maxDepth = Math.max(2 * 64 + 8, config.payloadMaxDepth + 8);
  // Our own JSON parser (instead of Nest's): it names a forbidden prototype key as such. A
  // CloudEvent in structured mode comes as application/cloudevents+json (the HTTP binding's type).
  fastify.addContentTypeParser(['application/json', 'application/cloudevents+json'], { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string, maxDepth));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  const app = await NestFactory.create<NestFastifyApplication>(module as Type<unknown>, adapter, { logger, bufferLogs: false, abortOnError: false, bodyParser: false });
  // Nest routes Fastify's own errors (body parsing, size limits) through the global filter too.
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Arbiter')
      .setDescription('Rules and decisions for promo, fraud and growth, on one user-fact store.')
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'an API key from API_KEYS' })
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/json' });
  return app;
}

/**
 * Closes an application in the order that loses nothing: stop taking requests and let those in
 * flight finish (Fastify), stop the workers after their current jobs and close the queues, close
 * the store, and only then the embedded database they all share.
 */
export async function shutdownApp(app: INestApplication | INestApplicationContext): Promise<void> {
  const embedded = app.get(EmbeddedDatabase, { strict: false });
  // Nest's own close() runs the module hooks first and stops HTTP last; we need the reverse.
  if ('getHttpAdapter' in app) {
    const fastify = app.getHttpAdapter().getInstance() as { close(): Promise<void>; server?: { listening: boolean } };
    await fastify.close();
  }
  await app.get(QueueService, { strict: false }).close();
  await app.close();
  await embedded.close();
}

