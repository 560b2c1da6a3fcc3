import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { FactRegistry } from '@arbiter/facts';
import { bootApi, configDir, runnable, type Mode, type TestApp } from './support/harness';

// A fraud rule that declines big checkouts (read by libs/fraud's stage and facts), and a promo
// rule so the promo stage has rules of its own to report.
const RULES = {
  'fraud.yaml': `
rules:
  - id: huge_checkout
    domain: fraud
    on: [checkout]
    when: payload.order.amount > 9000
    outcome: decline
    score: 100
`,
  'promo.yaml': `
rules:
  - id: big_basket
    domain: promo
    on: [checkout]
    when: payload.order.amount >= 100
`,
};

describe.each<Mode>(runnable('embedded', 'postgres'))('promo on %s', (mode) => {
  let t: TestApp;
  let cfg: Awaited<ReturnType<typeof configDir>>;
  let ds: DataSource;
  beforeAll(async () => {
    cfg = await configDir({ rules: RULES });
    t = await bootApi(mode, { CONFIG_DIR: cfg.dir, RULES_WATCH: 'false' });
    ds = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t.close();
    await cfg.cleanup();
  });

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => t.inject({ method: 'POST', url, payload: payload as object, headers });
  const get = (url: string) => t.inject({ method: 'GET', url });
  const n = async (sql: string, params: unknown[] = []) => Number((await ds.query(sql, params))[0].n);
  let keySeq = 0;
  const redeem = (body: unknown, key = `k-${mode}-${++keySeq}`) => post('/v1/promo/redeem', body, { 'idempotency-key': key });
  const campaign = async (body: Record<string, unknown>) => {
    const res = await post('/v1/promo/campaigns', { status: 'active', ...body });
    expect(res.statusCode).toBe(201);
    return res.json() as { id: string } & Record<string, unknown>;
  };
  const codes = async (id: string, body: Record<string, unknown>) => {
    const res = await post(`/v1/promo/campaigns/${id}/codes`, body);
    expect(res.statusCode).toBe(201);
    return res.json() as { codes: string[]; batch_id: string };
  };
  /** Everything redeem could have changed, to prove a call changed nothing. */
  const snapshot = async () =>
    ds.query(`SELECT (SELECT json_agg(json_build_object('id', id, 'used', used, 'spent', spent_minor) ORDER BY id) FROM promo_campaigns) AS campaigns,
                     (SELECT json_agg(json_build_object('code', code, 'used', used) ORDER BY code) FROM promo_codes) AS codes,
                     (SELECT count(*) FROM promo_redemptions) AS redemptions, (SELECT count(*) FROM promo_idempotency) AS keys,
                     (SELECT json_agg(json_build_object('c', campaign_id, 'u', user_id, 'n', used) ORDER BY campaign_id, user_id) FROM promo_user_usage) AS usage`);

  describe('campaigns', () => {
    it('creates a campaign and shows it with its usage', async () => {
      const c = await campaign({ name: 'Summer', reward: { kind: 'percent', percent: 10, max_discount: 20 }, currency: 'EUR', limits: { total: 100, per_user: 1, budget: 500 }, eligibility: 'payload.order.amount >= 50', priority: 5 });
      const res = await get(`/v1/promo/campaigns/${c.id}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        name: 'Summer',
        status: 'active',
        reward: { kind: 'percent', percent: 10, max_discount: 20 },
        limits: { total: 100, per_user: 1, budget: 500 },
        usage: { redemptions: 0, redemptions_left: 100, budget_spent: 0, budget_left: 500 },
        codes: 0,
      });
      const list = (await get('/v1/promo/campaigns?status=active')).json();
      expect(list.items.map((x: { id: string }) => x.id)).toContain(c.id);
    });

    it('refuses a bad body with every field path and stores nothing', async () => {
      const before = await n('SELECT count(*) AS n FROM promo_campaigns');
      const res = await post('/v1/promo/campaigns', { name: '', reward: { kind: 'percent', percent: 150 }, limits: { total: -1 }, stacking: 'sometimes', colour: 'red' });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
      expect(res.json().error.details.errors.map((e: { path: string }) => e.path).sort()).toEqual(['colour', 'limits.total', 'name', 'reward.percent', 'stacking']);
      expect(await n('SELECT count(*) AS n FROM promo_campaigns')).toBe(before);
    });

    it('refuses an eligibility rule that does not compile: 422 with every error, nothing stored', async () => {
      const before = await n('SELECT count(*) AS n FROM promo_campaigns');
      const res = await post('/v1/promo/campaigns', { name: 'Broken', reward: { kind: 'free_shipping' }, eligibility: { all: ['payload.order.amout >= 50', { fact: 'user.contry', op: '==', value: 'FR' }] } });
      expect(res.statusCode).toBe(422);
      const body = res.json();
      expect(body.error.code).toBe('ELIGIBILITY_DOES_NOT_COMPILE');
      expect(body.error.details.errors).toHaveLength(2);
      expect(body.error.details.errors.map((e: { path: string }) => e.path)).toEqual([expect.stringMatching(/^eligibility\.all\[0\]/), expect.stringMatching(/^eligibility\.all\[1\]/)]);
      expect(JSON.stringify(body)).toMatch(/amount/); // the "did you mean"
      expect(await n('SELECT count(*) AS n FROM promo_campaigns')).toBe(before);
    });

    it('patches a campaign (recompiling its rule) and keeps an ended campaign ended', async () => {
      const c = await campaign({ name: 'Patchable', reward: { kind: 'free_shipping' } });
      const bad = await t.inject({ method: 'PATCH', url: `/v1/promo/campaigns/${c.id}`, payload: { eligibility: 'nope.fact > 1' } });
      expect(bad.statusCode).toBe(422);
      const ok = await t.inject({ method: 'PATCH', url: `/v1/promo/campaigns/${c.id}`, payload: { status: 'ended', eligibility: 'payload.order.amount > 1' } });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toMatchObject({ status: 'ended', eligibility: 'payload.order.amount > 1', version: 2 });
      const reopen = await t.inject({ method: 'PATCH', url: `/v1/promo/campaigns/${c.id}`, payload: { status: 'active' } });
      expect(reopen.statusCode).toBe(409);
      expect(reopen.json().error.code).toBe('CAMPAIGN_ENDED');
      expect((await get('/v1/promo/campaigns/00000000-0000-0000-0000-000000000000')).statusCode).toBe(404);
    });
  });

  it('accepts every example campaign of configs/promo/example-campaigns.json', async () => {
    const examples = JSON.parse(readFileSync(join(__dirname, '..', 'configs', 'promo', 'example-campaigns.json'), 'utf8')) as Record<string, unknown>;
    for (const [name, body] of Object.entries(examples)) {
      if (name.startsWith('_')) continue;
      const res = await post('/v1/promo/campaigns', body);
      expect({ name, status: res.statusCode, body: res.statusCode === 201 ? null : res.json() }).toEqual({ name, status: 201, body: null });
      // Examples are active: end them so they do not take part in the automatic campaigns below.
      await t.inject({ method: 'PATCH', url: `/v1/promo/campaigns/${res.json().id}`, payload: { status: 'ended' } });
    }
  });

  describe('codes', () => {
    it('generates unique codes following a pattern and lists them page by page', async () => {
      const c = await campaign({ name: 'Pattern', reward: { kind: 'free_shipping' } });
      const gen = await codes(c.id, { count: 50, pattern: 'SUMMER-####-????', max_uses: 3 });
      expect(gen.codes).toHaveLength(50);
      expect(new Set(gen.codes).size).toBe(50);
      for (const code of gen.codes) expect(code).toMatch(/^SUMMER-\d{4}-[A-Z]{4}$/);
      const seen: string[] = [];
      let after: string | null = null;
      do {
        const page: { items: { code: string; max_uses: number }[]; next_cursor: string | null } = (await get(`/v1/promo/campaigns/${c.id}/codes?limit=20${after ? `&after=${after}` : ''}`)).json();
        expect(page.items.length).toBeLessThanOrEqual(20);
        for (const i of page.items) expect(i.max_uses).toBe(3);
        seen.push(...page.items.map((i) => i.code));
        after = page.next_cursor;
      } while (after);
      expect(seen.sort()).toEqual([...gen.codes].sort());
      const prefixed = await codes(c.id, { count: 5, prefix: 'vip-', length: 8, charset: 'numeric' });
      for (const code of prefixed.codes) expect(code).toMatch(/^VIP-\d{8}$/);
    });

    it('refuses shapes that cannot yield the count, and hand-written codes already taken', async () => {
      const c = await campaign({ name: 'Small', reward: { kind: 'free_shipping' } });
      const small = await post(`/v1/promo/campaigns/${c.id}/codes`, { count: 60, pattern: 'X##' });
      expect(small.statusCode).toBe(400);
      expect(small.json().error.details.errors[0].path).toBe('pattern');
      await codes(c.id, { codes: ['TAKEN1'] });
      const before = await n('SELECT count(*) AS n FROM promo_codes');
      const dup = await post(`/v1/promo/campaigns/${c.id}/codes`, { codes: ['fresh1', 'taken1'] });
      expect(dup.statusCode).toBe(409);
      expect(dup.json().error).toMatchObject({ code: 'CODE_TAKEN', details: { codes: ['TAKEN1'] } });
      expect(await n('SELECT count(*) AS n FROM promo_codes')).toBe(before);
    });
  });

  describe('validate and redeem', () => {
    let c: { id: string };
    beforeAll(async () => {
      await t.inject({ method: 'PUT', url: '/v1/users/u-fr', payload: { attributes: { country: 'FR' } } });
      c = await campaign({ name: 'FR fifty', reward: { kind: 'fixed', amount: 5, currency: 'EUR' }, limits: { total: 10, per_user: 2, budget: 100 }, eligibility: { all: ['payload.order.amount >= 50', 'user.country == "FR"'] } });
      await codes(c.id, { codes: ['FR50'] });
    });

    it('explains every failed condition and changes nothing', async () => {
      const before = await snapshot();
      const res = await post('/v1/promo/validate', { code: 'fr50', user_id: 'u-nobody', order: { amount: 38, currency: 'EUR' } });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({ valid: false, discount: 0, campaign_id: c.id });
      const messages = body.reasons.map((r: { message: string }) => r.message);
      expect(messages).toEqual(expect.arrayContaining(['payload.order.amount is 38, needs >= 50', expect.stringMatching(/^user\.country is .*needs == "FR"/)]));
      expect(body.reasons.every((r: { code: string }) => r.code === 'not_eligible')).toBe(true);
      expect(await snapshot()).toEqual(before);
    });

    it('answers valid with the discount, and the currency decides eligibility', async () => {
      const before = await snapshot();
      const ok = (await post('/v1/promo/validate', { code: 'FR50', user_id: 'u-fr', order: { amount: 60, currency: 'EUR' } })).json();
      expect(ok).toMatchObject({ valid: true, discount: 5, campaign_id: c.id, reasons: [] });
      const usd = (await post('/v1/promo/validate', { code: 'FR50', user_id: 'u-fr', order: { amount: 60, currency: 'USD' } })).json();
      expect(usd.valid).toBe(false);
      expect(usd.reasons.map((r: { code: string }) => r.code)).toEqual(['currency_mismatch']);
      const unknown = (await post('/v1/promo/validate', { code: 'NOPE', user_id: 'u-fr', order: { amount: 60, currency: 'EUR' } })).json();
      expect(unknown.reasons.map((r: { code: string }) => r.code)).toEqual(['code_not_found']);
      expect(await snapshot()).toEqual(before);
    });

    it('refuses a bad body with field paths', async () => {
      const res = await post('/v1/promo/validate', { user_id: '', order: { amount: 12.345, currency: 'eur' } });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.details.errors.map((e: { path: string }) => e.path).sort()).toEqual(['order.amount', 'order.currency', 'user_id']);
      // Declared checkout fields keep their declared type (configs/events.yaml).
      const typed = await post('/v1/promo/validate', { user_id: 'u-fr', order: { amount: 10, currency: 'EUR', items: 'three' } });
      expect(typed.statusCode).toBe(400);
      expect(typed.json().error.details.errors).toEqual([expect.objectContaining({ path: 'order.items' })]);
      const noKey = await post('/v1/promo/redeem', { code: 'FR50', user_id: 'u-fr', order: { amount: 60, currency: 'EUR' } });
      expect(noKey.statusCode).toBe(400);
      expect(noKey.json().error.details.errors[0].path).toBe('headers.idempotency-key');
    });

    it('redeems, replays idempotently, rolls back exactly once', async () => {
      const body = { code: 'FR50', user_id: 'u-fr', order: { id: 'o-1', amount: 60, currency: 'EUR' } };
      const first = await redeem(body, 'redeem-once');
      expect(first.statusCode).toBe(201);
      const r = first.json();
      expect(r).toMatchObject({ status: 'redeemed', discount: 5, campaign_id: c.id, code: 'FR50', order_id: 'o-1', order_amount: 60 });
      const afterFirst = await snapshot();

      const replay = await redeem(body, 'redeem-once');
      expect(replay.statusCode).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.json()).toEqual(r);
      expect(await snapshot()).toEqual(afterFirst);

      const other = await redeem({ ...body, order: { ...body.order, amount: 70 } }, 'redeem-once');
      expect(other.statusCode).toBe(422);
      expect(other.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');

      const usage = (await get(`/v1/promo/campaigns/${c.id}`)).json().usage;
      expect(usage).toMatchObject({ redemptions: 1, budget_spent: 5, budget_left: 95 });
      const mine = (await get('/v1/promo/users/u-fr/redemptions')).json();
      expect(mine.items.map((x: { id: string }) => x.id)).toEqual([r.id]);

      const back = await post(`/v1/promo/redemptions/${r.id}/rollback`, {});
      expect(back.statusCode).toBe(200);
      expect(back.json()).toMatchObject({ status: 'rolled_back', rolled_back_now: true });
      expect((await get(`/v1/promo/campaigns/${c.id}`)).json().usage).toMatchObject({ redemptions: 0, budget_spent: 0, budget_left: 100 });
      expect(await n(`SELECT used AS n FROM promo_codes WHERE code = 'FR50'`)).toBe(0);
      expect(await n(`SELECT used AS n FROM promo_user_usage WHERE campaign_id = $1 AND user_id = 'u-fr'`, [c.id])).toBe(0);
      const afterRollback = await snapshot();
      const twice = await post(`/v1/promo/redemptions/${r.id}/rollback`, {});
      expect(twice.statusCode).toBe(200);
      expect(twice.json()).toMatchObject({ status: 'rolled_back', rolled_back_now: false });
      expect(await snapshot()).toEqual(afterRollback);
      expect((await post('/v1/promo/redemptions/00000000-0000-0000-0000-000000000000/rollback', {})).statusCode).toBe(404);
    });

    it('answers 409 with the reason once the per-user limit is used, and stores that answer under the key', async () => {
      const body = (id: string) => ({ code: 'FR50', user_id: 'u-fr', order: { id, amount: 60, currency: 'EUR' } });
      expect((await redeem(body('o-a'))).statusCode).toBe(201);
      expect((await redeem(body('o-b'))).statusCode).toBe(201);
      const refused = await redeem(body('o-c'), 'third-try');
      expect(refused.statusCode).toBe(409);
      expect(refused.json().error).toMatchObject({ code: 'PER_USER_LIMIT_EXHAUSTED', details: { reasons: [expect.objectContaining({ code: 'per_user_limit_exhausted', campaign_id: c.id })] } });
      // Room again after a rollback, but the key keeps its first answer.
      const mine = (await get('/v1/promo/users/u-fr/redemptions')).json().items.filter((x: { status: string }) => x.status === 'redeemed');
      await post(`/v1/promo/redemptions/${mine[0].id}/rollback`, {});
      const replay = await redeem(body('o-c'), 'third-try');
      expect(replay.statusCode).toBe(409);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect((await redeem(body('o-c'), 'fourth-try')).statusCode).toBe(201);
    });

    it('reports an expired code', async () => {
      await codes(c.id, { codes: ['OLD1'], expires_at: '2020-01-01T00:00:00Z' });
      const v = (await post('/v1/promo/validate', { code: 'OLD1', user_id: 'u-fr', order: { amount: 60, currency: 'EUR' } })).json();
      // Every reason is listed: the code expired, and this user has used up the campaign anyway.
      expect(v.reasons.map((r: { code: string }) => r.code)).toEqual(['code_expired', 'per_user_limit_exhausted']);
      const res = await redeem({ code: 'OLD1', user_id: 'u-fr', order: { amount: 60, currency: 'EUR' } });
      expect(res.statusCode).toBe(409);
      expect(res.json().error.code).toBe('CODE_EXPIRED');
    });
  });

  describe('automatic campaigns and stacking', () => {
    let a: { id: string };
    let b: { id: string };
    let x: { id: string };
    beforeAll(async () => {
      // Campaigns of earlier tests are not automatic; these three are the only ones that apply alone.
      a = await campaign({ name: 'Auto A', auto_apply: true, stacking: 'joinable', priority: 10, reward: { kind: 'fixed', amount: 6, currency: 'GBP' }, eligibility: 'payload.order.amount >= 20' });
      b = await campaign({ name: 'Auto B', auto_apply: true, stacking: 'joinable', priority: 5, reward: { kind: 'percent', percent: 5 }, currency: 'GBP' });
      x = await campaign({ name: 'Auto X', auto_apply: true, stacking: 'exclusive', reward: { kind: 'fixed', amount: 10, currency: 'GBP' }, eligibility: 'payload.order.amount >= 500' });
    });

    it('lists the campaigns that apply and the best combination', async () => {
      const v = (await post('/v1/promo/validate', { user_id: 'u-auto', order: { amount: 100, currency: 'GBP' } })).json();
      expect(v.valid).toBe(true);
      expect(v.applied.map((o: { campaign_id: string }) => o.campaign_id)).toEqual([a.id, b.id]);
      expect(v.discount).toBe(11);
      expect(v.eligible.map((o: { campaign_id: string }) => o.campaign_id).sort()).toEqual([a.id, b.id].sort());
      expect(v.not_eligible).toEqual([{ campaign_id: x.id, name: 'Auto X', reasons: [expect.objectContaining({ message: 'payload.order.amount is 100, needs >= 500' })] }]);
      const big = (await post('/v1/promo/validate', { user_id: 'u-auto', order: { amount: 600, currency: 'GBP' } })).json();
      expect(big.applied.map((o: { campaign_id: string }) => o.campaign_id)).toEqual([a.id, b.id]);
      expect(big.discount).toBe(36);
      const small = (await post('/v1/promo/validate', { user_id: 'u-auto', order: { amount: 4, currency: 'GBP' } })).json();
      expect(small).toMatchObject({ valid: true, discount: 0.2, applied: [expect.objectContaining({ campaign_id: b.id })] });
    });

    it('redeems the best combination without a code, consuming each campaign', async () => {
      const res = await redeem({ user_id: 'u-auto', order: { id: 'auto-1', amount: 100, currency: 'GBP' } });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ discount: 11, lines: [expect.objectContaining({ campaign_id: a.id, discount: 6 }), expect.objectContaining({ campaign_id: b.id, discount: 5 })] });
      expect((await get(`/v1/promo/campaigns/${a.id}`)).json().usage).toMatchObject({ redemptions: 1, budget_spent: 6 });
      expect((await get(`/v1/promo/campaigns/${b.id}`)).json().usage).toMatchObject({ redemptions: 1, budget_spent: 5 });
      expect((await post(`/v1/promo/redemptions/${res.json().id}/rollback`, {})).json().rolled_back_now).toBe(true);
      expect((await get(`/v1/promo/campaigns/${a.id}`)).json().usage).toMatchObject({ redemptions: 0, budget_spent: 0 });
    });

    it('reports eligible campaigns in the event pipeline without consuming anything', async () => {
      const before = await snapshot();
      const res = await post('/v1/events', { id: `checkout-${mode}`, type: 'checkout', user_id: 'u-auto', payload: { order: { id: 'p-1', amount: 100, currency: 'GBP' }, coupon: 'fr50' } });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.matched).toEqual(expect.arrayContaining([{ rule_id: 'big_basket', domain: 'promo' }]));
      const promo = body.domains.promo;
      expect(promo.eligible.map((o: { campaign_id: string }) => o.campaign_id).sort()).toEqual([a.id, b.id].sort());
      expect(promo.best).toMatchObject({ campaign_ids: [a.id, b.id], discount: 11 });
      // FR50 is for French users paying in EUR: the coupon is reported, with why it does not apply.
      expect(promo.coupon).toMatchObject({ code: 'FR50', valid: false });
      expect(promo.coupon.reasons.map((r: { code: string }) => r.code)).toContain('currency_mismatch');
      expect(await snapshot()).toEqual(before);
    });
  });

  describe('points rewards', () => {
    it('refuses a date the calendar does not have instead of moving it', async () => {
      const res = await t.inject({ method: 'POST', url: '/v1/promo/campaigns', payload: { name: 'Feb', ends_at: '2027-02-30T00:00:00Z', reward: { kind: 'free_shipping' } } });
      expect([res.statusCode, res.json().error.details.errors[0].path]).toEqual([400, 'ends_at']);
    });

    it('refuses a points reward reward_points could never award', async () => {
      for (const points of [0.001, 1e17, 1e308]) {
        const res = await t.inject({ method: 'POST', url: '/v1/promo/campaigns', payload: { name: 'Points', reward: { kind: 'points', points } } });
        expect([points, res.statusCode, res.json().error.details.errors[0].path]).toEqual([points, 400, 'reward.points']);
      }
    });

    it('grants points through growth\'s reward_points action, once per redemption', async () => {
      const c = await campaign({ name: 'Points', reward: { kind: 'points', points: 50 } });
      await codes(c.id, { codes: ['POINTS50'] });
      const body = { code: 'POINTS50', user_id: 'u-points', order: { amount: 20, currency: 'EUR' } };
      const res = await redeem(body, 'points-once');
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ discount: 0, points: 50, points_grant: { status: 'succeeded', action: 'reward_points' } });
      const replay = await redeem(body, 'points-once');
      expect(replay.json()).toEqual(res.json());
      expect((await get('/v1/growth/users/u-points/points')).json()).toMatchObject({ balance: 50 });
    });
  });

  describe('fraud', () => {
    it('refuses a checkout fraud declines, on validate and redeem', async () => {
      const c = await campaign({ name: 'Anyone', reward: { kind: 'percent', percent: 1 } });
      await codes(c.id, { codes: ['ANYONE'] });
      const body = { code: 'ANYONE', user_id: 'u-risky', order: { amount: 9500, currency: 'EUR' } };
      const v = (await post('/v1/promo/validate', body)).json();
      // libs/fraud computes the decision for this (unstored) checkout: amount > 9000 declines.
      expect(t.app.get(FactRegistry).lookup('fraud.outcome')).toBeDefined();
      expect(v.fraud).toMatchObject({ available: true, outcome: 'decline', score: 100 });
      expect(v.valid).toBe(false);
      expect(v.reasons).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'fraud_declined' })]));
      const before = await snapshot();
      const res = await redeem(body);
      expect(res.statusCode).toBe(409);
      expect(res.json().error.code).toBe('FRAUD_DECLINED');
      const after = await snapshot();
      expect(after[0].campaigns).toEqual(before[0].campaigns);
      expect(after[0].redemptions).toEqual(before[0].redemptions);
      // The same order under the threshold goes through.
      expect((await redeem({ ...body, order: { amount: 90, currency: 'EUR' } })).statusCode).toBe(201);
    });
  });
});
