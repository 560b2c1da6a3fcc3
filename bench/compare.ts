import { join, resolve } from 'node:path';
import { fmt, load, table } from './support';
import { startBenchApi, transaction } from './http.bench';

/**
 * `node dist/bench/compare.js <other build's dist/apps/api/src/main.js> [rounds]`: this build's
 * `POST /v1/events` against another build's (an older checkout, built with scripts/build.mjs), in
 * turn, a fresh database each, 3 s of warm-up then 10 s at 100 connections, alternating which goes
 * first. On a machine whose speed drifts, runs in turn compare two builds better than two runs of
 * `npm run bench` made minutes apart.
 */
async function once(main: string): Promise<number> {
  const { url, headers, stop } = await startBenchApi(main);
  try {
    await load(url, { body: transaction, seconds: 3, headers });
    return (await load(url, { body: transaction, seconds: 10, headers })).requestsPerSec;
  } finally {
    await stop();
  }
}

async function main() {
  const [other, rounds = '3'] = process.argv.slice(2);
  if (!other) throw new Error('usage: node dist/bench/compare.js <other build: dist/apps/api/src/main.js> [rounds]');
  const builds = { other: resolve(other), this: join(__dirname, '..', 'apps/api/src/main.js') };
  const results: Record<keyof typeof builds, number[]> = { other: [], this: [] };
  for (let round = 0; round < Number(rounds); round++) {
    for (const name of round % 2 ? (['this', 'other'] as const) : (['other', 'this'] as const)) {
      results[name].push(await once(builds[name]));
      console.log(`round ${round + 1}: ${name} ${fmt(results[name].at(-1)!)} req/s`);
    }
  }
  console.log(table(['build', 'req/s, each round'], [['other', results.other.map((r) => fmt(r)).join(', ')], ['this', results.this.map((r) => fmt(r)).join(', ')]]));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
