import { ValidationError } from '@arbiter/platform';
import { publicFailure, UNEXPECTED_FAILURE } from './event-queue';
import { EventIdReusedError } from '../pipeline/reused-id';

describe("publicFailure: what a failed queued event's outcome tells a client", () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'ERROR' });

  it.each([
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ["a trigger's exception", pgError('P0001', 'refused by the test')],
    ['a unique violation', pgError('23505', 'duplicate key value violates unique constraint "events_pkey"')],
  ])('says only that the service failed for %s, not its words', (_name, err) => {
    expect(publicFailure(err)).toBe(UNEXPECTED_FAILURE);
  });

  it('says the database could not be reached, without its address', () => {
    const said = publicFailure(Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:5432'), { code: 'ECONNREFUSED' }));
    expect(said).toMatch(/database/);
    expect(said).not.toContain('10.1.2.3');
  });

  it("keeps the service's own refusals as a call would have answered them", () => {
    const invalid = new ValidationError([{ path: 'payload.amount', message: 'must be a number' }]);
    expect(publicFailure(invalid)).toBe(invalid.message);
    const reused = new EventIdReusedError([{ eventId: 'e-1', fields: ['payload'] }]);
    expect(publicFailure(reused)).toBe(reused.message);
  });
});
