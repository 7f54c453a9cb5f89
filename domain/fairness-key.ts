import { createHash } from 'node:crypto';

/** Temporal's limit on a fairness key. */
const MAX_KEY_BYTES = 64;

/**
 * The Temporal fairness key of an organisation's tasks (README "Tenant
 * fairness"): the organisation itself, or, for one longer than a key may be,
 * a digest of it, so each organisation keeps a key of its own.
 */
export function fairnessKeyOf(org: string): string {
  if (Buffer.byteLength(org, 'utf8') <= MAX_KEY_BYTES) return org;
  return `sha256:${createHash('sha256')
    .update(org)
    .digest('hex')
    .slice(0, MAX_KEY_BYTES - 'sha256:'.length)}`;
}
