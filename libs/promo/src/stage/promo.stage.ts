import { Injectable } from '@nestjs/common';
import { PipelineStage, type StageContext, type StageHandler } from '@arbiter/ingestion';
import { codeProblem, normalizeCode } from '../codes/code-generator';
import type { CheckoutRequest } from '../engine/checkout.input';
import { evaluationView } from '../engine/evaluation.view';
import { PromoEngine } from '../engine/promo.engine';

/**
 * Promo's pipeline step, after fraud: evaluates the promo-domain rules like the default step
 * (matches and actions in the response) and, on `checkout` events, reports in
 * `domains.promo` the automatic campaigns the checkout is eligible for, the best combination, and
 * the coupon's campaign when `payload.coupon` is set. It never consumes a limit: redeeming is
 * `POST /v1/promo/redeem`'s job.
 */
@PipelineStage({ domain: 'promo', order: 200 })
@Injectable()
export class PromoStage implements StageHandler {
  constructor(private readonly engine: PromoEngine) {}

  async run(ctx: StageContext): Promise<void> {
    const { matches } = await ctx.evaluate('promo');
    if (matches.length) ctx.report(matches, await ctx.runActions(matches));
    if (ctx.event.type !== 'checkout') return;
    const payload = ctx.event.payload as Record<string, unknown>;
    const order = (typeof payload.order === 'object' && payload.order !== null ? payload.order : {}) as Record<string, unknown>;
    if (typeof order.amount !== 'number' || typeof order.currency !== 'string') {
      ctx.result.domains.promo = { eligible: [], skipped: 'campaigns need payload.order.amount and payload.order.currency' };
      return;
    }
    const amountMinor = Math.max(0, Math.round(order.amount * 100));
    const shippingMinor = typeof order.shipping === 'number' ? Math.min(amountMinor, Math.max(0, Math.round(order.shipping * 100))) : 0;
    const base: CheckoutRequest = { userId: ctx.event.user_id, order: { id: typeof order.id === 'string' ? order.id : undefined, amountMinor, currency: order.currency, shippingMinor, payload: order } };
    const options = { inputs: ctx.inputs, event: ctx.event, explain: false };
    const automatic = evaluationView(await this.engine.evaluate(base, options));
    const report: Record<string, unknown> = {
      eligible: automatic.eligible,
      best: { campaign_ids: (automatic.applied as { campaign_id: string }[]).map((a) => a.campaign_id), discount: automatic.discount, free_shipping: automatic.free_shipping, points: automatic.points },
    };
    if (typeof payload.coupon === 'string' && payload.coupon !== '') {
      const code = normalizeCode(payload.coupon);
      const problem = codeProblem(code);
      if (problem) report.coupon = { code, valid: false, reasons: [{ code: 'code_not_found', message: `code ${problem}` }] };
      else {
        // One campaign: worth the traces, so the response says which condition failed.
        const v = evaluationView(await this.engine.evaluate({ ...base, code }, { ...options, explain: true }));
        report.coupon = { code, valid: v.valid, campaign_id: v.campaign_id, discount: v.discount, reasons: v.reasons };
      }
    }
    ctx.result.domains.promo = report;
  }
}
