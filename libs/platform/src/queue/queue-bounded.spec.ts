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

  it('gives up after QUEUE_TIMEOUT_MS, tells `late` how the work settled, and fails other waits at once until then', async () => {
    const queues = service();
    const stuck = gate<string>();
    const late: PromiseSettledResult<string>[] = [];
    jest.useFakeTimers();
    let second: ReturnType<typeof gate<string>>;
    const secondLate: PromiseSettledResult<string>[] = [];
    try {
      const first = queues.bounded(stuck.promise, down, (s) => late.push(s));
      jest.advanceTimersByTime(30);
      await expect(first).rejects.toThrow('queue down');
      // While the first is unanswered, another wait fails with no time passing (fake timers:
      // one that waited for its own limit would never end), though its own work would answer.
      second = gate<string>();
      await expect(queues.bounded(second.promise, down, (s) => secondLate.push(s))).rejects.toThrow('queue down');
    } finally {
      jest.useRealTimers();
    }
    second.open('second');

    stuck.open('first');
    await new Promise((r) => setImmediate(r));
    expect(late).toEqual([{ status: 'fulfilled', value: 'first' }]);
    expect(secondLate).toEqual([{ status: 'fulfilled', value: 'second' }]);
    // Answered: waits are waited for again.
    await expect(queues.bounded(Promise.resolve('third'), down)).resolves.toBe('third');
  });

  it('answers work that settles in time, and does not call `late` for it', async () => {
    const queues = service();
    const late = jest.fn();
    await expect(queues.bounded(Promise.resolve(1), down, late)).resolves.toBe(1);
    await expect(queues.bounded(Promise.reject(new Error('refused')), down, late)).rejects.toThrow('refused');
    expect(late).not.toHaveBeenCalled();
  });
});
