import { ConfigError } from '../errors/config.error';

export type ApiScope = 'admin' | 'ingest' | 'read';
export const API_SCOPES: readonly ApiScope[] = ['admin', 'ingest', 'read'];
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** One API key and what it may do. */
export interface ApiKey {
  readonly key: string;
  readonly scopes: ReadonlySet<ApiScope>;
}

/**
 * Every setting Arbiter reads, validated once at boot. Only this file reads the environment
 * (through {@link loadConfig}); everything else injects {@link AppConfig}.
 */
export class AppConfig {
  readonly nodeEnv!: 'development' | 'production' | 'test';
  readonly port!: number;
  readonly host!: string;
  /** PostgreSQL connection string; undefined means the embedded PGlite store under {@link dataDir}. */
  readonly databaseUrl?: string;
  readonly dataDir!: string;
  /**
   * On a PostgreSQL server, the longest the event path waits for the database: a statement that
   * runs longer, or a connection not to be had within it, fails (503 DEPENDENCY_DOWN). 0: no limit.
   */
  readonly storeTimeoutMs!: number;
  /** Redis connection string; undefined means BullMQ's PostgreSQL backend on the same database. */
  readonly redisUrl?: string;
  readonly queuePrefix!: string;
  /** The longest batch intake waits for the queue to count and take a batch (503 DEPENDENCY_DOWN past it). 0: no limit. */
  readonly queueTimeoutMs!: number;
  readonly apiKeys!: readonly ApiKey[];
  readonly logLevel!: LogLevel;
  readonly bodyLimit!: number;
  readonly workersEnabled!: boolean;
  readonly shutdownTimeoutMs!: number;
  /** Directory of the YAML configuration (`facts.yaml`, `events.yaml`, `rules/*.yaml`). */
  readonly configDir!: string;
  /** Default time limit of one computed fact; a fact may declare its own. */
  readonly factTimeoutMs!: number;
  /** Secret of the HMAC-SHA256 signature on webhook requests; webhooks fail (permanently) without it. */
  readonly webhookSecret?: string;
  readonly webhookTimeoutMs!: number;
  readonly webhookAttempts!: number;
  readonly webhookBackoffMs!: number;
  /** How many `emit_event` follow-ups may chain from one outside event before the chain is cut. */
  readonly emitEventMaxDepth!: number;
  /** Whether changes to CONFIG_DIR/rules/*.yaml are picked up without a restart. */
  readonly rulesWatch!: boolean;
  readonly rulesReloadDebounceMs!: number;

  /** Waiting jobs on the events queue past which batch intake answers 429 (readiness fails at 80%). */
  readonly queueMaxDepth!: number;
  /** Most events one POST /v1/events/batch may carry. */
  readonly batchMaxEvents!: number;
  /** Event jobs one process works on at once. */
  readonly eventConcurrency!: number;
  /** Tries of a queued event before it is kept as failed. */
  readonly eventAttempts!: number;
  /** Deepest nesting accepted in an event payload. */
  readonly payloadMaxDepth!: number;
  /** How far ahead of this server's clock an event's `occurred_at` may be; 0 for no limit. */
  readonly eventMaxFutureMs!: number;
  /** How long a worker's claim on a job lasts unrenewed; a dead worker's jobs return to the queue after it. */
  readonly jobLockMs!: number;
  /** Most promo codes one `POST /v1/promo/campaigns/:id/codes` may create. */
  readonly promoCodesMaxPerRequest!: number;
  /** Users evaluated per job of a segment backfill. */
  readonly growthBackfillPageSize!: number;
  /** Growth jobs (segment re-checks, backfill pages) one process works on at once. */
  readonly growthConcurrency!: number;
  /** How often a process re-reads the segment definitions other processes may have changed. */
  readonly growthSegmentRefreshMs!: number;

  constructor(values: AppConfigValues) {
    Object.assign(this, values);
    Object.freeze(this);
  }

  get storeKind(): 'postgres' | 'embedded' {
    return this.databaseUrl ? 'postgres' : 'embedded';
  }

  /** Where BullMQ keeps its queues: Redis, the PostgreSQL server, or the embedded store. */
  get queueKind(): 'redis' | 'postgres' | 'embedded' {
    return this.redisUrl ? 'redis' : this.databaseUrl ? 'postgres' : 'embedded';
  }

  /** True when no API key is configured: every route is open (refused in production). */
  get authDisabled(): boolean {
    return this.apiKeys.length === 0;
  }
}

