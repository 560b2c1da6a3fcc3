import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { preparedQuery, QueueService } from '@arbiter/platform';
import { EVENTS_QUEUE } from '@arbiter/ingestion';
import { poll } from './support/processes';
import { bootApi, runnable, type Mode, type TestApp } from './support/harness';

// STORE_TIMEOUT_MS bounds the event path's waits on PostgreSQL: a lock held elsewhere makes the
// request fail fast with 503 DEPENDENCY_DOWN instead of hanging, and the same event sent again
// once the database answers is processed, its effects counted once.
describe.each<Mode>(runnable('postgres+redis'))('a database slower than STORE_TIMEOUT_MS, on %s', (mode) => {
  let t: TestApp;
  let other: Client;
  beforeAll(async () => {
    t = await bootApi(mode, { STORE_TIMEOUT_MS: '300', EVENT_ATTEMPTS: '1' });
    other = new Client({ connectionString: t.env.DATABASE_URL });
    await other.connect();
  });
  afterAll(async () => {
    await other?.end();
    await t?.close();
  });

  const event = { id: 'slow-store-1', type: 'transaction', user_id: 'u-slow-store', payload: { amount: 1500, category: 'food', currency: 'EUR' } };
  const send = () => t.inject({ method: 'POST', url: '/v1/events', payload: event });

  it('answers 503 DEPENDENCY_DOWN with Retry-After while a lock holds the outcomes, then takes the same event once', async () => {
    await other.query('BEGIN');
    await other.query('LOCK TABLE event_outcomes IN ACCESS EXCLUSIVE MODE');
    let refused;
    const started = Date.now();
    try {
      refused = await send();
    } finally {
      await other.query('ROLLBACK');
    }
    // It gave up on its own, while the lock was still held (a generous bound: the limit is 300 ms).
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json().error).toMatchObject({ code: 'DEPENDENCY_DOWN', details: { dependency: 'database' } });
    expect(refused.body).not.toMatch(/statement timeout|\.js:\d+|QueryFailedError/);

    // The event was appended and its action ran before the outcome's statement gave up (its record
    // and ledger entry were written on their own): sent again, it runs to the end, and the points
    // count once, under the entry it reports.
    const taken = await send();
    expect(taken.statusCode).toBe(200);
    const result = taken.json();
    expect(result.duplicate).toBe(false);
    const award = result.actions.find((a: { action: string }) => a.action === 'reward_points');
    expect(award).toMatchObject({ status: 'succeeded', result: { points: expect.any(Number) } });
    const balance = (await t.inject({ method: 'GET', url: `/v1/growth/users/${event.user_id}/points` })).json();
    expect(balance.balance).toBe(award.result.points);
    const { rows } = await other.query('SELECT id::text AS id FROM growth_points_entries WHERE user_id = $1', [event.user_id]);
    expect(rows).toEqual([{ id: award.result.entry_id }]);

    const repeat = await send();
    expect(repeat.json()).toMatchObject({ event_id: event.id, duplicate: true });
  });

  it("tells a queued event's reader that the database did not answer, in the words a call would have had, not the database's", async () => {
    const queued = { ...event, id: 'slow-store-queued', user_id: 'u-slow-store-queued' };
    const queue = await t.app.get(QueueService).queue(EVENTS_QUEUE);
    const failedBefore = await queue.getFailedCount();
    await other.query('BEGIN');
    await other.query('LOCK TABLE event_outcomes IN ACCESS EXCLUSIVE MODE');
    try {
      expect((await t.inject({ method: 'POST', url: '/v1/events/batch', payload: { events: [queued] } })).statusCode).toBe(202);
      // Its one attempt gives up on the outcome's statement while the lock holds.
      await poll(() => queue.getFailedCount(), (n) => n > failedBefore, 30_000);
    } finally {
      await other.query('ROLLBACK');
    }
    const got = await poll(async () => (await t.inject({ method: 'GET', url: `/v1/events/${queued.id}` })).json(), (b) => b.status === 'failed', 30_000);
    expect(got.error).toMatch(/database did not answer in time/);
    expect(got.error).not.toMatch(/statement timeout|canceling/);
    // The failed-jobs list (scope admin) has the database's own words.
    const listed = (await t.inject({ method: 'GET', url: '/v1/events/failed' })).json().items.find((i: { id: string }) => i.id === queued.id);
    expect(listed.error).toMatch(/statement timeout/);
  });

  it("limits the event path's statement connections, and not TypeORM's, which run the migrations", async () => {
    const ds = t.app.get(DataSource);
    const [limited] = await preparedQuery<{ s: string }>(ds, 'test_statement_timeout', "SELECT current_setting('statement_timeout') AS s", []);
    expect(limited.s).toBe('300ms');
    const [orm] = (await ds.query("SELECT current_setting('statement_timeout') AS s")) as { s: string }[];
    expect(orm.s).toBe('0');
  });
});
