import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Action, type ActionContext, type ActionHandler } from '@arbiter/actions';

interface IssueCouponParams {
  prefix: string;
  percent: number;
}

/**
 * A complete custom action: the example in docs/actions-and-rules.md. Inline, so its result (the
 * coupon) is in the event's response. The code is derived from the idempotency key, so even
 * outside the action log a replay could never mint a second coupon for the same event and rule.
 */
@Injectable()
@Action({
  name: 'issue_coupon',
  mode: 'inline',
  description: 'Mint a one-off percentage coupon for the user',
  params: {
    prefix: { type: 'string', required: true },
    percent: { type: 'number', required: true },
  },
})
export class IssueCouponAction implements ActionHandler<IssueCouponParams> {
  execute(params: IssueCouponParams, context: ActionContext) {
    if (params.percent <= 0 || params.percent > 100) throw new Error(`percent must be in (0, 100], got ${params.percent}`);
    const suffix = createHash('sha256').update(context.idempotencyKey).digest('hex').slice(0, 8).toUpperCase();
    return { code: `${params.prefix}-${suffix}`, percent: params.percent, user_id: context.event.user_id };
  }
}
