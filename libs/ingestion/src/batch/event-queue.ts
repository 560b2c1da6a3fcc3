import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import { EventLogService, type StoredEvent } from '@arbiter/facts';
import { AppConfig, ConflictError, gauge, NotFoundError, QueueDownError, QueueService, ReadinessRegistry, timeOrderedId, toErrorResponse, TooManyRequestsError, withTimeout } from '@arbiter/platform';
import { runInJobSession } from '@arbiter/session';
import type { IncomingEvent } from '../event.schema';
import { eventJobs } from '../ingestion.metrics';
import { OutcomeRepository } from '../outcome.repository';
import { EventPipeline } from '../pipeline/event-pipeline';
import { differingFields, EventIdReusedError, type ReusedId } from '../pipeline/reused-id';

export const EVENTS_QUEUE = 'events';

export interface EventJobData {
  event: IncomingEvent;
  batchId: string;
}

/** A failed event job as `GET /v1/events/failed` lists it. */
export interface FailedEventJob {
  id: string;
  batch_id: string;
  type: string;
  user_id: string;
  attempts: number;
  error: string;
  failed_at: string | null;
}

const DEPTH_CACHE_MS = 250;

/** The longest a metrics scrape waits for the queue's depth. */
const METRICS_QUEUE_WAIT_MS = 1000;

/** While at most this many jobs have failed, intake also reads their ids to find re-sent events among them. */
const FAILED_SCAN_LIMIT = 1000;

/**
 * The queue's job id of an event: `event/` and its id URI-encoded, one job id per event id. The
 * id itself could name one of BullMQ's own keys (`wait`, `meta`, `id`...), a number or hold a `:`,
 * all of which BullMQ refuses or, worse, writes over its own structures with.
 */
export function eventJobId(eventId: string): string {
  return `event/${encodeURIComponent(eventId)}`;
}

/** What a failed event says of a failure whose reason is the service's own (the log, and the failed-jobs list, have it). */
export const UNEXPECTED_FAILURE = 'the service failed to process this event; the reason is in the log and in GET /v1/events/failed (scope admin)';

/**
 * The reason a queued event failed, as `GET /v1/events/:id` (scope `read`) tells it: what
 * `POST /v1/events` would have answered (a 4xx's message, the database unreachable), never the
 * inside of an unexpected failure (a database's words, a host name), as for a call's 500.
 */
export function publicFailure(err: unknown): string {
  const { body, unexpected } = toErrorResponse(err);
  return unexpected ? UNEXPECTED_FAILURE : body.error.message;
}

/** A job whose event came under the id of another: failed at once, not retried (an UnrecoverableError to BullMQ). */
class RefusedJobError extends UnrecoverableError {}

/**
 * What intake does with a batch's events, given the events the log holds under their ids and the
 * failed jobs the queue has for them. An event under the id of another one, stored, or failed in
 * the queue before it was stored, refuses the batch. A failed job holding the same event is
 * retried; one refused because another event took its id gives way to this event, if it is the
 * stored one. Every other event is added (`addBulk` skips an id whose job is still queued: that
 * body is not compared, as the queue is not read per event).
 */
function sortOut(events: readonly IncomingEvent[], known: ReadonlyMap<string, StoredEvent>, failed: ReadonlyMap<string, Job<EventJobData>>) {
  const reused: ReusedId[] = [];
  const retry: Job<EventJobData>[] = [];
  const replace: Job<EventJobData>[] = [];
  events.forEach((event, index) => {
    const first = known.get(event.id);
    const job = failed.get(event.id);
    const fields = first ? differingFields(first, event) : job ? differingFields(job.data.event, event) : [];
    if (fields.length) reused.push({ eventId: event.id, fields, at: `events[${index}].`, index });
    else if (job && first && differingFields(job.data.event, event).length) replace.push(job);
    else if (job) retry.push(job);
  });
  if (reused.length) throw new EventIdReusedError(reused);
  return { retry, replace };
}

const QUEUE_DOWN = () => new QueueDownError(EVENTS_QUEUE, 'the event queue did not answer in time; retry in a moment (sending the same events again is safe: an event is queued once under its id)');

/**
 * Batch intake and the workers behind it. Accepted events are enqueued durably before the answer
 * (`addBulk`, one job id per event id, {@link eventJobId}: an event still queued is not queued
 * twice, one whose job failed is retried, and the pipeline answers one already processed as a
 * duplicate, so a retried batch counts nothing twice), each then runs the same
 * pipeline as a synchronous call, in a session of its own, with retries and exponential backoff;
 * one that fails its last try is kept, listed and retriable. Intake refuses work (429) while more
 * than QUEUE_MAX_DEPTH events wait, and readiness fails above 80% of it.
 */
