import { Injectable, Logger, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { from, mergeMap, type Observable } from 'rxjs';
import { PointsLedgerService } from '../loyalty/points-ledger.service';
import { MembershipService } from './membership.service';
import { SegmentService } from './segment.service';

const USER_ROUTE = '/v1/users/:id';

/**
 * The hook growth needs on user writes, which @arbiter/facts owns and offers no event for: after a
 * successful `PUT`/`PATCH /v1/users/:id`, the segments that read user attributes are re-evaluated
 * for that user (before the response, so a client reading its segments next sees the result);
 * after `DELETE` the user's growth data (memberships, points ledger) is erased with them. A global
 * interceptor that only looks at that one route: the smallest hook that needs no change in facts.
 * (Attribute changes made by actions inside the pipeline are caught by the growth stage itself.)
 */
@Injectable()
export class UserChangesInterceptor implements NestInterceptor {
  private readonly logger = new Logger('Segments');

  constructor(
    private readonly segments: SegmentService,
    private readonly membership: MembershipService,
    private readonly ledger: PointsLedgerService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const req = context.switchToHttp().getRequest<{ method?: string; routeOptions?: { url?: string }; params?: Record<string, string> }>();
    const method = req.method;
    if (req.routeOptions?.url !== USER_ROUTE || (method !== 'PUT' && method !== 'PATCH' && method !== 'DELETE')) return next.handle();
    const userId = req.params?.id;
    if (!userId) return next.handle();
    return next.handle().pipe(mergeMap((body) => from(this.after(method, userId).then(() => body))));
  }

  private async after(method: string, userId: string): Promise<void> {
    try {
      if (method === 'DELETE') {
        await this.membership.eraseUser(userId);
        await this.ledger.eraseUser(userId);
        return;
      }
      const affected = await this.segments.affectedBy(undefined, true);
      if (affected.length) await this.membership.reevaluate(userId, affected, 'user-update', 0);
    } catch (err) {
      // The user write itself succeeded; a failure here must not turn it into an error.
      this.logger.error(`growth follow-up of ${method} /v1/users/${userId} failed: ${(err as Error).message}`);
    }
  }
}
