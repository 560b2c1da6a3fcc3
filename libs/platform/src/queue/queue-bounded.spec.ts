import type { AppConfig } from '../config/app-config';
import type { EmbeddedDatabase } from '../store/embedded-database';
import { QueueService } from './queue.service';

describe('QueueService.bounded: waits on a queue that does not answer', () => {
  const service = () => new QueueService({ queueTimeoutMs: 30 } as AppConfig, {} as EmbeddedDatabase);
  const gate = <T>() => {
    let open!: (v: T) => void;
    const promise = new Promise<T>((resolve) => (open = resolve));
    return { promise, open };
  };
  const down = () => new Error('queue down');
  /** A follow-up that writes what happened, in order, into `log`. */
  const recorder = (log: string[], name: string) => ({
    givenUp: async () => void log.push(`${name}: given up`),
    landed: async () => void log.push(`${name}: landed`),
  });
  const settle = () => new Promise((r) => setImmediate(r));

  it('gives up after QUEUE_TIMEOUT_MS, records it before the caller hears, fails other waits at once until the work settles, and undoes the record when it lands', async () => {
    const queues = service();
    const log: string[] = [];
    const stuck = gate<string>();
    const second = gate<string>();
    jest.useFakeTimers();
    try {
      const first = queues.bounded(stuck.promise, down, recorder(log, 'first'));
      jest.advanceTimersByTime(30);
      await expect(first).rejects.toThrow('queue down');
      expect(log).toEqual(['first: given up']);
      // While the first is unanswered, another wait fails with no time passing (fake timers: one
      // that waited for its own limit would never end), though its own work would answer.
      await expect(queues.bounded(second.promise, down, recorder(log, 'second'))).rejects.toThrow('queue down');
    } finally {
      jest.useRealTimers();
    }
    second.open('b');
    stuck.open('a');
    await settle();
    // Each undone after it was recorded.
    for (const name of ['first', 'second']) expect(log.filter((l) => l.startsWith(name))).toEqual([`${name}: given up`, `${name}: landed`]);
    // Answered: waits are waited for again.
    await expect(queues.bounded(Promise.resolve('third'), down)).resolves.toBe('third');
  });

  it('records a refusal, which never lands, and leaves work that answers in time alone', async () => {
    const queues = service();
    const log: string[] = [];
    await expect(queues.bounded(Promise.resolve(1), down, recorder(log, 'answered'))).resolves.toBe(1);
    await expect(queues.bounded(Promise.reject(new Error('refused')), down, recorder(log, 'refused'))).rejects.toThrow('refused');
    await settle();
    expect(log).toEqual(['refused: given up']);
  });

  it('leaves no rejection unhandled when work it did not wait for fails later', async () => {
    const queues = service();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let failStuck!: (e: Error) => void;
      const stuck = new Promise<never>((_, reject) => (failStuck = reject));
      let failLater!: (e: Error) => void;
      const later = new Promise<never>((_, reject) => (failLater = reject));
      jest.useFakeTimers();
      try {
        const first = queues.bounded(stuck, down);
        jest.advanceTimersByTime(30);
        await expect(first).rejects.toThrow('queue down');
        // Stalled: this one is not waited for, then fails.
        await expect(queues.bounded(later, down)).rejects.toThrow('queue down');
      } finally {
        jest.useRealTimers();
      }
      failLater(new Error('connection closed'));
      failStuck(new Error('connection closed'));
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