@Injectable()
export class EventQueue implements OnApplicationBootstrap {
  private readonly logger = new Logger('EventQueue');
  private depth = { value: 0, at: 0 };
  private readonly jobs = eventJobs();

  constructor(
    private readonly config: AppConfig,
    private readonly queues: QueueService,
    private readonly pipeline: EventPipeline,
    private readonly outcomes: OutcomeRepository,
    private readonly eventLog: EventLogService,
    private readonly health: HealthIndicatorService,
    readiness: ReadinessRegistry,
  ) {
    readiness.add(() =>
      this.health
        .check('queue_depth')
        .attempt(async () => {
          const waiting = await this.waiting(true);
          const limit = Math.floor(this.config.queueMaxDepth * 0.8);
          if (waiting > limit) throw new Error(`${waiting} events waiting, above 80% of QUEUE_MAX_DEPTH (${this.config.queueMaxDepth})`);
          return { waiting, limit: this.config.queueMaxDepth };
        })
        .withTimeout(2000),
    );
    gauge({
      name: 'arbiter_queue_depth',
      help: 'Jobs waiting on the events queue',
      labelNames: ['queue'] as const,
      collect: async function (this: { set(labels: { queue: string }, v: number): void }) {
        // Bound to the latest EventQueue: tests boot several apps in one process.
        const current = EventQueue.latest;
        // A queue that does not answer leaves the last value: a scrape does not wait on it.
        const waiting = await withTimeout(current?.waiting(true) ?? Promise.resolve(undefined), METRICS_QUEUE_WAIT_MS).catch(() => undefined);
        if (waiting !== undefined) this.set({ queue: EVENTS_QUEUE }, waiting);
      },
    });
    EventQueue.latest = this;
  }

  private static latest?: EventQueue;

  async onApplicationBootstrap(): Promise<void> {
    const worker = await this.queues.worker<EventJobData>(
      EVENTS_QUEUE,
      // The job answers only whether the event was a repeat: its result is stored with the outcome
      // (GET /v1/events/:id), and a copy would cost a serialisation per job for nothing (completed
      // jobs are removed at once).
      async (job) => {
        try {
          return { duplicate: (await runInJobSession(job.id, job.data.event, () => this.pipeline.process(job.data.event, 'batch', job.data.batchId))).duplicate };
        } catch (err) {
          // Another event's id: no retry can change that; it fails at once, listed with the reason.
          throw err instanceof EventIdReusedError ? new RefusedJobError(err.message) : err;
        }
      },
      { concurrency: this.config.eventConcurrency },
    );
    if (!worker) return;
    worker.on('completed', () => this.jobs.inc({ outcome: 'completed' }));
    worker.on('failed', (job, err) => void this.onFailed(job, err));
  }

  private async onFailed(job: Job<EventJobData> | undefined, err: Error): Promise<void> {
    if (!job) return;
    const last = job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError;
    this.jobs.inc({ outcome: last ? 'failed' : 'retrying' });
    if (!last) return;
    this.logger.warn(`event ${job.data.event.id} failed after ${job.attemptsMade} attempts: ${err.message}`);
    // A refused job records no outcome: the id's outcome is the other event's.
    if (err instanceof RefusedJobError) return;
    await this.outcomes.saveFailed(job.data.event.id, job.data.batchId, publicFailure(err)).catch((e: Error) => this.logger.error(`could not record failure of ${job.data.event.id}: ${e.message}`));
  }

