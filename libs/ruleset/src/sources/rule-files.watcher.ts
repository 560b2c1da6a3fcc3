import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { watch, type FSWatcher } from 'node:fs';
import { AppConfig } from '@arbiter/platform';
import { RuleReloadBroadcaster } from '../broadcast/rule-reload.broadcaster';
import { RuleSetService } from '../rule-set.service';

/**
 * Reloads the rules when a YAML file under CONFIG_DIR/rules changes (RULES_WATCH), once the
 * directory has been quiet for RULES_RELOAD_DEBOUNCE_MS: editors write a file in several steps and
 * a half-saved file must not count as a failed reload. The reload is broadcast like any other.
 */
@Injectable()
export class RuleFilesWatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('RuleFiles');
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly config: AppConfig,
    private readonly rules: RuleSetService,
    private readonly broadcaster: RuleReloadBroadcaster,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.rulesWatch) return;
    try {
      this.watcher = watch(this.rules.directory, (_event, name) => {
        if (name && !/\.ya?ml$/i.test(String(name))) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.fire(), this.config.rulesReloadDebounceMs);
      });
      this.watcher.on('error', (err) => this.logger.warn(`watching ${this.rules.directory} failed: ${err.message}`));
    } catch (err) {
      this.logger.warn(`not watching ${this.rules.directory}: ${(err as Error).message} (POST /v1/rules/reload still works)`);
    }
  }

  private async fire(): Promise<void> {
    try {
      await this.rules.reload('file change');
      await this.broadcaster.publish('file change');
    } catch {
      // Recorded in the status and logged by the service; the old rule set stays.
    }
  }

  beforeApplicationShutdown(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }
}
