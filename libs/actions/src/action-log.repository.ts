import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, type Repository } from 'typeorm';
import { Coalescer, preparedQuery, rowParams, type CarriedRow, type RowKind } from '@arbiter/platform';
import type { ActionEvent, ActionMode } from './action.interfaces';
import { ActionLogEntry, type ActionStatus } from './action-log.entity';

export type Claim = { claimed: true; id: string } | { claimed: false; existing: ActionLogEntry };

export interface StatusChange {
  status: ActionStatus;
  result?: unknown;
  errorCode?: string | null;
  errorMessage?: string | null;
  attempts?: number;
}

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

/** Claimed entries, many per statement. */
const CLAIM_ROWS = { k: 'text', e: 'text', r: 'text', d: 'text', i: 'int', a: 'text', m: 'text', s: 'text', p: 'json', ev: 'json' } as const;

function entryRow(e: NewLogEntry): Record<string, unknown> {
  return { k: e.idempotencyKey, e: e.eventId, r: e.ruleId, d: e.domain, i: e.actionIndex, a: e.action, m: e.mode, s: e.status, p: e.params, ev: e.event };
}

/**
 * Whole entries of executions that ran unclaimed (inline actions of an event's first run), many
 * per statement: the entry with its outcome, written once. A key already in the log keeps its entry.
 */
const RECORDS: RowKind = {
  name: 'action_log_records',
  recordsDone: true,
  shape: { ...CLAIM_ROWS, result: 'text', error_code: 'text', error_message: 'text', attempts: 'int' },
  sql: (rows) =>
    `INSERT INTO action_log (idempotency_key, event_id, rule_id, domain, action_index, action, mode, status, params, event, result, error_code, error_message, attempts)
     SELECT k, e, r, d, i, a, m, s, p, ev, result::json, error_code, error_message, COALESCE(attempts, 1) FROM ${rows.source}
     ON CONFLICT (idempotency_key) DO NOTHING`,
};

/**
 * Status changes of entries, many per statement (exported for the test of its plan). The keys
 * arrive as a typed array (`rowParams`), so the planner knows how many there are and looks each
 * up through the idempotency-key index, even while the log is small.
 */
export const STATUS_CHANGES: RowKind = {
  name: 'action_log_changes',
  recordsDone: true,
  // The result as JSON text: a result of null is stored as JSON null, an absent one keeps the entry's.
  shape: { key: 'text', status: 'text', result: 'text', error_code: 'text', error_message: 'text', attempts: 'int' },
  sql: (rows) =>
    `UPDATE action_log a SET status = x.status, result = COALESCE(x.result::json, a.result), error_code = x.error_code,
            error_message = x.error_message, attempts = COALESCE(x.attempts, a.attempts), updated_at = now()
     FROM ${rows.source}
     WHERE a.idempotency_key = x.key`,
};

/** A result as JSON text, or null for none (the entry keeps its own, or has none). */
const resultText = (c: StatusChange) => (c.result === undefined ? null : JSON.stringify(c.result));

function changeRow(key: string, c: StatusChange): Record<string, unknown> {
  return { key, status: c.status, result: resultText(c), error_code: c.errorCode ?? null, error_message: c.errorMessage ?? null, attempts: c.attempts ?? null };
}

/**
 * A whole entry with its outcome, as one object literal. Built by spreading an entry's row and a
 * change's row instead, V8 promoted about four times as much to its old generation at 3,000 req/s,
 * and the old-space collections that followed held answers up by 20-50 ms (docs/benchmarks.md).
 */
function recordRow(e: NewLogEntry, c: StatusChange): Record<string, unknown> {
  return {
    k: e.idempotencyKey, e: e.eventId, r: e.ruleId, d: e.domain, i: e.actionIndex, a: e.action, m: e.mode, s: c.status, p: e.params, ev: e.event,
    result: resultText(c), error_code: c.errorCode ?? null, error_message: c.errorMessage ?? null, attempts: c.attempts ?? null,
  };
}

/**
 * The action log's one I/O boundary. `claim` is the idempotency gate: it inserts the row unless
 * the key is already there, in one statement, so two processes racing on the same event cannot
 * both win.
 */
@Injectable()
export class ActionLogRepository {
  // Claims and completions of concurrent executions are group-committed: one statement each way.
  private readonly claims = new Coalescer<NewLogEntry, Claim>((entries) => this.claimMany(entries));
  private readonly updates = new Coalescer<{ key: string; change: StatusChange }, void>((items) => this.updateMany(items));

  constructor(@InjectRepository(ActionLogEntry) private readonly repo: Repository<ActionLogEntry>) {}

  /** Inserts the entry; returns `{claimed: true}` when this call created it, else the existing row. */
  claim(entry: NewLogEntry): Promise<Claim> {
    return this.claims.submit(entry);
  }

