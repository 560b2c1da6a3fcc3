import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { Campaign, Reward } from './campaign.model';
import type { CampaignDraft } from './campaign.input';

/** A stored code with its own limit. */
export interface PromoCode {
  code: string;
  campaignId: string;
  maxUses: number | null;
  used: number;
  expiresAt: Date | null;
  batchId: string | null;
  createdAt: Date;
}

type Db = DataSource | EntityManager;

const CAMPAIGN_COLUMNS = 'id, name, status, starts_at, ends_at, eligibility, reward, currency, auto_apply, max_redemptions, per_user_limit, budget_minor, stacking, priority, used, spent_minor, version, created_at, updated_at';

/**
 * The promo tables, in SQL: campaigns, codes and per-user usage. The redeem transaction passes its
 * own manager (`db`) so every statement runs on the transaction's connection — on the embedded
 * store there is only one, and a query on another would wait forever.
 */
@Injectable()
export class CampaignRepository {
  constructor(@InjectDataSource() readonly dataSource: DataSource) {}

  async insert(id: string, d: CampaignDraft): Promise<Campaign> {
    const rows = await this.dataSource.query(
      `INSERT INTO promo_campaigns (id, name, status, starts_at, ends_at, eligibility, reward, currency, auto_apply, max_redemptions, per_user_limit, budget_minor, stacking, priority)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11, $12, $13, $14) RETURNING ${CAMPAIGN_COLUMNS}`,
      [id, d.name, d.status, d.startsAt, d.endsAt, d.eligibility === null ? null : JSON.stringify(d.eligibility), JSON.stringify(d.reward), d.currency, d.autoApply, d.maxRedemptions, d.perUserLimit, d.budgetMinor, d.stacking, d.priority],
    );
    return toCampaign(rows[0]);
  }

  async update(db: Db, id: string, d: CampaignDraft): Promise<Campaign> {
    const rows = sqlRows(await db.query(
      `UPDATE promo_campaigns SET name = $2, status = $3, starts_at = $4, ends_at = $5, eligibility = $6::jsonb, reward = $7::jsonb, currency = $8, auto_apply = $9,
         max_redemptions = $10, per_user_limit = $11, budget_minor = $12, stacking = $13, priority = $14, version = version + 1, updated_at = now()
       WHERE id = $1 RETURNING ${CAMPAIGN_COLUMNS}`,
      [id, d.name, d.status, d.startsAt, d.endsAt, d.eligibility === null ? null : JSON.stringify(d.eligibility), JSON.stringify(d.reward), d.currency, d.autoApply, d.maxRedemptions, d.perUserLimit, d.budgetMinor, d.stacking, d.priority],
    ));
    return toCampaign(rows[0]);
  }

  async find(id: string, db: Db = this.dataSource, lock = false): Promise<Campaign | undefined> {
    if (!isUuid(id)) return undefined;
    const rows = await db.query(`SELECT ${CAMPAIGN_COLUMNS} FROM promo_campaigns WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
    return rows[0] ? toCampaign(rows[0]) : undefined;
  }

  /** Locks the campaigns in id order (a fixed order, so two redeems never deadlock). */
  async lockMany(db: Db, ids: readonly string[]): Promise<Map<string, Campaign>> {
    const rows = await db.query(`SELECT ${CAMPAIGN_COLUMNS} FROM promo_campaigns WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, [[...ids].sort()]);
    return new Map(rows.map((r: Record<string, unknown>) => [r.id as string, toCampaign(r)]));
  }

  async list(options: { status?: string; limit: number; offset: number }): Promise<{ items: Campaign[]; total: number }> {
    const where = options.status ? 'WHERE status = $1' : '';
    const params: unknown[] = options.status ? [options.status] : [];
    const rows = await this.dataSource.query(`SELECT ${CAMPAIGN_COLUMNS} FROM promo_campaigns ${where} ORDER BY priority DESC, created_at, id LIMIT ${options.limit} OFFSET ${options.offset}`, params);
    const [{ n }] = await this.dataSource.query(`SELECT count(*) AS n FROM promo_campaigns ${where}`, params);
    return { items: rows.map(toCampaign), total: Number(n) };
  }

  /** Active campaigns that apply without a code (time window checked by the caller). */
  async automatic(): Promise<Campaign[]> {
    const rows = await this.dataSource.query(`SELECT ${CAMPAIGN_COLUMNS} FROM promo_campaigns WHERE status = 'active' AND auto_apply ORDER BY priority DESC, id`);
    return rows.map(toCampaign);
  }

