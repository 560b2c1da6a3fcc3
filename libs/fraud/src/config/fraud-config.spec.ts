import { FraudConfig } from './fraud-config';

describe('FraudConfig', () => {
  it('uses the defaults and lets a type override one threshold', () => {
    const problems: string[] = [];
    const c = FraudConfig.from({ thresholds: { default: { review: 40, decline: 70 }, per_type: { topup: { review: 30 } } } }, problems);
    expect(problems).toEqual([]);
    expect(c.thresholdsFor('login')).toEqual({ review: 40, decline: 70 });
    expect(c.thresholdsFor('topup')).toEqual({ review: 30, decline: 70 });
    expect(FraudConfig.from(undefined, problems).thresholdsFor('x')).toEqual({ review: 50, decline: 80 });
  });

  it('lists every bad value with its path', () => {
    const problems: string[] = [];
    FraudConfig.from({ thresholds: { default: { review: 'high', decline: 80 }, per_type: { topup: { review: 90, decline: 60 }, login: [] }, extra: 1 }, other: 1 }, problems);
    expect(problems).toEqual([
      'fraud.yaml: unknown section "other" (expected thresholds)',
      'fraud.yaml thresholds: unknown key "extra" (expected default, per_type)',
      'fraud.yaml thresholds.default.review: must be a number, got "high"',
      'fraud.yaml thresholds.per_type.topup: review (90) must not be above decline (60)',
      'fraud.yaml thresholds.per_type.login: must be a mapping',
    ]);
  });
});
