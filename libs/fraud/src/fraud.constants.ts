/** Fraud outcomes, weakest first: the strongest one found wins. */
export const OUTCOMES = ['approve', 'review', 'decline'] as const;
export type FraudOutcome = (typeof OUTCOMES)[number];

export const FRAUD_DOMAIN = 'fraud';

/** The stronger of two outcomes (approve < review < decline). */
export function strongest(a: FraudOutcome, b: FraudOutcome): FraudOutcome {
  return OUTCOMES.indexOf(a) >= OUTCOMES.indexOf(b) ? a : b;
}

export function isOutcome(v: unknown): v is FraudOutcome {
  return typeof v === 'string' && (OUTCOMES as readonly string[]).includes(v);
}
