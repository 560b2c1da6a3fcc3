import { join, resolve } from 'node:path';
import { batchSettings, ingestBatches } from './batch.bench';
import { startBenchApi, transaction } from './http.bench';
import { cpuSeconds, fmt, load, table } from './support';

/**
 * `node dist/bench/cpu.js [build's dist/apps/api/src/main.js] [seconds]`: where the CPU of
 * `POST /v1/events` goes at saturation. It runs the HTTP benchmark's service (this build's by
 * default) at 100 connections and reads, from Linux's /proc, the CPU time that the service's
 * process, PostgreSQL's processes, Redis and this load generator used meanwhile: per request,
 * and as a share of one core. Linux only; the machine's other processes should be idle.
 *
 * `node dist/bench/cpu.js [build] --batch [events] [concurrency]`: the same for batch ingestion,
 * per event: `events` (20,000 by default) posted as the batch benchmark posts them, with the
 * service's workers at `concurrency` (512, its default on Redis).
 */
async function main() {
  const args = process.argv.slice(2);
  const batch = args.indexOf('--batch');
  const [build, ...rest] = batch === 0 ? ['', ...args.slice(1)] : batch > 0 ? [args[0], ...args.slice(batch + 1)] : args;
  const main = build ? resolve(build) : join(__dirname, '..', 'apps/api/src/main.js');
  if (batch >= 0) {
    const [events = '20000', concurrency = '512'] = rest;
    const n = Number(events);
    const api = await startBenchApi(main, batchSettings(n, Number(concurrency)));
    try {
      const { seconds, accepted } = await measure(api.pid, 'batch clients', () => ingestBatches(api.url, api.headers, n), (r) => r.accepted, 'event');
      console.log(`${fmt(accepted / seconds)} events/s over ${fmt(seconds, 1)} s, ${concurrency} at once`);
    } finally {
      await api.stop();
    }
    return;
  }
  const seconds = Number(rest[0] ?? 10);
  const api = await startBenchApi(main);
  try {
    await load(api.url, { body: transaction, seconds: 3, headers: api.headers });
    const result = await measure(api.pid, 'load generator (autocannon)', () => load(api.url, { body: transaction, seconds, headers: api.headers }), (r) => r.requestsPerSec * seconds, 'request');
    console.log(`${fmt(result.requestsPerSec)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms over ${seconds} s at 100 connections`);
  } finally {
    await api.stop();
  }
}

/** Runs `work` and prints the CPU each process used meanwhile, per unit of work (`count` of its result). */
async function measure<T>(service: number, self: string, work: () => Promise<T>, count: (r: T) => number, unit: string): Promise<T> {
  const match = (pid: number, cmdline: string) =>
    pid === service ? 'service (Node)' : pid === process.pid ? self : cmdline.startsWith('postgres') ? 'PostgreSQL' : cmdline.startsWith('redis') ? 'Redis' : undefined;
  const before = cpuSeconds(match);
  const started = process.hrtime.bigint();
  const result = await work();
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const after = cpuSeconds(match);
  const units = count(result);
  const rows = [...after].map(([name, total]) => {
    const used = total - (before.get(name) ?? 0);
    return [name, fmt((used * 1e6) / units), `${fmt((100 * used) / elapsed)}%`];
  });
  console.log(table(['process', `CPU µs per ${unit}`, 'share of one core'], rows));
  return result;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
