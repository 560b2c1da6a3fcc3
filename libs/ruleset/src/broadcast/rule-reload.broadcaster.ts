import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Client } from 'pg';
import { AppConfig, redisOptions } from '@arbiter/platform';
import { RuleSetService } from '../rule-set.service';

/** What one process tells the others after it changed or reloaded the rules. */
interface ReloadMessage {
  origin: string;
  reason: string;
}

/**
 * Carries "the rules changed, reload" to every process, over the queue's own connection: Redis
 * pub/sub when REDIS_URL is set, PostgreSQL LISTEN/NOTIFY otherwise. The embedded store belongs to
 * one process, so there is nobody to tell. Each process ignores its own messages and reloads from
 * the shared sources on the others' (a failed reload there shows in its own status).
 */
@Injectable()
export class RuleReloadBroadcaster implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('RuleBroadcast');
  readonly origin = randomUUID();
  private redisPub?: Redis;
  private redisSub?: Redis;
  private pg?: Client;
  private closed = false;
  /** Messages received from other processes (for the status and tests). */
  received = 0;

  constructor(
    private readonly config: AppConfig,
    private readonly rules: RuleSetService,
  ) {}

  get channel(): string {
    // PostgreSQL channel names are identifiers: keep to lower-case letters, digits and _.
    return this.config.redisUrl ? `${this.config.queuePrefix}:rules:reload` : `arbiter_rules_${this.config.queuePrefix.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
  }

  get kind(): 'redis' | 'postgres' | 'none' {
    return this.config.redisUrl ? 'redis' : this.config.databaseUrl ? 'postgres' : 'none';
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.kind === 'redis') {
      this.redisPub = new Redis(redisOptions(this.config.redisUrl!));
      this.redisSub = new Redis(redisOptions(this.config.redisUrl!));
      for (const r of [this.redisPub, this.redisSub]) r.on('error', (err) => this.logger.warn(`redis: ${err.message}`));
      this.redisSub.on('message', (_channel, message) => this.onMessage(message));
      await this.redisSub.subscribe(this.channel);
    } else if (this.kind === 'postgres') {
      await this.connectPg();
    }
  }

  private async connectPg(): Promise<void> {
    const client = new Client({ connectionString: this.config.databaseUrl });
    client.on('notification', (n) => n.payload && this.onMessage(n.payload));
    client.on('error', (err) => {
      this.logger.warn(`listen connection lost: ${err.message}; reconnecting`);
      this.pg = undefined;
      // Changes made while disconnected are picked up by the reload after reconnecting.
      setTimeout(() => void this.connectPg().then(() => this.rules.reload('broadcast reconnect').catch(() => undefined)).catch(() => undefined), 1000).unref();
    });
    await client.connect();
    await client.query(`LISTEN "${this.channel}"`);
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.pg = client;
  }

  /** Tells every other process to reload. Failures are logged, never thrown: the local change stands. */
  async publish(reason: string): Promise<void> {
    const message = JSON.stringify({ origin: this.origin, reason } satisfies ReloadMessage);
    try {
      if (this.redisPub) await this.redisPub.publish(this.channel, message);
      else if (this.pg) await this.pg.query('SELECT pg_notify($1, $2)', [this.channel, message]);
    } catch (err) {
      this.logger.warn(`could not broadcast the reload: ${(err as Error).message}`);
    }
  }

  private onMessage(raw: string): void {
    let message: ReloadMessage;
    try {
      message = JSON.parse(raw) as ReloadMessage;
    } catch {
      return;
    }
    if (message.origin === this.origin) return;
    this.received++;
    this.rules.reload(`broadcast: ${String(message.reason).slice(0, 100)}`).catch(() => undefined);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([this.redisSub?.quit().catch(() => undefined), this.redisPub?.quit().catch(() => undefined), this.pg?.end().catch(() => undefined)]);
  }
}
