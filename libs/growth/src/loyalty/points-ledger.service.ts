import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Coalescer, preparedQuery, rowParams, type CarriedRow, type RowKind } from '@arbiter/platform';

/** A ledger entry as the API shows it. */
export interface PointsEntry {
  id: string;
  user_id: string;
  amount: number;
  reason: string | null;
  source_event_id: string | null;
  rule_id: string | null;
  idempotency_key: string;
  reverses_entry_id: string | null;
  expires_at: string | null;
  created_at: string;
  /** False once `expires_at` has passed: the entry no longer counts in the balance. */
  live: boolean;
}

/** What to write for one award. */
export interface NewAward {
  userId: string;
  amount: number;
  reason?: string | null;
  sourceEventId: string;
  ruleId?: string | null;
  idempotencyKey: string;
  expiresAt?: Date | null;
}

const COLUMNS = 'id, user_id, amount, reason, source_event_id, rule_id, idempotency_key, reverses_entry_id, expires_at, created_at';

/** The next entry id from the table's sequence (what the column's default takes). */
const NEXT_ID = `nextval(pg_get_serial_sequence('growth_points_entries', 'id'))`;

/**
 * Awards, many per statement: written by {@link PointsLedgerService.award}'s own statement, or
 * carried by another (the event's outcome: what `reward_points` does on an event's first run)
 * with an id drawn ahead; without one, an entry takes the sequence's next. A key already in the
 * ledger keeps its entry (ON CONFLICT DO NOTHING). Carried awards are written with the action's
 * record if the event fails, as that record says the points were awarded.
 */
const AWARDS: RowKind = {
  name: 'points_awards',
  recordsDone: true,
  mayDrop: true,
  shape: { id: 'text', user_id: 'text', amount: 'text', reason: 'text', src: 'text', rule: 'text', k: 'text', exp: 'timestamptz' },
  sql: (rows) => `INSERT INTO growth_points_entries (id, user_id, amount, reason, source_event_id, rule_id, idempotency_key, expires_at)
     SELECT COALESCE(x.id::bigint, ${NEXT_ID}), x.user_id, x.amount::numeric, x.reason, x.src, x.rule, x.k, x.exp FROM ${rows.source}
     ON CONFLICT (idempotency_key) DO NOTHING`,
};

/** One award as a row of {@link AWARDS}; `id` null takes the sequence's next. */
function awardRow(a: NewAward, id: string | null): Record<string, unknown> {
  return { id, user_id: a.userId, amount: String(a.amount), reason: a.reason ?? null, src: a.sourceEventId, rule: a.ruleId ?? null, k: a.idempotencyKey, exp: a.expiresAt ? a.expiresAt.toISOString() : null };
}

/** How many entry ids a process draws from the table's sequence at once, for carried awards. */
const ID_BLOCK = 32;

/**
 * The points ledger: append-only entries per user, each under a unique idempotency key. An award
 * or a reversal is one `INSERT ... ON CONFLICT DO NOTHING`, so a replayed event (sync, batch, a
 * retried job, two processes at once) writes at most once and the caller learns it was a replay.
 * The balance is the sum of live entries.
 */
@Injectable()
export class PointsLedgerService {
  /** Awards of concurrent events are written by one statement (one round trip, one commit). */
  private readonly awards = new Coalescer<NewAward, { entry: PointsEntry; created: boolean }>((as) => this.awardMany(as));

  /** Entry ids drawn ahead for carried awards, used in order from `next`. */
  private ids: { drawn: string[]; next: number } = { drawn: [], next: 0 };
  private drawing?: Promise<void>;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Writes the award unless its key is already in the ledger; returns the entry either way. */
  award(a: NewAward): Promise<{ entry: PointsEntry; created: boolean }> {
    return this.awards.submit(a);
  }

  /**
   * The award as a row for another statement to carry (an event's first run, where nothing can
   * have written its key before), and the id its entry will have. Ids come from the table's
   * sequence, drawn {@link ID_BLOCK} at a time: they are unique, and increase in the order each
   * process uses them, but entries written by two processes at once may interleave.
   */
  async carriedAward(a: NewAward): Promise<{ row: CarriedRow; id: string }> {
    const id = await this.nextId();
    return { row: { kind: AWARDS, row: awardRow(a, id) }, id };
  }

  private async nextId(): Promise<string> {
    while (this.ids.next >= this.ids.drawn.length) {
      this.drawing ??= preparedQuery<{ id: string }>(
        this.dataSource,
        'arbiter_points_ids',
        `SELECT ${NEXT_ID}::text AS id FROM generate_series(1, ${ID_BLOCK})`,
        [],
      )
        .then((rows) => void (this.ids = { drawn: rows.map((r) => r.id), next: 0 }))
        .finally(() => (this.drawing = undefined));
      await this.drawing;
    }
    return this.ids.drawn[this.ids.next++];
  }

