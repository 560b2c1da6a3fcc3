import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppConfig, createHttpApp, loadConfig } from '@arbiter/platform';
import { AppModule } from './app.module';

/** Builds the API application for `config` (the environment's by default), not yet listening. */
export async function createApi(config: AppConfig = loadConfig()): Promise<NestFastifyApplication> {
  const app = await createHttpApp(AppModule.forRoot(config), config);
  await app.init();
  return app;
}
