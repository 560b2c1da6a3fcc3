import { Injectable } from '@nestjs/common';
import { Fact, FactFailedError, type FactContext } from '@arbiter/facts';
import type { RuleEvent } from '@arbiter/rules';
import { decisionOf, sessionValue } from '@arbiter/session';
import { FraudService, type FraudEvent } from './fraud.service';
import { FraudListRepository } from './lists/fraud-list.repository';

const PREVIEWS = Symbol('arbiter.fraud.previews');

type Preview = { state: 'pending'; promise: Promise<{ outcome: string; score: number }> } | { state: 'ok'; value: { outcome: string; score: number } };

/**
 * Fraud's facts for the rules of every domain: `fraud.outcome` and `fraud.score` (the decision of
 * this call) and `list_contains(list, value)`. In the pipeline the fraud stage has already recorded
 * its decision, so the facts answer synchronously; elsewhere (promo's validate endpoint) they run
 * the assessment for the current event without storing it, once per session and event.
 */
@Injectable()
export class FraudFacts {
  constructor(
    private readonly fraud: FraudService,
    private readonly lists: FraudListRepository,
  ) {}

  @Fact({ name: 'fraud.outcome', type: 'string', cost: 5, cache: 'none', description: "Fraud's outcome for this event: approve, review or decline." })
  outcome(_args: object, ctx: FactContext): unknown {
    return this.read(ctx, 'outcome');
  }

  @Fact({ name: 'fraud.score', type: 'number', cost: 5, cache: 'none', description: "Fraud's score for this event (sum of the live matched fraud rules' scores)." })
  score(_args: object, ctx: FactContext): unknown {
    return this.read(ctx, 'score');
  }

  @Fact({
    name: 'list_contains',
    type: 'boolean',
    params: [{ name: 'list', type: 'string' }, { name: 'value', type: 'string' }],
    cost: 5,
    description: 'Whether the fraud list `list` holds `value` (false for a list that does not exist).',
  })
  listContains({ list, value }: { list: string; value: string }): Promise<boolean> | boolean {
    if (typeof list !== 'string' || typeof value !== 'string' || value === '') return false;
    return this.lists.contains(list, value);
  }

  private read(ctx: FactContext, field: 'outcome' | 'score'): unknown {
    const recorded = decisionOf<{ outcome: string; score: number }>('fraud');
    if (recorded) return recorded[field];
    const event = ctx.event as FraudEvent | undefined;
    if (!event || typeof event.type !== 'string') throw new FactFailedError(`fraud.${field}`, 'error', `fraud.${field} needs an event to assess`);
    const previews = sessionValue(PREVIEWS, () => new Map<string, Preview>());
    const key = `${event.id ?? ''}\u0000${event.type}\u0000${ctx.userId}`;
    const hit = previews?.get(key);
    if (hit?.state === 'ok') return hit.value[field];
    if (hit) return hit.promise.then((v) => v[field]);
    const promise = this.fraud.assess({ ...event, id: String(event.id ?? ''), user_id: ctx.userId, payload: (event as RuleEvent & { payload?: Record<string, unknown> }).payload ?? {} }, { store: false }).then((d) => {
      const value = { outcome: d.outcome, score: d.score };
      previews?.set(key, { state: 'ok', value });
      return value;
    });
    previews?.set(key, { state: 'pending', promise });
    promise.catch(() => previews?.delete(key));
    return promise.then((v) => v[field]);
  }
}
