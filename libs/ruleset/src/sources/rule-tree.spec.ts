import fc from 'fast-check';
import type { RuleSpec } from '@arbiter/rules';
import { flattenRule, unflattenRule } from './rule-tree';

describe('rule tree rows', () => {
  it('flattens a nested rule into one row per node, parent first, and rebuilds it exactly', () => {
    const rule: RuleSpec = {
      id: 'high_value_food',
      domain: 'growth',
      on: 'transaction',
      priority: 10,
      when: { all: [{ fact: 'payload.amount', op: '>', value: 1000 }, { any: ['payload.category == "food"', { not: { ref: 'blocked' } }, { expr: 'true' }] }, true] },
      then: [{ action: 'reward_points', params: { points: 'payload.amount * 0.05' } }],
      metadata: { owner: 'growth' },
    };
    const { fields, nodes } = flattenRule(rule);
    expect(nodes.map((n) => [n.node_id, n.parent_id, n.position, n.kind])).toEqual([
      [0, null, 0, 'all'],
      [1, 0, 0, 'leaf'],
      [2, 0, 1, 'any'],
      [3, 2, 0, 'expr'],
      [4, 2, 1, 'not'],
      [5, 4, 0, 'ref'],
      [6, 2, 2, 'expr'],
      [7, 0, 2, 'bool'],
    ]);
    expect(nodes[1]).toMatchObject({ fact: 'payload.amount', operator: '>', value: { v: 1000 } });
    expect(fields.extra).toEqual({ metadata: { owner: 'growth' } });
    expect(unflattenRule(rule.id, fields, nodes)).toEqual(rule);
  });

  it('round-trips any JSON condition, including shapes the compiler will reject', () => {
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.boolean(),
        fc.record({ fact: fc.string(), op: fc.constantFrom('>', '==', 'in'), value: fc.jsonValue() }),
        fc.record({ all: fc.array(tie('node'), { maxLength: 3 }) }),
        fc.record({ any: fc.array(tie('node'), { maxLength: 3 }) }),
        fc.record({ not: tie('node') }),
        fc.record({ ref: fc.string() }),
        fc.jsonValue(),
      ),
    })).node;
    fc.assert(
      fc.property(tree, (when) => {
        const rule = { id: 'r', domain: 'd', when } as RuleSpec;
        const { fields, nodes } = flattenRule(rule);
        // JSON round trip: what the database gives back.
        const stored = JSON.parse(JSON.stringify(nodes));
        expect(unflattenRule('r', fields, stored)).toEqual(JSON.parse(JSON.stringify(rule)));
      }),
    );
  });
});
