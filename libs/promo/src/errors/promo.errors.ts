import { ArbiterError, ConflictError, UnprocessableError } from '@arbiter/platform';
import type { CompileErrorInfo } from '@arbiter/rules';
import type { Reason } from '../engine/promo.engine';

/** 422: the campaign's eligibility rule does not compile; `details.errors` lists every problem; nothing stored. */
export class EligibilityDoesNotCompileError extends UnprocessableError {
  constructor(errors: readonly CompileErrorInfo[]) {
    const list = errors.map((e) => ({ code: e.code, path: `eligibility${e.path.replace(/^when/, '')}`, ...(e.line !== undefined ? { line: e.line, column: e.column } : {}), message: e.message, ...(e.hint ? { hint: e.hint } : {}) }));
    super('ELIGIBILITY_DOES_NOT_COMPILE', `the eligibility rule does not compile: ${list.length} error${list.length === 1 ? '' : 's'} (first: ${list[0]?.path}: ${list[0]?.message})`, { errors: list });
  }
}

/**
 * 409: a redeem that cannot be honoured — a limit is exhausted, or the checkout is not eligible.
 * The code is the first reason's (`LIMIT_EXHAUSTED`, `FRAUD_DECLINED`, ...), `details.reasons`
 * lists them all. Stored under the Idempotency-Key like a success.
 */
export class RedeemRefusedError extends ConflictError {
  constructor(readonly reasons: readonly Reason[]) {
    super((reasons[0]?.code ?? 'not_eligible').toUpperCase(), reasons.map((r) => r.message).join('; ') || 'no campaign applies to this checkout', { reasons });
  }
}

/** 422: the Idempotency-Key was first used with a different request body. */
export class IdempotencyKeyReusedError extends ArbiterError {
  constructor(key: string) {
    super(422, 'IDEMPOTENCY_KEY_REUSED', `Idempotency-Key "${key}" was already used for a different request; use a new key for a new redeem`);
  }
}
