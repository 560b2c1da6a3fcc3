import { sessionValue } from '@arbiter/session';

/** A memoised computation: in flight (shared by every asker) or settled. */
export type MemoEntry = { state: 'pending'; promise: Promise<unknown> } | { state: 'ok'; value: unknown } | { state: 'failed'; error: unknown };

const FACT_MEMO = Symbol('arbiter.facts.memo');

/** The current session's memo (created on first use), or undefined outside a session. */
export function sessionMemo(): Map<string, MemoEntry> | undefined {
  return sessionValue(FACT_MEMO, () => new Map<string, MemoEntry>());
}

/**
 * Returns the memoised value of `key` or computes it once: a settled value comes back as is
 * (synchronously), a computation in flight is shared, a failure is replayed. `onHit` is called
 * for every answer the memo gives. Outside a session nothing is cached.
 */
export function memoised(key: string, compute: () => unknown, onHit?: () => void): unknown {
  const memo = sessionMemo();
  if (!memo) return compute();
  const hit = memo.get(key);
  if (hit) {
    onHit?.();
    if (hit.state === 'ok') return hit.value;
    if (hit.state === 'failed') throw hit.error;
    return hit.promise;
  }
  let out: unknown;
  try {
    out = compute();
  } catch (error) {
    memo.set(key, { state: 'failed', error });
    throw error;
  }
  if (!isThenable(out)) {
    memo.set(key, { state: 'ok', value: out });
    return out;
  }
  const promise = Promise.resolve(out).then(
    (value) => {
      memo.set(key, { state: 'ok', value });
      return value;
    },
    (error: unknown) => {
      memo.set(key, { state: 'failed', error });
      throw error;
    },
  );
  memo.set(key, { state: 'pending', promise });
  return promise;
}

/** Forgets every memoised entry whose key contains `marker` (after a write to that user). */
export function forgetMemo(marker: string): void {
  const memo = sessionMemo();
  if (!memo) return;
  for (const key of memo.keys()) if (key.includes(marker)) memo.delete(key);
}

/** The settled value of `key` in the session's memo, or undefined (unknown, in flight, failed, or outside a session). */
export function settledMemo(key: string): unknown {
  const hit = sessionMemo()?.get(key);
  return hit?.state === 'ok' ? hit.value : undefined;
}

/** Remembers `value` as the settled value of `key` (what the caller just wrote); nothing outside a session. */
export function seedMemo(key: string, value: unknown): void {
  sessionMemo()?.set(key, { state: 'ok', value });
}

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
