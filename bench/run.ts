import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';

/**
 * `npm run bench [-- name ...]`: runs the named benchmarks (all by default), each side by side with
 * its baseline in one run, prints their tables and writes them into docs/benchmarks.md, replacing
 * only the sections that ran. `--quick` shortens every run (for a smoke check, not for numbers).
 */
interface Bench {
  name: string;
  title: string;
  run(opts: { quick: boolean }): Promise<string>;
}

const benches: Bench[] = [
  { name: 'rules', title: 'Rule evaluation (libs/rules)', run: async (o) => (await import('./rules.bench.js')).runRulesBench(o) },
  { name: 'http', title: 'HTTP: POST /v1/events', run: async (o) => (await import('./http.bench.js')).runHttpBench(o) },
  { name: 'batch', title: 'Batch ingestion', run: async (o) => (await import('./batch.bench.js')).runBatchBench(o) },
];

async function main() {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const wanted = args.filter((a) => !a.startsWith('--'));
  const selected = wanted.length ? benches.filter((b) => wanted.includes(b.name)) : benches;
  if (wanted.length && selected.length !== wanted.length) {
    throw new Error(`unknown benchmark; known: ${benches.map((b) => b.name).join(', ')}`);
  }
  const file = join(__dirname, '..', '..', 'docs', 'benchmarks.md');
  let doc = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  for (const bench of selected) {
    console.log(`\n== ${bench.title}`);
    const body = await bench.run({ quick });
    const section = `## ${bench.title}\n\n_Measured ${new Date().toISOString().slice(0, 10)} on ${machine} with \`npm run bench -- ${bench.name}\`${quick ? ' (quick mode)' : ''}._\n\n${body.trim()}\n`;
    doc = replaceSection(doc, bench.title, section);
  }
  writeFileSync(file, doc);
  console.log(`\nwritten to docs/benchmarks.md`);
}

/** Replaces `## title` up to the next `## ` heading, or appends the section. */
function replaceSection(doc: string, title: string, section: string): string {
  const start = doc.indexOf(`## ${title}\n`);
  if (start === -1) return `${doc.trimEnd()}\n\n${section}`;
  const next = doc.indexOf('\n## ', start + 3);
  return `${doc.slice(0, start)}${section}${next === -1 ? '' : `\n${doc.slice(next + 1)}`}`;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
