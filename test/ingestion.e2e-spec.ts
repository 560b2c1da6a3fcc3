import { DataSource } from 'typeorm';
import { QueueService } from '@arbiter/platform';
import { UNEXPECTED_FAILURE } from '@arbiter/ingestion';
import { bootApi, configDir, runnable, withQueries, type Mode, type TestApp } from './support/harness';
import { poll } from './support/processes';

// Rules of this suite: every transaction over 100 tags the user (an inline action, so its effect
// and its action-log row are visible), and food transactions over 1000 also match a second rule.
const RULES = `
rules:
  - id: tag_big_spender
    domain: growth
    on: [transaction]
    when: payload.amount > 100
    then:
      - action: set_user_attribute
        params: { attribute: segment, value: "big_spender" }
  - id: mark_exact_amount
    domain: growth
    on: [transaction]
    when: payload.amount == 777
    then:
      - action: set_user_attribute
        params: { attribute: vip, value: true }
      - action: set_user_attribute
        params: { attribute: country, value: null }
  - id: high_value_food
    domain: growth
    on: [transaction]
    priority: 10
    when:
      all:
        - { fact: payload.amount, op: ">", value: 1000 }
        - { fact: payload.category, op: "==", value: food }
  - id: welcome
    domain: growth
    on: [signup]
    when: payload.referrer == "friend"
    then:
      - action: emit_event
        params: { type: welcome_sent, payload: { version: 2 } }
`;

const waitFor = <T>(fn: () => Promise<T>, done: (v: T) => boolean) => poll(fn, done, 60_000, 200);

