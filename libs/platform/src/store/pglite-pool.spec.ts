import { PGlite } from '@electric-sql/pglite';
import { PglitePool } from './pglite-pool';

describe('PglitePool (embedded PostgreSQL behind a pg.Pool surface)', () => {
  let db: PGlite;
  let pool: PglitePool;

  beforeAll(async () => {
    db = await PGlite.create();
    pool = new PglitePool(db);
    await pool.query('CREATE TABLE t (id int PRIMARY KEY, who text)');
  });
  afterAll(() => db.close());
  beforeEach(() => pool.query('DELETE FROM t'));

  it('serialises concurrent transactions: a rollback undoes only its own statements', async () => {
    const a = await pool.connect();
    const b = await pool.connect();
    const txA = (async () => {
      await a.query('BEGIN');
      await a.query('INSERT INTO t VALUES (1, $1)', ['a']);
      await new Promise((r) => setTimeout(r, 20));
      await a.query('INSERT INTO t VALUES (2, $1)', ['a']);
      await a.query('ROLLBACK');
    })();
    const txB = (async () => {
      await b.query('BEGIN');
      await b.query('INSERT INTO t VALUES (3, $1)', ['b']);
      await b.query('COMMIT');
    })();
    const plain = pool.query('INSERT INTO t VALUES (4, $1)', ['plain']);
    await Promise.all([txA, txB, plain]);
    a.release();
    b.release();
    const { rows } = await pool.query<{ id: number; who: string }>('SELECT id, who FROM t ORDER BY id');
    expect(rows).toEqual([
      { id: 3, who: 'b' },
      { id: 4, who: 'plain' },
    ]);
  });

  it('rolls back a transaction left open when its client is released', async () => {
    const c = await pool.connect();
    await c.query('BEGIN');
    await c.query('INSERT INTO t VALUES (5, $1)', ['abandoned']);
    await c.close();
    expect((await pool.query('SELECT count(*) AS n FROM t')).rows[0].n).toBe('0');
  });

  it('keeps a failed transaction to its client until it rolls back', async () => {
    const c = await pool.connect();
    await c.query('BEGIN');
    await c.query('INSERT INTO t VALUES (6, $1)', ['x']);
    await expect(c.query('INSERT INTO t VALUES (6, $1)', ['dup'])).rejects.toThrow(/duplicate key/);
    const other = pool.query('INSERT INTO t VALUES (7, $1)', ['after']);
    await c.query('ROLLBACK');
    await other;
    c.release();
    const { rows } = await pool.query('SELECT id FROM t ORDER BY id');
    expect(rows).toEqual([{ id: 7 }]);
  });

  it('binds parameters as node-postgres does and returns int8 as strings', async () => {
    await pool.query('CREATE TABLE IF NOT EXISTS j (doc jsonb, tags text[], at timestamptz, big bigint)');
    const at = new Date('2026-01-02T03:04:05.000Z');
    await pool.query('INSERT INTO j VALUES ($1, $2, $3, $4)', [JSON.stringify({ a: 1 }), ['x', 'y'], at, '9007199254740993']);
    const { rows, rowCount, command } = await pool.query('SELECT * FROM j');
    expect(command).toBe('SELECT');
    expect(rowCount).toBe(1);
    expect(rows[0]).toEqual({ doc: { a: 1 }, tags: ['x', 'y'], at, big: '9007199254740993' });
    const update = await pool.query('UPDATE j SET big = big + 1');
    expect(update).toMatchObject({ command: 'UPDATE', rowCount: 1 });
  });

  it('delivers NOTIFY to a client that LISTENs, as notification events', async () => {
    const listener = await pool.connect();
    const got = new Promise<{ channel: string; payload?: string }>((resolve) => listener.once('notification', resolve));
    await listener.query('-- comment first, as BullMQ does\nLISTEN my_channel;');
    await pool.query("SELECT pg_notify('my_channel', 'hello')");
    await expect(got).resolves.toMatchObject({ channel: 'my_channel', payload: 'hello' });
    await listener.close();
  });

  it('keeps each pool on its own search_path over the one connection', async () => {
    await pool.query('CREATE SCHEMA IF NOT EXISTS other');
    await pool.query('CREATE TABLE IF NOT EXISTS other.t (v text)');
    const other = new PglitePool(db, 'other');
    await other.query("INSERT INTO t VALUES ('in other')");
    await pool.query("INSERT INTO t VALUES (8, 'in public')");
    expect((await other.query('SELECT v FROM t')).rows).toEqual([{ v: 'in other' }]);
    expect((await pool.query('SELECT who FROM t')).rows).toEqual([{ who: 'in public' }]);
  });
});