  /**
   * Enqueues validated events as one batch; 429 when the queue is too deep to take them, 503 when
   * it does not answer within QUEUE_TIMEOUT_MS (the batch may still land once it does: job ids
   * are event ids, so a client that sends it again counts nothing twice), 422 when an event comes
   * under the id of another, stored or failed in the queue ({@link EventIdReusedError}: the
   * whole batch is refused).
   */
  async enqueue(events: readonly IncomingEvent[]): Promise<{ batch_id: string; accepted: number }> {
    const waiting = await this.bounded(this.waiting());
    if (waiting + events.length > this.config.queueMaxDepth) {
      const throughput = Math.max(this.config.eventConcurrency * 100, 500);
      const retryAfter = Math.min(60, Math.max(1, Math.ceil((waiting + events.length - this.config.queueMaxDepth) / throughput)));
      throw new TooManyRequestsError(`the event queue is full (${waiting} waiting, limit ${this.config.queueMaxDepth}); retry later`, retryAfter);
    }
    const queue = await this.queue();
    const [known, failedCount] = await Promise.all([this.eventLog.findMany(events.map((e) => e.id)), this.bounded(queue.getFailedCount())]);
    const failed = failedCount ? await this.failedJobsOf(queue, events, known, failedCount) : new Map<string, Job<EventJobData>>();
    const { retry, replace } = sortOut(events, new Map(known.map((e) => [e.id, e])), failed);
    const batchId = timeOrderedId();
    // The batch row first: a worker may finish an event before addBulk even returns.
    await this.outcomes.createBatch(batchId, events.map((e) => e.id));
    // A job refused because its id named another event holds the id's job key: it makes way.
    await this.bounded(Promise.all(replace.map((job) => job.remove().catch(() => undefined))));
    const retried = new Set(retry.map((job) => job.data.event.id));
    const adding = queue.addBulk(
      events
        .filter((event) => !retried.has(event.id))
        .map((event) => ({
          name: event.type,
          data: { event, batchId },
          opts: {
            jobId: eventJobId(event.id),
            attempts: this.config.eventAttempts,
            backoff: { type: 'exponential', delay: 1000 },
            // A processed event's job goes at once: its result is stored with the outcome, and a
            // re-sent event is answered as a duplicate by the pipeline. Keeping completed jobs (for an
            // hour, up to 10,000) cost Redis about a quarter more per event in the batch benchmark.
            removeOnComplete: true,
            removeOnFail: false,
          },
        })),
    );
    await this.bounded(adding);
    await this.requeue(retry, true);
    this.depth.value += events.length;
    return { batch_id: batchId, accepted: events.length };
  }

  /**
   * The failed jobs of `events`, by event id, while `count` jobs have failed. Looked for among the
   * outcomes recorded as failed (one indexed read); among the failed jobs' ids, while at most
   * {@link FAILED_SCAN_LIMIT} have failed, since a failure's outcome is written best effort (the
   * database may be what failed); and among the stored events (`known`) that never finished,
   * since a job refused because another event took its id records no outcome at all.
   */
  private async failedJobsOf(queue: Queue<EventJobData>, events: readonly IncomingEvent[], known: readonly StoredEvent[], count: number): Promise<Map<string, Job<EventJobData>>> {
    const [recorded, jobIds, done] = await Promise.all([
      this.outcomes.failedAmong(events.map((e) => e.id)),
      count <= FAILED_SCAN_LIMIT ? this.bounded(queue.getRanges(['failed'], 0, -1)) : [],
      known.length ? this.outcomes.doneAmong(known.map((e) => e.id)) : [],
    ]);
    const failedJobs = new Set(jobIds);
    const finished = new Set(done);
    const ids = new Set(recorded);
    for (const e of events) if (failedJobs.has(eventJobId(e.id)) || failedJobs.has(e.id)) ids.add(e.id);
    for (const e of known) if (!finished.has(e.id)) ids.add(e.id);
    const jobs = await this.bounded(Promise.all([...ids].map((id) => this.failedJobOf(queue, id))));
    return new Map(jobs.filter((j) => j !== undefined).map((j) => [j.data.event.id, j]));
  }

  /**
   * Failed jobs queued again: their failures' outcomes go first (the events are queued, not
   * failed, in every batch that holds them), then each job is retried, its attempts counted
   * afresh when `fresh`. Another intake, or an admin's retry, may have moved a job on meanwhile:
   * then it is on its way, and its retry here does nothing.
   */
  private async requeue(jobs: readonly Job<EventJobData>[], fresh: boolean): Promise<void> {
    const reasons = await this.outcomes.clearFailed(jobs.map((j) => j.data.event.id));
    await Promise.all(
      jobs.map(async (job) => {
        try {
          await this.bounded(job.retry('failed', fresh ? { resetAttemptsMade: true } : undefined));
        } catch (err) {
          // Still failed, as far as can be told (the queue refused the retry, or did not answer):
          // its failure is recorded again. A queue that did not answer is the caller's 503.
          const id = job.data.event.id;
          if (await this.bounded(job.isFailed()).catch(() => true)) await this.outcomes.saveFailed(id, job.data.batchId, reasons.get(id) ?? UNEXPECTED_FAILURE).catch(() => undefined);
          if (err instanceof QueueDownError) throw err;
        }
      }),
    );
  }

  /** The job of an event ({@link jobOf}) if it has failed its last attempt. */
  private async failedJobOf(queue: Queue<EventJobData>, eventId: string): Promise<Job<EventJobData> | undefined> {
    const job = await this.jobOf(queue, eventId);
    return job && (await job.isFailed()) ? job : undefined;
  }

  /**
   * The job of an event: under {@link eventJobId}, or under the event id itself for one queued
   * before job ids had their prefix (such an id can name one of the queue's own keys, whose read
   * then fails: no job).
   */
  private async jobOf(queue: Queue<EventJobData>, eventId: string): Promise<Job<EventJobData> | undefined> {
    const job = await queue.getJob(eventJobId(eventId));
    if (job) return job;
    const legacy = await queue.getJob(eventId).catch(() => undefined);
    return legacy?.data?.event?.id === eventId ? legacy : undefined;
  }

