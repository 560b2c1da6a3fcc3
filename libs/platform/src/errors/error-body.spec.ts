import { ArbiterError } from './arbiter.error';
import { toErrorResponse } from './error-body';
import { isStoreUnavailable, unstorableValue } from '../store/store-unavailable';

describe('toErrorResponse and a database that cannot serve', () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'ERROR' });

  it.each([
    ['a statement cancelled by statement_timeout', pgError('57014', 'canceling statement due to statement timeout')],
    ['a server shutting down', pgError('57P01', 'terminating connection due to administrator command')],
    ['too many connections', pgError('53300', 'sorry, too many clients already')],
    ['a broken connection (class 08)', pgError('08006', 'connection failure')],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ["the pool's wait for a connection", new Error('timeout exceeded when trying to connect')],
    ['a connection that ended mid-statement', new Error('Connection terminated unexpectedly')],
    ["TypeORM's wrapper around the driver's error", Object.assign(new Error('query failed'), { driverError: pgError('57014', 'canceling statement due to statement timeout') })],
  ])('maps %s to 503 DEPENDENCY_DOWN, saying nothing of the internals', (_name, err) => {
    expect(isStoreUnavailable(err)).toBe(true);
    const { status, body, unexpected } = toErrorResponse(err, 'req-1');
    expect(status).toBe(503);
    expect(unexpected).toBe(false);
    expect(body.error).toMatchObject({ code: 'DEPENDENCY_DOWN', details: { dependency: 'database' }, request_id: 'req-1' });
    expect(body.error.message).not.toContain((err as Error).message);
  });

  it.each([
    ['a unique violation', pgError('23505', 'duplicate key value violates unique constraint "x"')],
    ['a syntax error', pgError('42601', 'syntax error at or near "SELEC"')],
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ['text a type does not read (our own casts as often as input)', pgError('22P02', 'invalid input syntax for type json')],
  ])('keeps %s a 500 INTERNAL', (_name, err) => {
    expect(isStoreUnavailable(err)).toBe(false);
    const { status, body, unexpected } = toErrorResponse(err);
    expect(status).toBe(500);
    expect(unexpected).toBe(true);
    expect(body.error.code).toBe('INTERNAL');
  });

  it.each([
    ['a value too long for its column', pgError('22001', 'value too long for type character varying(128)')],
    ['a NUL character in text', pgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00')],
    ['a \\u0000 escape in jsonb', Object.assign(new Error('query failed'), { driverError: pgError('22P05', 'unsupported Unicode escape sequence') })],
  ])('maps %s to 400 VALIDATION_FAILED, keeping the database\'s words for the log', (_name, err) => {
    expect(isStoreUnavailable(err)).toBe(false);
    const { status, body, unexpected } = toErrorResponse(err);
    expect(status).toBe(400);
    expect(unexpected).toBe(false);
    const words = ((err as { driverError?: Error }).driverError ?? (err as Error)).message;
    expect(unstorableValue(err)).toBe(words);
    expect(body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { errors: [{ path: '(request)', message: expect.stringContaining('cannot be stored') }] } });
    // The database's own words (its types, its encodings) stay out of the answer.
    expect(JSON.stringify(body)).not.toContain(words);
  });

  it("leaves a typed error's own status alone", () => {
    expect(toErrorResponse(new ArbiterError(409, 'LIMIT_EXHAUSTED', 'no more')).status).toBe(409);
  });
});
