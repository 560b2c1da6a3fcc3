import { Injectable, Module } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { parse } from 'yaml';
import { carriedRead, createHttpApp, loadConfig, shutdownApp, type ReadKind } from '@arbiter/platform';
import { CatalogueService, EventLogService, Fact, FactsService, UserService } from '@arbiter/facts';
import { compileRules, type RuleDocument, type RuleEvent, type RuleSet } from '@arbiter/rules';
import { currentSession, runInSession } from '@arbiter/session';
import { AppModule } from '../apps/api/src/app.module';
import { LoyaltyExampleModule } from '../apps/api/src/examples/loyalty-tier.fact';
import { environment, type Mode } from './support/harness';

const DAY = 86_400_000;

/** Test-only facts: one that counts its calls, one that throws, two that never answer. */
@Injectable()
class ProbeFacts {
  calls = 0;

  @Fact({ name: 'probe.calls', type: 'number', cost: 1 })
  probe(): Promise<number> {
    this.calls++;
    return new Promise((resolve) => setImmediate(() => resolve(this.calls)));
  }

  @Fact({ name: 'probe.sync', type: 'number', cache: 'none' })
  sync(): number {
    return 7;
  }

  @Fact({ name: 'probe.broken', type: 'number' })
  broken(): Promise<number> {
    return Promise.reject(new Error('upstream said no'));
  }

  @Fact({ name: 'probe.hangs', type: 'number', timeoutMs: 30 })
  hangs(): Promise<number> {
    return new Promise(() => undefined);
  }

  @Fact({ name: 'probe.hangs_with_fallback', type: 'number', fallback: 0 })
  hangsWithFallback(): Promise<number> {
    return new Promise(() => undefined);
  }
}

@Module({ providers: [ProbeFacts], exports: [ProbeFacts] })
class ProbeModule {}

@Module({})
class Root {}

interface Booted {
  app: Awaited<ReturnType<typeof createHttpApp>>;
  inject: Booted['app']['inject'];
  facts: FactsService;
  events: EventLogService;
  users: UserService;
  catalogue: CatalogueService;
  probe: ProbeFacts;
  queries: string[];
  close(): Promise<void>;
}

/** The real API plus the example module and the probe facts, on private storage; counts every SQL query. */
async function boot(mode: Mode): Promise<Booted> {
  const env = await environment(mode, { FACT_TIMEOUT_MS: '200' });
  const config = loadConfig(env.env);
  const app = await createHttpApp({ module: Root, imports: [AppModule.forRoot(config), LoyaltyExampleModule, ProbeModule] }, config);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const queries: string[] = [];
  const logger = app.get(DataSource).logger;
  const original = logger.logQuery.bind(logger);
  logger.logQuery = (query, parameters, runner) => {
    // A grouped window query carries one item per ask: record each, so grouping never hides a
    // second computation of the same fact.
    const asks = /WITH ORDINALITY AS q\(k, u, t, f, s, i\)/.test(query) && Array.isArray((parameters as unknown[] | undefined)?.[0]) ? ((parameters as unknown[][])[0]).length : 1;
    for (let i = 0; i < asks; i++) queries.push(query);
    return original(query, parameters, runner);
  };
  return {
    app,
    inject: app.inject.bind(app),
    facts: app.get(FactsService),
    events: app.get(EventLogService),
    users: app.get(UserService),
    catalogue: app.get(CatalogueService),
    probe: app.get(ProbeFacts),
    queries,
    async close() {
      await shutdownApp(app);
      await env.cleanup();
    },
  };
}

// Window aggregates (events_count and friends): one entry per ask, grouped or not.
const countQueries = (queries: string[]) => queries.filter((q) => /WITH ORDINALITY AS q\(k, u, t, f, s, i\)/.test(q)).length;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

function compile(t: Booted, doc: RuleDocument): RuleSet {
  const catalogue = t.catalogue;
  const result = compileRules(doc, catalogue.catalogue());
  if (!result.ok) throw new Error(result.errors.map((e) => e.message).join('\n'));
  return result.value;
}

