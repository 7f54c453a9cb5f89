import type { Agent } from 'undici';
import type { EgressPolicy } from '../../domain/egress-policy.js';
import { egressDispatcher } from './egress.js';

const pools = new WeakMap<EgressPolicy, Agent>();

/** One connection pool per policy (per process), every connection checked against it. */
export function egressPool(policy: EgressPolicy): Agent {
  let pool = pools.get(policy);
  if (!pool) pools.set(policy, (pool = egressDispatcher(policy)));
  return pool;
}
