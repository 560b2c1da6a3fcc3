import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ValidationError, type FieldProblem } from '@arbiter/platform';
import { ActionRegistry, idempotencyKey } from '@arbiter/actions';
import { CatalogueService, FactsService } from '@arbiter/facts';
import type { RuleEvent, RuleSet } from '@arbiter/rules';
import { readDocument } from './rule-admin.service';
import { RuleSetService } from './rule-set.service';

/** The pipeline's domain order; other domains follow alphabetically. */
const DOMAIN_ORDER = ['fraud', 'promo', 'growth'];

/**
 * `POST /v1/rules/simulate`: the event through the loaded rules (or draft rules) in every domain,
 * with the full trace — what matched, what did not and why not, the actions and params that would
 * run. Read-only by construction: it evaluates and reads facts, and never calls the action
 * executor, the event log, the action log or the queue.
 */
@Injectable()
export class SimulateService {
  constructor(
    private readonly rules: RuleSetService,
    private readonly facts: FactsService,
    private readonly catalogue: CatalogueService,
    private readonly actions: ActionRegistry,
  ) {}

  async simulate(body: unknown) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError([{ path: 'body', message: 'must be {event, rules?}' }]);
    const b = body as { event?: unknown; rules?: unknown };
    const event = this.checkEvent(b.event);
    let ruleSet: RuleSet;
    let source: 'loaded' | 'draft';
    if (b.rules === undefined) {
      ruleSet = this.rules.current();
      source = 'loaded';
    } else {
      ruleSet = this.rules.compileDocuments([readDocument(b.rules, 'rules')]);
      source = 'draft';
    }
    const inputs = await this.facts.evaluationInputs(event.user_id);
    const result = await ruleSet.evaluate(event, { resolver: inputs.resolver, user: inputs.user, now: inputs.now, trace: true });
    const domains = [...new Set([...ruleSet.domains])].sort((a, c) => rank(a) - rank(c) || a.localeCompare(c));
    const byDomain: Record<string, { matched: unknown[]; not_matched: unknown[] }> = {};
    for (const d of domains) byDomain[d] = { matched: [], not_matched: [] };
    const matches = new Map(result.matches.map((m) => [m.ruleId, m]));
    for (const t of result.traces ?? []) {
      const bucket = (byDomain[t.domain] ??= { matched: [], not_matched: [] });
      const m = matches.get(t.ruleId);
      if (t.matched && m) {
        const { ruleId, domain, actions, priority, ...fields } = m;
        bucket.matched.push({ rule_id: ruleId, priority, ...fields, actions, trace: t.root });
      } else bucket.not_matched.push({ rule_id: t.ruleId, why: t.why ?? null, trace: t.root });
    }
    const wouldRun = result.matches.flatMap((m) =>
      m.actions.map((a, i) => ({
        rule_id: m.ruleId,
        domain: m.domain,
        index: i,
        action: a.action,
        mode: this.actions.get(a.action)?.mode ?? 'inline',
        params: a.params,
        idempotency_key: idempotencyKey(event.id, m.ruleId, i),
        would_run: m.mode !== 'shadow',
      })),
    );
    wouldRun.sort((x, y) => rank(x.domain) - rank(y.domain));
    return {
      event,
      rules: source,
      fingerprint: source === 'loaded' ? this.rules.snapshot().fingerprint : null,
      evaluated: (result.traces ?? []).length,
      domains: byDomain,
      actions: wouldRun,
      errors: result.errors,
    };
  }

  private checkEvent(raw: unknown): RuleEvent & { id: string; payload: Record<string, unknown> } {
    const problems: FieldProblem[] = [];
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ValidationError([{ path: 'event', message: 'must be an event {type, user_id, payload, id?, source?, occurred_at?}' }]);
    const e = raw as Record<string, unknown>;
    if (typeof e.type !== 'string' || !e.type) problems.push({ path: 'event.type', message: 'must be a non-empty string' });
    if (typeof e.user_id !== 'string' || !e.user_id) problems.push({ path: 'event.user_id', message: 'must be a non-empty string' });
    if (e.id !== undefined && (typeof e.id !== 'string' || !e.id)) problems.push({ path: 'event.id', message: 'must be a non-empty string' });
    if (e.occurred_at !== undefined && (typeof e.occurred_at !== 'string' || Number.isNaN(Date.parse(e.occurred_at)))) problems.push({ path: 'event.occurred_at', message: 'must be an ISO-8601 date-time' });
    if (typeof e.payload !== 'object' || e.payload === null || Array.isArray(e.payload)) problems.push({ path: 'event.payload', message: 'must be an object' });
    else if (typeof e.type === 'string') problems.push(...this.catalogue.validatePayload(e.type, e.payload, 'event.payload'));
    if (problems.length) throw new ValidationError(problems);
    return {
      id: (e.id as string | undefined) ?? `simulated-${randomUUID()}`,
      type: e.type as string,
      user_id: e.user_id as string,
      source: typeof e.source === 'string' ? e.source : 'simulate',
      occurred_at: (e.occurred_at as string | undefined) ?? new Date().toISOString(),
      payload: e.payload as Record<string, unknown>,
    };
  }
}

function rank(domain: string): number {
  const i = DOMAIN_ORDER.indexOf(domain);
  return i === -1 ? DOMAIN_ORDER.length : i;
}
