import { fromMinor } from '../money';

/** One campaign's part of a redemption (what rollback gives back). */
export interface RedemptionLine {
  campaign_id: string;
  name: string;
  discount_minor: number;
  free_shipping: boolean;
  points: number;
}

export interface Redemption {
  id: string;
  userId: string;
  orderId: string | null;
  orderAmountMinor: number;
  currency: string;
  code: string | null;
  discountMinor: number;
  points: number;
  lines: RedemptionLine[];
  status: 'redeemed' | 'rolled_back';
  idempotencyKey: string | null;
  createdAt: Date;
  rolledBackAt: Date | null;
}

export function toRedemption(r: Record<string, unknown>): Redemption {
  return {
    id: r.id as string,
    userId: r.user_id as string,
    orderId: (r.order_id as string | null) ?? null,
    orderAmountMinor: Number(r.order_amount_minor),
    currency: r.currency as string,
    code: (r.code as string | null) ?? null,
    discountMinor: Number(r.discount_minor),
    points: Number(r.points),
    lines: r.lines as RedemptionLine[],
    status: r.status as Redemption['status'],
    idempotencyKey: (r.idempotency_key as string | null) ?? null,
    createdAt: new Date(r.created_at as string),
    rolledBackAt: r.rolled_back_at ? new Date(r.rolled_back_at as string) : null,
  };
}

/** The redemption as the API shows it (major units). */
export function redemptionView(r: Redemption): Record<string, unknown> {
  return {
    id: r.id,
    status: r.status,
    user_id: r.userId,
    order_id: r.orderId,
    order_amount: fromMinor(r.orderAmountMinor),
    currency: r.currency,
    code: r.code,
    campaign_id: r.lines[0]?.campaign_id ?? null,
    discount: fromMinor(r.discountMinor),
    free_shipping: r.lines.some((l) => l.free_shipping),
    points: r.points,
    lines: r.lines.map((l) => ({ campaign_id: l.campaign_id, name: l.name, discount: fromMinor(l.discount_minor), free_shipping: l.free_shipping, points: l.points })),
    idempotency_key: r.idempotencyKey,
    created_at: r.createdAt.toISOString(),
    rolled_back_at: r.rolledBackAt?.toISOString() ?? null,
  };
}
