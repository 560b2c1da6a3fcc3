import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '@arbiter/platform';
import { PromoEngine } from '../engine/promo.engine';
import { EligibilityDoesNotCompileError } from '../errors/promo.errors';
import { parseCampaign, type CampaignDraft } from './campaign.input';
import { campaignView, type Campaign } from './campaign.model';
import { CampaignRepository } from './campaign.repository';

/**
 * Campaign administration: every write is validated (400 with field paths) and its eligibility
 * rule compiled against the current catalogue (422 with every compile error) before anything is
 * stored. An ended campaign is final.
 */
@Injectable()
export class CampaignService {
  constructor(
    private readonly repo: CampaignRepository,
    private readonly engine: PromoEngine,
  ) {}

  async create(body: unknown): Promise<Record<string, unknown>> {
    const draft = parseCampaign(body);
    const id = randomUUID();
    this.assertCompiles(id, draft);
    return campaignView(await this.repo.insert(id, draft));
  }

  async patch(id: string, body: unknown): Promise<Record<string, unknown>> {
    const updated = await this.repo.dataSource.transaction(async (m) => {
      const current = await this.repo.find(id, m, true);
      if (!current) throw new NotFoundError('campaign', id);
      const draft = parseCampaign(body, current);
      if (current.status === 'ended' && draft.status !== 'ended') throw new ConflictError('CAMPAIGN_ENDED', `campaign "${current.name}" has ended; an ended campaign cannot be reopened (create a new one)`);
      this.assertCompiles(id, draft);
      return this.repo.update(m, id, draft);
    });
    return campaignView(updated);
  }

  async get(id: string): Promise<Record<string, unknown>> {
    const c = await this.find(id);
    return campaignView(c, { codes: await this.repo.countCodes(id) });
  }

  async find(id: string): Promise<Campaign> {
    const c = await this.repo.find(id);
    if (!c) throw new NotFoundError('campaign', id);
    return c;
  }

  async list(options: { status?: string; limit: number; offset: number }) {
    const { items, total } = await this.repo.list(options);
    return { items: items.map((c) => campaignView(c)), total, limit: options.limit, offset: options.offset };
  }

  private assertCompiles(id: string, draft: CampaignDraft): void {
    const { errors } = this.engine.compile(id, draft.eligibility);
    if (errors?.length) throw new EligibilityDoesNotCompileError(errors);
  }
}
