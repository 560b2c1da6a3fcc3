import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ConfigError, JsonLogger, loadConfig, shutdownApp, type AppConfig } from '@arbiter/platform';
import { AppModule } from '../../api/src/app.module';

/**
 * A worker process: the same modules as the API, no HTTP. It consumes the queues (event batches,
 * deferred actions) alongside or instead of the API processes; run as many as the load needs.
 */
async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig({ ...process.env, WORKERS_ENABLED: 'true' });
    if (config.storeKind === 'embedded') {
      // PGlite lives inside one process; a second process cannot open the same data directory.
      throw new ConfigError(['DATABASE_URL: a separate worker process needs a shared PostgreSQL (the embedded store belongs to the API process, which runs the workers itself)']);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const logger = new JsonLogger(config.logLevel);
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger, abortOnError: false });
  await app.init();
  logger.log(`Arbiter worker started (store: ${config.storeKind}, queue: ${config.queueKind})`, 'Main');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: finishing jobs in hand`, 'Main');
    setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 5000).unref();
    await shutdownApp(app).then(
      () => process.exit(0),
      (err: Error) => {
        logger.error(`shutdown failed: ${err.message}`, err.stack, 'Main');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: Error) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'fatal', msg: `failed to start: ${err.message}`, stack: err.stack })}\n`);
  process.exit(1);
});
