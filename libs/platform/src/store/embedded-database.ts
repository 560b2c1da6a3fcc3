import { Injectable, Logger } from '@nestjs/common';
import { PGlite } from '@electric-sql/pglite';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AppConfig } from '../config/app-config';
import { PglitePool } from './pglite-pool';

/**
 * The embedded PostgreSQL (PGlite, in-process WebAssembly) used when DATABASE_URL is unset. Its
 * files live under `DATA_DIR/pglite`, so data survives a restart. Opened on first use; closed
 * last at shutdown, after the store and the queue that share it (see `shutdownApp`).
 */
@Injectable()
export class EmbeddedDatabase {
  private readonly logger = new Logger('EmbeddedDatabase');
  private opening?: Promise<PGlite>;

  constructor(private readonly config: AppConfig) {}

  get directory(): string {
    return resolve(join(this.config.dataDir, 'pglite'));
  }

  open(): Promise<PGlite> {
    this.opening ??= (async () => {
      await mkdir(this.directory, { recursive: true });
      const db = await PGlite.create(this.directory);
      this.logger.log(`embedded PostgreSQL (PGlite) open at ${this.directory}`);
      return db;
    })();
    return this.opening;
  }

  /** A pg-compatible pool over the embedded database; all pools share its one connection. */
  async pool(searchPath = 'public'): Promise<PglitePool> {
    return new PglitePool(await this.open(), searchPath);
  }

  async close(): Promise<void> {
    if (!this.opening) return;
    const db = await this.opening.catch(() => undefined);
    this.opening = undefined;
    if (db && !db.closed) await db.close();
  }
}
