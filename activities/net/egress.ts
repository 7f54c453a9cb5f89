/**
 * The egress policy enforced where sockets are opened: on every address a
 * hostname resolves to (a custom `lookup`, so DNS rebinding and alternate
 * spellings get no further than the address they resolve to), and on IP
 * literals, which net.connect never looks up.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { Agent as HttpAgent, type AgentOptions, type ClientRequestArgs } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Duplex } from 'node:stream';
import { Agent as UndiciAgent, buildConnector } from 'undici';
import { EGRESS_DENIED_MESSAGE, normalizeHost, type EgressPolicy } from '../../domain/egress-policy.js';

/** A refused destination. Its message is fixed; `host` and `addresses` are for the worker's log only. */
export class EgressDeniedError extends Error {
  readonly code = 'EGRESS_DENIED';
  constructor(
    readonly host: string,
    readonly addresses: string[],
  ) {
    super(EGRESS_DENIED_MESSAGE);
    this.name = 'EgressDeniedError';
  }
}

/** Whether an error, or anything in its cause chain, is a refused destination. */
export function findEgressDenied(err: unknown): EgressDeniedError | null {
  let e: unknown = err;
  for (let depth = 0; e && depth < 10; depth++) {
    if (e instanceof EgressDeniedError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/** dns.lookup that drops every address the policy refuses, and fails when none is left. */
export function egressLookup(policy: EgressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const allowed = addresses.filter((a) => policy.allows(hostname, a.address));
      if (allowed.length === 0)
        return callback(
          new EgressDeniedError(
            hostname,
            addresses.map((a) => a.address),
          ),
          '',
          0,
        );
      if (options.all) return callback(null, allowed);
      callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

/** The refusal for an IP-literal host, which is connected to without a lookup; null for names and allowed literals. */
function literalRefusal(policy: EgressPolicy, host: string | null | undefined): EgressDeniedError | null {
  const h = normalizeHost(host ?? '');
  if (isIP(h) === 0 || policy.allows(h, h)) return null;
  return new EgressDeniedError(h, [h]);
}

type ConnectCallback = (err: Error | null, stream: Duplex) => void;

/** Checks IP literals before connecting; names go through the agent's `lookup`. */
function guarded(
  policy: EgressPolicy,
  options: ClientRequestArgs,
  callback: ConnectCallback | undefined,
  connect: () => Duplex | null | undefined,
): Duplex | null | undefined {
  const refused = literalRefusal(policy, options.host ?? options.hostname);
  if (!refused) return connect();
  // The agent's (err, socket) callback: the request fails with the refusal, no socket is opened.
  process.nextTick(() => callback?.(refused, undefined as unknown as Duplex));
  return undefined;
}

class EgressHttpAgent extends HttpAgent {
  constructor(
    private readonly policy: EgressPolicy,
    options: AgentOptions,
  ) {
    super({ ...options, lookup: egressLookup(policy) } as AgentOptions);
  }
  override createConnection(options: ClientRequestArgs, callback?: ConnectCallback): Duplex | null | undefined {
    return guarded(this.policy, options, callback, () => super.createConnection(options, callback));
  }
}

class EgressHttpsAgent extends HttpsAgent {
  constructor(
    private readonly policy: EgressPolicy,
    options: HttpsAgentOptions,
  ) {
    super({ ...options, lookup: egressLookup(policy) } as HttpsAgentOptions);
  }
  override createConnection(options: ClientRequestArgs, callback?: ConnectCallback): Duplex | null | undefined {
    return guarded(this.policy, options, callback, () => super.createConnection(options, callback));
  }
}

/** node:http(s) agents whose every connection obeys the policy (for @smithy/node-http-handler). */
export function egressAgents(policy: EgressPolicy, options: AgentOptions): { httpAgent: HttpAgent; httpsAgent: HttpsAgent } {
  return { httpAgent: new EgressHttpAgent(policy, options), httpsAgent: new EgressHttpsAgent(policy, options) };
}

/** An undici dispatcher whose every connection obeys the policy (for fetch). */
export function egressDispatcher(policy: EgressPolicy): UndiciAgent {
  const connect = buildConnector({ lookup: egressLookup(policy) });
  return new UndiciAgent({
    connect: (options, callback) => {
      const refused = literalRefusal(policy, options.hostname);
      if (refused) return callback(refused, null);
      connect(options, callback);
    },
  });
}
