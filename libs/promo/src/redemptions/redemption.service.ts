import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { ActionExecutor, ActionRegistry } from '@arbiter/actions';
import { canonicalJson, NotFoundError, timeOrderedId, ValidationError } from '@arbiter/platform';
import { CampaignRepository, isUuid, sqlRows } from '../campaigns/campaign.repository';
import { refusalReasons } from '../engine/evaluation.view';
import { limitReasons, PromoEngine, type Evaluation, type Reason } from '../engine/promo.engine';
import { IdempotencyKeyReusedError, RedeemRefusedError } from '../errors/promo.errors';
import { redemptionView, toRedemption, type Redemption, type RedemptionLine } from './redemption.model';

/** The action growth provides for points rewards; promo runs it when it is registered. */
export const REWARD_POINTS_ACTION = 'reward_points';

/** A stored answer: what the first request with an Idempotency-Key got. */
export interface RedeemAnswer {
  status: number;
  body: Record<string, unknown>;
  replayed: boolean;
}

/** Thrown inside the transaction to end it without writing: another request holds the key. */
class KeyHeldElsewhere extends Error {}

const KEY = /^[\x21-\x7e]{1,200}$/;

/**
 * Redeems and rolls back. A redeem evaluates the checkout first (eligibility, fraud, code — no
 * side effect), then in ONE transaction claims the Idempotency-Key, locks the campaign rows (in id
 * order) and the code row, re-checks every limit against the locked counters and consumes them
 * all, or none: with 100 concurrent redeems of a 10-use code, exactly 10 succeed. The first answer
 * — success or 409 — is stored under the key in the same transaction, so a replay gets it back and
 * consumes nothing. Rollback gives back exactly what its redemption consumed, once.
 */
