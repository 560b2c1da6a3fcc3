import { Injectable, Module, type DynamicModule } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { register } from 'prom-client';
import { createHttpApp, loadConfig, QueueService, shutdownApp } from '@arbiter/platform';
import { Action, ACTIONS_QUEUE, type ActionHandler } from '@arbiter/actions';
import { RuleSetService } from '@arbiter/ruleset';
import { AppModule } from '../apps/api/src/app.module';
import { environment, MODES, type Mode } from './support/harness';

/**
 * Stands in for growth's `reward_points` (under its own name, so it never clashes with the real
 * one once the growth plugin is part of the app); counts calls.
 */
@Injectable()
@Action({ name: 'test_reward_points', params: { points: { type: 'number', required: true } } })
class RewardPointsStub implements ActionHandler<{ points: number }> {
  static calls = 0;
  execute(params: { points: number }) {
    RewardPointsStub.calls++;
    return { points: params.points };
  }
}

@Module({ providers: [RewardPointsStub] })
class GrowthStubModule {}

const LOYALTY = `# Loyalty: 5% back on large food purchases.
rules:
  - id: high_value_food
    domain: growth
    on: transaction
    priority: 10
    when: payload.amount > 1000 AND payload.category == "food"
    then:
      - action: test_reward_points
        params: { points: payload.amount * 0.05 }
`;

const FRAUD = `conditions:
  big: payload.amount > 5000
rules:
  - id: big_spender_review
    domain: fraud
    on: transaction
    when: { ref: big }
    score: 50
    outcome: review
`;

export interface RulesApp {
  app: NestFastifyApplication;
  inject: NestFastifyApplication['inject'];
  db: DataSource;
  configDir: string;
  close(): Promise<void>;
}

/** A private CONFIG_DIR with the real events.yaml and facts.yaml and the given rule files. */
export async function configDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'arbiter-rules-'));
  await mkdir(join(dir, 'rules'));
  await copyFile(join(__dirname, '../configs/events.yaml'), join(dir, 'events.yaml'));
  await copyFile(join(__dirname, '../configs/facts.yaml'), join(dir, 'facts.yaml'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, 'rules', name), text);
  return dir;
}

async function boot(mode: Mode, dir: string, extra: Record<string, string> = {}): Promise<RulesApp> {
  const env = await environment(mode, { CONFIG_DIR: dir, RULES_WATCH: 'false', ...extra });
  const config = loadConfig(env.env);
  @Module({})
  class TestRoot {}
  const root: DynamicModule = { module: TestRoot, imports: [AppModule.forRoot(config), GrowthStubModule] };
  const app = await createHttpApp(root, config);
  try {
    await app.init();
  } catch (err) {
    // A refused boot must not leak its connections into the next test.
    await shutdownApp(app).catch(() => undefined);
    await env.cleanup();
    throw err;
  }
  await app.getHttpAdapter().getInstance().ready();
  return {
    app,
    inject: app.inject.bind(app),
    db: app.get(DataSource),
    configDir: dir,
    async close() {
      await shutdownApp(app);
      await env.cleanup();
    },
  };
}

