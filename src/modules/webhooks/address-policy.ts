import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

/**
 * Which webhook targets leadflow refuses unless WEBHOOK_ALLOW_PRIVATE is set: anything that is not
 * a public unicast address (loopback, private networks, link-local, where cloud metadata services
 * live, carrier-grade NAT, documentation, multicast, reserved), so a webhook cannot be pointed at
 * the machine or network leadflow runs in (SSRF).
 *
 * Checked twice: when the webhook is saved, and at every delivery on the addresses DNS gives at
 * that moment, which are then the only ones connected to (a name that resolved to a public
 * address when saved and to 127.0.0.1 later — DNS rebinding — is refused at delivery).
 */
type Range = { bytes: number[]; prefix: number; reason: string };

const v4 = (cidr: string, reason: string): Range => {
  const [ip, prefix] = cidr.split('/');
  return { bytes: parseIPv4(ip!)!, prefix: Number(prefix), reason };
};
const v6 = (cidr: string, reason: string): Range => {
  const [ip, prefix] = cidr.split('/');
  return { bytes: parseIPv6(ip!)!, prefix: Number(prefix), reason };
};

const ipv4Ranges: Range[] = [
  v4('0.0.0.0/8', '"this network" (reaches the local machine)'),
  v4('10.0.0.0/8', 'private'),
  v4('100.64.0.0/10', 'carrier-grade NAT (shared, not public)'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local (cloud metadata services live here)'),
  v4('172.16.0.0/12', 'private'),
  v4('192.0.0.0/24', 'IETF protocol assignments'),
  v4('192.0.2.0/24', 'documentation'),
  v4('192.88.99.0/24', '6to4 relay anycast'),
  v4('192.168.0.0/16', 'private'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('198.51.100.0/24', 'documentation'),
  v4('203.0.113.0/24', 'documentation'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'),
];

const ipv6Ranges: Range[] = [
  v6('::/128', 'unspecified (reaches the local machine)'),
  v6('::1/128', 'loopback'),
  v6('::/96', 'IPv4-compatible (deprecated)'),
  v6('64:ff9b:1::/48', 'local-use NAT64'),
  v6('100::/64', 'discard-only'),
  v6('2001::/32', 'Teredo tunnelling'),
  v6('2001:10::/28', 'ORCHID'),
  v6('2001:db8::/32', 'documentation'),
  v6('fc00::/7', 'unique local (private)'),
  v6('fe80::/10', 'link-local'),
  v6('fec0::/10', 'site-local (deprecated, private)'),
  v6('ff00::/8', 'multicast'),
];

function parseIPv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.map(Number);
}

/** 16 bytes of an IPv6 address in any textual form (`::` shorthand, a trailing dotted IPv4). */
function parseIPv6(text: string): number[] | undefined {
  if (isIP(text) !== 6) return undefined;
  // a trailing dotted IPv4 (::ffff:127.0.0.1) is two more hex groups
  const hex = text.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a, b, c, d) =>
    [(Number(a) << 8) | Number(b), (Number(c) << 8) | Number(d)].map((n) => n.toString(16)).join(':'),
  );
  const [left, right] = hex.split('::') as [string, string | undefined];
  const toGroups = (s: string) => (s === '' ? [] : s.split(':'));
  let groups = toGroups(left);
  if (right !== undefined) {
    const r = toGroups(right);
    groups = [...groups, ...Array<string>(8 - groups.length - r.length).fill('0'), ...r];
  }
  if (groups.length !== 8) return undefined;
  return groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

function inRange(bytes: number[], range: Range): boolean {
  if (bytes.length !== range.bytes.length) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (range.bytes[i]! & mask)) return false;
  }
  return true;
}

/**
 * Why `ip` (a literal IPv4 or IPv6 address) may not be a webhook target, or undefined when it is a
 * public address. IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, NAT64
 * `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the IPv4 address they carry.
 */
export function addressRefusal(ip: string): string | undefined {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const four = parseIPv4(bare);
  if (four) return ipv4Ranges.find((r) => inRange(four, r))?.reason;
  const six = parseIPv6(bare);
  if (!six) return 'not an IP address';
  const zeros = (from: number, to: number) => six.slice(from, to).every((b) => b === 0);
  if (zeros(0, 10) && six[10] === 0xff && six[11] === 0xff) return addressRefusal(six.slice(12).join('.'));
  if (six[0] === 0x00 && six[1] === 0x64 && six[2] === 0xff && six[3] === 0x9b && zeros(4, 12)) {
    return addressRefusal(six.slice(12).join('.'));
  }
  if (six[0] === 0x20 && six[1] === 0x02) return addressRefusal(six.slice(2, 6).join('.'));
  return ipv6Ranges.find((r) => inRange(six, r))?.reason;
}

/** A name that is loopback by definition (RFC 6761), whatever DNS says. */
export function isLoopbackName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

/** Raised when a webhook target is not allowed; the message says which address and why. */
export class RefusedTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RefusedTargetError';
  }
}

/** The bare host of a URL: IPv6 literals lose their brackets. */
export function urlHost(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** Refuses a literal IP host or a loopback name; a DNS name is judged by what it resolves to. */
export function checkLiteralHost(host: string): void {
  if (isIP(host)) {
    const reason = addressRefusal(host);
    if (reason) throw new RefusedTargetError(`${host} is a ${reason} address`);
  } else if (isLoopbackName(host)) {
    throw new RefusedTargetError(`${host} is a loopback name`);
  }
}

function checkResolved(host: string, addresses: LookupAddress[]): void {
  for (const a of addresses) {
    const reason = addressRefusal(a.address);
    if (reason) throw new RefusedTargetError(`${host} resolves to ${a.address}, a ${reason} address`);
  }
}

/**
 * The check at save time. A name that does not resolve now is accepted (DNS may be down, or the
 * receiver not yet published); every delivery checks again.
 */
export async function vetTarget(url: URL): Promise<void> {
  const host = urlHost(url);
  checkLiteralHost(host);
  if (isIP(host)) return;
  const addresses = await new Promise<LookupAddress[] | undefined>((resolve) =>
    dnsLookup(host, { all: true, verbatim: true }, (err, found) => resolve(err ? undefined : found)),
  );
  if (addresses) checkResolved(host, addresses);
}

/**
 * A `lookup` for http.request that resolves, refuses the whole name if any address it gives is
 * not public, and hands the socket only the addresses it checked (so no second, unchecked
 * resolution happens between the check and the connection).
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true, verbatim: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    try {
      if (isLoopbackName(hostname)) throw new RefusedTargetError(`${hostname} is a loopback name`);
      checkResolved(hostname, addresses);
    } catch (refused) {
      return callback(refused as NodeJS.ErrnoException, '', 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    const first = addresses[0];
    if (!first)
      return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
    callback(null, first.address, first.family);
  });
};
