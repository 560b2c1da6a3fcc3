import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateActionLog1732400100000 implements MigrationInterface {
  name = 'CreateActionLog1732400100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE action_log (
        id bigserial PRIMARY KEY,
        idempotency_key text NOT NULL,
        event_id text NOT NULL,
        rule_id text NOT NULL,
        domain text NOT NULL,
        action_index int NOT NULL,
        action text NOT NULL,
        mode text NOT NULL CHECK (mode IN ('inline', 'deferred')),
        status text NOT NULL CHECK (status IN ('running', 'queued', 'retrying', 'succeeded', 'failed')),
        params jsonb NOT NULL,
        event jsonb NOT NULL,
        result jsonb,
        error_code text,
        error_message text,
        attempts int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX action_log_idempotency_key ON action_log (idempotency_key)`);
    // The failed list is read by operators; a partial index keeps it cheap however large the log grows.
    await q.query(`CREATE INDEX action_log_failed ON action_log (updated_at DESC, id DESC) WHERE status = 'failed'`);
    await q.query(`CREATE INDEX action_log_event ON action_log (event_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS action_log`);
  }
}
