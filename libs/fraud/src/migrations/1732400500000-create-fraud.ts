import type { MigrationInterface, QueryRunner } from 'typeorm';
import { FraudDecisionsJson1732400810000 } from './1732400810000-fraud-decisions-json';
import { FraudDecisionsEventFromLog1732400830000 } from './1732400830000-fraud-decisions-event-from-log';

export class CreateFraud1732400500000 implements MigrationInterface {
  name = 'CreateFraud1732400500000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE fraud_lists (
        name text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('allow', 'block')),
        description text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE fraud_list_items (
        list_name text NOT NULL REFERENCES fraud_lists (name) ON DELETE CASCADE,
        value text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (list_name, value)
      )`);
    // The allow-list check looks a user up by value across lists.
    await q.query(`CREATE INDEX fraud_list_items_value ON fraud_list_items (value)`);
    await q.query(`
      CREATE TABLE fraud_decisions (
        id uuid PRIMARY KEY,
        seq bigserial NOT NULL UNIQUE,
        event_id text NOT NULL,
        event_type text NOT NULL,
        user_id text NOT NULL,
        is_check boolean NOT NULL DEFAULT false,
        score double precision NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('approve', 'review', 'decline')),
        matched jsonb NOT NULL,
        reasons jsonb NOT NULL,
        facts jsonb NOT NULL,
        event jsonb NOT NULL,
        review_outcome text CHECK (review_outcome IN ('approve', 'review', 'decline')),
        review_note text,
        reviewed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // One pipeline decision per event: a replayed event finds the first one instead of adding another.
    await q.query(`CREATE UNIQUE INDEX fraud_decisions_event ON fraud_decisions (event_id) WHERE NOT is_check`);
    await q.query(`CREATE INDEX fraud_decisions_user ON fraud_decisions (user_id, seq DESC)`);
    await q.query(`CREATE INDEX fraud_decisions_outcome ON fraud_decisions (outcome, seq DESC)`);
    await q.query(`
      CREATE TABLE fraud_snoozes (
        rule_id text NOT NULL,
        user_id text NOT NULL,
        until timestamptz NOT NULL,
        note text,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, rule_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS fraud_snoozes`);
    await q.query(`DROP TABLE IF EXISTS fraud_decisions`);
    await q.query(`DROP TABLE IF EXISTS fraud_list_items`);
    await q.query(`DROP TABLE IF EXISTS fraud_lists`);
  }
}

/** Migrations of the tables @arbiter/fraud owns, in order. */
export const FRAUD_MIGRATIONS = [CreateFraud1732400500000, FraudDecisionsJson1732400810000, FraudDecisionsEventFromLog1732400830000];
