/**
 * Header mapping: which lead field or attribute each CSV column fills. Pure, no I/O.
 * Column names from Salesforce and HubSpot exports (and our own camelCase API names) are matched
 * case-, space-, underscore- and punctuation-insensitively; every other column becomes a custom
 * attribute under a safe key.
 */

/** Lead fields an import may set (`source` comes from the import itself, not from a column). */
export type ImportField = 'email' | 'firstName' | 'lastName' | 'company' | 'title' | 'phone' | 'country';

export type ColumnTarget =
  | { kind: 'field'; key: ImportField }
  | { kind: 'attribute'; key: string }
  /** an Email Opt Out column: a "yes" suppresses marketing email for the person before any enrollment */
  | { kind: 'optOut'; key: 'emailOptOut' }
  | { kind: 'ignore' };

export type HeaderMapping = {
  /** one target per column, in column order */
  columns: ColumnTarget[];
  /** the header as read (trimmed), for reports */
  headers: string[];
};

/** "First Name", "first_name", "FIRSTNAME" and "first-name" all become "firstname". */
export function headerKey(header: string): string {
  return header.toLowerCase().replace(/[^a-z0-9]+/g, '');
}

const fieldSynonyms: Record<ImportField, string[]> = {
  email: ['email', 'emailaddress', 'e-mail', 'mail', 'primaryemail', 'workemail', 'businessemail'],
  firstName: ['firstname', 'givenname', 'forename', 'first'],
  lastName: ['lastname', 'surname', 'familyname', 'last'],
  // Salesforce "Company"/"Account Name", HubSpot "Company Name"/"Associated Company"
  company: [
    'company',
    'companyname',
    'account',
    'accountname',
    'organization',
    'organisation',
    'associatedcompany',
  ],
  title: ['title', 'jobtitle', 'position', 'role'],
  // Salesforce "Phone", HubSpot "Phone Number"
  phone: ['phone', 'phonenumber', 'businessphone', 'workphone', 'telephone', 'tel'],
  // Salesforce "Country"/"Mailing Country", HubSpot "Country/Region"
  country: ['country', 'countryregion', 'mailingcountry', 'countrycode', 'billingcountry'],
};

/** Well-known columns kept as attributes under a stable name, whatever the export calls them. */
const attributeSynonyms: Record<string, string[]> = {
  mobile: ['mobile', 'mobilephone', 'mobilephonenumber', 'cellphone'],
  leadSource: ['leadsource', 'originalsource', 'source'],
  street: ['street', 'mailingstreet', 'streetaddress', 'address', 'billingstreet'],
  city: ['city', 'mailingcity', 'billingcity'],
  state: [
    'state',
    'stateprovince',
    'mailingstate',
    'mailingstateprovince',
    'stateregion',
    'billingstate',
    'province',
  ],
  postalCode: [
    'zip',
    'zipcode',
    'postalcode',
    'zippostalcode',
    'mailingzip',
    'mailingzippostalcode',
    'mailingpostalcode',
    'postcode',
    'billingzip',
  ],
  website: ['website', 'websiteurl', 'url', 'companywebsite', 'companydomainname'],
  description: ['description', 'notes', 'message'],
  industry: ['industry'],
  lifecycleStage: ['lifecyclestage'],
  leadStatus: ['leadstatus', 'status'],
};

/** Salesforce "Email Opt Out" / HasOptedOutOfEmail, HubSpot "Unsubscribed from all email". */
const optOutSynonyms = [
  'emailoptout',
  'hasoptedoutofemail',
  'optedoutofemail',
  'emailoptedout',
  'optout',
  'donotemail',
  'unsubscribed',
  'unsubscribedfromallemail',
];

const lookup = new Map<string, ColumnTarget>();
for (const n of optOutSynonyms) lookup.set(n, { kind: 'optOut', key: 'emailOptOut' });
for (const [key, names] of Object.entries(fieldSynonyms)) {
  for (const n of names) lookup.set(headerKey(n), { kind: 'field', key: key as ImportField });
}
for (const [key, names] of Object.entries(attributeSynonyms)) {
  for (const n of names) lookup.set(headerKey(n), { kind: 'attribute', key });
}

const reservedKeys = new Set([
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'valueOf',
]);

/**
 * A custom attribute key from any header: camelCase letters and digits only, so never `$`, `.`,
 * or a prototype name, at most 64 characters; empty when nothing usable is left.
 */
export function safeAttributeKey(header: string): string {
  const words = header
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .filter(Boolean)
    .map((w) => (w === w.toUpperCase() ? w.toLowerCase() : w));
  let key = words
    .map((w, i) =>
      i === 0 ? w.charAt(0).toLowerCase() + w.slice(1) : w.charAt(0).toUpperCase() + w.slice(1),
    )
    .join('')
    .slice(0, 64);
  if (/^[0-9]/.test(key)) key = `c${key}`.slice(0, 64);
  return reservedKeys.has(key) ? `${key}Column` : key;
}

/** Maps a header row to targets. Two columns aiming at one target: both are kept, first non-empty wins. */
export function mapHeader(rawHeaders: string[], maxAttributes = 100): HeaderMapping {
  const headers = rawHeaders.map((h) => h.trim());
  const attributeKeys = new Set<string>();
  const columns = headers.map((h): ColumnTarget => {
    const known = lookup.get(headerKey(h));
    if (known?.kind === 'field' || known?.kind === 'optOut') return known;
    const key = known?.kind === 'attribute' ? known.key : safeAttributeKey(h);
    if (!key) return { kind: 'ignore' };
    // a lead holds a bounded number of attributes: columns past the limit are left out (and reported)
    if (!attributeKeys.has(key) && attributeKeys.size >= maxAttributes) return { kind: 'ignore' };
    attributeKeys.add(key);
    return { kind: 'attribute', key };
  });
  return { columns, headers };
}

/** Columns that will not be imported (no usable name, or past the attribute limit), for the report. */
export function ignoredColumns(mapping: HeaderMapping): string[] {
  return mapping.headers.filter((_, i) => mapping.columns[i]!.kind === 'ignore');
}

/** True when some column is the email: without one no row can be imported. */
export function hasEmailColumn(mapping: HeaderMapping): boolean {
  return mapping.columns.some((c) => c.kind === 'field' && c.key === 'email');
}
