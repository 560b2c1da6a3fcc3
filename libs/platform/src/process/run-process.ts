import type { INestApplicationContext } from '@nestjs/common';
import { AppConfig, loadConfig } from '../config/app-config';
import { ConfigError } from '../errors/config.error';
import { shutdownApp } from '../http/http-app';
import { JsonLogger } from '../logging/json.logger';

/**
 * The life of an Arbiter process (api or worker): settings read and checked once (a bad one exits
 * 78 with every problem listed), the application started, and on SIGTERM or SIGINT a drain and an
 * exit 0 — or 1 when the drain fails or outlasts SHUTDOWN_TIMEOUT_MS.
 */
export async function runProcess(options: {
  env?: Record<string, string | undefined>;
  /** Extra checks of the settings for this kind of process; throw ConfigError to refuse. */
  check?: (config: AppConfig) => void;
  start: (config: AppConfig, logger: JsonLogger) => Promise<INestApplicationContext>;
}): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig(options.env ?? process.env);
    options.check?.(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = new JsonLogger(config.logLevel);
  let app: INestApplicationContext;
  try {
    app = await options.start(config, logger);
  } catch (err) {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'fatal', msg: `failed to start: ${(err as Error).message}`, stack: (err as Error).stack })}\n`);
    process.exit(1);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: draining requests and jobs`, 'Main');
    setTimeout(() => {
      logger.error('shutdown took too long; exiting', undefined, 'Main');
      process.exit(1);
    }, config.shutdownTimeoutMs + 5000).unref();
    try {
      await shutdownApp(app);
      logger.log('stopped cleanly', 'Main');
      process.exit(0);
    } catch (err) {
      logger.error(`shutdown failed: ${(err as Error).message}`, (err as Error).stack, 'Main');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