async function eventually<T>(check: () => Promise<T | undefined | null | false>): Promise<T> {
  for (;;) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const foodEvent = { id: 'evt-food-1', type: 'transaction', user_id: 'u-sim', payload: { amount: 1500, category: 'food', currency: 'EUR', merchant: 'm1' } };

describe.each(MODES)('ruleset (%s)', (mode) => {
  let t: RulesApp;
  let dir: string;
  beforeAll(async () => {
    dir = await configDir({ 'growth.yaml': LOYALTY, 'fraud.yaml': FRAUD });
    t = await boot(mode, dir);
  });
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads every YAML file at boot and reports it in the status', async () => {
    const res = await t.inject({ method: 'GET', url: '/v1/rules/status' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      version: 1,
      trigger: 'boot',
      rule_count: 2,
      by_domain: { growth: 1, fraud: 1 },
      sources: { files: [{ file: 'fraud.yaml', rules: 1 }, { file: 'growth.yaml', rules: 1 }], database: 0 },
      overrides: [],
      last_error: null,
      fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const list = await t.inject({ method: 'GET', url: '/v1/rules' });
    expect(list.json().items.map((r: { id: string; source: { kind: string; file: string; line: number } }) => [r.id, r.source])).toEqual([
      ['big_spender_review', { kind: 'file', file: 'fraud.yaml', line: 4 }],
      ['high_value_food', { kind: 'file', file: 'growth.yaml', line: 3 }],
    ]);
    const one = await t.inject({ method: 'GET', url: '/v1/rules/high_value_food' });
    expect(one.json().rule).toMatchObject({ id: 'high_value_food', when: 'payload.amount > 1000 AND payload.category == "food"' });
    expect((await t.inject({ method: 'GET', url: '/v1/rules/nope' })).statusCode).toBe(404);
  });

  it('simulates an event: full trace, the actions that would run, and no side effect at all', async () => {
    const metric = async () => JSON.stringify(await register.getSingleMetricAsString('arbiter_action_executions_total'));
    const before = await metric();
    const queue = await t.app.get(QueueService).queue(ACTIONS_QUEUE);
    RewardPointsStub.calls = 0;
    const res = await t.inject({ method: 'POST', url: '/v1/rules/simulate', payload: { event: foodEvent } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.rules).toBe('loaded');
    expect(body.domains.growth.matched).toEqual([expect.objectContaining({ rule_id: 'high_value_food', actions: [{ action: 'test_reward_points', params: { points: 75 } }] })]);
    expect(body.domains.fraud.not_matched).toEqual([expect.objectContaining({ rule_id: 'big_spender_review', why: 'payload.amount is 1500, needs > 5000' })]);
    expect(body.actions).toEqual([
      { rule_id: 'high_value_food', domain: 'growth', index: 0, action: 'test_reward_points', mode: 'inline', params: { points: 75 }, idempotency_key: 'evt-food-1/high_value_food/0', would_run: true },
    ]);
    const miss = await t.inject({ method: 'POST', url: '/v1/rules/simulate', payload: { event: { ...foodEvent, payload: { ...foodEvent.payload, category: 'toys' } } } });
    expect(miss.json().domains.growth.not_matched[0].why).toBe('payload.category is "toys", needs == "food"');

    // Nothing ran, nothing was stored, nothing was enqueued, no counter moved.
    expect(RewardPointsStub.calls).toBe(0);
    expect(await t.db.query('SELECT count(*)::int AS n FROM action_log')).toEqual([{ n: 0 }]);
    expect(await t.db.query('SELECT count(*)::int AS n FROM events')).toEqual([{ n: 0 }]);
    expect(await t.db.query('SELECT count(*)::int AS n FROM users')).toEqual([{ n: 0 }]);
    expect(await queue.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed')).toEqual({ waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0 });
    expect(await metric()).toBe(before);
  });

  it('simulates against draft rules, and rejects drafts and events that are wrong', async () => {
    const draft = { rules: [{ id: 'draft_small', domain: 'promo', on: 'transaction', when: 'payload.amount < 2000', metadata: { campaign: 'X' } }] };
    const res = await t.inject({ method: 'POST', url: '/v1/rules/simulate', payload: { event: foodEvent, rules: draft } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ rules: 'draft', evaluated: 1, domains: { promo: { matched: [expect.objectContaining({ rule_id: 'draft_small', metadata: { campaign: 'X' } })] } } });

    const bad = await t.inject({ method: 'POST', url: '/v1/rules/simulate', payload: { event: foodEvent, rules: { rules: [{ id: 'd', domain: 'promo', on: 'transaction', when: 'payload.amout > 1' }] } } });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error.details.errors[0]).toMatchObject({ code: 'UNKNOWN_FIELD', rule_id: 'd', hint: expect.stringContaining('payload.amount'), source: 'draft' });

    const badEvent = await t.inject({ method: 'POST', url: '/v1/rules/simulate', payload: { event: { type: 'transaction', payload: { amount: 'lots' } } } });
    expect(badEvent.statusCode).toBe(400);
    expect(badEvent.json().error.details.errors.map((e: { path: string }) => e.path).sort()).toEqual(['event.payload.amount', 'event.user_id']);
  });

  it('refuses a rule that does not compile with 422 and every error, storing nothing', async () => {
    const before = (await t.inject({ method: 'GET', url: '/v1/rules/status' })).json();
    const res = await t.inject({
      method: 'PUT',
      url: '/v1/rules/broken',
      payload: { domain: 'growth', on: 'transaction', when: 'payload.amount > 10 and payload.categry == "food"', then: [{ action: 'test_reward_points', params: { points: '"many"' } }, { action: 'test_reward_pionts' }] },
    });
    expect(res.statusCode).toBe(422);
    const error = res.json().error;
    expect(error.code).toBe('RULES_DO_NOT_COMPILE');
    expect(error.details.errors).toEqual([
      expect.objectContaining({ code: 'UNKNOWN_FIELD', rule_id: 'broken', path: 'when', line: 1, column: 25, hint: expect.stringContaining('payload.category'), source: 'database' }),
      expect.objectContaining({ code: 'TYPE_MISMATCH', rule_id: 'broken', path: 'then[0].params.points' }),
      expect.objectContaining({ code: 'UNKNOWN_ACTION', rule_id: 'broken', path: 'then[1].action', hint: expect.stringContaining('test_reward_points') }),
    ]);
    expect(res.body).not.toMatch(/at .*\.(js|ts):\d+/);
    expect(await t.db.query('SELECT count(*)::int AS n FROM rule_versions')).toEqual([{ n: 0 }]);
    const after = (await t.inject({ method: 'GET', url: '/v1/rules/status' })).json();
    expect(after.fingerprint).toBe(before.fingerprint);
    expect(after.version).toBe(before.version);

    const mismatch = await t.inject({ method: 'PUT', url: '/v1/rules/a', payload: { id: 'b', domain: 'x' } });
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.json().error.details.errors[0].path).toBe('id');
  });

  it('stores database rules as versioned tree rows, overrides a file rule, rolls back and deletes', async () => {
    const v1 = await t.inject({ method: 'PUT', url: '/v1/rules/weekend_bonus', payload: { domain: 'growth', on: 'transaction', when: { all: [{ fact: 'payload.amount', op: '>', value: 10 }, 'payload.currency == "EUR"'] }, then: [{ action: 'test_reward_points', params: { points: 5 } }] } });
    expect(v1.statusCode).toBe(201);
    expect(v1.json()).toMatchObject({ id: 'weekend_bonus', version: 1, created: true, status: { rule_count: 3 } });
    const nodes = await t.db.query(`SELECT node_id, parent_id, position, kind, fact, operator, value, expression FROM rule_nodes WHERE rule_id = 'weekend_bonus' ORDER BY node_id`);
    expect(nodes).toEqual([
      { node_id: 0, parent_id: null, position: 0, kind: 'all', fact: null, operator: null, value: null, expression: null },
      { node_id: 1, parent_id: 0, position: 0, kind: 'leaf', fact: 'payload.amount', operator: '>', value: { v: 10 }, expression: null },
      { node_id: 2, parent_id: 0, position: 1, kind: 'expr', fact: null, operator: null, value: null, expression: 'payload.currency == "EUR"' },
    ]);
    const v2 = await t.inject({ method: 'PUT', url: '/v1/rules/weekend_bonus', payload: { domain: 'growth', on: 'transaction', when: 'payload.amount > 20', then: [{ action: 'test_reward_points', params: { points: 7 } }] } });
    expect(v2.statusCode).toBe(200);
    expect(v2.json().version).toBe(2);

    const history = await t.inject({ method: 'GET', url: '/v1/rules/weekend_bonus/versions' });
    expect(history.json()).toMatchObject({ id: 'weekend_bonus', live_version: 2, versions: [{ version: 2, live: true, reason: 'put' }, { version: 1, live: false }] });
    const rolled = await t.inject({ method: 'POST', url: '/v1/rules/weekend_bonus/rollback', payload: { version: 1 } });
    expect(rolled.statusCode).toBe(200);
    expect(rolled.json()).toMatchObject({ version: 3, rolled_back_to: 1 });
    const now = await t.inject({ method: 'GET', url: '/v1/rules/weekend_bonus' });
    expect(now.json()).toMatchObject({ source: { kind: 'database', version: 3 }, rule: { when: { all: [{ fact: 'payload.amount', op: '>', value: 10 }, 'payload.currency == "EUR"'] } } });
    expect((await t.inject({ method: 'POST', url: '/v1/rules/weekend_bonus/rollback', payload: { version: 9 } })).statusCode).toBe(404);
    expect((await t.inject({ method: 'POST', url: '/v1/rules/weekend_bonus/rollback', payload: { version: 'one' } })).statusCode).toBe(400);
    // Past the column's range, or with a field it does not know: a 400 naming it, nothing rolled back.
    const versionCount = async () => (await t.inject({ method: 'GET', url: '/v1/rules/weekend_bonus/versions' })).json().versions.length;
    const before = await versionCount();
    for (const [payload, path] of [[{ version: 2 ** 31 }, 'version'], [{ version: 1, extra: 1 }, 'extra']] as const) {
      const res = await t.inject({ method: 'POST', url: '/v1/rules/weekend_bonus/rollback', payload });
      expect([res.statusCode, res.json().error.details.errors.map((e: { path: string }) => e.path)]).toEqual([400, [path]]);
    }
    expect(await versionCount()).toBe(before);

    // A database rule with a file rule's id overrides it, and says so in the status.
    const override = await t.inject({ method: 'PUT', url: '/v1/rules/high_value_food', payload: { domain: 'growth', on: 'transaction', when: 'payload.amount > 1000 AND payload.category == "food"', then: [{ action: 'test_reward_points', params: { points: 'payload.amount * 0.1' } }] } });
    expect(override.statusCode).toBe(201);
    expect(override.json().status.overrides).toEqual([{ id: 'high_value_food', file: 'growth.yaml', database_version: 1 }]);
    const sim = await t.inject({ method: 'POST', url: '/v1/rules/simulate', payload: { event: foodEvent } });
    expect(sim.json().actions[0].params).toEqual({ points: 150 });

    const del = await t.inject({ method: 'DELETE', url: '/v1/rules/high_value_food' });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toMatchObject({ deleted: true, now_from_file: 'growth.yaml', status: { overrides: [] } });
    const back = await t.inject({ method: 'POST', url: '/v1/rules/simulate', payload: { event: foodEvent } });
    expect(back.json().actions[0].params).toEqual({ points: 75 });

    const fileOnly = await t.inject({ method: 'DELETE', url: '/v1/rules/big_spender_review' });
    expect(fileOnly.statusCode).toBe(409);
    expect(fileOnly.json().error.code).toBe('RULE_DEFINED_IN_FILE');
    expect((await t.inject({ method: 'DELETE', url: '/v1/rules/never_was' })).statusCode).toBe(404);
    expect((await t.inject({ method: 'DELETE', url: '/v1/rules/weekend_bonus' })).statusCode).toBe(200);
    expect((await t.inject({ method: 'GET', url: '/v1/rules/weekend_bonus' })).statusCode).toBe(404);
    // History survives a delete.
    expect((await t.inject({ method: 'GET', url: '/v1/rules/weekend_bonus/versions' })).json().live_version).toBeNull();
  });

  it('validates a document without storing it', async () => {
    const ok = await t.inject({ method: 'POST', url: '/v1/rules/validate', payload: { yaml: 'rules:\n  - id: v1\n    domain: fraud\n    on: transaction\n    when: { ref: big }\n    score: 5\n' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ valid: true, rules: ['v1'] });
    const bad = await t.inject({ method: 'POST', url: '/v1/rules/validate', payload: { rules: [{ id: 'v2', domain: 'fraud', on: 'transfer', when: 'true' }] } });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error.details.errors[0]).toMatchObject({ code: 'UNKNOWN_EVENT_TYPE', rule_id: 'v2', path: 'on[0]' });
    const yamlError = await t.inject({ method: 'POST', url: '/v1/rules/validate', payload: { yaml: 'rules:\n  - id: [unclosed\n' } });
    expect(yamlError.statusCode).toBe(400);
    expect(yamlError.json().error.details.errors[0]).toMatchObject({ path: 'body.yaml', message: expect.stringMatching(/^line \d+, column \d+: /) });
    expect((await t.inject({ method: 'GET', url: '/v1/rules/v1' })).statusCode).toBe(404);
  });

  it('reloads on request; a failed reload keeps the old rule set and shows the error', async () => {
    const rules = t.app.get(RuleSetService);
    const before = rules.status();
    await writeFile(join(dir, 'rules', 'extra.yaml'), 'rules:\n  - id: extra_rule\n    domain: promo\n    on: transaction\n    when: payload.amount > 1\n');
    const ok = await t.inject({ method: 'POST', url: '/v1/rules/reload' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ version: before.version + 1, trigger: 'api', rule_count: before.rule_count + 1 });
    const held = rules.current();

    await writeFile(join(dir, 'rules', 'extra.yaml'), 'rules:\n  - id: extra_rule\n    domain: promo\n    on: transaction\n    when: payload.amount > "one"\n  - id: [oops\n');
    const failed = await t.inject({ method: 'POST', url: '/v1/rules/reload' });
    expect(failed.statusCode).toBe(422);
    expect(failed.json().error.details.errors[0]).toMatchObject({ code: 'SYNTAX', source: 'file:extra.yaml', line: expect.any(Number), column: expect.any(Number) });
    // The old set is still in force, untouched.
    expect(rules.current()).toBe(held);
    const status = (await t.inject({ method: 'GET', url: '/v1/rules/status' })).json();
    expect(status).toMatchObject({ version: before.version + 1, reloads: { failed: before.reloads.failed + 1 }, last_reload: { ok: false, trigger: 'api' }, last_error: { trigger: 'api', errors: [expect.objectContaining({ source: 'file:extra.yaml' })] } });
    const sim = await t.inject({ method: 'POST', url: '/v1/rules/simulate', payload: { event: foodEvent } });
    expect(sim.json().domains.promo.matched.map((m: { rule_id: string }) => m.rule_id)).toEqual(['extra_rule']);
    const metrics = await t.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/arbiter_rule_reloads_total\{outcome="failed",trigger="api"\} [1-9]/);

    await rm(join(dir, 'rules', 'extra.yaml'));
    expect((await t.inject({ method: 'POST', url: '/v1/rules/reload' })).statusCode).toBe(200);
    expect(rules.status().rule_count).toBe(before.rule_count);
  });

  it('needs no restart: a file change is picked up by the watcher', async () => {
    const watched = await configDir({ 'growth.yaml': LOYALTY });
    const w = await boot(mode, watched, { RULES_WATCH: 'true', RULES_RELOAD_DEBOUNCE_MS: '50' });
    try {
      await writeFile(join(watched, 'rules', 'late.yaml'), 'rules:\n  - id: late_rule\n    domain: fraud\n    on: login\n    when: payload.country == "XX"\n    outcome: decline\n');
      const status = await eventually(async () => {
        const s = (await w.inject({ method: 'GET', url: '/v1/rules/status' })).json();
        return s.rule_count === 2 ? s : undefined;
      });
      expect(status.trigger).toBe('file change');
    } finally {
      await w.close();
      await rm(watched, { recursive: true, force: true });
    }
  });
});

describe('ruleset boot', () => {
  it('refuses to start when the rule files do not compile, naming the file and rule', async () => {
    const dir = await configDir({ 'bad.yaml': 'rules:\n  - id: nope\n    domain: growth\n    on: transaction\n    when: payload.amount > 1\n    then: [{ action: teleport }]\n' });
    try {
      await expect(boot('embedded', dir)).rejects.toThrow(/rules do not compile[\s\S]*file:bad\.yaml line 2 rule "nope" then\[0\]\.action: unknown action "teleport"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('needs the admin scope', async () => {
    const dir = await configDir({});
    const t = await boot('embedded', dir, { API_KEYS: 'admin-key-123:admin,reader-key-123:read' });
    try {
      expect((await t.inject({ method: 'GET', url: '/v1/rules', headers: { authorization: 'Bearer reader-key-123' } })).statusCode).toBe(403);
      expect((await t.inject({ method: 'POST', url: '/v1/rules/simulate', headers: { authorization: 'Bearer reader-key-123' }, payload: { event: foodEvent } })).statusCode).toBe(403);
      expect((await t.inject({ method: 'GET', url: '/v1/rules', headers: { authorization: 'Bearer admin-key-123' } })).statusCode).toBe(200);
    } finally {
      await t.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
