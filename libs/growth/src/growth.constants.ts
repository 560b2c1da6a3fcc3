/** The queue of growth's own jobs: delayed segment re-checks and backfill pages. */
export const GROWTH_QUEUE = 'growth';

/** BullMQ job ids may not contain `:`; each part is URI-encoded and joined with `/`. */
export function growthJobId(...parts: (string | number)[]): string {
  return parts.map((p) => encodeURIComponent(String(p))).join('/');
}
