import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { carriedReads, Coalescer, preparedQuery, rowParams, type CarriedRead } from '@arbiter/platform';
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

/** What one append answers: when the event was received (undefined: it existed), its user's attributes and the windows asked. */
interface Appended {
  receivedAt?: string;
  user?: Record<string, unknown>;
  windows?: WindowValue[];
}

/** One append as the group insert takes it. */
interface AppendItem {
  event: NewEvent;
  deferFlush: boolean;
  withUser: boolean;
  windows: readonly WindowQuery[];
  reads: readonly CarriedRead[];
}

export interface AppendOptions {
  /** Also read the attributes of the event's user (outside a transaction). */
  withUser?: boolean;
  /** Also compute these event-log windows, counting this event. */
  windows?: readonly WindowQuery[];
  /** Also run these early reads (outside a transaction). */
  reads?: readonly CarriedRead[];
  /**
   * The caller commits another statement synchronously before it acknowledges the event (the
   * pipeline stores the outcome), so the append's commit need not wait for the disk: see
   * `PreparedQueryOptions.deferFlush`.
   */
  deferFlush?: boolean;
}

/** What {@link EventLogService.append} answers. */
type AppendResult = { inserted: boolean; event: StoredEvent; user?: Record<string, unknown>; windows?: WindowValue[] };

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

/** One aggregate over a user's events of one type in a window: what the event-log facts compute. */
export interface WindowQuery {
  kind: 'count' | 'sum' | 'distinct' | 'last';
  userId: string;
  type: string;
  /** Dotted payload path (sum, distinct); empty otherwise. */
  field: string;
  /** Start of the window: an ISO timestamp, or `-infinity` for all time (see {@link windowSince}). */
  since: string;
}

/** A window's value: a number for count, sum and distinct (0 over no events); for `last`, epoch ms or undefined when never. */
export type WindowValue = number | undefined;

/**
 * The value of one {@link WindowQuery} per row of `q` (columns k, u, t, f, s), over the events of
 * `source`: the events table, or the table plus the rows an INSERT in the same statement returned
 * (which that statement's reads of the table do not see yet).
 */
const windowValueSql = (source: string) => `CASE q.k
  WHEN 'count' THEN (SELECT count(*)::float8 FROM ${source} e WHERE e.user_id = q.u AND e.type = q.t AND e.occurred_at >= q.s)
  WHEN 'sum' THEN (SELECT COALESCE(sum(CASE WHEN jsonb_typeof(e.payload #> string_to_array(q.f, '.')) = 'number'
                                          THEN (e.payload #>> string_to_array(q.f, '.'))::float8 END), 0)::float8
                   FROM ${source} e WHERE e.user_id = q.u AND e.type = q.t AND e.occurred_at >= q.s)
  WHEN 'distinct' THEN (SELECT count(DISTINCT e.payload #> string_to_array(q.f, '.'))::float8 FROM ${source} e
                        WHERE e.user_id = q.u AND e.type = q.t AND e.occurred_at >= q.s
                          AND jsonb_typeof(e.payload #> string_to_array(q.f, '.')) IS DISTINCT FROM 'null')
  WHEN 'last' THEN (SELECT (extract(epoch FROM max(e.occurred_at)) * 1000)::float8 FROM ${source} e WHERE e.user_id = q.u AND e.type = q.t)
END`;

/** The parameters of `unnest(...) AS q(k, u, t, f, s)` for a list of windows, from `$first` on. */
const windowParams = (queries: readonly WindowQuery[]) => [queries.map((q) => q.kind), queries.map((q) => q.userId), queries.map((q) => q.type), queries.map((q) => q.field), queries.map((q) => q.since)];
const windowUnnest = (first: number) => `unnest($${first}::text[], $${first + 1}::text[], $${first + 2}::text[], $${first + 3}::text[], $${first + 4}::timestamptz[]) WITH ORDINALITY AS q(k, u, t, f, s, i)`;

/** A window's SQL value as the facts answer it. */
function windowValue(kind: WindowQuery['kind'], v: number | string | null | undefined): WindowValue {
  if (kind === 'last') return v === null || v === undefined ? undefined : Number(v);
  return Number(v ?? 0);
}

