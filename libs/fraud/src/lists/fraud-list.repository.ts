import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { FraudListEntity } from '../entities/fraud.entities';

export interface ListRow {
  name: string;
  kind: 'allow' | 'block';
  description: string | null;
  size: number;
  created_at: string;
  updated_at: string;
}

const LIST_COLUMNS = `l.name, l.kind, l.description, l.created_at, l.updated_at,
  (SELECT count(*) FROM fraud_list_items i WHERE i.list_name = l.name)::int AS size`;

/** The lists' I/O boundary (the pipeline's allow-list check reads through FraudOverridesRepository). */
@Injectable()
export class FraudListRepository {
  constructor(@InjectRepository(FraudListEntity) private readonly repo: Repository<FraudListEntity>) {}

  /** Creates or updates a list; when `items` is given it replaces the list's values. */
  async put(name: string, kind: 'allow' | 'block', description: string | null, items?: readonly string[]): Promise<{ created: boolean }> {
    return this.repo.manager.transaction(async (m) => {
      const rows: { created: boolean }[] = await m.query(
        `INSERT INTO fraud_lists (name, kind, description) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, description = EXCLUDED.description, updated_at = now()
         RETURNING (xmax = 0) AS created`,
        [name, kind, description],
      );
      if (items !== undefined) {
        await m.query(`DELETE FROM fraud_list_items WHERE list_name = $1`, [name]);
        if (items.length) await m.query(`INSERT INTO fraud_list_items (list_name, value) SELECT $1, v FROM unnest($2::text[]) AS v ON CONFLICT DO NOTHING`, [name, items]);
      }
      return { created: rows[0]?.created === true };
    });
  }

  async get(name: string): Promise<ListRow | undefined> {
    const rows: ListRow[] = await this.repo.query(`SELECT ${LIST_COLUMNS} FROM fraud_lists l WHERE l.name = $1`, [name]);
    return rows[0] ? row(rows[0]) : undefined;
  }

  async all(): Promise<ListRow[]> {
    const rows: ListRow[] = await this.repo.query(`SELECT ${LIST_COLUMNS} FROM fraud_lists l ORDER BY l.name`);
    return rows.map(row);
  }

  /** Values of a list in order, after `after` (keyset paging). */
  async items(name: string, limit: number, after?: string): Promise<string[]> {
    const rows: { value: string }[] = after === undefined
      ? await this.repo.query(`SELECT value FROM fraud_list_items WHERE list_name = $1 ORDER BY value LIMIT $2`, [name, limit])
      : await this.repo.query(`SELECT value FROM fraud_list_items WHERE list_name = $1 AND value > $2 ORDER BY value LIMIT $3`, [name, after, limit]);
    return rows.map((r) => r.value);
  }

  async remove(name: string): Promise<boolean> {
    const rows: unknown[] = await this.repo.query(`DELETE FROM fraud_lists WHERE name = $1 RETURNING name`, [name]);
    return rowsOf(rows).length > 0;
  }

  /** Adds and removes values in one transaction; counts only real changes. */
  async change(name: string, add: readonly string[], remove: readonly string[]): Promise<{ added: number; removed: number }> {
    return this.repo.manager.transaction(async (m) => {
      let added = 0;
      let removed = 0;
      if (remove.length) removed = rowsOf(await m.query(`DELETE FROM fraud_list_items WHERE list_name = $1 AND value = ANY($2::text[]) RETURNING value`, [name, remove])).length;
      if (add.length) added = rowsOf(await m.query(`INSERT INTO fraud_list_items (list_name, value) SELECT $1, v FROM unnest($2::text[]) AS v ON CONFLICT DO NOTHING RETURNING value`, [name, add])).length;
      await m.query(`UPDATE fraud_lists SET updated_at = now() WHERE name = $1`, [name]);
      return { added, removed };
    });
  }

  /** Whether `value` is on list `name` (one primary-key lookup; false for a list that does not exist). */
  async contains(name: string, value: string): Promise<boolean> {
    const rows: unknown[] = await this.repo.query(`SELECT 1 FROM fraud_list_items WHERE list_name = $1 AND value = $2 LIMIT 1`, [name, value]);
    return rows.length > 0;
  }
}

/** TypeORM answers DELETE/UPDATE ... RETURNING with [rows, affected] on PostgreSQL. */
function rowsOf(result: unknown): unknown[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0];
  return Array.isArray(result) ? result : [];
}

function row(r: ListRow): ListRow {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v));
  return { name: r.name, kind: r.kind, description: r.description, size: Number(r.size), created_at: iso(r.created_at), updated_at: iso(r.updated_at) };
}
