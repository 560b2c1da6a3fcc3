import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ConfigError, runProcess } from '@arbiter/platform';
import { AppModule } from '../../api/src/app.module';

/**
 * A worker process: the same modules as the API, no HTTP. It consumes the queues (event batches,
 * deferred actions, growth re-checks) alongside or instead of the API processes; run as many as the
 * load needs.
 */
void runProcess({
  env: { ...process.env, WORKERS_ENABLED: 'true' },
  check: (config) => {
    // PGlite lives inside one process; a second process cannot open the same data directory.
    if (config.storeKind === 'embedded') {
      throw new ConfigError(['DATABASE_URL: a separate worker process needs a shared PostgreSQL (the embedded store belongs to the API process, which runs the workers itself)']);
    }
  },
  start: async (config, logger) => {
    const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger, abortOnError: false });
    await app.init();
    logger.log(`Arbiter worker started (store: ${config.storeKind}, queue: ${config.queueKind})`, 'Main');
    return app;
  },
});
