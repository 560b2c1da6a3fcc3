import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { EventLogService, FactsService, type EvaluationInputs } from '@arbiter/facts';
import { EventPipeline, type IncomingEvent } from '@arbiter/ingestion';
import { AppConfig, QueueService } from '@arbiter/platform';
import { currentSession, runInSession } from '@arbiter/session';
import { GROWTH_QUEUE, growthJobId } from '../growth.constants';
import { nextWindowChange } from './segment-dependencies';
import type { CompiledSegment } from './segment.service';

/** One membership change, as `domains.growth.entered/exited` reports it. */
export interface MembershipChange {
  segment: string;
  change: 'entered' | 'exited';
  at: string;
  /** The `segment.entered`/`segment.exited` event sent through the pipeline (absent when not sent). */
  event_id?: string;
}

/** What re-evaluating some segments for one user did. */
export interface ReevaluationReport {
  evaluated: string[];
  entered: MembershipChange[];
  exited: MembershipChange[];
  /** Segments left unchanged because a fact they read failed (a failure is never read as "left"). */
  errors: { segment: string; message: string }[];
}

/** Data of a delayed re-check job. */
export interface RecheckJob {
  segmentId: string;
  userId: string;
}

/** How many recent events of one type are read to find the oldest inside a window. */
const WINDOW_SCAN = 1000;

/**
 * Segment membership: evaluates segments for one user, records entries and exits with history,
 * sends `segment.entered`/`segment.exited` through the pipeline, and schedules the delayed
 * re-check at the moment a time window can next change the verdict. A write is one atomic
 * statement guarded by a partial unique index (one open membership per segment and user), so
 * concurrent evaluations of the same user — an event, a re-check, a backfill page — enter or leave
 * at most once between them.
 */
