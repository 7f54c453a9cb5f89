/**
 * Where tenant-given destinations (S3 source endpoints, webhook URLs) may
 * connect. Matching uses net.BlockList on addresses; hostnames match by name
 * or `*.suffix`. Operator-configured endpoints (the lake, Temporal, Postgres,
 * JWKS) are not subject to it.
 *
 * Precedence, for a hostname and each address it resolves to:
 *  1. Address entries are matched against the address (and against the IPv4
 *     address an IPv6 one embeds: mapped, compatible, NAT64, 6to4); within one
 *     family the longest prefix wins. Name entries are matched against the
 *     hostname; an exact name beats a wildcard, a longer wildcard a shorter one.
 *     At equal specificity DENY beats ALLOW.
 *  2. Any winning DENY refuses; otherwise any winning ALLOW admits (overriding
 *     the defaults).
 *  3. Otherwise the defaults of the mode decide: `dev` refuses link-local and
 *     cloud-metadata destinations; `strict` also refuses loopback, private,
 *     shared (CGNAT), unspecified, multicast, broadcast and reserved space.
 */
import { BlockList, isIP } from 'node:net';

export type EgressMode = 'strict' | 'dev';
export type Verdict = 'allow' | 'deny';

export type EgressEntry =
  { kind: 'cidr'; family: 'ipv4' | 'ipv6'; network: string; prefix: number; text: string } | { kind: 'name'; name: string; wildcard: boolean; text: string };

/** The one message a refused destination gets, wherever it surfaces: it says nothing about what is there. */
export const EGRESS_DENIED_MESSAGE = 'destination is not allowed by the egress policy';

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** A host as a comparable string: lower-case, without brackets or a trailing dot. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.') && isIP(h.slice(0, -1)) === 0) h = h.slice(0, -1);
  return h;
}

/** One ALLOW/DENY entry: `10.0.0.0/8`, `fd00::/8`, `192.0.2.7`, `::1`, `minio.internal` or `*.example.com`. */
function parseEgressEntry(raw: string): EgressEntry | string {
  const text = raw.trim();
  const s = text.toLowerCase();
  const slash = s.indexOf('/');
  const ip = normalizeHost(slash === -1 ? s : s.slice(0, slash));
  const family = isIP(ip);
  if (family !== 0) {
    const max = family === 4 ? 32 : 128;
    const prefixText = slash === -1 ? String(max) : s.slice(slash + 1);
    const prefix = Number(prefixText);
    if (!/^\d{1,3}$/.test(prefixText) || prefix > max) return `"${text}" has a prefix length outside 0-${max}`;
    return { kind: 'cidr', family: family === 4 ? 'ipv4' : 'ipv6', network: ip, prefix, text };
  }
  if (slash !== -1) return `"${text}" is not a CIDR (address/prefix)`;
  const wildcard = s.startsWith('*.');
  const name = normalizeHost(wildcard ? s.slice(2) : s);
  const labels = name.split('.');
  // A name needs a non-numeric last label: "127.1" or "2130706433" are addresses in disguise, not names.
  if (name.length > 253 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels.at(-1)!) || /^0x[0-9a-f]*$/.test(labels.at(-1)!)) {
    return `"${text}" is not a CIDR, an IP address, a hostname or *.domain`;
  }
  return { kind: 'name', name, wildcard, text };
}

/** A comma-separated list of entries, with every bad one reported. */
export function parseEgressList(value: string): { entries: EgressEntry[]; problems: string[] } {
  const entries: EgressEntry[] = [];
  const problems: string[] = [];
  for (const part of value.split(',')) {
    if (part.trim() === '') continue;
    const e = parseEgressEntry(part);
    if (typeof e === 'string') problems.push(e);
    else entries.push(e);
  }
  return { entries, problems };
}

// Denied in every mode unless allowed: link-local and the cloud providers' instance metadata and service addresses.
const METADATA_V4 = [
  ['169.254.0.0', 16],
  ['100.100.100.200', 32],
] as const;
const METADATA_V6 = [
  ['fe80::', 10],
  ['fd00:ec2::', 32],
] as const;
const METADATA_NAMES = ['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal'];

