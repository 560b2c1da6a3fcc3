/**
 * The idempotency key of one action execution: `<event id>/<rule id>/<action index>`, each part
 * URI-encoded so the key is unambiguous and never holds a `:` (BullMQ refuses those in job ids).
 */
export function idempotencyKey(eventId: string, ruleId: string, actionIndex: number): string {
  return `${encodeURIComponent(eventId)}/${encodeURIComponent(ruleId)}/${actionIndex}`;
}