const FIELD = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** The columns of appended events (`rowParams`); the payload is converted to `jsonb` by the insert. */
const EVENT_ROWS = { id: 'text', user_id: 'text', type: 'text', source: 'text', occurred_at: 'timestamptz', payload: 'json' } as const;

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
  private readonly appends = new Coalescer<AppendItem, Appended>((items) => this.insertMany(items));
  private readonly windows = new Coalescer<WindowQuery, number | null>((queries) => this.windowMany(queries));

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Appends one event. Returns `inserted: false` (and the event already stored) when an event with
   * the same id exists: ids are unique, which is how a retried delivery is recognised. With
   * `withUser` (outside a transaction), the same statement reads the attributes of the event's
   * user too (`user`: empty for an unknown user), for `FactsService.evaluationInputs`; with
   * `windows`, it computes those aggregates too (`windows`, in order), counting this event as the
   * facts do once it is appended — `FactsService.prefetch` asks the windows the rules will read.
   * With `reads` (outside a transaction), the same statement runs those too and settles each: the
   * pipeline's stages ask their early reads this way (fraud's overrides). A failed append settles
   * them with its error.
   */
  append(event: NewEvent, manager?: EntityManager, options: AppendOptions = {}): Promise<AppendResult> {
    const reads = options.reads ?? [];
    return this.appendNow(event, manager, options, reads).catch((error: unknown) => {
      // Reads the statement answered stay answered: a promise settles once.
      for (const r of reads) r.settle({ ok: false, error });
      throw error;
    });
  }

  private async appendNow(event: NewEvent, manager: EntityManager | undefined, options: AppendOptions, reads: readonly CarriedRead[]): Promise<AppendResult> {
    const occurred = event.occurred_at === undefined ? new Date() : new Date(event.occurred_at);
    if (Number.isNaN(occurred.getTime())) throw new TypeError(`event ${event.id}: occurred_at is not a valid timestamp`);
    if (!manager) {
      // Outside a caller's transaction: join the next group insert.
      // One object literal, not `{...event, occurred_at}`: V8 promoted such spread copies to its old generation (docs/benchmarks.md).
      const stamped: NewEvent = { id: event.id, user_id: event.user_id, type: event.type, source: event.source, occurred_at: occurred.toISOString(), payload: event.payload };
      const { receivedAt, user, windows } = await this.appends.submit({ event: stamped, deferFlush: options.deferFlush === true, withUser: options.withUser === true, windows: options.windows ?? [], reads });
      if (receivedAt) return { inserted: true, event: storedFrom(stamped, receivedAt), user, windows };
      return { inserted: false, event: (await this.find(event.id))!, user, windows };
    }
    if (reads.length) throw new Error('reads ride along with a group insert only, not inside a transaction');
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
   * it existed), the attributes of its user when asked, and the windows asked — all read by the
   * same statement. Its reads of the events table do not see the rows it inserts, so the windows
   * read the table plus the inserted rows: an event that already existed is in the table, a new
   * one in the inserted rows, and each counts once.
   */
  private async insertMany(items: AppendItem[]): Promise<Appended[]> {
    const events = items.map((i) => i.event);
    const windows = items.flatMap((i) => i.windows);
    const appended = rowParams(
      EVENT_ROWS,
      events.map((e) => ({ id: e.id, user_id: e.user_id, type: e.type, source: e.source ?? 'api', occurred_at: String(e.occurred_at), payload: e.payload ?? {} })),
      1,
    );
    const userParam = appended.values.length + 1;
    const windowsValues = windowParams(windows);
    const reads = carriedReads(
      items.flatMap((i) => i.reads),
      userParam + 1 + windowsValues.length,
    );
    const rows = await preparedQuery<{ k: string; id: string; received_at: unknown; attributes: unknown; v: number | null }>(
      this.dataSource,
      `arbiter_events_append${reads.name && `+${reads.name}`}`,
      `WITH ins AS (
         INSERT INTO events (id, user_id, type, source, occurred_at, payload)
         SELECT id, user_id, type, source, occurred_at, payload FROM ${appended.source}
         ON CONFLICT (id) DO NOTHING
         RETURNING id, user_id, type, occurred_at, payload, received_at)
       SELECT 'e' AS k, id, received_at, NULL::jsonb AS attributes, NULL::float8 AS v FROM ins
       UNION ALL
       SELECT 'u', u.id, NULL, u.attributes, NULL FROM (${userAttributesQuery(`$${userParam}`)}) AS u
       UNION ALL
       SELECT 'w', q.i::text, NULL, NULL,
         ${windowValueSql('(SELECT user_id, type, occurred_at, payload FROM events UNION ALL SELECT user_id, type, occurred_at, payload FROM ins)')}
       FROM ${windowUnnest(userParam + 1)}${reads.selects.map((r) => `
       UNION ALL
       SELECT '${r.tag}', r.i::text, NULL, r.doc::jsonb, NULL FROM (${r.sql}) AS r(i, doc)`).join('')}`,
      [...appended.values, [...new Set(items.filter((i) => i.withUser).map((i) => i.event.user_id))], ...windowsValues, ...reads.values],
      // The group waits for the disk only when one of its callers will not commit after it.
      { deferFlush: items.every((i) => i.deferFlush) },
    );
    reads.deliver(rows.filter((r) => r.k[0] === 'r').map((r) => ({ tag: r.k, i: Number(r.id), doc: r.attributes })));
    const inserted = new Map<string, string>();
    const users = attributesById(rows.filter((r) => r.k === 'u'));
    const values = new Map<number, number | null>();
    for (const r of rows) {
      if (r.k === 'e') inserted.set(r.id, iso(r.received_at));
      else if (r.k === 'w') values.set(Number(r.id), r.v);
    }
    let next = 1;
    return items.map(({ event, withUser, windows: asked }) => {
      // Two submissions of one id in one batch: only the first counts as new.
      const receivedAt = inserted.get(event.id);
      inserted.delete(event.id);
      const answered = asked.length ? asked.map((q) => windowValue(q.kind, values.get(next++))) : undefined;
      // Each caller gets its own copy: a session may not see another session's object.
      return { receivedAt, user: withUser ? { ...(users.get(event.user_id) ?? {}) } : undefined, windows: answered };
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

  /** The events stored under any of `ids`, in no particular order. */
  async findMany(ids: readonly string[]): Promise<StoredEvent[]> {
    if (!ids.length) return [];
    const rows: Record<string, unknown>[] = await this.dataSource.query('SELECT id, user_id, type, source, occurred_at, received_at, payload FROM events WHERE id = ANY($1::varchar[])', [ids]);
    return rows.map(toStored);
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
    return (await this.window({ kind: 'count', userId, type, field: '', since: windowSince(since) }))!;
  }

  /** Sum of the numeric payload field `field` (dotted path) over the window; non-numbers count as 0. */
  async sum(userId: string, type: string, field: string, since?: number): Promise<number> {
    return (await this.window({ kind: 'sum', userId, type, field, since: windowSince(since) }))!;
  }

  /** How many distinct values the payload field `field` took over the window (missing/null not counted). */
  async distinct(userId: string, type: string, field: string, since?: number): Promise<number> {
    return (await this.window({ kind: 'distinct', userId, type, field, since: windowSince(since) }))!;
  }

  /** When the user's latest event of `type` occurred (epoch ms), or undefined when never. */
  async lastAt(userId: string, type: string): Promise<number | undefined> {
    return this.window({ kind: 'last', userId, type, field: '', since: '-infinity' });
  }

  /** One window aggregate (see {@link WindowQuery}); concurrent calls share one statement. */
  async window(query: WindowQuery): Promise<WindowValue> {
    if (!isValidWindow(query)) throw new TypeError(`"${query.field}" is not a payload field path (letters, digits, _ and dots)`);
    return windowValue(query.kind, await this.windows.submit(query));
  }

  /**
   * The window aggregates of concurrent calls, one indexed range scan each, in one statement: a
   * fact asked by many sessions at once costs one round trip, not one per session.
   */
  private async windowMany(queries: WindowQuery[]): Promise<(number | null)[]> {
    const rows = await preparedQuery<{ i: string; v: number | string | null }>(
      this.dataSource,
      'arbiter_events_windows',
      `SELECT q.i, ${windowValueSql('events')} AS v FROM ${windowUnnest(1)}`,
      windowParams(queries),
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

/** Whether {@link EventLogService.window} would take this query (a payload path where one is needed). */
export function isValidWindow(query: WindowQuery): boolean {
  return (query.kind !== 'sum' && query.kind !== 'distinct') || FIELD.test(query.field);
}

/** A window's start for {@link WindowQuery.since}: epoch ms, or all time when omitted or out of range. */
export function windowSince(since: number | undefined): string {
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
