import { compileCondition, Condition } from './condition';
import { EvaluateOptions } from './runtime';
import { catalogue, event } from './testing/catalogue.fixture';

const NOW = Date.UTC(2024, 4, 1, 12);

function compile(expr: string | object, on = ['transaction']): Condition {
  const r = compileCondition(expr as string, catalogue, { on });
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return r.value;
}

/** Evaluates with the generated code and the interpreter and insists they agree. */
function holds(expr: string | object, payload: object, opts: EvaluateOptions = {}, type = 'transaction'): boolean {
  const c = compile(expr, [type]);
  const o = { now: NOW, ...opts };
  const generated = c.evaluate(event(payload, type), o);
  const interpreted = c.evaluateInterpreted(event(payload, type), o);
  if (generated instanceof Promise || interpreted instanceof Promise) throw new Error('expected a synchronous result');
  expect(generated.value).toBe(interpreted);
  return generated.value;
}

describe('comparison operators', () => {
  it.each([
    ['payload.amount == 5', { amount: 5 }, true],
    ['payload.amount == 5', { amount: 6 }, false],
    ['payload.amount != 5', { amount: 6 }, true],
    ['payload.amount != 5', { amount: 5 }, false],
    ['payload.amount < 5', { amount: 4 }, true],
    ['payload.amount < 5', { amount: 5 }, false],
    ['payload.amount <= 5', { amount: 5 }, true],
    ['payload.amount > 5', { amount: 5.5 }, true],
    ['payload.amount >= 5', { amount: 4.9 }, false],
    ['payload.category < "b"', { category: 'a' }, true],
    ['payload.category >= "b"', { category: 'a' }, false],
    ['payload.category == "food"', { category: 'food' }, true],
    ['payload.vip', { vip: true }, true],
    ['payload.vip', { vip: false }, false],
    ['payload.vip == false', { vip: false }, true],
    ['payload.amount == payload.cart.total', { amount: 3, cart: { total: 3 } }, true],
    ['payload.amount < payload.cart.total', { amount: 3, cart: { total: 2 } }, false],
  ])('%s with %j is %s', (expr, payload, expected) => {
    expect(holds(expr, payload)).toBe(expected);
  });

  it.each([
    ['payload.category in ["food", "drinks"]', { category: 'food' }, true],
    ['payload.category in ["food", "drinks"]', { category: 'toys' }, false],
    ['payload.category not in ["food"]', { category: 'toys' }, true],
    ['payload.category not in ["food"]', { category: 'food' }, false],
    ['payload.amount in [1, 2, 3]', { amount: 2 }, true],
    ['payload.tags contains "new"', { tags: ['old', 'new'] }, true],
    ['payload.tags contains "new"', { tags: ['old'] }, false],
    ['payload.codes contains 7', { codes: [1, 7] }, true],
    ['payload.category contains "oo"', { category: 'food' }, true],
    ['payload.category starts_with "fo"', { category: 'food' }, true],
    ['payload.category starts_with "od"', { category: 'food' }, false],
    ['payload.category ends_with "od"', { category: 'food' }, true],
    ['payload.ip matches "^10\\\\.0\\\\."', { ip: '10.0.3.4' }, true],
    ['payload.ip matches "^10\\\\.0\\\\."', { ip: '110.0.3.4' }, false],
    ['payload.category matches "(?i)^FOOD$"', { category: 'food' }, true],
    ['payload.category in []', { category: 'food' }, false],
  ])('%s with %j is %s', (expr, payload, expected) => {
    expect(holds(expr, payload)).toBe(expected);
  });
});

describe('missing values, null and coercion', () => {
  it('makes a leaf over a missing field false, whatever the operator', () => {
    for (const expr of ['payload.amount == 5', 'payload.amount != 5', 'payload.amount < 5', 'payload.amount >= 0', 'payload.category not in ["x"]', 'payload.category starts_with ""', 'payload.tags contains "a"', 'payload.cart.total > 0']) {
      expect(holds(expr, {})).toBe(false);
    }
  });

  it('lets not invert a missing leaf (the leaf is false, so its negation holds)', () => {
    expect(holds('not payload.amount > 5', {})).toBe(true);
  });

  it('tests presence with exists: present and not null', () => {
    expect(holds('exists payload.amount', { amount: 0 })).toBe(true);
    expect(holds('exists payload.amount', {})).toBe(false);
    expect(holds('exists payload.amount', { amount: null })).toBe(false);
    expect(holds('payload.cart exists', { cart: {} })).toBe(true);
    expect(holds({ fact: 'payload.cart.total', op: 'exists' }, { cart: { total: 1 } })).toBe(true);
    expect(holds({ fact: 'payload.cart.total', op: 'not_exists' }, { cart: 'x' })).toBe(true);
  });

  it('makes null equal only to null', () => {
    expect(holds('payload.amount == null', { amount: null })).toBe(true);
    expect(holds('payload.amount == null', { amount: 0 })).toBe(false);
    expect(holds('payload.amount == null', {})).toBe(false);
    expect(holds('payload.amount != null', { amount: 0 })).toBe(true);
    expect(holds('payload.amount == 0', { amount: null })).toBe(false);
    expect(holds('payload.amount != 0', { amount: null })).toBe(true);
    expect(holds('payload.amount >= 0', { amount: null })).toBe(false);
    expect(holds('payload.amount <= 0', { amount: null })).toBe(false);
  });

  it('never coerces a string payload value into a number or back', () => {
    expect(holds('payload.amount == 5', { amount: '5' })).toBe(false);
    expect(holds('payload.amount > 1', { amount: '5' })).toBe(false);
    expect(holds('payload.amount != 5', { amount: '5' })).toBe(false);
    expect(holds('payload.category == "5"', { category: 5 })).toBe(false);
    expect(holds('payload.amount in [5]', { amount: '5' })).toBe(false);
    expect(holds('payload.vip', { vip: 'true' })).toBe(false);
  });

  it('reads only own properties of the payload', () => {
    const proto = { amount: 10 };
    expect(holds('payload.amount == 10', Object.create(proto))).toBe(false);
    expect(holds('exists payload.toString', {})).toBe(false);
    expect(holds('payload.toString == "x"', { toString: 'x' })).toBe(true);
    expect(holds('payload.amount == 10', Object.assign(Object.create(null), { amount: 10 }))).toBe(true);
  });

  it('survives a payload that is not an object', () => {
    const c = compile('payload.amount > 1');
    expect((c.evaluate({ ...event({}), payload: null as unknown as object }) as { value: boolean }).value).toBe(false);
    expect((c.evaluate({ ...event({}), payload: [1] as unknown as object }) as { value: boolean }).value).toBe(false);
  });
});

