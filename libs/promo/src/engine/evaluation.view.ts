import { fromMinor } from '../money';
import type { CampaignCheck, Evaluation, Reason } from './promo.engine';

/** Every reason the checkout gets no discount: global ones, then each campaign's. */
export function refusalReasons(e: Evaluation): Reason[] {
  if (e.best.offers.length) return [];
  const reasons = [...e.global];
  for (const c of e.checks) reasons.push(...c.reasons);
  if (reasons.length === 0) reasons.push({ code: e.request.code === undefined ? 'no_campaign_applies' : 'not_eligible', message: e.request.code === undefined ? 'no automatic campaign applies to this checkout' : 'the code applies to no campaign' });
  return reasons;
}

const offerView = (c: CampaignCheck, discountMinor = c.discountMinor) => ({
  campaign_id: c.campaignId,
  name: c.campaign.name,
  discount: fromMinor(discountMinor),
  free_shipping: c.freeShipping,
  points: c.points,
  stacking: c.stacking,
  priority: c.priority,
});

/**
 * The answer of `POST /v1/promo/validate`: `{valid, discount, campaign_id, reasons}` plus the
 * campaigns applied (the best combination), and — without a code — every automatic campaign that
 * is eligible and every one that is not, with its reasons.
 */
export function evaluationView(e: Evaluation): Record<string, unknown> {
  const applied = e.best.offers.map((l) => offerView(l.offer, l.discountMinor));
  const view: Record<string, unknown> = {
    valid: applied.length > 0,
    discount: fromMinor(e.best.discountMinor),
    currency: e.request.order.currency,
    campaign_id: applied[0]?.campaign_id ?? e.checks[0]?.campaignId ?? null,
    code: e.request.code ?? null,
    free_shipping: applied.some((a) => a.free_shipping),
    points: applied.reduce((s, a) => s + a.points, 0),
    reasons: refusalReasons(e),
    applied,
    fraud: e.fraud,
  };
  if (e.request.code === undefined) {
    view.eligible = e.global.length ? [] : e.checks.filter((c) => c.ok).map((c) => offerView(c));
    view.not_eligible = e.checks.filter((c) => !c.ok || e.global.length).map((c) => ({ campaign_id: c.campaignId, name: c.campaign.name, reasons: [...e.global, ...c.reasons] }));
  }
  return view;
}
