import { compileCondition } from './condition';
import { RuleDocument } from './rule-compiler';
import { compileRules, EvalResult, RuleSet } from './rule-set';
import { FactResolver } from './runtime';
import { catalogue, event } from './testing/catalogue.fixture';

function build(doc: RuleDocument, extensions = {}): RuleSet {
  const r = compileRules(doc, catalogue, { extensions });
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return r.value;
}

function sync(r: EvalResult | Promise<EvalResult>): EvalResult {
  if (r instanceof Promise) throw new Error('expected a synchronous result');
  return r;
}

const rules: RuleDocument = {
  conditions: { big_spender: { expr: 'payload.amount >= 1000' }, food: { fact: 'payload.category', op: '==', value: 'food' } },
  rules: [
    { id: 'points', domain: 'growth', on: 'transaction', priority: 1, when: { all: [{ ref: 'food' }, 'payload.amount > 10'] }, then: [{ action: 'award_points', params: { points: 'round(payload.amount * 0.05)', reason: 'food' } }] },
    { id: 'big', domain: 'fraud', on: ['transaction', 'topup'], priority: 10, score: 'payload.amount / 100', outcome: 'review', metadata: { owner: 'risk' }, when: { expr: 'big_spender' } },
    { id: 'any-event', domain: 'growth', on: '*', priority: 1, when: { expr: 'event.user_id == "u1"' } },
    { id: 'off', domain: 'growth', on: 'transaction', enabled: false },
    { id: 'shadow', domain: 'fraud', on: 'topup', mode: 'shadow', then: [{ action: 'decide', params: { outcome: 'decline' } }] },
  ],
};

describe('RuleSet.evaluate', () => {
  const set = build(rules);

  it('returns matches by priority, then id, with computed params and passthrough fields', () => {
    const r = sync(set.evaluate(event({ amount: 2000, category: 'food' })));
    expect(r.matches.map((m) => m.ruleId)).toEqual(['big', 'any-event', 'points']);
    expect(r.matches[0]).toMatchObject({ ruleId: 'big', domain: 'fraud', priority: 10, score: 20, outcome: 'review', mode: 'live', metadata: { owner: 'risk' }, actions: [] });
    expect(r.matches[2].actions).toEqual([{ action: 'award_points', params: { points: 100, reason: 'food' } }]);
    expect(r.errors).toEqual([]);
  });

  it('evaluates only the rules listening to the event type and domain', () => {
    expect(set.rulesFor('transaction').map((r) => r.id)).toEqual(['big', 'any-event', 'points']);
    expect(set.rulesFor('topup').map((r) => r.id)).toEqual(['big', 'any-event', 'shadow']);
    expect(set.rulesFor('never-declared').map((r) => r.id)).toEqual(['any-event']);
    expect(set.rulesFor('transaction', 'fraud').map((r) => r.id)).toEqual(['big']);
    const r = sync(set.evaluate(event({ amount: 5, method: 'card' }, 'topup'), { domain: 'fraud' }));
    expect(r.matches.map((m) => [m.ruleId, m.mode])).toEqual([['shadow', 'shadow']]);
  });

  it("lists the constant fact reads of a type's rules in every domain, once each, for reading ahead", () => {
    const s = build({
      rules: [
        { id: 'velocity', domain: 'fraud', on: 'topup', when: 'events_count(type: "topup", within: 10m) > 3', score: 'events_count(type: "topup", within: 10m) + fraud.score' },
        { id: 'same-call', domain: 'growth', on: ['topup', 'transaction'], when: 'events_count(type: "topup", within: 10m) > 0 and last_login > now - 1d' },
        { id: 'per-event', domain: 'growth', on: 'topup', when: 'events_count(type: payload.method) > 1' },
        { id: 'other-type', domain: 'growth', on: 'transaction', when: 'list_contains(list: "vip", value: "x")' },
        { id: 'disabled', domain: 'growth', on: 'topup', enabled: false, when: 'segment.member(segment: "s") == true' },
      ],
    });
    const calls = s.factCalls('topup');
    expect([...calls].sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'events_count', args: { type: 'topup', within: 600_000 } },
      { name: 'fraud.score', args: {} },
      { name: 'last_login', args: {} },
    ]);
    // Cached per rule set and type.
    expect(s.factCalls('topup')).toBe(calls);
    expect(s.factCalls('transaction').map((c) => c.name).sort()).toEqual(['events_count', 'last_login', 'list_contains']);
    expect(s.factCalls('never-declared')).toEqual([]);
  });

  it('never evaluates disabled rules but keeps them in the snapshot', () => {
    expect(set.get('off')?.enabled).toBe(false);
    expect(sync(set.evaluate(event({}))).matches.map((m) => m.ruleId)).not.toContain('off');
  });

  it('reports a formula that cannot be computed and uses null, without dropping the match', () => {
    const s = build({ rules: [{ id: 'r', domain: 'g', on: 'transaction', then: [{ action: 'award_points', params: { points: 'payload.amount * 2' } }] }] });
    const r = sync(s.evaluate(event({})));
    expect(r.matches[0].actions[0].params).toEqual({ points: null });
    expect(r.errors).toEqual([expect.objectContaining({ kind: 'formula', ruleId: 'r' })]);
  });

  it('is immutable', () => {
    expect(Object.isFrozen(set)).toBe(true);
    expect(Object.isFrozen(set.rules)).toBe(true);
    expect(() => (set.rules as unknown[]).push(1)).toThrow();
  });

  it('compiles the tree form and the expression form to the same IR', () => {
    const tree = compileCondition({ all: [{ fact: 'payload.amount', op: '>', value: 1000 }, { fact: 'payload.category', op: '==', value: 'food' }] }, catalogue, { on: ['transaction'] });
    const expr = compileCondition('payload.amount > 1000 AND payload.category == "food"', catalogue, { on: ['transaction'] });
    if (!tree.ok || !expr.ok) throw new Error('did not compile');
    const strip = (n: unknown): unknown => JSON.parse(JSON.stringify(n, (k, v) => (k === 'origin' ? undefined : v)));
    expect(strip(tree.value.node)).toEqual(strip(expr.value.node));
  });

  it('reports what a rule set and a condition depend on', () => {
    expect(set.get('points')?.dependencies).toEqual({ facts: [], userAttributes: [], payloadFields: ['amount', 'category'], eventFields: [], eventTypes: ['transaction'], usesNow: false });
    const c = compileCondition('user.tier == "gold" and segment.member("vip") and payload.cart.total > 1 and event.occurred_at > now - 1d', catalogue, { on: ['transaction'] });
    if (!c.ok) throw new Error('did not compile');
    expect(c.value.dependencies).toEqual({ facts: ['segment.member'], userAttributes: ['tier'], payloadFields: ['cart.total'], eventFields: ['occurred_at'], eventTypes: ['transaction'], usesNow: true });
    expect(set.dependencies('fraud').eventTypes).toEqual(['topup', 'transaction']);
  });
});

