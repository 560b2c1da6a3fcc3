import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { mkdir, mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, shutdownApp } from '@arbiter/platform';
import { RuleReloadBroadcaster } from '@arbiter/ruleset';
import { createApi } from '../apps/api/src/bootstrap';
import { environment, type Environment, type Mode } from './support/harness';

async function eventually<T>(check: () => Promise<T | undefined | null | false>): Promise<T> {
  for (;;) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Two API processes' worth of application (two Nest apps, each with its own connections) on one
 * PostgreSQL (+ Redis): what one changes, the other must load without being asked.
 */
describe.each(['postgres+redis', 'postgres'] as Mode[])('rule reload broadcast across two instances (%s)', (mode) => {
  let env: Environment;
  let dir: string;
  let a: NestFastifyApplication;
  let b: NestFastifyApplication;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbiter-bcast-'));
    await mkdir(join(dir, 'rules'));
    await copyFile(join(__dirname, '../configs/events.yaml'), join(dir, 'events.yaml'));
    await copyFile(join(__dirname, '../configs/facts.yaml'), join(dir, 'facts.yaml'));
    await writeFile(join(dir, 'rules', 'base.yaml'), 'rules:\n  - id: base_rule\n    domain: fraud\n    on: login\n    when: payload.country == "XX"\n    outcome: decline\n');
    // The watcher is off so that only the broadcast can carry a change to the other instance.
    env = await environment(mode, { CONFIG_DIR: dir, RULES_WATCH: 'false' });
    a = await createApi(loadConfig(env.env));
    b = await createApi(loadConfig(env.env));
  });
  afterAll(async () => {
    await Promise.all([a && shutdownApp(a), b && shutdownApp(b)]);
    await env?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const status = async (app: NestFastifyApplication) => (await app.inject({ method: 'GET', url: '/v1/rules/status' })).json();

  it('a PUT in one instance is in force in the other', async () => {
    expect((await status(b)).fingerprint).toBe((await status(a)).fingerprint);
    const put = await a.inject({ method: 'PUT', url: '/v1/rules/geo_block', payload: { domain: 'fraud', on: 'login', when: 'payload.country == "YY"', outcome: 'decline' } });
    expect(put.statusCode).toBe(201);
    const target = put.json().status.fingerprint;
    const seen = await eventually(async () => {
      const s = await status(b);
      return s.fingerprint === target ? s : undefined;
    });
    expect(seen).toMatchObject({ rule_count: 2, trigger: expect.stringMatching(/^broadcast: put geo_block/) });
    const rule = await b.inject({ method: 'GET', url: '/v1/rules/geo_block' });
    expect(rule.json()).toMatchObject({ source: { kind: 'database', version: 1 } });
    expect(b.get(RuleReloadBroadcaster).received).toBeGreaterThan(0);
  });

  it('a reload in one instance reloads the other (a file edit both can see)', async () => {
    await writeFile(join(dir, 'rules', 'more.yaml'), 'rules:\n  - id: more_rule\n    domain: promo\n    on: checkout\n    when: payload.order.amount > 100\n');
    const before = await status(b);
    expect(before.rule_count).toBe(2);
    const reload = await a.inject({ method: 'POST', url: '/v1/rules/reload' });
    expect(reload.statusCode).toBe(200);
    expect(reload.json().rule_count).toBe(3);
    const after = await eventually(async () => {
      const s = await status(b);
      return s.version > before.version ? s : undefined;
    });
    expect(after).toMatchObject({ rule_count: 3, fingerprint: reload.json().fingerprint, trigger: 'broadcast: api reload' });
  });
});
