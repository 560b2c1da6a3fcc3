import { FactsConfig } from '../config/facts-config';
import { parseFactCall, splitCalls } from '../registry/call-syntax';
import { checkPayload, checkValue } from './value-check';

describe('value checks', () => {
  it('accepts values of the declared type and null, and names the path of every wrong one', () => {
    const problems: { path: string; message: string }[] = [];
    checkValue('number', 3, 'a', problems);
    checkValue('timestamp', '2024-01-31T10:00:00Z', 'b', problems);
    checkValue('list<string>', ['x', null], 'c', problems);
    checkValue('boolean', null, 'd', problems);
    expect(problems).toEqual([]);
    checkValue('number', '3', 'attributes.age', problems);
    checkValue('list<string>', ['x', 2], 'attributes.tags', problems);
    checkValue('timestamp', 'yesterday', 'attributes.signup_at', problems);
    expect(problems.map((p) => p.path)).toEqual(['attributes.age', 'attributes.tags[1]', 'attributes.signup_at']);
    expect(problems[0].message).toBe('must be a number, got string "3"');
  });

  it('validates declared payload fields, nested ones too, and lets undeclared fields through', () => {
    const problems: string[] = [];
    const config = FactsConfig.from({}, { events: { checkout: { order: { amount: 'number', currency: 'string' }, coupon: 'string' } } }, problems);
    expect(problems).toEqual([]);
    const schema = config.eventSchemas.get('checkout')!;
    const found: { path: string; message: string }[] = [];
    checkPayload(schema, { order: { amount: 10, currency: 'EUR' }, extra: { anything: true } }, 'payload', found);
    expect(found).toEqual([]);
    checkPayload(schema, { order: { amount: '10' }, coupon: 5 }, 'payload', found);
    expect(found.map((p) => p.path)).toEqual(['payload.order.amount', 'payload.coupon']);
    checkPayload(schema, { order: 'big' }, 'payload', (found.length = 0, found));
    expect(found).toEqual([{ path: 'payload.order', message: 'must be an object, got string "big"' }]);
  });

  it('reports every problem of a bad configuration with file and path', () => {
    const problems: string[] = [];
    FactsConfig.from({ attributes: { age: 'integer', 'bad-name': 'string' }, aliases: { x: 'count(' } }, { events: { t: { amount: 'money' } } }, problems);
    expect(problems).toEqual([
      expect.stringMatching(/^facts\.yaml attributes\.age: unknown type "integer"/),
      expect.stringMatching(/^facts\.yaml attributes\.bad-name: attribute names/),
      expect.stringMatching(/^facts\.yaml aliases\.x: /),
      expect.stringMatching(/^events\.yaml events\.t\.amount: unknown type "money"/),
    ]);
  });
});

describe('call syntax', () => {
  it('parses names and calls with strings, numbers, booleans and bare words', () => {
    expect(parseFactCall('first_seen_at')).toEqual({ name: 'first_seen_at', args: {} });
    expect(parseFactCall(' events_sum(type: "top,up", field: "order.amount", within: 30d, n: 2, b: true) ')).toEqual({
      name: 'events_sum',
      args: { type: { kind: 'string', value: 'top,up' }, field: { kind: 'string', value: 'order.amount' }, within: { kind: 'word', value: '30d' }, n: { kind: 'number', value: 2 }, b: { kind: 'boolean', value: true } },
    });
    expect(() => parseFactCall('events_count(type "x")')).toThrow(/expected ":"/);
    expect(() => parseFactCall('events_count(type: "x", type: "y")')).toThrow(/given twice/);
  });

  it('splits a list on the commas between calls only', () => {
    expect(splitCalls('a, b(x: 1, y: "p,q)"),c')).toEqual(['a', 'b(x: 1, y: "p,q)")', 'c']);
  });
});
