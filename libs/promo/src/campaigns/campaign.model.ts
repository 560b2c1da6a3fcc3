import type { ConditionTree } from '@arbiter/rules';
import { fromMinor } from '../money';

export type CampaignStatus = 'draft' | 'active' | 'paused' | 'ended';
export const CAMPAIGN_STATUSES: readonly CampaignStatus[] = ['draft', 'active', 'paused', 'ended'];
export type Stacking = 'exclusive' | 'joinable';

/** What a campaign gives; money in minor units. `points` is granted through growth's `reward_points`. */
export type Reward =
  | { kind: 'percent'; percent: number; maxDiscountMinor?: number }
  | { kind: 'fixed'; amountMinor: number; currency: string }
  | { kind: 'free_shipping' }
  | { kind: 'points'; points: number };

/** A campaign as stored (money in minor units). */
export interface Campaign {
  id: string;
  name: string;
  status: CampaignStatus;
  startsAt: Date | null;
  endsAt: Date | null;
  eligibility: ConditionTree | null;
  reward: Reward;
  /** Orders in another currency are not eligible; required with a budget or a fixed reward. */
  currency: string | null;
  autoApply: boolean;
  maxRedemptions: number | null;
  perUserLimit: number | null;
  budgetMinor: number | null;
  stacking: Stacking;
  priority: number;
  used: number;
  spentMinor: number;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** The reward as the API shows it (major units). */
export function rewardView(r: Reward): Record<string, unknown> {
  switch (r.kind) {
    case 'percent':
      return { kind: 'percent', percent: r.percent, ...(r.maxDiscountMinor !== undefined ? { max_discount: fromMinor(r.maxDiscountMinor) } : {}) };
    case 'fixed':
      return { kind: 'fixed', amount: fromMinor(r.amountMinor), currency: r.currency };
    case 'free_shipping':
      return { kind: 'free_shipping' };
    case 'points':
      return { kind: 'points', points: r.points };
  }
}

/** The campaign as the API shows it, with its usage and what is left of each limit. */
export function campaignView(c: Campaign, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    starts_at: c.startsAt?.toISOString() ?? null,
    ends_at: c.endsAt?.toISOString() ?? null,
    eligibility: c.eligibility,
    reward: rewardView(c.reward),
    currency: c.currency,
    auto_apply: c.autoApply,
    limits: { total: c.maxRedemptions, per_user: c.perUserLimit, budget: c.budgetMinor === null ? null : fromMinor(c.budgetMinor) },
    stacking: c.stacking,
    priority: c.priority,
    usage: {
      redemptions: c.used,
      redemptions_left: c.maxRedemptions === null ? null : Math.max(0, c.maxRedemptions - c.used),
      budget_spent: fromMinor(c.spentMinor),
      budget_left: c.budgetMinor === null ? null : fromMinor(Math.max(0, c.budgetMinor - c.spentMinor)),
    },
    version: c.version,
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
    ...extra,
  };
}
