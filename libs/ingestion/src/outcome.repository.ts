import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { carriedClauses, Coalescer, droppedRows, JsonText, preparedQuery, rowParams, writeCarriedRecords, type CarriedRow } from '@arbiter/platform';
import type { PipelineResult } from './pipeline/pipeline.interfaces';

export interface StoredOutcome {
  status: 'done' | 'failed';
  batchId: string | null;
  result: PipelineResult | null;
  error: string | null;
}

export interface BatchStatus {
  batch_id: string;
  total: number;
  queued: number;
  done: number;
  failed: number;
  duplicate: number;
  created_at: string;
}

const NONE: readonly CarriedRow[] = [];

const OUTCOME_ROWS = { event_id: 'text', batch_id: 'uuid', result: 'json' } as const;

interface Done {
  eventId: string;
  /** The result, or its JSON text when the caller serialised it already (to answer with it too). */
  result: PipelineResult | JsonText;
  batchId?: string;
  carried: readonly CarriedRow[];
}

/**
 * The result of every processed event (what a repeated event id is answered with) and the batches
 * accepted for the queue. A batch's counts are read from the outcomes of its events — no counter
 * row is updated on the hot path, so concurrent workers never contend on one row.
 */
@Injectable()
export class OutcomeRepository {
  /** Results of concurrent events are written by one multi-row statement (one commit), with the rows they carry. */
  private readonly writes = new Coalescer<Done, readonly CarriedRow[]>((items) => this.saveMany(items));

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async find(eventId: string): Promise<StoredOutcome | undefined> {
    const rows = await preparedQuery<{ status: 'done' | 'failed'; batch_id: string | null; result: PipelineResult | null; error: string | null }>(
      this.dataSource,
      'arbiter_outcome_find',
      'SELECT status, batch_id, result, error FROM event_outcomes WHERE event_id = $1',
      [eventId],
    );
    const r = rows[0];
    return r && { status: r.status, batchId: r.batch_id, result: r.result, error: r.error };
  }

  /**
   * Records a processed event, and writes the rows its stages carried in the same statement; a
   * later success replaces a recorded failure, nothing else replaces a success. `result` may come
   * as its JSON text ({@link JsonText}): it is stored as it is. Answers the carried rows that were
   * not written, their keys taken already ({@link CarriedRow.dropped}; usually none).
   */
  saveDone(eventId: string, result: PipelineResult | JsonText, batchId?: string, carried: readonly CarriedRow[] = []): Promise<readonly CarriedRow[]> {
    return this.writes.submit({ eventId, result, batchId, carried });
  }

  /** Writes the carried rows that record something done, for an event that failed (its outcome is not stored). */
  saveRecords(carried: readonly CarriedRow[]): Promise<void> {
    return writeCarriedRecords(this.dataSource, carried);
  }

  private async saveMany(items: Done[]): Promise<(readonly CarriedRow[])[]> {
    // ON CONFLICT DO UPDATE may touch a row once per statement: one item per event id, the first,
    // whose carried decision is the one the insert keeps (ON CONFLICT DO NOTHING skips the later).
    const first = new Map<string, Done>();
    for (const i of items) if (!first.has(i.eventId)) first.set(i.eventId, i);
    const unique = [...first.values()];
    const outcomes = rowParams(OUTCOME_ROWS, unique.map((i) => ({ event_id: i.eventId, batch_id: i.batchId ?? null, result: i.result })), 1, 'o');
    const carried = carriedClauses(items.flatMap((i) => i.carried), 1 + outcomes.values.length);
    const store = `INSERT INTO event_outcomes (event_id, status, batch_id, result)
       SELECT event_id, 'done', batch_id, result FROM ${outcomes.source}
       ON CONFLICT (event_id) DO UPDATE SET status = 'done', batch_id = EXCLUDED.batch_id, result = EXCLUDED.result, error = NULL, updated_at = now()
       WHERE event_outcomes.status <> 'done'`;
    const dropped = await preparedQuery<{ dropped: string }>(
      this.dataSource,
      `arbiter_outcomes_done${carried.name && `+${carried.name}`}`,
      // Asked which keyed rows it could not write, the statement ends with their keys.
      carried.dropped ? `${carried.clause}, stored AS (${store}) ${carried.dropped}` : `${carried.clause}${store}`,
      [...outcomes.values, ...carried.values],
    );
    return items.map((i) => (dropped.length ? droppedRows(i.carried, dropped) : NONE));
  }

