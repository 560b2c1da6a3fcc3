import { DataSource } from 'typeorm';
import { MembershipService, SegmentService } from '@arbiter/growth';
import { runInSession } from '@arbiter/session';
import { bootApi, configDir, runnable, withQueries, type Mode, type TestApp } from './support/harness';
import { poll } from './support/processes';

// A growth trigger: entering `frequent` tags the user (an action run by the segment.entered event).
const RULES = `
rules:
  - id: welcome_frequent
    domain: growth
    on: segment.entered
    when: payload.segment == "frequent"
    then:
      - action: set_user_attribute
        params: { attribute: segment, value: frequent-welcomed }
  - id: verify_on_document
    domain: growth
    on: transaction
    when: payload.amount == 42
    then:
      - action: set_user_attribute
        params: { attribute: kyc_verified, value: true }
`;

const SEGMENTS = [
  { id: 'big_spender', when: 'spend_30d > 1000', description: 'spent over 1000 in 30 days' },
  { id: 'frequent', when: 'events_count(type: "topup", within: 30s) >= 3' },
  { id: 'kyc', when: { all: [{ fact: 'user.kyc_verified', op: '==', value: true }] } },
  { id: 'vip_frequent', when: 'segment.member("frequent") and user.country == "FR"' },
];

const waitFor = <T>(fn: () => Promise<T>, done: (v: T) => boolean) => poll(fn, done, 60_000, 250);

