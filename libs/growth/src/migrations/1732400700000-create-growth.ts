import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateGrowth1732400700000 implements MigrationInterface {
  name = 'CreateGrowth1732400700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE growth_segments (
        id varchar(64) PRIMARY KEY,
        description text,
        condition jsonb NOT NULL, -- {"when": <expression string or condition tree>}
        revision int NOT NULL DEFAULT 1,
        backfill_status varchar(16) NOT NULL DEFAULT 'pending' CHECK (backfill_status IN ('pending', 'running', 'done', 'failed')),
        backfill_revision int NOT NULL DEFAULT 0,
        backfill_total int NOT NULL DEFAULT 0,
        backfill_done int NOT NULL DEFAULT 0,
        backfill_started_at timestamptz,
        backfill_finished_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE growth_segment_memberships (
        id bigserial PRIMARY KEY,
        segment_id varchar(64) NOT NULL REFERENCES growth_segments (id) ON DELETE CASCADE,
        user_id varchar(128) NOT NULL,
        entered_at timestamptz NOT NULL DEFAULT now(),
        exited_at timestamptz,
        entered_by text,
        exited_by text
      )`);
    // At most one open membership per (segment, user): the constraint that makes concurrent
    // evaluations of the same user (an event and a delayed re-check) enter only once.
    await q.query(`CREATE UNIQUE INDEX growth_membership_open ON growth_segment_memberships (segment_id, user_id) WHERE exited_at IS NULL`);
    await q.query(`CREATE INDEX growth_membership_user ON growth_segment_memberships (user_id, entered_at DESC)`);
    await q.query(`CREATE INDEX growth_membership_segment ON growth_segment_memberships (segment_id, user_id, id)`);
    await q.query(`
      CREATE TABLE growth_points_entries (
        id bigserial PRIMARY KEY,
        user_id varchar(128) NOT NULL,
        amount numeric(20, 2) NOT NULL,
        reason text,
        source_event_id varchar(200),
        rule_id text,
        idempotency_key text NOT NULL,
        reverses_entry_id bigint REFERENCES growth_points_entries (id) ON DELETE CASCADE,
        expires_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX growth_points_idempotency ON growth_points_entries (idempotency_key)`);
    // An entry is reversed at most once, whichever refund asks.
    await q.query(`CREATE UNIQUE INDEX growth_points_reverses ON growth_points_entries (reverses_entry_id) WHERE reverses_entry_id IS NOT NULL`);
    await q.query(`CREATE INDEX growth_points_user ON growth_points_entries (user_id, id DESC)`);
    await q.query(`CREATE INDEX growth_points_source ON growth_points_entries (source_event_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS growth_points_entries`);
    await q.query(`DROP TABLE IF EXISTS growth_segment_memberships`);
    await q.query(`DROP TABLE IF EXISTS growth_segments`);
  }
}

/** Migrations of the tables @arbiter/growth owns, in order. */
export const GROWTH_MIGRATIONS = [CreateGrowth1732400700000];
