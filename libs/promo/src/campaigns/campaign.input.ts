import { ValidationError, type FieldProblem } from '@arbiter/platform';
import { parseTimestamp, type ConditionTree } from '@arbiter/rules';
import { toMinor } from '../money';
import { CAMPAIGN_STATUSES, type Campaign, type CampaignStatus, type Reward, type Stacking } from './campaign.model';

/** The writable fields of a campaign, validated and in minor units. */
export type CampaignDraft = Pick<Campaign, 'name' | 'status' | 'startsAt' | 'endsAt' | 'eligibility' | 'reward' | 'currency' | 'autoApply' | 'maxRedemptions' | 'perUserLimit' | 'budgetMinor' | 'stacking' | 'priority'>;

const FIELDS = new Set(['name', 'status', 'starts_at', 'ends_at', 'eligibility', 'reward', 'currency', 'auto_apply', 'limits', 'stacking', 'priority']);
const LIMIT_FIELDS = new Set(['total', 'per_user', 'budget']);
const CURRENCY = /^[A-Z]{3}$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates a create (`existing` undefined) or a PATCH body merged over `existing`, listing every
 * bad field with its path (400). The eligibility rule is only shape-checked here; it is compiled
 * against the catalogue by the service (422 when it does not compile).
 */
export function parseCampaign(body: unknown, existing?: CampaignDraft): CampaignDraft {
  const problems: FieldProblem[] = [];
  const bad = (path: string, message: string) => problems.push({ path, message });
  if (!isObject(body)) throw new ValidationError([{ path: 'body', message: 'must be a JSON object' }]);
  for (const k of Object.keys(body)) if (!FIELDS.has(k)) bad(k, `unknown field (known: ${[...FIELDS].join(', ')})`);
  const has = (k: string) => Object.hasOwn(body, k);
  const base: CampaignDraft = existing ?? { name: '', status: 'draft', startsAt: null, endsAt: null, eligibility: null, reward: { kind: 'free_shipping' }, currency: null, autoApply: false, maxRedemptions: null, perUserLimit: null, budgetMinor: null, stacking: 'exclusive', priority: 0 };
  const out: CampaignDraft = { ...base };

  if (!existing || has('name')) {
    if (typeof body.name !== 'string' || body.name.trim() === '' || body.name.length > 200) bad('name', 'required: a string of 1 to 200 characters');
    else out.name = body.name.trim();
  }
  if (has('status')) {
    if (!CAMPAIGN_STATUSES.includes(body.status as CampaignStatus)) bad('status', `must be one of ${CAMPAIGN_STATUSES.join(', ')}`);
    else out.status = body.status as CampaignStatus;
  }
  for (const [field, key] of [['starts_at', 'startsAt'], ['ends_at', 'endsAt']] as const) {
    if (!has(field)) continue;
    const v = body[field];
    if (v === null) out[key] = null;
    else {
      const ms = typeof v === 'string' ? parseTimestamp(v) : undefined;
      if (ms === undefined) bad(field, 'must be an ISO-8601 timestamp or null');
      else out[key] = new Date(ms);
    }
  }
  if (out.startsAt && out.endsAt && out.endsAt <= out.startsAt) bad('ends_at', 'must be after starts_at');
  if (has('eligibility')) {
    const v = body.eligibility;
    if (v === null) out.eligibility = null;
    else if (typeof v === 'string' ? v.trim() === '' : !isObject(v)) bad('eligibility', 'must be a `when` tree (object), an expression string, or null');
    else out.eligibility = v as ConditionTree;
  }
  if (has('currency')) {
    if (body.currency === null) out.currency = null;
    else if (typeof body.currency !== 'string' || !CURRENCY.test(body.currency)) bad('currency', 'must be a 3-letter ISO-4217 code in upper case, or null');
    else out.currency = body.currency;
  }
  if (!existing || has('reward')) {
    const reward = parseReward(body.reward, out.currency, bad);
    if (reward) out.reward = reward;
  }
  if (out.reward.kind === 'fixed') {
    if (out.currency === null && !has('currency')) out.currency = out.reward.currency;
    else if (out.currency !== out.reward.currency) bad('reward.currency', `must equal the campaign currency ${out.currency ?? '(none)'}`);
  }
  if (has('auto_apply')) {
    if (typeof body.auto_apply !== 'boolean') bad('auto_apply', 'must be true or false');
    else out.autoApply = body.auto_apply;
  }
  if (has('limits')) {
    const limits = body.limits;
    if (limits !== null && !isObject(limits)) bad('limits', 'must be an object {total?, per_user?, budget?}');
    else {
      const l = limits ?? {};
      for (const k of Object.keys(l)) if (!LIMIT_FIELDS.has(k)) bad(`limits.${k}`, 'unknown limit (known: total, per_user, budget)');
      const count = (k: 'total' | 'per_user', key: 'maxRedemptions' | 'perUserLimit') => {
        if (!Object.hasOwn(l, k) && limits !== null) return;
        const v = l[k];
        if (v === null || v === undefined) out[key] = null;
        else if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 2_000_000_000) bad(`limits.${k}`, 'must be a whole number from 0 to 2000000000, or null (no limit)');
        else out[key] = v as number;
      };
      count('total', 'maxRedemptions');
      count('per_user', 'perUserLimit');
      if (Object.hasOwn(l, 'budget') || limits === null) {
        const v = l.budget;
        if (v === null || v === undefined) out.budgetMinor = null;
        else {
          const minor = toMinor(v);
          if (minor === undefined || minor < 0) bad('limits.budget', 'must be an amount >= 0 with at most 2 decimals, or null (no budget)');
          else out.budgetMinor = minor;
        }
      }
    }
  }
  if (out.budgetMinor !== null && out.currency === null) bad('currency', 'required when the campaign has a budget (the budget is in this currency)');
  if (has('stacking')) {
    if (body.stacking !== 'exclusive' && body.stacking !== 'joinable') bad('stacking', 'must be exclusive (applies alone) or joinable (combines with other joinable campaigns)');
    else out.stacking = body.stacking as Stacking;
  }
  if (has('priority')) {
    if (!Number.isInteger(body.priority) || Math.abs(body.priority as number) > 1_000_000) bad('priority', 'must be a whole number from -1000000 to 1000000');
    else out.priority = body.priority as number;
  }
  if (problems.length) throw new ValidationError(problems);
  return out;
}

