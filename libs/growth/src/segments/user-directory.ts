import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/**
 * "Every known user" for a segment backfill: users with a profile and users seen only through
 * events, in id order, a page at a time. @arbiter/facts owns both tables but exports no way to
 * list users, so this one read-only query is the only place growth looks at them directly; swap
 * it for a facts API (`UserService.list(after, limit)`) once one exists.
 */
@Injectable()
export class UserDirectory {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Up to `limit` user ids greater than `after`, ascending. */
  async page(after: string | null, limit: number): Promise<string[]> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM (SELECT id FROM users UNION SELECT user_id AS id FROM events) u
       WHERE $1::text IS NULL OR id > $1::text ORDER BY id LIMIT $2`,
      [after, limit],
    );
    return rows.map((r) => String(r.id));
  }

  /** How many users a backfill will visit (at its start). */
  async count(): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query('SELECT count(*)::int AS n FROM (SELECT id FROM users UNION SELECT user_id AS id FROM events) u');
    return Number(rows[0]?.n ?? 0);
  }
}
