import { Queue, Worker } from 'bullmq';
import { join } from 'node:path';
import { BENCH_REDIS_URL, cpuBudget, cpuCell, cpuDuring, fmt, perUnit, POSTGRES, REDIS, SERVICE, table, total } from './support';
import { startBenchApi, transaction } from './http.bench';

/**
 * Batch ingestion: N events through `POST /v1/events/batch` (1,000 per request) on PostgreSQL +
 * Redis, timed from the first request to the last event processed, side by side with raw BullMQ on
 * the same Redis (`addBulk` of the same bodies, a Worker that does nothing). One process each, the
 * service with its workers in-process.
 */
function redisConnection() {
  const u = new URL(BENCH_REDIS_URL);
  return { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
}

async function rawBullmq(n: number, concurrency: number): Promise<{ rate: number; cpu: Map<string, number> }> {
  const prefix = `benchraw${Date.now().toString(36)}`;
  const queue = new Queue('events', { connection: redisConnection(), prefix });
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const worker = new Worker('events', async () => undefined, { connection: redisConnection(), prefix, concurrency });
  worker.on('completed', () => {
    if (++done === n) finish();
  });
  try {
    const { result: seconds, used } = await cpuDuring(undefined, SERVICE, async () => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < n; i += 1000) {
        const chunk = Array.from({ length: Math.min(1000, n - i) }, () => {
          const e = transaction();
          return { name: 'transaction', data: { event: e }, opts: { jobId: String(e.id), removeOnComplete: true } };
        });
        await queue.addBulk(chunk);
      }
      await finished;
      return Number(process.hrtime.bigint() - started) / 1e9;
    });
    return { rate: n / seconds, cpu: perUnit(used, n) };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}

/**
 * Posts `n` events to the service at `url` (its `POST /v1/events`) through `/batch`, 1,000 per
 * request from four clients at once, and waits until every batch is processed: the seconds from
 * the first request to the last event done (to the last batch taken, with `intakeOnly`).
 */
export async function ingestBatches(url: string, headers: Record<string, string>, n: number, intakeOnly = false): Promise<{ seconds: number; accepted: number }> {
  const started = process.hrtime.bigint();
  const batches: string[] = [];
  const requests = Math.ceil(n / 1000);
  // Four clients posting at once, like several producers would.
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < requests) {
        next++;
        const events = Array.from({ length: 1000 }, () => transaction());
        const res = await fetch(`${url}/batch`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ events }) });
        if (res.status !== 202) throw new Error(`batch refused: ${res.status} ${await res.text()}`);
        batches.push(((await res.json()) as { batch_id: string }).batch_id);
      }
    }),
  );
  // Batches finish roughly in the order they were queued: wait for each in turn, asking about
  // one batch at a time (asking about all of them every 200 ms loaded the service it measures).
  for (const id of intakeOnly ? [] : batches) {
    for (;;) {
      const status = (await (await fetch(`${url}/batch/${id}`, { headers })).json()) as { queued: number; failed: number };
      if (status.failed > 0) throw new Error('events failed during the benchmark');
      if (status.queued === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, accepted: batches.length * 1000 };
}

/** The settings the batch benchmarks give the service: `concurrency` queued events at once, and room for all of them in the queue. */
export const batchSettings = (n: number, concurrency: number) => ({ EVENT_CONCURRENCY: String(concurrency), QUEUE_MAX_DEPTH: String(Math.max(100_000, n * 2)) });

async function arbiter(n: number, concurrency: number): Promise<{ rate: number; accepted: number; cpu: Map<string, number> }> {
  const { url, headers, pid, stop } = await startBenchApi(join(__dirname, '..', 'apps/api/src/main.js'), batchSettings(n, concurrency));
  try {
    const { result, used } = await cpuDuring(pid, CLIENTS, () => ingestBatches(url, headers, n));
    return { rate: result.accepted / result.seconds, accepted: result.accepted, cpu: perUnit(used, result.accepted) };
  } finally {
    await stop();
  }
}

/** The Node process (raw BullMQ's own, or the service), then the servers, then the service's clients. */
const CLIENTS = 'batch clients';
const CPU_NAMES = [SERVICE, REDIS, POSTGRES, CLIENTS] as const;

export async function runBatchBench({ quick }: { quick: boolean }): Promise<string> {
  const n = quick ? 10_000 : 100_000;
  // The service's default on Redis; raw BullMQ's doing-nothing worker ran as fast at 128 as at 512.
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 512);
  const raw = await rawBullmq(n, concurrency);
  const ours = await arbiter(n, concurrency);
  const out = table(
    ['Pipeline', 'events', 'events/s end to end', 'vs raw BullMQ', 'CPU µs/event: Node process · Redis · PostgreSQL · batch clients'],
    [
      ['raw BullMQ: addBulk + Worker doing nothing', fmt(n), fmt(raw.rate), '100%', cpuCell(raw.cpu, CPU_NAMES)],
      ['Arbiter: POST /v1/events/batch, full pipeline, PostgreSQL + Redis', fmt(ours.accepted), fmt(ours.rate), `${fmt((100 * ours.rate) / raw.rate)}%`, cpuCell(ours.cpu, CPU_NAMES)],
    ],
  );
  const budget = batchBudget(raw, ours.cpu);
  console.log(`${out}\n\n${budget}`);
  return `${out}\n\nBoth on the same Redis, worker concurrency ${concurrency}, one process each; Arbiter's events run the whole pipeline (event log, ${100} generated rules plus the examples over three domains, results stored). Target: at least 50% of raw BullMQ. The CPU columns count each process's CPU time (Linux /proc) over the run, per event, every PostgreSQL and Redis process on the machine included: raw BullMQ's one process both adds and works its jobs.\n\n${budget}\n`;
}

/**
 * The CPU the target (half of raw BullMQ's rate) leaves per event on this machine, against what
 * raw BullMQ and Arbiter spent (µs per event by process).
 */
function batchBudget(raw: { rate: number; cpu: ReadonlyMap<string, number> }, cpu: ReadonlyMap<string, number>): string {
  if (!cpu.size) return '';
  const [node, redis, postgres, clients] = CPU_NAMES.map((n) => cpu.get(n) ?? 0);
  const spent = `Raw BullMQ spent ${fmt(total(raw.cpu, CPU_NAMES))} µs per event in all (its process ${fmt(raw.cpu.get(SERVICE) ?? 0)}, Redis ${fmt(raw.cpu.get(REDIS) ?? 0)}); Arbiter ${fmt(total(cpu, CPU_NAMES))}: the service ${fmt(node)}, Redis ${fmt(redis)}, PostgreSQL ${fmt(postgres)}, the posting clients ${fmt(clients)}.`;
  return cpuBudget('Half of raw BullMQ', 0.5 * raw.rate, 'event', spent);
}
