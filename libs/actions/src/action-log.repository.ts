import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { ActionEvent, ActionMode } from './action.interfaces';
import { ActionLogEntry, type ActionStatus } from './action-log.entity';

export interface NewLogEntry {
  idempotencyKey: string;
  eventId: string;
  ruleId: string;
  domain: string;
  actionIndex: number;
  action: string;
  mode: ActionMode;
  status: ActionStatus;
  params: Record<string, unknown>;
  event: ActionEvent;
}

/**
 * The action log's one I/O boundary. `claim` is the idempotency gate: it inserts the row unless
 * the key is already there, in one statement, so two processes racing on the same event cannot
 * both win.
 */
@Injectable()
export class ActionLogRepository {
  constructor(@InjectRepository(ActionLogEntry) private readonly repo: Repository<ActionLogEntry>) {}

  /** Inserts the entry; returns `{claimed: true}` when this call created it, else the existing row. */
  async claim(entry: NewLogEntry): Promise<{ claimed: true; id: string } | { claimed: false; existing: ActionLogEntry }> {
    const rows: { id: string }[] = await this.repo.query(
      `INSERT INTO action_log (idempotency_key, event_id, rule_id, domain, action_index, action, mode, status, params, event)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING id`,
      [entry.idempotencyKey, entry.eventId, entry.ruleId, entry.domain, entry.actionIndex, entry.action, entry.mode, entry.status, JSON.stringify(entry.params), JSON.stringify(entry.event)],
    );
    if (rows.length) return { claimed: true, id: String(rows[0].id) };
    const existing = await this.byKey(entry.idempotencyKey);
    if (!existing) throw new Error(`action log entry ${entry.idempotencyKey} vanished during claim`);
    return { claimed: false, existing };
  }

  byKey(idempotencyKey: string): Promise<ActionLogEntry | null> {
    return this.repo.findOne({ where: { idempotencyKey } });
  }

  byId(id: string): Promise<ActionLogEntry | null> {
    return /^\d{1,18}$/.test(id) ? this.repo.findOne({ where: { id } }) : Promise.resolve(null);
  }

  async update(idempotencyKey: string, change: { status: ActionStatus; result?: unknown; errorCode?: string | null; errorMessage?: string | null; attempts?: number }): Promise<void> {
    await this.repo.query(
      `UPDATE action_log SET status = $2, result = COALESCE($3::jsonb, result), error_code = $4, error_message = $5,
              attempts = COALESCE($6, attempts), updated_at = now()
       WHERE idempotency_key = $1`,
      [idempotencyKey, change.status, change.result === undefined ? null : JSON.stringify(change.result), change.errorCode ?? null, change.errorMessage ?? null, change.attempts ?? null],
    );
  }

  /**
   * Takes over an inline execution left `running` for longer than `staleMs` — its process died
   * mid-way (a live one finishes or fails long before) — so the replay runs it again. Inline
   * handlers are idempotent under their key, so running again after a crash is safe; true when
   * this caller took it over.
   */
  async takeOver(idempotencyKey: string, staleMs: number): Promise<boolean> {
    const rows: unknown[] = await this.repo.query(
      `WITH t AS (UPDATE action_log SET attempts = attempts + 1, updated_at = now()
         WHERE idempotency_key = $1 AND mode = 'inline' AND status = 'running' AND updated_at < now() - make_interval(secs => $2::float8 / 1000)
         RETURNING 1) SELECT * FROM t`,
      [idempotencyKey, staleMs],
    );
    return rows.length > 0;
  }

  /** Moves a failed entry back to `queued`; false when it was not failed (someone else retried it). */
  async requeue(id: string): Promise<boolean> {
    // TypeORM answers an UPDATE with [rows, affected].
    const [, affected]: [unknown[], number] = await this.repo.query(`UPDATE action_log SET status = 'queued', attempts = 0, updated_at = now() WHERE id = $1 AND status = 'failed'`, [id]);
    return affected > 0;
  }

  async remove(idempotencyKey: string): Promise<void> {
    await this.repo.delete({ idempotencyKey });
  }

  /** Failed deferred executions, newest first; `before` is the id of the last entry of the previous page. */
  failed(limit: number, before?: string): Promise<ActionLogEntry[]> {
    const qb = this.repo.createQueryBuilder('a').where(`a.status = 'failed'`).andWhere(`a.mode = 'deferred'`);
    if (before) qb.andWhere('a.id < :before', { before });
    return qb.orderBy('a.id', 'DESC').limit(limit).getMany();
  }

  forEvent(eventId: string): Promise<ActionLogEntry[]> {
    return this.repo.find({ where: { eventId }, order: { id: 'ASC' } });
  }
}
