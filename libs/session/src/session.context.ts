import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What one call knows about itself: the request id every log line carries, and (filled in as the
 * call goes on) the user and session it is about. Opened once per HTTP request and once per queued
 * job; providers stay singletons and read it from here instead of being request-scoped.
 */
export interface SessionState {
  readonly requestId: string;
  userId?: string;
  sessionId?: string;
  /** Free-form values other libs attach to the call (the fact memo, decisions so far, ...). */
  readonly bag: Map<string | symbol, unknown>;
}

const storage = new AsyncLocalStorage<SessionState>();

/** Runs `fn` inside a new session; everything it awaits sees the same session. */
export function runInSession<T>(init: { requestId: string; userId?: string; sessionId?: string }, fn: () => T): T {
  return storage.run({ ...init, bag: new Map() }, fn);
}

/** Enters a session for the rest of the current synchronous and asynchronous execution. */
export function enterSession(init: { requestId: string; userId?: string; sessionId?: string }): SessionState {
  const state: SessionState = { ...init, bag: new Map() };
  storage.enterWith(state);
  return state;
}

/** The current session, or undefined outside of a request or job. */
export function currentSession(): SessionState | undefined {
  return storage.getStore();
}
