import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { ACTIONS_MIGRATIONS } from '@arbiter/actions';
import { EventSource2561732400840000 } from '@arbiter/facts';
import { FRAUD_MIGRATIONS } from '@arbiter/fraud';
import { INGESTION_MIGRATIONS, UNEXPECTED_FAILURE } from '@arbiter/ingestion';
import { JsonText, preparedQuery, rowParams, STATEMENT_SETTINGS } from '@arbiter/platform';
import { bootApi, runnable, type Mode, type TestApp } from './support/harness';

describe.each<Mode>(runnable('embedded', 'postgres'))('store on %s', (mode) => {
  let t: TestApp;
  let ds: DataSource;
  beforeAll(async () => {
    t = await bootApi(mode);
    ds = t.app.get(DataSource);
    await ds.query('CREATE TABLE scratch (id int PRIMARY KEY, note text)');
  });
  afterAll(() => t.close());

  it('records the migrations it ran in the migrations table', async () => {
    const rows = await ds.query(`SELECT to_regclass('public.migrations') AS t`);
    expect(rows[0].t).toBe('migrations');
  });

  it('leaves nothing behind from a rolled-back transaction, while concurrent ones commit', async () => {
    const failing = ds.transaction(async (m) => {
      await m.query('INSERT INTO scratch VALUES (1, $1)', ['doomed']);
      await new Promise((r) => setTimeout(r, 25));
      await m.query('INSERT INTO scratch VALUES (2, $1)', ['doomed']);
      throw new Error('abort');
    });
    const committing = Array.from({ length: 5 }, (_, i) =>
      ds.transaction(async (m) => {
        await m.query('INSERT INTO scratch VALUES ($1, $2)', [10 + i, 'kept']);
      }),
    );
    await expect(failing).rejects.toThrow('abort');
    await Promise.all(committing);
    const rows: { id: number; note: string }[] = await ds.query('SELECT id, note FROM scratch ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([10, 11, 12, 13, 14]);
    expect(rows.every((r) => r.note === 'kept')).toBe(true);
  });

  it('runs named statements on the pool, answering rows', async () => {
    await ds.query(`INSERT INTO scratch SELECT g, 'row ' || g FROM generate_series(100, 109) AS g`);
    const text = 'SELECT id, note FROM scratch WHERE id = ANY($1::int[]) ORDER BY id';
    for (let i = 0; i < 7; i++) {
      // The same name again and again: prepared once per connection, answered every time.
      const rows = await preparedQuery<{ id: number; note: string }>(ds, 'test_scratch_ids', text, [[100 + i, 200]]);
      expect(rows).toEqual([{ id: 100 + i, note: `row ${100 + i}` }]);
    }
    const rows = await preparedQuery<{ id: number }>(ds, 'test_scratch_update', 'WITH u AS (UPDATE scratch SET note = $2 WHERE id = $1 RETURNING id) SELECT id FROM u', [101, 'changed']);
    expect(rows).toEqual([{ id: 101 }]);
  });

  it('carries rows through rowParams as they were: quotes, backslashes, nulls, numbers and documents', async () => {
    const rows = [
      { id: 'a "quoted" \\ back,slash {brace}', n: 1, at: '2026-11-26T10:00:00.000Z', doc: { text: 'é "x" \\n', list: [1, null, { deep: true }] } },
      { id: 'NULL', n: null, at: null, doc: null },
      { id: '', n: -7, at: '2026-01-01T00:00:00.000Z', doc: [] },
      { id: ' two\nlines, é ', n: 0, at: '2026-06-30T23:59:59.999Z', doc: 'text' },
    ];
    const params = rowParams({ id: 'text', n: 'int', at: 'timestamptz', doc: 'json' }, rows, 2);
    const back = await preparedQuery<{ id: string; n: number | null; at: Date | null; doc: unknown; is_null: boolean }>(
      ds,
      'test_row_params',
      `SELECT x.id, x.n, x.at, x.doc, x.at IS NULL AND $1::boolean AS is_null FROM ${params.source} WHERE x.id = ANY(${params.param('id')})`,
      [true, ...params.values],
    );
    expect(back.map((r) => ({ id: r.id, n: r.n, at: r.at && new Date(r.at).toISOString(), doc: r.doc }))).toEqual(rows);
    // A missing scalar is SQL NULL (the string 'NULL' stays a string); a missing document is JSON null.
    expect(back.map((r) => r.is_null)).toEqual([false, true, false, false]);
    expect(() => params.param('doc')).toThrow('no scalar column doc');

    // A document given as its JSON text (JsonText) is stored as that very text, next to documents given as values.
    const text = '{"b": 1,  "a": [true, "é \\"q\\""]}';
    const mixed = rowParams({ id: 'text', doc: 'json' }, [{ id: 'text', doc: new JsonText(text) }, { id: 'value', doc: { a: 1 } }], 1);
    const stored = await preparedQuery<{ id: string; doc: string }>(ds, 'test_row_params_text', `SELECT x.id, x.doc::text AS doc FROM ${mixed.source}`, mixed.values);
    expect(stored).toEqual([{ id: 'text', doc: text }, { id: 'value', doc: '{"a":1}' }]);
  });

  it("widens the event log's source to 256 characters, and cuts longer ones to 64 when undone", async () => {
    const id = `source-${mode}`;
    const source = `//example.com/${'s'.repeat(200)}`;
    expect((await t.inject({ method: 'POST', url: '/v1/events', payload: { id, type: 'other', user_id: 'src-user', source, payload: {} } })).statusCode).toBe(200);
    const width = async () => (await ds.query(`SELECT character_maximum_length AS n FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'source'`))[0].n;
    const stored = async () => (await ds.query('SELECT source FROM events WHERE id = $1', [id]))[0].source;
    expect([await width(), await stored()]).toEqual([256, source]);
    const migration = new EventSource2561732400840000();
    const runner = ds.createQueryRunner();
    try {
      await migration.down(runner);
      expect([await width(), await stored()]).toEqual([64, source.slice(0, 64)]);
      await migration.up(runner);
      expect(await width()).toBe(256);
    } finally {
      await runner.release();
    }
  });

  it("rewrites the reasons of failures recorded before in the words a client may read, and leaves done outcomes alone", async () => {
    const [failed, done] = [`old-failure-${mode}`, `old-done-${mode}`];
    await ds.query(`INSERT INTO event_outcomes (event_id, status, error) VALUES ($1, 'failed', 'connect ECONNREFUSED 10.1.2.3:5432'), ($2, 'done', NULL)`, [failed, done]);
    const Migration = INGESTION_MIGRATIONS.find((m) => m.name === 'PublicFailureReasons1732400850000')!;
    const runner = ds.createQueryRunner();
    try {
      await new Migration().up(runner);
    } finally {
      await runner.release();
    }
    const rows = await ds.query('SELECT event_id, status, error FROM event_outcomes WHERE event_id = ANY($1) ORDER BY status', [[failed, done]]);
    expect(rows).toEqual([
      { event_id: done, status: 'done', error: null },
      { event_id: failed, status: 'failed', error: UNEXPECTED_FAILURE },
    ]);
  });

  it('keeps every stored outcome, decision and action-log document through the json migrations, down and up again', async () => {
    const id = `migrate-${mode}`;
    const post = () => t.inject({ method: 'POST', url: '/v1/events', payload: { id, type: 'transaction', user_id: 'migrate-user', payload: { amount: 6000, category: 'food', currency: 'EUR' } } });
    const first = await post();
    expect(first.statusCode).toBe(200);
    const stored = first.json();
    const decision = () => t.inject({ method: 'GET', url: `/v1/fraud/decisions/${stored.fraud.decision_id}` }).then((r) => r.json());
    const before = await decision();
    const actions = () => ds.query('SELECT action, params, event, result FROM action_log WHERE event_id = $1 ORDER BY action_index, rule_id', [id]);
    const logged = await actions();
    expect(logged.length).toBeGreaterThan(0);
    const types = async () =>
      (await ds.query(`SELECT table_name, column_name, data_type FROM information_schema.columns WHERE column_name IN ('result', 'facts', 'params') AND table_name IN ('event_outcomes', 'fraud_decisions', 'action_log') ORDER BY 1, 2`)).map(
        (r: { table_name: string; column_name: string; data_type: string }) => `${r.table_name}.${r.column_name} ${r.data_type}`,
      );
    expect(await types()).toEqual(['action_log.params json', 'action_log.result json', 'event_outcomes.result json', 'fraud_decisions.facts json']);
    const migrations = [...ACTIONS_MIGRATIONS, ...FRAUD_MIGRATIONS, ...INGESTION_MIGRATIONS].filter((m) => /Json\d+$/.test(m.name));
    expect(migrations).toHaveLength(3);
    const runner = ds.createQueryRunner();
    try {
      for (const M of [...migrations].reverse()) await new M().down(runner);
      expect(await types()).toEqual(['action_log.params jsonb', 'action_log.result jsonb', 'event_outcomes.result jsonb', 'fraud_decisions.facts jsonb']);
      for (const M of migrations) await new M().up(runner);
    } finally {
      await runner.release();
    }
    expect(await types()).toEqual(['action_log.params json', 'action_log.result json', 'event_outcomes.result json', 'fraud_decisions.facts json']);
    // The same documents (jsonb reorders keys; the values are equal).
    const again = await post();
    expect(again.json()).toEqual({ ...stored, duplicate: true });
    expect(await decision()).toEqual(before);
    expect(await actions()).toEqual(logged);
  });

  if (mode === 'postgres') {
    it("plans the hot path's statements once, from their parameters through indexes, even on empty tables", async () => {
      // Each connection of the statement pool keeps one plan per statement, made on its first
      // call, when the tables may be empty: it must be the plan that stays right as they grow.
      const seen = new Map<string, unknown[]>();
      const original = ds.logger.logQuery.bind(ds.logger);
      ds.logger.logQuery = (query, parameters, runner) => {
        if (!seen.has(query)) seen.set(query, (parameters as unknown[] | undefined) ?? []);
        return original(query, parameters, runner);
      };
      const statements = new Client({ connectionString: t.env.DATABASE_URL });
      await statements.connect();
      try {
        const post = (id: string, amount: number) =>
          t.inject({ method: 'POST', url: '/v1/events', payload: { id, type: 'transaction', user_id: 'plan-user', payload: { amount, category: 'food', currency: 'EUR' } } });
        // Fraud matches (overrides, decision), a set_user_attribute and reward_points (their action-log entries, points, the user), a repeat.
        for (const id of ['plan-1', 'plan-2', 'plan-1']) expect((await post(id, 6000)).statusCode).toBe(200);
        expect((await post('plan-1', 6000)).json().duplicate).toBe(true);
        // A replay (stored by an attempt that never finished): its actions are claimed, then their status changed.
        await ds.query(`INSERT INTO events (id, user_id, type, source, occurred_at, payload) VALUES ('plan-3', 'plan-user', 'transaction', 'api', now(), '{"amount": 6000, "category": "food", "currency": "EUR"}')`);
        expect((await post('plan-3', 6000)).json().duplicate).toBe(false);
        // Facts read outside an event: the event-log windows and the user, each in a statement of its own.
        const names = ['events_count(type:"transaction",within:7d)', 'events_sum(type:"transaction",field:"amount",within:7d)', 'events_distinct(type:"transaction",field:"currency",within:7d)', 'last_event_at(type:"transaction")', 'user.vip'];
        const facts = await t.inject({ method: 'GET', url: `/v1/users/plan-user/facts?names=${encodeURIComponent(names.join(','))}` });
        expect(facts.statusCode).toBe(200);
        // The server-side pool's settings, as a connection of it has them.
        const settings = Object.entries(STATEMENT_SETTINGS).map(([name, value]) => `SET ${name} = ${value}`).join('; ');
        expect((await preparedQuery<{ plan_cache_mode: string }>(ds, 'test_plan_mode', 'SELECT current_setting($1) AS plan_cache_mode', ['plan_cache_mode']))[0].plan_cache_mode).toBe('force_generic_plan');
        // Statements that defer their commit's flush (the append) run where commits do not wait for the disk; the rest wait.
        const commit = async (deferFlush: boolean) => (await preparedQuery<{ v: string }>(ds, 'test_commit_mode', 'SELECT current_setting($1) AS v', ['synchronous_commit'], { deferFlush }))[0].v;
        expect([await commit(true), await commit(false)]).toEqual(['off', 'on']);
        expect((await preparedQuery<{ v: string }>(ds, 'test_plan_mode_deferred', 'SELECT current_setting($1) AS v', ['plan_cache_mode'], { deferFlush: true }))[0].v).toBe('force_generic_plan');
        await statements.query(settings);
        const hot = [...seen].filter(([query]) => !/scratch|current_setting/.test(query));
        const plans = new Map<string, string>();
        for (const [i, [query, values]] of hot.entries()) {
          await statements.query(`PREPARE hot_${i} AS ${query}`);
          const literals = values.map((v) => literal(statements, v));
          const plan: { 'QUERY PLAN': string }[] = await statements.query(`EXPLAIN EXECUTE hot_${i}${literals.length ? `(${literals.join(', ')})` : ''}`).then((r) => r.rows);
          plans.set(query, plan.map((r) => r['QUERY PLAN']).join('\n'));
        }
        // Every statement an event writes or reads on the way is among them (fraud's overrides are read by the append).
        const expected = [/INSERT INTO events.*fraud_snoozes/s, /INSERT INTO fraud_decisions/, /INSERT INTO event_outcomes/, /UPDATE action_log/, /INSERT INTO action_log.*error_message, attempts\)/s, /INSERT INTO action_log.*RETURNING id, idempotency_key/s, /INSERT INTO growth_points_entries/, /INSERT INTO users/, /FROM event_outcomes WHERE/, /^SELECT q\.i, .* AS v FROM/s, /^SELECT id, attributes FROM users/];
        for (const statement of expected) expect({ statement, found: [...plans.keys()].some((q) => statement.test(q)) }).toEqual({ statement, found: true });
        for (const [query, plan] of plans) {
          // No scan of a whole table, and joins that look each parameter row up by index.
          expect({ query, plan }).toEqual({ query, plan: expect.not.stringMatching(/Seq Scan|Hash Join|Merge Join|Materialize/) });
        }
      } finally {
        ds.logger.logQuery = original;
        await statements.end();
      }
    });
  }
});

/** A statement's parameter as an SQL literal, for EXECUTE (arrays as array literals). */
function literal(client: Client, v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (Array.isArray(v)) return client.escapeLiteral(`{${v.map((x) => (x === null ? 'NULL' : `"${String(x).replace(/["\\]/g, '\\$&')}"`)).join(',')}}`);
  return client.escapeLiteral(v instanceof Date ? v.toISOString() : String(v));
}
