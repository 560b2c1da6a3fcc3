/**
 * Money in promo is exact: every amount is kept as an integer number of minor units (1/100 of the
 * currency unit, for every currency) and stored as bigint. The API speaks major units as JSON
 * numbers with at most two decimals (`49.99`), the way checkout events carry `order.amount`.
 */
export const MINOR_PER_UNIT = 100;

/** `49.99` -> `4999`; undefined when the value is not a finite amount with at most two decimals. */
export function toMinor(value: unknown): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  const minor = Math.round(value * MINOR_PER_UNIT);
  // Reject 49.999 instead of rounding it silently: the caller should know its amount changed.
  if (Math.abs(minor / MINOR_PER_UNIT - value) > 1e-9) return undefined;
  if (!Number.isSafeInteger(minor)) return undefined;
  return minor;
}

/** `4999` -> `49.99`. */
export function fromMinor(minor: number): number {
  return minor / MINOR_PER_UNIT;
}

/** `4999`, `EUR` -> `49.99 EUR` for reasons written to humans. */
export function formatMoney(minor: number, currency?: string | null): string {
  const text = (minor / MINOR_PER_UNIT).toFixed(2);
  return currency ? `${text} ${currency}` : text;
}
