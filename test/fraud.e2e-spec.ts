import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { FactsService } from '@arbiter/facts';
import { FRAUD_MIGRATIONS } from '@arbiter/fraud';
import { runInSession } from '@arbiter/session';
import { bootApi, configDir, runnable, type Mode, type TestApp } from './support/harness';

// Rules of this suite. Scores are chosen so each test can reach one threshold on purpose:
// transactions score amount/100 against the default thresholds (review 50, decline 80), top-ups
// the same against their own (review 30).
const RULES = `
rules:
  - id: big_amount
    domain: fraud
    on: [transaction, topup]
    when: payload.amount > 1000
    score: payload.amount / 100
  - id: soft_review
    domain: fraud
    on: transaction
    when: payload.category == "gift_cards"
    score: 10
    outcome: review
  - id: many_topups
    domain: fraud
    on: topup
    when: 'events_count(type: "topup", within: 10m) > 5'
    score: 5
    outcome: review
  - id: blocked_ip
    domain: fraud
    on: login
    when: list_contains("blocked_ips", payload.ip)
    score: 1
    outcome: decline
  - id: watch_devices
    domain: fraud
    on: login
    mode: shadow
    when: payload.device == "emulator"
    score: 500
    outcome: decline
  - id: promo_for_clean_logins
    domain: promo
    on: login
    when: fraud.outcome == "approve"
    metadata: { campaign: CLEAN }
  - id: promo_for_declined_logins
    domain: promo
    on: login
    when: fraud.outcome == "decline" and fraud.score >= 1
    metadata: { campaign: DECLINED }
`;

const FRAUD_YAML = `
thresholds:
  default: { review: 50, decline: 80 }
  per_type:
    topup: { review: 30 }
`;