  private async claimMany(entries: NewLogEntry[]): Promise<Claim[]> {
    const params = rowParams(CLAIM_ROWS, entries.map(entryRow), 1);
    const rows = await preparedQuery<{ id: string; idempotency_key: string }>(
      this.repo.manager.connection,
      'arbiter_action_log_claim',
      `INSERT INTO action_log (idempotency_key, event_id, rule_id, domain, action_index, action, mode, status, params, event)
       SELECT k, e, r, d, i, a, m, s, p, ev FROM ${params.source}
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING id, idempotency_key`,
      params.values,
    );
    const claimed = new Map(rows.map((r) => [r.idempotency_key, String(r.id)]));
    // The entries that did not win: keys another process holds, and a key's later submissions in
    // this batch (its first holds the claim; two deliveries of one event at once do this).
    const seen = new Set<string>();
    const others: string[] = [];
    for (const e of entries) {
      if (seen.has(e.idempotencyKey) || !claimed.has(e.idempotencyKey)) others.push(e.idempotencyKey);
      seen.add(e.idempotencyKey);
    }
    const existing = others.length ? new Map((await this.repo.find({ where: { idempotencyKey: In(others) } })).map((r) => [r.idempotencyKey, r])) : new Map<string, ActionLogEntry>();
    return entries.map((e): Claim => {
      // One key twice in a batch: the first submission holds the claim, the later ones see its entry.
      const id = claimed.get(e.idempotencyKey);
      if (id !== undefined) {
        claimed.delete(e.idempotencyKey);
        return { claimed: true, id };
      }
      const found = existing.get(e.idempotencyKey);
      if (!found) throw new Error(`action log entry ${e.idempotencyKey} vanished during claim`);
      return { claimed: false, existing: found };
    });
  }

  byKey(idempotencyKey: string): Promise<ActionLogEntry | null> {
    return this.repo.findOne({ where: { idempotencyKey } });
  }

  byId(id: string): Promise<ActionLogEntry | null> {
    return /^\d{1,18}$/.test(id) ? this.repo.findOne({ where: { id } }) : Promise.resolve(null);
  }

  update(idempotencyKey: string, change: StatusChange): Promise<void> {
    return this.updates.submit({ key: idempotencyKey, change });
  }

  /** {@link update} as a row for another statement to carry (the event's outcome); written even if that one fails. */
  carriedUpdate(idempotencyKey: string, change: StatusChange): CarriedRow {
    return { kind: STATUS_CHANGES, row: changeRow(idempotencyKey, change) };
  }

  /**
   * A whole entry, with its outcome, as a row for another statement to carry (the event's outcome),
   * for an execution that ran without a claim; written even if that statement fails. A key already
   * in the log keeps its entry.
   */
  carriedRecord(entry: NewLogEntry, change: StatusChange): CarriedRow {
    return { kind: RECORDS, row: recordRow(entry, change) };
  }

  private async updateMany(items: { key: string; change: StatusChange }[]): Promise<void[]> {
    // An entry's later change wins when one group holds two for the same key.
    const last = [...new Map(items.map((i) => [i.key, i.change])).entries()];
    const params = rowParams(STATUS_CHANGES.shape, last.map(([key, change]) => changeRow(key, change)), 1);
    await preparedQuery(this.repo.manager.connection, 'arbiter_action_log_update', `WITH u AS (${STATUS_CHANGES.sql(params)} RETURNING 1) SELECT count(*) FROM u`, params.values);
    return items.map(() => undefined);
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

  /**
   * Changes an entry only while it stands as `expected` says (its status, and its error code when
   * given); true when it did. For a write that may cross a worker's: the worker's stands.
   */
  async updateIf(idempotencyKey: string, expected: { status: ActionStatus; errorCode?: string | null }, change: StatusChange): Promise<boolean> {
    const rows: unknown[] = await this.repo.query(
      `WITH u AS (UPDATE action_log SET status = $3, error_code = $4, error_message = $5, attempts = COALESCE($6, attempts), updated_at = now()
         WHERE idempotency_key = $1 AND status = $2 AND ($7::text IS NULL OR error_code = $7)
         RETURNING 1) SELECT * FROM u`,
      [idempotencyKey, expected.status, change.status, change.errorCode ?? null, change.errorMessage ?? null, change.attempts ?? null, expected.errorCode ?? null],
    );
    return rows.length > 0;
  }

  /** Moves a failed entry back to `queued`; false when it was not failed (someone else retried it). */
  async requeue(id: string): Promise<boolean> {
    // TypeORM answers an UPDATE with [rows, affected].
    const [, affected]: [unknown[], number] = await this.repo.query(`UPDATE action_log SET status = 'queued', attempts = 0, updated_at = now() WHERE id = $1 AND status = 'failed'`, [id]);
    return affected > 0;
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
