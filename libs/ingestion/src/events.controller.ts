import { Body, Controller, Get, Header, Headers, HttpCode, Param, Post, Query } from '@nestjs/common';
import { RouteSchema } from '@nestjs/platform-fastify';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CatalogueService, EventLogService } from '@arbiter/facts';
import { AppConfig, NotFoundError, RequireScope, ValidationError, type FieldProblem } from '@arbiter/platform';
import { EventQueue } from './batch/event-queue';
import { batchSchema, eventResponseSchema, eventSchema, type IncomingEvent } from './event.schema';
import { eventProblems, namesOf, normalizeEvent, payloadPath } from './event-normalizer';
import { OutcomeRepository } from './outcome.repository';
import { EventPipeline } from './pipeline/event-pipeline';
import { EventIdReusedError } from './pipeline/reused-id';

const MAX_BATCH_SCHEMA = 100_000;

/**
 * Event intake: one event synchronously (the response says what every domain decided), or a batch
 * through the queue. Bodies are validated by the route schemas (structure) and then against the
 * declared event types (payload field types) — every problem listed with its path, nothing stored.
 */
@ApiTags('events')
@ApiBearerAuth()
@Controller('v1/events')
export class EventsController {
  constructor(
    private readonly config: AppConfig,
    private readonly pipeline: EventPipeline,
    private readonly queue: EventQueue,
    private readonly catalogue: CatalogueService,
    private readonly eventLog: EventLogService,
    private readonly outcomes: OutcomeRepository,
  ) {}

  @Post()
  @HttpCode(200)
  @Header('content-type', 'application/json; charset=utf-8')
  @RequireScope('ingest')
  @RouteSchema({ body: eventSchema })
  @ApiOperation({ summary: 'Process one event now: fraud, then promo, then growth', description: 'Accepts Arbiter\'s shape or a CloudEvents 1.0 structured envelope (`subject` = user, `data` = payload). A repeated `id` returns the first result with `duplicate: true` and runs nothing; the id of another event (another type, user, source or payload) is a 422 `EVENT_ID_REUSED`.' })
  @ApiBody({ schema: eventSchema as object })
  @ApiResponse({ status: 200, schema: eventResponseSchema as object })
  async ingest(@Body() body: Record<string, unknown>, @Headers('x-session-id') sessionHeader?: string) {
    const event = normalizeEvent(body, sessionHeader);
    const problems = this.problems(body, event, '');
    if (problems.length) throw new ValidationError(problems);
    try {
      // The text the outcome was stored as: one serialisation for the store and the answer.
      return this.pipeline.json(await this.pipeline.process(event, 'sync'));
    } catch (err) {
      throw err instanceof EventIdReusedError ? err.named(() => namesOf(body)) : err;
    }
  }

  @Post('batch')
  @HttpCode(202)
  @RequireScope('ingest')
  @RouteSchema({ body: batchSchema(MAX_BATCH_SCHEMA) })
  @ApiOperation({ summary: 'Queue up to BATCH_MAX_EVENTS events; all are accepted or none', description: 'Each event is validated like a single one; any bad event rejects the whole batch, listing every bad index. Accepted events are durably queued before the answer. 429 with Retry-After when the queue is full.' })
  @ApiBody({ schema: batchSchema(1000) as object })
  @ApiResponse({ status: 202, schema: { example: { batch_id: '7d0c…', accepted: 2 } } })
  async batch(@Body() body: { events: Record<string, unknown>[] }, @Headers('x-session-id') sessionHeader?: string) {
    if (body.events.length > this.config.batchMaxEvents) {
      throw new ValidationError([{ path: 'events', message: `must have at most ${this.config.batchMaxEvents} events (BATCH_MAX_EVENTS)` }]);
    }
    const problems: FieldProblem[] = [];
    const seen = new Map<string, number>();
    const events = body.events.map((raw, i) => {
      const event = normalizeEvent(raw, sessionHeader);
      problems.push(...this.problems(raw, event, `events[${i}].`));
      const first = seen.get(event.id);
      if (first !== undefined) problems.push({ path: `events[${i}].id`, message: `repeats the id of events[${first}]` });
      else seen.set(event.id, i);
      return event;
    });
    if (problems.length) throw new ValidationError(problems);
    try {
      return await this.queue.enqueue(events);
    } catch (err) {
      throw err instanceof EventIdReusedError ? err.named((r) => namesOf(body.events[r.index ?? 0])) : err;
    }
  }

  @Get('batch/:id')
  @RequireScope('ingest')
  @ApiOperation({ summary: 'Progress of a batch: queued, done, failed and duplicate counts' })
  batchStatus(@Param('id') id: string) {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw new NotFoundError('batch', id);
    return this.queue.status(id);
  }

  @Get('failed')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Queued events that failed their last attempt (kept until retried)' })
  failed(@Query('offset') offset?: string, @Query('limit') limit?: string) {
    return this.queue.failed(page(offset, 0, 'offset'), Math.min(page(limit, 50, 'limit') || 50, 500));
  }

  @Post('failed/:id/retry')
  @HttpCode(202)
  @RequireScope('admin')
  @ApiOperation({ summary: 'Queue a failed event again' })
  retry(@Param('id') id: string) {
    return this.queue.retry(id);
  }

  @Get(':id')
  @RequireScope('read')
  @ApiOperation({ summary: 'One event and the result of processing it; an event still queued, or failed before the log held it, is `queued` or `failed` with `event: null`' })
  async get(@Param('id') id: string) {
    const [event, outcome] = await Promise.all([this.eventLog.find(id), this.outcomes.find(id)]);
    if (event) return { event, status: outcome?.status ?? 'pending', result: outcome?.result ?? null, error: outcome?.error ?? null };
    // Not in the log: failed before the log held it, or still queued. (An erased user's events
    // leave their outcomes behind: those are not served.)
    if (outcome?.status === 'failed') return { event: null, status: 'failed', result: null, error: outcome.error };
    const job = await this.queue.jobState(id);
    if (!job) throw new NotFoundError('event', id);
    return { event: null, status: job.state, result: null, error: job.error };
  }

  /** What the route schema could not tell: the event's own problems, then, if it has none, its payload's against its declared type. */
  private problems(body: Record<string, unknown>, event: IncomingEvent, at: string): FieldProblem[] {
    const own = eventProblems(body, event, at, { maxDepth: this.config.payloadMaxDepth, maxFutureMs: this.config.eventMaxFutureMs });
    return own.length ? own : this.catalogue.validatePayload(event.type, event.payload, payloadPath(body, at));
  }
}

function page(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,9}$/.test(raw)) throw new ValidationError([{ path: name, message: 'must be a whole number' }]);
  return Number(raw);
}
