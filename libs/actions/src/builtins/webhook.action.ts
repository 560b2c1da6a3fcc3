import { Injectable } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import { AppConfig } from '@arbiter/platform';
import type { ActionContext, ActionHandler, RetryPolicy } from '../action.interfaces';
import { Action } from '../decorators/action.decorator';
import { PermanentActionError } from '../errors/action.error';

export interface WebhookParams {
  url: string;
  /** Anything JSON; sent as `data`. */
  body?: unknown;
}

/** The header carrying `sha256=<hex HMAC-SHA256 of the raw body, keyed by WEBHOOK_SECRET>`. */
export const SIGNATURE_HEADER = 'x-arbiter-signature';

/** Computes the signature value a receiver should compare (in constant time) with the header. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * Deferred: POSTs `{idempotency_key, rule_id, domain, event, data}` as JSON to `url`, signed with
 * HMAC-SHA256 (WEBHOOK_SECRET) in `X-Arbiter-Signature` and carrying `Idempotency-Key`, so a
 * receiver can verify the sender and drop a duplicate delivery. A 2xx succeeds; a timeout, a
 * network error, a 5xx, 408 or 429 is retried with backoff; any other 4xx fails at once.
 */
@Injectable()
@Action({
  name: 'webhook',
  mode: 'deferred',
  description: 'POST a signed JSON notification to a URL (retried with exponential backoff)',
  params: { url: { type: 'string', required: true }, body: { type: 'any' } },
})
export class WebhookAction implements ActionHandler<WebhookParams> {
  constructor(private readonly config: AppConfig) {}

  retryPolicy(): Partial<RetryPolicy> {
    return { attempts: this.config.webhookAttempts, backoffMs: this.config.webhookBackoffMs };
  }

  async execute(params: WebhookParams, context: ActionContext): Promise<{ status: number }> {
    const secret = this.config.webhookSecret;
    if (!secret) throw new PermanentActionError('WEBHOOK_SECRET_MISSING', 'WEBHOOK_SECRET is not set: refusing to send an unsigned webhook');
    let url: URL;
    try {
      url = new URL(params.url);
    } catch {
      throw new PermanentActionError('WEBHOOK_BAD_URL', `not a URL: ${JSON.stringify(params.url)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PermanentActionError('WEBHOOK_BAD_URL', `only http and https URLs are allowed, found ${url.protocol}`);
    const body = JSON.stringify({
      idempotency_key: context.idempotencyKey,
      rule_id: context.ruleId,
      domain: context.domain,
      attempt: context.attempt,
      event: context.event,
      data: params.body ?? null,
    });
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: webhookSignature(secret, body), 'idempotency-key': context.idempotencyKey, 'user-agent': 'arbiter-webhook/1' },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.config.webhookTimeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
      throw Object.assign(new Error(timedOut ? `no answer from ${url.host} within ${this.config.webhookTimeoutMs} ms` : `request to ${url.host} failed: ${(e.cause as Error | undefined)?.message ?? e.message}`), {
        code: timedOut ? 'WEBHOOK_TIMEOUT' : 'WEBHOOK_UNREACHABLE',
      });
    }
    // The body is not needed; draining it frees the connection.
    await response.arrayBuffer().catch(() => undefined);
    if (response.status >= 200 && response.status < 300) return { status: response.status };
    const message = `${url.host} answered ${response.status}`;
    if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) throw new PermanentActionError('WEBHOOK_REJECTED', message);
    throw Object.assign(new Error(message), { code: 'WEBHOOK_FAILED' });
  }
}
