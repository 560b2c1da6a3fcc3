import { Injectable } from '@nestjs/common';
import { Fact, type FactContext } from '@arbiter/facts';
import { MembershipService } from './membership.service';

/**
 * `segment.member("vip")`: whether the user is in the segment now. Promo and fraud rules read it
 * like any fact; it is one indexed lookup, memoised for the call. A segment that does not exist
 * has no members, so the fact is false.
 */
@Injectable()
export class SegmentMemberFact {
  constructor(private readonly membership: MembershipService) {}

  @Fact({
    name: 'segment.member',
    type: 'boolean',
    params: [{ name: 'segment', type: 'string' }],
    cost: 5,
    description: 'Whether the user is currently in the growth segment (by id)',
  })
  member({ segment }: { segment: string }, ctx: FactContext): Promise<boolean> {
    return this.membership.isMember(segment, ctx.userId);
  }
}
