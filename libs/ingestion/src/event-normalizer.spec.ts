import { eventProblems, normalizeEvent } from './event-normalizer';

const limits = { maxDepth: 4, maxFutureMs: 3_600_000 };
const now = Date.parse('2026-11-26T12:00:00Z');
const problems = (body: Record<string, unknown>, at = '') => eventProblems(body, normalizeEvent(body, undefined, new Date(now)), at, limits, now);

describe('eventProblems', () => {
  it('accepts times PostgreSQL can store, offsets and all, up to the future limit', () => {
    for (const occurred_at of ['2026-11-26T12:00:00Z', '2026-11-26T14:59:59+02:00', '2026-11-26t12:00:00.123z', '0001-01-01T00:00:00Z', '2026-11-26T13:00:00Z']) {
      expect([occurred_at, problems({ type: 't', user_id: 'u', occurred_at, payload: {} })]).toEqual([occurred_at, []]);
    }
  });

  it.each([
    ['a leap second', '2026-12-31T23:59:60Z', 'is not a date-time'],
    ['year 0', '0000-01-01T00:00:00Z', 'years 1 to 9999'],
    ['a time past 9999 in UTC', '9999-12-31T23:59:59-14:00', 'years 1 to 9999'],
    ['a time past the future limit', '2026-11-26T13:00:01Z', 'EVENT_MAX_FUTURE_MS'],
  ])('refuses %s, naming the field as the body does', (_what, time, message) => {
    expect(problems({ type: 't', user_id: 'u', occurred_at: time, payload: {} }, 'events[2].')).toEqual([{ path: 'events[2].occurred_at', message: expect.stringContaining(message) }]);
    expect(problems({ specversion: '1.0', id: 'e', type: 't', source: 's', subject: 'u', time, data: {} })).toEqual([{ path: 'time', message: expect.stringContaining(message) }]);
  });

  it('has no future limit at 0', () => {
    expect(eventProblems({}, { id: 'e', type: 't', user_id: 'u', source: 'api', occurred_at: '9000-01-01T00:00:00.000Z', payload: {} }, '', { maxDepth: 4, maxFutureMs: 0 }, now)).toEqual([]);
  });

  it("reports the payload's shape under the body's name for it", () => {
    const deep = { a: { b: { c: { d: { e: 1 } } } } };
    expect(problems({ specversion: '1.0', id: 'e', type: 't', source: 's', subject: 'u', data: deep }).map((p) => p.path)).toEqual(['data.a.b.c.d']);
    expect(problems({ type: 't', user_id: 'u', payload: { constructor: 1 } }).map((p) => p.path)).toEqual(['payload.constructor']);
  });
});
