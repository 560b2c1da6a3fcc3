import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { idempotencyKey } from '@arbiter/actions';
import { PointsLedgerService } from '@arbiter/growth';
import { bootApi, configDir, runnable, withQueries, type Mode, type TestApp } from './support/harness';
import { poll } from './support/processes';

// The shipped growth rules (with the loyalty example `high_value_food`), plus a rule whose points
// formula can fail, to show a failed award is reported and writes nothing.
const SHIPPED = readFileSync(join(__dirname, '..', 'configs', 'rules', 'growth.yaml'), 'utf8');
const EXTRA = `
rules:
  - id: topup_bonus
    domain: growth
    on: topup
    when: payload.method == "promo"
    then:
      - action: reward_points
        params: { points: 10, reason: promo top-up, expiry_days: 30 }
      - action: reward_points
        params: { points_formula: "payload.amount / 0" }
`;

const waitFor = <T>(fn: () => Promise<T>, done: (v: T) => boolean) => poll(fn, done, 60_000, 200);

describe.each<Mode>(runnable('embedded', 'postgres+redis', 'postgres'))('growth loyalty on %s', (mode) => {
  let t: TestApp;
  let cfg: Awaited<ReturnType<typeof configDir>>;
  let ds: DataSource;
  beforeAll(async () => {
    cfg = await configDir({ rules: { 'growth.yaml': SHIPPED, 'extra.yaml': EXTRA } });
    t = await bootApi(mode, { CONFIG_DIR: cfg.dir });
    ds = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t?.close();
    await cfg?.cleanup();
  });

  const post = (url: string, payload: unknown) => t.inject({ method: 'POST', url, payload: payload as object });
  const balance = async (user: string) => (await t.inject({ method: 'GET', url: `/v1/growth/users/${user}/points` })).json().balance;
  const entries = async (user: string, query = '') => (await t.inject({ method: 'GET', url: `/v1/growth/users/${user}/points/entries${query}` })).json();

  it('awards 75 points for the seed example through POST /v1/events, and says so', async () => {
    const res = await post('/v1/events', { id: 'food-1', type: 'transaction', user_id: 'alice', payload: { amount: 1500, category: 'food' } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.matched).toContainEqual({ rule_id: 'high_value_food', domain: 'growth' });
    expect(body.actions).toContainEqual(
      expect.objectContaining({ rule_id: 'high_value_food', action: 'reward_points', status: 'succeeded', result: expect.objectContaining({ user_id: 'alice', points: 75, reason: 'high value food purchase', replayed: false }) }),
    );
    expect(body.domains.growth).toMatchObject({ points_awarded: 75, points_reversed: 0 });
    expect(await balance('alice')).toBe(75);
    const ledger = await entries('alice');
    expect(ledger).toMatchObject({ user_id: 'alice', total: 1 });
    expect(ledger.items[0]).toMatchObject({ amount: 75, source_event_id: 'food-1', rule_id: 'high_value_food', idempotency_key: 'food-1/high_value_food/0', expires_at: null, live: true });
  });

  it("writes a new event's awards with its outcome, under the entry ids it answers with; a replay finds them", async () => {
    const ids = [`carry-1-${mode}`, `carry-2-${mode}`];
    const { result: answers, queries } = await withQueries(ds, () =>
      Promise.all(ids.map((id, i) => post('/v1/events', { id, type: 'transaction', user_id: 'grace', payload: { amount: 1100 * (i + 1), category: 'food' } }))),
    );
    const awards = answers.map((a) => a.json().actions.find((x: { action: string }) => x.action === 'reward_points'));
    expect(awards.map((a) => a.result.points)).toEqual([55, 110]);
    // The ledger holds each entry under the id its event answered with.
    const ledger = await entries('grace');
    expect(ledger.total).toBe(2);
    expect(ids.map((id) => ledger.items.find((e: { source_event_id: string }) => e.source_event_id === id).id)).toEqual(awards.map((a) => a.result.entry_id));
    expect(await balance('grace')).toBe(165);
    // Written only by the statements that stored the outcomes.
    const writes = queries.filter((q) => /INSERT INTO growth_points_entries/.test(q));
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.filter((q) => !/INSERT INTO event_outcomes/.test(q))).toEqual([]);

    // A replay of the first (stored, never finished: its outcome is gone) awards nothing more and names the same entry.
    await ds.query('DELETE FROM event_outcomes WHERE event_id = $1', [ids[0]]);
    await ds.query('DELETE FROM action_log WHERE event_id = $1', [ids[0]]);
    const replay = (await post('/v1/events', { id: ids[0], type: 'transaction', user_id: 'grace', payload: { amount: 1100, category: 'food' } })).json();
    expect(replay.duplicate).toBe(false);
    expect(replay.actions.find((x: { action: string }) => x.action === 'reward_points').result).toMatchObject({ entry_id: awards[0].result.entry_id, replayed: true });
    expect(await balance('grace')).toBe(165);
  });

  it('names the entry another process wrote first when a first run\'s carried award is dropped', async () => {
    // Another delivery of the event, running at once in another process, replayed it and awarded
    // under the action's key before this run's outcome statement: that statement drops its award.
    const id = `race-${mode}`;
    const other = await t.app.get(PointsLedgerService).award({ userId: 'heidi', amount: 75, reason: 'high value food purchase', sourceEventId: id, ruleId: 'high_value_food', idempotencyKey: idempotencyKey(id, 'high_value_food', 0) });
    // With another event at once, most likely in the same statement: its award is written, and says so.
    const [res, alongside] = await Promise.all([
      post('/v1/events', { id, type: 'transaction', user_id: 'heidi', payload: { amount: 1500, category: 'food' } }),
      post('/v1/events', { id: `${id}-alongside`, type: 'transaction', user_id: 'ivy', payload: { amount: 2000, category: 'food' } }),
    ]);
    expect(res.statusCode).toBe(200);
    const award = res.json().actions.find((x: { action: string }) => x.action === 'reward_points');
    expect(award).toMatchObject({ status: 'succeeded', result: { entry_id: other.entry.id, points: 75, replayed: true } });
    const own = alongside.json().actions.find((x: { action: string }) => x.action === 'reward_points').result;
    expect(own).toMatchObject({ points: 100, replayed: false });
    expect((await entries('ivy')).items.map((e: { id: string }) => e.id)).toEqual([own.entry_id]);
    // The stored result says the same, and the ledger holds that one entry.
    const stored = (await t.inject({ method: 'GET', url: `/v1/events/${id}` })).json();
    expect(stored.result.actions.find((x: { action: string }) => x.action === 'reward_points').result.entry_id).toBe(other.entry.id);
    const again = (await post('/v1/events', { id, type: 'transaction', user_id: 'heidi', payload: { amount: 1500, category: 'food' } })).json();
    expect(again.duplicate).toBe(true);
    expect(again.actions.find((x: { action: string }) => x.action === 'reward_points').result.entry_id).toBe(other.entry.id);
    expect(await entries('heidi')).toMatchObject({ total: 1, items: [{ id: other.entry.id }] });
    expect(await balance('heidi')).toBe(75);
  });

  it("keeps a failed first run's award and its record, and a replay names that entry", async () => {
    const id = `award-fails-${mode}`;
    await ds.query(`CREATE FUNCTION refuse_outcome() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
    await ds.query(`CREATE TRIGGER refuse_outcome BEFORE INSERT ON event_outcomes FOR EACH ROW WHEN (NEW.event_id = '${id}') EXECUTE FUNCTION refuse_outcome()`);
    try {
      expect((await post('/v1/events', { id, type: 'transaction', user_id: 'kate', payload: { amount: 1500, category: 'food' } })).statusCode).toBe(500);
    } finally {
      await ds.query('DROP TRIGGER refuse_outcome ON event_outcomes');
      await ds.query('DROP FUNCTION refuse_outcome()');
    }
    // The award ran: its entry and its record were written on their own, without the outcome.
    const ledger = await entries('kate');
    expect(ledger).toMatchObject({ total: 1, items: [{ amount: 75, source_event_id: id }] });
    expect(await ds.query('SELECT status FROM action_log WHERE event_id = $1', [id])).toEqual([{ status: 'succeeded' }]);
    const replay = (await post('/v1/events', { id, type: 'transaction', user_id: 'kate', payload: { amount: 1500, category: 'food' } })).json();
    expect(replay.duplicate).toBe(false);
    expect(replay.actions.find((x: { action: string }) => x.action === 'reward_points').result.entry_id).toBe(ledger.items[0].id);
    expect(await balance('kate')).toBe(75);
  });

  it('refuses another event under the id of one that never finished, and runs the stored one when it is sent again', async () => {
    // Appended, then the call failed before its outcome (a 503, a crash): the log holds the event.
    const stored = async (id: string, user: string, amount: number) =>
      ds.query(`INSERT INTO events (id, user_id, type, source, occurred_at, payload) VALUES ($1, $2, 'transaction', 'api', '2026-01-02T03:04:05Z', $3::jsonb)`, [id, user, JSON.stringify({ amount, category: 'food' })]);
    const points = (body: { actions: { action: string; result: { user_id: string; points: number } }[] }) => body.actions.find((a) => a.action === 'reward_points')?.result;
    const outcomes = async (id: string) => Number((await ds.query('SELECT count(*)::int AS n FROM event_outcomes WHERE event_id = $1', [id]))[0].n);

    // Another amount: refused, naming the payload; nothing runs, nothing is stored.
    await stored(`again-1-${mode}`, 'ivan', 2000);
    const other = await post('/v1/events', { id: `again-1-${mode}`, type: 'transaction', user_id: 'ivan', payload: { amount: 5000, category: 'food' } });
    expect(other.statusCode).toBe(422);
    expect(other.json().error).toMatchObject({ code: 'EVENT_ID_REUSED', details: { errors: [{ path: 'payload' }] } });
    expect(await balance('ivan')).toBe(0);
    expect(await outcomes(`again-1-${mode}`)).toBe(0);
    // The event itself, keys in another order and stamped with the time it is sent again: it runs,
    // once, as stored (5% of 2,000).
    const same = await post('/v1/events', { id: `again-1-${mode}`, type: 'transaction', user_id: 'ivan', occurred_at: new Date().toISOString(), payload: { category: 'food', amount: 2000 } });
    expect(same.statusCode).toBe(200);
    expect(same.json().duplicate).toBe(false);
    expect(points(same.json())).toMatchObject({ user_id: 'ivan', points: 100 });
    expect(await balance('ivan')).toBe(100);

    // Another user, as a CloudEvent: refused under the envelope's names; no decision, no points.
    await stored(`again-2-${mode}`, 'judy', 1200);
    const cloud = await post('/v1/events', { specversion: '1.0', id: `again-2-${mode}`, type: 'transaction', source: 'api', subject: 'mallory', data: { amount: 1200, category: 'food' } });
    expect(cloud.statusCode).toBe(422);
    expect(cloud.json().error.details.errors.map((e: { path: string }) => e.path)).toEqual(['subject']);
    expect(await balance('judy')).toBe(0);
    expect(await balance('mallory')).toBe(0);
    expect(await ds.query('SELECT user_id FROM fraud_decisions WHERE event_id = $1', [`again-2-${mode}`])).toEqual([]);
    // And another source, type and payload at once: each named.
    const all = await post('/v1/events', { id: `again-2-${mode}`, type: 'topup', user_id: 'judy', source: 'web', payload: { amount: 5, method: 'card' } });
    expect(all.json().error.details.errors.map((e: { path: string }) => e.path)).toEqual(['type', 'source', 'payload']);
    // The log still holds the event as first sent.
    const logged = (await t.inject({ method: 'GET', url: `/v1/events/again-2-${mode}` })).json();
    expect(logged).toMatchObject({ status: 'pending', event: { user_id: 'judy', payload: { amount: 1200 } } });
  });

  it('refuses another event under the id of a processed one, and still answers the event itself as a repeat', async () => {
    const first = await post('/v1/events', { id: `reused-${mode}`, type: 'transaction', user_id: 'oscar', payload: { amount: 2000, category: 'food' } });
    expect(first.statusCode).toBe(200);
    const other = await post('/v1/events', { id: `reused-${mode}`, type: 'transaction', user_id: 'oscar', payload: { amount: 2000.5, category: 'food' } });
    expect([other.statusCode, other.json().error.code]).toEqual([422, 'EVENT_ID_REUSED']);
    const again = await post('/v1/events', { id: `reused-${mode}`, type: 'transaction', user_id: 'oscar', payload: { category: 'food', amount: 2000 } });
    expect(again.statusCode).toBe(200);
    expect({ ...again.json(), duplicate: false }).toEqual(first.json());
    expect(again.json().duplicate).toBe(true);
    expect(await balance('oscar')).toBe(100);
  });

  it('does not award below the threshold or outside food', async () => {
    for (const [id, payload] of [['food-edge', { amount: 1000, category: 'food' }], ['tv', { amount: 5000, category: 'electronics' }]] as const) {
      const res = await post('/v1/events', { id, type: 'transaction', user_id: 'bob', payload });
      expect(res.json().domains.growth.points_awarded).toBe(0);
    }
    expect(await balance('bob')).toBe(0);
    expect((await entries('bob')).total).toBe(0);
  });

  it('never awards twice for a replayed event', async () => {
    const again = await post('/v1/events', { id: 'food-1', type: 'transaction', user_id: 'alice', payload: { amount: 1500, category: 'food' } });
    expect(again.json()).toMatchObject({ duplicate: true, domains: { growth: { points_awarded: 75 } } });
    expect(await balance('alice')).toBe(75);
    expect((await entries('alice')).total).toBe(1);
  });

  it('keeps one ledger entry per idempotency key under concurrent writes', async () => {
    const ledger = t.app.get(PointsLedgerService);
    const award = { userId: 'carol', amount: 5, sourceEventId: 'x-1', ruleId: 'r', idempotencyKey: 'x-1/r/0' };
    const results = await Promise.all(Array.from({ length: 6 }, () => ledger.award(award)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.entry.id)).size).toBe(1);
    expect(await balance('carol')).toBe(5);
  });

  it('awards through the batch endpoint once, and a re-sent batch changes nothing', async () => {
    const events = [
      { id: 'b-food-1', type: 'transaction', user_id: 'dave', payload: { amount: 1500, category: 'food' } },
      { id: 'b-food-2', type: 'transaction', user_id: 'dave', payload: { amount: 3000, category: 'food' } },
      { id: 'b-food-3', type: 'transaction', user_id: 'dave', payload: { amount: 500, category: 'food' } },
    ];
    const first = await post('/v1/events/batch', { events });
    expect(first.statusCode).toBe(202);
    const status = await waitFor(
      async () => (await t.inject({ method: 'GET', url: `/v1/events/batch/${first.json().batch_id}` })).json(),
      (s) => s.done === 3,
    );
    expect(status).toMatchObject({ done: 3, failed: 0 });
    expect(await balance('dave')).toBe(225);
    const outcome = (await t.inject({ method: 'GET', url: '/v1/events/b-food-1' })).json();
    expect(JSON.stringify(outcome)).toContain('"points_awarded":75');

    const resent = await post('/v1/events/batch', { events });
    expect(resent.statusCode).toBe(202);
    const again = await waitFor(
      async () => (await t.inject({ method: 'GET', url: `/v1/events/batch/${resent.json().batch_id}` })).json(),
      (s) => s.queued === 0,
    );
    expect(again).toMatchObject({ duplicate: 3, done: 0 });
    expect(await balance('dave')).toBe(225);
    expect((await entries('dave')).total).toBe(2);
  });

  it('reverses the points of the refunded event, once', async () => {
    await post('/v1/events', { id: 'food-2', type: 'transaction', user_id: 'erin', payload: { amount: 2000, category: 'food' } });
    await post('/v1/events', { id: 'food-3', type: 'transaction', user_id: 'erin', payload: { amount: 1200, category: 'food' } });
    expect(await balance('erin')).toBe(160);
    const refund = await post('/v1/events', { id: 'refund-1', type: 'refund', user_id: 'erin', payload: { order_id: 'o-2', amount: 2000, original_event_id: 'food-2' } });
    expect(refund.statusCode).toBe(200);
    expect(refund.json().domains.growth).toMatchObject({ points_reversed: 100 });
    expect(await balance('erin')).toBe(60);
    // A second refund of the same event, and a replay of the first: nothing more is taken back.
    const second = await post('/v1/events', { id: 'refund-2', type: 'refund', user_id: 'erin', payload: { order_id: 'o-2', original_event_id: 'food-2' } });
    expect(second.json().domains.growth.points_reversed).toBe(0);
    await post('/v1/events', { id: 'refund-1', type: 'refund', user_id: 'erin', payload: { order_id: 'o-2', amount: 2000, original_event_id: 'food-2' } });
    expect(await balance('erin')).toBe(60);
    const ledger = await entries('erin');
    expect(ledger.total).toBe(3);
    const reversal = ledger.items.find((e: { amount: number }) => e.amount < 0);
    expect(reversal).toMatchObject({ amount: -100, source_event_id: 'refund-1', reverses_entry_id: ledger.items.find((e: { source_event_id: string }) => e.source_event_id === 'food-2').id });
    // Another user's refund naming erin's event takes nothing from erin.
    await post('/v1/events', { id: 'refund-x', type: 'refund', user_id: 'mallory', payload: { original_event_id: 'food-3' } });
    expect(await balance('erin')).toBe(60);
  });

  it('records expiry, and reports a formula that cannot be computed as a failed action that writes nothing', async () => {
    const res = await post('/v1/events', { id: 'topup-1', type: 'topup', user_id: 'frank', payload: { amount: 50, method: 'promo' } });
    const actions = res.json().actions.filter((a: { rule_id: string }) => a.rule_id === 'topup_bonus');
    expect(actions[0]).toMatchObject({ status: 'succeeded', result: { points: 10 } });
    expect(actions[1]).toMatchObject({ status: 'failed', error: { code: 'INVALID_POINTS' } });
    const [entry] = (await entries('frank')).items;
    const days = (Date.parse(entry.expires_at) - Date.parse(entry.created_at)) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
    expect(await balance('frank')).toBe(10);
    // Expired entries stop counting.
    await ds.query(`UPDATE growth_points_entries SET expires_at = now() - interval '1 second' WHERE user_id = 'frank'`);
    expect(await balance('frank')).toBe(0);
    expect((await entries('frank')).items[0].live).toBe(false);
  });

  it('pages the ledger and refuses bad paging with a 400 naming the field', async () => {
    const page = await entries('erin', '?limit=2&offset=1');
    expect(page).toMatchObject({ limit: 2, offset: 1, total: 3 });
    expect(page.items).toHaveLength(2);
    const bad = await t.inject({ method: 'GET', url: '/v1/growth/users/erin/points/entries?limit=0' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.errors[0].path).toBe('limit');
  });
});
