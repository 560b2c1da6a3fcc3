import { Controller, Get, Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHttpApp, loadConfig, PlatformModule, RequireScope, shutdownApp } from '@arbiter/platform';
import { environment, type Environment } from './support/harness';

@Controller('probe')
class ProbeController {
  @Get('admin')
  @RequireScope('admin')
  admin() {
    return { ok: 'admin' };
  }

  @Get('any')
  any() {
    return { ok: 'any key' };
  }
}

async function boot(env: Record<string, string>): Promise<NestFastifyApplication> {
  const config = loadConfig(env);
  @Module({ imports: [PlatformModule.forRoot({ config, migrations: [] })], controllers: [ProbeController] })
  class ProbeModule {}
  const app = await createHttpApp(ProbeModule, config);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

describe('API keys and scopes', () => {
  let e: Environment;
  let app: NestFastifyApplication;
  beforeAll(async () => {
    e = await environment('embedded', { API_KEYS: 'admin-key-1:admin|read,reader-key-1:read' });
    app = await boot(e.env);
  });
  afterAll(async () => {
    await shutdownApp(app);
    await e.cleanup();
  });

  const get = (url: string, key?: string) => app.inject({ method: 'GET', url, headers: key ? { authorization: `Bearer ${key}` } : {} });

  it('answers 401 as JSON without a key or with an unknown one', async () => {
    for (const res of [await get('/probe/any'), await get('/probe/any', 'who-knows-1')]) {
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('UNAUTHORIZED');
    }
  });

  it('answers 403 naming the scope the key lacks', async () => {
    const res = await get('/probe/admin', 'reader-key-1');
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatchObject({ code: 'FORBIDDEN', details: { required_scope: 'admin' } });
  });

  it('lets a key with the scope through', async () => {
    expect((await get('/probe/admin', 'admin-key-1')).json()).toEqual({ ok: 'admin' });
    expect((await get('/probe/any', 'reader-key-1')).statusCode).toBe(200);
  });

  it('keeps health, readiness and metrics open', async () => {
    expect((await get('/healthz')).statusCode).toBe(200);
    expect((await get('/readyz')).statusCode).toBe(200);
    expect((await get('/metrics')).statusCode).toBe(200);
  });
});

describe('no keys configured (embedded default)', () => {
  it('leaves the API open', async () => {
    const e = await environment('embedded');
    const app = await boot(e.env);
    try {
      expect((await app.inject({ method: 'GET', url: '/probe/admin' })).statusCode).toBe(200);
    } finally {
      await shutdownApp(app);
      await e.cleanup();
    }
  });
});
