import { QueueDownError } from '@arbiter/platform';

/** The queue of growth's own jobs: delayed segment re-checks and backfill pages. */
export const GROWTH_QUEUE = 'growth';

/** The growth queue did not answer within QUEUE_TIMEOUT_MS. */
export const GROWTH_QUEUE_DOWN = () => new QueueDownError('the growth queue did not answer in time; retry in a moment');

/** BullMQ job ids may not contain `:`; each part is URI-encoded and joined with `/`. */
export function growthJobId(...parts: (string | number)[]): string {
  return parts.map((p) => encodeURIComponent(String(p))).join('/');
}
