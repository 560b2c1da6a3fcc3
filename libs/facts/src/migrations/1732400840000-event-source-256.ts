import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An event's `source` holds up to 256 characters: a CloudEvent's `source` is a URI reference, and
 * those of cloud providers run well past the 64 the column first held. Widening a varchar rewrites
 * nothing in PostgreSQL. Undone, longer sources are cut to 64.
 */
export class EventSource2561732400840000 implements MigrationInterface {
  name = 'EventSource2561732400840000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE events ALTER COLUMN source TYPE varchar(256)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE events ALTER COLUMN source TYPE varchar(64) USING left(source, 64)');
  }
}
