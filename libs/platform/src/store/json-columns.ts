import type { QueryRunner } from 'typeorm';

/**
 * A migration step that changes columns between `jsonb` and `json` (same values, different
 * storage): documents only ever written and read whole cost PostgreSQL far less as `json`, which
 * it only checks, than as `jsonb`, which it rebuilds (see `rowParams`).
 */
export async function alterJsonColumns(q: QueryRunner, table: string, columns: readonly string[], type: 'json' | 'jsonb'): Promise<void> {
  await q.query(`ALTER TABLE ${table} ${columns.map((c) => `ALTER COLUMN ${c} TYPE ${type} USING ${c}::${type}`).join(', ')}`);
}
