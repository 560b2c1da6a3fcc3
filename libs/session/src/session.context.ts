import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What one call knows about itself: the request id every log line carries, and (filled in as the
 * call goes on) the user and session it is about, the clock it reads, the fact memo and the
 * decisions already taken. Opened once per HTTP request and once per queued job; providers stay
 * singletons and read it from here instead of being request-scoped.
 */
export interface SessionState {
  readonly requestId: string;
  userId?: string;
  sessionId?: string;
  /** When the call started (epoch ms): the one `now` every fact of the call measures windows from. */
  readonly startedAt: number;
  /** Free-form values other libs attach to the call (the fact memo, loaded attributes, ...). */
  readonly bag: Map<string | symbol, unknown>;
  /** Decisions taken so far in this call, by domain (`fraud` -> its outcome), in the order taken. */
  readonly decisions: Map<string, unknown>;
}

/** What a caller knows when it opens a session. */
export interface SessionInit {
  requestId: string;
  userId?: string;
  sessionId?: string;
  /** Defaults to the current time. */
  startedAt?: number;
}

const storage = new AsyncLocalStorage<SessionState>();

function create(init: SessionInit): SessionState {
  return { requestId: init.requestId, userId: init.userId, sessionId: init.sessionId, startedAt: init.startedAt ?? Date.now(), bag: new Map(), decisions: new Map() };
}

/** Runs `fn` inside a new session; everything it awaits sees the same session. */
export function runInSession<T>(init: SessionInit, fn: () => T): T {
  return storage.run(create(init), fn);
}

/** The current session, or undefined outside of a request or job. */
export function currentSession(): SessionState | undefined {
  return storage.getStore();
}

/**
 * Runs one queued job in its own session, the way an HTTP request gets one: the request id is
 * `job:<jobId>` and the user and session come from the event the job carries (`user_id`,
 * `session_id`). Queue processors wrap their handler in this so facts memoise per job.
 */
export function runInJobSession<T>(jobId: string | undefined, event: { user_id?: unknown; session_id?: unknown } | undefined, fn: () => T): T {
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v.slice(0, 128) : undefined);
  return runInSession({ requestId: `job:${jobId ?? 'unknown'}`, userId: str(event?.user_id), sessionId: str(event?.session_id) }, fn);
}

/** Sets the user the current call is about (no-op outside a session). */
export function setSessionUser(userId: string): void {
  const s = storage.getStore();
  if (s) s.userId = userId;
}

/**
 * Records a domain's decision for the rest of the call, so later domains can read it (promo reads
 * fraud's outcome). Recording the same domain again replaces its decision. Outside a session
 * there is nothing to remember it in, so it is dropped.
 */
export function recordDecision(domain: string, value: unknown): void {
  storage.getStore()?.decisions.set(domain, value);
}

/** One domain's decision so far in this call, or undefined. */
export function decisionOf<T = unknown>(domain: string): T | undefined {
  return storage.getStore()?.decisions.get(domain) as T | undefined;
}

/** Every decision taken so far in this call, by domain, in the order taken. */
export function decisions(): Readonly<Record<string, unknown>> {
  const s = storage.getStore();
  return s ? Object.fromEntries(s.decisions) : {};
}

/**
 * A per-call value in the session bag, created by `init` on first use; undefined outside a
 * session (callers then compute without caching).
 */
export function sessionValue<T>(key: string | symbol, init: () => T): T | undefined {
  const s = storage.getStore();
  if (!s) return undefined;
  if (s.bag.has(key)) return s.bag.get(key) as T;
  const value = init();
  s.bag.set(key, value);
  return value;
}
