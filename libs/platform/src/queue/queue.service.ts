import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { Queue, Worker, createPostgresBackend, createRedisBackend, runMigrations, setDefaultBackendFactory, type BackendFactory, type Processor, type WorkerOptions } from 'bullmq';
import { AppConfig } from '../config/app-config';
import { QueueDownError } from '../errors/arbiter.error';
import { EmbeddedDatabase } from '../store/embedded-database';

/**
 * What a caller of {@link QueueService.bounded} records when it gives up on the queue, and undoes
 * if the work lands after all (each a write of its own, conditional on the state it expects).
 */
export interface GivenUp {
  givenUp(): Promise<unknown>;
  landed(): Promise<unknown>;
}

/** Schema of BullMQ's own tables when the queue runs on PostgreSQL. */
export const QUEUE_SCHEMA = 'bullmq';

// Each backend has its own connection type; they meet only here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyBackend = BackendFactory<any, any>;

interface Backend {
  kind: 'redis' | 'postgres' | 'embedded';
  factory: AnyBackend;
  connection: unknown;
}

/**
 * The one place queues and workers are made. BullMQ runs on Redis when REDIS_URL is set and on
 * its PostgreSQL backend otherwise (the real server, or the embedded PGlite), with the same
 * Queue/Worker API either way. Workers run only when WORKERS_ENABLED allows; they are closed
 * (waiting for the jobs in hand) before the store shuts down.
 */
