import 'reflect-metadata';
import { runProcess } from '@arbiter/platform';
import { createApi } from './bootstrap';

void runProcess({
  start: async (config, logger) => {
    const app = await createApi(config);
    await app.listen({ port: config.port, host: config.host });
    logger.log(`Arbiter API listening on http://${config.host}:${config.port} (store: ${config.storeKind}, queue: ${config.queueKind}, workers: ${config.workersEnabled ? 'in-process' : 'off'})`, 'Main');
    return app;
  },
});