  async status(batchId: string) {
    const status = await this.outcomes.batchStatus(batchId);
    if (!status) throw new NotFoundError('batch', batchId);
    return status;
  }

  /**
   * Failed jobs, newest first. A job whose event was processed since (sent again through
   * `POST /v1/events`) is removed on the way, not listed.
   */
  async failed(start = 0, count = 50): Promise<{ items: FailedEventJob[]; total: number }> {
    const [page, total] = await this.bounded(this.queue().then((queue) => Promise.all([queue.getFailed(start, start + count - 1), queue.getFailedCount()])));
    const listed = page.filter(Boolean);
    const done = await this.processedSince(listed);
    const jobs = listed.filter((j) => !done.has(j));
    await this.bounded(Promise.all([...done].map((j) => j.remove().catch(() => undefined))));
    return {
      total: total - (listed.length - jobs.length),
      items: jobs.map((job) => ({
        id: job.data.event.id,
        batch_id: job.data.batchId,
        type: job.data.event.type,
        user_id: job.data.event.user_id,
        attempts: job.attemptsMade,
        error: job.failedReason,
        failed_at: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
      })),
    };
  }

  async retry(id: string): Promise<{ id: string; state: string }> {
    const job = await this.bounded(this.queue().then((queue) => this.failedJobOf(queue, id)));
    if (!job) throw new NotFoundError('failed event job', id);
    const [stored] = await this.eventLog.findMany([id]);
    const fields = stored ? differingFields(stored, job.data.event) : [];
    // Refused because another event took its id: it would be again.
    if (fields.length) throw new EventIdReusedError([{ eventId: id, fields }]);
    // The log holds this very event: done means processed since the job failed.
    if (stored && (await this.outcomes.doneAmong([id])).length) {
      await this.bounded(job.remove().catch(() => undefined));
      throw new ConflictError('EVENT_ALREADY_PROCESSED', `event ${id} was processed since its job failed (GET /v1/events/${encodeURIComponent(id)}); its failed job is removed`);
    }
    await this.requeue([job], false);
    return { id, state: 'waiting' };
  }

  /**
   * The failed jobs among `jobs` whose events have been processed since (sent again through
   * `POST /v1/events`): done, and stored as the job holds them. Not a job failed because another
   * event took its id (that event is what is done).
   */
  private async processedSince(jobs: readonly Job<EventJobData>[]): Promise<Set<Job<EventJobData>>> {
    if (!jobs.length) return new Set();
    const ids = jobs.map((j) => j.data.event.id);
    const done = new Set(await this.outcomes.doneAmong(ids));
    if (!done.size) return new Set();
    const stored = new Map((await this.eventLog.findMany([...done])).map((e) => [e.id, e]));
    return new Set(
      jobs.filter((j) => {
        const event = stored.get(j.data.event.id);
        return event !== undefined && differingFields(event, j.data.event).length === 0;
      }),
    );
  }

  /**
   * Where a queued event is that the event log does not hold yet: waiting (or running, or
   * waiting for a retry), or failed before it was stored; `undefined` when the
   * queue has no job for it.
   */
  async jobState(eventId: string): Promise<{ state: 'queued' | 'failed'; error: string | null } | undefined> {
    const job = await this.bounded(this.queue().then((q) => this.jobOf(q, eventId)));
    if (!job) return undefined;
    const state = await this.bounded(job.getState());
    // The job's own reason is for the failed-jobs list (scope admin): a failure with no outcome recorded.
    if (state === 'failed') return { state, error: UNEXPECTED_FAILURE };
    return state === 'completed' || state === 'unknown' ? undefined : { state: 'queued', error: null };
  }

  /** Jobs waiting (and delayed for a retry); cached briefly so intake does not ask on every call. */
  async waiting(fresh = false): Promise<number> {
    const now = Date.now();
    if (fresh || now - this.depth.at > DEPTH_CACHE_MS) {
      const counts = await (await this.queue()).getJobCounts('waiting', 'delayed', 'prioritized');
      this.depth = { value: counts.waiting + counts.delayed + (counts.prioritized ?? 0), at: now };
    }
    return this.depth.value;
  }

  /** `work` on the queue, waited for at most QUEUE_TIMEOUT_MS: past it, 503 DEPENDENCY_DOWN (`queue`). */
  private bounded<T>(work: Promise<T>): Promise<T> {
    return this.queues.bounded(work, QUEUE_DOWN);
  }

  private queue(): Promise<Queue<EventJobData>> {
    return this.queues.queue<EventJobData>(EVENTS_QUEUE);
  }
}
