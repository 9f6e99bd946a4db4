/**
 * What a visitor's browser does on the company website: the tracking snippet's requests
 * (`GET /t/v` for a signed visitor id, `POST /t/e` page-view beacons as `text/plain` JSON, the way
 * `navigator.sendBeacon` sends them) and the embedded form's urlencoded POST to `/f/:formId`.
 */
import { createHash } from 'node:crypto';
import { withRetryAfter } from './api.js';
import { FORM_ID, type Person } from './scenario.js';

export const SITE = 'https://www.northwind-leadflow.example';
const userAgent =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 leadflow-demo';

const titles: Record<string, string> = {
  '/': 'Northwind – lead scoring for B2B teams',
  '/product': 'Product – Northwind',
  '/pricing': 'Pricing – Northwind',
  '/careers': 'Careers – Northwind',
  '/customers/nordwind': 'Case study: Nordwind Logistik – Northwind',
};

/** A page-view id that is the same on every run, so a repeated demo counts each view once. */
function pageViewId(email: string, n: string): string {
  return `demo-${createHash('sha256').update(`${email}|${n}`).digest('base64url').slice(0, 24)}`;
}

export async function newVisitor(base: string): Promise<string> {
  const res = await withRetryAfter(() => fetch(`${base}/t/v`, { headers: { 'User-Agent': userAgent } }));
  if (!res.ok) throw new Error(`GET /t/v: HTTP ${res.status}`);
  return ((await res.json()) as { vid: string }).vid;
}

export async function pageView(
  base: string,
  vid: string,
  person: Person,
  pagePath: string,
  n: string,
  withCampaign = false,
): Promise<void> {
  const url = new URL(pagePath, SITE);
  if (withCampaign && person.utm) for (const [k, v] of Object.entries(person.utm)) url.searchParams.set(k, v);
  const beacon = {
    e: 'page_view',
    v: vid,
    id: pageViewId(person.email, n),
    url: url.toString(),
    title: titles[pagePath] ?? 'Northwind',
    referrer: withCampaign && person.utm?.utm_source === 'google' ? 'https://www.google.com/' : '',
  };
  const res = await withRetryAfter(() =>
    fetch(`${base}/t/e`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8', 'User-Agent': userAgent },
      body: JSON.stringify(beacon),
    }),
  );
  if (res.status !== 204) throw new Error(`POST /t/e: HTTP ${res.status} ${await res.text()}`);
}

/** The form as a browser posts it: urlencoded, the embed's hidden fields filled in, then a 303. */
export async function submitForm(base: string, vid: string, person: Person): Promise<void> {
  const fields: Record<string, string> = {
    email: person.email,
    firstName: person.firstName,
    lastName: person.lastName,
    company: person.company,
    title: person.title,
    country: person.country,
    team_size: person.teamSize,
    ...person.bant,
    ...(person.utm ?? {}),
    lf_page: `${SITE}/pricing`,
    _hp: '',
    // the embed script stamps the time the page was rendered: this visitor took 25 s to fill it in
    _ts: String(Date.now() - 25_000),
    lf_vid: vid,
  };
  const res = await withRetryAfter(() =>
    fetch(`${base}/f/${FORM_ID}`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'User-Agent': userAgent,
        Origin: SITE,
        Referer: `${SITE}/pricing`,
      },
      body: new URLSearchParams(fields).toString(),
    }),
  );
  if (res.status !== 303) {
    const page = (await res.text()).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
    throw new Error(`POST /f/${FORM_ID} for ${person.email}: HTTP ${res.status}: ${page.trim()}`);
  }
  await res.arrayBuffer();
}

/** Anonymous browsing first (the views attach to the lead at the submission), then the form. */
export async function visitAndSubmit(base: string, person: Person): Promise<string> {
  const vid = await newVisitor(base);
  for (const [i, p] of person.visits.entries()) await pageView(base, vid, person, p, `visit-${i}`, i === 0);
  await submitForm(base, vid, person);
  return vid;
}
