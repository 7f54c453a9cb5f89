import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, SQSServiceException, type Message } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Logger } from 'pino';
import type { Client } from '@temporalio/client';
import { sql as dsql } from 'drizzle-orm';
import { sources, type SourceRow } from '../db/schema.js';
import type { Db } from '../db/client.js';
import type { EgressPolicy } from '../domain/egress-policy.js';
import { queueUrlRegion, type QueueCredentials, type SqsNotificationSettings } from '../domain/notifications.js';
import { queuedChangeEvents, type ChangeEvent } from '../domain/s3-events.js';
import type { SecretBox } from '../domain/secrets.js';
import type { S3Credentials } from '../domain/source-config.js';
import { kindedConnection } from '../domain/source-kinds.js';
import { acceptChangeEvents } from '../api/change-events.js';
import { egressAgents, findEgressDenied } from '../activities/net/egress.js';
import type { SourceFollower } from './source-leases.js';

/** SQS's longest long poll: an idle queue costs one request per 20 s. */
const WAIT_SECONDS = 20;
/** Backoff after a failed receive or store: doubling from 1 s, at most 5 minutes. */
const BACKOFF_MS = { first: 1_000, max: 300_000 };
/** What lakesync writes into a source's lastError starts so, and only such an error is cleared when the queue answers again. */
const REPORT_PREFIX = 'notifications: ';

export interface QueuePollerDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  secrets: SecretBox;
  egress: EgressPolicy;
  log: Logger;
}

interface Polled {
  /** The settings it polls with: a PATCH sets it up again. */
  version: number;
  abort: AbortController;
  client: SQSClient | null;
  done: Promise<void>;
}

/**
 * S3 sources with `notifications.mode = sqs`, on the worker that holds their
 * lease (workers/source-leases.ts): long-polls the queue, feeds each message's
 * events to acceptChangeEvents and deletes the messages only once their
 * events are stored, so a worker killed in between leaves them to be
 * delivered again (at least once; a repeated event is harmless: the targeted
 * run HEADs the key and finds nothing to do). A message that is no S3 event
 * notification is logged (its id, never its body) and deleted: it would never
 * parse, and a queue without a redrive policy would hand it out forever.
 */
export class QueuePollers implements SourceFollower {
  private readonly polled = new Map<string, Polled>();

  constructor(private readonly deps: QueuePollerDeps) {}

  following(): Iterable<string> {
    return this.polled.keys();
  }

  async follow(source: SourceRow, bucketName: string): Promise<void> {
    const current = this.polled.get(source.id);
    if (current && current.version === source.updatedAt.getTime()) return;
    if (current) await this.unfollow(source.id);
    const settings = source.notifications;
    if (settings.mode !== 'sqs') return;
    const abort = new AbortController();
    const client = this.client(source, settings);
    const p: Polled = { version: source.updatedAt.getTime(), abort, client, done: Promise.resolve() };
    // Kept without a client too: a source with nothing to poll with is set up again only once its settings change.
    this.polled.set(source.id, p);
    if (!client) return this.report(source.id, 'the queue has no credentials: give notifications.credentials, or the source its S3 credentials');
    p.done = this.poll(source, bucketName, settings.queueUrl, client, abort.signal);
    this.deps.log.info({ sourceId: source.id }, 'polling the SQS queue of the source');
  }

  async unfollow(sourceId: string): Promise<void> {
    const p = this.polled.get(sourceId);
    if (!p) return;
    this.polled.delete(sourceId);
    // Cuts the long poll (and a delete in flight) short; messages already received are stored first. A message not
    // deleted, or handed to the cut poll in the moment it ends, is not lost: it comes again after the queue's
    // visibility timeout, to whichever worker polls the queue then.
    p.abort.abort();
    await p.done;
    p.client?.destroy();
    this.deps.log.info({ sourceId }, 'stopped polling the SQS queue of the source');
  }

