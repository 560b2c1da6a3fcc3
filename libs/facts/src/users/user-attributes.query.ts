/**
 * The read of users' attributes by id, shared by the user service's own load and by the event
 * append that loads the event's user in the same statement.
 */
export const userAttributesQuery = (param: string) => `SELECT id, attributes FROM users WHERE id = ANY(${param}::text[])`;

/** Attributes by user id from rows of {@link userAttributesQuery}. */
export function attributesById(rows: readonly { id: string; attributes: unknown }[]): Map<string, Record<string, unknown>> {
  return new Map(rows.map((r) => [r.id, (typeof r.attributes === 'string' ? JSON.parse(r.attributes) : (r.attributes ?? {})) as Record<string, unknown>]));
}

/**
 * SQL for one string attribute of the user whose id is the SQL expression `userId`, or NULL
 * (unknown user, attribute missing, empty or not a string): for another lib's statement that needs
 * it in the same round trip (fraud's allow-list check by the user's email).
 */
export function userStringAttributeSql(userId: string, attribute: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(attribute)) throw new TypeError(`"${attribute}" is not an attribute name`);
  return `(SELECT NULLIF(u.attributes ->> '${attribute}', '') FROM users u WHERE u.id = ${userId} AND jsonb_typeof(u.attributes -> '${attribute}') = 'string')`;
}
