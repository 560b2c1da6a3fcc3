import 'reflect-metadata';
import { ConfigError, JsonLogger, loadConfig, shutdownApp, type AppConfig } from '@arbiter/platform';
import { createApi } from './bootstrap';

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = new JsonLogger(config.logLevel);
  const app = await createApi(config);
  await app.listen({ port: config.port, host: config.host });
  logger.log(`Arbiter API listening on http://${config.host}:${config.port} (store: ${config.storeKind}, queue: ${config.queueKind}, workers: ${config.workersEnabled ? 'in-process' : 'off'})`, 'Main');

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

main().catch((err: Error) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'fatal', msg: `failed to start: ${err.message}`, stack: err.stack })}\n`);
  process.exit(1);
});