@Injectable()
export class RedemptionService {
  private readonly logger = new Logger('Promo');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly campaigns: CampaignRepository,
    private readonly engine: PromoEngine,
    private readonly registry: ActionRegistry,
    private readonly executor: ActionExecutor,
  ) {}

  async redeem(body: unknown, key: string | undefined): Promise<RedeemAnswer> {
    if (key === undefined || !KEY.test(key)) throw new ValidationError([{ path: 'headers.idempotency-key', message: 'required: 1 to 200 printable characters, unique per redeem (a retry sends the same key)' }]);
    const req = this.engine.parse(body);
    const hash = createHash('sha256').update(canonicalJson(body)).digest('hex');
    const stored = await this.storedAnswer(key, hash);
    if (stored) return stored;

    const evaluation = await this.engine.evaluate(req, { explain: true });
    let answer: RedeemAnswer;
    try {
      answer = await this.dataSource.transaction((m) => this.consume(m, evaluation, key, hash));
    } catch (err) {
      if (!(err instanceof KeyHeldElsewhere)) throw err;
      const again = await this.storedAnswer(key, hash);
      if (!again) throw err;
      return again;
    }
    if (answer.status === 201 && (await this.grantPoints(answer, evaluation))) {
      // A replay must get this same answer, grant included.
      await this.dataSource.query('UPDATE promo_idempotency SET response = $2::jsonb WHERE key = $1', [key, JSON.stringify(answer.body)]);
    }
    return answer;
  }

  /** The consuming half of a redeem; runs inside the transaction and uses only `m`. */
  private async consume(m: EntityManager, e: Evaluation, key: string, hash: string): Promise<RedeemAnswer> {
    const claimed = sqlRows(await m.query('INSERT INTO promo_idempotency (key, request_hash) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING key', [key, hash]));
    if (claimed.length === 0) throw new KeyHeldElsewhere();
    const refuse = async (reasons: Reason[]): Promise<RedeemAnswer> => {
      const bodyOut = { reasons };
      await m.query('UPDATE promo_idempotency SET status_code = 409, response = $2::jsonb WHERE key = $1', [key, JSON.stringify(bodyOut)]);
      return { status: 409, body: bodyOut, replayed: false };
    };
    const refused = refusalReasons(e);
    if (refused.length) return refuse(refused);

    const lines = e.best.offers;
    const ids = lines.map((l) => l.offer.campaignId);
    const locked = await this.campaigns.lockMany(m, ids);
    const code = e.code ? await this.campaigns.findCode(e.code.code, m, true) : undefined;
    const usage = await this.campaigns.userUsage(ids, e.request.userId, m, true);
    const reasons: Reason[] = [];
    if (code) {
      if (code.expiresAt && code.expiresAt.getTime() <= Date.now()) reasons.push({ code: 'code_expired', message: `code ${code.code} expired at ${code.expiresAt.toISOString()}` });
      if (code.maxUses !== null && code.used >= code.maxUses) reasons.push({ code: 'code_exhausted', message: `code ${code.code} was used ${code.used} of ${code.maxUses} times` });
    }
    for (const line of lines) {
      const c = locked.get(line.offer.campaignId);
      const now = Date.now();
      if (!c || c.status !== 'active') reasons.push({ code: 'campaign_not_active', message: `campaign "${line.offer.campaign.name}" is ${c?.status ?? 'gone'}`, campaign_id: line.offer.campaignId });
      else if (c.endsAt && c.endsAt.getTime() <= now) reasons.push({ code: 'campaign_ended', message: `campaign "${c.name}" ended at ${c.endsAt.toISOString()}`, campaign_id: c.id });
      else if (c.version !== line.offer.campaign.version) reasons.push({ code: 'campaign_changed', message: `campaign "${c.name}" changed during the redeem; validate again`, campaign_id: c.id });
      else reasons.push(...limitReasons(c, usage.get(c.id) ?? 0, line.discountMinor));
    }
    if (reasons.length) return refuse(reasons);

    const redemptionLines: RedemptionLine[] = lines.map((l) => ({ campaign_id: l.offer.campaignId, name: l.offer.campaign.name, discount_minor: l.discountMinor, free_shipping: l.offer.freeShipping, points: l.offer.points }));
    for (const l of redemptionLines) {
      await m.query('UPDATE promo_campaigns SET used = used + 1, spent_minor = spent_minor + $2 WHERE id = $1', [l.campaign_id, l.discount_minor]);
      await m.query(
        `INSERT INTO promo_user_usage (campaign_id, user_id, used) VALUES ($1, $2, 1)
         ON CONFLICT (campaign_id, user_id) DO UPDATE SET used = promo_user_usage.used + 1`,
        [l.campaign_id, e.request.userId],
      );
    }
    if (code) await m.query('UPDATE promo_codes SET used = used + 1 WHERE code = $1', [code.code]);
    const points = redemptionLines.reduce((s, l) => s + l.points, 0);
    const rows = sqlRows(
      await m.query(
        `INSERT INTO promo_redemptions (id, user_id, order_id, order_amount_minor, currency, code, campaign_ids, discount_minor, points, lines, status, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7::uuid[], $8, $9, $10::jsonb, 'redeemed', $11) RETURNING *`,
        [timeOrderedId(), e.request.userId, e.request.order.id ?? null, e.request.order.amountMinor, e.request.order.currency, code?.code ?? null, ids, e.best.discountMinor, points, JSON.stringify(redemptionLines), key],
      ),
    );
    const view = redemptionView(toRedemption(rows[0]));
    await m.query('UPDATE promo_idempotency SET status_code = 201, response = $2::jsonb WHERE key = $1', [key, JSON.stringify(view)]);
    return { status: 201, body: view, replayed: false };
  }

  /**
   * Points campaigns grant through growth's `reward_points` action, after the commit (the action
   * runs on its own connections) and under the action log's idempotency key, so it runs once per
   * redemption. Without the growth plugin the points stay recorded on the redemption only.
   */
  private async grantPoints(answer: RedeemAnswer, e: Evaluation): Promise<boolean> {
    const points = answer.body.points as number;
    if (!points) return false;
    if (!this.registry.has(REWARD_POINTS_ACTION)) {
      answer.body.points_grant = { status: 'recorded', message: `no "${REWARD_POINTS_ACTION}" action is registered (growth plugin missing): the points are recorded on the redemption only` };
      return true;
    }
    const id = answer.body.id as string;
    const [outcome] = await this.executor.execute(
      { id: `promo-redemption-${id}`, type: 'checkout', user_id: e.request.userId, source: 'promo', occurred_at: new Date().toISOString(), payload: e.event.payload as Record<string, unknown> },
      [{ ruleId: `promo:${answer.body.campaign_id as string}`, domain: 'promo', actions: [{ action: REWARD_POINTS_ACTION, params: { points, reason: `promo redemption ${id}` } }] }],
    );
    answer.body.points_grant = { status: outcome.status, action: REWARD_POINTS_ACTION, ...(outcome.result !== undefined ? { result: outcome.result } : {}), ...(outcome.error ? { error: outcome.error } : {}) };
    if (outcome.error) this.logger.warn(`reward_points for redemption ${id} failed: ${outcome.error.message}`);
    return true;
  }

  private async storedAnswer(key: string, hash: string): Promise<RedeemAnswer | undefined> {
    const rows: { request_hash: string; status_code: number | null; response: Record<string, unknown> | null }[] = await this.dataSource.query('SELECT request_hash, status_code, response FROM promo_idempotency WHERE key = $1', [key]);
    const row = rows[0];
    if (!row || row.status_code === null || row.response === null) return undefined;
    if (row.request_hash !== hash) throw new IdempotencyKeyReusedError(key);
    return { status: row.status_code, body: row.response, replayed: true };
  }

  /** Gives back every counter and budget the redemption consumed; a second rollback changes nothing. */
  async rollback(id: string): Promise<Record<string, unknown>> {
    if (!isUuid(id)) throw new NotFoundError('redemption', id);
    const result = await this.dataSource.transaction(async (m) => {
      const rows = await m.query('SELECT * FROM promo_redemptions WHERE id = $1 FOR UPDATE', [id]);
      if (!rows[0]) throw new NotFoundError('redemption', id);
      const r = toRedemption(rows[0]);
      if (r.status === 'rolled_back') return { redemption: r, changed: false };
      await this.campaigns.lockMany(m, r.lines.map((l) => l.campaign_id));
      for (const l of r.lines) {
        await m.query('UPDATE promo_campaigns SET used = used - 1, spent_minor = spent_minor - $2 WHERE id = $1', [l.campaign_id, l.discount_minor]);
        await m.query('UPDATE promo_user_usage SET used = used - 1 WHERE campaign_id = $1 AND user_id = $2', [l.campaign_id, r.userId]);
      }
      if (r.code) await m.query('UPDATE promo_codes SET used = used - 1 WHERE code = $1', [r.code]);
      const updated = sqlRows(await m.query(`UPDATE promo_redemptions SET status = 'rolled_back', rolled_back_at = now() WHERE id = $1 RETURNING *`, [id]));
      return { redemption: toRedemption(updated[0]), changed: true };
    });
    return { ...redemptionView(result.redemption), rolled_back_now: result.changed };
  }

  async find(id: string): Promise<Record<string, unknown>> {
    if (!isUuid(id)) throw new NotFoundError('redemption', id);
    const rows = await this.dataSource.query('SELECT * FROM promo_redemptions WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundError('redemption', id);
    return redemptionView(toRedemption(rows[0]));
  }

  async forUser(userId: string, limit: number, offset: number) {
    const rows = await this.dataSource.query(`SELECT * FROM promo_redemptions WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT ${limit} OFFSET ${offset}`, [userId]);
    const [{ n }] = await this.dataSource.query('SELECT count(*) AS n FROM promo_redemptions WHERE user_id = $1', [userId]);
    return { items: rows.map((r: Record<string, unknown>) => redemptionView(toRedemption(r) as Redemption)), total: Number(n), limit, offset };
  }
}
