import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Job } from 'bullmq';
import { DataSource } from 'typeorm';
import { AppConfig, QueueService, type GivenUp } from '@arbiter/platform';
import { runInSession } from '@arbiter/session';
import { GROWTH_QUEUE, growthJobId } from '../growth.constants';
import { MembershipService, type RecheckJob } from './membership.service';
import { SegmentService } from './segment.service';
import { UserDirectory } from './user-directory';

/** Data of one backfill page: the users after `after`, for the segment at `revision`. */
export interface BackfillJob {
  segmentId: string;
  revision: number;
  after: string | null;
  /** Users done before this page (so a retried page sets, never adds, the progress). */
  done: number;
}

/**
 * The `growth` queue: delayed re-checks (a user's window may have expired) and backfill pages
 * (a new or changed segment evaluated for every known user, GROWTH_BACKFILL_PAGE_SIZE at a time,
 * progress written on the segment row after each page). A page for an outdated revision stops
 * there: the newer revision's backfill covers everyone.
 */
@Injectable()
export class GrowthJobsProcessor implements OnApplicationBootstrap {
  private readonly logger = new Logger('GrowthJobs');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly queues: QueueService,
    private readonly segments: SegmentService,
    private readonly membership: MembershipService,
    private readonly users: UserDirectory,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const worker = await this.queues.worker<RecheckJob | BackfillJob>(GROWTH_QUEUE, (job) => this.process(job), { concurrency: this.config.growthConcurrency });
    worker?.on('failed', (job, err) => {
      this.logger.warn(`growth job ${job?.id} failed (attempt ${job?.attemptsMade}): ${err.message}`);
      if (job?.name === 'backfill' && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        const { segmentId, revision } = job.data as BackfillJob;
        void this.backfillFailed(segmentId, revision).catch(() => undefined);
      }
    });
  }

  /**
   * Starts (or restarts, for a new revision) the backfill of a segment. When the queue does not
   * take its first page within QUEUE_TIMEOUT_MS, the backfill is `failed` (a new revision runs it
   * again) rather than `running` with nothing behind it, and `running` again if the page lands
   * once the queue answers; the segment stands either way.
   */
  async startBackfill(segmentId: string, revision: number): Promise<void> {
    const total = await this.users.count();
    await this.dataSource.query(
      `UPDATE growth_segments SET backfill_status = 'running', backfill_revision = $2, backfill_total = $3, backfill_done = 0,
         backfill_started_at = now(), backfill_finished_at = NULL
       WHERE id = $1 AND revision = $2`,
      [segmentId, revision, total],
    );
    try {
      await this.enqueuePage(
        { segmentId, revision, after: null, done: 0 },
        {
          givenUp: () => this.backfillFailed(segmentId, revision),
          landed: () => this.dataSource.query(`UPDATE growth_segments SET backfill_status = 'running', backfill_finished_at = NULL WHERE id = $1 AND backfill_revision = $2 AND backfill_status = 'failed'`, [segmentId, revision]),
        },
      );
    } catch (err) {
      this.logger.warn(`the backfill of segment "${segmentId}" (revision ${revision}) could not be queued: ${(err as Error).message}`);
    }
  }

  /** A running backfill of this revision failed (one that finished meanwhile stays done). */
  private async backfillFailed(segmentId: string, revision: number): Promise<void> {
    await this.dataSource.query(`UPDATE growth_segments SET backfill_status = 'failed', backfill_finished_at = now() WHERE id = $1 AND backfill_revision = $2 AND backfill_status = 'running'`, [segmentId, revision]);
  }

  private async enqueuePage(data: BackfillJob, followUp?: GivenUp): Promise<void> {
    await this.queues.within<unknown, BackfillJob>(
      GROWTH_QUEUE,
      (queue) =>
        queue.add('backfill' as never, data as never, {
          jobId: growthJobId('backfill', data.segmentId, data.revision, data.after ?? '^'),
          attempts: 5,
          backoff: { type: 'exponential', delay: 1000 },
          removeOnComplete: { count: 1000 },
          removeOnFail: { count: 1000 },
        }),
      followUp,
    );
  }

  private process(job: Job<RecheckJob | BackfillJob>): Promise<unknown> {
    if (job.name === 'recheck') return this.recheck(job.data as RecheckJob);
    if (job.name === 'backfill') return this.backfill(job as Job<BackfillJob>);
    throw new Error(`growth queue: no handler for job "${job.name}"`);
  }

  private async recheck({ segmentId, userId }: RecheckJob): Promise<unknown> {
    const segment = await this.segments.compiled(segmentId);
    if (!segment) return { skipped: 'segment gone' };
    return runInSession({ requestId: `job:${growthJobId('recheck', segmentId, userId)}`, userId }, () => this.membership.reevaluate(userId, [segment], 'recheck', 0));
  }

  private async backfill(job: Job<BackfillJob>): Promise<unknown> {
    const { segmentId, revision, after, done } = job.data;
    const rows: { revision: number; backfill_revision: number }[] = await this.dataSource.query('SELECT revision, backfill_revision FROM growth_segments WHERE id = $1', [segmentId]);
    if (!rows.length || Number(rows[0].revision) !== revision || Number(rows[0].backfill_revision) !== revision) return { skipped: 'outdated revision' };
    let segment = await this.segments.compiled(segmentId);
    if (segment?.revision !== revision) {
      // This process's compiled set predates the change (made by another process): reload once.
      this.segments.invalidate();
      segment = await this.segments.compiled(segmentId);
    }
    if (!segment || segment.revision !== revision) throw new Error(`segment "${segmentId}" revision ${revision} is not loaded yet`);
    const ids = await this.users.page(after, this.config.growthBackfillPageSize);
    for (const userId of ids) {
      await runInSession({ requestId: `job:${job.id}`, userId }, () => this.membership.reevaluate(userId, [segment], 'backfill', 0));
    }
    const now = done + ids.length;
    const last = ids.length < this.config.growthBackfillPageSize;
    await this.dataSource.query(
      `UPDATE growth_segments SET backfill_done = GREATEST(backfill_done, $3), backfill_total = GREATEST(backfill_total, $3),
         backfill_status = CASE WHEN $4 THEN 'done' ELSE backfill_status END,
         backfill_finished_at = CASE WHEN $4 THEN now() ELSE backfill_finished_at END
       WHERE id = $1 AND backfill_revision = $2`,
      [segmentId, revision, now, last],
    );
    if (!last) await this.enqueuePage({ segmentId, revision, after: ids[ids.length - 1], done: now });
    return { users: ids.length, done: now, last };
  }
}
