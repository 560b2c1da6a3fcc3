import { Injectable, Module } from '@nestjs/common';
import { EventLogService, Fact, FactsModule, type FactContext } from '@arbiter/facts';

const DAY = 86_400_000;

/**
 * Example: a computed fact in one file. `loyalty.tier` ranks a user by what they spent in
 * `transaction` events over a window (a year by default). Rules use it like any other fact:
 * `loyalty.tier == "gold" and payload.category == "food"`. It is computed at most once per
 * session and user, whichever domain asks; if it fails or runs past its time limit, rules see
 * its fallback "none" instead.
 */
@Injectable()
export class LoyaltyTierFact {
  constructor(private readonly events: EventLogService) {}

  @Fact({
    name: 'loyalty.tier',
    type: 'string',
    params: [{ name: 'within', type: 'duration', optional: true }],
    cost: 20,
    fallback: 'none',
    description: 'gold (>= 5000 spent), silver (>= 1000), bronze (> 0) or none, over `within` (default 365d)',
  })
  async tier({ within = 365 * DAY }: { within?: number }, ctx: FactContext): Promise<string> {
    const spent = await this.events.sum(ctx.userId, 'transaction', 'amount', ctx.now - within);
    if (spent >= 5000) return 'gold';
    if (spent >= 1000) return 'silver';
    return spent > 0 ? 'bronze' : 'none';
  }
}

/** Import this module next to FactsModule to add the fact to the catalogue. */
@Module({ imports: [FactsModule], providers: [LoyaltyTierFact] })
export class LoyaltyExampleModule {}