@Injectable()
export class MembershipService {
  private readonly logger = new Logger('Segments');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly facts: FactsService,
    private readonly events: EventLogService,
    private readonly pipeline: EventPipeline,
    private readonly queues: QueueService,
    private readonly config: AppConfig,
  ) {}

  /**
   * Re-evaluates `segments` for `userId` (in the current session, whose memo it shares), writes
   * the changes, then sends one event per change, one level deeper than `depth`. `cause` is kept
   * on the membership row (`event:<id>`, `recheck`, `backfill`, `user-update`).
   */
  async reevaluate(userId: string, segments: readonly CompiledSegment[], cause: string, depth: number): Promise<ReevaluationReport> {
    const report: ReevaluationReport = { evaluated: [], entered: [], exited: [], errors: [] };
    if (!segments.length) return report;
    // Fresh inputs: an action of this very call may have changed the user's attributes (the facts
    // lib forgets its memo on every user write, so this reloads exactly then).
    const inputs = await this.facts.evaluationInputs(userId);
    const changes: (MembershipChange & { membershipId: string })[] = [];
    for (const segment of segments) {
      report.evaluated.push(segment.id);
      const verdict = await this.verdict(segment, userId, inputs);
      if (verdict.error) {
        report.errors.push({ segment: segment.id, message: verdict.error });
        continue;
      }
      const change = await this.apply(segment.id, userId, verdict.member, cause);
      if (change) changes.push(change);
      if (segment.triggers.windows.length) await this.scheduleRecheck(segment, userId, inputs.now).catch((err: Error) => this.logger.warn(`could not schedule the re-check of segment "${segment.id}" for ${userId}: ${err.message}`));
    }
    for (const change of changes) {
      const sent = await this.emit(userId, change, depth + 1);
      const { membershipId: _, ...shown } = change;
      (change.change === 'entered' ? report.entered : report.exited).push(sent ? { ...shown, event_id: sent } : shown);
    }
    return report;
  }

  /** Whether the user is in the segment now (the `segment.member` fact). */
  async isMember(segmentId: string, userId: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query('SELECT 1 FROM growth_segment_memberships WHERE segment_id = $1 AND user_id = $2 AND exited_at IS NULL LIMIT 1', [segmentId, userId]);
    return rows.length > 0;
  }

  /** Current members of a segment, by user id, a page at a time. */
  async members(segmentId: string, limit: number, offset: number): Promise<{ items: { user_id: string; entered_at: string }[]; total: number }> {
    const [rows, count] = await Promise.all([
      this.dataSource.query('SELECT user_id, entered_at FROM growth_segment_memberships WHERE segment_id = $1 AND exited_at IS NULL ORDER BY user_id LIMIT $2 OFFSET $3', [segmentId, limit, offset]) as Promise<{ user_id: string; entered_at: unknown }[]>,
      this.dataSource.query('SELECT count(*)::int AS n FROM growth_segment_memberships WHERE segment_id = $1 AND exited_at IS NULL', [segmentId]) as Promise<{ n: number }[]>,
    ]);
    return { items: rows.map((r) => ({ user_id: String(r.user_id), entered_at: iso(r.entered_at)! })), total: Number(count[0]?.n ?? 0) };
  }

  /** A user's segments now, and (with `history`) every past stay too, newest first. */
  async forUser(userId: string, history: boolean): Promise<{ segment: string; entered_at: string; exited_at: string | null }[]> {
    const rows: { segment_id: string; entered_at: unknown; exited_at: unknown }[] = await this.dataSource.query(
      `SELECT segment_id, entered_at, exited_at FROM growth_segment_memberships WHERE user_id = $1 AND ($2 OR exited_at IS NULL) ORDER BY entered_at DESC, id DESC LIMIT 1000`,
      [userId, history],
    );
    return rows.map((r) => ({ segment: String(r.segment_id), entered_at: iso(r.entered_at)!, exited_at: iso(r.exited_at) }));
  }

  /** Erases the user's membership history (with the user, for the right to be forgotten). */
  async eraseUser(userId: string): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query('WITH d AS (DELETE FROM growth_segment_memberships WHERE user_id = $1 RETURNING 1) SELECT count(*)::int AS n FROM d', [userId]);
    return Number(rows[0]?.n ?? 0);
  }

  private async verdict(segment: CompiledSegment, userId: string, inputs: EvaluationInputs): Promise<{ member: boolean; error?: string }> {
    // Membership is about the user, not an event: conditions are compiled for any event type and
    // evaluated against a neutral one, so the same segment gives the same answer from an event,
    // a re-check or a backfill.
    const event = { id: 'segment-check', type: 'segment.check', user_id: userId, occurred_at: inputs.now, payload: {} };
    try {
      const r = await segment.condition.evaluate(event, { resolver: inputs.resolver, user: inputs.user, now: inputs.now });
      if (r.errors.length) return { member: false, error: r.errors.map((e) => e.message).join('; ') };
      return { member: r.value };
    } catch (err) {
      return { member: false, error: (err as Error).message };
    }
  }

  /** Enters or leaves, atomically; undefined when nothing changed (already so, or lost a race). */
  private async apply(segmentId: string, userId: string, member: boolean, cause: string): Promise<(MembershipChange & { membershipId: string }) | undefined> {
    try {
      const rows: { id: string; at: unknown }[] = member
        ? await this.dataSource.query(
            `INSERT INTO growth_segment_memberships (segment_id, user_id, entered_by) VALUES ($1, $2, $3)
             ON CONFLICT (segment_id, user_id) WHERE exited_at IS NULL DO NOTHING RETURNING id, entered_at AS at`,
            [segmentId, userId, cause],
          )
        : await this.dataSource.query(
            `WITH u AS (UPDATE growth_segment_memberships SET exited_at = now(), exited_by = $3
             WHERE segment_id = $1 AND user_id = $2 AND exited_at IS NULL RETURNING id, exited_at AS at) SELECT * FROM u`,
            [segmentId, userId, cause],
          );
      if (!rows.length) return undefined;
      return { segment: segmentId, change: member ? 'entered' : 'exited', at: iso(rows[0].at)!, membershipId: String(rows[0].id) };
    } catch (err) {
      // The segment was deleted while we evaluated it (foreign key): nothing to record.
      if ((err as { code?: string }).code === '23503') return undefined;
      throw err;
    }
  }

  /** Sends the change through the pipeline, in a session of its own; returns the event id, or undefined when not sent. */
  private async emit(userId: string, change: MembershipChange & { membershipId: string }, depth: number): Promise<string | undefined> {
    if (depth > this.config.emitEventMaxDepth) {
      this.logger.warn(`segment.${change.change} of "${change.segment}" for ${userId} not sent: chain is ${depth} deep (EMIT_EVENT_MAX_DEPTH=${this.config.emitEventMaxDepth})`);
      return undefined;
    }
    // The id comes from the membership row, so a replay can never send the same change twice.
    const event: IncomingEvent = {
      id: `segment.${change.change}.${change.segment}.${change.membershipId}`,
      type: `segment.${change.change}`,
      user_id: userId,
      source: 'growth',
      occurred_at: change.at,
      payload: { segment: change.segment },
      depth,
    };
    const parent = currentSession();
    try {
      await runInSession({ requestId: `${parent?.requestId ?? 'growth'}>${event.id}`, userId, sessionId: parent?.sessionId }, () => this.pipeline.process(event, 'emitted'));
      return event.id;
    } catch (err) {
      this.logger.error(`segment.${change.change} event ${event.id} failed in the pipeline: ${(err as Error).message}`);
      return undefined;
    }
  }

  /**
   * Schedules the re-check at the first moment a counted event leaves one of the segment's
   * windows. The job id is (segment, user, due time), so every evaluation that finds the same
   * moment adds one job between them.
   */
  private async scheduleRecheck(segment: CompiledSegment, userId: string, now: number): Promise<void> {
    const oldest = new Map<string, number | undefined>();
    for (const w of segment.triggers.windows) {
      const recent = await this.events.forUser(userId, { type: w.type, limit: WINDOW_SCAN });
      const inside = recent.map((e) => Date.parse(e.occurred_at)).filter((t) => t >= now - w.withinMs);
      oldest.set(`${w.type}|${w.withinMs}`, inside.length ? Math.min(...inside) : undefined);
    }
    const due = nextWindowChange(segment.triggers.windows, (w) => oldest.get(`${w.type}|${w.withinMs}`));
    if (due === undefined) return;
    await this.queues.within<unknown, RecheckJob>(
      GROWTH_QUEUE,
      (queue) =>
        queue.add('recheck' as never, { segmentId: segment.id, userId } as never, {
          jobId: growthJobId('recheck', segment.id, userId, due),
          delay: Math.max(0, due - Date.now()),
          attempts: 5,
          backoff: { type: 'exponential', delay: 1000 },
          removeOnComplete: true,
          removeOnFail: { count: 1000 },
        }),
    );
  }
}

function iso(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return (v instanceof Date ? v : new Date(String(v))).toISOString();
}
