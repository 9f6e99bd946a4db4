/** Campaign parameters carried into a lead's attribution (Google Analytics' names, plus click ids). */
export const campaignParams = [
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'gclid',
  'fbclid',
] as const;
export type CampaignParam = (typeof campaignParams)[number];
export type Campaign = Partial<Record<CampaignParam, string>>;

/** One touch: when a visitor arrived through a campaign (a page view or a form carrying its parameters). */
export type Touch = Campaign & { at: Date; landingPage?: string; referrer?: string };

const maxCampaignValue = 200;
const maxUrl = 2048;
// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u001f\u007f]/;

/** A campaign value as kept: a string of printable text, trimmed, at most 200 characters. */
function cleanValue(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  if (!t || t.length > maxCampaignValue || controlChars.test(t)) return undefined;
  return t;
}

/** The campaign parameters found in `source` (URL query or form fields); values that are not plain text are dropped. */
export function campaignFrom(source: URLSearchParams | Record<string, unknown>): Campaign {
  const get = (k: string) => (source instanceof URLSearchParams ? source.get(k) : source[k]);
  const out: Campaign = {};
  for (const p of campaignParams) {
    const v = cleanValue(get(p));
    if (v !== undefined) out[p] = v;
  }
  return out;
}

export function hasCampaign(c: Campaign): boolean {
  return campaignParams.some((p) => c[p] !== undefined);
}

/** An absolute http(s) URL of at most 2048 characters, or undefined. */
export function httpUrl(v: unknown): URL | undefined {
  if (typeof v !== 'string' || v.length > maxUrl || controlChars.test(v)) return undefined;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a page view keeps of its URL: host and path (never the query string, which can carry
 * personal data), the landing page (origin + path) and the campaign parameters of its query.
 */
export function describePage(url: URL): {
  host: string;
  path: string;
  landingPage: string;
  campaign: Campaign;
} {
  return {
    host: url.host,
    path: url.pathname.slice(0, 1000),
    landingPage: `${url.origin}${url.pathname}`.slice(0, maxUrl),
    campaign: campaignFrom(url.searchParams),
  };
}

/** A referrer as kept: an http(s) URL without its query string and fragment. */
export function cleanReferrer(v: unknown): string | undefined {
  const u = httpUrl(v);
  return u ? `${u.origin}${u.pathname}` : undefined;
}

/**
 * First and last touch from a lead's touch records: the earliest and the latest by time (ties by
 * key), so concurrent writers all compute the same answer, and a later touch can only move the
 * last one forward.
 */
export function attributionOf<T extends { at: Date; key: string }>(
  touches: T[],
): { firstTouch: T; lastTouch: T } | null {
  if (touches.length === 0) return null;
  const order = (a: T, b: T) =>
    a.at.getTime() - b.at.getTime() || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  const sorted = [...touches].sort(order);
  return { firstTouch: sorted[0]!, lastTouch: sorted[sorted.length - 1]! };
}

/** A touch as the lead shows it: `{at, utm_…, gclid?, fbclid?, landingPage?, referrer?}`, only what is known. */
export function touchView(t: Touch): Touch {
  const out: Touch = { at: t.at };
  for (const p of campaignParams) if (t[p]) out[p] = t[p];
  if (t.landingPage) out.landingPage = t.landingPage;
  if (t.referrer) out.referrer = t.referrer;
  return out;
}
