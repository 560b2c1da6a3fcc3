import { EventEmitter } from 'node:events';
import type { PGlite, Results } from '@electric-sql/pglite';

// pg's own conversion of JavaScript values to query parameters, so the embedded store binds
// exactly what node-postgres would send to a real server (JSON strings, arrays, dates...).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareValue } = require('pg/lib/utils') as { prepareValue: (v: unknown) => unknown };

const INT8 = 20;
const NUMERIC = 1700;
/** node-postgres returns int8 and numeric as strings (they may not fit a double); so do we. */
const PARSERS = { [INT8]: (v: string) => v, [NUMERIC]: (v: string) => v };
/** Parameters arrive already converted to text by prepareValue: bind them as they are. */
const TEXT_SERIALIZERS = new Proxy({}, { get: () => (v: unknown) => (typeof v === 'string' ? v : String(v)) });

export interface PgResult<R = Record<string, unknown>> {
  command: string;
  rowCount: number;
  rows: R[];
  fields: { name: string; dataTypeID: number }[];
}

type Callback = (err: Error | null, result?: PgResult) => void;

/**
 * One owner at a time on the single PGlite connection. A plain query holds it for one statement;
 * a client that opens a transaction (BEGIN / START TRANSACTION) holds it until COMMIT or ROLLBACK,
 * so statements of concurrent transactions never interleave on the one connection (which would
 * silently merge them: a ROLLBACK would undo another caller's work, or lose its own).
 */
class ConnectionLock {
  private tail: Promise<void> = Promise.resolve();
  owner: object | undefined;
  /** The search_path last set on the connection, so it is only changed when the owner needs another. */
  searchPath: string | undefined;

  async acquire(owner: object): Promise<() => void> {
    let release!: () => void;
    const previous = this.tail;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    this.owner = owner;
    return () => {
      this.owner = undefined;
      release();
    };
  }
}

const locks = new WeakMap<PGlite, ConnectionLock>();
function lockFor(db: PGlite): ConnectionLock {
  let lock = locks.get(db);
  if (!lock) locks.set(db, (lock = new ConnectionLock()));
  return lock;
}

/** Leading comments and whitespace removed, upper-cased start of a statement. */
function statementHead(text: string): string {
  let s = text;
  for (;;) {
    const trimmed = s.trimStart();
    if (trimmed.startsWith('--')) {
      const nl = trimmed.indexOf('\n');
      s = nl === -1 ? '' : trimmed.slice(nl + 1);
    } else if (trimmed.startsWith('/*')) {
      const end = trimmed.indexOf('*/');
      s = end === -1 ? '' : trimmed.slice(end + 2);
    } else {
      return trimmed.slice(0, 64).toUpperCase();
    }
  }
}

