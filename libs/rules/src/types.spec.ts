import { parseTimestamp } from './types';

describe('parseTimestamp', () => {
  it('reads ISO-8601 dates and date-times, offsets and all', () => {
    expect(parseTimestamp('2026-02-28')).toBe(Date.UTC(2026, 1, 28));
    expect(parseTimestamp('2024-02-29T23:59:59Z')).toBe(Date.UTC(2024, 1, 29, 23, 59, 59));
    expect(parseTimestamp('2026-01-01T01:00:00+01:00')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTimestamp('2026-01-01t00:00:00.5z')).toBe(Date.UTC(2026, 0, 1, 0, 0, 0, 500));
  });

  it.each(['2026-02-29', '2026-02-30T00:00:00Z', '2026-04-31', '2026-13-01', '2026-00-10', '2026-01-01T24:00:00Z', '2026-01-01T23:60:00Z', '2026-12-31T23:59:60Z', 'tomorrow', '2026-1-1'])(
    'refuses %s, which the calendar does not have or is not ISO-8601',
    (text) => expect(parseTimestamp(text)).toBeUndefined(),
  );
});
