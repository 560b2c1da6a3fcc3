import { compileCondition } from './condition';
import { compileRules } from './rule-set';
import { catalogue, event } from './testing/catalogue.fixture';

describe('safety of user-supplied rules', () => {
  const hostile = ['"); globalThis.pwned = true; ("', "'); globalThis.pwned = true; //", '\\"); globalThis.pwned = 1; //', '\u2028globalThis.pwned=1', '${globalThis.pwned = 1}', '</script>'];

  it.each(hostile)('embeds the string %j only as data', (text) => {
    const r = compileRules({ rules: [{ id: 'r', domain: 'd', on: 'transaction', when: { any: [{ fact: 'payload.category', op: '==', value: text }, { fact: 'payload.category', op: 'in', value: [text, 'x'] }, { fact: 'payload.category', op: 'starts_with', value: text }] } }] }, catalogue);
    if (!r.ok) throw new Error(r.errors.join('\n'));
    expect(r.value.evaluate(event({ category: text }))).toMatchObject({ matches: [{ ruleId: 'r' }] });
    expect(r.value.evaluate(event({ category: 'other' }))).toMatchObject({ matches: [] });
    expect((globalThis as { pwned?: unknown }).pwned).toBeUndefined();
  });

  it('refuses prototype-walking path segments at compile time, in every position', () => {
    for (const expr of ['payload.__proto__ == 1', 'payload.cart.constructor == 1', 'user.__proto__ == "x"', 'fraud.prototype > 1', 'exists payload.prototype']) {
      const r = compileCondition(expr, catalogue, { on: ['transaction'] });
      expect(r.ok ? [] : r.errors.map((e) => e.code)).toEqual(['FORBIDDEN_PATH']);
    }
  });

  it('never reads inherited properties of user attributes', () => {
    const c = compileCondition('exists user.country', catalogue);
    if (!c.ok) throw new Error('did not compile');
    expect(c.value.evaluate(event({}), { user: Object.create({ country: 'FR' }) })).toMatchObject({ value: false });
    expect(c.value.evaluate(event({}), { user: { country: 'FR' } })).toMatchObject({ value: true });
  });

  it('accepts tree-form leaves with literal params for parameterised facts', () => {
    const r = compileCondition({ fact: 'events_count', params: { type: 'topup', within: '30d' }, op: '>', value: 2 }, catalogue);
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const seen: unknown[] = [];
    r.value.evaluate(event({}), { resolver: { resolve: (_f, args) => (seen.push(args), 3) } });
    expect(seen).toEqual([{ type: 'topup', within: 30 * 86_400_000 }]);
  });

  it('evaluates a large rule set without recursion problems', () => {
    const rules = Array.from({ length: 5000 }, (_, i) => ({ id: `r${i}`, domain: 'd', on: 'transaction', when: `payload.amount > ${i}` }));
    const r = compileRules({ rules }, catalogue);
    if (!r.ok) throw new Error('did not compile');
    expect((r.value.evaluate(event({ amount: 100 })) as { matches: unknown[] }).matches).toHaveLength(100);
  });
});