function parseReward(v: unknown, currency: string | null, bad: (path: string, message: string) => void): Reward | undefined {
  const kinds = 'percent, fixed, free_shipping, points';
  if (!isObject(v)) {
    bad('reward', `required: {kind: ${kinds}, ...}`);
    return undefined;
  }
  const allowed: Record<string, string[]> = { percent: ['percent', 'max_discount'], fixed: ['amount', 'currency'], free_shipping: [], points: ['points'] };
  const fields = allowed[v.kind as string];
  if (!fields) {
    bad('reward.kind', `must be one of ${kinds}`);
    return undefined;
  }
  const before = { n: 0 };
  const fail = (path: string, message: string) => {
    before.n++;
    bad(path, message);
  };
  for (const k of Object.keys(v)) if (k !== 'kind' && !fields.includes(k)) fail(`reward.${k}`, `not a field of a ${v.kind as string} reward (fields: ${fields.join(', ') || 'none'})`);
  let reward: Reward | undefined;
  switch (v.kind) {
    case 'percent': {
      const p = v.percent;
      if (typeof p !== 'number' || !(p > 0) || p > 100) fail('reward.percent', 'must be a number in (0, 100]');
      let maxDiscountMinor: number | undefined;
      if (v.max_discount !== undefined) {
        maxDiscountMinor = toMinor(v.max_discount);
        if (maxDiscountMinor === undefined || maxDiscountMinor <= 0) fail('reward.max_discount', 'must be an amount > 0 with at most 2 decimals');
      }
      reward = { kind: 'percent', percent: p as number, ...(maxDiscountMinor !== undefined ? { maxDiscountMinor } : {}) };
      break;
    }
    case 'fixed': {
      const amountMinor = toMinor(v.amount);
      if (amountMinor === undefined || amountMinor <= 0) fail('reward.amount', 'must be an amount > 0 with at most 2 decimals');
      const cur = v.currency ?? currency;
      if (typeof cur !== 'string' || !CURRENCY.test(cur)) fail('reward.currency', 'required for a fixed reward: a 3-letter ISO-4217 code in upper case');
      reward = { kind: 'fixed', amountMinor: amountMinor as number, currency: cur as string };
      break;
    }
    case 'free_shipping':
      reward = { kind: 'free_shipping' };
      break;
    case 'points': {
      const p = v.points;
      // What reward_points will award: rounded to 2 decimals, more than 0 and less than 1e17.
      if (typeof p !== 'number' || !Number.isFinite(p) || Math.round(p * 100) / 100 <= 0 || p >= 1e17) fail('reward.points', 'must be a number from 0.01 to less than 1e17 (points are rounded to 2 decimals)');
      reward = { kind: 'points', points: p as number };
      break;
    }
  }
  return before.n ? undefined : reward;
}
