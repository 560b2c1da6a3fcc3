/** What a campaign would give this order (minor units), for choosing a combination. */
export interface Offer {
  campaignId: string;
  stacking: 'exclusive' | 'joinable';
  priority: number;
  discountMinor: number;
  points: number;
}

export interface Combination<T extends Offer> {
  offers: { offer: T; discountMinor: number }[];
  discountMinor: number;
}

/**
 * The best combination under the stacking rules: an `exclusive` campaign applies alone; all
 * `joinable` campaigns apply together, in priority order, each line cut so that the total never
 * exceeds the order amount. Best = largest discount, then most points, then highest priority.
 */
export function bestCombination<T extends Offer>(offers: readonly T[], orderAmountMinor: number): Combination<T> {
  const byPriority = [...offers].sort((a, b) => b.priority - a.priority || a.campaignId.localeCompare(b.campaignId));
  const candidates: Combination<T>[] = [];
  for (const o of byPriority) if (o.stacking === 'exclusive') candidates.push(combine([o], orderAmountMinor));
  const joinable = byPriority.filter((o) => o.stacking === 'joinable');
  if (joinable.length) candidates.push(combine(joinable, orderAmountMinor));
  let best: Combination<T> = { offers: [], discountMinor: 0 };
  for (const c of candidates) {
    if (best.offers.length === 0 || better(c, best)) best = c;
  }
  return best;
}

function combine<T extends Offer>(offers: readonly T[], orderAmountMinor: number): Combination<T> {
  let left = orderAmountMinor;
  const lines = offers.map((offer) => {
    const d = Math.min(offer.discountMinor, left);
    left -= d;
    return { offer, discountMinor: d };
  });
  return { offers: lines, discountMinor: orderAmountMinor - left };
}

function better<T extends Offer>(a: Combination<T>, b: Combination<T>): boolean {
  if (a.discountMinor !== b.discountMinor) return a.discountMinor > b.discountMinor;
  const points = (c: Combination<T>) => c.offers.reduce((s, l) => s + l.offer.points, 0);
  if (points(a) !== points(b)) return points(a) > points(b);
  const top = (c: Combination<T>) => Math.max(...c.offers.map((l) => l.offer.priority));
  return top(a) > top(b);
}
