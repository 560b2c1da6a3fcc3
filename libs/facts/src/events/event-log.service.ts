import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { Coalescer, jsonRows, preparedQuery } from '@arbiter/platform';
import { attributesById, userAttributesQuery } from '../users/user-attributes.query';

/** An event to append; `occurred_at` defaults to now, `source` to `api`. */
export interface NewEvent {
  id: string;
  user_id: string;
  type: string;
  source?: string;
  occurred_at?: string | number | Date;
  payload?: Record<string, unknown>;
}

/** What one append answers: when the event was received (undefined: it existed), and its user's attributes when asked. */
interface Appended {
  receivedAt?: string;
  user?: Record<string, unknown>;
}

/** An event as stored: timestamps as ISO strings. */
export interface StoredEvent {
  id: string;
  user_id: string;
  type: string;
  source: string;
  occurred_at: string;
  received_at: string;
  payload: Record<string, unknown>;
}

interface WindowQuery {
  kind: 'count' | 'sum' | 'distinct' | 'last';
  userId: string;
  type: string;
  /** Dotted payload path (sum, distinct); empty otherwise. */
  field: string;
  since: string;
}

const FIELD = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/**
 * The event log: the one way other libs write and read events (ingestion appends through it,
 * built-in facts query it). Every per-user query is one range scan of the
 * `(user_id, type, occurred_at)` index. Methods taking a `manager` join the caller's transaction —
 * on the embedded store that is required inside `dataSource.transaction`, which holds its only
 * connection.
 */
@Injectable()
export class EventLogService {
  /** Appends from concurrent calls share one multi-row INSERT (one round trip, one commit). */
  private readonly appends = new Coalescer<{ event: NewEvent; withUser: boolean }, Appended>((items) => this.insertMany(items));
  private readonly windows = new Coalescer<WindowQuery, number | null>((queries) => this.windowMany(queries));

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Appends one event. Returns `inserted: false` (and the event already stored) when an event with
   * the same id exists: ids are unique, which is how a retried delivery is recognised. With
   * `withUser` (outside a transaction), the same statement reads the attributes of the event's
   * user too (`user`: empty for an unknown user), for `FactsService.evaluationInputs`.
   */
  async append(event: NewEvent, manager?: EntityManager, options: { withUser?: boolean } = {}): Promise<{ inserted: boolean; event: StoredEvent; user?: Record<string, unknown> }> {
    const occurred = event.occurred_at === undefined ? new Date() : new Date(event.occurred_at);
    if (Number.isNaN(occurred.getTime())) throw new TypeError(`event ${event.id}: occurred_at is not a valid timestamp`);
    if (!manager) {
      // Outside a caller's transaction: join the next group insert.
      const stamped: NewEvent = { ...event, occurred_at: occurred.toISOString() };
      const { receivedAt, user } = await this.appends.submit({ event: stamped, withUser: options.withUser === true });
      if (receivedAt) return { inserted: true, event: storedFrom(stamped, receivedAt), user };
      return { inserted: false, event: (await this.find(event.id))!, user };
    }
    const m = manager;
    const rows: Record<string, unknown>[] = await m.query(
      `INSERT INTO events (id, user_id, type, source, occurred_at, payload)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb)
       ON CONFLICT (id) DO NOTHING
       RETURNING id, user_id, type, source, occurred_at, received_at, payload`,
      [event.id, event.user_id, event.type, event.source ?? 'api', occurred.toISOString(), JSON.stringify(event.payload ?? {})],
    );
    if (rows.length) return { inserted: true, event: toStored(rows[0]) };
    const existing = await this.find(event.id, m);
    return { inserted: false, event: existing! };
  }

