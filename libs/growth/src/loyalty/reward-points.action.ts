import { Injectable } from '@nestjs/common';
import { Action, PermanentActionError, type ActionContext, type ActionHandler } from '@arbiter/actions';
import { PointsLedgerService, type PointsEntry } from './points-ledger.service';

/**
 * The params as the handler receives them. The rules compiler computes them per event:
 * `points_formula: "payload.amount * 0.05"` is a formula string (the param is typed `number`, so a
 * string there is compiled as an expression) and arrives here as its value, e.g. `75`; `points` is
 * the same thing for a literal (a formula string works there too). A formula that could not be
 * computed (a missing field) arrives as `null`.
 */
export interface RewardPointsParams {
  points?: number | null;
  points_formula?: number | null;
  reason?: string;
  expiry_days?: number | null;
}

/** What the action reports in the event's response (`actions[].result`). */
export interface RewardPointsResult {
  user_id: string;
  points: number;
  reason: string | null;
  entry_id: string;
  expires_at: string | null;
  /** True when the ledger already held this award (the event was replayed): nothing was added. */
  replayed: boolean;
}

const DAY = 86_400_000;

/**
 * Inline: awards loyalty points to the event's user. Exactly one of `points` / `points_formula`
 * gives the amount (rounded to 2 decimals, must be > 0); `reason` is free text; `expiry_days`
 * makes the entry stop counting that many days after the award. The ledger entry's idempotency
 * key is the action's (`<event>/<rule>/<index>`), unique in the ledger: a replay never awards twice.
 * On an event's first run the entry is written with the event's outcome (`ActionContext.carry`),
 * under an id drawn ahead, which the result reports.
 */
@Injectable()
@Action({
  name: 'reward_points',
  mode: 'inline',
  description: 'Award loyalty points to the user (points or points_formula; optional reason, expiry_days)',
  params: {
    points: { type: 'number', description: 'How many points (a number or a formula)' },
    points_formula: { type: 'number', description: 'A formula computing the points, e.g. "payload.amount * 0.05"' },
    reason: { type: 'string', description: 'Why, shown in the ledger' },
    expiry_days: { type: 'number', description: 'Days until these points expire (none by default)' },
  },
})
export class RewardPointsAction implements ActionHandler<RewardPointsParams, RewardPointsResult> {
  constructor(private readonly ledger: PointsLedgerService) {}

  async execute(params: RewardPointsParams, context: ActionContext): Promise<RewardPointsResult> {
    const amount = pointsOf(params);
    let expiresAt: Date | null = null;
    if (params.expiry_days !== undefined && params.expiry_days !== null) {
      if (!Number.isFinite(params.expiry_days) || params.expiry_days <= 0) throw new PermanentActionError('INVALID_POINTS', `expiry_days must be a positive number, got ${params.expiry_days}`);
      expiresAt = new Date(Date.now() + params.expiry_days * DAY);
    }
    const award = { userId: context.event.user_id, amount, reason: params.reason ?? null, sourceEventId: context.event.id, ruleId: context.ruleId, idempotencyKey: context.idempotencyKey, expiresAt };
    if (context.carry) {
      // An event's first run: the entry is written by the statement that stores the outcome.
      const { row, id } = await this.ledger.carriedAward(award);
      // Dropped when another process ran the event at once and awarded first: name its entry.
      context.carry(row, async () => replayedAs(await this.ledger.entryByKey(award.idempotencyKey), id));
      return { user_id: award.userId, points: amount, reason: award.reason, entry_id: id, expires_at: expiresAt ? expiresAt.toISOString() : null, replayed: false };
    }
    const { entry, created } = await this.ledger.award(award);
    return resultOf(entry, !created);
  }
}

function resultOf(entry: PointsEntry, replayed: boolean): RewardPointsResult {
  return { user_id: entry.user_id, points: entry.amount, reason: entry.reason, entry_id: entry.id, expires_at: entry.expires_at, replayed };
}

/** The award's result when the ledger's entry under its key is not `id`, the one it was to write; else undefined. */
function replayedAs(entry: PointsEntry | undefined, id: string): RewardPointsResult | undefined {
  if (!entry) throw new Error('the ledger holds no entry under the award\'s key');
  return entry.id === id ? undefined : resultOf(entry, true);
}

/** The amount to award, or a permanent failure naming what is wrong. */
export function pointsOf(params: RewardPointsParams): number {
  const given = [params.points, params.points_formula].filter((v) => v !== undefined);
  if (given.length !== 1) throw new PermanentActionError('INVALID_POINTS', 'reward_points needs exactly one of "points" and "points_formula"');
  const raw = given[0];
  if (raw === null) throw new PermanentActionError('INVALID_POINTS', 'the points formula could not be computed for this event (a field it reads is missing)');
  if (typeof raw !== 'number' || !Number.isFinite(raw)) throw new PermanentActionError('INVALID_POINTS', `points must be a finite number, got ${String(raw)}`);
  const amount = Math.round(raw * 100) / 100;
  if (amount <= 0) throw new PermanentActionError('INVALID_POINTS', `points must be more than 0, got ${raw}`);
  if (amount >= 1e17) throw new PermanentActionError('INVALID_POINTS', `points must be less than 1e17, got ${raw}`);
  return amount;
}
