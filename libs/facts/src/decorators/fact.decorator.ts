import { DiscoveryService } from '@nestjs/core';
import type { SessionState } from '@arbiter/session';
import type { RuleEvent, TypeSpec } from '@arbiter/rules';

/** One typed parameter of a computed fact; rules pass it by name: `events_count(type: "topup")`. */
export interface FactParamDeclaration {
  name: string;
  type: TypeSpec;
  optional?: boolean;
}

/**
 * How a computed fact is declared with {@link Fact}. `cost` orders leaves (cheap first; the
 * built-in SQL facts cost 10); `cache: 'session'` (default) computes it once per call for the
 * same user and arguments, `'none'` every time it is asked; `timeoutMs` overrides FACT_TIMEOUT_MS;
 * `fallback`, when present, is the value used when the fact fails or times out (otherwise its
 * leaves read as false and the failure is reported).
 */
export interface FactOptions {
  name: string;
  type: TypeSpec;
  params?: FactParamDeclaration[];
  cost?: number;
  cache?: 'session' | 'none';
  timeoutMs?: number;
  fallback?: unknown;
  description?: string;
}

/** What a fact method receives besides its arguments: who it is about and the call it is part of. */
export interface FactContext {
  /** The user the fact is about (the event's `user_id`). */
  readonly userId: string;
  /** The event being evaluated, when there is one (not for the debug endpoint). */
  readonly event?: RuleEvent;
  /** The clock of this call (epoch ms): the same for every fact of one session. */
  readonly now: number;
  readonly session?: SessionState;
}

/** The method shape of a fact: arguments by parameter name (durations in ms, timestamps in epoch ms). */
export type FactMethod = (args: Record<string, unknown>, ctx: FactContext) => unknown;

/**
 * Marks a provider method as a computed fact (or a provider class, whose `resolve(args, ctx)`
 * method is then the fact). Facts are discovered at boot and become part of the rules catalogue;
 * a duplicate name or a bad declaration stops the boot with the class and method named.
 *
 * ```ts
 * @Fact({ name: 'loyalty.tier', type: 'string', cost: 20 })
 * async tier(_args: {}, ctx: FactContext) { ... }
 * ```
 */
export const Fact = DiscoveryService.createDecorator<FactOptions>();
