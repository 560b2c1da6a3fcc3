import { ValidationError } from '@arbiter/platform';
import { compileCondition, type Catalogue } from '@arbiter/rules';
import type { Campaign } from '../campaigns/campaign.model';
import { parseCheckout } from './checkout.input';
import { explainTrace, limitReasons, rewardValue } from './promo.engine';

const catalogue: Catalogue = { events: { checkout: { order: { amount: 'number', currency: 'string' } } }, user: { country: 'string' } };

describe('rewardValue', () => {
  it('rounds percent discounts down, caps them, and never exceeds the order', () => {
    expect(rewardValue({ kind: 'percent', percent: 10 }, 4999, 0)).toEqual({ discountMinor: 499, freeShipping: false, points: 0 });
    expect(rewardValue({ kind: 'percent', percent: 10, maxDiscountMinor: 300 }, 4999, 0).discountMinor).toBe(300);
    expect(rewardValue({ kind: 'fixed', amountMinor: 1000, currency: 'EUR' }, 700, 0).discountMinor).toBe(700);
    expect(rewardValue({ kind: 'free_shipping' }, 5000, 450)).toEqual({ discountMinor: 450, freeShipping: true, points: 0 });
    expect(rewardValue({ kind: 'points', points: 20 }, 5000, 0)).toEqual({ discountMinor: 0, freeShipping: false, points: 20 });
  });
});

describe('limitReasons', () => {
  const c = { id: 'c1', name: 'C', maxRedemptions: 10, perUserLimit: 1, budgetMinor: 1000, used: 10, spentMinor: 950, currency: 'EUR' } as Campaign;
  it('names every exhausted limit', () => {
    expect(limitReasons(c, 1, 100).map((r) => r.code)).toEqual(['limit_exhausted', 'per_user_limit_exhausted', 'budget_exhausted']);
    expect(limitReasons(c, 1, 100)[2].message).toBe('campaign "C" has 0.50 EUR of budget left, this discount is 1.00 EUR');
    expect(limitReasons({ ...c, used: 0, spentMinor: 0 }, 0, 1000)).toEqual([]);
  });
});

describe('explainTrace', () => {
  const why = async (when: string, payload: object, user: Record<string, unknown> = {}) => {
    const r = compileCondition(when, catalogue, { on: ['checkout'] });
    if (!r.ok) throw new Error(r.errors.map(String).join());
    const res = await r.value.evaluate({ id: 'e', type: 'checkout', user_id: 'u', occurred_at: 0, payload }, { user, trace: true });
    return explainTrace(res.trace!);
  };
  it('says which condition failed and by how much', async () => {
    expect(await why('payload.order.amount >= 50', { order: { amount: 38 } })).toEqual(['payload.order.amount is 38, needs >= 50']);
  });
  it('lists every alternative of an any', async () => {
    const out = await why('payload.order.amount >= 50 or user.country == "FR"', { order: { amount: 38 } }, { country: 'DE' });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^none of: payload\.order\.amount is 38, needs >= 50; user\.country is "DE", needs == "FR"$/);
  });
  it('says nothing for a condition that holds', async () => {
    expect(await why('payload.order.amount >= 50', { order: { amount: 60 } })).toEqual([]);
  });
});

describe('parseCheckout', () => {
  it('normalises the code and converts money to minor units', () => {
    const r = parseCheckout({ code: ' summer10 ', user_id: 'u1', order: { amount: 49.99, currency: 'EUR', shipping: 4.5, extra: 1 } });
    expect(r).toMatchObject({ userId: 'u1', code: 'SUMMER10', order: { amountMinor: 4999, shippingMinor: 450, currency: 'EUR', payload: { extra: 1 } } });
  });
  it('lists every bad field', () => {
    try {
      parseCheckout({ user_id: 3, code: 'a b', order: { amount: -1, currency: 'eur', shipping: 2 }, other: true });
      throw new Error('no error');
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      const paths = ((err as ValidationError).details as { errors: { path: string }[] }).errors.map((e) => e.path).sort();
      expect(paths).toEqual(['code', 'order.amount', 'order.currency', 'other', 'user_id']);
    }
  });
});
