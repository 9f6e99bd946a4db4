import { createHash } from 'node:crypto';
import { Types } from 'mongoose';

/**
 * Free-mail and ISP domains: an address there says nothing about the company, so conversion never
 * matches (or names) an account by it.
 */
export const freeMailDomains = new Set([
  'gmail.com',
  'googlemail.com',
  'yahoo.com',
  'yahoo.co.uk',
  'yahoo.fr',
  'yahoo.de',
  'yahoo.es',
  'yahoo.it',
  'yahoo.co.jp',
  'yahoo.com.br',
  'ymail.com',
  'rocketmail.com',
  'hotmail.com',
  'hotmail.co.uk',
  'hotmail.fr',
  'hotmail.de',
  'hotmail.it',
  'hotmail.es',
  'outlook.com',
  'outlook.fr',
  'outlook.de',
  'live.com',
  'live.co.uk',
  'live.fr',
  'msn.com',
  'passport.com',
  'aol.com',
  'aim.com',
  'icloud.com',
  'me.com',
  'mac.com',
  'gmx.com',
  'gmx.de',
  'gmx.net',
  'gmx.at',
  'gmx.ch',
  'web.de',
  't-online.de',
  'freenet.de',
  'mail.com',
  'email.com',
  'mail.ru',
  'inbox.ru',
  'list.ru',
  'bk.ru',
  'yandex.ru',
  'yandex.com',
  'ya.ru',
  'rambler.ru',
  'protonmail.com',
  'protonmail.ch',
  'proton.me',
  'pm.me',
  'tutanota.com',
  'tuta.io',
  'zoho.com',
  'zohomail.com',
  'fastmail.com',
  'fastmail.fm',
  'hushmail.com',
  'hey.com',
  'qq.com',
  '163.com',
  '126.com',
  'sina.com',
  'sohu.com',
  'yeah.net',
  'naver.com',
  'daum.net',
  'hanmail.net',
  'orange.fr',
  'wanadoo.fr',
  'free.fr',
  'sfr.fr',
  'laposte.net',
  'libero.it',
  'virgilio.it',
  'tiscali.it',
  'alice.it',
  'btinternet.com',
  'sky.com',
  'virginmedia.com',
  'talktalk.net',
  'ntlworld.com',
  'comcast.net',
  'verizon.net',
  'att.net',
  'sbcglobal.net',
  'bellsouth.net',
  'cox.net',
  'charter.net',
  'earthlink.net',
  'optonline.net',
  'shaw.ca',
  'rogers.com',
  'sympatico.ca',
  'bigpond.com',
  'optusnet.com.au',
  'xtra.co.nz',
  'rediffmail.com',
  'seznam.cz',
  'centrum.cz',
  'wp.pl',
  'o2.pl',
  'onet.pl',
  'interia.pl',
  'bluewin.ch',
  'telenet.be',
  'skynet.be',
  'ziggo.nl',
  'kpnmail.nl',
  'planet.nl',
  'home.nl',
  'uol.com.br',
  'bol.com.br',
  'terra.com.br',
  'ig.com.br',
  'gmx.fr',
  'mailinator.com',
  'guerrillamail.com',
  'yopmail.com',
]);

/** A host as a company domain: lower case, no port, no leading `www.`; undefined if not a host. */
export function normalizeDomain(host: string | null | undefined): string | undefined {
  if (!host) return undefined;
  let h = host.trim().toLowerCase();
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(h)) {
    try {
      h = new URL(h).hostname;
    } catch {
      return undefined;
    }
  } else {
    h = h.split(/[/?#:]/)[0] ?? '';
  }
  h = h.replace(/^www\./, '').replace(/\.$/, '');
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(h) && h.length <= 253 ? h : undefined;
}

/**
 * The company domain of a lead: its website's host, else its email's domain unless that is a
 * free-mail domain. Undefined when neither says anything about the company.
 */
export function companyDomain(email: string | null | undefined, website: unknown): string | undefined {
  const fromSite = typeof website === 'string' ? normalizeDomain(website) : undefined;
  if (fromSite && !freeMailDomains.has(fromSite)) return fromSite;
  const at = email ? email.lastIndexOf('@') : -1;
  const fromEmail = at >= 0 ? normalizeDomain(email!.slice(at + 1)) : undefined;
  return fromEmail && !freeMailDomains.has(fromEmail) ? fromEmail : undefined;
}

const legalSuffix =
  /[\s,]+(inc|incorporated|llc|l\.l\.c|ltd|limited|gmbh|ag|sa|sas|sarl|bv|nv|plc|co|corp|corporation|company|srl|spa|oy|ab|as|kg|pty)\.?$/;

/** A company name as conversion compares it: case-folded, spaces collapsed, legal suffix dropped. */
export function normalizeCompanyName(name: string | null | undefined): string | undefined {
  if (!name) return undefined;
  let n = name.normalize('NFKC').trim().toLowerCase().replace(/\s+/g, ' ');
  for (let i = 0; i < 2; i++) n = n.replace(legalSuffix, '').trim();
  n = n.replace(/[.,]+$/, '').trim();
  return n || undefined;
}

/** An ObjectId derived from a seed: the same step repeated inserts the same `_id`, which is refused. */
export function derivedId(seed: string): Types.ObjectId {
  return new Types.ObjectId(createHash('sha256').update(seed).digest('hex').slice(0, 24));
}

/** Salesforce's default opportunity name: "<Company> – <date>" (the date in UTC, ISO). */
export function opportunityName(company: string, at: Date): string {
  return `${company} – ${at.toISOString().slice(0, 10)}`;
}
