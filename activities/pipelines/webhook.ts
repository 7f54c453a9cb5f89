import { createHash, createHmac } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { backOff } from 'exponential-backoff';
import { fetch } from 'undici';
import type { WebhookConfig } from '../../domain/pipelines.js';
import { RUN_STATUS } from '../../domain/statuses.js';
import type { ActivityDeps } from '../deps.js';
import { findEgressDenied } from '../net/egress.js';
import { egressPool } from '../net/egress-pool.js';
import { errorDetail, errorMessage } from '../../domain/error-text.js';
import { publicDestinationError } from '../net/public-error.js';
import type { PipelineOutcome, StoredObject } from './types.js';

const SIGNATURE_HEADER = 'x-lakesync-signature';
const TIMESTAMP_HEADER = 'x-lakesync-timestamp';
const IDEMPOTENCY_HEADER = 'idempotency-key';

/**
 * One delivery intent: every retry of it — in this activity, after a crash, or
 * by the job that adopts it — shares the key; a deliberate re-run passes its
 * job id as `rerun` and is a new delivery.
 */
const idempotencyKey = (pipelineId: string, objectId: string, etag: string, rerun: string): string =>
  createHash('sha256').update(`${pipelineId}\n${objectId}\n${etag}\n${rerun}`).digest('hex').slice(0, 40);

/** `v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`, as Stripe-style receivers verify it. */
const signDelivery = (secret: string, timestamp: string, body: string): string =>
  `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;

/** A delivery another attempt may fix: an answer that is not a 2xx, or a connection that failed. */
class DeliveryFailed extends Error {}

/**
 * POSTs the object's metadata and a signed URL to the pipeline's endpoint,
 * retrying with backoff until a 2xx or the pipeline's attempts run out.
 * Redirects are not followed (a 3xx is a failed delivery), and a destination
 * the egress policy refuses fails at once, without retries.
 */
export async function runWebhook(
  deps: ActivityDeps,
  pipelineId: string,
  config: WebhookConfig,
  sealedSecret: string | null,
  obj: StoredObject,
  rerun: string,
): Promise<PipelineOutcome> {
  const head = await deps.lake.head(obj.bucketName, obj.lakeKey);
  if (!head) return { status: RUN_STATUS.failed, error: `object ${obj.lakeKey} is not in the lake`, attempts: 0 };
  const base = deps.objectUrlBase();
  const url = base ? deps.urlSigner.sign(base, { id: obj.bucketId, name: obj.bucketName }, obj.lakeKey, config.urlExpiresInSeconds).url : null;
  const body = JSON.stringify({
    bucket: obj.bucketName,
    key: obj.lakeKey,
    etag: `"${head.etag}"`,
    size: head.size,
    contentType: head.contentType ?? 'application/octet-stream',
    url,
  });
  const secret = sealedSecret ? deps.secrets.open<string>(sealedSecret) : null;
  const key = idempotencyKey(pipelineId, obj.id, obj.etag, rerun);
  let attempt = 0;
  const deliver = async (): Promise<PipelineOutcome> => {
    attempt++;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      [IDEMPOTENCY_HEADER]: key,
      [TIMESTAMP_HEADER]: timestamp,
      'user-agent': 'lakesync-webhook/1',
    };
    if (secret) headers[SIGNATURE_HEADER] = signDelivery(secret, timestamp, body);
    let failure: string;
    try {
      const res = await fetch(config.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(config.timeoutSeconds * 1000),
        redirect: 'manual',
        dispatcher: egressPool(deps.egress),
      });
      await res.body?.cancel();
      if (res.status >= 200 && res.status < 300) return { status: RUN_STATUS.indexed, detail: `delivered (HTTP ${res.status})`, attempts: attempt };
      failure = `endpoint answered HTTP ${res.status}`;
    } catch (err) {
      // The log gets the cause and the host, never the URL's path or query (they may carry the receiver's token).
      const denied = findEgressDenied(err);
      Context.current().log.warn(denied ? 'webhook destination refused' : 'webhook delivery failed', {
        pipelineId,
        objectId: obj.id,
        attempt,
        host: hostOf(config.url),
        error: errorDetail(err),
        ...(denied ? { deniedAddresses: denied.addresses } : {}),
      });
      const shown = publicDestinationError(err, deps.egress.mode === 'strict');
      if (denied) return { status: RUN_STATUS.failed, error: shown!, attempts: attempt };
      failure = shown ?? `delivery failed: ${errorMessage(err)}`;
    }
    throw new DeliveryFailed(failure);
  };
  try {
    return await backOff(deliver, {
      numOfAttempts: config.maxAttempts,
      startingDelay: deps.retryBackoffMs,
      timeMultiple: 2,
      maxDelay: 30_000,
      jitter: 'none',
      retry: (err) => err instanceof DeliveryFailed,
    });
  } catch (err) {
    if (!(err instanceof DeliveryFailed)) throw err;
    return { status: RUN_STATUS.failed, error: `${err.message} after ${config.maxAttempts} attempts`, attempts: config.maxAttempts };
  }
}

const hostOf = (url: string): string => {
  try {
    return new URL(url).host;
  } catch {
    return '?';
  }
};