@Injectable()
export class QueueService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('QueueService');
  private backend?: Promise<Backend>;
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private closed = false;
  /** Set while something asked of the queue has outlasted QUEUE_TIMEOUT_MS and not settled yet ({@link bounded}). */
  private stalled?: Promise<void>;

  constructor(
    private readonly config: AppConfig,
    private readonly embedded: EmbeddedDatabase,
  ) {}

  get kind(): 'redis' | 'postgres' | 'embedded' {
    return this.config.queueKind;
  }

  /** The named queue (created once per process). */
  async queue<T = unknown>(name: string): Promise<Queue<T>> {
    const existing = this.queues.get(name);
    if (existing) return existing as Queue<T>;
    const { factory, connection } = await this.connect();
    const queue = new Queue(name, { connection, prefix: this.config.queuePrefix } as never, factory) as unknown as Queue<T>;
    queue.on('error', (err) => this.logger.warn(`queue ${name}: ${err.message}`));
    this.queues.set(name, queue as Queue);
    return queue;
  }

  /**
   * `work` on the named queue, waited for at most `QUEUE_TIMEOUT_MS` ({@link bounded}); past it, a
   * {@link QueueDownError} naming the queue.
   */
  within<T, D = unknown>(name: string, work: (queue: Queue<D>) => Promise<T>, followUp?: GivenUp): Promise<T> {
    return this.bounded(this.queue<D>(name).then(work), () => new QueueDownError(name), followUp);
  }

  /**
   * `work` (something asked of the queue), waited for at most `QUEUE_TIMEOUT_MS`: past it, a
   * rejection with `onTimeout()`. A caller does not hang on a queue that does not answer (Redis
   * stalled or unreachable: ioredis holds commands until it answers). Until the work settles,
   * every other wait here fails at once, so a call that asks the queue several times waits once,
   * not once for each.
   *
   * The work goes on and may still land. With `followUp`, a failure (a wait given up on, or the
   * work refused) is recorded by `givenUp()` before the rejection reaches the caller, and if the
   * work lands after all, `landed()` runs once that record is written, to undo it.
   */
  bounded<T>(work: Promise<T>, onTimeout: () => Error, followUp?: GivenUp): Promise<T> {
    let waited: Promise<T>;
    if (this.stalled) {
      // Not waited for, but sent: a failure of it later is no one's to handle (and must not go unhandled).
      work.catch(() => undefined);
      waited = Promise.reject(onTimeout());
    } else {
      waited = withTimeout(work, this.config.queueTimeoutMs, () => this.stall(work, onTimeout));
    }
    if (!followUp) return waited;
    return waited.catch(async (err: unknown) => {
      const recorded = followUp.givenUp().catch((e: Error) => this.logger.error(`could not record a queue wait given up on: ${e.message}`));
      void work.then(() => recorded.then(() => followUp.landed())).catch(() => undefined);
      await recorded;
      throw err;
    });
  }

  /** A wait on `work` ran out: other waits fail at once until it settles. */
  private stall(work: Promise<unknown>, onTimeout: () => Error): Error {
    const mark = work.then(
      () => undefined,
      () => undefined,
    );
    this.stalled = mark;
    void mark.then(() => {
      if (this.stalled === mark) this.stalled = undefined;
    });
    return onTimeout();
  }

  /**
   * Starts a worker on `name` unless workers are disabled in this process; returns it or undefined.
   * The processor runs each job; a throw fails the attempt and BullMQ retries per the job's options.
   */
  async worker<T = unknown, R = unknown>(name: string, processor: Processor<T, R>, options: Omit<WorkerOptions, 'connection'> = {}): Promise<Worker<T, R> | undefined> {
    if (!this.config.workersEnabled || this.closed) return undefined;
    const { factory, connection } = await this.connect();
    // A dead worker's active jobs go back to the queue once their lock lapses (the stalled check).
    const locks = { lockDuration: this.config.jobLockMs, stalledInterval: this.config.jobLockMs };
    const worker = new Worker<T, R>(name, processor, { ...locks, ...options, connection, prefix: this.config.queuePrefix } as never, factory) as Worker<T, R>;
    worker.on('error', (err) => this.logger.warn(`worker ${name}: ${err.message}`));
    this.workers.push(worker as Worker);
    return worker;
  }

  /** Lets a test or a shutdown wait until the queue's backend answers. */
  async ping(name = 'system'): Promise<void> {
    const queue = await this.queue(name);
    await queue.getJobCounts('waiting');
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Workers first: each finishes the job in hand (bounded by SHUTDOWN_TIMEOUT_MS) before exit.
    await Promise.all(this.workers.map((w) => withTimeout(w.close(), Math.max(1, this.config.shutdownTimeoutMs)).catch(() => w.close(true))));
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.workers.length = 0;
    this.queues.clear();
  }

  private connect(): Promise<Backend> {
    this.backend ??= this.createBackend();
    return this.backend;
  }

  private async createBackend(): Promise<Backend> {
    let backend: Backend;
    if (this.config.redisUrl) {
      backend = { kind: 'redis', factory: createRedisBackend as AnyBackend, connection: redisOptions(this.config.redisUrl) };
    } else if (this.config.databaseUrl) {
      backend = {
        kind: 'postgres',
        factory: createPostgresBackend as AnyBackend,
        connection: { connectionString: this.config.databaseUrl, schema: QUEUE_SCHEMA, migrate: true, max: 10 },
      };
    } else {
      const pool = await this.embedded.pool(`"${QUEUE_SCHEMA}"`);
      const client = await pool.connect();
      try {
        await runMigrations(client, QUEUE_SCHEMA);
      } finally {
        client.release();
      }
      backend = { kind: 'embedded', factory: createPostgresBackend as AnyBackend, connection: pool };
    }
    // Anything made without an explicit factory (BullMQ helpers) follows the same backend.
    setDefaultBackendFactory(backend.kind === 'redis' ? undefined : (createPostgresBackend as AnyBackend));
    this.logger.log(`queue backend: ${backend.kind}`);
    return backend;
  }
}

/** ioredis options from a redis:// URL; workers need maxRetriesPerRequest null (BullMQ's rule). */
export function redisOptions(url: string): Record<string, unknown> {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
  };
}

/**
 * `promise`, or a rejection with `onTimeout()` (an Error saying "timeout" by default) if it has not
 * settled within `ms`; `ms` of 0 or less waits as long as it takes. The work behind it goes on.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error = () => new Error('timeout')): Promise<T> {
  if (!(ms > 0)) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
