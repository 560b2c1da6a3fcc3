import { join, resolve } from 'node:path';
import { batchSettings, ingestBatches } from './batch.bench';
import { startBenchApi, startEchoServer, transaction } from './http.bench';
import { cpuDuring, fmt, load, paced, perUnit, POSTGRES, SERVICE, table } from './support';

/**
 * `node dist/bench/cpu.js [build's dist/apps/api/src/main.js] [seconds]`: where the CPU of
 * `POST /v1/events` goes at saturation. It runs the HTTP benchmark's service (this build's by
 * default) at 100 connections and reads, from Linux's /proc, the CPU time that the service's
 * process, PostgreSQL's processes, Redis and this load generator used meanwhile: per request,
 * and as a share of one core. Linux only; the machine's other processes should be idle.
 *
 * `node dist/bench/cpu.js [build] --batch [events] [concurrency]`: the same for batch ingestion,
 * per event: `events` (20,000 by default) posted as the batch benchmark posts them, with the
 * service's workers at `concurrency` (512, its default on Redis). With `--intake`, the service's
 * workers are off (WORKERS_ENABLED=false): what taking the batches in costs, without running them.
 * With `--workers N` (not with `--intake`), N worker processes (apps/worker) run beside the service,
 * on the same settings; `service (Node)` is then all of them together.
 *
 * `node dist/bench/cpu.js [build] --rate <req/s>[,<req/s>...] [seconds]`: the same per request at
 * steady paced rates (the HTTP benchmark's half-load pacing), one row per rate, each after 2 s of
 * warm-up at that rate on the same connections: how the cost of a request changes with the load.
 * `--rate ... --echo` measures the HTTP benchmark's echo server instead (its bare and its durable
 * endpoint), for the same curve of a service that does nearly nothing.
 */
async function main() {
  const args = process.argv.slice(2);
  const intake = args.indexOf('--intake');
  if (intake >= 0) args.splice(intake, 1);
  const workersAt = args.indexOf('--workers');
  const workers = workersAt >= 0 ? Number(args.splice(workersAt, 2)[1]) : 0;
  if (!Number.isInteger(workers) || workers < 0) throw new Error('usage: --workers <worker processes beside the service>');
  // Intake alone is timed until the batches are taken in: workers would be counted for part of the queue.
  if (workers && (intake >= 0 || !args.includes('--batch'))) throw new Error('--workers goes with --batch, without --intake');
  const echo = args.indexOf('--echo');
  if (echo >= 0) args.splice(echo, 1);
  const rateAt = args.indexOf('--rate');
  if (rateAt >= 0) {
    const rates = (args[rateAt + 1] ?? '').split(',').map(Number);
    if (!rates.every((r) => r > 0)) throw new Error('usage: node dist/bench/cpu.js [build] --rate <req/s>[,<req/s>...] [seconds] [--echo]');
    const build = args.slice(0, rateAt)[0];
    const seconds = Number(args[rateAt + 2] ?? 10);
    if (echo < 0) {
      const api = await startBenchApi(build ? resolve(build) : join(__dirname, '..', 'apps/api/src/main.js'));
      try {
        console.log(await atRates(api.url, api.headers, api.pid, rates, seconds));
      } finally {
        await api.stop();
      }
      return;
    }
    const server = await startEchoServer();
    try {
      for (const path of ['/echo', '/stored'] as const) console.log(`${path}\n${await atRates(server.url(path), {}, server.pid, rates, seconds)}`);
    } finally {
      await server.stop();
    }
    return;
  }
  const batch = args.indexOf('--batch');
  const [build, ...rest] = batch === 0 ? ['', ...args.slice(1)] : batch > 0 ? [args[0], ...args.slice(batch + 1)] : args;
  const main = build ? resolve(build) : join(__dirname, '..', 'apps/api/src/main.js');
  if (batch >= 0) {
    const [events = '20000', concurrency = '512'] = rest;
    const n = Number(events);
    const api = await startBenchApi(main, { ...batchSettings(n, Number(concurrency)), ...(intake >= 0 ? { WORKERS_ENABLED: 'false' } : {}) }, undefined, workers);
    try {
      const { seconds, accepted } = await measure(api.pids, 'batch clients', () => ingestBatches(api.url, api.headers, n, intake >= 0), (r) => r.accepted, 'event');
      console.log(`${fmt(accepted / seconds)} events/s over ${fmt(seconds, 1)} s, ${intake >= 0 ? 'taken in only (workers off)' : `${concurrency} at once`}`);
    } finally {
      await api.stop();
    }
    return;
  }
  const seconds = Number(rest[0] ?? 10);
  const api = await startBenchApi(main);
  try {
    await load(api.url, { body: transaction, seconds: 3, headers: api.headers });
    const result = await measure(api.pid, 'load generator (autocannon)', () => load(api.url, { body: transaction, seconds, headers: api.headers }), (r) => r.requests, 'request');
    console.log(`${fmt(result.requestsPerSec)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms over ${seconds} s at 100 connections`);
  } finally {
    await api.stop();
  }
}

/** The service at each steady rate in turn: CPU per request of the service, PostgreSQL and the load generator, and latency. */
async function atRates(url: string, headers: Record<string, string>, pid: number, rates: readonly number[], seconds: number): Promise<string> {
  const { Agent } = await import('node:http');
  await load(url, { body: transaction, seconds: 3, headers });
  const rows: string[][] = [];
  for (const rate of rates) {
    const agent = new Agent({ keepAlive: true, maxSockets: 100 });
    try {
      await paced(url, { body: transaction, seconds: 2, headers, rate, agent });
      const { result, used, elapsed } = await cpuDuring(pid, 'load generator', () => paced(url, { body: transaction, seconds, headers, rate, agent }));
      const us = perUnit(used, result.requests);
      const per = (name: string) => `${fmt(us.get(name) ?? 0)} (${fmt((100 * (used.get(name) ?? 0)) / elapsed)}%)`;
      rows.push([fmt(rate), per(SERVICE), per(POSTGRES), per('load generator'), fmt(result.p50, 1), fmt(result.p99, 1)]);
    } finally {
      agent.destroy();
    }
  }
  return table(['req/s, paced', 'service CPU µs/request (share of a core)', 'PostgreSQL', 'load generator', 'p50 ms', 'p99 ms'], rows);
}

/** Runs `work` and prints the CPU each process used meanwhile, per unit of work (`count` of its result). */
async function measure<T>(service: number | readonly number[], self: string, work: () => Promise<T>, count: (r: T) => number, unit: string): Promise<T> {
  const { result, used, elapsed } = await cpuDuring(service, self, work);
  const us = perUnit(used, count(result));
  const rows = [...used].map(([name, seconds]) => [name, fmt(us.get(name) ?? 0), `${fmt((100 * seconds) / elapsed)}%`]);
  console.log(table(['process', `CPU µs per ${unit}`, 'share of one core'], rows));
  return result;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
