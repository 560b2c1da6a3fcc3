import { connect, type AddressInfo } from 'node:net';
import { bootApi, type TestApp } from './support/harness';

describe('platform (embedded defaults, the real app)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApi('embedded');
  });
  afterAll(() => t.close());

  it('answers liveness', async () => {
    const res = await t.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('is ready when the embedded store and queue answer', async () => {
    const res = await t.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json().info).toMatchObject({ store: { status: 'up', kind: 'embedded' }, queue: { status: 'up', kind: 'embedded' } });
  });

  it('serves Prometheus text with process metrics and the request histogram by route and status', async () => {
    await t.inject({ method: 'GET', url: '/healthz' });
    const res = await t.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.body).toContain('process_cpu_user_seconds_total');
    expect(res.body).toMatch(/arbiter_http_request_duration_seconds_count\{method="GET",route="\/healthz",status_code="200"\} [1-9]/);
  });

  it('echoes a sane x-request-id and generates one otherwise', async () => {
    const given = await t.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers['x-request-id']).toBe('abc-123');
    const generated = await t.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id with spaces' } });
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers an unknown route with a JSON 404', async () => {
    const res = await t.inject({ method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('answers malformed JSON with a 400 and no stack trace', async () => {
    const res = await t.inject({ method: 'POST', url: '/healthz', headers: { 'content-type': 'application/json' }, payload: '{bad' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('INVALID_JSON');
    expect(res.body).not.toMatch(/at .*\.(js|ts):\d+/);
  });

  it('answers what the router refuses in the service\'s error shape, with the request id', async () => {
    const long = await t.inject({ method: 'GET', url: `/v1/events/${'x'.repeat(1100)}`, headers: { 'x-request-id': 'long-1' } });
    expect(long.statusCode).toBe(414);
    expect(long.headers['x-request-id']).toBe('long-1');
    expect(long.json()).toMatchObject({ error: { code: 'MAX_PARAM_LENGTH', request_id: 'long-1' } });
    const bad = await t.inject({ method: 'GET', url: '/v1/events/%ZZ' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('BAD_URL');
  });

  it('refuses a body that is not JSON with a 415, and a NUL in a JSON body with a 400 naming its path', async () => {
    const text = await t.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'text/plain' }, payload: '{"type":"x","user_id":"u"}' });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const nul = await t.inject({ method: 'PUT', url: '/v1/users/u-nul', headers: { 'content-type': 'application/json' }, payload: '{"attributes":{"country":"a\\ud800b"}}' });
    expect(nul.statusCode).toBe(400);
    expect(nul.json().error.details.errors).toEqual([{ path: 'attributes.country', message: expect.stringContaining('lone UTF-16 surrogate') }]);
    expect((await t.inject({ method: 'GET', url: '/v1/users/u-nul' })).statusCode).toBe(404);
    const deep = await t.inject({ method: 'POST', url: '/v1/rules/validate', headers: { 'content-type': 'application/json' }, payload: `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}` });
    expect(deep.statusCode).toBe(400);
    expect(deep.json().error.details.errors).toEqual([{ path: '(body)', message: 'nests deeper than 136 levels' }]);
  });

  it('refuses a query parameter given more than once, naming it', async () => {
    const res = await t.inject({ method: 'GET', url: '/v1/fraud/decisions?user_id=a&user_id=b&limit=5' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.errors).toEqual([{ path: 'user_id', message: 'is given more than once' }]);
    expect((await t.inject({ method: 'GET', url: '/v1/fraud/decisions?user_id=a&limit=5' })).statusCode).toBe(200);
  });

  it('answers bytes that are not HTTP in the service\'s error shape', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    const answer = await new Promise<string>((resolve, reject) => {
      let got = '';
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n'));
      socket.on('data', (d) => (got += d));
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'BAD_REQUEST', message: 'the request is not valid HTTP' } });
  });

  it('answers a body over the limit with a 413', async () => {
    const res = await t.inject({ method: 'POST', url: '/healthz', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ x: 'a'.repeat(1024 * 1024 + 10) }) });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('BODY_TOO_LARGE');
  });

  it('publishes the OpenAPI document at /docs/json and the UI at /docs', async () => {
    const json = await t.inject({ method: 'GET', url: '/docs/json' });
    expect(json.statusCode).toBe(200);
    expect(json.json().paths).toHaveProperty(['/readyz']);
    // Every endpoint is described: a summary and a tag each.
    const undocumented: string[] = [];
    for (const [path, ops] of Object.entries(json.json().paths as Record<string, Record<string, { summary?: string; tags?: string[] }>>)) {
      for (const [method, op] of Object.entries(ops)) if (!op.summary || !op.tags?.length) undocumented.push(`${method.toUpperCase()} ${path}`);
    }
    expect(undocumented).toEqual([]);
    expect(Object.keys(json.json().paths).length).toBeGreaterThan(40);
    const ui = await t.inject({ method: 'GET', url: '/docs' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('swagger');
  });
});