describe.each<Mode>(runnable('embedded', 'postgres'))('fraud on %s', (mode) => {
  let t: TestApp;
  let cfg: Awaited<ReturnType<typeof configDir>>;
  let ds: DataSource;
  let n = 0;
  beforeAll(async () => {
    cfg = await configDir({ rules: { 'fraud.yaml': RULES } });
    await writeFile(join(cfg.dir, 'fraud.yaml'), FRAUD_YAML);
    t = await bootApi(mode, { CONFIG_DIR: cfg.dir, RULES_WATCH: 'false' });
    ds = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t?.close();
    await cfg?.cleanup();
  });

  const req = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) => t.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  const event = async (type: string, user: string, payload: Record<string, unknown>) => {
    const res = await req('POST', '/v1/events', { id: `ev-${mode}-${++n}`, type, user_id: user, payload });
    expect(res.statusCode).toBe(200);
    return res.json();
  };
  const decisionCount = async () => Number((await ds.query(`SELECT count(*)::int AS n FROM fraud_decisions`))[0].n);

  it('applies the thresholds, per event type', async () => {
    expect((await event('transaction', 'u-th', { amount: 4900 })).fraud).toMatchObject({ outcome: 'approve', score: 49 });
    expect((await event('transaction', 'u-th', { amount: 5000 })).fraud).toMatchObject({ outcome: 'review', score: 50 });
    const declined = (await event('transaction', 'u-th', { amount: 8000 })).fraud;
    expect(declined).toMatchObject({ outcome: 'decline', score: 80, decision_id: expect.any(String) });
    expect(declined.reasons[0]).toMatchObject({ code: 'score_threshold' });
    // The same score is a review on a top-up: its own threshold is 30.
    expect((await event('topup', 'u-th2', { amount: 3500 })).fraud).toMatchObject({ outcome: 'review', score: 35 });
  });

  it('lets the strongest outcome win: a direct outcome beats a low score, a high score beats a soft rule', async () => {
    const soft = (await event('transaction', 'u-hi', { amount: 10, category: 'gift_cards' })).fraud;
    expect(soft).toMatchObject({ outcome: 'review', score: 10 });
    expect(soft.reasons[0]).toMatchObject({ code: 'rule_outcome', rule_id: 'soft_review' });
    const both = (await event('transaction', 'u-hi', { amount: 9000, category: 'gift_cards' })).fraud;
    expect(both).toMatchObject({ outcome: 'decline', score: 100 });
    expect(both.reasons.map((r: { code: string }) => r.code)).toEqual(['score_threshold', 'rule_outcome']);
  });

  it('counts velocity from the event log: the 6th top-up in 10 minutes matches', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) outcomes.push((await event('topup', 'u-vel', { amount: 10 })).fraud.outcome);
    expect(outcomes).toEqual(['approve', 'approve', 'approve', 'approve', 'approve', 'review']);
  });

  it('manages lists in bulk and reads them in rules with list_contains', async () => {
    const put = await req('PUT', '/v1/fraud/lists/blocked_ips', { kind: 'block', description: 'known bad', items: ['10.0.0.1', '10.0.0.2', '10.0.0.2'] });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ name: 'blocked_ips', kind: 'block', size: 2, created: true });
    const blocked = await event('login', 'u-list', { ip: '10.0.0.1' });
    expect(blocked.fraud).toMatchObject({ outcome: 'decline' });
    expect(blocked.matched).toContainEqual({ rule_id: 'blocked_ip', domain: 'fraud' });
    expect((await event('login', 'u-list', { ip: '10.9.9.9' })).fraud.outcome).toBe('approve');

    const change = await req('POST', '/v1/fraud/lists/blocked_ips/items', { add: ['10.9.9.9', '10.0.0.3'], remove: ['10.0.0.1', 'not-there'] });
    expect(change.json()).toEqual({ added: 2, removed: 1, size: 3 });
    expect((await event('login', 'u-list', { ip: '10.0.0.1' })).fraud.outcome).toBe('approve');
    expect((await event('login', 'u-list', { ip: '10.9.9.9' })).fraud.outcome).toBe('decline');
    const got = (await req('GET', '/v1/fraud/lists/blocked_ips?limit=2')).json();
    expect(got).toMatchObject({ kind: 'block', size: 3, items: ['10.0.0.2', '10.0.0.3'], next_after: '10.0.0.3' });
    expect((await req('GET', '/v1/fraud/lists/blocked_ips?limit=2&after=10.0.0.3')).json().items).toEqual(['10.9.9.9']);
  });

  it('approves an allow-listed user whatever the rules say, and says why', async () => {
    await req('PUT', '/v1/fraud/lists/blocked_ips', { kind: 'block', items: ['10.6.6.6'] });
    expect((await req('PUT', '/v1/fraud/lists/trusted', { kind: 'allow', items: ['u-vip'] })).statusCode).toBe(200);
    const r = await event('login', 'u-vip', { ip: '10.6.6.6' });
    expect(r.fraud.outcome).toBe('approve');
    expect(r.fraud.reasons[0]).toMatchObject({ code: 'allow_listed', list: 'trusted' });
    const stored = (await req('GET', `/v1/fraud/decisions/${r.fraud.decision_id}`)).json();
    expect(stored.matched).toEqual([{ rule_id: 'blocked_ip', score: 1, mode: 'live', outcome: 'decline' }]);
    // Someone else from the same IP is still declined.
    expect((await event('login', 'u-other', { ip: '10.6.6.6' })).fraud.outcome).toBe('decline');
  });

  it("approves a user whose stored email is allow-listed, read while the event is appended", async () => {
    await req('PUT', '/v1/fraud/lists/blocked_ips', { kind: 'block', items: ['10.5.5.5'] });
    expect((await req('PUT', '/v1/fraud/lists/trusted_mail', { kind: 'allow', items: ['vip@example.com'] })).statusCode).toBe(200);
    expect((await req('PUT', '/v1/users/u-mail', { attributes: { email: 'vip@example.com' } })).statusCode).toBeLessThan(300);
    expect((await req('PUT', '/v1/users/u-mail-other', { attributes: { email: 'someone@example.com' } })).statusCode).toBeLessThan(300);
    const r = await event('login', 'u-mail', { ip: '10.5.5.5' });
    expect(r.fraud.outcome).toBe('approve');
    expect(r.fraud.reasons[0]).toMatchObject({ code: 'allow_listed', list: 'trusted_mail' });
    expect((await event('login', 'u-mail-other', { ip: '10.5.5.5' })).fraud.outcome).toBe('decline');
    // The email changes: the next event reads the new one.
    expect((await req('PUT', '/v1/users/u-mail', { attributes: { email: 'changed@example.com' } })).statusCode).toBeLessThan(300);
    expect((await event('login', 'u-mail', { ip: '10.5.5.5' })).fraud.outcome).toBe('decline');
  });

  it('records shadow rules without letting them count', async () => {
    const r = await event('login', 'u-shadow', { ip: '192.168.1.1', device: 'emulator' });
    expect(r.fraud).toMatchObject({ outcome: 'approve', score: 0 });
    expect(r.matched).toContainEqual({ rule_id: 'watch_devices', domain: 'fraud' });
    const stored = (await req('GET', `/v1/fraud/decisions/${r.fraud.decision_id}`)).json();
    expect(stored.matched).toEqual([{ rule_id: 'watch_devices', score: 500, mode: 'shadow', outcome: 'decline' }]);
  });

  it('skips a snoozed rule for that user until the snooze ends', async () => {
    await req('PUT', '/v1/fraud/lists/blocked_ips', { kind: 'block', items: ['10.7.7.7'] });
    const until = new Date(Date.now() + 4000); // room for a slow machine before the "during" check
    const snooze = await req('POST', '/v1/fraud/rules/blocked_ip/snooze', { user_id: 'u-snz', until: until.toISOString() });
    expect(snooze.statusCode).toBe(200);
    const during = await event('login', 'u-snz', { ip: '10.7.7.7' });
    expect(during.fraud.outcome).toBe('approve');
    expect(during.fraud.reasons).toContainEqual(expect.objectContaining({ code: 'snoozed', rule_id: 'blocked_ip' }));
    expect((await event('login', 'u-snz2', { ip: '10.7.7.7' })).fraud.outcome).toBe('decline');
    while (Date.now() <= until.getTime() + 10) await new Promise((r) => setTimeout(r, 100));
    expect((await event('login', 'u-snz', { ip: '10.7.7.7' })).fraud.outcome).toBe('decline');
  });

  it('answers allow lists and snoozes per user when many events are assessed at once', async () => {
    // Concurrent assessments share one lookup statement: each must still get its own user's answer.
    await req('PUT', '/v1/fraud/lists/blocked_ips', { kind: 'block', items: ['10.8.8.8'] });
    await req('PUT', '/v1/fraud/lists/trusted_many', { kind: 'allow', items: ['u-many-0', 'u-many-3', 'u-many-6', 'u-many-9'] });
    const until = new Date(Date.now() + 120_000).toISOString();
    for (const u of ['u-many-1', 'u-many-4', 'u-many-7']) {
      expect((await req('POST', '/v1/fraud/rules/blocked_ip/snooze', { user_id: u, until })).statusCode).toBe(200);
    }
    const users = Array.from({ length: 12 }, (_, i) => `u-many-${i}`);
    const results = await Promise.all(users.map((u) => event('login', u, { ip: '10.8.8.8' })));
    results.forEach((r, i) => {
      const codes = r.fraud.reasons.map((x: { code: string }) => x.code);
      if (i % 3 === 0) expect([users[i], r.fraud.outcome, codes[0]]).toEqual([users[i], 'approve', 'allow_listed']);
      else if (i % 3 === 1 && i < 9) expect([users[i], r.fraud.outcome, codes]).toEqual([users[i], 'approve', expect.arrayContaining(['snoozed'])]);
      else expect([users[i], r.fraud.outcome]).toEqual([users[i], 'decline']);
    });
  });

  it('stores decisions with their matched rules and the facts read, searchable and reviewable', async () => {
    const r = await event('topup', 'u-store', { amount: 5000 });
    const id = r.fraud.decision_id;
    const one = await req('GET', `/v1/fraud/decisions/${id}`);
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({
      id,
      event_id: r.event_id,
      event_type: 'topup',
      user_id: 'u-store',
      check: false,
      score: 50,
      outcome: 'review',
      matched: [{ rule_id: 'big_amount', score: 50, mode: 'live' }],
      facts: { 'events_count({"type":"topup","within":600000})': 1 },
      review: null,
    });
    const list = (await req('GET', '/v1/fraud/decisions?user_id=u-store&outcome=review')).json();
    expect(list.items.map((d: { id: string }) => d.id)).toEqual([id]);
    expect((await req('GET', '/v1/fraud/decisions?user_id=u-store&outcome=approve')).json().items).toEqual([]);
    expect((await req('GET', `/v1/fraud/decisions?user_id=u-store&since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).json().items).toEqual([]);

    // The decision keeps no copy of its event: it is read from the event log.
    expect(one.json().event).toEqual({ id: r.event_id, type: 'topup', user_id: 'u-store', source: 'api', occurred_at: expect.any(String), payload: { amount: 5000 } });
    expect(await ds.query('SELECT event FROM fraud_decisions WHERE id = $1', [id])).toEqual([{ event: null }]);
    expect(list.items[0].event).toEqual(one.json().event);

    const reviewed = await req('POST', `/v1/fraud/decisions/${id}/review`, { outcome: 'approve', note: 'customer called' });
    expect(reviewed.statusCode).toBe(200);
    expect(reviewed.json().review).toMatchObject({ outcome: 'approve', note: 'customer called' });
    // A replayed event answers from the stored result and stores no second decision.
    const before = await decisionCount();
    const again = await req('POST', '/v1/events', { id: r.event_id, type: 'topup', user_id: 'u-store', payload: { amount: 5000 } });
    expect(again.json()).toMatchObject({ duplicate: true, fraud: { decision_id: id } });
    expect(await decisionCount()).toBe(before);
  });

  it('answers with the decision another process stored first when this run\'s is dropped', async () => {
    // Another delivery of the event, running at once in another process, stored its decision
    // first (here: by hand, and another than this run would make): this run's is dropped.
    const id = `ev-${mode}-race`;
    const other = randomUUID();
    await ds.query(
      `INSERT INTO fraud_decisions (id, event_id, event_type, user_id, is_check, score, outcome, matched, reasons, facts) VALUES ($1, $2, 'topup', 'u-race', false, 7, 'review', $3, $4, $5)`,
      [other, id, JSON.stringify([{ rule_id: 'elsewhere', score: 7, mode: 'live' }]), JSON.stringify([{ code: 'rule_outcome', rule_id: 'elsewhere' }]), JSON.stringify({ seen: 'by the other' })],
    );
    const res = await req('POST', '/v1/events', { id, type: 'topup', user_id: 'u-race', payload: { amount: 5000 } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.fraud).toEqual({ outcome: 'review', score: 7, decision_id: other, reasons: [{ code: 'rule_outcome', rule_id: 'elsewhere' }] });
    expect(body.domains.fraud).toEqual({ matched: [{ rule_id: 'elsewhere', score: 7, mode: 'live' }], facts: { seen: 'by the other' } });
    expect((await req('GET', `/v1/fraud/decisions/${body.fraud.decision_id}`)).statusCode).toBe(200);
    // Stored so, and answered so again.
    expect((await req('GET', `/v1/events/${id}`)).json().result.fraud.decision_id).toBe(other);
    expect((await req('POST', '/v1/events', { id, type: 'topup', user_id: 'u-race', payload: { amount: 5000 } })).json()).toMatchObject({ duplicate: true, fraud: { decision_id: other } });
    expect(Number((await ds.query('SELECT count(*)::int AS n FROM fraud_decisions WHERE event_id = $1', [id]))[0].n)).toBe(1);
  });

  it("erases a pipeline decision's event with its user, and keeps a check's as it was sent", async () => {
    const r = await event('topup', 'u-erased', { amount: 5000 });
    const check = (await req('POST', '/v1/fraud/check', { event: { type: 'topup', user_id: 'u-erased', payload: { amount: 5000 } } })).json();
    expect((await req('DELETE', '/v1/users/u-erased')).statusCode).toBeLessThan(300);
    const decided = (await req('GET', `/v1/fraud/decisions/${r.fraud.decision_id}`)).json();
    expect(decided).toMatchObject({ event_id: r.event_id, outcome: 'review', event: null });
    expect((await req('GET', `/v1/fraud/decisions/${check.decision_id}`)).json().event).toMatchObject({ type: 'topup', user_id: 'u-erased', payload: { amount: 5000 } });
  });

  it('copies the events back from the log when its migration is undone, and reads them the same', async () => {
    const r = await event('topup', 'u-migrate', { amount: 5000 });
    const read = async () => (await req('GET', `/v1/fraud/decisions/${r.fraud.decision_id}`)).json();
    const before = await read();
    const stored = async () => (await ds.query('SELECT event FROM fraud_decisions WHERE id = $1', [r.fraud.decision_id]))[0].event;
    const Migration = FRAUD_MIGRATIONS.find((m) => /EventFromLog/.test(m.name))!;
    const runner = ds.createQueryRunner();
    try {
      await new Migration().down(runner);
      expect(await stored()).toMatchObject({ id: r.event_id, type: 'topup', user_id: 'u-migrate', payload: { amount: 5000 } });
      expect(await read()).toEqual(before);
      await new Migration().up(runner);
    } finally {
      await runner.release();
    }
    expect(await read()).toEqual(before);
  });

  it('pages decisions newest first', async () => {
    for (let i = 0; i < 3; i++) await event('transaction', 'u-page', { amount: 1 });
    const p1 = (await req('GET', '/v1/fraud/decisions?user_id=u-page&limit=2')).json();
    expect(p1.items).toHaveLength(2);
    const p2 = (await req('GET', `/v1/fraud/decisions?user_id=u-page&limit=2&cursor=${p1.next_cursor}`)).json();
    expect(p2.items).toHaveLength(1);
    expect(p2.next_cursor).toBeNull();
    expect(new Set([...p1.items, ...p2.items].map((d: { event_id: string }) => d.event_id)).size).toBe(3);
  });

  it('lets promo read fraud.outcome and fraud.score in the same call', async () => {
    await req('PUT', '/v1/fraud/lists/blocked_ips', { kind: 'block', items: ['10.8.8.8'] });
    const bad = await event('login', 'u-promo', { ip: '10.8.8.8' });
    expect(bad.matched).toContainEqual({ rule_id: 'promo_for_declined_logins', domain: 'promo' });
    expect(bad.matched).not.toContainEqual({ rule_id: 'promo_for_clean_logins', domain: 'promo' });
    const good = await event('login', 'u-promo', { ip: '10.1.1.1' });
    expect(good.matched).toContainEqual({ rule_id: 'promo_for_clean_logins', domain: 'promo' });
  });

  it('computes fraud.outcome outside the pipeline without storing anything', async () => {
    await req('PUT', '/v1/fraud/lists/blocked_ips', { kind: 'block', items: ['10.5.5.5'] });
    const facts = t.app.get(FactsService);
    const before = await decisionCount();
    const ev = { id: 'preview-1', type: 'login', user_id: 'u-prev', source: 'test', occurred_at: new Date().toISOString(), payload: { ip: '10.5.5.5' } };
    const [outcome, score] = await runInSession({ requestId: 'preview' }, async () => [await facts.get('fraud.outcome', {}, 'u-prev', ev), await facts.get('fraud.score', {}, 'u-prev', ev)]);
    expect(outcome).toBe('decline');
    expect(score).toBe(1);
    expect(await decisionCount()).toBe(before);
  });

  it('checks an event with the fraud stage alone: stored, flagged, nothing appended', async () => {
    const events = async () => Number((await ds.query(`SELECT count(*)::int AS n FROM events WHERE user_id = 'u-check'`))[0].n);
    const res = await req('POST', '/v1/fraud/check', { event: { type: 'transaction', user_id: 'u-check', payload: { amount: 6000 } } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ outcome: 'review', score: 60, check: true, decision_id: expect.any(String) });
    expect((await req('GET', `/v1/fraud/decisions/${body.decision_id}`)).json()).toMatchObject({ check: true, user_id: 'u-check' });
    expect(await events()).toBe(0);
  });

  it('refuses bad input with the field path and changes nothing', async () => {
    const before = await decisionCount();
    const bad = async (method: 'POST' | 'PUT' | 'GET' | 'DELETE', url: string, body: unknown, status: number, path?: string) => {
      const res = await req(method, url, body);
      expect(res.statusCode).toBe(status);
      const err = res.json().error;
      if (path) expect(err.details.errors.map((e: { path: string }) => e.path)).toContain(path);
      expect(JSON.stringify(err)).not.toMatch(/at \w+ \(/);
      return err;
    };
    await bad('PUT', '/v1/fraud/lists/x', { kind: 'grey' }, 400, 'kind');
    await bad('PUT', '/v1/fraud/lists/x', { kind: 'block', items: ['ok', 7] }, 400, 'items[1]');
    await bad('PUT', '/v1/fraud/lists/bad%20name', { kind: 'block' }, 400, 'name');
    expect((await req('GET', '/v1/fraud/lists/x')).statusCode).toBe(404);
    await bad('POST', '/v1/fraud/lists/nope/items', { add: ['a'] }, 404);
    await bad('POST', '/v1/fraud/check', { event: { type: 'transaction', payload: { amount: 'lots' } } }, 400, 'event.user_id');
    await bad('POST', '/v1/fraud/check', { event: { type: 'transaction', user_id: 'u', payload: { amount: 'lots' } } }, 400, 'event.payload.amount');
    await bad('GET', '/v1/fraud/decisions?outcome=maybe', undefined, 400, 'outcome');
    await bad('GET', '/v1/fraud/decisions/00000000-0000-0000-0000-000000000000', undefined, 404);
    await bad('POST', '/v1/fraud/decisions/00000000-0000-0000-0000-000000000000/review', { outcome: 'approve' }, 404);
    await bad('POST', '/v1/fraud/decisions/whatever/review', { outcome: 'fine' }, 400, 'outcome');
    await bad('POST', '/v1/fraud/rules/no_such_rule/snooze', { user_id: 'u', until: new Date(Date.now() + 60_000).toISOString() }, 404);
    await bad('POST', '/v1/fraud/rules/blocked_ip/snooze', { user_id: 'u', until: '2001-01-01T00:00:00Z' }, 400, 'until');
    await bad('POST', '/v1/fraud/rules/promo_for_clean_logins/snooze', { user_id: 'u', until: new Date(Date.now() + 60_000).toISOString() }, 400, 'id');
    expect(await decisionCount()).toBe(before);
    expect((await ds.query(`SELECT count(*)::int AS n FROM fraud_lists WHERE name = 'x'`))[0].n).toBe(0);
  });

  it('deletes a list; a rule on a missing list reads false', async () => {
    await req('PUT', '/v1/fraud/lists/blocked_ips', { kind: 'block', items: ['10.4.4.4'] });
    expect((await req('DELETE', '/v1/fraud/lists/blocked_ips')).statusCode).toBe(204);
    expect((await req('DELETE', '/v1/fraud/lists/blocked_ips')).statusCode).toBe(404);
    expect((await event('login', 'u-del', { ip: '10.4.4.4' })).fraud.outcome).toBe('approve');
  });
});
