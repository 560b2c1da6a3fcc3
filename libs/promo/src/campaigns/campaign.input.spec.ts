import { ValidationError } from '@arbiter/platform';
import { parseCampaign } from './campaign.input';

const paths = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return (err.details as { errors: { path: string }[] }).errors.map((e) => e.path).sort();
    throw err;
  }
  return [];
};

describe('parseCampaign', () => {
  it('fills defaults and converts money to minor units', () => {
    const d = parseCampaign({ name: ' Five off ', reward: { kind: 'fixed', amount: 5 }, currency: 'EUR', limits: { budget: 100.5 } });
    expect(d).toMatchObject({ name: 'Five off', status: 'draft', reward: { kind: 'fixed', amountMinor: 500, currency: 'EUR' }, budgetMinor: 10050, stacking: 'exclusive', priority: 0, autoApply: false });
  });

  it('takes a fixed reward\'s currency as the campaign currency', () => {
    expect(parseCampaign({ name: 'x', reward: { kind: 'fixed', amount: 5, currency: 'GBP' } }).currency).toBe('GBP');
    expect(paths(() => parseCampaign({ name: 'x', currency: 'EUR', reward: { kind: 'fixed', amount: 5, currency: 'GBP' } }))).toEqual(['reward.currency']);
  });

  it('requires a currency with a budget, and a window that ends after it starts', () => {
    expect(paths(() => parseCampaign({ name: 'x', reward: { kind: 'percent', percent: 5 }, limits: { budget: 10 }, starts_at: '2030-01-02T00:00:00Z', ends_at: '2030-01-01T00:00:00Z' }))).toEqual(['currency', 'ends_at']);
  });

  it('rejects unknown reward fields and kinds', () => {
    expect(paths(() => parseCampaign({ name: 'x', reward: { kind: 'percent', percent: 5, amount: 3 } }))).toEqual(['reward.amount']);
    expect(paths(() => parseCampaign({ name: 'x', reward: { kind: 'cashback' } }))).toEqual(['reward.kind']);
  });

  it('merges a patch over the existing campaign, clearing a limit with null', () => {
    const base = parseCampaign({ name: 'x', reward: { kind: 'percent', percent: 5 }, limits: { total: 10, per_user: 2 } });
    const patched = parseCampaign({ limits: { total: null }, status: 'active' }, base);
    expect(patched).toMatchObject({ name: 'x', status: 'active', maxRedemptions: null, perUserLimit: 2 });
  });
});