describe('facts and async evaluation', () => {
  const doc: RuleDocument = {
    rules: [
      { id: 'cheap-first', domain: 'fraud', on: 'transaction', when: { all: ['events_count(type: "topup", within: 30d) > 2', 'payload.amount > 100'] } },
      { id: 'scored', domain: 'fraud', on: 'transaction', priority: 5, when: 'fraud.score > 50' },
      { id: 'listed', domain: 'fraud', on: 'transaction', when: 'list_contains("blocked_ips", payload.ip)' },
    ],
  };
  const set = build(doc);

  function resolver(values: Record<string, unknown>, mode: 'sync' | 'async'): FactResolver & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      resolve(fact, args) {
        calls.push(`${fact}${Object.keys(args).length ? JSON.stringify(args) : ''}`);
        const v = values[fact];
        if (v instanceof Error) {
          if (mode === 'sync') throw v;
          return Promise.reject(v);
        }
        return mode === 'sync' ? v : Promise.resolve(v);
      },
    };
  }

  it('stays synchronous, without a Promise, when the resolver answers synchronously', () => {
    const res = resolver({ events_count: 3, 'fraud.score': 60, list_contains: true }, 'sync');
    const r = set.evaluate(event({ amount: 500, ip: '1.2.3.4' }), { resolver: res });
    expect(r).not.toBeInstanceOf(Promise);
    expect(sync(r).matches.map((m) => m.ruleId)).toEqual(['scored', 'cheap-first', 'listed']);
  });

  it('awaits only when a Promise comes back, and gives the same answer', async () => {
    const res = resolver({ events_count: 3, 'fraud.score': 60, list_contains: true }, 'async');
    const r = set.evaluate(event({ amount: 500, ip: '1.2.3.4' }), { resolver: res });
    expect(r).toBeInstanceOf(Promise);
    expect((await r).matches.map((m) => m.ruleId)).toEqual(['scored', 'cheap-first', 'listed']);
  });

  it('fetches an async fact only when a leaf needs it (cheap payload leaves first)', async () => {
    const res = resolver({ events_count: 3, 'fraud.score': 10, list_contains: false }, 'async');
    await set.evaluate(event({ amount: 5 }), { resolver: res });
    expect(res.calls).toEqual(['fraud.score']);
  });

  it('passes evaluated arguments keyed by param name', async () => {
    const res = resolver({ events_count: 3, 'fraud.score': 10, list_contains: false }, 'sync');
    set.evaluate(event({ amount: 500, ip: '9.9.9.9' }), { resolver: res });
    expect(res.calls.sort()).toEqual(['events_count{"type":"topup","within":2592000000}', 'fraud.score', 'list_contains{"list":"blocked_ips","value":"9.9.9.9"}']);
  });

  it.each(['sync', 'async'] as const)('a fact that fails (%s) makes its leaves false, is reported, and never stops other rules', async (mode) => {
    const res = resolver({ events_count: 3, 'fraud.score': new Error('timeout'), list_contains: true }, mode);
    const r = await set.evaluate(event({ amount: 500, ip: '1.2.3.4' }), { resolver: res });
    expect(r.matches.map((m) => m.ruleId)).toEqual(['cheap-first', 'listed']);
    expect(r.errors).toEqual([{ kind: 'fact', fact: 'fraud.score', message: 'timeout' }]);
  });

  it('reports a fact that returns the wrong type', () => {
    const r = sync(set.evaluate(event({}), { resolver: resolver({ 'fraud.score': 'high' }, 'sync') }));
    expect(r.errors).toEqual([{ kind: 'fact', fact: 'fraud.score', message: 'returned "high", expected number' }]);
  });

  it('reports facts read without a resolver', () => {
    const r = sync(set.evaluate(event({})));
    expect(r.matches).toEqual([]);
    expect(r.errors[0]).toMatchObject({ fact: 'fraud.score', message: 'no fact resolver was given' });
  });

  it('computes async formula params', async () => {
    const s = build({ rules: [{ id: 'r', domain: 'g', on: 'transaction', score: 'fraud.score * 2', then: [{ action: 'award_points', params: { points: 'fraud.score + 1' } }] }] });
    const r = await s.evaluate(event({}), { resolver: resolver({ 'fraud.score': 21 }, 'async') });
    expect(r.matches[0]).toMatchObject({ score: 42, actions: [{ action: 'award_points', params: { points: 22 } }] });
  });
});

