import { isStoreUnavailable } from './store-unavailable';

/**
 * Group commit for one kind of statement: callers submit one item each and await their own
 * answer; items that arrive while a flush is running are written together by the next flush, in
 * one statement (one round trip, one commit). At low load a lone item is flushed at once, so no
 * latency is added; under load the batches grow by themselves. A batch that fails is retried one
 * item at a time, so one bad item fails only its own caller; a batch that failed because the
 * database could not serve it ({@link isStoreUnavailable}: unreachable, or slower than its time
 * limit) fails every caller at once instead, as each item alone would wait for the same again.
 */
export class Coalescer<I, O> {
  private pending: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private running = 0;
  private scheduled = false;

  /**
   * @param flush writes a batch and answers for each item, in order.
   * @param maxBatch most items in one statement.
   * @param parallel how many flushes may run at once (each holds one pooled connection). One by
   *   default: the items that arrive while it runs make the next batch, and fewer, larger
   *   statements cost both processes less CPU (POST /v1/events ran 5-24% faster at saturation
   *   with one than with two, docs/benchmarks.md).
   */
  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 500,
    private readonly parallel = 1,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      // Wait for the end of this turn of the event loop: every request whose bytes arrived in it
      // joins the same statement. Each statement costs a round trip and, on loopback, a context
      // switch to the database for the process that sends it — fewer, larger ones win.
      if (!this.scheduled && this.running < this.parallel) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          void this.drain();
        });
      }
    });
  }

  private async drain(): Promise<void> {
    if (this.running >= this.parallel || !this.pending.length) return;
    this.running++;
    try {
      while (this.pending.length) {
        const batch = this.pending.splice(0, this.maxBatch);
        try {
          const out = await this.flush(batch.map((b) => b.item));
          batch.forEach((b, i) => b.resolve(out[i]));
        } catch (err) {
          if (batch.length === 1 || isStoreUnavailable(err)) batch.forEach((b) => b.reject(err));
          else await Promise.all(batch.map((b) => this.flush([b.item]).then((o) => b.resolve(o[0]), b.reject)));
        }
      }
    } finally {
      this.running--;
    }
    // Items that arrived while every flush was busy and none was scheduled.
    if (this.pending.length && !this.scheduled) void this.drain();
  }
}
