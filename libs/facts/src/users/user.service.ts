import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Coalescer, preparedQuery, rowParams, NotFoundError, ValidationError, type CarriedRow, type FieldProblem, type RowKind } from '@arbiter/platform';
import { FactsConfig } from '../config/facts-config';
import { EventLogService } from '../events/event-log.service';
import { checkValue, describe } from '../schema/value-check';
import { attributesById, userAttributesQuery } from './user-attributes.query';
import { forgetMemo, memoised, seedMemo, settledMemo } from '../session-memo';

/** One merge of attributes into a user: values to set, and attributes to remove (never both for one name). */
interface AttributeChange {
  id: string;
  set: Record<string, unknown>;
  removed: string[];
}

/** A user as the API shows it. */
export interface UserView {
  id: string;
  attributes: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export const USER_ID = /^[A-Za-z0-9._:@|-]{1,128}$/;

/** {@link USER_ID} in words, for the messages of every API that takes a user id. */
export const USER_ID_FORMAT = '1 to 128 letters, digits and . _ : @ | -';

/** Where memo keys about one user carry its id, so a write can forget exactly them. */
export const userMarker = (userId: string) => `\u0000${userId}\u0000`;

/** The memo key of a user's attributes. */
const attributesKey = (userId: string) => `user.attributes${userMarker(userId)}`;

/** The columns of merged attribute changes (`rowParams`). */
const CHANGE_ROWS = { id: 'text', set: 'json', removed: 'json' } as const;

/** A JSON object without its members that are JSON null (SQL over the jsonb expression `doc`). */
const withoutNulls = (doc: string) => `(SELECT COALESCE(jsonb_object_agg(s.k, s.v), '{}'::jsonb) FROM jsonb_each(${doc}) AS s(k, v) WHERE jsonb_typeof(s.v) <> 'null')`;

/**
 * Attribute changes carried by another statement (the event's outcome: what `set_user_attribute`
 * does on an event's first run), as JSON merge patches (`null` removes). ON CONFLICT may touch a
 * row once per statement, so the patches of one user are merged first, in the order they were
 * made (`ord`): the later value of an attribute wins. Creates the user when unknown.
 */
const PATCHES: RowKind = {
  name: 'users_patches',
  recordsDone: true,
  shape: { id: 'text', patch: 'json', ord: 'int' },
  sql: (rows) => {
    const members = `${rows.source} CROSS JOIN LATERAL jsonb_each(x.patch::jsonb) AS e(k, v)`;
    const merged = 'jsonb_object_agg(e.k, e.v ORDER BY x.ord)';
    return `INSERT INTO users AS u (id, attributes)
     SELECT p.id, ${withoutNulls('p.patch')} FROM (SELECT x.id, ${merged} AS patch FROM ${members} GROUP BY x.id) AS p
     ON CONFLICT (id) DO UPDATE SET attributes = ${withoutNulls(`u.attributes || (SELECT ${merged} FROM ${members} WHERE x.id = EXCLUDED.id)`)}, updated_at = now()`;
  },
};

/** The order of carried patches in this process (a later one wins in a statement that carries both; wraps at 2^31). */
let patchOrder = 0;

/**
 * Users and their typed attributes. Every write is checked against the attribute schema of
 * `facts.yaml` (a value of the wrong type, or an undeclared attribute, is a 400 naming it and
 * changes nothing). `attributes(userId)` is loaded once per session and memoised, so `user.*`
 * leaves of every domain read the same object synchronously.
 */
@Injectable()
export class UserService {
  /** Attribute loads of concurrent calls share one `WHERE id = ANY(...)` query. */
  private readonly loads = new Coalescer<string, Record<string, unknown>>(async (ids) => {
    const rows = await preparedQuery<{ id: string; attributes: unknown }>(this.dataSource, 'arbiter_users_attributes', userAttributesQuery('$1'), [[...new Set(ids)]]);
    const byId = attributesById(rows);
    // Each caller gets its own copy: a session may not see another session's object.
    return ids.map((id) => ({ ...(byId.get(id) ?? {}) }));
  });

