import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Campaigns, their codes, per-user usage counters, redemptions and stored idempotent answers.
 * Money columns are bigint minor units (1/100 of the currency unit); counters live on the rows
 * they limit so a redeem can lock and update them in one transaction.
 */
export class CreatePromo1732400600000 implements MigrationInterface {
  name = 'CreatePromo1732400600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE promo_campaigns (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      status varchar(16) NOT NULL CHECK (status IN ('draft', 'active', 'paused', 'ended')),
      starts_at timestamptz NULL,
      ends_at timestamptz NULL,
      eligibility jsonb NULL,
      reward jsonb NOT NULL,
      currency varchar(3) NULL,
      auto_apply boolean NOT NULL DEFAULT false,
      max_redemptions integer NULL,
      per_user_limit integer NULL,
      budget_minor bigint NULL,
      stacking varchar(16) NOT NULL DEFAULT 'exclusive' CHECK (stacking IN ('exclusive', 'joinable')),
      priority integer NOT NULL DEFAULT 0,
      used integer NOT NULL DEFAULT 0,
      spent_minor bigint NOT NULL DEFAULT 0,
      version integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query('CREATE INDEX promo_campaigns_auto ON promo_campaigns (status, auto_apply)');
    await q.query(`CREATE TABLE promo_codes (
      code varchar(64) PRIMARY KEY,
      campaign_id uuid NOT NULL REFERENCES promo_campaigns (id),
      max_uses integer NULL,
      used integer NOT NULL DEFAULT 0,
      expires_at timestamptz NULL,
      batch_id uuid NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query('CREATE INDEX promo_codes_campaign ON promo_codes (campaign_id, code)');
    await q.query(`CREATE TABLE promo_user_usage (
      campaign_id uuid NOT NULL REFERENCES promo_campaigns (id),
      user_id varchar(200) NOT NULL,
      used integer NOT NULL DEFAULT 0,
      PRIMARY KEY (campaign_id, user_id)
    )`);
    await q.query(`CREATE TABLE promo_redemptions (
      id uuid PRIMARY KEY,
      user_id varchar(200) NOT NULL,
      order_id varchar(200) NULL,
      order_amount_minor bigint NOT NULL,
      currency varchar(3) NOT NULL,
      code varchar(64) NULL,
      campaign_ids uuid[] NOT NULL,
      discount_minor bigint NOT NULL,
      points double precision NOT NULL DEFAULT 0,
      lines jsonb NOT NULL,
      status varchar(16) NOT NULL CHECK (status IN ('redeemed', 'rolled_back')),
      idempotency_key varchar(200) NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now(),
      rolled_back_at timestamptz NULL
    )`);
    await q.query('CREATE INDEX promo_redemptions_user ON promo_redemptions (user_id, created_at DESC, id)');
    await q.query(`CREATE TABLE promo_idempotency (
      key varchar(200) PRIMARY KEY,
      request_hash varchar(64) NOT NULL,
      status_code integer NULL,
      response jsonb NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE promo_idempotency');
    await q.query('DROP TABLE promo_redemptions');
    await q.query('DROP TABLE promo_user_usage');
    await q.query('DROP TABLE promo_codes');
    await q.query('DROP TABLE promo_campaigns');
  }
}

export const PROMO_MIGRATIONS = [CreatePromo1732400600000];
