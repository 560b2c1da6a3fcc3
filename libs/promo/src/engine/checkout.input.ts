import { USER_ID, USER_ID_FORMAT } from '@arbiter/facts';
import { ValidationError, type FieldProblem } from '@arbiter/platform';
import { codeProblem, normalizeCode } from '../codes/code-generator';
import { toMinor } from '../money';

/** The order being checked out, money in minor units; `payload` is what rules see as `payload.order`. */
export interface OrderInput {
  id?: string;
  amountMinor: number;
  currency: string;
  shippingMinor: number;
  payload: Record<string, unknown>;
}

/** A validate or redeem request. */
export interface CheckoutRequest {
  userId: string;
  code?: string;
  order: OrderInput;
}

const FIELDS = new Set(['code', 'user_id', 'order']);

/**
 * Validates the body of `POST /v1/promo/validate` and `/redeem`: `{code?, user_id, order: {id?,
 * amount, currency, items?, shipping?}}`, every problem listed with its path (400). Extra order
 * fields are passed to the rules as undeclared payload fields.
 */
export function parseCheckout(body: unknown): CheckoutRequest {
  const problems: FieldProblem[] = [];
  const bad = (path: string, message: string) => problems.push({ path, message });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError([{ path: 'body', message: 'must be a JSON object {code?, user_id, order}' }]);
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!FIELDS.has(k)) bad(k, 'unknown field (known: code, user_id, order)');
  if (typeof b.user_id !== 'string' || !USER_ID.test(b.user_id)) bad('user_id', `required: a user id, ${USER_ID_FORMAT}`);
  let code: string | undefined;
  if (b.code !== undefined && b.code !== null) {
    if (typeof b.code !== 'string') bad('code', 'must be a string');
    else {
      code = normalizeCode(b.code);
      const p = codeProblem(code);
      if (p) bad('code', p);
    }
  }
  const o = b.order;
  let order: OrderInput | undefined;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) bad('order', 'required: {id?, amount, currency, items?, shipping?}');
  else {
    const raw = o as Record<string, unknown>;
    const amountMinor = toMinor(raw.amount);
    if (amountMinor === undefined || amountMinor < 0) bad('order.amount', 'required: an amount >= 0 with at most 2 decimals');
    if (typeof raw.currency !== 'string' || !/^[A-Z]{3}$/.test(raw.currency)) bad('order.currency', 'required: a 3-letter ISO-4217 code in upper case');
    if (raw.id !== undefined && (typeof raw.id !== 'string' || raw.id === '' || raw.id.length > 200)) bad('order.id', 'must be a string of 1 to 200 characters');
    let shippingMinor = 0;
    if (raw.shipping !== undefined) {
      const s = toMinor(raw.shipping);
      if (s === undefined || s < 0) bad('order.shipping', 'must be an amount >= 0 with at most 2 decimals');
      else if (amountMinor !== undefined && amountMinor >= 0 && s > amountMinor) bad('order.shipping', 'is part of order.amount, so cannot exceed it');
      else shippingMinor = s;
    }
    order = { id: raw.id as string | undefined, amountMinor: amountMinor ?? 0, currency: raw.currency as string, shippingMinor, payload: raw };
  }
  if (problems.length) throw new ValidationError(problems);
  return { userId: (b.user_id as string).trim(), code, order: order! };
}
