import { currentSession, decisionOf, decisions, recordDecision, runInJobSession, runInSession, sessionValue } from './session.context';

describe('session context', () => {
  it('keeps one session across awaits and isolates concurrent sessions', async () => {
    const seen = await Promise.all(
      ['a', 'b'].map((id) =>
        runInSession({ requestId: id, sessionId: `s-${id}` }, async () => {
          await new Promise((r) => setImmediate(r));
          sessionValue('n', () => id);
          await Promise.resolve();
          return [currentSession()!.requestId, currentSession()!.sessionId, sessionValue('n', () => 'other')];
        }),
      ),
    );
    expect(seen).toEqual([
      ['a', 's-a', 'a'],
      ['b', 's-b', 'b'],
    ]);
    expect(currentSession()).toBeUndefined();
  });

  it('records the decisions taken so far, so a later domain reads an earlier one', async () => {
    const out = await runInSession({ requestId: 'r' }, async () => {
      recordDecision('fraud', { outcome: 'review' });
      await Promise.resolve();
      recordDecision('promo', ['WELCOME10']);
      return { fraud: decisionOf<{ outcome: string }>('fraud')?.outcome, all: decisions() };
    });
    expect(out).toEqual({ fraud: 'review', all: { fraud: { outcome: 'review' }, promo: ['WELCOME10'] } });
    recordDecision('fraud', 'ignored outside a session');
    expect(decisions()).toEqual({});
    expect(sessionValue('x', () => 1)).toBeUndefined();
  });

  it('opens a job session from the event it carries', () => {
    const s = runInJobSession('42', { user_id: 'u1', session_id: 'web-9' }, () => currentSession()!);
    expect(s).toMatchObject({ requestId: 'job:42', userId: 'u1', sessionId: 'web-9' });
    expect(typeof s.startedAt).toBe('number');
  });
});
