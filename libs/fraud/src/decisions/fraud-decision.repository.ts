import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { preparedQuery, rowParams, type CarriedRow, type RowKind } from '@arbiter/platform';
import { FraudDecisionEntity } from '../entities/fraud.entities';

export interface NewDecision {
  id: string;
  eventId: string;
  eventType: string;
  userId: string;
  isCheck: boolean;
  score: number;
  outcome: string;
  matched: unknown;
  reasons: unknown;
  facts: unknown;
  /** Kept only for a check's decision: a pipeline decision's event is in the event log. */
  event: unknown;
}

/** A stored decision as the API shows it. */
export interface StoredDecision {
  id: string;
  event_id: string;
  event_type: string;
  user_id: string;
  check: boolean;
  score: number;
  outcome: string;
  matched: unknown;
  reasons: unknown;
  facts: unknown;
  /** The event decided on: a check's as it was sent; a pipeline decision's from the event log (null once its user was erased). */
  event: unknown;
  review: { outcome: string; note: string | null; reviewed_at: string } | null;
  created_at: string;
}

export interface DecisionFilter {
  userId?: string;
  outcome?: string;
  since?: Date;
  /** `seq` of the last decision of the previous page. */
  before?: string;
  limit: number;
}

/**
 * A decision's columns and, for one that keeps no copy of its event (a pipeline decision), the
 * event from the log (`e_*`), which is gone once the user is erased.
 */
const SELECT_DECISIONS = `SELECT d.id, d.seq, d.event_id, d.event_type, d.user_id, d.is_check, d.score, d.outcome, d.matched, d.reasons, d.facts, d.event,
    d.review_outcome, d.review_note, d.reviewed_at, d.created_at,
    e.id AS e_id, e.type AS e_type, e.user_id AS e_user_id, e.source AS e_source, e.occurred_at AS e_occurred_at, e.payload AS e_payload
  FROM fraud_decisions d LEFT JOIN events e ON d.event IS NULL AND e.id = d.event_id`;

/** Pipeline decisions, many per statement; a replayed event keeps its first. The event stays in the event log only. */
const PIPELINE_DECISIONS: RowKind = {
  name: 'fraud_decisions',
  // One pipeline decision per event: a second (another process ran the event at once) is dropped.
  mayDrop: true,
  shape: { id: 'uuid', event_id: 'text', event_type: 'text', user_id: 'text', score: 'text', outcome: 'text', matched: 'json', reasons: 'json', facts: 'json' },
  sql: (rows) =>
    `INSERT INTO fraud_decisions (id, event_id, event_type, user_id, is_check, score, outcome, matched, reasons, facts)
     SELECT id, event_id, event_type, user_id, false, score::float8, outcome, matched, reasons, facts FROM ${rows.source}
     ON CONFLICT (event_id) WHERE NOT is_check DO NOTHING`,
};

function decisionRow(d: NewDecision): Record<string, unknown> {
  // The score as text keeps NaN and infinities, which JSON has no number for.
  return { id: d.id, event_id: d.eventId, event_type: d.eventType, user_id: d.userId, score: String(d.score), outcome: d.outcome, matched: d.matched, reasons: d.reasons, facts: d.facts };
}

/** The decisions' one I/O boundary. */
@Injectable()
export class FraudDecisionRepository {
  constructor(@InjectRepository(FraudDecisionEntity) private readonly repo: Repository<FraudDecisionEntity>) {}

