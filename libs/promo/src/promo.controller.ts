import { Body, Controller, Get, Headers, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequireScope, ValidationError } from '@arbiter/platform';
import { CAMPAIGN_STATUSES, type CampaignStatus } from './campaigns/campaign.model';
import { isUuid } from './campaigns/campaign.repository';
import { CampaignService } from './campaigns/campaign.service';
import { CodeService } from './codes/code.service';
import { evaluationView } from './engine/evaluation.view';
import { PromoEngine, type Reason } from './engine/promo.engine';
import { RedeemRefusedError } from './errors/promo.errors';
import { RedemptionService } from './redemptions/redemption.service';

/**
 * The promo API: campaigns and their codes (scope `admin` to write, `read` to look), and the
 * checkout calls (scope `ingest`): validate (no side effect), redeem (consumes every limit in one
 * transaction; `Idempotency-Key` required), rollback. Refusals are `409` with every reason.
 */
@ApiTags('promo')
@ApiBearerAuth()
@Controller('v1/promo')
export class PromoController {
  constructor(
    private readonly campaigns: CampaignService,
    private readonly codes: CodeService,
    private readonly engine: PromoEngine,
    private readonly redemptions: RedemptionService,
  ) {}

  @Post('campaigns')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Create a campaign; its eligibility rule must compile (422 with every error otherwise)' })
  createCampaign(@Body() body: unknown) {
    return this.campaigns.create(body);
  }

  @Get('campaigns')
  @RequireScope('read')
  @ApiOperation({ summary: 'List campaigns (priority order) with their usage; ?status=&limit=&offset=' })
  listCampaigns(@Query('status') status?: string, @Query('limit') limit?: string, @Query('offset') offset?: string) {
    if (status !== undefined && !CAMPAIGN_STATUSES.includes(status as CampaignStatus)) throw new ValidationError([{ path: 'status', message: `must be one of ${CAMPAIGN_STATUSES.join(', ')}` }]);
    return this.campaigns.list({ status, limit: Math.min(whole(limit, 50, 'limit') || 50, 500), offset: whole(offset, 0, 'offset') });
  }

  @Get('campaigns/:id')
  @RequireScope('read')
  @ApiOperation({ summary: 'One campaign with its usage: redemptions, redemptions left, budget spent and left, codes' })
  getCampaign(@Param('id') id: string) {
    return this.campaigns.get(id);
  }

  @Patch('campaigns/:id')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Change a campaign (status, window, rule, reward, limits...); an ended campaign is final' })
  patchCampaign(@Param('id') id: string, @Body() body: unknown) {
    return this.campaigns.patch(id, body);
  }

  @Post('campaigns/:id/codes')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Generate {count, prefix?, length?, charset?, pattern?, max_uses?, expires_at?} unique codes, or import {codes: [...]}' })
  createCodes(@Param('id') id: string, @Body() body: unknown) {
    return this.codes.create(id, body);
  }

  @Get('campaigns/:id/codes')
  @RequireScope('read')
  @ApiOperation({ summary: 'A campaign\'s codes in code order; ?after=<next_cursor>&limit=&batch_id=' })
  listCodes(@Param('id') id: string, @Query('after') after?: string, @Query('limit') limit?: string, @Query('batch_id') batchId?: string) {
    if (batchId !== undefined && !isUuid(batchId)) throw new ValidationError([{ path: 'batch_id', message: 'must be a batch id (uuid) from the generation answer' }]);
    return this.codes.list(id, { after: after || undefined, limit: Math.min(whole(limit, 100, 'limit') || 100, 1000), batchId });
  }

  @Post('validate')
  @HttpCode(200)
  @RequireScope('ingest')
  @ApiOperation({ summary: 'May this user apply this code (or which automatic campaigns apply) right now? No side effect' })
  async validate(@Body() body: unknown) {
    return evaluationView(await this.engine.evaluate(this.engine.parse(body), { explain: true }));
  }

  @Post('redeem')
  @RequireScope('ingest')
  @ApiOperation({ summary: 'Apply the code (or the best automatic campaigns) and consume every limit; Idempotency-Key required; 409 with every reason when refused' })
  async redeem(@Body() body: unknown, @Headers('idempotency-key') key: string | undefined, @Res({ passthrough: true }) reply: FastifyReply) {
    const answer = await this.redemptions.redeem(body, key);
    if (answer.replayed) void reply.header('idempotent-replayed', 'true');
    if (answer.status === 409) throw new RedeemRefusedError(answer.body.reasons as Reason[]);
    void reply.status(answer.status);
    return answer.body;
  }

  @Get('redemptions/:id')
  @RequireScope('read')
  @ApiOperation({ summary: 'One redemption: code, campaign, user, order, discount, status, what it consumed' })
  getRedemption(@Param('id') id: string) {
    return this.redemptions.find(id);
  }

  @Post('redemptions/:id/rollback')
  @HttpCode(200)
  @RequireScope('ingest')
  @ApiOperation({ summary: 'Give back every counter and budget the redemption consumed; a second rollback changes nothing' })
  rollback(@Param('id') id: string) {
    return this.redemptions.rollback(id);
  }

  @Get('users/:id/redemptions')
  @RequireScope('read')
  @ApiOperation({ summary: 'A user\'s redemptions, newest first; ?limit=&offset=' })
  userRedemptions(@Param('id') id: string, @Query('limit') limit?: string, @Query('offset') offset?: string) {
    return this.redemptions.forUser(id, Math.min(whole(limit, 50, 'limit') || 50, 500), whole(offset, 0, 'offset'));
  }
}

function whole(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,9}$/.test(raw)) throw new ValidationError([{ path: name, message: 'must be a whole number' }]);
  return Number(raw);
}
