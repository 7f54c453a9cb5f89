/**
 * Presets for S3-compatible providers, as rclone's providers are: one field,
 * `provider`, fills the endpoint, the region and the addressing style. A field
 * given beside it wins (an endpoint pointed elsewhere, another region), so a
 * preset is a shorthand, never a restriction. Imports nothing but types.
 */

export const S3_PROVIDERS = ['aws', 'r2', 'tigris', 'gcs-hmac', 'b2', 'wasabi'] as const;
export type S3Provider = (typeof S3_PROVIDERS)[number];

/** What a preset needs besides its name. */
interface PresetInput {
  region?: string;
  accountId?: string;
}

interface Preset {
  /** The endpoint, or undefined when the preset needs a field it was not given (or, for AWS, leaves it to the SDK). */
  endpoint(i: PresetInput): string | undefined;
  /** The region when none is given; null when the preset needs one. */
  region: string | null;
  forcePathStyle: boolean;
  /** The field without which there is no endpoint. */
  needs?: 'accountId' | 'region';
}

export const S3_PRESETS: { readonly [P in S3Provider]: Preset } = {
  // The SDK's regional endpoints, virtual-hosted as AWS prefers.
  aws: { endpoint: () => undefined, region: 'us-east-1', forcePathStyle: false },
  r2: { endpoint: (i) => i.accountId && `https://${i.accountId}.r2.cloudflarestorage.com`, region: 'auto', forcePathStyle: true, needs: 'accountId' },
  tigris: { endpoint: () => 'https://t3.storage.dev', region: 'auto', forcePathStyle: false },
  // Google Cloud Storage's XML API with HMAC keys.
  'gcs-hmac': { endpoint: () => 'https://storage.googleapis.com', region: 'auto', forcePathStyle: true },
  b2: { endpoint: (i) => i.region && `https://s3.${i.region}.backblazeb2.com`, region: null, forcePathStyle: true, needs: 'region' },
  wasabi: { endpoint: (i) => `https://s3.${i.region ?? 'us-east-1'}.wasabisys.com`, region: 'us-east-1', forcePathStyle: true },
};

/** What a create or PATCH part may give beside the provider. */
export interface PresetFields {
  provider?: S3Provider;
  accountId?: string;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
}

/**
 * The endpoint, region and addressing style a part comes to: its own fields
 * first, then its provider's preset, then the plain S3 defaults.
 */
export function resolveS3Addressing(p: PresetFields): { endpoint?: string; region: string; forcePathStyle: boolean } {
  const preset = p.provider === undefined ? null : S3_PRESETS[p.provider];
  const endpoint = p.endpoint ?? preset?.endpoint({ region: p.region, accountId: p.accountId });
  return {
    ...(endpoint === undefined ? {} : { endpoint }),
    region: p.region ?? preset?.region ?? 'us-east-1',
    forcePathStyle: p.forcePathStyle ?? preset?.forcePathStyle ?? true,
  };
}

/** The field a provider still needs, as a 400 names it; null when it has what it needs. */
export function presetProblem(p: PresetFields): { field: 'accountId' | 'region'; problem: string } | null {
  if (p.accountId !== undefined && p.provider !== 'r2') return { field: 'accountId', problem: 'applies only with provider "r2"' };
  if (p.provider === undefined) return null;
  // The region becomes part of a host name.
  if (p.endpoint === undefined && p.region !== undefined && (p.provider === 'b2' || p.provider === 'wasabi') && !/^[a-z0-9-]{1,63}$/.test(p.region))
    return { field: 'region', problem: 'must be a region name such as us-west-004' };
  const needs = S3_PRESETS[p.provider].needs;
  if (needs === undefined || p.endpoint !== undefined || p[needs] !== undefined) return null;
  return { field: needs, problem: `is required with provider "${p.provider}"` };
}
