import { QueueService } from '@arbiter/platform';
import { bootApi, MODES, type Mode, type TestApp } from './support/harness';

describe.each<Mode>([...MODES])('queue round trip on %s', (mode) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApi(mode);
  });
  afterAll(() => t.close());

  it('delivers a job to a worker and returns its result', async () => {
    const queues = t.app.get(QueueService);
    expect(queues.kind).toBe(mode === 'embedded' ? 'embedded' : mode === 'postgres' ? 'postgres' : 'redis');
    const seen: unknown[] = [];
    const worker = await queues.worker<{ n: number }, { doubled: number }>('roundtrip', async (job) => {
      seen.push(job.data);
      return { doubled: job.data.n * 2 };
    });
    expect(worker).toBeDefined();
    const done = new Promise<{ id?: string; result: unknown }>((resolve, reject) => {
      worker!.on('completed', (job, result) => resolve({ id: job.id, result }));
      worker!.on('failed', (_job, err) => reject(err));
    });
    const queue = await queues.queue<{ n: number }>('roundtrip');
    await queue.add('double', { n: 21 }, { jobId: 'job-21' });
    await expect(done).resolves.toEqual({ id: 'job-21', result: { doubled: 42 } });
    expect(seen).toEqual([{ n: 21 }]);
    const job = await queue.getJob('job-21');
    expect(job?.returnvalue).toEqual({ doubled: 42 });
  });

  it('does not add a second job under an id it already holds', async () => {
    const queue = await t.app.get(QueueService).queue('dedup');
    await queue.add('x', { v: 1 }, { jobId: 'same' });
    await queue.add('x', { v: 2 }, { jobId: 'same' });
    const counts = await queue.getJobCounts('waiting', 'active', 'completed');
    expect(counts.waiting + counts.active + counts.completed).toBe(1);
    expect((await queue.getJob('same'))?.data).toEqual({ v: 1 });
  });
});

describe('workers disabled', () => {
  it('starts no worker when WORKERS_ENABLED=false', async () => {
    const t = await bootApi('embedded', { WORKERS_ENABLED: 'false' });
    try {
      expect(await t.app.get(QueueService).worker('anything', async () => undefined)).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});