describe.each<Mode>(['embedded', 'postgres'])('facts (%s, the real app)', (mode) => {
  let t: Booted;
  beforeAll(async () => {
    t = await boot(mode);
  });
  afterAll(() => t?.close());

  describe('users API', () => {
    it('creates with PUT (201), replaces with PUT (200), merges with PATCH (null removes) and reads with GET', async () => {
      const created = await t.inject({ method: 'PUT', url: '/v1/users/u-api', payload: { attributes: { country: 'FR', vip: true, tags: ['a'] } } });
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({ id: 'u-api', attributes: { country: 'FR', vip: true, tags: ['a'] } });
      const replaced = await t.inject({ method: 'PUT', url: '/v1/users/u-api', payload: { attributes: { country: 'DE' } } });
      expect(replaced.statusCode).toBe(200);
      expect(replaced.json().attributes).toEqual({ country: 'DE' });
      const patched = await t.inject({ method: 'PATCH', url: '/v1/users/u-api', payload: { attributes: { vip: false, signup_at: '2024-01-31T10:00:00Z' } } });
      expect(patched.json()).toMatchObject({ id: 'u-api' });
      expect(patched.statusCode).toBe(200);
      expect(patched.json().attributes).toEqual({ country: 'DE', vip: false, signup_at: '2024-01-31T10:00:00Z' });
      const removed = await t.inject({ method: 'PATCH', url: '/v1/users/u-api', payload: { attributes: { country: null } } });
      expect(removed.json().attributes).toEqual({ vip: false, signup_at: '2024-01-31T10:00:00Z' });
      const got = await t.inject({ method: 'GET', url: '/v1/users/u-api' });
      expect(got.statusCode).toBe(200);
      expect(got.json()).toMatchObject({ id: 'u-api', attributes: { vip: false }, created_at: expect.any(String), updated_at: expect.any(String) });
    });

    it('patch with createIfMissing creates the user, then merges atomically', async () => {
      const created = await t.users.patch('u-upsert', { country: 'FR', vip: null }, { createIfMissing: true });
      expect(created.attributes).toEqual({ country: 'FR' });
      await Promise.all([t.users.patch('u-upsert', { vip: true }, { createIfMissing: true }), t.users.patch('u-upsert', { tags: ['x'] }, { createIfMissing: true })]);
      expect((await t.users.get('u-upsert'))!.attributes).toEqual({ country: 'FR', vip: true, tags: ['x'] });
    });

    it('merges concurrent creating writes of many users, several to one user, in the order they were made', async () => {
      // Concurrent calls share one statement; a user written twice in that group is written in rounds.
      await t.users.put('u-many-a', { country: 'DE', segment: 'old' });
      const writes = [
        t.users.patch('u-many-a', { segment: null, vip: true }, { createIfMissing: true }),
        t.users.patch('u-many-b', { country: 'FR' }, { createIfMissing: true }),
        t.users.patch('u-many-a', { vip: false, tags: ['t'] }, { createIfMissing: true }),
        t.users.patch('u-many-c', { lifetime_value: 3 }, { createIfMissing: true }),
        t.users.patch('u-many-a', { country: 'IT' }, { createIfMissing: true }),
      ];
      const answers = await Promise.all(writes);
      expect(answers.map((u) => u.id)).toEqual(['u-many-a', 'u-many-b', 'u-many-a', 'u-many-c', 'u-many-a']);
      expect(answers[0].attributes).toEqual({ country: 'DE', vip: true });
      expect(answers[4].attributes).toEqual({ country: 'IT', vip: false, tags: ['t'] });
      expect((await t.users.get('u-many-a'))!.attributes).toEqual({ country: 'IT', vip: false, tags: ['t'] });
      expect((await t.users.get('u-many-b'))!.attributes).toEqual({ country: 'FR' });
      expect((await t.users.get('u-many-c'))!.attributes).toEqual({ lifetime_value: 3 });
    });

    it('answers a value of the wrong type with a 400 naming the attribute, and changes nothing', async () => {
      await t.inject({ method: 'PUT', url: '/v1/users/u-typed', payload: { attributes: { country: 'FR' } } });
      for (const method of ['PUT', 'PATCH'] as const) {
        const res = await t.inject({ method, url: '/v1/users/u-typed', payload: { attributes: { country: 'IT', vip: 'yes', tags: ['ok', 3] } } });
        expect(res.statusCode).toBe(400);
        expect(res.json().error.code).toBe('VALIDATION_FAILED');
        expect(res.json().error.details.errors).toEqual([
          { path: 'attributes.vip', message: 'must be true or false, got string "yes"' },
          { path: 'attributes.tags[1]', message: 'must be a string, got number 3' },
        ]);
      }
      const undeclared = await t.inject({ method: 'PATCH', url: '/v1/users/u-typed', payload: { attributes: { contry: 'IT' } } });
      expect(undeclared.statusCode).toBe(400);
      expect(undeclared.json().error.details.errors[0].path).toBe('attributes.contry');
      expect((await t.inject({ method: 'GET', url: '/v1/users/u-typed' })).json().attributes).toEqual({ country: 'FR' });
    });

    it('answers bad bodies and ids with 400, unknown users with 404', async () => {
      expect((await t.inject({ method: 'PUT', url: '/v1/users/u-x', payload: { country: 'FR' } })).json().error.details.errors[0].path).toBe('country');
      expect((await t.inject({ method: 'PUT', url: '/v1/users/u-x', payload: { attributes: [1] } })).statusCode).toBe(400);
      expect((await t.inject({ method: 'GET', url: '/v1/users/bad%20id' })).json().error.details.errors[0].path).toBe('id');
      expect((await t.inject({ method: 'GET', url: '/v1/users/nobody' })).statusCode).toBe(404);
      expect((await t.inject({ method: 'PATCH', url: '/v1/users/nobody', payload: { attributes: { vip: true } } })).statusCode).toBe(404);
    });

    it('DELETE erases the user and all of their events', async () => {
      await t.inject({ method: 'PUT', url: '/v1/users/u-gone', payload: { attributes: { country: 'FR' } } });
      await t.events.append({ id: 'gone-1', user_id: 'u-gone', type: 'login', payload: {} });
      await t.events.append({ id: 'gone-2', user_id: 'u-gone', type: 'topup', payload: { amount: 5 } });
      await t.events.append({ id: 'gone-3', user_id: 'u-gone', type: 'topup', payload: { amount: 6 } });
      await t.events.append({ id: 'kept-1', user_id: 'u-other', type: 'topup', payload: { amount: 5 } });
      const res = await t.inject({ method: 'DELETE', url: '/v1/users/u-gone' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ id: 'u-gone', deleted: { user: true, events: 3 } });
      expect((await t.inject({ method: 'GET', url: '/v1/users/u-gone' })).statusCode).toBe(404);
      expect(await t.events.find('gone-1')).toBeUndefined();
      expect(await t.events.forUser('u-gone')).toEqual([]);
      expect(await t.events.find('kept-1')).toMatchObject({ user_id: 'u-other' });
    });
  });

  describe('event log', () => {
    it('appends once per id and reports the duplicate', async () => {
      const first = await t.events.append({ id: 'dup-1', user_id: 'u-dup', type: 'topup', occurred_at: '2024-05-01T12:00:00Z', payload: { amount: 10 } });
      const again = await t.events.append({ id: 'dup-1', user_id: 'u-dup', type: 'topup', payload: { amount: 999 } });
      expect(first.inserted).toBe(true);
      expect(again).toEqual({ inserted: false, event: first.event });
      expect(first.event).toMatchObject({ id: 'dup-1', occurred_at: '2024-05-01T12:00:00.000Z', payload: { amount: 10 }, source: 'api' });
    });

    it('runs the reads an append carries in its own statement, and settles them with its error when it fails', async () => {
      // Each ask gets its parts back, none or many, and only its own, whichever asks share the statement.
      const echo: ReadKind<{ word: string; times: number }, string[]> = {
        name: 'test_echo',
        query: (asks, first) => ({
          text: `SELECT a.i::int, json_build_object('w', a.w, 'n', g) FROM unnest($${first}::text[], $${first + 1}::int[]) WITH ORDINALITY AS a(w, n, i), generate_series(1, a.n) AS g`,
          values: [asks.map((a) => a.word), asks.map((a) => a.times)],
        }),
        answer: (asks, parts) => asks.map((_, i) => parts.filter((p) => p.i === i + 1).map((p) => `${(p.doc as { w: string }).w}${(p.doc as { n: number }).n}`)),
      };
      t.queries.length = 0;
      const a = carriedRead(echo, { word: 'a', times: 2 });
      const b = carriedRead(echo, { word: 'b', times: 0 });
      const c = carriedRead(echo, { word: 'c', times: 1 });
      const [first, second] = await Promise.all([
        t.events.append({ id: 'reads-1', user_id: 'u-reads', type: 'topup', payload: { amount: 1 } }, undefined, { reads: [a.read, b.read] }),
        t.events.append({ id: 'reads-2', user_id: 'u-reads', type: 'topup', payload: { amount: 2 } }, undefined, { reads: [c.read] }),
      ]);
      expect([first.inserted, second.inserted]).toEqual([true, true]);
      expect(await Promise.all([a.answer, b.answer, c.answer])).toEqual([['a1', 'a2'], [], ['c1']]);
      const echoed = t.queries.filter((q) => /generate_series/.test(q));
      expect(echoed.length).toBeGreaterThan(0);
      expect(echoed.filter((q) => !/INSERT INTO events/.test(q))).toEqual([]);
      // An append that fails (here before any statement) answers its reads with its error.
      const failed = carriedRead(echo, { word: 'x', times: 1 });
      const append = t.events.append({ id: 'reads-3', user_id: 'u-reads', type: 'topup', occurred_at: 'not a time', payload: {} }, undefined, { reads: [failed.read] });
      await expect(append).rejects.toThrow(/occurred_at is not a valid timestamp/);
      await expect(failed.answer).rejects.toThrow(/occurred_at is not a valid timestamp/);
    });

    it('validates payloads against events.yaml: wrong declared types listed, undeclared fields allowed', () => {
      expect(t.catalogue.validatePayload('checkout', { order: { amount: 10, currency: 'EUR' }, anything: [1] })).toEqual([]);
      expect(t.catalogue.validatePayload('checkout', { order: { amount: '10' }, coupon: 3 })).toEqual([
        { path: 'payload.order.amount', message: 'must be a number, got string "10"' },
        { path: 'payload.coupon', message: 'must be a string, got number 3' },
      ]);
      expect(t.catalogue.isDeclared('transaction')).toBe(true);
    });
  });

  describe('built-in facts and aliases', () => {
    const user = 'u-facts';
    beforeAll(async () => {
      await t.users.put(user, { country: 'FR' });
      await t.events.append({ id: 'f-1', user_id: user, type: 'topup', occurred_at: ago(2 * DAY), payload: { amount: 10, method: 'card' } });
      await t.events.append({ id: 'f-2', user_id: user, type: 'topup', occurred_at: ago(DAY), payload: { amount: 15.5, method: 'iban' } });
      await t.events.append({ id: 'f-3', user_id: user, type: 'topup', occurred_at: ago(40 * DAY), payload: { amount: 100, method: 'card' } });
      await t.events.append({ id: 'f-4', user_id: user, type: 'topup', occurred_at: ago(3 * DAY), payload: { amount: 'n/a', method: null } });
      await t.events.append({ id: 'f-5', user_id: user, type: 'checkout', occurred_at: ago(DAY), payload: { order: { amount: 80, currency: 'EUR' } } });
      await t.events.append({ id: 'f-6', user_id: 'someone-else', type: 'topup', occurred_at: ago(DAY), payload: { amount: 1000 } });
    });

    it('evaluates named facts, aliases, calls, attributes and now on GET /v1/users/:id/facts', async () => {
      const names = [
        'topup_count_30d',
        'events_count(type: "topup")',
        'events_sum(type: "topup", field: "amount", within: 30d)',
        'events_sum(type: "checkout", field: "order.amount")',
        'events_distinct(type: "topup", field: "method", within: 30d)',
        'last_event_at(type: "checkout")',
        'last_event_at(type: "refund")',
        'first_seen_at',
        'user.country',
        'now',
      ];
      const res = await t.inject({ method: 'GET', url: `/v1/users/${user}/facts?names=${encodeURIComponent(names.join(','))}` });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.errors).toEqual([]);
      const value = (n: string) => body.facts[n].value;
      expect(value('topup_count_30d')).toBe(3);
      expect(value('events_count(type: "topup")')).toBe(4);
      expect(value('events_sum(type: "topup", field: "amount", within: 30d)')).toBe(25.5);
      expect(value('events_sum(type: "checkout", field: "order.amount")')).toBe(80);
      expect(value('events_distinct(type: "topup", field: "method", within: 30d)')).toBe(2);
      expect(Date.parse(value('last_event_at(type: "checkout")'))).toBeGreaterThan(Date.now() - 2 * DAY);
      expect(value('last_event_at(type: "refund")')).toBeNull();
      expect(Date.parse(value('first_seen_at'))).toBeLessThan(Date.now() - 39 * DAY);
      expect(body.facts['user.country']).toEqual({ type: 'string', value: 'FR' });
      expect(body.facts.now.type).toBe('timestamp');
    });

    it('answers unknown facts and bad calls with a 400 listing each', async () => {
      const res = await t.inject({ method: 'GET', url: `/v1/users/${user}/facts?names=${encodeURIComponent('nope,events_count(type: 3),user.shoe_size')}` });
      expect(res.statusCode).toBe(400);
      const messages = res.json().error.details.errors.map((e: { message: string }) => e.message);
      expect(messages).toEqual([expect.stringMatching(/unknown fact "nope"/), expect.stringMatching(/parameter "type" of "events_count" must be string/), expect.stringMatching(/"user.shoe_size" is not a declared user attribute/)]);
      expect((await t.inject({ method: 'GET', url: `/v1/users/${user}/facts` })).statusCode).toBe(400);
    });

    it('an alias and the call it stands for are one computation in one request (counted on the database)', async () => {
      t.queries.length = 0;
      const res = await t.inject({ method: 'GET', url: `/v1/users/${user}/facts?names=${encodeURIComponent('topup_count_30d,events_count(type: "topup", within: 30d),events_count(within: 30d, type: "topup")')}` });
      expect(res.statusCode).toBe(200);
      expect(Object.values(res.json().facts).map((f) => (f as { value: unknown }).value)).toEqual([3, 3, 3]);
      expect(countQueries(t.queries)).toBe(1);
      t.queries.length = 0;
      await t.inject({ method: 'GET', url: `/v1/users/${user}/facts?names=topup_count_30d` });
      expect(countQueries(t.queries)).toBe(1); // a new request is a new session
    });
  });

  describe('memoisation across the three domains', () => {
    const user = 'u-memo';
    const doc: RuleDocument = {
      rules: [
        { id: 'fraud-velocity', domain: 'fraud', on: 'topup', when: 'topup_count_30d >= 3', outcome: 'review', then: [] },
        { id: 'promo-regular', domain: 'promo', on: 'topup', when: 'events_count(type: "topup", within: 30d) >= 2 and payload.amount > 10', then: [] },
        { id: 'growth-fr', domain: 'growth', on: 'topup', when: { all: [{ fact: 'user.country', op: '==', value: 'FR' }, { fact: 'topup_count_30d', op: '>=', value: 1 }] }, then: [] },
      ],
    };
    const event: RuleEvent = { id: 'm-3', type: 'topup', user_id: user, occurred_at: new Date().toISOString(), payload: { amount: 20 } };
    let rules: RuleSet;
    beforeAll(async () => {
      await t.users.put(user, { country: 'FR' });
      for (const i of [1, 2, 3]) await t.events.append({ id: `m-${i}`, user_id: user, type: 'topup', occurred_at: ago(i * 1000), payload: { amount: 20 } });
      rules = compile(t, doc);
    });

    it('computes a fact once per session when fraud, promo and growth all use it, even at the same moment', async () => {
      t.queries.length = 0;
      const outcome = await runInSession({ requestId: 'memo-1', userId: user }, async () => {
        const inputs = await t.facts.evaluationInputs(user);
        // The three domains at the same moment: both leaves' first asks share one promise.
        const results = await Promise.all(['fraud', 'promo', 'growth'].map((domain) => rules.evaluate(event, { ...inputs, domain })));
        // Again, later in the same call: the settled value comes back synchronously.
        const again = t.facts.resolve('topup_count_30d', {}, event);
        const direct = t.facts.resolve('events_count', { within: 30 * DAY, type: 'topup' }, event);
        return { matches: results.map((r) => r.matches.map((m) => m.ruleId)), errors: results.flatMap((r) => r.errors), again, direct };
      });
      expect(outcome.errors).toEqual([]);
      expect(outcome.matches).toEqual([['fraud-velocity'], ['promo-regular'], ['growth-fr']]);
      expect(outcome).toMatchObject({ again: 3, direct: 3 });
      expect(countQueries(t.queries)).toBe(1);
      expect(t.queries.filter((q) => /FROM users WHERE id/.test(q))).toHaveLength(1);
    });

    it('reads the user of a processed event in the statement that appends it, once for every domain', async () => {
      await t.users.put('u-append', { kyc_verified: true });
      t.queries.length = 0;
      const res = await t.inject({ method: 'POST', url: '/v1/events', payload: { id: 'append-1', type: 'transaction', user_id: 'u-append', payload: { amount: 10 } } });
      expect(res.statusCode).toBe(200);
      // The shipped fraud rules read user.kyc_verified: the decision records what they saw.
      expect(res.json().domains.fraud.facts['user.kyc_verified']).toBe(true);
      const userReads = t.queries.filter((q) => /FROM users WHERE id/.test(q));
      expect(userReads).toHaveLength(1);
      expect(userReads[0]).toMatch(/INSERT INTO events/);
      // So does fraud's read of the user's snoozes and allow lists (the shipped fraud rules listen to transactions).
      const overrides = t.queries.filter((q) => /fraud_snoozes/.test(q));
      expect(overrides).toHaveLength(1);
      expect(overrides[0]).toMatch(/INSERT INTO events/);
    });

    it("reads the event-log windows its type's rules read in the statement that appends the event, counting that event once", async () => {
      const put = await t.inject({
        method: 'PUT',
        url: '/v1/rules/prefetch-e2e',
        payload: { domain: 'growth', on: ['topup'], when: 'events_count(type: "topup", within: 1h) == 2 and events_sum(type: "topup", field: "amount", within: 1h) == 30', then: [] },
      });
      expect(put.statusCode).toBe(201);
      const post = (id: string, amount: number) => t.inject({ method: 'POST', url: '/v1/events', payload: { id, type: 'topup', user_id: 'u-prefetch', payload: { amount } } });
      const matched = (res: Awaited<ReturnType<typeof post>>) => res.json().matched.some((m: { rule_id: string }) => m.rule_id === 'prefetch-e2e');
      try {
        const first = await post('prefetch-1', 10);
        expect(matched(first)).toBe(false);
        t.queries.length = 0;
        const second = await post('prefetch-2', 20);
        expect(second.statusCode).toBe(200);
        // Two topups of 10 and 20 within the hour: the event being processed counts, once.
        expect(matched(second)).toBe(true);
        const windowReads = t.queries.filter((q) => /AS q\(k, u, t, f, s, i\)/.test(q));
        expect(windowReads.length).toBeGreaterThan(0);
        for (const q of windowReads) expect(q).toMatch(/INSERT INTO events/);
        // A repeat is answered from the stored result: still one match, nothing counted twice.
        const again = await post('prefetch-2', 20);
        expect(again.json()).toMatchObject({ duplicate: true, matched: second.json().matched });
        const metrics = await t.inject({ method: 'GET', url: '/metrics' });
        expect(metrics.body).toMatch(/arbiter_fact_prefetched_total\{fact="events_sum"\} [1-9]/);
      } finally {
        await t.inject({ method: 'DELETE', url: '/v1/rules/prefetch-e2e' });
      }
    });

    it('shares one in-flight computation between concurrent askers and memoises per session only', async () => {
      const before = t.probe.calls;
      const values = await runInSession({ requestId: 'memo-2' }, () => Promise.all([1, 2, 3].map(() => t.facts.resolve('probe.calls', {}, event))));
      expect(new Set(values).size).toBe(1);
      expect(t.probe.calls).toBe(before + 1);
      await runInSession({ requestId: 'memo-3' }, () => t.facts.resolve('probe.calls', {}, event));
      expect(t.probe.calls).toBe(before + 2);
      // Outside a session nothing is cached.
      t.queries.length = 0;
      expect(currentSession()).toBeUndefined();
      await t.facts.resolve('topup_count_30d', {}, event);
      await t.facts.resolve('topup_count_30d', {}, event);
      expect(countQueries(t.queries)).toBe(2);
    });

    it('counts memo hits in the metrics, labelled by fact', async () => {
      const res = await t.inject({ method: 'GET', url: '/metrics' });
      expect(res.body).toMatch(/arbiter_fact_memo_hits_total\{fact="events_count"\} [1-9]/);
      expect(res.body).toMatch(/arbiter_fact_duration_seconds_count\{fact="events_count",outcome="ok"\} [1-9]/);
    });
  });

  describe('resilience', () => {
    const event: RuleEvent = { id: 'r-1', type: 'topup', user_id: 'u-res', occurred_at: new Date().toISOString(), payload: { amount: 20 } };

    it('reports a failed fact in an event response without the error inside it', async () => {
      const put = await t.inject({ method: 'PUT', url: '/v1/rules/uses-broken-e2e', payload: { domain: 'growth', on: ['topup'], when: 'probe.broken > 0', then: [] } });
      expect(put.statusCode).toBe(201);
      const res = await t.inject({ method: 'POST', url: '/v1/events', payload: { type: 'topup', user_id: 'u-broken', payload: { amount: 1 } } });
      expect(res.statusCode).toBe(200);
      expect(res.json().errors).toContainEqual(expect.objectContaining({ fact: 'probe.broken', message: 'fact "probe.broken" failed (details in the log)' }));
      expect(res.body).not.toContain('upstream said no');
      await t.inject({ method: 'DELETE', url: '/v1/rules/uses-broken-e2e' });
    });

    it('a failing or timed-out fact makes its leaf false and is reported; other rules still run', async () => {
      const rules = compile(t, {
        rules: [
          { id: 'uses-broken', domain: 'fraud', on: 'topup', when: 'probe.broken > 0 or probe.broken <= 0', then: [] },
          { id: 'uses-hang', domain: 'fraud', on: 'topup', when: 'probe.hangs >= 0', then: [] },
          { id: 'uses-fallback', domain: 'fraud', on: 'topup', when: 'probe.hangs_with_fallback == 0', then: [] },
          { id: 'fine', domain: 'fraud', on: 'topup', when: 'payload.amount > 10 and probe.sync == 7', then: [] },
        ],
      });
      const result = await runInSession({ requestId: 'res-1' }, () => rules.evaluate(event, { resolver: t.facts }));
      expect(result.matches.map((m) => m.ruleId).sort()).toEqual(['fine', 'uses-fallback']);
      expect(result.errors).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ kind: 'fact', fact: 'probe.broken', message: 'fact "probe.broken" failed: upstream said no' }),
          expect.objectContaining({ kind: 'fact', fact: 'probe.hangs', message: 'fact "probe.hangs" timed out after 30ms' }),
        ]),
      );
      const metrics = (await t.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/arbiter_fact_errors_total\{fact="probe.hangs",reason="timeout"\} [1-9]/);
      expect(metrics).toMatch(/arbiter_fact_errors_total\{fact="probe.broken",reason="error"\} [1-9]/);
      expect(metrics).toMatch(/arbiter_fact_fallbacks_total\{fact="probe.hangs_with_fallback"\} [1-9]/);
    });

    it('the default time limit (FACT_TIMEOUT_MS) applies to facts without their own', async () => {
      const out = await runInSession({ requestId: 'res-2' }, async () => t.facts.resolve('probe.hangs_with_fallback', {}, event));
      expect(out).toBe(0);
    });
  });

  describe('the example fact', () => {
    it('is in the catalogue and drives the example rule', async () => {
      const catalogue = t.catalogue.catalogue();
      expect(catalogue.facts?.find((f) => f.name === 'loyalty.tier')).toMatchObject({ type: 'string', params: [{ name: 'within', type: 'duration', optional: true }] });
      const doc = parse(readFileSync(join(__dirname, '../apps/api/src/examples/loyalty.rules.yaml'), 'utf8')) as RuleDocument;
      const rules = compile(t, doc);
      await t.events.append({ id: 'l-1', user_id: 'u-gold', type: 'transaction', occurred_at: ago(10 * DAY), payload: { amount: 6000, category: 'travel' } });
      await t.events.append({ id: 'l-2', user_id: 'u-bronze', type: 'transaction', occurred_at: ago(10 * DAY), payload: { amount: 20, category: 'food' } });
      const evaluate = (userId: string) =>
        runInSession({ requestId: `ex-${userId}` }, async () => {
          const e: RuleEvent = { id: `x-${userId}`, type: 'transaction', user_id: userId, occurred_at: new Date().toISOString(), payload: { amount: 100, category: 'food' } };
          return rules.evaluate(e, await t.facts.evaluationInputs(userId));
        });
      const gold = await evaluate('u-gold');
      expect(gold.matches).toEqual([expect.objectContaining({ ruleId: 'gold-food-bonus', actions: [{ action: 'reward_points', params: { points: 5 } }] })]);
      expect((await evaluate('u-bronze')).matches).toEqual([]);
      const tiers = await t.inject({ method: 'GET', url: `/v1/users/u-gold/facts?names=${encodeURIComponent('loyalty.tier,loyalty.tier(within: 1d)')}` });
      expect(tiers.json().facts).toEqual({ 'loyalty.tier': { type: 'string', value: 'gold' }, 'loyalty.tier(within: 1d)': { type: 'string', value: 'none' } });
    });
  });
});