  /** The entry written under `key`, if any. */
  async entryByKey(key: string): Promise<PointsEntry | undefined> {
    return (await this.byKeys([key]))[0];
  }

  private async byKeys(keys: readonly string[]): Promise<PointsEntry[]> {
    const found: Record<string, unknown>[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM growth_points_entries WHERE idempotency_key = ANY($1::text[])`, [keys]);
    return found.map(view);
  }

  private async awardMany(as: NewAward[]): Promise<{ entry: PointsEntry; created: boolean }[]> {
    const params = rowParams(AWARDS.shape, as.map((a) => awardRow(a, null)), 1);
    const rows = await preparedQuery(this.dataSource, 'arbiter_points_award', `${AWARDS.sql(params)} RETURNING ${COLUMNS}`, params.values);
    const created = new Map(rows.map((r) => [String(r.idempotency_key), view(r)]));
    const written = new Map(created);
    const missing = as.filter((a) => !created.has(a.idempotencyKey)).map((a) => a.idempotencyKey);
    const existing = new Map<string, PointsEntry>();
    if (missing.length) for (const e of await this.byKeys(missing)) existing.set(e.idempotency_key, e);
    return as.map((a) => {
      const mine = created.get(a.idempotencyKey);
      if (mine) {
        created.delete(a.idempotencyKey);
        return { entry: mine, created: true };
      }
      // Already in the ledger, or a second submission of a key this very statement wrote.
      return { entry: existing.get(a.idempotencyKey) ?? written.get(a.idempotencyKey)!, created: false };
    });
  }

  /**
   * Reverses every award the event `originalEventId` earned this user (a refund). Each reversal
   * is a negative entry with the original's expiry (so the two leave the balance together), keyed
   * by the refund event and the original entry; an entry is reversed at most once whichever refund
   * asks, so a replayed or a second refund changes nothing. Returns the reversals written now.
   */
  async reverseEvent(userId: string, originalEventId: string, refundEventId: string): Promise<PointsEntry[]> {
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `INSERT INTO growth_points_entries (user_id, amount, reason, source_event_id, rule_id, idempotency_key, reverses_entry_id, expires_at)
       SELECT e.user_id, -e.amount, 'refund of ' || e.source_event_id, $3::text, e.rule_id, 'refund/' || $3::text || '/' || e.id, e.id, e.expires_at
       FROM growth_points_entries e
       WHERE e.user_id = $1::text AND e.source_event_id = $2::text AND e.amount > 0 AND e.reverses_entry_id IS NULL
       ORDER BY e.id
       ON CONFLICT DO NOTHING
       RETURNING ${COLUMNS}`,
      [userId, originalEventId, refundEventId],
    );
    return rows.map(view);
  }

  /** Sum of the user's live entries. */
  async balance(userId: string): Promise<number> {
    const rows: { b: string | number }[] = await this.dataSource.query(
      `SELECT COALESCE(sum(amount), 0) AS b FROM growth_points_entries WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > now())`,
      [userId],
    );
    return Number(rows[0]?.b ?? 0);
  }

  /** The user's entries, newest first. */
  async entries(userId: string, limit: number, offset: number): Promise<{ items: PointsEntry[]; total: number }> {
    const [rows, count] = await Promise.all([
      this.dataSource.query(`SELECT ${COLUMNS} FROM growth_points_entries WHERE user_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3`, [userId, limit, offset]) as Promise<Record<string, unknown>[]>,
      this.dataSource.query('SELECT count(*)::int AS n FROM growth_points_entries WHERE user_id = $1', [userId]) as Promise<{ n: number }[]>,
    ]);
    return { items: rows.map(view), total: Number(count[0]?.n ?? 0) };
  }

  /** Erases the user's ledger (with the user, for the right to be forgotten). */
  async eraseUser(userId: string): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query('WITH d AS (DELETE FROM growth_points_entries WHERE user_id = $1 RETURNING 1) SELECT count(*)::int AS n FROM d', [userId]);
    return Number(rows[0]?.n ?? 0);
  }
}

function iso(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return (v instanceof Date ? v : new Date(String(v))).toISOString();
}

function view(r: Record<string, unknown>): PointsEntry {
  const expires = iso(r.expires_at);
  return {
    id: String(r.id),
    user_id: String(r.user_id),
    amount: Number(r.amount),
    reason: (r.reason as string | null) ?? null,
    source_event_id: (r.source_event_id as string | null) ?? null,
    rule_id: (r.rule_id as string | null) ?? null,
    idempotency_key: String(r.idempotency_key),
    reverses_entry_id: r.reverses_entry_id === null || r.reverses_entry_id === undefined ? null : String(r.reverses_entry_id),
    expires_at: expires,
    created_at: iso(r.created_at)!,
    live: expires === null || Date.parse(expires) > Date.now(),
  };
}
