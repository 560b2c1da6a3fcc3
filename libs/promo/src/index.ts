/**
 * @arbiter/promo — campaigns (eligibility rules compiled like any rule, rewards, limits, stacking),
 * unique codes generated in bulk, and the checkout calls: validate (no side effect, every reason),
 * redeem (every limit consumed in one locking transaction, idempotent by key) and rollback; plus
 * the `promo` pipeline stage. See docs/promo.md.
 */
export { PromoModule } from './promo.module';
export { PromoEngine, rewardValue, explainTrace } from './engine/promo.engine';
export type { CampaignCheck, Evaluation, FraudView, Reason } from './engine/promo.engine';
export type { CheckoutRequest, OrderInput } from './engine/checkout.input';
export { CampaignService } from './campaigns/campaign.service';
export type { Campaign, CampaignStatus, Reward, Stacking } from './campaigns/campaign.model';
export { RedemptionService, REWARD_POINTS_ACTION } from './redemptions/redemption.service';
export { bestCombination } from './engine/stacking';
export { generateCode, CHARSETS } from './codes/code-generator';
export type { CodeShape } from './codes/code-generator';
export { PromoStage } from './stage/promo.stage';
export { EligibilityDoesNotCompileError, RedeemRefusedError, IdempotencyKeyReusedError } from './errors/promo.errors';
export { PROMO_MIGRATIONS, CreatePromo1732400600000 } from './migrations/1732400600000-create-promo';