  /**
   * Stores a decision and returns its id. A pipeline decision for an event that already has one
   * (the event was replayed after a crash) keeps the first: its id is returned.
   */
  async insert(d: NewDecision): Promise<string> {
    if (d.isCheck) {
      const params = [d.id, d.eventId, d.eventType, d.userId, d.isCheck, d.score, d.outcome, JSON.stringify(d.matched), JSON.stringify(d.reasons), JSON.stringify(d.facts), JSON.stringify(d.event)];
      await this.repo.query(
        `INSERT INTO fraud_decisions (id, event_id, event_type, user_id, is_check, score, outcome, matched, reasons, facts, event)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        params,
      );
      return d.id;
    }
    // A pipeline decision outside the pipeline's own statement (the stage has it carried instead).
    const params = rowParams(PIPELINE_DECISIONS.shape, [decisionRow(d)], 1);
    const rows = await preparedQuery<{ id: string }>(this.repo.manager.connection, 'arbiter_fraud_decisions_insert', `${PIPELINE_DECISIONS.sql(params)} RETURNING id`, params.values);
    if (rows.length) return String(rows[0].id);
    // A replayed event keeps its first decision.
    const existing: { id: string }[] = await this.repo.query(`SELECT id FROM fraud_decisions WHERE event_id = $1 AND NOT is_check`, [d.eventId]);
    return existing.length ? String(existing[0].id) : d.id;
  }

  /**
   * A pipeline decision as a row for another statement to carry (the event's outcome): it lands
   * with the outcome. An event that already has one (replayed) keeps the first.
   */
  carried(d: NewDecision): CarriedRow {
    return { kind: PIPELINE_DECISIONS, row: decisionRow(d) };
  }

  /** The pipeline's decision on an event, if stored. */
  async forEvent(eventId: string): Promise<StoredDecision | undefined> {
    const rows: Record<string, unknown>[] = await this.repo.query(`${SELECT_DECISIONS} WHERE d.event_id = $1 AND NOT d.is_check`, [eventId]);
    return rows[0] ? view(rows[0]) : undefined;
  }

  async find(id: string): Promise<StoredDecision | undefined> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return undefined;
    const rows: Record<string, unknown>[] = await this.repo.query(`${SELECT_DECISIONS} WHERE d.id = $1`, [id]);
    return rows[0] ? view(rows[0]) : undefined;
  }

  /** Newest first; returns the page and the cursor of the next one (undefined at the end). */
  async search(f: DecisionFilter): Promise<{ items: StoredDecision[]; next?: string }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (f.userId !== undefined) add('d.user_id = ?', f.userId);
    if (f.outcome !== undefined) add('d.outcome = ?', f.outcome);
    if (f.since !== undefined) add('d.created_at >= ?', f.since);
    if (f.before !== undefined) add('d.seq < ?', f.before);
    params.push(f.limit + 1);
    const rows: Record<string, unknown>[] = await this.repo.query(
      `${SELECT_DECISIONS} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.seq DESC LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, f.limit);
    return { items: page.map(view), next: rows.length > f.limit ? String(page[page.length - 1].seq) : undefined };
  }

  async review(id: string, outcome: string, note: string | null): Promise<boolean> {
    const [, affected]: [unknown, number] = await this.repo.query(`UPDATE fraud_decisions SET review_outcome = $2, review_note = $3, reviewed_at = now() WHERE id = $1`, [id, outcome, note]);
    return affected > 0;
  }

  async count(): Promise<number> {
    const rows: { n: number }[] = await this.repo.query(`SELECT count(*)::int AS n FROM fraud_decisions`);
    return Number(rows[0].n);
  }
}

function view(r: Record<string, unknown>): StoredDecision {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
  return {
    id: String(r.id),
    event_id: String(r.event_id),
    event_type: String(r.event_type),
    user_id: String(r.user_id),
    check: r.is_check === true,
    score: Number(r.score),
    outcome: String(r.outcome),
    matched: r.matched,
    reasons: r.reasons,
    facts: r.facts,
    event: r.event ?? (r.e_id === null || r.e_id === undefined ? null : { id: r.e_id, type: r.e_type, user_id: r.e_user_id, source: r.e_source, occurred_at: iso(r.e_occurred_at), payload: r.e_payload }),
    review: r.review_outcome ? { outcome: String(r.review_outcome), note: (r.review_note as string | null) ?? null, reviewed_at: iso(r.reviewed_at) } : null,
    created_at: iso(r.created_at),
  };
}