  /** A client for the queue: its own credentials, else the source's S3 ones; every connection obeys the egress policy. */
  private client(source: SourceRow, settings: SqsNotificationSettings): SQSClient | null {
    const c = kindedConnection(source.connection);
    const creds = source.sealedNotificationToken
      ? this.deps.secrets.open<QueueCredentials>(source.sealedNotificationToken)
      : source.sealedCredentials && c.kind === 's3'
        ? this.deps.secrets.open<S3Credentials>(source.sealedCredentials)
        : null;
    if (!creds) return null;
    return new SQSClient({
      // Set, so the SDK sends every request exactly where the edge checked (never to a host a queue URL names instead).
      endpoint: settings.endpoint ?? new URL(settings.queueUrl).origin,
      region: settings.region ?? queueUrlRegion(settings.queueUrl) ?? (c.kind === 's3' ? c.settings.region : 'us-east-1'),
      credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken },
      // A long poll holds its request for WAIT_SECONDS: the timeout must outlast it.
      requestHandler: new NodeHttpHandler({
        ...egressAgents(this.deps.egress, { keepAlive: true, maxSockets: 2 }),
        requestTimeout: (WAIT_SECONDS + 10) * 1000,
      }),
      maxAttempts: 1,
    });
  }

  private async poll(source: SourceRow, bucketName: string, queueUrl: string, client: SQSClient, signal: AbortSignal): Promise<void> {
    let failures = 0;
    // A problem reported earlier (by this worker or the one before it) is cleared once the queue answers.
    let reported = true;
    while (!signal.aborted) {
      try {
        // While a problem may be on show, the first answer comes at once, so a queue that is back clears it at once.
        const wait = reported ? 0 : WAIT_SECONDS;
        const res = await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: wait }), {
          abortSignal: signal,
        });
        if (reported) await this.clearReport(source.id);
        reported = false;
        failures = 0;
        const messages = res.Messages ?? [];
        if (messages.length > 0) await this.take(source, bucketName, queueUrl, client, messages, signal);
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        const problem = describeQueueError(err);
        this.deps.log.warn({ sourceId: source.id, problem, failures }, 'SQS queue poll failed; trying again after a backoff');
        if (isQueueProblem(err)) {
          await this.report(source.id, `the SQS queue could not be read: ${problem}`);
          reported = true;
        }
        await sleep(Math.min(BACKOFF_MS.first * 2 ** (failures - 1), BACKOFF_MS.max), undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /** Stores the messages' events, then deletes the messages: a failure before the delete leaves them to be delivered again. */
  private async take(source: SourceRow, bucketName: string, queueUrl: string, client: SQSClient, messages: Message[], signal: AbortSignal): Promise<void> {
    const events: ChangeEvent[] = [];
    let undecodable = 0;
    for (const m of messages) {
      const parsed = queuedChangeEvents(m.Body ?? '');
      if ('problem' in parsed) {
        this.deps.log.warn({ sourceId: source.id, messageId: m.MessageId, problem: parsed.problem }, 'SQS message is no S3 event notification: deleted');
        continue;
      }
      events.push(...parsed.events);
      undecodable += parsed.undecodable;
    }
    if (events.length > 0 || undecodable > 0) {
      const { accepted, ignored } = await acceptChangeEvents(this.deps, source, bucketName, events, undecodable);
      this.deps.log.debug({ sourceId: source.id, accepted, ignored }, 'SQS messages stored');
    }
    const entries = messages.flatMap((m, i) => (m.ReceiptHandle ? [{ Id: String(i), ReceiptHandle: m.ReceiptHandle }] : []));
    // A stop does not wait on a slow delete: the messages, stored already, come again and change nothing.
    const res = await client.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }), { abortSignal: signal });
    // Not deleted: delivered again once visible, and stored again, which changes nothing.
    if (res.Failed?.length) this.deps.log.warn({ sourceId: source.id, failed: res.Failed.length }, 'some SQS messages could not be deleted; they come again');
  }

  /** Shows a queue problem in the source's lastError (once: it is written only when it changes). */
  private async report(sourceId: string, problem: string): Promise<void> {
    const text = `${REPORT_PREFIX}${problem}`.slice(0, 1000);
    await this.deps.db
      .update(sources)
      .set({ lastError: text })
      .where(dsql`${sources.id} = ${sourceId} and ${sources.lastError} is distinct from ${text}`)
      .catch((err: unknown) => this.deps.log.warn({ err, sourceId }, 'could not record the queue problem on the source'));
  }

  /** Clears the source's lastError when it is a queue problem this poller reported (a run's error stays). */
  private async clearReport(sourceId: string): Promise<void> {
    await this.deps.db
      .update(sources)
      .set({ lastError: null })
      .where(dsql`${sources.id} = ${sourceId} and starts_with(${sources.lastError}, ${REPORT_PREFIX})`)
      .catch((err: unknown) => this.deps.log.warn({ err, sourceId }, 'could not clear the queue problem on the source'));
  }
}

/** Errors the queue itself answered or a refused destination: the source's settings are at fault, not the worker's database. */
const isQueueProblem = (err: unknown): boolean => err instanceof SQSServiceException || findEgressDenied(err) !== null || hasNetworkCode(err);

const hasNetworkCode = (err: unknown): boolean => typeof (err as { code?: unknown }).code === 'string' && /^E[A-Z]+$/.test((err as { code: string }).code);

/** What a failure was, without anything sent or signed: the service's error code and message, a network code, or the egress refusal. */
function describeQueueError(err: unknown): string {
  const denied = findEgressDenied(err);
  if (denied) return denied.message;
  const clean = (s: string) => s.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 300);
  if (err instanceof SQSServiceException) return clean(`${err.name}: ${err.message}`);
  if (hasNetworkCode(err)) return (err as { code: string }).code;
  return clean(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
}
