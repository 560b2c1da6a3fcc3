import { DataSource } from 'typeorm';
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
});
