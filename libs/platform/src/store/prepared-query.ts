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

const statementPools = new WeakMap<DataSource, NamedQueryPool>();

/** Runs `dataSource`'s {@link preparedQuery} statements on `pool` (StoreModule, on a PostgreSQL server). */
export function useStatementPool(dataSource: DataSource, pool: NamedQueryPool): void {
  statementPools.set(dataSource, pool);
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
export async function preparedQuery<R = Record<string, unknown>>(dataSource: DataSource, name: string, text: string, values: readonly unknown[]): Promise<R[]> {
  // The embedded store puts its pool under TypeORM (StoreModule), whose Postgres driver keeps it as `master`.
  const pool = statementPools.get(dataSource) ?? (dataSource.driver as unknown as { master: NamedQueryPool }).master;
  // TypeORM's logger sees these statements as it sees its own (query logging, tests counting queries).
  dataSource.logger.logQuery(text, values as unknown[]);
  try {
    return (await pool.query({ name, text, values })).rows as R[];
  } catch (err) {
    dataSource.logger.logQueryError(err as Error, text, values as unknown[]);
    throw err;
  }
}

/**
 * The rows of a multi-row statement as one JSON parameter, for `json_to_recordset($1::json) AS
 * x(col type, ...)`: one native JSON.stringify for the whole batch, where a text[] parameter per
 * column makes the driver quote and escape every element (slow for JSON-valued columns).
 *
 * Read it as `json`, not `jsonb`: PostgreSQL only checks `json` text, where it builds a `jsonb`
 * value of the whole parameter and then of each object-valued column again. For a batch of 25
 * event outcomes (about 42 KB) that was 0.5-1 ms against 2.6-5 ms. Columns that store documents
 * only written and read whole (outcomes, decisions, the action log's parameters and results) are
 * `json` for the same reason; a column that is queried inside (events' payload, users'
 * attributes) stays `jsonb` and converts only its own value.
 */
export function jsonRows(rows: readonly Record<string, unknown>[]): string {
  return JSON.stringify(rows);
}
