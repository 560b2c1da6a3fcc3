import { DataSource } from 'typeorm';
import { QueueService } from '@arbiter/platform';
import { bootApi, runnable, type Mode, type TestApp } from './support/harness';
import { HAS_REDIS_SERVER, poll, privateRedis } from './support/processes';

// QUEUE_TIMEOUT_MS bounds batch intake's wait on the queue: with its Redis stopped (SIGSTOP: the
// connection stays open, nothing answers), a batch is refused with 503 DEPENDENCY_DOWN instead of
// hanging; sent again once Redis answers, every event is processed once.
describe.each<Mode>(HAS_REDIS_SERVER ? runnable('postgres+redis') : [])('a queue that does not answer, on %s', (mode) => {
  let redis: Awaited<ReturnType<typeof privateRedis>>;
  let t: TestApp;
  beforeAll(async () => {
    redis = await privateRedis();
    t = await bootApi(mode, { REDIS_URL: redis.url, QUEUE_TIMEOUT_MS: '500' });
  });
  afterAll(async () => {
    redis?.resume();
    await t?.close();
    redis?.kill();
  });

  const events = Array.from({ length: 20 }, (_, i) => ({ id: `queue-timeout-${i}`, type: 'transaction', user_id: `u-qt-${i % 4}`, payload: { amount: 10 + i, category: 'food' } }));
  const send = () => t.inject({ method: 'POST', url: '/v1/events/batch', payload: { events } });

  it('answers 503 DEPENDENCY_DOWN with Retry-After while Redis is stopped, then takes the batch again and processes each event once', async () => {
    redis.pause();
    let refused;
    try {
      refused = await send();
    } finally {
      redis.resume();
    }
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json().error).toMatchObject({ code: 'DEPENDENCY_DOWN', details: { dependency: 'queue' } });

    // Sent again as a client honouring Retry-After would: refused until what the stop held up has
    // been answered, then taken.
    const accepted = await poll(send, (r) => r.statusCode !== 503, 30_000, 200);
    expect(accepted.statusCode).toBe(202);
    const { batch_id } = accepted.json();
    const status = await poll(
      async () => (await t.inject({ method: 'GET', url: `/v1/events/batch/${batch_id}` })).json(),
      (s) => s.queued === 0,
      60_000,
      200,
    );
    // The refused batch reached the queue once Redis answered, so its events may count here as
    // processed under that batch (duplicate); either way each one exactly once.
    expect(status).toMatchObject({ total: 20, queued: 0, failed: 0 });
    expect(status.done + status.duplicate).toBe(20);
    const ds = t.app.get(DataSource);
    const [counts] = (await ds.query(
      `SELECT (SELECT count(*) FROM events WHERE id = ANY($1))::int AS events, (SELECT count(*) FROM event_outcomes WHERE event_id = ANY($1) AND status = 'done')::int AS outcomes`,
      [events.map((e) => e.id)],
    )) as { events: number; outcomes: number }[];
    expect(counts).toEqual({ events: 20, outcomes: 20 });
  });

  it("takes events and segments while the growth queue does not answer, giving up on a window's re-check and a backfill, which land once it answers", async () => {
    const req = (method: 'POST' | 'GET', url: string, payload?: object) => t.inject({ method, url, payload });
    const windowed = { id: 'qt_frequent', when: 'events_count(type: "transaction", within: 30d) >= 1' };
    expect((await req('POST', '/v1/growth/segments', windowed)).statusCode).toBe(201);
    await poll(async () => (await req('GET', '/v1/growth/segments/qt_frequent')).json().backfill.status, (s) => s === 'done', 30_000);
    redis.pause();
    try {
      // The event enters the user in the segment; scheduling the exit re-check waits on the queue at most QUEUE_TIMEOUT_MS.
      const res = await req('POST', '/v1/events', { id: 'qt-growth-1', type: 'transaction', user_id: 'u-qt-growth', payload: { amount: 5, category: 'food' } });
      expect(res.statusCode).toBe(200);
      expect((await req('GET', '/v1/users/u-qt-growth/segments')).json().segments.map((m: { segment: string }) => m.segment)).toContain('qt_frequent');
      const created = await req('POST', '/v1/growth/segments', { id: 'qt_big', when: 'events_count(type: "transaction", within: 30d) >= 100' });
      expect(created.statusCode).toBe(201);
      expect(created.json().backfill).toMatchObject({ status: 'failed' });
    } finally {
      redis.resume();
    }
    // What was given up on reaches the queue once Redis answers: the backfill runs to the end after
    // all, and the user's exit from the window is scheduled.
    expect(await poll(async () => (await req('GET', '/v1/growth/segments/qt_big')).json().backfill.status, (s) => s === 'done', 30_000)).toBe('done');
    const growth = await t.app.get(QueueService).queue('growth');
    const rechecks = await poll(async () => (await growth.getDelayed()).map((j) => j.id ?? ''), (ids) => ids.some((id) => id.startsWith('recheck/qt_frequent/u-qt-growth/')), 30_000);
    expect(rechecks.filter((id) => id.startsWith('recheck/qt_frequent/u-qt-growth/'))).toHaveLength(1);
  });

  it('answers the failed-event list and its retry with 503 while Redis is stopped, and serves /metrics without waiting on it', async () => {
    redis.pause();
    try {
      for (const [method, url] of [['GET', '/v1/events/failed'], ['POST', '/v1/events/failed/some-event/retry']] as const) {
        const res = await t.inject({ method, url });
        expect([url, res.statusCode, res.json().error]).toEqual([url, 503, expect.objectContaining({ code: 'DEPENDENCY_DOWN', details: { dependency: 'queue' } })]);
      }
      const metrics = await t.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.statusCode).toBe(200);
      expect(metrics.body).toContain('arbiter_events_ingested_total');
    } finally {
      redis.resume();
    }
    const listed = await poll(() => t.inject({ method: 'GET', url: '/v1/events/failed' }), (r) => r.statusCode !== 503, 30_000, 200);
    expect(listed.json()).toEqual({ items: [], total: 0 });
  });
});
