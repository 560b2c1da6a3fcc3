import { DataSource } from 'typeorm';
import { bootApi, runnable, type Mode, type TestApp } from './support/harness';

// The "done when" of issue 7: limits stay exact under 100 concurrent redeems on real PostgreSQL
// (10 pooled connections, so requests really overlap), and on the embedded store too.
describe.each<Mode>(runnable('postgres', 'embedded'))('promo limits under concurrency on %s', (mode) => {
  let t: TestApp;
  let ds: DataSource;
  beforeAll(async () => {
    t = await bootApi(mode, { RULES_WATCH: 'false' });
    ds = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t.close();
  });

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => t.inject({ method: 'POST', url, payload: payload as object, headers });
  const one = async (sql: string, params: unknown[] = []) => (await ds.query(sql, params))[0];
  const campaign = async (body: Record<string, unknown>, code?: Record<string, unknown>) => {
    const c = await post('/v1/promo/campaigns', { status: 'active', ...body });
    expect(c.statusCode).toBe(201);
    const id = c.json().id as string;
    if (code) expect((await post(`/v1/promo/campaigns/${id}/codes`, code)).statusCode).toBe(201);
    return id;
  };
  /** Fires all redeems at once and tallies the answers. */
  const storm = async (bodies: { body: unknown; key: string }[]) => {
    const answers = await Promise.all(bodies.map(({ body, key }) => post('/v1/promo/redeem', body, { 'idempotency-key': key })));
    const byStatus: Record<number, number> = {};
    for (const a of answers) byStatus[a.statusCode] = (byStatus[a.statusCode] ?? 0) + 1;
    return { answers, byStatus };
  };
  const range = (k: number) => Array.from({ length: k }, (_, i) => i);

  it('100 concurrent redeems of a code limited to 10 uses: exactly 10 succeed, 90 get 409', async () => {
    const id = await campaign({ name: 'Ten uses', reward: { kind: 'fixed', amount: 2, currency: 'EUR' } }, { codes: ['TEN'], max_uses: 10 });
    const { answers, byStatus } = await storm(range(100).map((i) => ({ key: `ten-${i}`, body: { code: 'TEN', user_id: `user-${i}`, order: { id: `o-${i}`, amount: 30, currency: 'EUR' } } })));
    expect(byStatus).toEqual({ 201: 10, 409: 90 });
    for (const a of answers.filter((x) => x.statusCode === 409)) expect(a.json().error.code).toBe('CODE_EXHAUSTED');
    expect(await one(`SELECT used FROM promo_codes WHERE code = 'TEN'`)).toEqual({ used: 10 });
    expect(await one('SELECT used, spent_minor::int AS spent FROM promo_campaigns WHERE id = $1', [id])).toEqual({ used: 10, spent: 2000 });
    expect(Number((await one(`SELECT count(*) AS n FROM promo_redemptions WHERE code = 'TEN' AND status = 'redeemed'`)).n)).toBe(10);
  });

  it('per-user limits hold under the same load', async () => {
    const id = await campaign({ name: 'Three each', reward: { kind: 'percent', percent: 10 }, limits: { per_user: 3 } }, { codes: ['THREE'] });
    // 100 requests from 4 users, 25 each: 3 per user get through.
    const { answers, byStatus } = await storm(range(100).map((i) => ({ key: `three-${i}`, body: { code: 'THREE', user_id: `pu-${i % 4}`, order: { amount: 10, currency: 'EUR' } } })));
    expect(byStatus).toEqual({ 201: 12, 409: 88 });
    for (const a of answers.filter((x) => x.statusCode === 409)) expect(a.json().error.code).toBe('PER_USER_LIMIT_EXHAUSTED');
    const usage = await ds.query('SELECT user_id, used FROM promo_user_usage WHERE campaign_id = $1 ORDER BY user_id', [id]);
    expect(usage).toEqual(range(4).map((u) => ({ user_id: `pu-${u}`, used: 3 })));
  });

  it('a budget holds: the sum of discounts never passes it', async () => {
    // 7.00 off per order, budget 100.00: 14 orders fit (98.00); the 15th would pass the budget.
    const id = await campaign({ name: 'Budget', reward: { kind: 'fixed', amount: 7, currency: 'EUR' }, limits: { budget: 100 } }, { codes: ['BUDGET'] });
    const { answers, byStatus } = await storm(range(100).map((i) => ({ key: `budget-${i}`, body: { code: 'BUDGET', user_id: `bu-${i}`, order: { amount: 50, currency: 'EUR' } } })));
    expect(byStatus).toEqual({ 201: 14, 409: 86 });
    for (const a of answers.filter((x) => x.statusCode === 409)) expect(a.json().error.code).toBe('BUDGET_EXHAUSTED');
    expect(await one('SELECT used, spent_minor::int AS spent FROM promo_campaigns WHERE id = $1', [id])).toEqual({ used: 14, spent: 9800 });
    const [{ total }] = await ds.query(`SELECT sum(discount_minor)::int AS total FROM promo_redemptions WHERE code = 'BUDGET' AND status = 'redeemed'`);
    expect(total).toBe(9800);
  });

  it('a campaign total holds across many codes', async () => {
    const id = await campaign({ name: 'Twenty five', reward: { kind: 'free_shipping' }, limits: { total: 25 } });
    const gen = await post(`/v1/promo/campaigns/${id}/codes`, { count: 100, length: 8 });
    const list = gen.json().codes as string[];
    const { byStatus } = await storm(list.map((code, i) => ({ key: `tf-${i}`, body: { code, user_id: `tf-${i}`, order: { amount: 20, shipping: 4.5, currency: 'EUR' } } })));
    expect(byStatus).toEqual({ 201: 25, 409: 75 });
    expect(await one('SELECT used, spent_minor::int AS spent FROM promo_campaigns WHERE id = $1', [id])).toEqual({ used: 25, spent: 25 * 450 });
  });

  it('concurrent replays of one Idempotency-Key consume once and all get the first answer', async () => {
    const id = await campaign({ name: 'Replay', reward: { kind: 'fixed', amount: 1, currency: 'EUR' } }, { codes: ['REPLAY'] });
    const body = { code: 'REPLAY', user_id: 'replayer', order: { id: 'r-1', amount: 10, currency: 'EUR' } };
    const { answers, byStatus } = await storm(range(30).map(() => ({ key: 'same-key', body })));
    expect(byStatus).toEqual({ 201: 30 });
    expect(new Set(answers.map((a) => a.json().id)).size).toBe(1);
    expect(await one('SELECT used FROM promo_campaigns WHERE id = $1', [id])).toEqual({ used: 1 });
  });

  it('concurrent rollbacks of one redemption restore it exactly once', async () => {
    const id = await campaign({ name: 'Undo', reward: { kind: 'fixed', amount: 3, currency: 'EUR' }, limits: { total: 5 } }, { codes: ['UNDO'], max_uses: 5 });
    const r = await post('/v1/promo/redeem', { code: 'UNDO', user_id: 'undo', order: { amount: 10, currency: 'EUR' } }, { 'idempotency-key': 'undo-1' });
    expect(r.statusCode).toBe(201);
    const backs = await Promise.all(range(20).map(() => post(`/v1/promo/redemptions/${r.json().id}/rollback`, {})));
    expect(backs.every((b) => b.statusCode === 200)).toBe(true);
    expect(backs.filter((b) => b.json().rolled_back_now).length).toBe(1);
    expect(await one('SELECT used, spent_minor::int AS spent FROM promo_campaigns WHERE id = $1', [id])).toEqual({ used: 0, spent: 0 });
    expect(await one(`SELECT used FROM promo_codes WHERE code = 'UNDO'`)).toEqual({ used: 0 });
  });
});
