import { Catalogue } from '../catalogue';
import { RuleEvent } from '../runtime';

/** The catalogue the unit specs share: three event types, user attributes, sync and async facts. */
export const catalogue: Catalogue = {
  events: {
    transaction: { amount: 'number', category: 'string', ip: 'string', created_at: 'timestamp', tags: 'list<string>', codes: { list: 'number' }, vip: 'boolean', cart: { total: 'number', items: 'number' }, toString: 'string' },
    topup: { amount: 'number', method: 'string' },
    signup: { referrer: 'string', amount: 'string' },
  },
  user: { country: 'string', age: 'number', tier: 'string', verified: 'boolean' },
  facts: [
    { name: 'events_count', type: 'number', params: [{ name: 'type', type: 'string' }, { name: 'within', type: 'duration', optional: true }], cost: 20, async: true },
    { name: 'list_contains', type: 'boolean', params: [{ name: 'list', type: 'string' }, { name: 'value', type: 'string' }], cost: 5, async: true },
    { name: 'fraud.score', type: 'number', cost: 3 },
    { name: 'fraud.outcome', type: 'string', cost: 3 },
    { name: 'segment.member', type: 'boolean', params: [{ name: 'segment', type: 'string' }], cost: 2 },
    { name: 'last_login', type: 'timestamp', cost: 1 },
  ],
  actions: [
    { name: 'award_points', params: { points: { type: 'number', required: true }, reason: { type: 'string' } } },
    { name: 'decide', params: { outcome: { type: 'string', required: true } } },
    { name: 'webhook', params: { url: { type: 'string', required: true }, body: { type: 'any' }, delay: { type: 'duration' } } },
  ],
};

export function event(payload: object, type = 'transaction', extra: Partial<RuleEvent> = {}): RuleEvent {
  return { id: 'e1', type, user_id: 'u1', source: 'test', occurred_at: '2024-05-01T12:00:00Z', payload, ...extra };
}
