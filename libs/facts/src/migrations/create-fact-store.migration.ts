import type { MigrationInterface, QueryRunner } from 'typeorm';
import { EventSource2561732400840000 } from './1732400840000-event-source-256';

/** The user-fact store: `users` (typed attributes) and the append-only `events` log. */
export class CreateFactStore1732400000000 implements MigrationInterface {
  name = 'CreateFactStore1732400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS users (
      id varchar(128) PRIMARY KEY,
      attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE IF NOT EXISTS events (
      id varchar(128) PRIMARY KEY,
      user_id varchar(128) NOT NULL,
      type varchar(64) NOT NULL,
      source varchar(64) NOT NULL DEFAULT 'api',
      occurred_at timestamptz NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      payload jsonb NOT NULL DEFAULT '{}'::jsonb
    )`);
    // Every built-in fact is "this user, this type, since then": one index range scan.
    await q.query('CREATE INDEX IF NOT EXISTS events_user_type_time ON events (user_id, type, occurred_at)');
    await q.query('CREATE INDEX IF NOT EXISTS events_user_time ON events (user_id, occurred_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS events');
    await q.query('DROP TABLE IF EXISTS users');
  }
}

/** The migrations of @arbiter/facts, in order; the app passes them to the platform's store. */
export const FACTS_MIGRATIONS = [CreateFactStore1732400000000, EventSource2561732400840000];
