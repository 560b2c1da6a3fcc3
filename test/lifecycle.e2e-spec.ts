import { PGlite } from '@electric-sql/pglite';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canRun, environment } from './support/harness';
import { API as api, WORKER as worker, build, freePort, run, waitReady } from './support/processes';

describe('the built service as a process', () => {
  let dataDir: string;
  beforeAll(async () => {
    build();
    dataDir = await mkdtemp(join(tmpdir(), 'arbiter-life-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('refuses a bad setting: exits non-zero at once, naming the setting and why', async () => {
    const r = run(api, { DATABASE_URL: 'nonsense', PORT: 'eighty' });
    expect(await r.exited).not.toBe(0);
    expect(r.output()).toMatch(/DATABASE_URL="nonsense": must be a URL like postgres:\/\//);
    expect(r.output()).toMatch(/PORT="eighty"/);
  });

  it('refuses to start in production without API keys', async () => {
    const r = run(api, { NODE_ENV: 'production', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' });
    expect(await r.exited).not.toBe(0);
    expect(r.output()).toMatch(/API_KEYS: required when NODE_ENV=production/);
  });

  it('refuses a separate worker on the embedded store', async () => {
    const r = run(worker, { DATA_DIR: dataDir });
    expect(await r.exited).not.toBe(0);
    expect(r.output()).toMatch(/DATABASE_URL: a separate worker process needs a shared PostgreSQL/);
  });

  it('starts on embedded defaults, stops on SIGTERM with 0, and finds its data again', async () => {
    const port = await freePort();
    const env = { DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'info' };

    const first = run(api, env);
    await waitReady(port, first);
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(await metrics.text()).toContain('process_resident_memory_bytes');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('stopped cleanly');

    // Between runs, leave a mark in the embedded database the service owns.
    const db = await PGlite.create(join(dataDir, 'pglite'));
    await db.exec("CREATE TABLE mark (note text); INSERT INTO mark VALUES ('left between runs')");
    await db.close();

    const second = run(api, env);
    await waitReady(port, second);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);

    const after = await PGlite.create(join(dataDir, 'pglite'));
    try {
      expect((await after.query('SELECT note FROM mark')).rows).toEqual([{ note: 'left between runs' }]);
      expect((await after.query(`SELECT to_regclass('bullmq.job') AS t`)).rows).toEqual([{ t: 'bullmq.job' }]);
    } finally {
      await after.close();
    }
  }, 180_000);

  (canRun('postgres+redis') ? it : it.skip)('runs a separate worker on PostgreSQL + Redis and stops it with 0', async () => {
    const e = await environment('postgres+redis', { LOG_LEVEL: 'info' });
    try {
      const w = run(worker, e.env);
      const deadline = Date.now() + 60_000;
      while (!w.output().includes('Arbiter worker started') && Date.now() < deadline && w.child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(w.output()).toContain('Arbiter worker started (store: postgres, queue: redis)');
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
    } finally {
      await e.cleanup();
    }
  }, 90_000);
});
