import { PermanentActionError } from '@arbiter/actions';
import { pointsOf } from './reward-points.action';

describe('pointsOf', () => {
  it('takes the computed formula or the literal, rounded to cents', () => {
    expect(pointsOf({ points_formula: 75 })).toBe(75);
    expect(pointsOf({ points: 12.345 })).toBe(12.35);
  });

  it.each([
    ['neither', {}],
    ['both', { points: 1, points_formula: 2 }],
    ['a formula that could not be computed', { points_formula: null }],
    ['zero', { points: 0 }],
    ['a negative amount', { points: -5 }],
    ['a non-finite amount', { points: Number.POSITIVE_INFINITY }],
  ])('refuses %s permanently (no retry can fix it)', (_what, params) => {
    expect(() => pointsOf(params)).toThrow(PermanentActionError);
    try {
      pointsOf(params);
    } catch (err) {
      expect((err as PermanentActionError).code).toBe('INVALID_POINTS');
    }
  });
});