describe('arithmetic and formulas', () => {
  it.each([
    ['payload.amount * 0.05 == 5', { amount: 100 }, true],
    ['payload.amount + 1 - 2 == 9', { amount: 10 }, true],
    ['payload.amount % 3 == 1', { amount: 10 }, true],
    ['payload.amount / 4 == 2.5', { amount: 10 }, true],
    ['-payload.amount == -10', { amount: 10 }, true],
    ['payload.amount / 0 > 0', { amount: 10 }, false],
    ['not payload.amount / 0 > 0', { amount: 10 }, true],
    ['min(payload.amount, 5) == 5', { amount: 10 }, true],
    ['max(payload.amount, 5, 20) == 20', { amount: 10 }, true],
    ['abs(payload.amount) == 3', { amount: -3 }, true],
    ['round(payload.amount) == 3', { amount: 2.5 }, true],
    ['round(payload.amount) == -3', { amount: -2.5 }, true],
    ['round(payload.amount, 2) == 1.23', { amount: 1.2345 }, true],
    ['floor(payload.amount) == 2', { amount: 2.9 }, true],
    ['ceil(payload.amount) == 3', { amount: 2.1 }, true],
    ['payload.amount + payload.cart.total > 0', { amount: 1 }, false],
  ])('%s with %j is %s', (expr, payload, expected) => {
    expect(holds(expr, payload)).toBe(expected);
  });
});

describe('timestamps and durations', () => {
  it('parses ISO payload timestamps and compares them with timestamp literals', () => {
    expect(holds('payload.created_at > 2024-01-01T00:00:00Z', { created_at: '2024-02-01T00:00:00Z' })).toBe(true);
    expect(holds('payload.created_at > 2024-01-01', { created_at: Date.UTC(2023, 0, 1) })).toBe(false);
    expect(holds('payload.created_at > 2024-01-01', { created_at: 'not a date' })).toBe(false);
  });

  it('does timestamp and duration arithmetic against the fixed clock', () => {
    expect(holds('payload.created_at > now - 30d', { created_at: '2024-04-15T00:00:00Z' })).toBe(true);
    expect(holds('payload.created_at > now - 30d', { created_at: '2024-03-15T00:00:00Z' })).toBe(false);
    expect(holds('now - payload.created_at < 2h', { created_at: '2024-05-01T11:00:00Z' })).toBe(true);
    expect(holds('event.occurred_at - 1d == 2024-04-30T12:00:00Z', {})).toBe(true);
    expect(holds('30d / 2 == 15d', {})).toBe(true);
    expect(holds('2 * 12h == 1d', {})).toBe(true);
    expect(holds('1d / 12h == 2', {})).toBe(true);
  });

  it('accepts string literals for timestamps and durations in tree leaves only where that type is expected', () => {
    expect(holds({ fact: 'payload.created_at', op: '<', value: '2024-06-01T00:00:00Z' }, { created_at: '2024-05-01T00:00:00Z' })).toBe(true);
    expect(holds({ fact: 'now - payload.created_at', op: '<', value: '2h' }, { created_at: '2024-05-01T11:00:00Z' })).toBe(true);
  });
});

describe('event, user and computed facts', () => {
  const resolver = {
    resolve: (fact: string, args: Record<string, unknown>) => {
      if (fact === 'fraud.score') return 42;
      if (fact === 'segment.member') return args.segment === 'vip';
      if (fact === 'events_count') return args.within === undefined ? 100 : 3;
      return undefined;
    },
  };

  it('reads event fields and user attributes', () => {
    expect(holds('event.type == "transaction" and event.source == "test" and event.user_id == "u1"', {})).toBe(true);
    expect(holds('user.country == "FR" and user.age >= 18', {}, { user: { country: 'FR', age: 30 } })).toBe(true);
    expect(holds('user.country == "FR"', {}, {})).toBe(false);
  });

  it('calls facts with named, positional, optional and expression arguments', () => {
    expect(holds('fraud.score > 40', {}, { resolver })).toBe(true);
    expect(holds('segment.member("vip")', {}, { resolver })).toBe(true);
    expect(holds('segment.member(segment: payload.category)', { category: 'vip' }, { resolver })).toBe(true);
    expect(holds('events_count(type: "topup", within: 30d) == 3', {}, { resolver })).toBe(true);
    expect(holds('events_count("topup") == 100', {}, { resolver })).toBe(true);
  });

  it('treats a fact argument that reads a missing field as a missing fact', () => {
    const seen: string[] = [];
    const r = { resolve: (f: string) => (seen.push(f), true) };
    expect(holds('segment.member(segment: payload.category)', {}, { resolver: r })).toBe(false);
    expect(seen).toEqual([]);
  });
});
