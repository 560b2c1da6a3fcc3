import type { DataSource } from 'typeorm';

interface NamedQueryPool {
  query(config: { name: string; text: string; values: readonly unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * Runs one of the hot path's statements as a named prepared statement, on the pool under TypeORM
 * (`pg.Pool`, or {@link PglitePool} for the embedded store, which ignores the name): PostgreSQL
 * parses and analyses it once per connection instead of on every call. It is still planned on
 * every call: the connections use `plan_cache_mode = force_custom_plan` (StoreModule), because a
 * generic plan chosen once while a table was nearly empty stays a sequential scan as the table
 * grows. Returns the rows (for an UPDATE ... RETURNING too, unlike `DataSource.query`). For single
 * statements outside a transaction; `name` must belong to this one `text` (PostgreSQL refuses one
 * name for two texts). TypeORM's logger is told of each statement, as for its own.
 */
export async function preparedQuery<R = Record<string, unknown>>(dataSource: DataSource, name: string, text: string, values: readonly unknown[]): Promise<R[]> {
  // Both stores put a pool there (StoreModule); TypeORM's Postgres driver keeps it as `master`.
  const pool = (dataSource.driver as unknown as { master: NamedQueryPool }).master;
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
