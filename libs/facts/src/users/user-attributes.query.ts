/**
 * The read of users' attributes by id, shared by the user service's own load and by the event
 * append that loads the event's user in the same statement.
 */
export const userAttributesQuery = (param: string) => `SELECT id, attributes FROM users WHERE id = ANY(${param}::text[])`;

/** Attributes by user id from rows of {@link userAttributesQuery}. */
export function attributesById(rows: readonly { id: string; attributes: unknown }[]): Map<string, Record<string, unknown>> {
  return new Map(rows.map((r) => [r.id, (typeof r.attributes === 'string' ? JSON.parse(r.attributes) : (r.attributes ?? {})) as Record<string, unknown>]));
}
