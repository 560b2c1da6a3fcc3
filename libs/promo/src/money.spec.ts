import { formatMoney, fromMinor, toMinor } from './money';

describe('money', () => {
  it('converts major units with up to two decimals to exact minor units', () => {
    expect(toMinor(49.99)).toBe(4999);
    expect(toMinor(0.1 + 0.2)).toBe(30);
    expect(toMinor(10)).toBe(1000);
    expect(toMinor(0)).toBe(0);
  });

  it('refuses amounts that would silently change', () => {
    expect(toMinor(49.999)).toBeUndefined();
    expect(toMinor(Number.NaN)).toBeUndefined();
    expect(toMinor(Infinity)).toBeUndefined();
    expect(toMinor('12')).toBeUndefined();
    expect(toMinor(1e300)).toBeUndefined();
  });

  it('renders minor units back', () => {
    expect(fromMinor(4999)).toBe(49.99);
    expect(formatMoney(3800, 'EUR')).toBe('38.00 EUR');
    expect(formatMoney(5)).toBe('0.05');
  });
});
