import { decide } from './decide';

const thresholds = { review: 50, decline: 80 };

describe('decide', () => {
  it('sums live scores and applies the thresholds (score >= threshold)', () => {
    expect(decide({ matches: [{ ruleId: 'a', score: 20 }, { ruleId: 'b', score: 29 }], thresholds }).outcome).toBe('approve');
    expect(decide({ matches: [{ ruleId: 'a', score: 20 }, { ruleId: 'b', score: 30 }], thresholds })).toMatchObject({ outcome: 'review', score: 50 });
    expect(decide({ matches: [{ ruleId: 'a', score: 80 }], thresholds })).toMatchObject({ outcome: 'decline', reasons: [expect.objectContaining({ code: 'score_threshold' })] });
  });

  it('lets the strongest outcome win, whether it comes from a rule or the score', () => {
    const r = decide({ matches: [{ ruleId: 'soft', score: 90, outcome: 'review' }], thresholds });
    expect(r.outcome).toBe('decline');
    expect(r.reasons[0].code).toBe('score_threshold');
    const hard = decide({ matches: [{ ruleId: 'hard', score: 1, outcome: 'decline' }, { ruleId: 'soft', score: 60, outcome: 'review' }], thresholds });
    expect(hard.outcome).toBe('decline');
    expect(hard.reasons[0]).toMatchObject({ code: 'rule_outcome', rule_id: 'hard' });
  });

  it('records shadow rules without letting them count', () => {
    const r = decide({ matches: [{ ruleId: 's', score: 100, outcome: 'decline', mode: 'shadow' }, { ruleId: 'l', score: 5 }], thresholds });
    expect(r).toMatchObject({ outcome: 'approve', score: 5, live: ['l'] });
    expect(r.matched).toEqual([{ rule_id: 's', score: 100, mode: 'shadow', outcome: 'decline' }, { rule_id: 'l', score: 5, mode: 'live' }]);
  });

  it('skips snoozed rules and says so', () => {
    const r = decide({ matches: [{ ruleId: 'x', score: 100 }], thresholds, snoozed: new Map([['x', new Date('2030-01-01T00:00:00Z')]]) });
    expect(r).toMatchObject({ outcome: 'approve', score: 0, matched: [] });
    expect(r.reasons).toEqual([expect.objectContaining({ code: 'snoozed', rule_id: 'x' })]);
  });

  it('approves an allow-listed user whatever the rules say, and says why first', () => {
    const r = decide({ matches: [{ ruleId: 'x', score: 100, outcome: 'decline' }], thresholds, allowListed: { list: 'vips', value: 'u1' } });
    expect(r.outcome).toBe('approve');
    expect(r.score).toBe(100);
    expect(r.reasons[0]).toMatchObject({ code: 'allow_listed', list: 'vips' });
  });

  it('ignores an outcome that is not a fraud outcome, and reports it; a missing score counts 0', () => {
    const r = decide({ matches: [{ ruleId: 'x', score: null, outcome: 'block' }], thresholds });
    expect(r).toMatchObject({ outcome: 'approve', score: 0 });
    expect(r.reasons).toEqual([expect.objectContaining({ code: 'invalid_outcome', rule_id: 'x' })]);
  });
});
