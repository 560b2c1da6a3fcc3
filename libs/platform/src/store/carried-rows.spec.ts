import { carriedClauses, droppedRows, type CarriedRow, type RowKind } from './carried-rows';

const kind = (name: string, mayDrop = false): RowKind => ({
  name,
  mayDrop,
  shape: { k: 'text', n: 'int' },
  sql: (rows) => `INSERT INTO ${name} (k, n) SELECT k, n FROM ${rows.source} ON CONFLICT (k) DO NOTHING`,
});
const row = (k: RowKind, key: string, dropped?: () => Promise<void>): CarriedRow => ({ kind: k, row: { k: key, n: 1 }, ...(dropped ? { dropped } : {}) });
/** The highest `$n` a text refers to. */
const highest = (text: string) => Math.max(0, ...[...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));

describe('carriedClauses', () => {
  const awards = kind('awards', true);
  const records = kind('records');
  const noop = async () => undefined;

  it('numbers its parameters from firstParam, one per column and kind, with no count when no row can tell it was dropped', () => {
    const c = carriedClauses([row(records, 'a'), row(awards, 'b'), row(records, 'c')], 4);
    expect(c.name).toBe('awards+records');
    expect(c.dropped).toBe('');
    expect(c.clause).not.toContain('RETURNING');
    expect(c.values).toHaveLength(4);
    expect(highest(c.clause)).toBe(3 + c.values.length);
  });

  it('counts the rows of a kind that may drop them, in a parameter of its own, when a row can tell', () => {
    const c = carriedClauses([row(records, 'a'), row(awards, 'b', noop), row(awards, 'c', noop)], 1);
    expect(c.name).toBe('awards+records?');
    expect(c.clause).toMatch(/carried_0 AS \(INSERT INTO awards .* RETURNING 1\), carried_1 AS \(INSERT INTO records [^)]*\)/s);
    // The kind's two columns, then the count (2 rows), then the other kind's two columns.
    expect(c.values).toHaveLength(5);
    expect(c.values[2]).toBe(2);
    expect(c.dropped).toBe(`SELECT 'awards'::text AS dropped FROM (SELECT count(*) AS n FROM carried_0) c WHERE c.n < $3::int`);
    expect(highest(`${c.clause} ${c.dropped}`)).toBe(c.values.length);
  });
});

describe('droppedRows', () => {
  it('answers the rows with a `dropped` of the kinds the statement named, none when it named none', () => {
    const awards = kind('awards', true);
    const decisions = kind('decisions', true);
    const noop = async () => undefined;
    const rows = [row(awards, 'a', noop), row(awards, 'b'), row(decisions, 'c', noop)];
    expect(droppedRows(rows, [])).toEqual([]);
    expect(droppedRows(rows, [{ dropped: 'awards' }])).toEqual([rows[0]]);
    expect(droppedRows(rows, [{ dropped: 'awards' }, { dropped: 'decisions' }])).toEqual([rows[0], rows[2]]);
  });
});
