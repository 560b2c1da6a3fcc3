import type { MigrationInterface, QueryRunner } from 'typeorm';
import { OutcomesJson1732400820000 } from './1732400820000-outcomes-json';
import { PublicFailureReasons1732400850000 } from './1732400850000-public-failure-reasons';

/** Outcomes of processed events (idempotent replies, batch progress) and accepted batches. */
export class CreateIngestion1732400300000 implements MigrationInterface {
  name = 'CreateIngestion1732400300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE event_outcomes (
      event_id varchar(200) PRIMARY KEY,
      status varchar(16) NOT NULL CHECK (status IN ('done', 'failed')),
      batch_id uuid NULL,
      result jsonb NULL,
      error text NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE event_batches (
      id uuid PRIMARY KEY,
      total integer NOT NULL,
      event_ids text[] NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE event_batches');
    await q.query('DROP TABLE event_outcomes');
  }
}

export const INGESTION_MIGRATIONS = [CreateIngestion1732400300000, OutcomesJson1732400820000, PublicFailureReasons1732400850000];
