import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

/** Running the built service as real processes, for suites that stop or kill them. */
export const ROOT = resolve(__dirname, '..', '..');
export const API = join(ROOT, 'dist/apps/api/src/main.js');
export const WORKER = join(ROOT, 'dist/apps/worker/src/main.js');

export function build(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'ignore' });
}

import { freePort } from '../../bench/support';

export { freePort };

export interface Proc {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

export function run(script: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [script], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-50_000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-50_000)));
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
  return { child, output: () => out, exited };
}

export async function waitReady(port: number, proc: Proc, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`exited early:\n${proc.output()}`);
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`not ready within ${timeoutMs} ms:\n${proc.output()}`);
}

/** Polls `fn` until `done` holds or the time is up; returns the last value either way. */
export async function poll<T>(fn: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 120_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (done(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Whether this machine has `redis-server` to start a Redis of a test's own. */
export const HAS_REDIS_SERVER = spawnSync('redis-server', ['--version']).status === 0;

/**
 * A Redis of the test's own on a free port, answering: one it can stop with `pause()` (SIGSTOP:
 * the connections stay open, nothing answers) and `resume()`. `kill()` ends it.
 */
export async function privateRedis(): Promise<{ url: string; pause(): void; resume(): void; kill(): void }> {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await poll(async () => spawnSync('redis-cli', ['-p', String(port), 'ping']).stdout?.toString().trim(), (v) => v === 'PONG', 10_000);
  return {
    url: `redis://127.0.0.1:${port}`,
    pause: () => proc.kill('SIGSTOP'),
    resume: () => proc.kill('SIGCONT'),
    kill: () => {
      proc.kill('SIGCONT');
      proc.kill('SIGKILL');
    },
  };
}
