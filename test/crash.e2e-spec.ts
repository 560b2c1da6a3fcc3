import { PGlite } from '@electric-sql/pglite';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { canRun, configDir, environment } from './support/harness';
import { API, build, freePort, poll, run, waitReady, WORKER, type Proc } from './support/processes';

// Nothing lost, nothing doubled: a worker killed (SIGKILL) in the middle of a 5,000-event batch,
// then started again, leaves every event processed exactly once in its effects.
const EVENTS = 5000;
const RULES = `
rules:
  - id: mark_buyer
    domain: growth
    on: [transaction]
    when: payload.amount > 0
    then:
      - action: set_user_attribute
        params: { attribute: segment, value: "buyer" }
`;

interface Status {
  done: number;
  queued: number;
  failed: number;
  duplicate: number;
}

const batchBody = () =>
  JSON.stringify({ events: Array.from({ length: EVENTS }, (_, i) => ({ id: `k-${i}`, type: 'transaction', user_id: `ku-${i % 97}`, payload: { amount: 1 + (i % 50) } })) });

async function submit(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/events/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batchBody() });
  expect(res.status).toBe(202);
  return ((await res.json()) as { batch_id: string }).batch_id;
}

const status = (port: number, batchId: string) => fetch(`http://127.0.0.1:${port}/v1/events/batch/${batchId}`).then((r) => r.json() as Promise<Status>);

const COUNTS = `SELECT (SELECT count(*) FROM events WHERE id LIKE 'k-%') AS events,
  (SELECT count(*) FROM action_log WHERE rule_id = 'mark_buyer') AS actions,
  (SELECT count(DISTINCT idempotency_key) FROM action_log WHERE rule_id = 'mark_buyer') AS distinct_actions,
  (SELECT count(*) FROM event_outcomes WHERE event_id LIKE 'k-%' AND status = 'done') AS outcomes`;

function expectExactlyOnce(row: Record<string, unknown>) {
  expect(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]))).toEqual({ events: EVENTS, actions: EVENTS, distinct_actions: EVENTS, outcomes: EVENTS });
}

describe('a worker killed mid-batch loses nothing and doubles nothing', () => {
  let cfg: Awaited<ReturnType<typeof configDir>>;
  const procs: Proc[] = [];
  beforeAll(async () => {
    build();
    cfg = await configDir({ rules: { 'crash.yaml': RULES } });
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  });
  afterAll(() => cfg.cleanup());

  (canRun('postgres+redis') ? it : it.skip)('on PostgreSQL + Redis, with a separate worker process', async () => {
    const e = await environment('postgres+redis', { CONFIG_DIR: cfg.dir, BATCH_MAX_EVENTS: String(EVENTS), JOB_LOCK_MS: '2000', EVENT_CONCURRENCY: '8', LOG_LEVEL: 'warn' });
    try {
      const port = await freePort();
      const api = run(API, { ...e.env, PORT: String(port), WORKERS_ENABLED: 'false' });
      procs.push(api);
      await waitReady(port, api);
      const batchId = await submit(port);

      const first = run(WORKER, e.env);
      procs.push(first);
      const before = await poll(() => status(port, batchId), (s) => s.done >= 500);
      first.child.kill('SIGKILL');
      await first.exited;
      const atKill = await status(port, batchId);
      expect(atKill.done).toBeGreaterThanOrEqual(before.done);
      expect(atKill.done).toBeLessThan(EVENTS);

      const second = run(WORKER, e.env);
      procs.push(second);
      const final = await poll(() => status(port, batchId), (s) => s.done === EVENTS, 180_000, 250);
      expect(final).toMatchObject({ done: EVENTS, queued: 0, failed: 0, duplicate: 0 });

      const db = new Client({ connectionString: e.env.DATABASE_URL });
      await db.connect();
      try {
        expectExactlyOnce((await db.query(COUNTS)).rows[0]);
      } finally {
        await db.end();
      }
      second.child.kill('SIGTERM');
      api.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      expect(await api.exited).toBe(0);
    } finally {
      await e.cleanup();
    }
  }, 300_000);

  it('on the embedded default, killing the one process that runs everything', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'arbiter-crash-'));
    try {
      const port = await freePort();
      const env = { DATA_DIR: dataDir, CONFIG_DIR: cfg.dir, PORT: String(port), BATCH_MAX_EVENTS: String(EVENTS), JOB_LOCK_MS: '2000', EVENT_CONCURRENCY: '8', LOG_LEVEL: 'warn' };
      const first = run(API, env);
      procs.push(first);
      await waitReady(port, first);
      const batchId = await submit(port);
      await poll(() => status(port, batchId), (s) => s.done >= 300);
      first.child.kill('SIGKILL');
      await first.exited;

      const second = run(API, env);
      procs.push(second);
      await waitReady(port, second);
      const final = await poll(() => status(port, batchId), (s) => s.done === EVENTS, 240_000, 250);
      expect(final).toMatchObject({ done: EVENTS, queued: 0, failed: 0, duplicate: 0 });
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);

      const db = await PGlite.create(join(dataDir, 'pglite'));
      try {
        expectExactlyOnce((await db.query<Record<string, unknown>>(COUNTS)).rows[0]);
      } finally {
        await db.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 400_000);
});