  /**
   * Replaces an event's stored result, if it is still `stored` (the text this process stored): a
   * correction after a carried row was dropped. A result another delivery stored stays.
   */
  async correct(eventId: string, stored: string, result: string): Promise<void> {
    await this.dataSource.query('UPDATE event_outcomes SET result = $3::json, updated_at = now() WHERE event_id = $1 AND result::text = $2', [eventId, stored, result]);
  }

  /** Records that a queued event failed its last attempt (it stays listed and retriable). */
  async saveFailed(eventId: string, batchId: string | undefined, error: string): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO event_outcomes (event_id, status, batch_id, error) VALUES ($1, 'failed', $2, $3)
       ON CONFLICT (event_id) DO UPDATE SET error = EXCLUDED.error, updated_at = now() WHERE event_outcomes.status = 'failed'`,
      [eventId, batchId ?? null, error.slice(0, 2000)],
    );
  }

  /** The ids among `eventIds` whose last attempt in the queue failed (an outcome recorded as failed). */
  async failedAmong(eventIds: readonly string[]): Promise<string[]> {
    const rows: { event_id: string }[] = await this.dataSource.query(`SELECT event_id FROM event_outcomes WHERE status = 'failed' AND event_id = ANY($1::text[])`, [eventIds]);
    return rows.map((r) => r.event_id);
  }

  /** The ids among `eventIds` that have been processed (an outcome recorded as done). */
  async doneAmong(eventIds: readonly string[]): Promise<string[]> {
    const rows: { event_id: string }[] = await this.dataSource.query(`SELECT event_id FROM event_outcomes WHERE status = 'done' AND event_id = ANY($1::text[])`, [eventIds]);
    return rows.map((r) => r.event_id);
  }

  /**
   * Before failed events are queued again: they are no longer failed, but queued, in every batch
   * that holds them. Answers each cleared failure's reason, by event id.
   */
  async clearFailed(eventIds: readonly string[]): Promise<Map<string, string>> {
    if (!eventIds.length) return new Map();
    const rows: { event_id: string; error: string | null }[] = await this.dataSource.query(
      `WITH d AS (DELETE FROM event_outcomes WHERE status = 'failed' AND event_id = ANY($1::text[]) RETURNING event_id, error) SELECT event_id, error FROM d`,
      [eventIds],
    );
    return new Map(rows.filter((r) => r.error !== null).map((r) => [r.event_id, r.error!]));
  }

  async createBatch(id: string, eventIds: readonly string[]): Promise<void> {
    await this.dataSource.query('INSERT INTO event_batches (id, total, event_ids) VALUES ($1, $2, $3)', [id, eventIds.length, eventIds]);
  }

  async batchStatus(id: string): Promise<BatchStatus | undefined> {
    const batches: { total: number; event_ids: string[]; created_at: Date }[] = await this.dataSource.query('SELECT total, event_ids, created_at FROM event_batches WHERE id = $1', [id]);
    const batch = batches[0];
    if (!batch) return undefined;
    const [counts]: { done: string; failed: string; duplicate: string }[] = await this.dataSource.query(
      `SELECT count(*) FILTER (WHERE status = 'done' AND batch_id = $1) AS done,
              count(*) FILTER (WHERE status = 'failed') AS failed,
              count(*) FILTER (WHERE status = 'done' AND batch_id IS DISTINCT FROM $1) AS duplicate
       FROM event_outcomes WHERE event_id = ANY($2)`,
      [id, batch.event_ids],
    );
    const done = Number(counts.done);
    const failed = Number(counts.failed);
    const duplicate = Number(counts.duplicate);
    return { batch_id: id, total: batch.total, queued: batch.total - done - failed - duplicate, done, failed, duplicate, created_at: new Date(batch.created_at).toISOString() };
  }
}
