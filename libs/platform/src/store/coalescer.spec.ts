import { Coalescer } from './coalescer';

describe('Coalescer', () => {
  it('writes items that arrive during a flush together in the next one, answering each caller', async () => {
    const batches: number[][] = [];
    const c = new Coalescer<number, number>(
      async (items) => {
        batches.push(items);
        await new Promise((r) => setTimeout(r, 10));
        return items.map((i) => i * 10);
      },
      100,
      1,
    );
    const answers = await Promise.all([1, 2, 3, 4, 5].map((i) => c.submit(i)));
    expect(answers).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([[1], [2, 3, 4, 5]]);
  });

  it('keeps batches under the limit', async () => {
    const sizes: number[] = [];
    const c = new Coalescer<number, number>(async (items) => (sizes.push(items.length), items), 3, 1);
    await Promise.all(Array.from({ length: 10 }, (_, i) => c.submit(i)));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3);
    expect(sizes.reduce((a, b) => a + b)).toBe(10);
  });

  it('fails only the caller whose item fails when a batch fails', async () => {
    const c = new Coalescer<number, number>(
      async (items) => {
        await new Promise((r) => setTimeout(r, 5));
        if (items.includes(13)) throw new Error('unlucky');
        return items;
      },
      100,
      1,
    );
    const results = await Promise.allSettled([1, 2, 13, 4].map((i) => c.submit(i)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason.message).toBe('unlucky');
  });
});