  async findCode(code: string, db: Db = this.dataSource, lock = false): Promise<PromoCode | undefined> {
    const rows = await db.query(`SELECT code, campaign_id, max_uses, used, expires_at, batch_id, created_at FROM promo_codes WHERE code = $1${lock ? ' FOR UPDATE' : ''}`, [code]);
    return rows[0] ? toCode(rows[0]) : undefined;
  }

  /** Inserts the codes that are free; returns those inserted (the others already existed). */
  async insertCodes(db: Db, campaignId: string, codes: readonly string[], maxUses: number | null, expiresAt: Date | null, batchId: string): Promise<string[]> {
    const rows: { code: string }[] = await db.query(
      `INSERT INTO promo_codes (code, campaign_id, max_uses, expires_at, batch_id)
       SELECT c, $2, $3, $4, $5 FROM unnest($1::text[]) AS c ON CONFLICT (code) DO NOTHING RETURNING code`,
      [codes, campaignId, maxUses, expiresAt, batchId],
    );
    return rows.map((r) => r.code);
  }

  async listCodes(campaignId: string, options: { after?: string; limit: number; batchId?: string }): Promise<PromoCode[]> {
    const params: unknown[] = [campaignId];
    let sql = 'SELECT code, campaign_id, max_uses, used, expires_at, batch_id, created_at FROM promo_codes WHERE campaign_id = $1';
    if (options.after !== undefined) {
      params.push(options.after);
      sql += ` AND code > $${params.length}`;
    }
    if (options.batchId !== undefined) {
      params.push(options.batchId);
      sql += ` AND batch_id = $${params.length}`;
    }
    sql += ` ORDER BY code LIMIT ${options.limit}`;
    return (await this.dataSource.query(sql, params)).map(toCode);
  }

  async countCodes(campaignId: string): Promise<number> {
    const [{ n }] = await this.dataSource.query('SELECT count(*) AS n FROM promo_codes WHERE campaign_id = $1', [campaignId]);
    return Number(n);
  }

  /** How many times `userId` redeemed each campaign (redemptions not rolled back). */
  async userUsage(campaignIds: readonly string[], userId: string, db: Db = this.dataSource, lock = false): Promise<Map<string, number>> {
    if (campaignIds.length === 0) return new Map();
    const rows: { campaign_id: string; used: number }[] = await db.query(
      `SELECT campaign_id, used FROM promo_user_usage WHERE campaign_id = ANY($1::uuid[]) AND user_id = $2${lock ? ' FOR UPDATE' : ''}`,
      [[...campaignIds], userId],
    );
    return new Map(rows.map((r) => [r.campaign_id, Number(r.used)]));
  }
}

/** Rows of a query: TypeORM answers UPDATE and DELETE with `[rows, affected]`, everything else with rows. */
export function sqlRows<T = Record<string, unknown>>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return result as T[];
}

export function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}

function date(v: unknown): Date | null {
  return v === null || v === undefined ? null : new Date(v as string);
}

function toCampaign(r: Record<string, unknown>): Campaign {
  return {
    id: r.id as string,
    name: r.name as string,
    status: r.status as Campaign['status'],
    startsAt: date(r.starts_at),
    endsAt: date(r.ends_at),
    eligibility: (r.eligibility ?? null) as Campaign['eligibility'],
    reward: r.reward as Reward,
    currency: (r.currency as string | null) ?? null,
    autoApply: r.auto_apply as boolean,
    maxRedemptions: r.max_redemptions === null ? null : Number(r.max_redemptions),
    perUserLimit: r.per_user_limit === null ? null : Number(r.per_user_limit),
    budgetMinor: r.budget_minor === null ? null : Number(r.budget_minor),
    stacking: r.stacking as Campaign['stacking'],
    priority: Number(r.priority),
    used: Number(r.used),
    spentMinor: Number(r.spent_minor),
    version: Number(r.version),
    createdAt: new Date(r.created_at as string),
    updatedAt: new Date(r.updated_at as string),
  };
}

function toCode(r: Record<string, unknown>): PromoCode {
  return {
    code: r.code as string,
    campaignId: r.campaign_id as string,
    maxUses: r.max_uses === null ? null : Number(r.max_uses),
    used: Number(r.used),
    expiresAt: date(r.expires_at),
    batchId: (r.batch_id as string | null) ?? null,
    createdAt: new Date(r.created_at as string),
  };
}
