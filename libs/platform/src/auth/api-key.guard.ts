import { CanActivate, ExecutionContext, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppConfig, type ApiKey, type ApiScope } from '../config/app-config';
import { ForbiddenError, UnauthorizedError } from '../errors/arbiter.error';
import { PUBLIC_KEY, SCOPE_KEY } from './scopes.decorator';

const digest = (key: string) => createHash('sha256').update(key).digest('hex');

/**
 * API keys from API_KEYS, sent as `Authorization: Bearer <key>`. A route declares the scope it
 * needs with {@link RequireScope}; one without a declaration needs any valid key; {@link Public}
 * routes need none. Keys are looked up by their SHA-256 so the comparison leaks nothing of them.
 * With no key configured (embedded default only) every route is open, and the boot log says so.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate, OnModuleInit {
  private readonly logger = new Logger('Auth');
  private readonly keys: Map<string, ApiKey>;

  constructor(
    private readonly config: AppConfig,
    private readonly reflector: Reflector,
  ) {
    this.keys = new Map(config.apiKeys.map((k) => [digest(k.key), k]));
  }

  onModuleInit(): void {
    if (this.config.authDisabled) {
      this.logger.warn('!!! NO API KEYS CONFIGURED: the API is OPEN to anyone who can reach it. Set API_KEYS before exposing it. !!!');
    }
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.config.authDisabled) return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const key = match ? this.keys.get(digest(match[1])) : undefined;
    if (!key) throw new UnauthorizedError();
    const scope = this.reflector.getAllAndOverride<ApiScope | undefined>(SCOPE_KEY, targets);
    if (scope && !key.scopes.has(scope)) throw new ForbiddenError(scope);
    return true;
  }
}
