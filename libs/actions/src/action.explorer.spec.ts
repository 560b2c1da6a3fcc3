import { Injectable, Module, Scope } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { ActionExplorer } from './action.explorer';
import type { ActionHandler } from './action.interfaces';
import { ActionRegistry } from './action.registry';
import { Action } from './decorators/action.decorator';

@Injectable()
@Action({ name: 'grant', params: { amount: { type: 'number', required: true }, note: { type: 'string' } } })
class GrantAction implements ActionHandler {
  execute() {
    return { ok: true };
  }
}

@Injectable()
@Action({ name: 'notify', mode: 'deferred', retry: { attempts: 3, backoffMs: 10 } })
class NotifyAction implements ActionHandler {
  execute() {
    return undefined;
  }
}

@Injectable()
@Action({ name: 'grant' })
class SecondGrantAction implements ActionHandler {
  execute() {
    return 1;
  }
}

@Injectable()
@Action({ name: 'no_execute' })
class NoExecuteAction {
  run() {
    return 1;
  }
}

@Injectable({ scope: Scope.REQUEST })
@Action({ name: 'per_request' })
class PerRequestAction implements ActionHandler {
  execute() {
    return 1;
  }
}

@Injectable()
@Action({ name: 'bad_types', mode: 'sometimes' as never, params: { x: { type: 'decimal' } } })
class BadMetadataAction implements ActionHandler {
  execute() {
    return 1;
  }
}

async function boot(...providers: Function[]) {
  // Actions may live in any module: put them in a separate one to prove discovery crosses modules.
  @Module({ providers: providers as never[] })
  class PluginModule {}
  const moduleRef = await Test.createTestingModule({ imports: [DiscoveryModule, PluginModule], providers: [ActionRegistry, ActionExplorer] }).compile();
  await moduleRef.init();
  return moduleRef;
}

describe('action discovery', () => {
  it('registers decorated providers from any module with their metadata and retry policy', async () => {
    const ref = await boot(GrantAction, NotifyAction);
    const registry = ref.get(ActionRegistry);
    expect(registry.list().map((a) => [a.name, a.mode, a.className])).toEqual([
      ['grant', 'inline', 'GrantAction'],
      ['notify', 'deferred', 'NotifyAction'],
    ]);
    expect(registry.get('notify')!.retry).toEqual({ attempts: 3, backoffMs: 10 });
    expect(registry.definitions()).toEqual([
      { name: 'grant', params: { amount: { type: 'number', required: true }, note: { type: 'string', required: false } } },
      { name: 'notify', params: {} },
    ]);
    await ref.close();
  });

  it('refuses a duplicate name, naming both classes', async () => {
    await expect(boot(GrantAction, SecondGrantAction)).rejects.toThrow(/SecondGrantAction: action "grant" is already registered by GrantAction/);
  });

  it('refuses a class that does not implement execute, naming it', async () => {
    await expect(boot(NoExecuteAction)).rejects.toThrow(/NoExecuteAction: action "no_execute" does not implement ActionHandler/);
  });

  it('refuses a request-scoped class, naming it', async () => {
    await expect(boot(PerRequestAction)).rejects.toThrow(/PerRequestAction: action "per_request" must be a singleton provider/);
  });

  it('refuses bad metadata and lists every problem', async () => {
    await expect(boot(BadMetadataAction)).rejects.toThrow(/BadMetadataAction: mode must be "inline" or "deferred"[\s\S]*BadMetadataAction: param "x" has an invalid type "decimal"/);
  });
});
