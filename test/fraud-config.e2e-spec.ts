import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bootApi, configDir, runnable, type Mode, type TestApp } from './support/harness';

// The shipped configuration (configs/fraud.yaml and configs/rules/*.yaml) and the edges of the
// rule model: actions of live and shadow fraud rules, a fraud rule reading fraud.*, a bad outcome.
describe.each<Mode>(runnable('embedded', 'postgres'))('fraud configuration on %s', (mode) => {
  describe('the shipped example rules', () => {
    let t: TestApp;
    let cfg: Awaited<ReturnType<typeof configDir>>;
    // The shipped fraud files alone, so another domain's example rules cannot make this suite fail.
    beforeAll(async () => {
      const shipped = join(__dirname, '..', 'configs');
      cfg = await configDir({ rules: { 'fraud.yaml': await readFile(join(shipped, 'rules', 'fraud.yaml'), 'utf8') } });
      await writeFile(join(cfg.dir, 'fraud.yaml'), await readFile(join(shipped, 'fraud.yaml'), 'utf8'));
      t = await bootApi(mode, { CONFIG_DIR: cfg.dir, RULES_WATCH: 'false' });
    });
    afterAll(async () => {
      await t?.close();
      await cfg?.cleanup();
    });
    let n = 0;
    const event = async (type: string, user: string, payload: Record<string, unknown>) => {
      const res = await t.inject({ method: 'POST', url: '/v1/events', payload: { id: `ship-${mode}-${++n}`, type, user_id: user, payload } });
      expect(res.statusCode).toBe(200);
      return res.json();
    };

    it('flag more than 5 top-ups in 10 minutes (topup review threshold from configs/fraud.yaml: 40)', async () => {
      const outcomes: string[] = [];
      for (let i = 0; i < 6; i++) outcomes.push((await event('topup', 'ship-vel', { amount: 10 })).fraud.outcome);
      expect(outcomes).toEqual(['approve', 'approve', 'approve', 'approve', 'approve', 'review']);
    });

    it('decline a blocked card BIN', async () => {
      await t.inject({ method: 'PUT', url: '/v1/fraud/lists/blocked_card_bins', payload: { kind: 'block', items: ['411111'] } });
      const r = await event('topup', 'ship-bin', { amount: 10, card_bin: '411111' });
      expect(r.fraud).toMatchObject({ outcome: 'decline' });
      expect(r.matched).toContainEqual({ rule_id: 'blocked_card_bin', domain: 'fraud' });
      expect((await event('topup', 'ship-bin', { amount: 10, card_bin: '522222' })).fraud.outcome).toBe('approve');
    });

    it('score an amount far above the user\'s average', async () => {
      const first = await event('transaction', 'ship-anom', { amount: 1000 });
      expect(first.matched).not.toContainEqual({ rule_id: 'amount_anomaly', domain: 'fraud' });
      for (let i = 0; i < 3; i++) await event('transaction', 'ship-anom2', { amount: 10 });
      const r = await event('transaction', 'ship-anom2', { amount: 1000 });
      expect(r.matched).toContainEqual({ rule_id: 'amount_anomaly', domain: 'fraud' });
      expect(r.fraud).toMatchObject({ score: 60, outcome: 'review' });
      const normal = await event('transaction', 'ship-anom2', { amount: 12 });
      expect(normal.matched).not.toContainEqual({ rule_id: 'amount_anomaly', domain: 'fraud' });
    });
  });

  describe('rule edges', () => {
    let t: TestApp;
    let cfg: Awaited<ReturnType<typeof configDir>>;
    beforeAll(async () => {
      cfg = await configDir({
        rules: {
          'fraud.yaml': `
rules:
  - id: tag_risky
    domain: fraud
    on: transaction
    when: payload.amount > 100
    score: 10
    then:
      - action: set_user_attribute
        params: { attribute: segment, value: risky }
  - id: shadow_tag
    domain: fraud
    on: transaction
    mode: shadow
    when: payload.amount > 100
    score: 10
    then:
      - action: set_user_attribute
        params: { attribute: tags, value: [shadowed] }
  - id: reads_itself
    domain: fraud
    on: refund
    when: fraud.score > 10
    score: 90
  - id: odd_outcome
    domain: fraud
    on: login
    when: payload.country == "XX"
    score: 1
    outcome: block
`,
        },
      });
      t = await bootApi(mode, { CONFIG_DIR: cfg.dir, RULES_WATCH: 'false' });
    });
    afterAll(async () => {
      await t?.close();
      await cfg?.cleanup();
    });

    it('runs the actions of live fraud rules, never those of shadow rules', async () => {
      const res = (await t.inject({ method: 'POST', url: '/v1/events', payload: { type: 'transaction', user_id: 'edge-1', payload: { amount: 500 } } })).json();
      expect(res.actions).toEqual([expect.objectContaining({ rule_id: 'tag_risky', action: 'set_user_attribute', status: 'succeeded' })]);
      const user = (await t.inject({ method: 'GET', url: '/v1/users/edge-1' })).json();
      expect(user.attributes.segment).toBe('risky');
      expect(user.attributes.tags).toBeUndefined();
    });

    it('a fraud rule reading fraud.* fails its leaf (reported) instead of waiting for itself', async () => {
      const res = (await t.inject({ method: 'POST', url: '/v1/events', payload: { type: 'refund', user_id: 'edge-2', payload: { amount: 5 } } })).json();
      expect(res.fraud).toMatchObject({ outcome: 'approve', score: 0 });
      expect(res.errors).toContainEqual(expect.objectContaining({ fact: 'fraud.score', message: expect.stringContaining('fraud rules cannot read fraud.score') }));
    });

    it('ignores an outcome that is not approve/review/decline and says so', async () => {
      const res = (await t.inject({ method: 'POST', url: '/v1/events', payload: { type: 'login', user_id: 'edge-3', payload: { country: 'XX' } } })).json();
      expect(res.fraud.outcome).toBe('approve');
      expect(res.fraud.reasons).toContainEqual(expect.objectContaining({ code: 'invalid_outcome', rule_id: 'odd_outcome' }));
    });
  });

  it('refuses to boot on a bad fraud.yaml, naming the value', async () => {
    const cfg = await configDir({});
    await writeFile(join(cfg.dir, 'fraud.yaml'), 'thresholds:\n  default: { review: 90, decline: 10 }\n');
    try {
      await expect(bootApi(mode, { CONFIG_DIR: cfg.dir, RULES_WATCH: 'false' })).rejects.toThrow('fraud.yaml thresholds.default: review (90) must not be above decline (10)');
    } finally {
      await cfg.cleanup();
    }
  });
});