const BEGINS = /^(BEGIN|START\s+TRANSACTION)\b/;
const ENDS = /^(COMMIT|END|ABORT|ROLLBACK)\b(?!\s+(TO|PREPARED)\b)/;
const LISTEN = /^\s*(UN)?LISTEN\s+("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*|\*)\s*;?\s*$/i;

function commandOf(head: string): string {
  const word = /^[A-Z]+/.exec(head)?.[0] ?? '';
  return word === 'WITH' ? 'SELECT' : word;
}

/**
 * A connection handle over the shared PGlite instance with the surface of a `pg.PoolClient`:
 * `query` (promise or callback), `release`, `LISTEN`/`UNLISTEN` mapped onto PGlite's
 * notifications and delivered as `'notification'` events like node-postgres does.
 */
export class PgliteClient extends EventEmitter {
  private releaseLock: (() => void) | undefined;
  private readonly unlisteners = new Map<string, () => Promise<void>>();

  constructor(
    private readonly pool: PglitePool,
    private readonly db: PGlite,
    private readonly lock: ConnectionLock,
  ) {
    super();
  }

  get inTransaction(): boolean {
    return this.releaseLock !== undefined;
  }

  query<R = Record<string, unknown>>(textOrConfig: string | { text: string; values?: readonly unknown[] }, values?: readonly unknown[] | Callback, callback?: Callback): Promise<PgResult<R>> {
    const text = typeof textOrConfig === 'string' ? textOrConfig : textOrConfig.text;
    let params = typeof textOrConfig === 'string' ? undefined : textOrConfig.values;
    let cb = callback;
    if (typeof values === 'function') cb = values;
    else if (values) params = values;
    const promise = this.run(text, params ?? []) as Promise<PgResult<R>>;
    if (cb) {
      promise.then((r) => cb!(null, r as PgResult), (e: Error) => cb!(e));
    }
    return promise;
  }

  private async run(text: string, params: readonly unknown[]): Promise<PgResult> {
    const head = statementHead(text);
    const listen = LISTEN.exec(text.replace(/^(\s*--[^\n]*\n)+/, ''));
    const owned = this.releaseLock !== undefined;
    const release = owned ? undefined : await this.lock.acquire(this);
    try {
      if (!owned && this.lock.searchPath !== this.pool.searchPath) {
        // Set outside any transaction (we only get here when not owning one), so no ROLLBACK undoes it.
        await this.db.exec(`SET search_path TO ${this.pool.searchPath}`);
        this.lock.searchPath = this.pool.searchPath;
      }
      if (listen) return await this.listen(listen[2], Boolean(listen[1]));
      const result = await this.execute(text, params, head);
      if (!owned && BEGINS.test(head)) {
        this.releaseLock = release;
        return result;
      }
      if (owned && ENDS.test(head)) this.endTransaction();
      return result;
    } finally {
      if (release && this.releaseLock !== release) release();
    }
  }

  private async execute(text: string, params: readonly unknown[], head: string): Promise<PgResult> {
    let result: Results;
    if (params.length === 0) {
      const all = await this.db.exec(text, { parsers: PARSERS });
      result = all[all.length - 1] ?? { rows: [], fields: [], affectedRows: 0 };
    } else {
      result = await this.db.query(text, params.map((p) => prepareValue(p)), { parsers: PARSERS, serializers: TEXT_SERIALIZERS });
    }
    const command = commandOf(head);
    const rows = result.rows as Record<string, unknown>[];
    return {
      command,
      rowCount: command === 'SELECT' ? rows.length : (result.affectedRows ?? rows.length),
      rows,
      fields: result.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
    };
  }

  private async listen(rawChannel: string, unlisten: boolean): Promise<PgResult> {
    const channel = rawChannel.startsWith('"') ? rawChannel.slice(1, -1).replace(/""/g, '"') : rawChannel.toLowerCase();
    if (unlisten) {
      const targets = rawChannel === '*' ? [...this.unlisteners.keys()] : [channel];
      for (const name of targets) {
        await this.unlisteners.get(name)?.();
        this.unlisteners.delete(name);
      }
    } else if (!this.unlisteners.has(channel)) {
      const stop = await this.db.listen(`"${channel.replace(/"/g, '""')}"`, (payload) => this.emit('notification', { channel, payload, processId: 0 }));
      this.unlisteners.set(channel, stop);
    }
    return { command: unlisten ? 'UNLISTEN' : 'LISTEN', rowCount: 0, rows: [], fields: [] };
  }

  private endTransaction(): void {
    const release = this.releaseLock;
    this.releaseLock = undefined;
    release?.();
  }

  /** Returns the handle to the pool; a transaction left open is rolled back first. */
  release(): void {
    void this.close();
  }

  async close(): Promise<void> {
    if (this.releaseLock) {
      await this.db.exec('ROLLBACK').catch(() => undefined);
      this.endTransaction();
    }
    for (const stop of this.unlisteners.values()) await stop().catch(() => undefined);
    this.unlisteners.clear();
    this.pool.forget(this);
  }

  // node-postgres clients have these; callers of a Client may use them.
  async connect(): Promise<void> {}
  async end(): Promise<void> {
    await this.close();
  }
}

/**
 * A `pg.Pool` look-alike over one PGlite instance, so TypeORM's PostgreSQL driver and BullMQ's
 * PostgreSQL backend both run unchanged on the embedded store. Every checkout is a
 * {@link PgliteClient}; transactions are serialised on the one underlying connection.
 */
export class PglitePool extends EventEmitter {
  private readonly lock: ConnectionLock;
  private readonly clients = new Set<PgliteClient>();
  private ended = false;

  /**
   * @param db the shared PGlite instance; every pool over it shares one lock.
   * @param searchPath the schema(s) this pool's statements resolve names in, e.g. `public` for
   *   the application's tables and `"bullmq"` for BullMQ's queue tables.
   */
  constructor(
    readonly db: PGlite,
    readonly searchPath = 'public',
  ) {
    super();
    this.lock = lockFor(db);
  }

  get totalCount(): number {
    return this.clients.size;
  }
  get idleCount(): number {
    return 0;
  }
  get waitingCount(): number {
    return 0;
  }

  connect(): Promise<PgliteClient>;
  connect(callback: (err: Error | null, client?: PgliteClient, done?: () => void) => void): void;
  connect(callback?: (err: Error | null, client?: PgliteClient, done?: () => void) => void): Promise<PgliteClient> | void {
    if (this.ended) {
      const err = new Error('the embedded store is closed');
      if (callback) return callback(err);
      return Promise.reject(err);
    }
    const client = new PgliteClient(this, this.db, this.lock);
    this.clients.add(client);
    this.emit('connect', client);
    if (callback) {
      callback(null, client, () => client.release());
      return;
    }
    return Promise.resolve(client);
  }

  async query<R = Record<string, unknown>>(text: string | { text: string; values?: readonly unknown[] }, values?: readonly unknown[] | Callback, callback?: Callback): Promise<PgResult<R>> {
    const client = await this.connect();
    try {
      return await client.query<R>(text, values, callback);
    } finally {
      client.release();
    }
  }

  forget(client: PgliteClient): void {
    this.clients.delete(client);
  }

  /** Ends the pool: later checkouts fail. The PGlite instance itself is closed by its owner. */
  async end(callback?: (err?: Error) => void): Promise<void> {
    this.ended = true;
    for (const client of [...this.clients]) await client.close();
    callback?.();
  }
}
