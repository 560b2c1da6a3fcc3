import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';

export interface NamedQueryPool {
  query(config: { name: string; text: string; values: readonly unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * Settings of the connections that run {@link preparedQuery}'s statements on a PostgreSQL server
 * (StoreModule opens a pool of its own for them). Each statement is planned once per connection
 * (a generic plan) instead of on every call: planning cost PostgreSQL more than running the
 * append, the overrides read and the outcome did, and with it `POST /v1/events` used a third less
 * of PostgreSQL's CPU (docs/benchmarks.md). A plan made once must stay right as the tables grow
 * from empty to millions of rows, so these connections also rule out sequential scans, hash and
 * merge joins and materialised inner sides: every hot statement starts from its own parameters
 * (a few dozen rows) and looks each one up by index, which is the right plan at every table
 * size. A test EXPLAINs each statement's generic plan on empty tables to hold them to that.
 */
export const STATEMENT_SETTINGS: Readonly<Record<string, string>> = {
  plan_cache_mode: 'force_generic_plan',
  enable_seqscan: 'off',
  enable_hashjoin: 'off',
  enable_mergejoin: 'off',
  enable_material: 'off',
};

const statementPools = new WeakMap<DataSource, { pool: NamedQueryPool; deferred?: NamedQueryPool }>();

/**
 * Runs `dataSource`'s {@link preparedQuery} statements on `pool` (StoreModule, on a PostgreSQL
 * server), and those that may defer their commit's flush on `deferred`, whose connections have
 * `synchronous_commit = off`.
 */
export function useStatementPool(dataSource: DataSource, pool: NamedQueryPool, deferred?: NamedQueryPool): void {
  statementPools.set(dataSource, { pool, deferred });
}

export interface PreparedQueryOptions {
  /**
   * The statement's commit need not wait for the WAL to reach the disk: the caller commits another
   * statement synchronously before anything that depends on this one is acknowledged. PostgreSQL
   * writes the WAL in order, so that later commit makes this one durable too; a crash before it
   * may lose this one, which nobody was then told of. Ignored on the embedded store.
   */
  deferFlush?: boolean;
}

/**
 * Runs one of the hot path's statements as a named prepared statement: PostgreSQL parses, analyses
 * and plans it once per connection instead of on every call. On a PostgreSQL server it runs on the
 * statement pool ({@link STATEMENT_SETTINGS}); on the embedded store, on the pool under TypeORM
 * ({@link PglitePool}, which ignores the name). Returns the rows (for an UPDATE ... RETURNING too,
 * unlike `DataSource.query`). For single statements outside a transaction; `name` must belong to
 * this one `text` (PostgreSQL refuses one name for two texts), and the statement must find its rows
 * through indexes from its parameters. TypeORM's logger is told of each statement, as for its own.
 */
export async function preparedQuery<R = Record<string, unknown>>(dataSource: DataSource, name: string, text: string, values: readonly unknown[], options?: PreparedQueryOptions): Promise<R[]> {
  const pools = statementPools.get(dataSource);
  // The embedded store puts its pool under TypeORM (StoreModule), whose Postgres driver keeps it as `master`.
  const pool = pools ? (options?.deferFlush && pools.deferred) || pools.pool : (dataSource.driver as unknown as { master: NamedQueryPool }).master;
  // TypeORM's logger sees these statements as it sees its own (query logging, tests counting queries).
  dataSource.logger.logQuery(text, values as unknown[]);
  try {
    return (await pool.query({ name: serverName(name), text, values })).rows as R[];
  } catch (err) {
    dataSource.logger.logQueryError(err as Error, text, values as unknown[]);
    throw err;
  }
}

/** PostgreSQL keeps the first 63 bytes of a statement's name. */
const MAX_NAME = 63;
/** Every name seen, with the name it is prepared under (worked out once: this runs on every statement). */
const serverNames = new Map<string, string>();

/**
 * The name a statement is prepared under: `name` itself when PostgreSQL keeps all of it, otherwise
 * its start and a hash of the whole. Cut to 63 bytes by the server, two long names with the same
 * start (statements carrying different kinds of rows) would be one name for two texts.
 */
export function serverName(name: string): string {
  let known = serverNames.get(name);
  if (known === undefined) {
    known = Buffer.byteLength(name) <= MAX_NAME ? name : `${name.slice(0, 40)}#${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
    serverNames.set(name, known);
  }
  return known;
}

/** How one column of a multi-row statement's rows travels (see {@link rowParams}). */
export type ColumnType = 'text' | 'int' | 'uuid' | 'timestamptz' | 'json';

/** The columns of a multi-row statement's rows, in order, with their types. */
export type RowShape = Readonly<Record<string, ColumnType>>;

export interface RowParams {
  /** The FROM item that yields the rows: `ROWS FROM (...) AS alias(column, ...)`. */
  source: string;
  /** The parameters it reads, in order. */
  values: unknown[];
  /** The parameter holding a scalar column's values (`$n::type[]`), to use it again (`= ANY(...)`). */
  param(column: string): string;
}

/**
 * A document already serialised: {@link rowParams} puts its text in a document column as it is,
 * so a document that is also sent elsewhere (an event's result, stored and answered) is
 * serialised once. `text` must be one valid JSON value.
 */
export class JsonText {
  constructor(readonly text: string) {}
}

const ARRAY_ESCAPE = /[\\"]/;

/**
 * A scalar column's values as the text of a PostgreSQL array (`{"a","b",NULL}`), which the
 * statement casts (`$n::text[]`). The pg driver would build the same text from a JS array, with
 * two regular-expression replacements per element; here an element with nothing to escape (all
 * of them, nearly always) is copied as it is.
 */
function arrayLiteral(values: unknown[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null || v === undefined) {
      out += 'NULL';
      continue;
    }
    const s = v instanceof Date ? v.toISOString() : String(v);
    out += ARRAY_ESCAPE.test(s) ? `"${s.replace(/[\\"]/g, '\\$&')}"` : `"${s}"`;
  }
  return `${out}}`;
}