  /**
   * Merging writes that may create the user (what actions do, many per second under load): those
   * of concurrent calls share one statement.
   */
  private readonly upserts = new Coalescer<AttributeChange, Record<string, unknown>>((changes) => this.upsertMany(changes));

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: FactsConfig,
    private readonly events: EventLogService,
  ) {}

  /** One user, or undefined. */
  async get(id: string): Promise<UserView | undefined> {
    const rows: Record<string, unknown>[] = await this.dataSource.query('SELECT id, attributes, created_at, updated_at FROM users WHERE id = $1', [id]);
    return rows.length ? view(rows[0]) : undefined;
  }

  /** Creates the user or replaces all of their attributes; `created` says which. */
  async put(id: string, attributes: unknown): Promise<{ user: UserView; created: boolean }> {
    checkUserId(id);
    const clean = this.validate(attributes, true);
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `INSERT INTO users AS u (id, attributes) VALUES ($1, $2::jsonb)
       ON CONFLICT (id) DO UPDATE SET attributes = EXCLUDED.attributes, updated_at = now()
       RETURNING id, attributes, created_at, updated_at, (xmax = 0) AS created`,
      [id, JSON.stringify(clean.set)],
    );
    const user = this.written(view(rows[0]));
    return { user, created: rows[0].created === true };
  }

  /**
   * Merges attributes into an existing user (JSON merge patch: `null` removes an attribute), in
   * one statement so concurrent patches of different attributes both land. 404 when unknown,
   * unless `createIfMissing` (what an action setting one attribute wants): then the user is created.
   */
  async patch(id: string, attributes: unknown, options: { createIfMissing?: boolean } = {}): Promise<UserView> {
    checkUserId(id);
    const clean = this.validate(attributes, false);
    const rows: Record<string, unknown>[] = options.createIfMissing
      ? [await this.upserts.submit({ id, set: clean.set, removed: clean.removed })]
      : // A CTE so the driver returns rows (TypeORM returns [rows, count] for a bare UPDATE).
        await this.dataSource.query(
          `WITH u AS (UPDATE users SET attributes = (attributes || $2::jsonb) - $3::text[], updated_at = now()
           WHERE id = $1 RETURNING id, attributes, created_at, updated_at) SELECT * FROM u`,
          [id, JSON.stringify(clean.set), clean.removed],
        );
    if (!rows.length) throw new NotFoundError('user', id);
    return this.written(view(rows[0]));
  }

  /**
   * {@link patch} with `createIfMissing`, as a row for another statement to carry (the event's
   * outcome, for an inline action of its first run): checked now like any write (a 400 naming the
   * attribute), written when that statement runs. The session knows the user's attributes as they
   * will be when it knew them before (the event's append read them); otherwise it forgets them.
   */
  carriedPatch(id: string, attributes: unknown): CarriedRow {
    checkUserId(id);
    const clean = this.validate(attributes, false);
    const patch: Record<string, unknown> = Object.assign({}, clean.set);
    for (const name of clean.removed) patch[name] = null;
    const known = settledMemo(attributesKey(id)) as Record<string, unknown> | undefined;
    let after: Record<string, unknown> | undefined;
    if (known) {
      after = Object.assign({}, known, clean.set);
      for (const name of clean.removed) delete after[name];
    }
    this.remember(id, after);
    patchOrder = (patchOrder + 1) % 2 ** 31;
    return { kind: PATCHES, row: { id, patch, ord: patchOrder } };
  }

  /**
   * After a write to the user: the session forgets what it knew of them, and knows their attributes
   * as written (a later `user.*` read in the call, such as growth's segments after an action set
   * one, needs no statement).
   */
  private written(user: UserView): UserView {
    this.remember(user.id, { ...user.attributes });
    return user;
  }

  /** The session forgets what it knew of the user, and knows `attributes` as theirs when given. */
  private remember(id: string, attributes: Record<string, unknown> | undefined): void {
    forgetMemo(userMarker(id));
    if (attributes) seedMemo(attributesKey(id), attributes);
  }

  /**
   * Creates or merges into each user, in order. ON CONFLICT may touch a row once per statement, so
   * a user changed twice in one group is written in rounds: each round holds a user once.
   */
  private async upsertMany(changes: AttributeChange[]): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = new Array(changes.length);
    let rest = changes.map((change, i) => ({ change, i }));
    while (rest.length) {
      const ids = new Set<string>();
      const round: typeof rest = [];
      const later: typeof rest = [];
      for (const r of rest) {
        if (ids.has(r.change.id)) later.push(r);
        else (ids.add(r.change.id), round.push(r));
      }
      const params = rowParams(CHANGE_ROWS, round.map((r) => ({ id: r.change.id, set: r.change.set, removed: r.change.removed })), 1, 'c');
      const rows = await preparedQuery<Record<string, unknown>>(
        this.dataSource,
        'arbiter_users_merge',
        `WITH x AS (SELECT id, set::jsonb AS set, ARRAY(SELECT json_array_elements_text(removed)) AS removed FROM ${params.source})
         INSERT INTO users AS u (id, attributes) SELECT id, set - removed FROM x
         ON CONFLICT (id) DO UPDATE SET attributes = (u.attributes || EXCLUDED.attributes) - (SELECT x.removed FROM x WHERE x.id = EXCLUDED.id), updated_at = now()
         RETURNING id, attributes, created_at, updated_at`,
        params.values,
      );
      const byId = new Map(rows.map((row) => [String(row.id), row]));
      for (const r of round) out[r.i] = byId.get(r.change.id)!;
      rest = later;
    }
    return out;
  }

  /** Erases the user and every event of theirs, in one transaction (the right to be forgotten). */
  async delete(id: string): Promise<{ user: boolean; events: number }> {
    const result = await this.dataSource.transaction(async (m) => {
      const events = await this.events.eraseUser(id, m);
      const users: { n: number }[] = await m.query('WITH d AS (DELETE FROM users WHERE id = $1 RETURNING 1) SELECT count(*)::int AS n FROM d', [id]);
      return { user: Number(users[0]?.n) > 0, events };
    });
    forgetMemo(userMarker(id));
    return result;
  }

  /**
   * The user's attributes (empty for an unknown user), loaded once per session: every domain of
   * one call reads the same object, and concurrent askers share one query. `loaded`: the caller
   * read them already (the event append does, in its own statement), as this session's own copy.
   */
  attributes(userId: string, loaded?: Record<string, unknown>): Promise<Record<string, unknown>> {
    const out = memoised(attributesKey(userId), () => loaded ?? this.loads.submit(userId));
    return Promise.resolve(out as Record<string, unknown> | Promise<Record<string, unknown>>);
  }

  /** Checks attribute values against the schema; every problem is a 400 naming the attribute. */
  validate(attributes: unknown, replace: boolean): { set: Record<string, unknown>; removed: string[] } {
    if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
      throw new ValidationError([{ path: 'attributes', message: `must be an object of attribute values, got ${describe(attributes)}` }]);
    }
    const problems: FieldProblem[] = [];
    const set: Record<string, unknown> = {};
    const removed: string[] = [];
    for (const [name, value] of Object.entries(attributes)) {
      const type = this.config.attributes.get(name);
      if (!type) {
        const known = [...this.config.attributes.keys()];
        problems.push({ path: `attributes.${name}`, message: `is not a declared attribute (declared in facts.yaml: ${known.join(', ') || 'none'})` });
        continue;
      }
      checkValue(type, value, `attributes.${name}`, problems);
      if (value === null) removed.push(name);
      else if (!replace || value !== undefined) set[name] = value;
    }
    if (problems.length) throw new ValidationError(problems);
    return { set, removed };
  }
}

/** A user id taken from a path (`id`), as every API takes it: a 400 naming `id` otherwise. */
export function checkUserId(id: string): string {
  if (!USER_ID.test(id)) throw new ValidationError([{ path: 'id', message: `user ids are ${USER_ID_FORMAT}` }]);
  return id;
}

function view(r: Record<string, unknown>): UserView {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
  const attributes = typeof r.attributes === 'string' ? (JSON.parse(r.attributes) as Record<string, unknown>) : ((r.attributes ?? {}) as Record<string, unknown>);
  return { id: String(r.id), attributes, created_at: iso(r.created_at), updated_at: iso(r.updated_at) };
}
