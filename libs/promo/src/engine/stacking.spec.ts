import { bestCombination, type Offer } from './stacking';

const offer = (campaignId: string, stacking: Offer['stacking'], discountMinor: number, priority = 0, points = 0): Offer => ({ campaignId, stacking, discountMinor, priority, points });

describe('bestCombination', () => {
  it('combines joinable campaigns when together they beat every exclusive one', () => {
    const best = bestCombination([offer('x', 'exclusive', 1000), offer('a', 'joinable', 600), offer('b', 'joinable', 500)], 10_000);
    expect(best.discountMinor).toBe(1100);
    expect(best.offers.map((l) => l.offer.campaignId).sort()).toEqual(['a', 'b']);
  });

  it('takes an exclusive campaign alone when it is worth more', () => {
    const best = bestCombination([offer('x', 'exclusive', 2000), offer('a', 'joinable', 600), offer('b', 'joinable', 500)], 10_000);
    expect(best.offers.map((l) => l.offer.campaignId)).toEqual(['x']);
    expect(best.discountMinor).toBe(2000);
  });

  it('never discounts more than the order amount, cutting the lowest-priority line', () => {
    const best = bestCombination([offer('a', 'joinable', 600, 10), offer('b', 'joinable', 500, 1)], 800);
    expect(best.discountMinor).toBe(800);
    expect(best.offers).toEqual([
      { offer: expect.objectContaining({ campaignId: 'a' }), discountMinor: 600 },
      { offer: expect.objectContaining({ campaignId: 'b' }), discountMinor: 200 },
    ]);
  });

  it('breaks ties by points then priority, and answers nothing for no offers', () => {
    expect(bestCombination([offer('p', 'exclusive', 0, 0, 50), offer('q', 'exclusive', 0, 5, 0)], 100).offers[0].offer.campaignId).toBe('p');
    expect(bestCombination([offer('p', 'exclusive', 100, 1), offer('q', 'exclusive', 100, 5)], 1000).offers[0].offer.campaignId).toBe('q');
    expect(bestCombination([], 100)).toEqual({ offers: [], discountMinor: 0 });
  });
});
