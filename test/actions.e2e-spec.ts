import { Injectable, Module, type DynamicModule } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { createHttpApp, loadConfig, QueueService, rowParams, shutdownApp } from '@arbiter/platform';
import { Action, ACTIONS_QUEUE, ActionExecutor, ENQUEUE_FAILED, EventSinks, SIGNATURE_HEADER, webhookSignature, type ActionContext, type ActionEvent, type ActionHandler, type EmittedEvent, type MatchedRule } from '@arbiter/actions';
import { AppModule } from '../apps/api/src/app.module';
import { STATUS_CHANGES } from '../libs/actions/src/action-log.repository';
import { IssueCouponAction } from '../libs/actions/src/examples/issue-coupon.action';
import { environment, MODES, runnable, type Mode } from './support/harness';
import { HAS_REDIS_SERVER, privateRedis } from './support/processes';

/** Counts real executions, so a test can prove a replay did not run the action again. */
@Injectable()
@Action({ name: 'count_me', params: { label: { type: 'string' } } })
class CountMeAction implements ActionHandler<{ label?: string }> {
  static calls: string[] = [];
  execute(params: { label?: string }, ctx: ActionContext) {
    CountMeAction.calls.push(ctx.idempotencyKey);
    return { label: params.label ?? null, call: CountMeAction.calls.length };
  }
}

/** A plugin module, as a domain would ship one: its actions are discovered from its providers. */
@Module({ providers: [CountMeAction, IssueCouponAction] })
class TestActionsModule {}

const SECRET = 'test-webhook-secret';

interface Booted {
  app: NestFastifyApplication;
  inject: NestFastifyApplication['inject'];
  executor: ActionExecutor;
  db: DataSource;
  close(): Promise<void>;
}

async function boot(mode: Mode, extra: Record<string, string> = {}): Promise<Booted> {
  const env = await environment(mode, { WEBHOOK_SECRET: SECRET, WEBHOOK_ATTEMPTS: '3', WEBHOOK_BACKOFF_MS: '50', WEBHOOK_TIMEOUT_MS: '300', RULES_WATCH: 'false', ...extra });
  const config = loadConfig(env.env);
  @Module({})
  class TestRoot {}
  const root: DynamicModule = { module: TestRoot, imports: [AppModule.forRoot(config), TestActionsModule] };
  const app = await createHttpApp(root, config);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return {
    app,
    inject: app.inject.bind(app),
    executor: app.get(ActionExecutor),
    db: app.get(DataSource),
    async close() {
      await shutdownApp(app);
      await env.cleanup();
    },
  };
}

