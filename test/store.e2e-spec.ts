import { DataSource } from 'typeorm';
import { preparedQuery } from '@arbiter/platform';
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

  it('runs named statements on the pool, answering rows, with plans made for the data as it is now', async () => {
    await ds.query(`INSERT INTO scratch SELECT g, 'row ' || g FROM generate_series(100, 109) AS g`);
    const text = 'SELECT id, note FROM scratch WHERE id = ANY($1::int[]) ORDER BY id';
    for (let i = 0; i < 7; i++) {
      // The same name again and again: prepared once per connection, answered every time.
      const rows = await preparedQuery<{ id: number; note: string }>(ds, 'test_scratch_ids', text, [[100 + i, 200]]);
      expect(rows).toEqual([{ id: 100 + i, note: `row ${100 + i}` }]);
    }
    const rows = await preparedQuery<{ id: number }>(ds, 'test_scratch_update', 'WITH u AS (UPDATE scratch SET note = $2 WHERE id = $1 RETURNING id) SELECT id FROM u', [101, 'changed']);
    expect(rows).toEqual([{ id: 101 }]);
    if (mode === 'postgres') {
      // A generic plan chosen while a table is small would stay a sequential scan as it grows.
      expect((await ds.query('SHOW plan_cache_mode'))[0].plan_cache_mode).toBe('force_custom_plan');
    }
  });
});
