import 'reflect-metadata';
import { Injectable, Module, Scope } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { FactsConfig } from '../config/facts-config';
import { Fact } from '../decorators/fact.decorator';
import { FactExplorer } from './fact.explorer';
import { FactRegistry } from './fact.registry';

function config(facts: unknown = {}): FactsConfig {
  const problems: string[] = [];
  const c = FactsConfig.from(facts, {}, problems);
  expect(problems).toEqual([]);
  return c;
}

async function explore(providers: Function[], facts: unknown = {}): Promise<FactRegistry> {
  @Module({ imports: [DiscoveryModule], providers: [FactRegistry, FactExplorer, { provide: FactsConfig, useValue: config(facts) }, ...(providers as never[])] })
  class Host {}
  const moduleRef = await Test.createTestingModule({ imports: [Host] }).compile();
  await moduleRef.init();
  return moduleRef.get(FactRegistry);
}

@Injectable()
class GoodFacts {
  @Fact({ name: 'orders_count', type: 'number', params: [{ name: 'within', type: 'duration', optional: true }], cost: 3 })
  count(args: { within?: number }) {
    return args.within ?? 7;
  }
}

@Injectable()
@Fact({ name: 'segment.member', type: 'boolean', params: [{ name: 'segment', type: 'string' }] })
class SegmentFact {
  resolve(args: { segment: string }) {
    return args.segment === 'vip';
  }
}

@Injectable()
class DuplicateFacts {
  @Fact({ name: 'orders_count', type: 'number' })
  other() {
    return 1;
  }
}

@Injectable()
class BadFacts {
  @Fact({ name: 'broken', type: 'integer' as never })
  broken() {
    return 1;
  }

  @Fact({ name: 'user.age', type: 'number' })
  reserved() {
    return 1;
  }

  @Fact({ name: 'fallback_wrong', type: 'number', fallback: 'zero' })
  fallbackWrong() {
    return 1;
  }
}

@Injectable({ scope: Scope.REQUEST })
class ScopedFacts {
  @Fact({ name: 'scoped', type: 'number' })
  scoped() {
    return 1;
  }
}

describe('FactExplorer', () => {
  it('registers method and class facts with their typed parameters, and aliases with coerced arguments', async () => {
    const registry = await explore([GoodFacts, SegmentFact], { aliases: { orders_30d: 'orders_count(within: 30d)' } });
    expect(registry.names()).toEqual(['orders_30d', 'orders_count', 'segment.member']);
    expect(registry.fact('orders_count')!.definition).toMatchObject({ name: 'orders_count', type: 'number', cost: 3, params: [{ name: 'within', type: 'duration', optional: true }] });
    const alias = registry.lookup('orders_30d')!;
    expect(alias.fact.definition.name).toBe('orders_count');
    expect(alias.fixed).toEqual({ within: 30 * 86_400_000 });
    expect(registry.lookup('segment.member')!.fact.invoke({ segment: 'vip' }, { userId: 'u', now: 0 })).toBe(true);
  });

  it('stops the boot on a duplicate name, naming both classes and methods', async () => {
    await expect(explore([GoodFacts, DuplicateFacts])).rejects.toThrow(/DuplicateFacts\.other: fact "orders_count" is already declared by GoodFacts\.count/);
  });

  it('stops the boot on bad declarations, listing each with its class and method', async () => {
    const error = await explore([BadFacts]).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(/BadFacts\.broken: fact "broken" has an invalid type "integer"/);
    expect(message).toMatch(/BadFacts\.reserved: fact name "user\.age" uses a reserved prefix/);
    expect(message).toMatch(/BadFacts\.fallbackWrong: fact "fallback_wrong": fallback must be a number/);
  });

  it('refuses facts on request-scoped providers', async () => {
    await expect(explore([ScopedFacts])).rejects.toThrow(/ScopedFacts\.scoped: facts must be on singleton providers/);
  });

  it('refuses an alias to an unknown fact or with a mistyped argument', async () => {
    await expect(explore([GoodFacts], { aliases: { a: 'nope(x: 1)' } })).rejects.toThrow(/aliases\.a: unknown fact "nope"/);
    await expect(explore([GoodFacts], { aliases: { b: 'orders_count(within: "soon")' } })).rejects.toThrow(/aliases\.b: parameter "within" of "orders_count" must be duration/);
  });
});
