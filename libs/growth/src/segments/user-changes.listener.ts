import { Injectable, type OnModuleInit } from '@nestjs/common';
import { UserChanges, type UserChange } from '@arbiter/facts';
import { PointsLedgerService } from '../loyalty/points-ledger.service';
import { MembershipService } from './membership.service';
import { SegmentService } from './segment.service';

/**
 * What growth does when a user is written through the API (announced by @arbiter/facts' UserChanges):
 * after `PUT`/`PATCH` the segments that read user attributes are re-evaluated for that user;
 * after `DELETE` the user's growth data (memberships, points ledger) is erased with them.
 * (Attribute changes made by actions inside the pipeline are caught by the growth stage itself.)
 */
@Injectable()
export class UserChangesListener implements OnModuleInit {
  constructor(
    private readonly changes: UserChanges,
    private readonly segments: SegmentService,
    private readonly membership: MembershipService,
    private readonly ledger: PointsLedgerService,
  ) {}

  onModuleInit(): void {
    this.changes.listen((change) => this.after(change));
  }

  private async after({ kind, userId }: UserChange): Promise<void> {
    if (kind === 'delete') {
      await this.membership.eraseUser(userId);
      await this.ledger.eraseUser(userId);
      return;
    }
    const affected = await this.segments.affectedBy(undefined, true);
    if (affected.length) await this.membership.reevaluate(userId, affected, 'user-update', 0);
  }
}