describe.each<Mode>(runnable('embedded', 'postgres+redis', 'postgres'))('growth segments on %s', (mode) => {
  let t: TestApp;
  let cfg: Awaited<ReturnType<typeof configDir>>;
  let ds: DataSource;
  beforeAll(async () => {
    cfg = await configDir({ rules: { 'growth.yaml': RULES } });
    t = await bootApi(mode, { CONFIG_DIR: cfg.dir, GROWTH_BACKFILL_PAGE_SIZE: '2' });
    ds = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t?.close();
    await cfg?.cleanup();
  });

  const req = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown) => t.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  const event = async (body: Record<string, unknown>) => {
    const res = await req('POST', '/v1/events', body);
    expect(res.statusCode).toBe(200);
    return res.json();
  };
  const segmentsOf = async (user: string, history = false) => (await req('GET', `/v1/users/${user}/segments${history ? '?history=true' : ''}`)).json().segments as { segment: string; exited_at: string | null }[];
  const names = async (user: string) => (await segmentsOf(user)).map((s) => s.segment).sort();
  const backfilled = (id: string, revision = 1) =>
    waitFor(
      async () => (await req('GET', `/v1/growth/segments/${id}`)).json(),
      (s) => s.backfill.revision === revision && s.backfill.status === 'done',
    );

  it('creates segments, each backfilled (nobody known yet)', async () => {
    for (const s of SEGMENTS) {
      const res = await req('POST', '/v1/growth/segments', s);
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ id: s.id, revision: 1 });
    }
    for (const s of SEGMENTS) expect((await backfilled(s.id)).backfill).toMatchObject({ status: 'done', percent: 100, users_done: 0, users_total: 0 });
    const big = (await req('GET', '/v1/growth/segments/big_spender')).json();
    expect(big.depends_on).toEqual({ event_types: ['transaction'], user_attributes: [], windows: [{ type: 'transaction', within_ms: 30 * 86_400_000 }], uses_now: false });
    expect((await req('GET', '/v1/growth/segments/vip_frequent')).json().depends_on).toMatchObject({ event_types: ['segment.entered', 'segment.exited'], user_attributes: ['country'] });
    expect((await req('GET', '/v1/growth/segments')).json().items.map((s: { id: string }) => s.id)).toEqual(['big_spender', 'frequent', 'kyc', 'vip_frequent']);
  });

  it('refuses a condition that does not compile with a 422 listing every error, and stores nothing', async () => {
    const res = await req('POST', '/v1/growth/segments', { id: 'broken', when: 'spend_30dd > 5 and user.contry == "FR"' });
    expect(res.statusCode).toBe(422);
    const { error } = res.json();
    expect(error.code).toBe('SEGMENT_DOES_NOT_COMPILE');
    expect(error.details.errors.length).toBeGreaterThanOrEqual(2);
    expect(error.details.errors[0]).toMatchObject({ segment_id: 'broken', path: 'when' });
    expect((await req('GET', '/v1/growth/segments/broken')).statusCode).toBe(404);
    const patch = await req('PATCH', '/v1/growth/segments/kyc', { when: 'user.kyc_verified > 1' });
    expect(patch.statusCode).toBe(422);
    expect((await req('GET', '/v1/growth/segments/kyc')).json().revision).toBe(1);
    expect((await req('POST', '/v1/growth/segments', SEGMENTS[0])).statusCode).toBe(409);
    const bad = await req('POST', '/v1/growth/segments', { id: 'no spaces', when: 'true', extra: 1 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.errors.map((e: { path: string }) => e.path).sort()).toEqual(['extra', 'id']);
  });

  it('enters a segment reactively on an event, re-evaluating only the segments that event can change', async () => {
    const first = await event({ id: 's-t1', type: 'transaction', user_id: 'u1', payload: { amount: 800 } });
    expect(first.domains.growth).toMatchObject({ segments_evaluated: ['big_spender'], entered: [], exited: [] });
    const second = await event({ id: 's-t2', type: 'transaction', user_id: 'u1', payload: { amount: 400 } });
    expect(second.domains.growth.entered).toEqual([expect.objectContaining({ segment: 'big_spender', change: 'entered' })]);
    expect(await names('u1')).toEqual(['big_spender']);
    // The entry went through the pipeline as a segment.entered event.
    const sent = (await req('GET', `/v1/events/${encodeURIComponent(second.domains.growth.entered[0].event_id)}`)).json();
    expect(sent.event).toMatchObject({ type: 'segment.entered', user_id: 'u1', payload: { segment: 'big_spender' } });
    // A topup can only change `frequent`.
    const topup = await event({ id: 's-p1', type: 'topup', user_id: 'u1', payload: { amount: 5 } });
    expect(topup.domains.growth.segments_evaluated).toEqual(['frequent']);
    // The fact promo and fraud rules read.
    const fact = (await req('GET', `/v1/users/u1/facts?names=${encodeURIComponent('segment.member(segment: "big_spender"),segment.member(segment: "kyc")')}`)).json();
    expect(fact.facts['segment.member(segment: "big_spender")']).toEqual({ type: 'boolean', value: true });
    expect(fact.facts['segment.member(segment: "kyc")']).toEqual({ type: 'boolean', value: false });
  });

  it('re-evaluates attribute segments on user updates, keeping history', async () => {
    expect((await req('PUT', '/v1/users/u2', { attributes: { kyc_verified: true } })).statusCode).toBe(201);
    expect(await names('u2')).toEqual(['kyc']);
    await req('PATCH', '/v1/users/u2', { attributes: { kyc_verified: false } });
    expect(await names('u2')).toEqual([]);
    const history = await segmentsOf('u2', true);
    expect(history).toEqual([expect.objectContaining({ segment: 'kyc', exited_at: expect.any(String) })]);
  });

  it("enters an attribute segment in the call whose action set the attribute, reading the user as written", async () => {
    const { result: res, queries } = await withQueries(ds, () => event({ id: 's-kyc', type: 'transaction', user_id: 'u-kyc', payload: { amount: 42 } }));
    expect(res.actions).toEqual([expect.objectContaining({ rule_id: 'verify_on_document', status: 'succeeded' })]);
    expect(res.domains.growth.entered.map((c: { segment: string }) => c.segment)).toEqual(['kyc']);
    // The user was read once, by the statement that appended the event; the segment read the attributes the action wrote.
    expect(queries.filter((q) => /FROM users/.test(q) && !/INSERT INTO (events|users)/.test(q))).toEqual([]);
    expect(await names('u-kyc')).toEqual(['kyc']);
  });

  it('runs growth triggers on entry, chains segment.member, and expires a window with no event from the user', async () => {
    await req('PUT', '/v1/users/u3', { attributes: { country: 'FR' } });
    const old = new Date(Date.now() - 20_000).toISOString();
    await event({ id: 'w-1', type: 'topup', user_id: 'u3', occurred_at: old, payload: { amount: 1 } });
    await event({ id: 'w-2', type: 'topup', user_id: 'u3', occurred_at: old, payload: { amount: 1 } });
    const third = await event({ id: 'w-3', type: 'topup', user_id: 'u3', payload: { amount: 1 } });
    expect(third.domains.growth.entered.map((c: { segment: string }) => c.segment)).toEqual(['frequent']);
    expect(await names('u3')).toEqual(['frequent', 'vip_frequent']);
    expect((await req('GET', '/v1/users/u3')).json().attributes.segment).toBe('frequent-welcomed');

    // Two of the three topups leave the 30s window about 10s from now: a delayed re-check notices,
    // and `vip_frequent` (which reads segment.member("frequent")) follows through the exit event.
    const after = await waitFor(() => names('u3'), (n) => n.length === 0);
    expect(after).toEqual([]);
    const rows: { segment_id: string; exited_by: string }[] = await ds.query(`SELECT segment_id, exited_by FROM growth_segment_memberships WHERE user_id = 'u3' ORDER BY segment_id`);
    expect(rows).toEqual([
      { segment_id: 'frequent', exited_by: 'recheck' },
      { segment_id: 'vip_frequent', exited_by: expect.stringMatching(/^event:segment\.exited\.frequent\./) },
    ]);
    const topups: { n: number }[] = await ds.query(`SELECT count(*)::int AS n FROM events WHERE user_id = 'u3' AND type = 'topup'`);
    expect(Number(topups[0].n)).toBe(3);
    // Each exit's event is sent after its membership row is written: the second may still be on its way.
    const exited = await waitFor(async () => Number((await ds.query(`SELECT count(*)::int AS n FROM events WHERE user_id = 'u3' AND type = 'segment.exited'`))[0].n), (n) => n >= 2);
    expect(exited).toBe(2);
  });

  it('enters once however many evaluations of the same user race', async () => {
    await req('PUT', '/v1/users/u6', { attributes: { kyc_verified: true } });
    await ds.query(`DELETE FROM growth_segment_memberships WHERE user_id = 'u6'`);
    const segment = (await t.app.get(SegmentService).compiled('kyc'))!;
    const membership = t.app.get(MembershipService);
    const reports = await Promise.all(Array.from({ length: 6 }, (_, i) => runInSession({ requestId: `race-${i}` }, () => membership.reevaluate('u6', [segment], 'test', 0))));
    expect(reports.flatMap((r) => r.entered)).toHaveLength(1);
    const open: { n: number }[] = await ds.query(`SELECT count(*)::int AS n FROM growth_segment_memberships WHERE user_id = 'u6' AND exited_at IS NULL`);
    expect(Number(open[0].n)).toBe(1);
  });

  it('backfills every known user in pages when a segment is created or its rule changes, reporting progress', async () => {
    for (let i = 1; i <= 7; i++) await req('PUT', `/v1/users/bf-${i}`, { attributes: { country: i <= 4 ? 'DE' : 'IT' } });
    const known: { n: number }[] = await ds.query('SELECT count(*)::int AS n FROM (SELECT id FROM users UNION SELECT user_id FROM events) u');
    const created = await req('POST', '/v1/growth/segments', { id: 'germans', when: 'user.country == "DE"' });
    expect(created.statusCode).toBe(201);
    expect(created.json().backfill).toMatchObject({ revision: 1, users_total: Number(known[0].n) });
    const done = await backfilled('germans');
    expect(done.backfill).toMatchObject({ status: 'done', percent: 100, users_done: Number(known[0].n), users_total: Number(known[0].n) });
    const members = (await req('GET', '/v1/growth/segments/germans/members?limit=3')).json();
    expect(members).toMatchObject({ total: 4, limit: 3, offset: 0 });
    expect(members.items.map((m: { user_id: string }) => m.user_id)).toEqual(['bf-1', 'bf-2', 'bf-3']);

    const changed = await req('PATCH', '/v1/growth/segments/germans', { when: 'user.country == "IT"' });
    expect(changed.json().revision).toBe(2);
    await backfilled('germans', 2);
    const now = (await req('GET', '/v1/growth/segments/germans/members')).json();
    expect(now.items.map((m: { user_id: string }) => m.user_id)).toEqual(['bf-5', 'bf-6', 'bf-7']);
    expect(await names('bf-1')).toEqual([]);
  });

  it('deletes a segment with its memberships', async () => {
    expect((await req('DELETE', '/v1/growth/segments/germans')).statusCode).toBe(200);
    expect((await req('GET', '/v1/growth/segments/germans')).statusCode).toBe(404);
    expect(await names('bf-5')).toEqual([]);
    expect((await req('DELETE', '/v1/growth/segments/germans')).statusCode).toBe(404);
  });

  it("erases the user's growth data with the user", async () => {
    await req('DELETE', '/v1/users/u1');
    expect(await segmentsOf('u1', true)).toEqual([]);
  });
});
