import { compileCondition } from './condition';
import { CompileError, RuleSetCompileError } from './errors/compile.error';
import { CompileOptions, RuleDocument, RuleSpec } from './rule-compiler';
import { compileRules, RuleSet } from './rule-set';
import { catalogue } from './testing/catalogue.fixture';

function errorsOf(rules: Partial<RuleSpec>[] | RuleDocument, options: CompileOptions = {}): CompileError[] {
  const doc = Array.isArray(rules) ? { rules: rules.map((r, i) => ({ id: `r${i}`, domain: 'growth', on: ['transaction'], ...r })) } : rules;
  const r = compileRules(doc as RuleDocument, catalogue, options);
  if (r.ok) throw new Error('expected compile errors');
  return r.errors;
}

function one(when: unknown, on = ['transaction']): CompileError {
  const errors = errorsOf([{ when: when as RuleSpec['when'], on }]);
  expect(errors).toHaveLength(1);
  return errors[0];
}

describe('compile errors', () => {
  it('collects every error of every rule, with rule id, tree path, position and hint', () => {
    const errors = errorsOf([
      { id: 'a', when: { all: [{ fact: 'payload.amount', op: '>', value: 5 }, { expr: 'payload.amount > 1' }, { any: [{ fact: 'payload.amout', op: '>', value: 5 }] }] } },
      { id: 'b', when: { expr: 'payload.amount > 1000 and\n  payload.category == 5' } },
      { id: 'c', then: [{ action: 'award_pts', params: {} }] },
    ]);
    expect(errors.map((e) => [e.ruleId, e.path, e.line, e.column, e.code])).toEqual([
      ['a', 'when.all[2].any[0].fact', 1, 1, 'UNKNOWN_FIELD'],
      ['b', 'when', 2, 20, 'TYPE_MISMATCH'],
      ['c', 'then[0].action', undefined, undefined, 'UNKNOWN_ACTION'],
    ]);
    expect(errors[0].message).toBe('unknown fact "payload.amout": not declared by event type "transaction"');
    expect(errors[0].hint).toBe('did you mean "payload.amount"?');
    expect(errors[1].hint).toContain('write "5" in quotes');
    expect(errors[2].hint).toBe('did you mean "award_points"?');
  });

  it('refuses to coerce numbers and strings, with a hint', () => {
    const e = one({ fact: 'payload.amount', op: '>', value: '50' });
    expect(e.code).toBe('TYPE_MISMATCH');
    expect(e.hint).toContain('write 50 without quotes');
  });

  it.each([
    ['payload.category > 5', 'TYPE_MISMATCH'],
    ['payload.tags == "a"', 'BAD_OPERATOR'],
    ['payload.amount in ["a"]', 'TYPE_MISMATCH'],
    ['payload.amount in 5', 'TYPE_MISMATCH'],
    ['payload.amount contains 5', 'BAD_OPERATOR'],
    ['payload.category matches payload.ip', 'BAD_REGEX'],
    ['payload.category matches "(a+)+$"', 'UNSAFE_REGEX'],
    ['payload.category matches "(a|a)*"', 'UNSAFE_REGEX'],
    ['payload.category matches "(a)\\\\1"', 'UNSAFE_REGEX'],
    ['payload.category matches "[a-"', 'BAD_REGEX'],
    ['payload.amount + "x" > 1', 'TYPE_MISMATCH'],
    ['payload.amount', 'TYPE_MISMATCH'],
    ['payload.cart > 1', 'TYPE_MISMATCH'],
    ['payload.__proto__.x == 1', 'FORBIDDEN_PATH'],
    ['payload.constructor == 1', 'FORBIDDEN_PATH'],
    ['user.prototype == 1', 'FORBIDDEN_PATH'],
    ['event.kind == "x"', 'UNKNOWN_FACT'],
    ['user.contry == "FR"', 'UNKNOWN_FACT'],
    ['fraud.scor > 5', 'UNKNOWN_FACT'],
    ['events_count(type: "topup", since: 30d) > 1', 'UNKNOWN_PARAM'],
    ['events_count(within: 30d) > 1', 'MISSING_PARAM'],
    ['events_count(type: "topup", within: "soon") > 1', 'TYPE_MISMATCH'],
    ['events_count(type: "x", within: 1) > 1', 'TYPE_MISMATCH'],
    ['segment.member(fraud.outcome)', 'BAD_OPERATOR'],
    ['min(payload.amount) > 1', 'SYNTAX'],
    ['round(payload.category) > 1', 'TYPE_MISMATCH'],
    ['now - 5 > now', 'TYPE_MISMATCH'],
    ['payload.created_at > 5', 'TYPE_MISMATCH'],
    ['unknown_thing', 'UNKNOWN_FACT'],
    ['payload.amount > 1e400', 'SYNTAX'],
  ])('%s -> %s', (expr, code) => {
    expect(one({ expr }).code).toBe(code);
  });

  it('hints the nearest fact name for unknown facts of every kind', () => {
    expect(one({ expr: 'fraud.scor > 5' }).hint).toBe('did you mean "fraud.score"?');
    expect(one({ expr: 'user.contry == "FR"' }).hint).toBe('did you mean "user.country"?');
    expect(one({ expr: 'events_count(type: "x", withn: 1d) > 1' }).hint).toBe('did you mean "within"?');
  });

  it('types payload fields by the rule\'s event types', () => {
    expect(one({ expr: 'payload.method == "card"' }).code).toBe('UNKNOWN_FIELD');
    expect(errorsOf([{ on: ['topup'], when: { expr: 'payload.method == "card"' }, then: [{ action: 'nope' }] }]).map((e) => e.code)).toEqual(['UNKNOWN_ACTION']);
    const conflict = one({ expr: 'payload.amount > 1' }, ['transaction', 'signup']);
    expect(conflict.message).toContain('different types across event types');
    expect(one({ expr: 'payload.amount > 1' }, ['*']).code).toBe('TYPE_MISMATCH');
    expect(errorsOf([{ on: ['*'], when: { expr: 'payload.referrer == "x" and payload.method == "y"' }, then: [{ action: 'nope' }] }]).map((e) => e.code)).toEqual(['UNKNOWN_ACTION']);
  });

  it('names an undeclared event type in on', () => {
    const [e] = errorsOf([{ on: ['transactoin'] }]);
    expect([e.code, e.path, e.hint]).toEqual(['UNKNOWN_EVENT_TYPE', 'on[0]', 'did you mean "transaction"?']);
  });

  it('checks actions: unknown params, missing required params, param types and formulas', () => {
    const errors = errorsOf([
      {
        then: [
          { action: 'award_points', params: { pointz: 5 } },
          { action: 'award_points', params: { points: 'payload.category' } },
          { action: 'award_points', params: { points: '"5"' } },
          { action: 'award_points', params: { points: 'payload.amount *' } },
          { action: 'decide', params: { outcome: 5 } },
        ],
      },
    ]);
    expect(errors.map((e) => [e.path, e.code])).toEqual([
      ['then[0].params.pointz', 'UNKNOWN_PARAM'],
      ['then[0].params', 'MISSING_PARAM'],
      ['then[1].params.points', 'TYPE_MISMATCH'],
      ['then[2].params.points', 'TYPE_MISMATCH'],
      ['then[3].params.points', 'SYNTAX'],
      ['then[4].params.outcome', 'TYPE_MISMATCH'],
    ]);
    expect(errors[0].hint).toBe('did you mean "points"?');
  });

  it('checks rule fields and extensions', () => {
    const errors = errorsOf([{ mode: 'shdow' as 'live', score: 'payload.category', priorty: 3 } as Partial<RuleSpec>, { id: 'r0' }, { domain: undefined, on: [] }]);
    expect(errors.map((e) => [e.ruleId, e.path, e.code])).toEqual([
      ['r0', 'priorty', 'INVALID_RULE'],
      ['r0', 'score', 'TYPE_MISMATCH'],
      ['r0', 'mode', 'INVALID_RULE'],
      ['r0', 'id', 'DUPLICATE_ID'],
      ['r2', 'domain', 'INVALID_RULE'],
      ['r2', 'on', 'INVALID_RULE'],
    ]);
    expect(errors[0].hint).toBe('did you mean "priority"?');
    expect(errors[2].hint).toBe('did you mean "shadow"?');
    const custom = errorsOf([{ tier: 'platinum' } as Partial<RuleSpec>], { extensions: { tier: { type: 'string', values: ['gold', 'silver'] } } });
    expect(custom.map((e) => e.path)).toEqual(['tier']);
  });

  it('reports unknown and cyclic named conditions, and errors inside unused ones', () => {
    const errors = errorsOf({
      conditions: { a: { ref: 'b' }, b: { expr: 'a' }, broken: { expr: 'payload.nope > 1' } },
      rules: [{ id: 'x', domain: 'd', when: { any: [{ ref: 'a' }, { ref: 'missing' }] } }],
    });
    expect(errors.map((e) => e.code).sort()).toEqual(['CONDITION_CYCLE', 'UNKNOWN_CONDITION', 'UNKNOWN_FIELD']);
  });

  it('reports an error inside a shared named condition once, not once per rule', () => {
    const errors = errorsOf({ conditions: { big: { expr: 'payload.amout > 1' } }, rules: [1, 2, 3].map((i) => ({ id: `r${i}`, domain: 'd', on: 'transaction', when: { ref: 'big' } })) });
    expect(errors).toHaveLength(1);
    expect(errors[0].path).toBe('conditions.big');
  });

  it('fails cleanly on deep nesting and on cyclic objects, without a stack overflow', () => {
    let deep: unknown = { fact: 'payload.amount', op: '>', value: 1 };
    for (let i = 0; i < 10_000; i++) deep = { not: deep };
    expect(one(deep).code).toBe('TOO_DEEP');
    const cyclic: { all: unknown[] } = { all: [] };
    cyclic.all.push(cyclic);
    expect(one(cyclic).code).toBe('TOO_DEEP');
    expect(one({ expr: `${'('.repeat(100)}payload.vip${')'.repeat(100)}` }).code).toBe('TOO_DEEP');
  });

  it('refuses rule sets over the size limit', () => {
    const rules = Array.from({ length: 11 }, (_, i) => ({ id: `r${i}`, domain: 'd' }));
    expect(errorsOf({ rules }, { maxRules: 10 }).map((e) => e.code)).toEqual(['TOO_LARGE']);
  });

  it('throws RuleSetCompileError from RuleSet.compile, listing every error', () => {
    try {
      RuleSet.compile({ rules: [{ id: 'a', domain: 'd', when: { expr: 'x' } }, { id: 'b', domain: 'd', when: { expr: 'y' } }] }, catalogue);
      throw new Error('expected a throw');
    } catch (e) {
      expect(e).toBeInstanceOf(RuleSetCompileError);
      expect((e as RuleSetCompileError).errors.map((x) => x.ruleId)).toEqual(['a', 'b']);
      expect((e as RuleSetCompileError).code).toBe('RULES_DO_NOT_COMPILE');
    }
  });

  it('reports catalogue problems', () => {
    const r = compileCondition('true', { facts: [{ name: 'payload.x', type: 'number' }, { name: 'ok', type: 'numbr' }] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.code)).toEqual(['INVALID_CATALOGUE', 'INVALID_CATALOGUE']);
  });

  it('serialises errors to plain data', () => {
    const e = one({ expr: 'payload.amout > 1' });
    expect(JSON.parse(JSON.stringify(e))).toMatchObject({ code: 'UNKNOWN_FIELD', ruleId: 'r0', path: 'when', line: 1, column: 1, hint: 'did you mean "payload.amount"?' });
    expect(String(e)).toBe('rule "r0" when 1:1: unknown fact "payload.amout": not declared by event type "transaction" — did you mean "payload.amount"?');
  });
});