// Denied in strict mode unless allowed.
const STRICT_V4 = [
  ['0.0.0.0', 8], // "this network", 0.0.0.0
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // shared address space (CGNAT)
  ['127.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24],
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255 broadcast
] as const;
const STRICT_V6 = [
  ['::', 128], // unspecified
  ['::1', 128],
  ['100::', 64], // discard-only
  ['64:ff9b:1::', 48], // local-use NAT64, embedding varies
  ['2001::', 32], // Teredo: the IPv4 it reaches is obfuscated
  ['2001:10::', 28],
  ['2001:20::', 28],
  ['2001:db8::', 32],
  ['3fff::', 20],
  ['5f00::', 16],
  ['fc00::', 7], // unique local (private)
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const;
const STRICT_NAMES = ['localhost', '*.localhost'];

function blockList(v4: readonly (readonly [string, number])[], v6: readonly (readonly [string, number])[]): { ipv4: BlockList; ipv6: BlockList } {
  const ipv4 = new BlockList();
  for (const [net, prefix] of v4) ipv4.addSubnet(net, prefix, 'ipv4');
  const ipv6 = new BlockList();
  for (const [net, prefix] of v6) ipv6.addSubnet(net, prefix, 'ipv6');
  return { ipv4, ipv6 };
}

const DEFAULTS: Record<EgressMode, { lists: { ipv4: BlockList; ipv6: BlockList }; names: EgressEntry[] }> = {
  dev: { lists: blockList(METADATA_V4, METADATA_V6), names: METADATA_NAMES.map((n) => parseEgressEntry(n) as EgressEntry) },
  strict: {
    lists: blockList([...METADATA_V4, ...STRICT_V4], [...METADATA_V6, ...STRICT_V6]),
    names: [...METADATA_NAMES, ...STRICT_NAMES].map((n) => parseEgressEntry(n) as EgressEntry),
  },
};

/** The eight 16-bit groups of an IPv6 address (which must be valid). */
function ipv6Groups(addr: string): number[] {
  let a = addr;
  const dotted = a.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const [b0, b1, b2, b3] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    a = `${a.slice(0, -dotted[1]!.length)}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => parseInt(g, 16));
}

const v4of = (hi: number, lo: number): string => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;

/** The IPv4 address an IPv6 one carries to: IPv4-mapped, IPv4-compatible, NAT64 (64:ff9b::/96) or 6to4 (2002::/16). */
export function embeddedIPv4(addr: string): string | null {
  const g = ipv6Groups(addr);
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeros(5) && g[5] === 0xffff) return v4of(g[6]!, g[7]!);
  if (zeros(6) && (g[6] !== 0 || g[7]! > 1)) return v4of(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4of(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4of(g[1]!, g[2]!);
  return null;
}

interface Rule {
  entry: EgressEntry;
  verdict: Verdict;
  list?: BlockList;
}

/** Most specific match wins; DENY wins a tie. */
function best(matches: { verdict: Verdict; specificity: number }[]): Verdict | null {
  let top: { verdict: Verdict; specificity: number } | null = null;
  for (const m of matches) {
    if (!top || m.specificity > top.specificity || (m.specificity === top.specificity && m.verdict === 'deny')) top = m;
  }
  return top?.verdict ?? null;
}

function nameMatches(entry: EgressEntry, host: string): number | null {
  if (entry.kind !== 'name') return null;
  if (!entry.wildcard) return host === entry.name ? 1000 : null;
  return host.endsWith(`.${entry.name}`) ? entry.name.split('.').length : null;
}

export class EgressPolicy {
  private readonly rules: Rule[];

  constructor(
    readonly mode: EgressMode,
    allow: EgressEntry[] = [],
    deny: EgressEntry[] = [],
  ) {
    this.rules = [...allow.map((entry) => ({ entry, verdict: 'allow' as const })), ...deny.map((entry) => ({ entry, verdict: 'deny' as const }))].map((r) => {
      if (r.entry.kind !== 'cidr') return r;
      const list = new BlockList();
      list.addSubnet(r.entry.network, r.entry.prefix, r.entry.family);
      return { ...r, list };
    });
  }

  /** Whether a connection to `address`, reached through `host` (a name, or the address itself), is allowed. */
  allows(host: string | null, address: string): boolean {
    const addr = normalizeHost(address);
    const family = isIP(addr);
    if (family === 0) return false;
    const forms: { family: 'ipv4' | 'ipv6'; addr: string }[] = [{ family: family === 4 ? 'ipv4' : 'ipv6', addr }];
    const inner = family === 6 ? embeddedIPv4(addr) : null;
    if (inner) forms.push({ family: 'ipv4', addr: inner });
    const name = host === null ? null : normalizeHost(host);
    const verdicts = forms.map((f) => this.addressRule(f.family, f.addr));
    if (name !== null && isIP(name) === 0) verdicts.push(this.nameRule(name));
    if (verdicts.includes('deny')) return false;
    if (verdicts.includes('allow')) return true;
    if (name !== null && this.defaultDeniesName(name)) return false;
    const { lists } = DEFAULTS[this.mode];
    return !forms.some((f) => lists[f.family].check(f.addr, f.family));
  }

  /**
   * What is wrong with a tenant-given URL's host, checked without resolving it:
   * an IP literal the policy refuses, or a name denied explicitly or by default
   * (`localhost`, `metadata.google.internal`). Names that resolve to refused
   * addresses are caught when connecting.
   */
  urlProblem(url: string): string | null {
    let host: string;
    try {
      host = normalizeHost(new URL(url).hostname);
    } catch {
      return null; // the schema reports malformed URLs
    }
    if (host === '') return null;
    if (isIP(host) !== 0) return this.allows(host, host) ? null : 'is an address the egress policy does not allow';
    const rule = this.nameRule(host);
    if (rule === 'deny' || (rule === null && this.defaultDeniesName(host))) return 'is a host the egress policy does not allow';
    return null;
  }

  private addressRule(family: 'ipv4' | 'ipv6', addr: string): Verdict | null {
    const matches = [];
    for (const r of this.rules) {
      if (r.entry.kind === 'cidr' && r.entry.family === family && r.list!.check(addr, family))
        matches.push({ verdict: r.verdict, specificity: r.entry.prefix });
    }
    return best(matches);
  }

  private nameRule(host: string): Verdict | null {
    const matches = [];
    for (const r of this.rules) {
      const specificity = nameMatches(r.entry, host);
      if (specificity !== null) matches.push({ verdict: r.verdict, specificity });
    }
    return best(matches);
  }

  private defaultDeniesName(host: string): boolean {
    return DEFAULTS[this.mode].names.some((e) => nameMatches(e, host) !== null);
  }
}