  /**
   * Inserts many events in one statement; answers, per event, when it was received (undefined when
   * it existed), and the attributes of its user when asked — read by the same statement.
   */
  private async insertMany(items: { event: NewEvent; withUser: boolean }[]): Promise<Appended[]> {
    const events = items.map((i) => i.event);
    const rows = await preparedQuery<{ k: 'e' | 'u'; id: string; received_at: unknown; attributes: unknown }>(
      this.dataSource,
      'arbiter_events_append',
      `WITH ins AS (
         INSERT INTO events (id, user_id, type, source, occurred_at, payload)
         SELECT id, user_id, type, source, occurred_at::timestamptz, payload
         FROM jsonb_to_recordset($1::jsonb) AS e(id text, user_id text, type text, source text, occurred_at text, payload jsonb)
         ON CONFLICT (id) DO NOTHING
         RETURNING id, received_at)
       SELECT 'e' AS k, id, received_at, NULL::jsonb AS attributes FROM ins
       UNION ALL
       SELECT 'u', u.id, NULL, u.attributes FROM (${userAttributesQuery('$2')}) AS u`,
      [
        jsonRows(events.map((e) => ({ id: e.id, user_id: e.user_id, type: e.type, source: e.source ?? 'api', occurred_at: String(e.occurred_at), payload: e.payload ?? {} }))),
        [...new Set(items.filter((i) => i.withUser).map((i) => i.event.user_id))],
      ],
    );
    const inserted = new Map(rows.filter((r) => r.k === 'e').map((r) => [r.id, iso(r.received_at)]));
    const users = attributesById(rows.filter((r) => r.k === 'u'));
    return items.map(({ event, withUser }) => {
      // Two submissions of one id in one batch: only the first counts as new.
      const receivedAt = inserted.get(event.id);
      inserted.delete(event.id);
      // Each caller gets its own copy: a session may not see another session's object.
      return { receivedAt, user: withUser ? { ...(users.get(event.user_id) ?? {}) } : undefined };
    });
  }

  /** One event by id, or undefined. */
  async find(id: string, manager?: EntityManager): Promise<StoredEvent | undefined> {
    const rows: Record<string, unknown>[] = await (manager ?? this.dataSource.manager).query(
      'SELECT id, user_id, type, source, occurred_at, received_at, payload FROM events WHERE id = $1',
      [id],
    );
    return rows.length ? toStored(rows[0]) : undefined;
  }

