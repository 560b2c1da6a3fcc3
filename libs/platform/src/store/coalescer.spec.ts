import { Coalescer } from './coalescer';

describe('Coalescer', () => {
  it('writes the items of one event-loop turn together, and those that arrive during a flush in the next one', async () => {
    const batches: number[][] = [];
    let inFlight!: () => void;
    const flushing = new Promise<void>((r) => (inFlight = r));
    const c = new Coalescer<number, number>(
      async (items) => {
        batches.push(items);
        inFlight();
        await new Promise((r) => setTimeout(r, 10));
        return items.map((i) => i * 10);
      },
      100,
      1,
    );
    const first = [1, 2, 3].map((i) => c.submit(i));
    await flushing; // the first statement is now in flight
    const later = [4, 5].map((i) => c.submit(i));
    expect(await Promise.all([...first, ...later])).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it('runs one statement at a time by default: what arrives meanwhile waits and goes in one batch', async () => {
    let running = 0;
    let most = 0;
    const batches: number[][] = [];
    let inFlight!: () => void;
    const flushing = new Promise<void>((r) => (inFlight = r));
    const c = new Coalescer<number, number>(async (items) => {
      most = Math.max(most, ++running);
      batches.push(items);
      inFlight();
      await new Promise((r) => setTimeout(r, 20));
      running--;
      return items;
    });
    const all = [c.submit(1)];
    await flushing; // waiting for a timer could let the first flush start late, on a loaded machine
    for (const i of [2, 3, 4]) {
      await new Promise((r) => setTimeout(r, 3)); // each arrives while the first statement runs
      all.push(c.submit(i));
    }
    expect(await Promise.all(all)).toEqual([1, 2, 3, 4]);
    expect(most).toBe(1);
    expect(batches).toEqual([[1], [2, 3, 4]]);
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

  it('fails every caller at once, without a try per item, when the database could not serve the batch', async () => {
    const tried: number[][] = [];
    const c = new Coalescer<number, number>(async (items) => {
      tried.push(items);
      await new Promise((r) => setTimeout(r, 5));
      throw Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
    });
    const results = await Promise.allSettled([1, 2, 3].map((i) => c.submit(i)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason.code).toBe('57014');
    // Each item alone would have waited for the same limit again.
    expect(tried).toEqual([[1, 2, 3]]);
  });
});