/** A real HTTP receiver on an ephemeral port; `reply` decides each answer. */
class Receiver {
  readonly requests: { headers: IncomingMessage['headers']; body: string }[] = [];
  reply: (n: number) => number | 'hang' = () => 200;
  private waiters: { n: number; resolve: () => void }[] = [];
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        this.requests.push({ headers: req.headers, body });
        const answer = this.reply(this.requests.length);
        this.waiters = this.waiters.filter((w) => (this.requests.length >= w.n ? (w.resolve(), false) : true));
        if (answer === 'hang') return; // never answers: the sender's timeout must fire
        res.writeHead(answer, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** Resolves once `n` requests have arrived. */
  received(n: number): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Polls until `check` returns a value (no fixed sleeps; the test timeout is the only clock). */
async function eventually<T>(check: () => Promise<T | undefined | null | false>): Promise<T> {
  for (;;) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

let seq = 0;
const event = (overrides: Partial<ActionEvent> = {}): ActionEvent => ({
  id: `evt-${Date.now()}-${++seq}`,
  type: 'transaction',
  user_id: 'u1',
  source: 'test',
  occurred_at: new Date().toISOString(),
  payload: { amount: 1500 },
  ...overrides,
});
const match = (ruleId: string, actions: MatchedRule['actions'], mode?: string): MatchedRule => ({ ruleId, domain: 'growth', actions, mode });
const logRow = async (db: DataSource, key: string) => (await db.query('SELECT * FROM action_log WHERE idempotency_key = $1', [key]))[0];

describe.each(MODES)('actions (%s)', (mode) => {
  let t: Booted;
  const receiver = new Receiver();
  beforeAll(async () => {
    await receiver.start();
    t = await boot(mode);
  });
  afterAll(async () => {
    await t?.close();
    await receiver.stop();
  });
  beforeEach(() => {
    receiver.requests.length = 0;
    receiver.reply = () => 200;
  });

  it('lists the built-in and plugin actions', async () => {
    const res = await t.inject({ method: 'GET', url: '/v1/actions' });
    expect(res.statusCode).toBe(200);
    const names = res.json().items.map((a: { name: string; mode: string }) => `${a.name}:${a.mode}`);
    expect(names).toEqual(expect.arrayContaining(['webhook:deferred', 'emit_event:inline', 'set_user_attribute:inline', 'issue_coupon:inline', 'count_me:inline']));
  });

  it('runs an inline action once: a replayed event returns the logged result without running it again', async () => {
    CountMeAction.calls = [];
    const e = event();
    const matches = [match('r_count', [{ action: 'count_me', params: { label: 'a' } }, { action: 'issue_coupon', params: { prefix: 'WELCOME', percent: 10 } }])];
    const first = await t.executor.execute(e, matches);
    expect(first.map((o) => [o.action, o.status, o.replayed])).toEqual([
      ['count_me', 'succeeded', false],
      ['issue_coupon', 'succeeded', false],
    ]);
    expect(first[0].idempotencyKey).toBe(`${e.id}/r_count/0`);
    expect(first[1].result).toMatchObject({ code: expect.stringMatching(/^WELCOME-[0-9A-F]{8}$/), percent: 10 });

    const replay = await t.executor.execute(e, matches);
    expect(replay.map((o) => [o.status, o.replayed])).toEqual([
      ['succeeded', true],
      ['succeeded', true],
    ]);
    expect(replay[0].result).toEqual(first[0].result);
    expect(replay[1].result).toEqual(first[1].result);
    expect(CountMeAction.calls).toEqual([`${e.id}/r_count/0`]);
    const rows = await t.db.query('SELECT status, attempts FROM action_log WHERE event_id = $1 ORDER BY action_index', [e.id]);
    expect(rows).toEqual([
      { status: 'succeeded', attempts: 1 },
      { status: 'succeeded', attempts: 1 },
    ]);
  });

  it('logs an inline failure without stopping the next action, and a replay does not retry it', async () => {
    CountMeAction.calls = [];
    const e = event();
    const matches = [match('r_fail', [{ action: 'issue_coupon', params: { prefix: 'X', percent: 500 } }, { action: 'count_me', params: {} }])];
    const out = await t.executor.execute(e, matches);
    expect(out[0]).toMatchObject({ status: 'failed', error: { code: 'ACTION_FAILED', message: expect.stringContaining('percent must be in (0, 100]') } });
    expect(out[1].status).toBe('succeeded');
    const again = await t.executor.execute(e, matches);
    expect(again[0]).toMatchObject({ status: 'failed', replayed: true });
    expect(CountMeAction.calls).toHaveLength(1);
  });

  it('sets a user attribute (creating the user), and refuses an undeclared one', async () => {
    const userId = `attr-${mode.replace('+', '-')}-${seq}`;
    const [ok, bad] = await t.executor.execute(event({ user_id: userId }), [
      match('r_attr', [
        { action: 'set_user_attribute', params: { attribute: 'vip', value: true } },
        { action: 'set_user_attribute', params: { attribute: 'shoe_size', value: 44 } },
      ]),
    ]);
    expect(ok.error).toBeUndefined();
    expect(ok).toMatchObject({ status: 'succeeded', result: { user_id: userId, attribute: 'vip', value: true } });
    expect(bad).toMatchObject({ status: 'failed', error: { code: 'INVALID_ATTRIBUTE' } });
    const user = await t.inject({ method: 'GET', url: `/v1/users/${userId}` });
    expect(user.json()).toMatchObject({ id: userId, attributes: { vip: true } });
  });

  it('does not run the actions of a shadow-mode rule', async () => {
    CountMeAction.calls = [];
    const out = await t.executor.execute(event(), [match('r_shadow', [{ action: 'count_me', params: {} }], 'shadow')]);
    expect(out[0].status).toBe('skipped');
    expect(CountMeAction.calls).toHaveLength(0);
  });

  it('delivers a signed webhook to a real server, retrying 5xx with backoff until it succeeds', async () => {
    receiver.reply = (n) => (n < 3 ? 503 : 200);
    const e = event();
    const [queued] = await t.executor.execute(e, [match('r_hook', [{ action: 'webhook', params: { url: receiver.url, body: { points: 75 } } }])]);
    expect(queued).toMatchObject({ mode: 'deferred', status: 'queued', replayed: false });
    await receiver.received(3);
    const row = await eventually(async () => {
      const r = await logRow(t.db, queued.idempotencyKey);
      return r.status === 'succeeded' ? r : undefined;
    });
    expect(row.attempts).toBe(3);
    expect(row.result).toEqual({ status: 200 });
    const delivered = receiver.requests[2];
    expect(delivered.headers[SIGNATURE_HEADER]).toBe(webhookSignature(SECRET, delivered.body));
    expect(delivered.headers['idempotency-key']).toBe(queued.idempotencyKey);
    expect(JSON.parse(delivered.body)).toMatchObject({ idempotency_key: queued.idempotencyKey, rule_id: 'r_hook', attempt: 3, event: { id: e.id }, data: { points: 75 } });
    // Every try carried the same key, so a receiver can drop duplicates.
    expect(new Set(receiver.requests.map((r) => r.headers['idempotency-key']))).toEqual(new Set([queued.idempotencyKey]));

    const [replayed] = await t.executor.execute(e, [match('r_hook', [{ action: 'webhook', params: { url: receiver.url, body: { points: 75 } } }])]);
    expect(replayed).toMatchObject({ status: 'succeeded', replayed: true, result: { status: 200 } });
    const queue = await t.app.get(QueueService).queue(ACTIONS_QUEUE);
    expect(await queue.getJobCounts('waiting', 'delayed', 'active')).toEqual({ waiting: 0, delayed: 0, active: 0 });
  });

  it('leaves a webhook failed after the last try, lists it, and retries it on request', async () => {
    receiver.reply = () => 500;
    const [queued] = await t.executor.execute(event(), [match('r_down', [{ action: 'webhook', params: { url: receiver.url } }])]);
    await receiver.received(3);
    const row = await eventually(async () => {
      const r = await logRow(t.db, queued.idempotencyKey);
      return r.status === 'failed' ? r : undefined;
    });
    expect(row).toMatchObject({ attempts: 3, error_code: 'WEBHOOK_FAILED', error_message: expect.stringContaining('answered 500') });

    const list = await t.inject({ method: 'GET', url: '/v1/actions/failed' });
    expect(list.statusCode).toBe(200);
    const item = list.json().items.find((i: { idempotency_key: string }) => i.idempotency_key === queued.idempotencyKey);
    expect(item).toMatchObject({ action: 'webhook', status: 'failed', attempts: 3, error: { code: 'WEBHOOK_FAILED' } });

    receiver.reply = () => 204;
    const retry = await t.inject({ method: 'POST', url: `/v1/actions/failed/${item.id}/retry` });
    expect(retry.statusCode).toBe(202);
    expect(retry.json()).toMatchObject({ id: item.id, status: 'queued' });
    await eventually(async () => (await logRow(t.db, queued.idempotencyKey)).status === 'succeeded');
    expect(receiver.requests).toHaveLength(4);
    const after = await t.inject({ method: 'GET', url: '/v1/actions/failed' });
    expect(after.json().items.map((i: { id: string }) => i.id)).not.toContain(item.id);

    const again = await t.inject({ method: 'POST', url: `/v1/actions/failed/${item.id}/retry` });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('ACTION_NOT_FAILED');
    const missing = await t.inject({ method: 'POST', url: '/v1/actions/failed/999999999/retry' });
    expect(missing.statusCode).toBe(404);
    const bad = await t.inject({ method: 'GET', url: '/v1/actions/failed?limit=0' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.errors[0].path).toBe('limit');
  });

  it('fails a webhook at once on a 4xx, and counts a hung receiver as a timeout', async () => {
    receiver.reply = () => 410;
    const [gone] = await t.executor.execute(event(), [match('r_gone', [{ action: 'webhook', params: { url: receiver.url } }])]);
    const row = await eventually(async () => {
      const r = await logRow(t.db, gone.idempotencyKey);
      return r.status === 'failed' ? r : undefined;
    });
    expect(row).toMatchObject({ attempts: 1, error_code: 'WEBHOOK_REJECTED' });
    expect(receiver.requests).toHaveLength(1);

    receiver.requests.length = 0;
    receiver.reply = () => 'hang';
    const [hung] = await t.executor.execute(event(), [match('r_hang', [{ action: 'webhook', params: { url: receiver.url } }])]);
    const timedOut = await eventually(async () => {
      const r = await logRow(t.db, hung.idempotencyKey);
      return r.status === 'failed' ? r : undefined;
    });
    expect(timedOut).toMatchObject({ attempts: 3, error_code: 'WEBHOOK_TIMEOUT' });
  });

  it('emits follow-up events through the sink and cuts a loop at EMIT_EVENT_MAX_DEPTH', async () => {
    // A sink that feeds every emitted event back into rules that emit again: an endless loop
    // unless the depth limit holds.
    const seen: EmittedEvent[] = [];
    const results: { depth: number; status: string; error: string | null }[] = [];
    const loop = [match('r_loop', [{ action: 'emit_event', params: { type: 'ping', payload: { hop: true } } }])];
    t.app.get(EventSinks).use({
      emit: async (emitted) => {
        seen.push(emitted);
        const [o] = await t.executor.execute(emitted, loop);
        results.push({ depth: emitted.depth, status: o.status, error: o.error?.code ?? null });
        return { status: o.status };
      },
    });
    const root = event();
    const [outcome] = await t.executor.execute(root, loop);
    expect(seen.map((s) => [s.depth, s.type, s.user_id])).toEqual([
      [1, 'ping', 'u1'],
      [2, 'ping', 'u1'],
      [3, 'ping', 'u1'],
    ]);
    expect(seen[0]).toMatchObject({ id: `${root.id}.r_loop.0`, causation: { event_id: root.id, rule_id: 'r_loop' }, payload: { hop: true } });
    // The depth-3 follow-up tried to emit a 4th level and was refused; the chain above it succeeded.
    expect(results).toEqual([
      { depth: 3, status: 'failed', error: 'EMIT_DEPTH_EXCEEDED' },
      { depth: 2, status: 'succeeded', error: null },
      { depth: 1, status: 'succeeded', error: null },
    ]);
    expect(outcome).toMatchObject({ status: 'succeeded', result: { event_id: `${root.id}.r_loop.0`, depth: 1, result: { status: 'succeeded' } } });
  });

  it('records status changes through the idempotency-key index, not a scan of the log', async () => {
    const n = 3000;
    await t.db.query(
      `INSERT INTO action_log (idempotency_key, event_id, rule_id, domain, action_index, action, mode, status, params, event)
       SELECT 'plan-' || i, 'plan-ev-' || i, 'r', 'growth', 0, 'count_me', 'inline', 'running', '{}', '{}' FROM generate_series(1, $1::int) AS i`,
      [n],
    );
    try {
      const changes = rowParams(STATUS_CHANGES.shape, [1, 2, 3].map((i) => ({ key: `plan-${i}`, status: 'succeeded', result: null, error_code: null, error_message: null, attempts: null })), 1);
      const plan = (await t.db.query(`EXPLAIN WITH u AS (${STATUS_CHANGES.sql(changes)} RETURNING 1) SELECT count(*) FROM u`, changes.values)).map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('action_log_idempotency_key');
      expect(plan).not.toMatch(/Seq Scan on action_log/);
    } finally {
      await t.db.query(`DELETE FROM action_log WHERE idempotency_key LIKE 'plan-%'`);
    }
  });
});

describe('actions auth', () => {
  let t: Booted;
  beforeAll(async () => {
    t = await boot('embedded', { API_KEYS: 'admin-key-123:admin,reader-key-123:read' });
  });
  afterAll(() => t.close());

  it('needs the admin scope for the failed-actions endpoints', async () => {
    const denied = await t.inject({ method: 'GET', url: '/v1/actions/failed', headers: { authorization: 'Bearer reader-key-123' } });
    expect(denied.statusCode).toBe(403);
    const allowed = await t.inject({ method: 'GET', url: '/v1/actions/failed', headers: { authorization: 'Bearer admin-key-123' } });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json()).toEqual({ items: [], next: null });
  });
});

// A deferred action whose queue does not answer (its Redis stopped with SIGSTOP: the connection
// stays open, nothing answers): the event goes on after QUEUE_TIMEOUT_MS with the action failed,
// and the action is kept, listed and queued again on request, not lost.
describe.each<Mode>(HAS_REDIS_SERVER ? runnable('postgres+redis') : [])('a deferred action whose queue does not answer (%s)', (mode) => {
  let redis: Awaited<ReturnType<typeof privateRedis>>;
  let t: Booted;
  const receiver = new Receiver();
  beforeAll(async () => {
    await receiver.start();
    redis = await privateRedis();
    t = await boot(mode, { REDIS_URL: redis.url, QUEUE_TIMEOUT_MS: '300' });
  });
  afterAll(async () => {
    redis?.resume();
    await t?.close();
    redis?.kill();
    await receiver.stop();
  });

  /** Until the actions queue has nothing waiting, running or delayed (a second run would show then). */
  const idle = async () => {
    const queue = await t.app.get(QueueService).queue(ACTIONS_QUEUE);
    await eventually(async () => Object.values(await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).every((n) => n === 0));
  };

  it("reports it failed without the queue's words, keeps and lists it, and runs it once when the queue answers again", async () => {
    const hook = match('r_hook_down', [{ action: 'webhook', params: { url: receiver.url, body: { n: 1 } } }]);
    const e = event();
    // The queue connection is opened first, so the stop hits an established connection.
    await t.app.get(QueueService).ping(ACTIONS_QUEUE);
    redis.pause();
    let key = '';
    try {
      const [outcome] = await t.executor.execute(e, [hook]);
      expect(outcome).toMatchObject({ mode: 'deferred', status: 'failed', error: { code: 'ENQUEUE_FAILED', message: ENQUEUE_FAILED } });
      key = outcome.idempotencyKey;
      expect(await logRow(t.db, key)).toMatchObject({ status: 'failed', error_code: 'ENQUEUE_FAILED', attempts: 0 });
      // A replay of the event reports it as it stands and waits on nothing.
      const [replayed] = await t.executor.execute(e, [hook]);
      expect(replayed).toMatchObject({ status: 'failed', replayed: true, error: { code: 'ENQUEUE_FAILED' } });
      const listed = (await t.inject({ method: 'GET', url: '/v1/actions/failed' })).json().items;
      expect(listed.find((i: { idempotency_key: string }) => i.idempotency_key === key)).toMatchObject({ action: 'webhook', status: 'failed', error: { code: 'ENQUEUE_FAILED' } });
    } finally {
      redis.resume();
    }
    // The add given up on reaches the queue once Redis answers, and runs: once, under its key.
    await eventually(async () => (await logRow(t.db, key)).status === 'succeeded');
    await idle();
    expect(receiver.requests.map((r) => r.headers['idempotency-key'])).toEqual([key]);
    const id = (await logRow(t.db, key)).id;
    expect((await t.inject({ method: 'POST', url: `/v1/actions/failed/${id}/retry` })).json().error.code).toBe('ACTION_NOT_FAILED');
  });

  it('retries an action whose job never reached the queue: 503 while Redis is stopped, then queued and run once when it answers', async () => {
    receiver.requests.length = 0;
    receiver.reply = () => 200;
    // An entry left by an add that never landed (its process stopped before the queue answered).
    const e = event();
    const key = `${e.id}/r_hook_lost/0`;
    await t.db.query(
      `INSERT INTO action_log (idempotency_key, event_id, rule_id, domain, action_index, action, mode, status, params, event, error_code, error_message, attempts)
       VALUES ($1, $2, 'r_hook_lost', 'growth', 0, 'webhook', 'deferred', 'failed', $3, $4, 'ENQUEUE_FAILED', $5, 0)`,
      [key, e.id, JSON.stringify({ url: receiver.url }), JSON.stringify({ ...e, depth: 0 }), ENQUEUE_FAILED],
    );
    const { id } = await logRow(t.db, key);
    redis.pause();
    try {
      const refused = await t.inject({ method: 'POST', url: `/v1/actions/failed/${id}/retry` });
      expect([refused.statusCode, refused.json().error.code]).toEqual([503, 'DEPENDENCY_DOWN']);
      expect(await logRow(t.db, key)).toMatchObject({ status: 'failed', error_code: 'ENQUEUE_FAILED' });
    } finally {
      redis.resume();
    }
    // The retry's asks reach the queue once it answers: the job is added after all, and runs once.
    await eventually(async () => (await logRow(t.db, key)).status === 'succeeded');
    await idle();
    expect(receiver.requests.map((r) => r.headers['idempotency-key'])).toEqual([key]);
  });

  it('answers 503 to a retry while the queue does not answer, leaving the action failed and listed, and queues it once it answers', async () => {
    receiver.requests.length = 0;
    receiver.reply = () => 500;
    const [queued] = await t.executor.execute(event(), [match('r_hook_retry', [{ action: 'webhook', params: { url: receiver.url } }])]);
    const failed = await eventually(async () => {
      const r = await logRow(t.db, queued.idempotencyKey);
      return r.status === 'failed' ? r : undefined;
    });
    receiver.reply = () => 200;
    const retry = () => t.inject({ method: 'POST', url: `/v1/actions/failed/${failed.id}/retry` });
    redis.pause();
    try {
      const refused = await retry();
      expect(refused.statusCode).toBe(503);
      expect(refused.json().error).toMatchObject({ code: 'DEPENDENCY_DOWN', details: { dependency: 'queue' } });
      expect(await logRow(t.db, queued.idempotencyKey)).toMatchObject({ status: 'failed', error_code: 'WEBHOOK_FAILED', attempts: 3 });
      const listed = (await t.inject({ method: 'GET', url: '/v1/actions/failed' })).json().items;
      expect(listed.map((i: { id: string }) => i.id)).toContain(failed.id);
    } finally {
      redis.resume();
    }
    // The refused retry's asks reach the queue once Redis answers: the job is retried after all,
    // and the action runs once more; a second retry then finds nothing failed.
    await eventually(async () => (await logRow(t.db, queued.idempotencyKey)).status === 'succeeded');
    await idle();
    expect(receiver.requests.map((r) => r.headers['idempotency-key'])).toEqual(Array(4).fill(queued.idempotencyKey));
    expect((await retry()).json().error.code).toBe('ACTION_NOT_FAILED');
  });
});