  /** A user's events, newest first (optionally one type), at most `limit`. */
  async forUser(userId: string, options: { type?: string; limit?: number } = {}): Promise<StoredEvent[]> {
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT id, user_id, type, source, occurred_at, received_at, payload FROM events
       WHERE user_id = $1 AND ($2::varchar IS NULL OR type = $2::varchar) ORDER BY occurred_at DESC, id LIMIT $3`,
      [userId, options.type ?? null, Math.min(Math.max(options.limit ?? 100, 1), 1000)],
    );
    return rows.map(toStored);
  }

  /** How many events of `type` the user has had since `since` (epoch ms; all time when omitted). */
  async count(userId: string, type: string, since?: number): Promise<number> {
    return Number((await this.windows.submit({ kind: 'count', userId, type, field: '', since: sinceParam(since) })) ?? 0);
  }

  /** Sum of the numeric payload field `field` (dotted path) over the window; non-numbers count as 0. */
  async sum(userId: string, type: string, field: string, since?: number): Promise<number> {
    fieldPath(field);
    return Number((await this.windows.submit({ kind: 'sum', userId, type, field, since: sinceParam(since) })) ?? 0);
  }

  /** How many distinct values the payload field `field` took over the window (missing/null not counted). */
  async distinct(userId: string, type: string, field: string, since?: number): Promise<number> {
    fieldPath(field);
    return Number((await this.windows.submit({ kind: 'distinct', userId, type, field, since: sinceParam(since) })) ?? 0);
  }

  /** When the user's latest event of `type` occurred (epoch ms), or undefined when never. */
  async lastAt(userId: string, type: string): Promise<number | undefined> {
    const v = await this.windows.submit({ kind: 'last', userId, type, field: '', since: '-infinity' });
    return v === null ? undefined : Number(v);
  }

  /**
   * The window aggregates of concurrent calls, one indexed range scan each, in one statement: a
   * fact asked by many sessions at once costs one round trip, not one per session.
   */
  private async windowMany(queries: WindowQuery[]): Promise<(number | null)[]> {
    const rows = await preparedQuery<{ i: string; v: number | string | null }>(
      this.dataSource,
      'arbiter_events_windows',
      `SELECT q.i, CASE q.k
         WHEN 'count' THEN (SELECT count(*)::float8 FROM events e WHERE e.user_id = q.u AND e.type = q.t AND e.occurred_at >= q.s)
         WHEN 'sum' THEN (SELECT COALESCE(sum(CASE WHEN jsonb_typeof(e.payload #> string_to_array(q.f, '.')) = 'number'
                                                 THEN (e.payload #>> string_to_array(q.f, '.'))::float8 END), 0)::float8
                          FROM events e WHERE e.user_id = q.u AND e.type = q.t AND e.occurred_at >= q.s)
         WHEN 'distinct' THEN (SELECT count(DISTINCT e.payload #> string_to_array(q.f, '.'))::float8 FROM events e
                               WHERE e.user_id = q.u AND e.type = q.t AND e.occurred_at >= q.s
                                 AND jsonb_typeof(e.payload #> string_to_array(q.f, '.')) IS DISTINCT FROM 'null')
         WHEN 'last' THEN (SELECT (extract(epoch FROM max(e.occurred_at)) * 1000)::float8 FROM events e WHERE e.user_id = q.u AND e.type = q.t)
       END AS v
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY AS q(k, u, t, f, s, i)`,
      [queries.map((q) => q.kind), queries.map((q) => q.userId), queries.map((q) => q.type), queries.map((q) => q.field), queries.map((q) => q.since)],
    );
    const byIndex = new Map(rows.map((r) => [Number(r.i), r.v === null ? null : Number(r.v)]));
    return queries.map((_, i) => byIndex.get(i + 1) ?? null);
  }

  /** The earlier of the user's first event and the user's creation (epoch ms), or undefined when unknown. */
  async firstSeenAt(userId: string): Promise<number | undefined> {
    const rows: { t: unknown }[] = await this.dataSource.query(
      'SELECT LEAST((SELECT min(occurred_at) FROM events WHERE user_id = $1), (SELECT created_at FROM users WHERE id = $1)) AS t',
      [userId],
    );
    return toMs(rows[0]?.t);
  }

  /** Deletes every event of a user (the right to be forgotten); returns how many. */
  async eraseUser(userId: string, manager?: EntityManager): Promise<number> {
    // A CTE so the driver returns rows (TypeORM returns [rows, count] for a bare DELETE).
    const rows: { n: number }[] = await (manager ?? this.dataSource.manager).query('WITH d AS (DELETE FROM events WHERE user_id = $1 RETURNING 1) SELECT count(*)::int AS n FROM d', [userId]);
    return Number(rows[0]?.n ?? 0);
  }
}

function fieldPath(field: string): string[] {
  if (!FIELD.test(field)) throw new TypeError(`"${field}" is not a payload field path (letters, digits, _ and dots)`);
  return field.split('.');
}

function sinceParam(since: number | undefined): string {
  return since === undefined || !Number.isFinite(since) || Math.abs(since) > 8.64e15 ? '-infinity' : new Date(since).toISOString();
}

export function toMs(v: unknown): number | undefined {
  if (v === null || v === undefined) return undefined;
  const ms = v instanceof Date ? v.getTime() : typeof v === 'number' ? v : Date.parse(String(v));
  return Number.isFinite(ms) ? ms : undefined;
}

function iso(v: unknown): string {
  const ms = toMs(v);
  return ms === undefined ? String(v) : new Date(ms).toISOString();
}

function storedFrom(e: NewEvent, receivedAt: string): StoredEvent {
  return { id: e.id, user_id: e.user_id, type: e.type, source: e.source ?? 'api', occurred_at: String(e.occurred_at), received_at: receivedAt, payload: e.payload ?? {} };
}

function toStored(r: Record<string, unknown>): StoredEvent {
  const payload = typeof r.payload === 'string' ? (JSON.parse(r.payload) as Record<string, unknown>) : ((r.payload ?? {}) as Record<string, unknown>);
  return { id: String(r.id), user_id: String(r.user_id), type: String(r.type), source: String(r.source), occurred_at: iso(r.occurred_at), received_at: iso(r.received_at), payload };
}
