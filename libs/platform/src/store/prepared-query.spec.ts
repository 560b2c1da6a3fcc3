import { serverName } from './prepared-query';

describe('serverName', () => {
  it('keeps a name PostgreSQL keeps whole', () => {
    const name = 'arbiter_outcomes_done+action_log_records+fraud_decisions';
    expect(serverName(name)).toBe(name);
  });

  it('gives long names that start alike names of their own, within 63 bytes', () => {
    const base = 'arbiter_outcomes_done+action_log_records+fraud_decisions+points_awards';
    const names = [base, `${base}+users_patches`, `${base}+users_patchez`];
    const short = names.map(serverName);
    expect(new Set(short.map((s) => s.slice(0, 63))).size).toBe(3);
    for (const s of short) expect(Buffer.byteLength(s)).toBeLessThanOrEqual(63);
    // The same name always maps to the same statement.
    expect(names.map(serverName)).toEqual(short);
  });
});