describe('traces', () => {
  const set = build({
    rules: [
      { id: 'r', domain: 'g', on: 'transaction', when: { all: [{ fact: 'payload.amount', op: '>', value: 50 }, { any: [{ expr: 'payload.category in ["food", "drinks"]' }, { not: { fact: 'payload.vip', op: '==', value: false } }] }] } },
      { id: 'f', domain: 'g', on: 'transaction', when: 'fraud.score < payload.cart.total' },
    ],
  });

  it('explains a failed comparison with the value and what it needed', () => {
    const r = sync(set.evaluate(event({ amount: 38, category: 'toys' }), { trace: true, resolver: { resolve: () => 7 } }));
    const t = r.traces!.find((x) => x.ruleId === 'r')!;
    expect(t.matched).toBe(false);
    expect(t.why).toBe('payload.amount is 38, needs > 50');
    expect(t.root.children!.map((c) => [c.path, c.result])).toEqual([
      ['when.all[0]', false],
      ['when.all[1]', 'skipped'],
    ]);
    const f = r.traces!.find((x) => x.ruleId === 'f')!;
    expect(f.why).toBe('fraud.score is 7, needs < payload.cart.total (missing)');
  });

  it('records every evaluated node, with values', () => {
    const r = sync(set.evaluate(event({ amount: 60, category: 'toys', vip: true }), { trace: true }));
    const t = r.traces!.find((x) => x.ruleId === 'r')!;
    expect(t.matched).toBe(true);
    const any = t.root.children![1];
    expect(any.children!.map((c) => [c.expr, c.result, c.value])).toEqual([
      ['payload.category in ["food", "drinks"]', false, 'toys'],
      ['not payload.vip == false', true, undefined],
    ]);
    expect(r.matches.map((m) => m.ruleId)).toEqual(['r']);
  });

  it('names the failing fact in the why', async () => {
    const r = await set.evaluate(event({ cart: { total: 5 } }), { trace: true, resolver: { resolve: () => Promise.reject(new Error('down')) } });
    expect(r.traces!.find((x) => x.ruleId === 'f')!.why).toBe('fraud.score is missing (fact failed: down), needs < payload.cart.total (5)');
  });
});
