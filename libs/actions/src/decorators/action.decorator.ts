import { DiscoveryService } from '@nestjs/core';
import type { ActionOptions } from '../action.interfaces';

/**
 * Marks a provider class as a rule action. The class implements {@link ActionHandler} and is
 * listed in some module's `providers`; at boot the actions explorer finds every marked provider
 * and registers it under `name`. Duplicate names, a class without `execute`, or a request-scoped
 * class stop the boot with an error naming the class.
 *
 * ```ts
 * @Action({ name: 'notify', mode: 'deferred', params: { channel: { type: 'string', required: true } } })
 * export class NotifyAction implements ActionHandler<{ channel: string }> { ... }
 * ```
 */
export const Action = DiscoveryService.createDecorator<ActionOptions>();
