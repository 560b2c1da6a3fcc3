import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig, ConflictError, ValidationError, type FieldProblem } from '@arbiter/platform';
import { parseTimestamp } from '@arbiter/rules';
import { CampaignRepository } from '../campaigns/campaign.repository';
import { CampaignService } from '../campaigns/campaign.service';
import { codeProblem, generateDistinct, normalizeCode, resolveCharset, shapeProblems, type CodeShape } from './code-generator';

/** Codes inserted per statement: large batches stay within one transaction but never one huge statement. */
const CHUNK = 1000;
/** Rounds of regeneration for codes that collided with existing ones before giving up. */
const MAX_ROUNDS = 20;

const GENERATE_FIELDS = new Set(['count', 'prefix', 'length', 'charset', 'pattern', 'max_uses', 'expires_at']);
const EXPLICIT_FIELDS = new Set(['codes', 'max_uses', 'expires_at']);

/**
 * Codes of a campaign: bulk generation of N unique, cryptographically random codes (or a list of
 * hand-written ones), inserted in chunks in one transaction — all or nothing — and listed with
 * keyset paging.
 */
@Injectable()
export class CodeService {
  constructor(
    private readonly repo: CampaignRepository,
    private readonly campaigns: CampaignService,
    private readonly config: AppConfig,
  ) {}

  async create(campaignId: string, body: unknown) {
    const campaign = await this.campaigns.find(campaignId);
    const problems: FieldProblem[] = [];
    const bad = (path: string, message: string) => problems.push({ path, message });
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError([{ path: 'body', message: 'must be {count, prefix?, length?, charset?, pattern?, max_uses?, expires_at?} or {codes: [...], max_uses?, expires_at?}' }]);
    const b = body as Record<string, unknown>;
    const explicit = Object.hasOwn(b, 'codes');
    for (const k of Object.keys(b)) if (!(explicit ? EXPLICIT_FIELDS : GENERATE_FIELDS).has(k)) bad(k, explicit ? 'unknown field with `codes` (known: codes, max_uses, expires_at)' : `unknown field (known: ${[...GENERATE_FIELDS].join(', ')}, or codes)`);
    // Generated codes are one-off by default (one customer each); hand-written ones are shared.
    let maxUses: number | null = explicit ? null : 1;
    if (b.max_uses !== undefined) {
      if (b.max_uses === null) maxUses = null;
      else if (!Number.isInteger(b.max_uses) || (b.max_uses as number) < 1 || (b.max_uses as number) > 2_000_000_000) bad('max_uses', 'must be a whole number >= 1, or null (no limit of its own)');
      else maxUses = b.max_uses as number;
    }
    let expiresAt: Date | null = null;
    if (b.expires_at !== undefined && b.expires_at !== null) {
      const ms = typeof b.expires_at === 'string' ? parseTimestamp(b.expires_at) : undefined;
      if (ms === undefined) bad('expires_at', 'must be an ISO-8601 timestamp');
      else expiresAt = new Date(ms);
    }
    const batchId = randomUUID();
    if (explicit) {
      const list = b.codes;
      const max = this.config.promoCodesMaxPerRequest;
      if (!Array.isArray(list) || list.length === 0 || list.length > max) bad('codes', `must be a list of 1 to ${max} codes (PROMO_CODES_MAX_PER_REQUEST)`);
      const codes: string[] = [];
      const seen = new Set<string>();
      if (Array.isArray(list)) {
        list.forEach((raw, i) => {
          if (typeof raw !== 'string') return bad(`codes[${i}]`, 'must be a string');
          const code = normalizeCode(raw);
          const p = codeProblem(code);
          if (p) return bad(`codes[${i}]`, p);
          if (seen.has(code)) return bad(`codes[${i}]`, `repeats ${code} (codes are case-insensitive)`);
          seen.add(code);
          codes.push(code);
        });
      }
      if (problems.length) throw new ValidationError(problems);
      await this.repo.dataSource.transaction(async (m) => {
        const taken: string[] = [];
        for (let i = 0; i < codes.length; i += CHUNK) {
          const chunk = codes.slice(i, i + CHUNK);
          const inserted = new Set(await this.repo.insertCodes(m, campaign.id, chunk, maxUses, expiresAt, batchId));
          taken.push(...chunk.filter((c) => !inserted.has(c)));
        }
        if (taken.length) throw new ConflictError('CODE_TAKEN', `${taken.length} code${taken.length === 1 ? ' is' : 's are'} already in use: ${taken.slice(0, 20).join(', ')}${taken.length > 20 ? ', ...' : ''}`, { codes: taken });
      });
      return { campaign_id: campaign.id, batch_id: batchId, count: codes.length, max_uses: maxUses, expires_at: expiresAt?.toISOString() ?? null, codes };
    }

    const count = b.count;
    const max = this.config.promoCodesMaxPerRequest;
    if (!Number.isInteger(count) || (count as number) < 1 || (count as number) > max) bad('count', `required: a whole number from 1 to ${max} (PROMO_CODES_MAX_PER_REQUEST)`);
    for (const k of ['prefix', 'charset', 'pattern'] as const) if (b[k] !== undefined && typeof b[k] !== 'string') bad(k, 'must be a string');
    if (b.length !== undefined && typeof b.length !== 'number') bad('length', 'must be a whole number from 4 to 32');
    if (problems.length) throw new ValidationError(problems);
    const shape: CodeShape = {
      prefix: normalizeCode((b.prefix as string | undefined) ?? ''),
      length: (b.length as number | undefined) ?? 10,
      charset: resolveCharset((b.charset as string | undefined) ?? 'unambiguous'),
      ...(b.pattern !== undefined ? { pattern: (b.pattern as string).toUpperCase() } : {}),
    };
    problems.push(...shapeProblems(shape, count as number));
    if (problems.length) throw new ValidationError(problems);

    const codes = await this.repo.dataSource.transaction(async (m) => {
      const done: string[] = [];
      const tried = new Set<string>();
      let pending = generateDistinct(shape, count as number);
      for (let round = 0; pending.length > 0; round++) {
        if (round >= MAX_ROUNDS) throw new ConflictError('CODE_SPACE_EXHAUSTED', `could not find ${pending.length} more free codes of this shape after ${MAX_ROUNDS} rounds; make the codes longer`);
        pending.forEach((c) => tried.add(c));
        let collided = 0;
        for (let i = 0; i < pending.length; i += CHUNK) {
          const chunk = pending.slice(i, i + CHUNK);
          const inserted = await this.repo.insertCodes(m, campaign.id, chunk, maxUses, expiresAt, batchId);
          done.push(...inserted);
          collided += chunk.length - inserted.length;
        }
        // Collisions with codes of earlier batches: draw replacements never tried before.
        pending = collided ? generateDistinct(shape, collided, tried) : [];
      }
      return done;
    });
    return { campaign_id: campaign.id, batch_id: batchId, count: codes.length, max_uses: maxUses, expires_at: expiresAt?.toISOString() ?? null, codes };
  }

  async list(campaignId: string, options: { after?: string; limit: number; batchId?: string }) {
    await this.campaigns.find(campaignId);
    const items = await this.repo.listCodes(campaignId, { ...options, after: options.after === undefined ? undefined : normalizeCode(options.after) });
    return {
      items: items.map((c) => ({ code: c.code, max_uses: c.maxUses, used: c.used, expires_at: c.expiresAt?.toISOString() ?? null, batch_id: c.batchId, created_at: c.createdAt.toISOString() })),
      next_cursor: items.length === options.limit ? items[items.length - 1].code : null,
    };
  }
}