export type AppConfigValues = Omit<AppConfig, 'storeKind' | 'queueKind' | 'authDisabled'>;

/** A documented setting: its variable, default, and a one-line description (for the README). */
export interface SettingDoc {
  readonly name: string;
  readonly default: string;
  readonly description: string;
}

export const SETTINGS: readonly SettingDoc[] = [
  { name: 'NODE_ENV', default: 'development', description: '`development`, `production` or `test`. Production refuses to start without API_KEYS.' },
  { name: 'PORT', default: '3000', description: 'HTTP port of the API process.' },
  { name: 'HOST', default: '0.0.0.0', description: 'Interface the API listens on.' },
  { name: 'DATABASE_URL', default: '(unset: embedded PGlite)', description: 'PostgreSQL URL (`postgres://user:pass@host:5432/db`). Unset: PGlite in-process, data under DATA_DIR.' },
  { name: 'DATA_DIR', default: './data', description: 'Where the embedded store keeps its files (ignored when DATABASE_URL is set).' },
  { name: 'STORE_TIMEOUT_MS', default: '10000', description: 'With DATABASE_URL: the longest the event path waits on PostgreSQL. A statement of it that runs longer (a lock held elsewhere, an overloaded server), or a connection not available within it, fails the request with 503 DEPENDENCY_DOWN and Retry-After (a queued event is retried); sending the same event again is safe. `0`: no limit. Migrations and admin operations are not limited.' },
  { name: 'REDIS_URL', default: '(unset: queue on PostgreSQL)', description: 'Redis URL (`redis://host:6379/0`) for BullMQ. Unset: BullMQ\'s PostgreSQL backend on the same database.' },
  { name: 'QUEUE_PREFIX', default: 'arbiter', description: 'Prefix of the Redis keys of every queue, so several deployments can share one Redis (on PostgreSQL the queues live in the `bullmq` schema).' },
  { name: 'QUEUE_TIMEOUT_MS', default: '10000', description: 'The longest a call waits for the queue (Redis, or its PostgreSQL backend). Past it, batch intake, `GET /v1/events/:id` of an event the log does not hold, the failed-event list and its retry, and a failed action\'s retry answer 503 DEPENDENCY_DOWN with Retry-After. A batch so refused may still reach the queue once it answers: send it again (an event has one job id, made from its id, so nothing is counted twice). An event\'s deferred action waits as long to be queued; past it the action is `failed` (`ENQUEUE_FAILED`), kept in `GET /v1/actions/failed` for a retry, and the event goes on; so does a segment\'s window re-check, and a new backfill is `failed` (each is `queued` or `running` again if what was given up on lands once the queue answers). After one wait runs out, the others fail at once until the queue answers. `0`: no limit.' },
  { name: 'API_KEYS', default: '(unset: API open)', description: 'Comma-separated `key:scope|scope` pairs, scopes among `admin`, `ingest`, `read` (`*` = all). Example: `k1:admin|ingest|read,k2:read`.' },
  { name: 'LOG_LEVEL', default: 'info', description: '`error`, `warn`, `info` or `debug`.' },
  { name: 'BODY_LIMIT', default: '1048576', description: 'Largest accepted request body, in bytes (a larger one is a 413).' },
  { name: 'WORKERS_ENABLED', default: 'true', description: 'Whether the API process also runs the queue workers (`false` when dedicated `worker` processes do).' },
  { name: 'SHUTDOWN_TIMEOUT_MS', default: '10000', description: 'How long SIGTERM waits for in-flight requests and jobs before closing anyway.' },
  { name: 'CONFIG_DIR', default: './configs', description: 'Directory of the YAML configuration: `facts.yaml` (user attributes, fact aliases), `events.yaml` (event types), `rules/*.yaml`.' },
  { name: 'FACT_TIMEOUT_MS', default: '1000', description: 'Default time limit of one computed fact; past it the fact fails (its leaves are false) or yields its declared fallback.' },
  { name: 'WEBHOOK_SECRET', default: '(unset: webhooks fail)', description: 'Secret of the `X-Arbiter-Signature: sha256=<hex>` HMAC-SHA256 header on every webhook request body. Webhook actions fail without it.' },
  { name: 'WEBHOOK_TIMEOUT_MS', default: '5000', description: 'Time limit of one webhook request; a slower receiver counts as a failed try.' },
  { name: 'WEBHOOK_ATTEMPTS', default: '5', description: 'Tries of a webhook before it is left as failed (`GET /v1/actions/failed`).' },
  { name: 'WEBHOOK_BACKOFF_MS', default: '1000', description: 'Wait before the 2nd webhook try; doubled before each further try.' },
  { name: 'EMIT_EVENT_MAX_DEPTH', default: '3', description: 'How many `emit_event` follow-ups may chain from one outside event; deeper ones fail with EMIT_DEPTH_EXCEEDED (guards against loops).' },
  { name: 'RULES_WATCH', default: 'true', description: 'Reload the rules when a file under CONFIG_DIR/rules changes (debounced). `POST /v1/rules/reload` works either way.' },
  { name: 'RULES_RELOAD_DEBOUNCE_MS', default: '300', description: 'Quiet time after the last rule-file change before the reload starts.' },
  { name: 'QUEUE_MAX_DEPTH', default: '100000', description: 'Waiting events past which `POST /v1/events/batch` answers 429 with Retry-After; `/readyz` fails above 80% of it.' },
  { name: 'BATCH_MAX_EVENTS', default: '1000', description: 'Most events one `POST /v1/events/batch` may carry (more is a 400); at most `QUEUE_MAX_DEPTH`.' },
  { name: 'EVENT_CONCURRENCY', default: '512 with REDIS_URL, else 128', description: 'Queued events one process works on at once. Events mostly wait on the database, and the more run at once the more of their writes share a statement (on Redis, 512 ran a batch 10-30% faster than 128: docs/benchmarks.md).' },
  { name: 'EVENT_ATTEMPTS', default: '5', description: 'Tries of a queued event (exponential backoff from 1 s) before it is kept as failed (`GET /v1/events/failed`).' },
  { name: 'JOB_LOCK_MS', default: '30000', description: 'How long a worker\'s claim on a queued job lasts unless renewed: the jobs of a worker that died are handed to another after this.' },
  { name: 'GROWTH_BACKFILL_PAGE_SIZE', default: '500', description: 'Users evaluated per background job when a segment is created or its rule changes (progress is reported per page).' },
  { name: 'GROWTH_CONCURRENCY', default: '4', description: 'Growth jobs (segment window re-checks, backfill pages) one process works on at once.' },
  { name: 'GROWTH_SEGMENT_REFRESH_MS', default: '5000', description: 'How often a process re-reads segment definitions changed by another process (its own changes apply at once).' },
  { name: 'PAYLOAD_MAX_DEPTH', default: '16', description: 'Deepest nesting accepted in an event payload (deeper is a 400).' },
  { name: 'EVENT_MAX_FUTURE_MS', default: '3600000', description: 'How far ahead of this server\'s clock an event\'s `occurred_at` may be (further is a 400): an event dated in the future counts in every time window until then. `0`: no limit.' },
  { name: 'PROMO_CODES_MAX_PER_REQUEST', default: '100000', description: 'Most promo codes one `POST /v1/promo/campaigns/:id/codes` may generate or import (more is a 400).' },
];

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and validates the settings from `env` (process.env by default). Throws one
 * {@link ConfigError} listing every bad setting, so a misconfigured process refuses to start with
 * everything it needs to know in one message.
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      problems.push(`${name}=${JSON.stringify(raw)}: must be one of ${allowed.join(', ')}`);
      return fallback;
    }
    return raw as T;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = get(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(raw)) return true;
    if (['false', '0', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name}=${JSON.stringify(raw)}: must be true or false`);
    return fallback;
  };
  const url = (name: string, protocols: readonly string[], example: string): string | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    let parsed: URL | undefined;
    try {
      parsed = new URL(raw);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !protocols.includes(parsed.protocol) || !parsed.hostname) {
      problems.push(`${name}=${JSON.stringify(redact(raw))}: must be a URL like ${example}`);
      return undefined;
    }
    return raw;
  };

  const nodeEnv = oneOf('NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const apiKeys = parseApiKeys(get('API_KEYS'), problems);
  if (nodeEnv === 'production' && apiKeys.length === 0 && get('API_KEYS') === undefined) {
    problems.push('API_KEYS: required when NODE_ENV=production (the API would be open to anyone)');
  }
  const queuePrefix = get('QUEUE_PREFIX') ?? 'arbiter';
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(queuePrefix)) {
    problems.push(`QUEUE_PREFIX=${JSON.stringify(queuePrefix)}: letters, digits, _ and - only, at most 40`);
  }

  const config = new AppConfig({
    nodeEnv,
    port: int('PORT', 3000, 0, 65535),
    host: get('HOST') ?? '0.0.0.0',
    databaseUrl: url('DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres://user:password@localhost:5432/arbiter'),
    dataDir: get('DATA_DIR') ?? './data',
    storeTimeoutMs: int('STORE_TIMEOUT_MS', 10_000, 0, 3_600_000),
    redisUrl: url('REDIS_URL', ['redis:', 'rediss:'], 'redis://localhost:6379'),
    queuePrefix,
    queueTimeoutMs: int('QUEUE_TIMEOUT_MS', 10_000, 0, 3_600_000),
    apiKeys,
    logLevel: oneOf('LOG_LEVEL', ['error', 'warn', 'info', 'debug'] as const, 'info'),
    bodyLimit: int('BODY_LIMIT', 1024 * 1024, 1024, 512 * 1024 * 1024),
    workersEnabled: bool('WORKERS_ENABLED', true),
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    configDir: get('CONFIG_DIR') ?? './configs',
    factTimeoutMs: int('FACT_TIMEOUT_MS', 1000, 1, 600_000),
    webhookSecret: get('WEBHOOK_SECRET'),
    webhookTimeoutMs: int('WEBHOOK_TIMEOUT_MS', 5000, 1, 600_000),
    webhookAttempts: int('WEBHOOK_ATTEMPTS', 5, 1, 100),
    webhookBackoffMs: int('WEBHOOK_BACKOFF_MS', 1000, 0, 3_600_000),
    emitEventMaxDepth: int('EMIT_EVENT_MAX_DEPTH', 3, 0, 50),
    rulesWatch: bool('RULES_WATCH', true),
    rulesReloadDebounceMs: int('RULES_RELOAD_DEBOUNCE_MS', 300, 0, 60_000),
    queueMaxDepth: int('QUEUE_MAX_DEPTH', 100_000, 1, 100_000_000),
    batchMaxEvents: int('BATCH_MAX_EVENTS', 1000, 1, 100_000),
    eventConcurrency: int('EVENT_CONCURRENCY', get('REDIS_URL') ? 512 : 128, 1, 1000),
    eventAttempts: int('EVENT_ATTEMPTS', 5, 1, 100),
    payloadMaxDepth: int('PAYLOAD_MAX_DEPTH', 16, 1, 256),
    eventMaxFutureMs: int('EVENT_MAX_FUTURE_MS', 3_600_000, 0, 31_536_000_000),
    jobLockMs: int('JOB_LOCK_MS', 30_000, 1000, 3_600_000),
    promoCodesMaxPerRequest: int('PROMO_CODES_MAX_PER_REQUEST', 100_000, 1, 1_000_000),
    growthBackfillPageSize: int('GROWTH_BACKFILL_PAGE_SIZE', 500, 1, 100_000),
    growthConcurrency: int('GROWTH_CONCURRENCY', 4, 1, 1000),
    growthSegmentRefreshMs: int('GROWTH_SEGMENT_REFRESH_MS', 5000, 0, 3_600_000),
  });
  if (config.batchMaxEvents > config.queueMaxDepth) {
    problems.push(`BATCH_MAX_EVENTS=${config.batchMaxEvents}: must not exceed QUEUE_MAX_DEPTH=${config.queueMaxDepth} (a batch that large could never be queued)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function parseApiKeys(raw: string | undefined, problems: string[]): ApiKey[] {
  if (raw === undefined) return [];
  const keys: ApiKey[] = [];
  const seen = new Set<string>();
  raw.split(',').forEach((entry, index) => {
    const [key, scopeList, ...rest] = entry.trim().split(':');
    const where = `API_KEYS entry ${index + 1}`;
    if (!key || scopeList === undefined || rest.length > 0) {
      problems.push(`${where}: must look like key:scope|scope (scopes: ${API_SCOPES.join(', ')} or *)`);
      return;
    }
    if (key.length < 8) problems.push(`${where}: the key must be at least 8 characters`);
    if (seen.has(key)) problems.push(`${where}: duplicate key`);
    seen.add(key);
    const scopes = new Set<ApiScope>();
    for (const scope of scopeList.split('|').map((s) => s.trim())) {
      if (scope === '*') API_SCOPES.forEach((s) => scopes.add(s));
      else if ((API_SCOPES as readonly string[]).includes(scope)) scopes.add(scope as ApiScope);
      else problems.push(`${where}: unknown scope ${JSON.stringify(scope)} (known: ${API_SCOPES.join(', ')}, *)`);
    }
    keys.push({ key, scopes });
  });
  return keys;
}

/** Hides a password in a URL before it goes into an error message. */
function redact(raw: string): string {
  return raw.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');
}
