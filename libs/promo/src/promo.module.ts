import { Module } from '@nestjs/common';
import { ActionsModule } from '@arbiter/actions';
import { FactsModule } from '@arbiter/facts';
import { CampaignRepository } from './campaigns/campaign.repository';
import { CampaignService } from './campaigns/campaign.service';
import { CodeService } from './codes/code.service';
import { PromoEngine } from './engine/promo.engine';
import { PromoController } from './promo.controller';
import { RedemptionService } from './redemptions/redemption.service';
import { PromoStage } from './stage/promo.stage';

/**
 * The promo plugin: campaigns, codes, validate/redeem/rollback with exact limits, and the `promo`
 * pipeline stage (order 200, after fraud). Import it in the app module with PROMO_MIGRATIONS.
 */
@Module({
  imports: [FactsModule, ActionsModule],
  controllers: [PromoController],
  providers: [CampaignRepository, CampaignService, CodeService, PromoEngine, RedemptionService, PromoStage],
  exports: [PromoEngine, CampaignService, RedemptionService],
})
export class PromoModule {}