describe.each<Mode>(runnable('embedded', 'postgres+redis'))('event ingestion on %s', (mode) => {
  let t: TestApp;
  let cfg: Awaited<ReturnType<typeof configDir>>;
  let ds: DataSource;
  beforeAll(async () => {
    cfg = await configDir({ rules: { 'test.yaml': RULES } });
    t = await bootApi(mode, { CONFIG_DIR: cfg.dir, BATCH_MAX_EVENTS: '50' });
    ds = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t.close();
    await cfg.cleanup();
  });

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => t.inject({ method: 'POST', url, payload: payload as object, headers });
  const count = async (sql: string, params: unknown[] = []) => Number((await ds.query(sql, params))[0].n);
  // prom-client's registry is one per process (both modes of this file share it): compare before and after.
  const metric = async (series: string) => {
    const text = (await t.inject({ method: 'GET', url: '/metrics' })).body;
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : 0;
  };

  it('processes one event and reports matches and action results', async () => {
    const res = await post('/v1/events', { id: 'e-1', type: 'transaction', user_id: 'u-1', payload: { amount: 1500, category: 'food' } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ event_id: 'e-1', duplicate: false });
    expect(body.matched).toEqual([
      { rule_id: 'high_value_food', domain: 'growth' },
      { rule_id: 'tag_big_spender', domain: 'growth' },
    ]);
    expect(body.actions).toEqual([expect.objectContaining({ rule_id: 'tag_big_spender', action: 'set_user_attribute', status: 'succeeded' })]);
    const user = await t.inject({ method: 'GET', url: '/v1/users/u-1' });
    expect(user.json().attributes.segment).toBe('big_spender');
    // The answer is the very text the outcome was stored as (serialised once for both), sent as JSON.
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(await count("SELECT count(*) AS n FROM event_outcomes WHERE event_id = $1 AND result::text = $2", ['e-1', res.body])).toBe(1);
  });

  it('counts events, rule matches, stage runs and actions in the metrics', async () => {
    const series = [
      'arbiter_events_ingested_total{type="transaction",mode="sync"}',
      'arbiter_rule_matches_total{rule="high_value_food",domain="growth"}',
      'arbiter_rule_matches_total{rule="tag_big_spender",domain="growth"}',
      'arbiter_pipeline_stage_duration_seconds_count{domain="growth"}',
      'arbiter_action_executions_total{action="set_user_attribute",mode="inline",outcome="succeeded"}',
    ];
    const before = await Promise.all(series.map(metric));
    for (const [i, amount] of [1500, 200, 50].entries()) {
      expect((await post('/v1/events', { id: `e-metrics-${mode}-${i}`, type: 'transaction', user_id: 'u-metrics', payload: { amount, category: 'food' } })).statusCode).toBe(200);
    }
    const after = await Promise.all(series.map(metric));
    // Three events; the food rule matched the first, the tagging rule the first two (and ran twice).
    expect(after.map((v, i) => v - before[i])).toEqual([3, 1, 2, 3, 2]);
  });

  it('answers a repeated id with the first result and runs nothing again', async () => {
    const first = await post('/v1/events', { id: 'e-dup', type: 'transaction', user_id: 'u-2', payload: { amount: 500 } });
    await t.inject({ method: 'PATCH', url: '/v1/users/u-2', payload: { attributes: { segment: 'changed by hand' } } });
    const again = await post('/v1/events', { id: 'e-dup', type: 'transaction', user_id: 'u-2', payload: { amount: 500 } });
    expect(again.json()).toEqual({ ...first.json(), duplicate: true });
    expect((await t.inject({ method: 'GET', url: '/v1/users/u-2' })).json().attributes.segment).toBe('changed by hand');
    expect(await count('SELECT count(*) AS n FROM events WHERE id = $1', ['e-dup'])).toBe(1);
  });

  it('runs a stored follow-up event as stored, though the rule that emits it now gives another payload', async () => {
    // The follow-up was stored by a first run under an earlier version of the rule, which then died.
    const child = `signup-${mode}.welcome.0`;
    await ds.query(`INSERT INTO events (id, user_id, type, source, occurred_at, payload) VALUES ($1, 'u-welcome', 'welcome_sent', 'emit_event', now(), '{"version": 1}')`, [child]);
    const res = await post('/v1/events', { id: `signup-${mode}`, type: 'signup', user_id: 'u-welcome', payload: { referrer: 'friend' } });
    expect(res.statusCode).toBe(200);
    expect(res.json().actions).toEqual([expect.objectContaining({ rule_id: 'welcome', action: 'emit_event', status: 'succeeded' })]);
    expect((await t.inject({ method: 'GET', url: `/v1/events/${child}` })).json()).toMatchObject({ status: 'done', event: { payload: { version: 1 } } });
  });

  it('refuses the second of two different events sent at once under one id, and keeps the first whole', async () => {
    const bodies = [100, 200].map((amount) => ({ id: `e-race-${mode}`, type: 'transaction', user_id: 'u-race', payload: { amount } }));
    const answers = await Promise.all(bodies.map((b) => post('/v1/events', b)));
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 422]);
    const kept = bodies[answers.findIndex((a) => a.statusCode === 200)];
    expect(answers.find((a) => a.statusCode === 422)!.json().error).toMatchObject({ code: 'EVENT_ID_REUSED', details: { errors: [{ path: 'payload' }] } });
    const stored = (await t.inject({ method: 'GET', url: `/v1/events/e-race-${mode}` })).json();
    expect(stored).toMatchObject({ status: 'done', event: { payload: kept.payload } });
  });

  it('finishes the work of an attempt that died mid-way: a stale running action runs again, once', async () => {
    // What a crash leaves: the event logged, its inline action claimed as running, no outcome.
    await ds.query(`INSERT INTO events (id, user_id, type, source, occurred_at, payload) VALUES ('e-crashed', 'u-crash', 'transaction', 'api', now(), '{"amount": 300}')`);
    await ds.query(
      `INSERT INTO action_log (idempotency_key, event_id, rule_id, domain, action_index, action, mode, status, params, event, updated_at)
       VALUES ('e-crashed/tag_big_spender/0', 'e-crashed', 'tag_big_spender', 'growth', 0, 'set_user_attribute', 'inline', 'running', '{}', '{}', now() - interval '1 hour')`,
    );
    const res = await post('/v1/events', { id: 'e-crashed', type: 'transaction', user_id: 'u-crash', payload: { amount: 300 } });
    expect(res.json()).toMatchObject({ duplicate: false, actions: [{ rule_id: 'tag_big_spender', status: 'succeeded' }] });
    expect((await t.inject({ method: 'GET', url: '/v1/users/u-crash' })).json().attributes.segment).toBe('big_spender');
    const log = await ds.query(`SELECT status, attempts FROM action_log WHERE idempotency_key = 'e-crashed/tag_big_spender/0'`);
    expect(log).toEqual([{ status: 'succeeded', attempts: expect.any(Number) }]);
    const again = await post('/v1/events', { id: 'e-crashed', type: 'transaction', user_id: 'u-crash', payload: { amount: 300 } });
    expect(again.json().duplicate).toBe(true);
  });

  it('stores the outcome and the fraud decision in one statement: when it fails, only the records of actions that ran are kept', async () => {
    const replayed = () => metric('arbiter_action_executions_total{action="set_user_attribute",mode="inline",outcome="replayed"}');
    const id = `e-outcome-fails-${mode}`;
    await ds.query(`CREATE FUNCTION refuse_outcome() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
    await ds.query(`CREATE TRIGGER refuse_outcome BEFORE INSERT ON event_outcomes FOR EACH ROW WHEN (NEW.event_id = '${id}') EXECUTE FUNCTION refuse_outcome()`);
    try {
      const failed = await post('/v1/events', { id, type: 'transaction', user_id: 'u-refused', payload: { amount: 300 } });
      expect(failed.statusCode).toBe(500);
      expect(failed.body).not.toContain('refused by the test');
    } finally {
      await ds.query('DROP TRIGGER refuse_outcome ON event_outcomes');
      await ds.query('DROP FUNCTION refuse_outcome()');
    }
    // The action ran and its record stayed, with its write; the outcome and the decision, written with them, did not.
    expect(await ds.query('SELECT status, attempts FROM action_log WHERE event_id = $1', [id])).toEqual([{ status: 'succeeded', attempts: 1 }]);
    expect((await t.inject({ method: 'GET', url: '/v1/users/u-refused' })).json().attributes.segment).toBe('big_spender');
    expect(await count('SELECT count(*) AS n FROM event_outcomes WHERE event_id = $1', [id])).toBe(0);
    expect(await count('SELECT count(*) AS n FROM fraud_decisions WHERE event_id = $1', [id])).toBe(0);

    // Sent again, the event is processed: the action is answered from its record, not run again.
    const before = await replayed();
    const again = await post('/v1/events', { id, type: 'transaction', user_id: 'u-refused', payload: { amount: 300 } });
    expect(again.json()).toMatchObject({ duplicate: false, actions: [{ rule_id: 'tag_big_spender', status: 'succeeded' }] });
    expect((await replayed()) - before).toBe(1);
    const decisions = await ds.query('SELECT id FROM fraud_decisions WHERE event_id = $1', [id]);
    expect(decisions).toEqual([{ id: again.json().fraud.decision_id }]);
    expect(await count(`SELECT count(*) AS n FROM event_outcomes WHERE event_id = $1 AND status = 'done'`, [id])).toBe(1);
  });

  it('keeps the stored outcome and its fraud decision in step when one new event id arrives twice at once', async () => {
    const id = `e-twice-${mode}`;
    const body = { id, type: 'transaction', user_id: 'u-twice', payload: { amount: 300 } };
    const ran = 'arbiter_action_executions_total{action="set_user_attribute",mode="inline",outcome="succeeded"}';
    const before = await metric(ran);
    const answers = await Promise.all([post('/v1/events', body), post('/v1/events', body)]);
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200]);
    // The second waited for the first and was answered as a repeat of it.
    const [first, second] = answers.map((a) => a.json()).sort((a, b) => Number(a.duplicate) - Number(b.duplicate));
    expect(second).toEqual({ ...first, duplicate: true });
    const decisions: { id: string }[] = await ds.query('SELECT id FROM fraud_decisions WHERE event_id = $1 AND NOT is_check', [id]);
    expect(decisions).toHaveLength(1);
    const [stored] = await ds.query('SELECT result FROM event_outcomes WHERE event_id = $1', [id]);
    expect(stored.result.fraud.decision_id).toBe(decisions[0].id);
    // The action ran once.
    expect((await metric(ran)) - before).toBe(1);
    expect(await ds.query('SELECT status FROM action_log WHERE event_id = $1', [id])).toEqual([{ status: 'succeeded' }]);
  });

  it("writes a first run's attribute changes with its outcome, all of one user's in order, in one statement", async () => {
    expect((await t.inject({ method: 'PUT', url: '/v1/users/u-merge', payload: { attributes: { country: 'FR', lifetime_value: 5 } } })).statusCode).toBe(201);
    const { result: res, queries } = await withQueries(ds, () => post('/v1/events', { id: `e-merge-${mode}`, type: 'transaction', user_id: 'u-merge', payload: { amount: 777 } }));
    expect(res.json().actions.map((a: { rule_id: string; status: string }) => `${a.rule_id}:${a.status}`).sort()).toEqual([
      'mark_exact_amount:succeeded',
      'mark_exact_amount:succeeded',
      'tag_big_spender:succeeded',
    ]);
    // Three changes of one user (one a removal), merged in the statement that stored the outcome.
    expect((await t.inject({ method: 'GET', url: '/v1/users/u-merge' })).json().attributes).toEqual({ segment: 'big_spender', vip: true, lifetime_value: 5 });
    const userWrites = queries.filter((q) => /INSERT INTO users/.test(q));
    expect(userWrites.length).toBeGreaterThan(0);
    expect(userWrites.filter((q) => !/INSERT INTO event_outcomes/.test(q))).toEqual([]);
  });

  it("writes a new event's inline action entries once, with its outcome, and still claims on a replay", async () => {
    const entry = async (eventId: string) => (await ds.query('SELECT status, attempts, created_at = updated_at AS once FROM action_log WHERE event_id = $1', [eventId])) as unknown[];
    // A new event: no claim ahead of the action, so its entry is inserted once, finished.
    expect((await post('/v1/events', { id: `e-once-${mode}`, type: 'transaction', user_id: 'u-once', payload: { amount: 300 } })).json().actions).toEqual([
      expect.objectContaining({ action: 'set_user_attribute', status: 'succeeded' }),
    ]);
    expect(await entry(`e-once-${mode}`)).toEqual([{ status: 'succeeded', attempts: 1, once: true }]);
    // An event stored by an attempt that never finished runs as a replay: claimed first, then finished.
    const replay = `e-replay-${mode}`;
    await ds.query(`INSERT INTO events (id, user_id, type, source, occurred_at, payload) VALUES ($1, 'u-once', 'transaction', 'api', now(), '{"amount": 300}')`, [replay]);
    expect((await post('/v1/events', { id: replay, type: 'transaction', user_id: 'u-once', payload: { amount: 300 } })).json()).toMatchObject({
      duplicate: false,
      actions: [{ action: 'set_user_attribute', status: 'succeeded' }],
    });
    expect(await entry(replay)).toEqual([{ status: 'succeeded', attempts: 1, once: false }]);
  });

  it('accepts what the log can hold at its limits: 128-character ids, a 64-character type, a 256-character source, an hour ahead', async () => {
    const id = `${mode}-`.padEnd(128, 'i');
    const user = 'u'.repeat(128);
    const occurred = new Date(Date.now() + 3_000_000).toISOString();
    const res = await post('/v1/events', { id, type: 't'.repeat(64), user_id: user, source: `https://example.com/${'s'.repeat(236)}`, occurred_at: occurred, payload: { note: 'emoji \ud83d\ude00 is fine' } });
    expect(res.statusCode).toBe(200);
    // Fetched back by its id, and its user's by theirs (longer than Fastify's default 100 for a path parameter).
    const stored = await t.inject({ method: 'GET', url: `/v1/events/${id}` });
    expect(stored.statusCode).toBe(200);
    expect(stored.json().event).toMatchObject({ user_id: user, occurred_at: occurred, payload: { note: 'emoji \ud83d\ude00 is fine' } });
    expect((await t.inject({ method: 'GET', url: `/v1/growth/users/${user}/points` })).json()).toEqual({ user_id: user, balance: 0 });
  });

  it('accepts a CloudEvent sent as application/cloudevents+json', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
      payload: JSON.stringify({ specversion: '1.0', id: `ce-type-${mode}`, type: 'transaction', source: 'shop', subject: 'u-ce', datacontenttype: 'application/json', data: { amount: 200 } }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().matched).toEqual([{ rule_id: 'tag_big_spender', domain: 'growth' }]);
  });

  it('accepts a CloudEvents envelope, subject being the user', async () => {
    const res = await post('/v1/events', { specversion: '1.0', id: 'ce-1', type: 'transaction', source: 'shop', subject: 'u-ce', time: '2026-01-01T00:00:00Z', data: { amount: 200 } });
    expect(res.statusCode).toBe(200);
    expect(res.json().matched).toEqual([{ rule_id: 'tag_big_spender', domain: 'growth' }]);
    const stored = (await t.inject({ method: 'GET', url: '/v1/events/ce-1' })).json();
    expect(stored.event).toMatchObject({ user_id: 'u-ce', source: 'shop', occurred_at: '2026-01-01T00:00:00.000Z', payload: { amount: 200 } });
    expect(stored.status).toBe('done');
  });

  it.each([
    ['a missing field', { type: 'transaction', payload: {} }, 'user_id'],
    ['a mistyped field', { type: 'transaction', user_id: 'u', payload: { amount: 'lots' } }, 'payload.amount'],
    ['an unknown top-level field', { type: 'transaction', user_id: 'u', user: 'x', payload: {} }, 'user'],
    ['a bad timestamp', { type: 'transaction', user_id: 'u', occurred_at: 'yesterday', payload: {} }, 'occurred_at'],
    ['a payload nested too deep', { type: 'other', user_id: 'u', payload: JSON.parse('{"a":'.repeat(20) + '1' + '}'.repeat(20)) }, 'payload.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a'],
    ['a prototype key', { type: 'other', user_id: 'u', payload: { nested: { constructor: 1 } } }, 'payload.nested.constructor'],
    // What the schema allowed and the database refused (500s before).
    ['a user id longer than the log holds', { type: 'other', user_id: 'u'.repeat(129), payload: {} }, 'user_id'],
    ['a user id the users API could not read back', { type: 'other', user_id: 'a b+c', payload: {} }, 'user_id'],
    ['a type longer than the log holds', { type: 't'.repeat(65), user_id: 'u', payload: {} }, 'type'],
    ['a source longer than the log holds', { type: 'other', user_id: 'u', source: 's'.repeat(257), payload: {} }, 'source'],
    ['a leap second', { type: 'other', user_id: 'u', occurred_at: '2026-01-01T23:59:60Z', payload: {} }, 'occurred_at'],
    ['year 0', { type: 'other', user_id: 'u', occurred_at: '0000-01-01T00:00:00Z', payload: {} }, 'occurred_at'],
    ['a time past year 9999 in UTC', { type: 'other', user_id: 'u', occurred_at: '9999-12-31T23:59:59-14:00', payload: {} }, 'occurred_at'],
    ['a time further ahead than EVENT_MAX_FUTURE_MS', { type: 'other', user_id: 'u', occurred_at: new Date(Date.now() + 2 * 3_600_000).toISOString(), payload: {} }, 'occurred_at'],
    ['a NUL character in the user id', { type: 'other', user_id: 'u\u0000v', payload: {} }, 'user_id'],
    ['a NUL character in a payload value', { type: 'other', user_id: 'u', payload: { note: ['ok', 'a\u0000b'] } }, 'payload.note[1]'],
    ['a lone surrogate in a payload value', { type: 'other', user_id: 'u', payload: { note: 'a\ud800' } }, 'payload.note'],
    ['a NUL character in a payload key', { type: 'other', user_id: 'u', payload: { 'k\u0000': 1 } }, 'payload.k\u0000'],
    ['a CloudEvent dated a leap second', { specversion: '1.0', type: 'other', source: 'shop', subject: 'u', time: '2026-12-31T23:59:60Z', data: {} }, 'time'],
    ['a CloudEvent with a NUL character in its data', { specversion: '1.0', type: 'other', source: 'shop', subject: 'u', data: { a: '\u0000' } }, 'data.a'],
    ['a CloudEvent whose data is not JSON', { specversion: '1.0', type: 'other', source: 'shop', subject: 'u', datacontenttype: 'application/jsonx', data: {} }, 'datacontenttype'],
  ])('refuses %s with a 400 naming its path, and stores nothing', async (_what, body, path) => {
    const id = `bad-${Math.random().toString(36).slice(2)}`;
    const res = await post('/v1/events', { id, ...body });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('VALIDATION_FAILED');
    expect(res.json().error.details.errors.map((e: { path: string }) => e.path)).toContain(path);
    expect(await count('SELECT count(*) AS n FROM events WHERE id = $1', [id])).toBe(0);
  });

  it.each([
    ['__proto__', '{"type":"x","user_id":"u","payload":{"__proto__":{"polluted":1}}}'],
    ['constructor.prototype', '{"type":"x","user_id":"u","payload":{"constructor":{"prototype":{"polluted":1}}}}'],
  ])('refuses %s in a body before parsing it into objects', async (_key, raw) => {
    const res = await t.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: raw });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'VALIDATION_FAILED', details: { errors: [{ path: '(body)' }] } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('queues a batch, processes it through the same pipeline and reports progress', async () => {
    const events = Array.from({ length: 20 }, (_, i) => ({ id: `b-${i}`, type: 'transaction', user_id: `bu-${i % 5}`, payload: { amount: 100 + i * 10 } }));
    const res = await post('/v1/events/batch', { events });
    expect(res.statusCode).toBe(202);
    const { batch_id, accepted } = res.json();
    expect(accepted).toBe(20);
    const status = await waitFor(
      async () => (await t.inject({ method: 'GET', url: `/v1/events/batch/${batch_id}` })).json(),
      (s) => s.done === 20,
    );
    expect(status).toMatchObject({ total: 20, done: 20, queued: 0, failed: 0, duplicate: 0 });
    // amount > 100 for all but the first: 19 tagging actions, each logged once.
    expect(await count("SELECT count(*) AS n FROM action_log WHERE rule_id = 'tag_big_spender' AND idempotency_key LIKE 'b-%'")).toBe(19);

    // Re-sent: the processed events' jobs are gone, so they run again and the pipeline answers
    // each as a duplicate, running nothing.
    const batchDuplicates = async () => Number(/arbiter_events_duplicate_total\{mode="batch"\} (\d+)/.exec((await t.inject({ method: 'GET', url: '/metrics' })).body)?.[1] ?? 0);
    const before = await batchDuplicates();
    const again = await post('/v1/events/batch', { events: events.slice(0, 5) });
    const second = await waitFor(
      async () => (await t.inject({ method: 'GET', url: `/v1/events/batch/${again.json().batch_id}` })).json(),
      (s) => s.duplicate === 5,
    );
    expect(second).toMatchObject({ total: 5, done: 0, duplicate: 5, queued: 0 });
    await waitFor(batchDuplicates, (n) => n === before + 5);
    expect(await count("SELECT count(*) AS n FROM events WHERE id LIKE 'b-%'")).toBe(20);
    expect(await count("SELECT count(*) AS n FROM action_log WHERE rule_id = 'tag_big_spender' AND idempotency_key LIKE 'b-%'")).toBe(19);
  });

  it('rejects a whole batch listing every bad index, and queues none of it', async () => {
    const res = await post('/v1/events/batch', {
      events: [
        { id: 'ok-1', type: 'transaction', user_id: 'u', payload: { amount: 1 } },
        { id: 'bad-a', type: 'transaction', payload: {} },
        { id: 'bad-b', type: 'transaction', user_id: 'u', payload: { amount: 'x' } },
        { id: 'ok-1', type: 'transaction', user_id: 'u', payload: {} },
      ],
    });
    expect(res.statusCode).toBe(400);
    const paths = res.json().error.details.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['events[1].user_id']));
    const late = await post('/v1/events/batch', { events: [{ id: 'ok-2', type: 'transaction', user_id: 'u', payload: { amount: 'x' } }, { id: 'ok-2', type: 'transaction', user_id: 'u' }] });
    expect(late.json().error.details.errors.map((e: { path: string }) => e.path)).toEqual(['events[0].payload.amount', 'events[1].id']);
    // What the database could not store, named per event and in each event's own shape.
    const leap = await post('/v1/events/batch', {
      events: [
        { id: 'ok-3', type: 'transaction', user_id: 'u', payload: { amount: 1 } },
        { id: 'ok-4', type: 'transaction', user_id: 'u', occurred_at: '2026-06-30T23:59:60Z', payload: {} },
        { specversion: '1.0', id: 'ok-5', type: 'other', source: 'shop', subject: 'u', time: '0000-01-01T00:00:00Z', data: {} },
      ],
    });
    expect(leap.statusCode).toBe(400);
    expect(leap.json().error.details.errors.map((e: { path: string }) => e.path)).toEqual(['events[1].occurred_at', 'events[2].time']);
    const nul = await post('/v1/events/batch', { events: [{ id: 'ok-3', type: 'other', user_id: 'u\u0000', payload: {} }, { specversion: '1.0', id: 'ok-5', type: 'other', source: 'shop', subject: 'u', data: { note: '\ud800' } }] });
    expect(nul.statusCode).toBe(400);
    expect(nul.json().error.details.errors.map((e: { path: string }) => e.path)).toEqual(['events[0].user_id', 'events[1].data.note']);
    await new Promise((r) => setTimeout(r, 300));
    expect(await count("SELECT count(*) AS n FROM events WHERE id IN ('ok-1', 'ok-2', 'ok-3', 'ok-4', 'ok-5')")).toBe(0);
  });

  it('refuses more events than BATCH_MAX_EVENTS', async () => {
    const events = Array.from({ length: 51 }, (_, i) => ({ type: 'transaction', user_id: `x${i}`, payload: {} }));
    const res = await post('/v1/events/batch', { events });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.errors[0]).toMatchObject({ path: 'events' });
  });

  it('answers 404 for an unknown batch', async () => {
    for (const id of ['00000000-0000-0000-0000-000000000000', '000000000000000000000000000000000000', '------------------------------------', 'nope']) {
      const res = await t.inject({ method: 'GET', url: `/v1/events/batch/${id}` });
      expect([id, res.statusCode, res.json().error.code]).toEqual([id, 404, 'NOT_FOUND']);
    }
  });
});

