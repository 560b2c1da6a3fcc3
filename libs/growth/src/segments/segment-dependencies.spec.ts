import { Condition, type Catalogue } from '@arbiter/rules';
import { nextWindowChange, segmentTriggers } from './segment-dependencies';

const DAY = 86_400_000;
const catalogue: Catalogue = {
  events: { transaction: { amount: 'number' }, topup: { amount: 'number' } },
  user: { country: 'string', vip: 'boolean' },
  facts: [
    { name: 'events_count', type: 'number', params: [{ name: 'type', type: 'string' }, { name: 'within', type: 'duration', optional: true }], cost: 10, async: true },
    { name: 'spend_30d', type: 'number', cost: 10, async: true },
    { name: 'segment.member', type: 'boolean', params: [{ name: 'segment', type: 'string' }], cost: 5, async: true },
    { name: 'loyalty.tier', type: 'string', cost: 20, async: true },
  ],
};
const aliases: Record<string, Record<string, unknown>> = { spend_30d: { type: 'transaction', field: 'amount', within: 30 * DAY } };
const triggers = (when: string) => segmentTriggers(Condition.compile(when, catalogue, { id: 's' }), (name) => aliases[name]);

describe('segmentTriggers', () => {
  it('indexes a windowed event-log fact by its event type, with its window', () => {
    const t = triggers('events_count(type: "topup", within: 30d) >= 3');
    expect([...t.eventTypes]).toEqual(['topup']);
    expect(t.windows).toEqual([{ type: 'topup', withinMs: 30 * DAY }]);
    expect(t.userAttributes).toEqual([]);
  });

  it("reads an alias's fixed arguments", () => {
    const t = triggers('spend_30d > 1000 and user.country == "FR"');
    expect([...t.eventTypes]).toEqual(['transaction']);
    expect(t.windows).toEqual([{ type: 'transaction', withinMs: 30 * DAY }]);
    expect(t.userAttributes).toEqual(['country']);
  });

  it('makes segment.member depend on segment entry and exit events', () => {
    expect([...triggers('segment.member("vip") and not user.vip').eventTypes].sort()).toEqual(['segment.entered', 'segment.exited']);
  });

  it('treats a fact of unknown origin as depending on every event type', () => {
    const t = triggers('loyalty.tier == "gold"');
    expect([...t.eventTypes]).toEqual(['*']);
    expect(t.windows).toEqual([]);
  });

  it('has no event trigger and no window for an all-time count', () => {
    const t = triggers('events_count(type: "topup") > 0');
    expect([...t.eventTypes]).toEqual(['topup']);
    expect(t.windows).toEqual([]);
  });
});

describe('nextWindowChange', () => {
  const w1 = { type: 'topup', withinMs: 1000 };
  const w2 = { type: 'transaction', withinMs: 5000 };

  it('is the first moment the oldest counted event leaves its window', () => {
    expect(nextWindowChange([w1, w2], (w) => (w === w1 ? 10_000 : 7_000))).toBe(11_001);
    expect(nextWindowChange([w1, w2], (w) => (w === w1 ? 10_000 : 5_000))).toBe(10_001);
  });

  it('is undefined when no window holds an event', () => {
    expect(nextWindowChange([w1], () => undefined)).toBeUndefined();
    expect(nextWindowChange([], () => 1)).toBeUndefined();
  });
});