/** A document column's values as one JSON array, with {@link JsonText} values copied in as they are. */
function jsonArray(values: unknown[]): string {
  if (!values.some((v) => v instanceof JsonText)) return JSON.stringify(values);
  return `[${values.map((v) => (v instanceof JsonText ? v.text : JSON.stringify(v))).join(',')}]`;
}

/**
 * The rows of a multi-row statement as parameters numbered from `firstParam`: each scalar column
 * as the text of one array ({@link arrayLiteral}), each document column (`json`) as one JSON
 * array, zipped back into rows by
 * `ROWS FROM (unnest($1::text[]), json_array_elements($2::json), ...) AS alias(...)`. The text of
 * `source` depends only on the shape, `firstParam` and `alias`, so it suits a named statement.
 *
 * PostgreSQL reads these far more cheaply than the same rows as objects in one JSON array
 * (`json_to_recordset`), which builds a hash table per row, and far more cheaply than `jsonb`:
 * 25 event outcomes of 1.5 KB each cost it 25 µs a row against 53 µs, and Node 18 µs against 25
 * (docs/benchmarks.md). Documents stay one JSON.stringify per column, where the driver's array
 * quoting would escape every quote in them ({@link JsonText} values are copied in as they are). A
 * document column yields `json` (JSON null for a missing value; cast it for a `jsonb` column); a
 * scalar one yields SQL NULL for null.
 */
export function rowParams(shape: RowShape, rows: readonly Record<string, unknown>[], firstParam: number, alias = 'x'): RowParams {
  const { columns, source, refs } = rowSource(shape, firstParam, alias);
  return {
    source,
    values: columns.map((c) => (shape[c] === 'json' ? jsonArray(rows.map((r) => r[c] ?? null)) : arrayLiteral(rows.map((r) => r[c])))),
    param(column: string): string {
      const ref = refs.get(column);
      if (!ref || shape[column] === 'json') throw new Error(`no scalar column ${column} in these rows`);
      return ref;
    },
  };
}

interface RowSource {
  columns: string[];
  source: string;
  refs: Map<string, string>;
}

const rowSources = new WeakMap<RowShape, Map<string, RowSource>>();

/** The SQL of {@link rowParams} for a shape, worked out once per shape, first parameter and alias (shapes are module constants). */
function rowSource(shape: RowShape, firstParam: number, alias: string): RowSource {
  let byPlace = rowSources.get(shape);
  if (!byPlace) rowSources.set(shape, (byPlace = new Map()));
  const place = `${firstParam}:${alias}`;
  let made = byPlace.get(place);
  if (!made) {
    const columns = Object.keys(shape);
    const refs = new Map(columns.map((c, i) => [c, `$${firstParam + i}::${shape[c] === 'json' ? 'json' : `${shape[c]}[]`}`]));
    const functions = columns.map((c) => (shape[c] === 'json' ? `json_array_elements(${refs.get(c)})` : `unnest(${refs.get(c)})`));
    made = { columns, source: `ROWS FROM (${functions.join(', ')}) AS ${alias}(${columns.join(', ')})`, refs };
    byPlace.set(place, made);
  }
  return made;
}