/**
 * The app of a queued-events suite (`EVENT_ATTEMPTS` = `attempts`), on `mode`, and its helpers:
 * events of `user`, batch status, the failed list, and `refuse`, which makes the database refuse
 * the outcomes (or, `at: 'append'`, the events themselves) of `ids` while `work` runs.
 */
function queuedEvents(mode: Mode, attempts: string, user: string) {
  const q = { t: undefined as unknown as TestApp, ds: undefined as unknown as DataSource };
  let cfg: Awaited<ReturnType<typeof configDir>> | undefined;
  beforeAll(async () => {
    cfg = await configDir({ rules: { 'test.yaml': RULES } });
    q.t = await bootApi(mode, { CONFIG_DIR: cfg.dir, EVENT_ATTEMPTS: attempts });
    q.ds = q.t.app.get(DataSource);
  });
  afterAll(async () => {
    await q.t?.close();
    await cfg?.cleanup();
  });
  type FailedItem = { id: string; batch_id: string; attempts: number; error: string; failed_at: string };
  const failedItems = async () => (await q.t.inject({ method: 'GET', url: '/v1/events/failed' })).json().items as FailedItem[];
  return {
    q,
    post: (url: string, payload: unknown) => q.t.inject({ method: 'POST', url, payload: payload as object }),
    status: (batchId: string) => q.t.inject({ method: 'GET', url: `/v1/events/batch/${batchId}` }).then((r) => r.json()),
    event: (id: string, amount = 50) => ({ id, type: 'transaction', user_id: user, payload: { amount } }),
    failedIds: async () => (await failedItems()).map((i) => i.id),
    failed: async (id: string) => (await failedItems()).find((i) => i.id === id),
    refuse: async (ids: string[], work: () => Promise<void>, at: 'outcome' | 'append' = 'outcome') => {
      const list = ids.map((i) => `'${i}'`).join(', ');
      await q.ds.query(`CREATE FUNCTION refuse_outcome() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
      if (at === 'outcome') await q.ds.query(`CREATE TRIGGER refuse_outcome BEFORE INSERT OR UPDATE ON event_outcomes FOR EACH ROW WHEN (NEW.event_id IN (${list}) AND NEW.status = 'done') EXECUTE FUNCTION refuse_outcome()`);
      else await q.ds.query(`CREATE TRIGGER refuse_outcome BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.id IN (${list})) EXECUTE FUNCTION refuse_outcome()`);
      try {
        await work();
      } finally {
        await q.ds.query(`DROP TRIGGER refuse_outcome ON ${at === 'outcome' ? 'event_outcomes' : 'events'}`);
        await q.ds.query('DROP FUNCTION refuse_outcome()');
      }
    },
  };
}

describe.each<Mode>(runnable('embedded', 'postgres+redis'))('queued events on %s', (mode) => {
  const { q, post, status, event, refuse, failed, failedIds } = queuedEvents(mode, '1', 'u-queued');

  it("queues events whose ids name the queue's own keys, are numbers or hold a colon, and the queue goes on working", async () => {
    const ids = ['wait', 'meta', 'id', 'events', 'stalled-check', 'active', 'failed', 'marker', '12345', 'a:b', 'a/b'];
    const res = await post('/v1/events/batch', { events: ids.map(event) });
    expect(res.statusCode).toBe(202);
    expect(await waitFor(() => status(res.json().batch_id), (s) => s.done === ids.length)).toMatchObject({ done: ids.length, queued: 0, failed: 0 });
    const outcomes: { event_id: string }[] = await q.ds.query(`SELECT event_id FROM event_outcomes WHERE status = 'done' AND event_id = ANY($1)`, [ids]);
    expect(outcomes.map((o) => o.event_id).sort()).toEqual([...ids].sort());
    // And the next batch, and readiness, are unaffected.
    const next = await post('/v1/events/batch', { events: [event('after-keys')] });
    expect(next.statusCode).toBe(202);
    expect(await waitFor(() => status(next.json().batch_id), (s) => s.done === 1)).toMatchObject({ done: 1 });
    expect((await q.t.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('lists an event that failed its last attempt, retries it on request, and queues it again when it is sent again', async () => {
    const [sentAgain, retried] = [`fail-again-${mode}`, `fail-retry-${mode}`];
    let first = '';
    await refuse([sentAgain, retried], async () => {
      const res = await post('/v1/events/batch', { events: [event(sentAgain), event(retried), event(`fail-ok-${mode}`)] });
      expect(res.statusCode).toBe(202);
      first = res.json().batch_id;
      expect(await waitFor(() => status(first), (s) => s.failed === 2 && s.done === 1)).toMatchObject({ failed: 2, done: 1, queued: 0 });
    });
    const listed = (await q.t.inject({ method: 'GET', url: '/v1/events/failed' })).json();
    expect(listed.items.map((i: { id: string }) => i.id).sort()).toEqual([retried, sentAgain].sort());
    expect(listed.items[0]).toMatchObject({ batch_id: first, type: 'transaction', user_id: 'u-queued', attempts: 1, error: expect.stringContaining('refused by the test') });

    // Sent again in a new batch: run again (it counts there as a duplicate, its outcome being the
    // first batch's) — found among the failed jobs even without the failure's outcome, which is
    // written best effort (here: gone).
    await q.ds.query('DELETE FROM event_outcomes WHERE event_id = $1', [sentAgain]);
    const again = await post('/v1/events/batch', { events: [event(sentAgain)] });
    expect(again.statusCode).toBe(202);
    expect(await waitFor(() => status(again.json().batch_id), (s) => s.queued === 0)).toMatchObject({ total: 1, duplicate: 1, failed: 0 });
    // Retried by id.
    const retry = await post(`/v1/events/failed/${retried}/retry`, {});
    expect(retry.statusCode).toBe(202);
    expect(retry.json()).toEqual({ id: retried, state: 'waiting' });
    expect(await waitFor(() => status(first), (s) => s.done === 3)).toMatchObject({ done: 3, failed: 0, queued: 0 });
    expect((await q.t.inject({ method: 'GET', url: '/v1/events/failed' })).json().items).toEqual([]);
    expect((await post(`/v1/events/failed/${retried}/retry`, {})).statusCode).toBe(404);
  });

  it("answers where a queued event is before the log holds it: queued, or failed, with the reason only when a call would have been told it (the failed-jobs list has the service's own)", async () => {
    const [waiting, broken] = [`where-queued-${mode}`, `where-failed-${mode}`];
    const queue = await q.t.app.get(QueueService).queue('events');
    await queue.pause();
    try {
      const res = await post('/v1/events/batch', { events: [event(waiting)] });
      expect(res.statusCode).toBe(202);
      const got = await q.t.inject({ method: 'GET', url: `/v1/events/${waiting}` });
      expect([got.statusCode, got.json()]).toEqual([200, { event: null, status: 'queued', result: null, error: null }]);
    } finally {
      await queue.resume();
    }
    expect(await waitFor(() => q.t.inject({ method: 'GET', url: `/v1/events/${waiting}` }).then((r) => r.json()), (b) => b.status === 'done')).toMatchObject({ event: { id: waiting } });

    // The append itself refused: failed before the log held it.
    await refuse(
      [broken],
      async () => {
        const res = await post('/v1/events/batch', { events: [event(broken)] });
        expect(await waitFor(() => status(res.json().batch_id), (s) => s.failed === 1)).toMatchObject({ failed: 1, queued: 0 });
      },
      'append',
    );
    // The reason is the service's own (here the database's words): the client is told that it
    // failed, as a call's 500 would; the failed-jobs list (scope admin) has the reason.
    const got = await q.t.inject({ method: 'GET', url: `/v1/events/${broken}` });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual({ event: null, status: 'failed', result: null, error: UNEXPECTED_FAILURE });
    expect((await failed(broken))?.error).toContain('refused by the test');
    // With no outcome recorded (written best effort), the queue still knows.
    await q.ds.query('DELETE FROM event_outcomes WHERE event_id = $1', [broken]);
    expect((await q.t.inject({ method: 'GET', url: `/v1/events/${broken}` })).json()).toEqual({ event: null, status: 'failed', result: null, error: UNEXPECTED_FAILURE });
    expect((await q.t.inject({ method: 'GET', url: `/v1/events/never-sent-${mode}` })).statusCode).toBe(404);
    await post(`/v1/events/failed/${broken}/retry`, {});
    expect(await waitFor(() => q.t.inject({ method: 'GET', url: `/v1/events/${broken}` }).then((r) => r.json()), (b) => b.status === 'done')).toMatchObject({ event: { id: broken } });
  });

  it('drops a failed job from the list once its event is processed through POST /v1/events, and refuses to retry it', async () => {
    const [listed, retried] = [`sync-after-${mode}`, `sync-retry-${mode}`];
    await refuse([listed, retried], async () => {
      const res = await post('/v1/events/batch', { events: [event(listed), event(retried)] });
      expect(await waitFor(() => status(res.json().batch_id), (s) => s.failed === 2)).toMatchObject({ failed: 2 });
    });
    expect(await failedIds()).toEqual(expect.arrayContaining([listed, retried]));
    for (const id of [listed, retried]) expect((await post('/v1/events', event(id))).json()).toMatchObject({ event_id: id, duplicate: false });

    const retry = await post(`/v1/events/failed/${retried}/retry`, {});
    expect([retry.statusCode, retry.json().error.code]).toEqual([409, 'EVENT_ALREADY_PROCESSED']);
    const page = (await q.t.inject({ method: 'GET', url: '/v1/events/failed' })).json();
    expect(page.items.map((i: { id: string }) => i.id)).not.toContain(listed);
    expect(page.total).toBe(page.items.length);
    expect(await failedIds()).toEqual(page.items.map((i: { id: string }) => i.id));
    expect((await post(`/v1/events/failed/${retried}/retry`, {})).statusCode).toBe(404);
  });

  it('counts a re-sent event that fails again as failed in the new batch too, and as done in both once it succeeds', async () => {
    const id = `fails-twice-${mode}`;
    const failedAt = async () => ((await q.t.inject({ method: 'GET', url: '/v1/events/failed' })).json().items as { id: string; failed_at: string }[]).find((i) => i.id === id)?.failed_at ?? '';
    let first = '';
    let again = '';
    await refuse([id], async () => {
      first = (await post('/v1/events/batch', { events: [event(id)] })).json().batch_id;
      expect(await waitFor(() => status(first), (s) => s.failed === 1)).toMatchObject({ failed: 1 });
      const sentAt = new Date().toISOString();
      again = (await post('/v1/events/batch', { events: [event(id)] })).json().batch_id;
      // Queued again and run again (its job's failure is newer), then failed in both batches: never left as queued.
      await waitFor(failedAt, (at) => at > sentAt);
      expect(await status(again)).toMatchObject({ total: 1, failed: 1, queued: 0 });
      expect(await status(first)).toMatchObject({ failed: 1, queued: 0 });
    });
    await post(`/v1/events/failed/${id}/retry`, {});
    expect(await waitFor(() => status(first), (s) => s.done === 1)).toMatchObject({ done: 1, failed: 0 });
    expect(await status(again)).toMatchObject({ duplicate: 1, failed: 0, queued: 0 });
  });

  it('lists and retries a failed job queued under the bare event id, as jobs were before their ids had a prefix', async () => {
    const [id, resent] = [`legacy-${mode}`, `legacy-resent-${mode}`];
    const queue = await q.t.app.get(QueueService).queue('events');
    await refuse([id, resent], async () => {
      for (const jobId of [id, resent]) await queue.add('transaction', { event: { ...event(jobId), source: 'api', occurred_at: new Date().toISOString() }, batchId: undefined }, { jobId, attempts: 1, removeOnFail: false });
      await waitFor(failedIds, (ids) => ids.includes(id) && ids.includes(resent));
    });
    const retry = await post(`/v1/events/failed/${id}/retry`, {});
    expect([retry.statusCode, retry.json()]).toEqual([202, { id, state: 'waiting' }]);
    expect(await waitFor(() => q.t.inject({ method: 'GET', url: `/v1/events/${id}` }).then((r) => r.json()), (b) => b.status === 'done')).toMatchObject({ event: { id } });
    // Sent again in a batch: the old job is retried, and no new one is queued beside it.
    await queue.pause();
    let batch = '';
    try {
      const again = await post('/v1/events/batch', { events: [event(resent)] });
      expect(again.statusCode).toBe(202);
      batch = again.json().batch_id;
      expect([await queue.getJobState(resent), await queue.getJobState(`event/${resent}`)]).toEqual(['waiting', 'unknown']);
    } finally {
      await queue.resume();
    }
    expect(await waitFor(() => status(batch), (s) => s.queued === 0)).toMatchObject({ duplicate: 1, failed: 0 });
    expect(await failedIds()).not.toContain(resent);
  });
});

describe.each<Mode>(runnable('postgres+redis'))('queued events with retries on %s', (mode) => {
  const { q, post, status, event, refuse, failed } = queuedEvents(mode, '3', 'u-retries');

  it("refuses a batch that sends another event under a stored event's id, naming each field, and queues none of it", async () => {
    const [a, b, c] = [`taken-a-${mode}`, `taken-b-${mode}`, `taken-c-${mode}`];
    for (const id of [a, b, c]) expect((await post('/v1/events', event(id))).statusCode).toBe(200);
    const res = await post('/v1/events/batch', {
      events: [event(`fresh-${mode}`), { ...event(a, 51), source: 'shop' }, { specversion: '1.0', id: b, type: 'transaction', source: 'api', subject: 'someone-else', data: { amount: 50 } }, event(c)],
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({ code: 'EVENT_ID_REUSED' });
    expect(res.json().error.details.errors.map((e: { path: string }) => e.path)).toEqual(['events[1].source', 'events[1].payload', 'events[2].subject']);
    // Not queued: neither the log nor the queue knows it.
    expect((await q.t.inject({ method: 'GET', url: `/v1/events/fresh-${mode}` })).statusCode).toBe(404);

    // The same events again, stamped with another time and their keys in another order: repeats.
    const again = await post('/v1/events/batch', { events: [a, b, c].map((id) => ({ occurred_at: new Date(Date.now() - 60_000).toISOString(), payload: { amount: 50 }, user_id: 'u-retries', type: 'transaction', id })) });
    expect(again.statusCode).toBe(202);
    expect(await waitFor(() => status(again.json().batch_id), (s) => s.queued === 0)).toMatchObject({ duplicate: 3, failed: 0 });
  });

  it("fails at once, without retries, an event whose id another event took while it waited in the queue", async () => {
    const id = `taken-late-${mode}`;
    const queue = await q.t.app.get(QueueService).queue('events');
    await queue.pause();
    let batch = '';
    try {
      batch = (await post('/v1/events/batch', { events: [event(id, 52)] })).json().batch_id;
      expect((await post('/v1/events', event(id))).statusCode).toBe(200);
    } finally {
      await queue.resume();
    }
    const listed = await waitFor(() => failed(id), (f) => f !== undefined);
    expect(listed).toMatchObject({ attempts: 1, error: expect.stringContaining('was already used for another event (payload differs)') });
    // Its batch sees the id's outcome, the other event's: counted with the duplicates. The id's
    // event is the one processed, not shown as failed.
    expect(await status(batch)).toMatchObject({ queued: 0, duplicate: 1, failed: 0 });
    expect((await q.t.inject({ method: 'GET', url: `/v1/events/${id}` })).json()).toMatchObject({ status: 'done', event: { payload: { amount: 50 } } });
    // Retrying it, or sending its body again, is refused; the stored event sent again takes the
    // id's job over and is answered as a repeat.
    const retry = await post(`/v1/events/failed/${id}/retry`, {});
    expect([retry.statusCode, retry.json().error.code]).toEqual([422, 'EVENT_ID_REUSED']);
    expect((await post('/v1/events/batch', { events: [event(id, 52)] })).statusCode).toBe(422);
    const same = await post('/v1/events/batch', { events: [event(id)] });
    expect(same.statusCode).toBe(202);
    expect(await waitFor(() => status(same.json().batch_id), (s) => s.queued === 0)).toMatchObject({ duplicate: 1, failed: 0 });
    expect(await failed(id)).toBeUndefined();
  });

  it('counts an event of a batch that another event, sent by call, took the id of while it had failed as a duplicate, not done', async () => {
    const id = `taken-after-failure-${mode}`;
    let batch = '';
    await refuse(
      [id],
      async () => {
        batch = (await post('/v1/events/batch', { events: [event(id)] })).json().batch_id;
        expect(await waitFor(() => status(batch), (s) => s.failed === 1)).toMatchObject({ failed: 1 });
      },
      'append',
    );
    expect((await post('/v1/events', event(id, 77))).statusCode).toBe(200);
    expect(await status(batch)).toMatchObject({ done: 0, duplicate: 1, failed: 0, queued: 0 });
  });

  it('refuses a batch that sends another event under the id of one that failed before it was stored', async () => {
    const id = `failed-unstored-${mode}`;
    await refuse(
      [id],
      async () => {
        const first = (await post('/v1/events/batch', { events: [event(id)] })).json().batch_id;
        expect(await waitFor(() => status(first), (s) => s.failed === 1)).toMatchObject({ failed: 1 });
      },
      'append',
    );
    const other = await post('/v1/events/batch', { events: [event(id, 99)] });
    expect([other.statusCode, other.json().error.details.errors]).toEqual([422, [{ path: 'events[0].payload', message: 'differs from the event already received under this id' }]]);
    expect((await q.t.inject({ method: 'GET', url: `/v1/events/${id}` })).json()).toMatchObject({ event: null, status: 'failed' });
    // The event itself is retried, and runs.
    const same = await post('/v1/events/batch', { events: [event(id)] });
    expect(same.statusCode).toBe(202);
    expect(await waitFor(() => q.t.inject({ method: 'GET', url: `/v1/events/${id}` }).then((r) => r.json()), (b) => b.status === 'done')).toMatchObject({ event: { payload: { amount: 50 } } });
  });

  it('counts the attempts of a re-sent failed event afresh', async () => {
    const id = `afresh-${mode}`;
    await refuse([id], async () => {
      const first = (await post('/v1/events/batch', { events: [event(id)] })).json().batch_id;
      expect(await waitFor(() => status(first), (s) => s.failed === 1)).toMatchObject({ failed: 1 });
      expect(await failed(id)).toMatchObject({ attempts: 3 });
      // Sent again: three more tries (counted on, the job would fail after one and show 4).
      const sentAt = new Date().toISOString();
      const again = (await post('/v1/events/batch', { events: [event(id)] })).json().batch_id;
      expect(await status(again)).toMatchObject({ failed: 0, queued: 1 });
      const item = await waitFor(() => failed(id), (f) => (f?.failed_at ?? '') > sentAt);
      expect(item).toMatchObject({ attempts: 3 });
      expect(await status(again)).toMatchObject({ failed: 1, queued: 0 });
    });
  });
});

describe('metrics', () => {
  it('names at most 100 undeclared event types in arbiter_events_ingested_total, and counts the rest as (other)', async () => {
    const t = await bootApi('embedded');
    try {
      const series = async () => {
        const text = (await t.inject({ method: 'GET', url: '/metrics' })).body;
        return text.split('\n').filter((l) => l.startsWith('arbiter_events_ingested_total{') && /mode="sync"/.test(l));
      };
      const tag = Math.random().toString(36).slice(2, 8);
      for (let i = 0; i < 110; i++) expect((await t.inject({ method: 'POST', url: '/v1/events', payload: { type: `t${tag}${i}`, user_id: 'u', payload: {} } })).statusCode).toBe(200);
      const lines = await series();
      const named = lines.filter((l) => l.includes(`type="t${tag}`));
      const other = Number(lines.find((l) => l.includes('type="(other)"'))?.split(' ').pop() ?? 0);
      expect(named.length).toBeLessThanOrEqual(100);
      expect(named.length).toBeGreaterThan(0);
      expect(named.length + other).toBeGreaterThanOrEqual(110);
      // A declared type keeps its name past the bound (transaction is in the shipped configs/events.yaml).
      expect((await t.inject({ method: 'POST', url: '/v1/events', payload: { type: 'transaction', user_id: 'u', payload: { amount: 1 } } })).statusCode).toBe(200);
      expect((await series()).some((l) => l.includes('type="transaction"'))).toBe(true);
    } finally {
      await t.close();
    }
  });
});

describe('backpressure', () => {
  it('answers 429 with Retry-After past QUEUE_MAX_DEPTH and turns /readyz not ready above 80%', async () => {
    const t = await bootApi('embedded', { QUEUE_MAX_DEPTH: '10', BATCH_MAX_EVENTS: '10', WORKERS_ENABLED: 'false' });
    try {
      const batch = (n: number, from: number) => ({ events: Array.from({ length: n }, (_, i) => ({ id: `q-${from + i}`, type: 'other', user_id: 'u', payload: {} })) });
      expect((await t.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      expect((await t.inject({ method: 'POST', url: '/v1/events/batch', payload: batch(9, 0) })).statusCode).toBe(202);
      const ready = await t.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({ status: 'error', error: { queue_depth: { status: 'down' } }, info: { store: { status: 'up' } } });
      await new Promise((r) => setTimeout(r, 300));
      const full = await t.inject({ method: 'POST', url: '/v1/events/batch', payload: batch(2, 100) });
      expect(full.statusCode).toBe(429);
      expect(full.json().error.code).toBe('TOO_MANY_REQUESTS');
      expect(Number(full.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    } finally {
      await t.close();
    }
  });
});
