import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig, SETTINGS } from '@arbiter/platform';

// No Docker engine runs on the development or CI machines: this checks what can be checked
// without one — the file parses, names the services, and wires what the README documents.
const root = join(__dirname, '..');
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('docker-compose.yml', () => {
  it('declares postgres, redis, api and worker', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'postgres', 'redis', 'worker']);
  });

  it('publishes the API on the port it listens on', () => {
    expect(compose.services.api.ports).toContain(`${compose.services.api.environment.PORT}:3000`);
    expect(compose.services.api.build).toBe('.');
  });

  it('gives api and worker settings the service accepts, pointing at the compose services', () => {
    for (const name of ['api', 'worker']) {
      const env = { ...compose.services[name].environment, API_KEYS: 'change-me-admin:admin|ingest|read' };
      const config = loadConfig(env);
      expect(config.storeKind).toBe('postgres');
      expect(config.queueKind).toBe('redis');
      expect(new URL(config.databaseUrl!).hostname).toBe('postgres');
      expect(new URL(config.redisUrl!).hostname).toBe('redis');
    }
    expect(compose.services.worker.command).toEqual(['node', 'dist/apps/worker/src/main.js']);
  });

  it('uses only settings the README documents, and the README documents every setting', () => {
    for (const name of ['api', 'worker']) {
      for (const key of Object.keys(compose.services[name].environment)) expect(readme).toContain(`\`${key}\``);
    }
    for (const s of SETTINGS) expect(readme).toContain(`\`${s.name}\``);
  });
});
