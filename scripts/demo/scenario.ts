/**
 * The demo's scenario: a "Request a demo" form with BANT-mapped fields, a two-step nurture with
 * short waits, scoring and fit rules, a qualification agreement signed by marketing and sales, two
 * reps in two territories, and a few dozen deterministic people who behave in three ways.
 *
 * Every address is on the reserved `.example` top-level domain (RFC 2606), so no mail can reach
 * anyone even when SMTP_URL points at a real server.
 */

export const FORM_ID = 'demo-request';
export const SEQUENCE_KEY = 'demo-nurture';

export const form = {
  name: 'Request a demo',
  redirectUrl: 'https://www.northwind-leadflow.example/thanks',
  source: 'Website',
  fields: [
    { name: 'company', required: true },
    { name: 'title', label: 'Job title' },
    { name: 'country', label: 'Country' },
    { name: 'team_size', label: 'Team size' },
    { name: 'budget', label: 'Budget for this project', bant: 'budget' },
    { name: 'decision_maker', label: 'Do you sign off on it?', bant: 'authority' },
    { name: 'use_case', label: 'What do you want to solve?', bant: 'need' },
    { name: 'timeline', label: 'When do you want to start?', bant: 'timeline' },
  ],
  sequence: SEQUENCE_KEY,
  minFillSeconds: 3,
};

const site = 'https://www.northwind-leadflow.example';

export const sequence = {
  name: 'Demo request nurture',
  steps: [
    {
      id: 'welcome',
      wait: '0s',
      subject: 'Your leadflow demo, {{lead.firstName}}',
      html:
        '<p>Hi {{lead.firstName}},</p>' +
        '<p>thanks for asking about a demo for {{lead.company}}. While we set it up, here is what ' +
        `teams like yours pay: <a href="${site}/pricing">our pricing</a>.</p>` +
        '<p>Talk soon,<br>Maria from the leadflow team</p>',
    },
    {
      id: 'case-study',
      wait: '15s',
      if: { notClicked: 'welcome' },
      subject: 'How Nordwind Logistik doubled its qualified pipeline',
      html:
        '<p>Hi {{lead.firstName}},</p>' +
        '<p>Nordwind Logistik scores every enquiry and hands the ready ones to sales the same day. ' +
        `<a href="${site}/customers/nordwind">Read the case study</a>.</p>` +
        '<p>Maria</p>',
    },
  ],
  exitOn: ['qualified', 'converted', 'unsubscribed'],
  reenroll: 'never',
};

export const scoring = {
  rules: [
    { id: 'demo-form', event: 'form_submit', where: { formId: FORM_ID }, points: 10 },
    { id: 'pricing-page', event: 'page_view', where: { path: '/pricing' }, points: 20, maxPerDay: 2 },
    { id: 'product-page', event: 'page_view', where: { path: '/product' }, points: 5, maxPerDay: 2 },
    { id: 'case-study', event: 'page_view', where: { path: '/customers/nordwind' }, points: 10, maxTotal: 1 },
    { id: 'careers-page', event: 'page_view', where: { path: '/careers' }, points: -15 },
    { id: 'email-open', event: 'email_open', points: 5, maxPerDay: 3 },
    { id: 'email-click', event: 'email_click', points: 15, maxPerDay: 3 },
  ],
  fit: [
    { id: 'senior-title', field: 'title', matches: '^(VP|Head|Director|Chief)', points: 50 },
    { id: 'territory', field: 'country', in: ['US', 'DE', 'AT', 'CH'], points: 30 },
    { id: 'team-size', field: 'attributes.team_size', in: ['51-200', '201-1000', '1000+'], points: 20 },
  ],
  decay: { halfLife: '30d' },
  cap: 200,
};

export const agreement = {
  threshold: 70,
  require: { budget: true, authority: true, timeline: true, grade: 'B' },
  createOpportunity: true,
  opportunity: { amount: 18000, closeIn: '30d' },
  slaHours: 4,
  agreedBy: { marketing: 'Maria Keller (Marketing)', sales: 'Sam Ortiz (Sales)' },
};

export const reps = [
  {
    id: 'ana-us',
    name: 'Ana Lopez',
    email: 'ana.lopez@northwind-leadflow.example',
    match: { country: ['US'] },
  },
  {
    id: 'jonas-de',
    name: 'Jonas Becker',
    email: 'jonas.becker@northwind-leadflow.example',
    match: { country: ['DE', 'AT', 'CH'] },
  },
];

/** The sales key the demo prints is tied to this rep. */
export const SALES_REP = 'ana-us';

/**
 * - `hot`: looked at pricing before asking, answers every BANT question, opens and clicks the
 *   welcome email: qualifies and is handed off.
 * - `warm`: reads pricing too and opens and clicks, but leaves the budget open: an MQL, not yet
 *   sales-ready.
 * - `cold`: only fills in the form; some open the case study later.
 */
export type Persona = 'hot' | 'warm' | 'cold';

export type Person = {
  firstName: string;
  lastName: string;
  email: string;
  company: string;
  title: string;
  country: string;
  teamSize: string;
  persona: Persona;
  /** paths visited anonymously before the form */
  visits: string[];
  bant: { budget?: string; decision_maker?: string; use_case?: string; timeline?: string };
  utm?: { utm_source: string; utm_medium: string; utm_campaign: string };
  /** what this person does with each nurture email */
  mail: { welcome: MailHabit; caseStudy: MailHabit };
};

export type MailHabit = 'click' | 'open' | 'ignore' | 'unsubscribe';

type Company = { name: string; domain: string; country: string };

const companies: Company[] = [
  { name: 'Brightline Analytics', domain: 'brightline-analytics', country: 'US' },
  { name: 'Cobalt Freight', domain: 'cobaltfreight', country: 'US' },
  { name: 'Harbor Health Partners', domain: 'harborhealth', country: 'US' },
  { name: 'Summit Ridge Software', domain: 'summitridge', country: 'US' },
  { name: 'Redwood Payments', domain: 'redwoodpay', country: 'US' },
  { name: 'Pioneer Robotics', domain: 'pioneer-robotics', country: 'US' },
  { name: 'Bluegrass Insurance', domain: 'bluegrass-ins', country: 'US' },
  { name: 'Canyon Solar', domain: 'canyonsolar', country: 'US' },
  { name: 'Lakeshore Dental Group', domain: 'lakeshoredental', country: 'US' },
  { name: 'Nordwind Logistik GmbH', domain: 'nordwind-logistik', country: 'DE' },
  { name: 'Rheintal Maschinenbau', domain: 'rheintal-mb', country: 'DE' },
  { name: 'Alpen Software AG', domain: 'alpensoftware', country: 'DE' },
  { name: 'Elbe Medien', domain: 'elbemedien', country: 'DE' },
  { name: 'Spree Digital', domain: 'spreedigital', country: 'DE' },
  { name: 'Hanse Versicherung', domain: 'hanse-vers', country: 'DE' },
  { name: 'Isar Energie', domain: 'isarenergie', country: 'DE' },
  { name: 'Wiener Datenwerk', domain: 'datenwerk', country: 'AT' },
  { name: 'Limmat Finanz', domain: 'limmatfinanz', country: 'CH' },
];

const namesByCountry: Record<string, [string, string][]> = {
  US: [
    ['Emily', 'Carter'],
    ['Jason', 'Reed'],
    ['Olivia', 'Brooks'],
    ['Marcus', 'Hayes'],
    ['Sophia', 'Nguyen'],
    ['Daniel', 'Price'],
    ['Grace', 'Foster'],
    ['Tyler', 'Morgan'],
    ['Chloe', 'Bennett'],
    ['Ryan', 'Sullivan'],
    ['Hannah', 'Ward'],
    ['Kevin', 'Patel'],
    ['Megan', 'Russell'],
    ['Brandon', 'Kim'],
    ['Lauren', 'Diaz'],
    ['Nathan', 'Cole'],
    ['Rachel', 'Stone'],
    ['Eric', 'Jordan'],
  ],
  DE: [
    ['Lena', 'Fischer'],
    ['Jonas', 'Wagner'],
    ['Mia', 'Schulz'],
    ['Felix', 'Hoffmann'],
    ['Laura', 'Schäfer'],
    ['Lukas', 'Koch'],
    ['Anna', 'Richter'],
    ['Paul', 'Klein'],
    ['Sophie', 'Wolf'],
    ['Tim', 'Neumann'],
    ['Julia', 'Braun'],
    ['Max', 'Zimmermann'],
    ['Clara', 'Krüger'],
    ['David', 'Hartmann'],
  ],
  AT: [
    ['Katharina', 'Gruber'],
    ['Stefan', 'Huber'],
  ],
  CH: [
    ['Noah', 'Meier'],
    ['Lea', 'Keller'],
  ],
};

const seniorTitles = ['VP Marketing', 'Head of Sales Operations', 'Director of IT', 'Chief Revenue Officer'];
const otherTitles = ['Marketing Manager', 'Operations Lead', 'Sales Engineer', 'Office Manager', 'Analyst'];
const teamSizes = ['51-200', '201-1000', '1000+', '11-50'];
const useCases = [
  'Score inbound leads and route them by country',
  'Nurture trade-show contacts until they are ready',
  'Replace our spreadsheet handoff to sales',
];
const timelines = ['This quarter', 'Next month', 'Within 6 weeks'];

/** The address form of a name: German umlauts as ae/oe/ue/ss, other accents dropped. */
function ascii(s: string): string {
  return s
    .toLowerCase()
    .replace(/ä/g, 'ae')
    .replace(/ö/g, 'oe')
    .replace(/ü/g, 'ue')
    .replace(/ß/g, 'ss')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '');
}

/** The persona of the i-th person: 8 hot, 10 warm, the rest cold (deterministic). */
function personaOf(i: number): Persona {
  if (i % 9 === 0 || i % 9 === 4) return 'hot';
  if (i % 9 === 2 || i % 9 === 6 || i % 9 === 7) return 'warm';
  return 'cold';
}

function personFor(i: number, firstName: string, lastName: string, company: Company): Person {
  const persona = personaOf(i);
  const title =
    persona === 'cold' && i % 2 === 0
      ? otherTitles[i % otherTitles.length]!
      : seniorTitles[i % seniorTitles.length]!;
  const visits =
    persona === 'hot'
      ? ['/', '/product', '/pricing', '/pricing']
      : persona === 'warm'
        ? ['/', '/pricing', '/pricing']
        : i % 5 === 0
          ? ['/careers']
          : ['/'];
  const bant: Person['bant'] = { use_case: useCases[i % useCases.length]! };
  if (persona === 'hot') {
    bant.budget = i % 2 ? '25k EUR' : '$40k per year';
    bant.decision_maker = 'yes';
    bant.timeline = timelines[i % timelines.length]!;
  } else if (persona === 'warm') {
    bant.decision_maker = 'yes';
    bant.timeline = 'Next quarter';
  }
  const mail: Person['mail'] =
    persona !== 'cold'
      ? { welcome: 'click', caseStudy: 'open' }
      : i % 2
        ? { welcome: 'open', caseStudy: i % 4 === 1 ? 'click' : 'open' }
        : { welcome: 'ignore', caseStudy: i % 18 === 8 ? 'unsubscribe' : 'ignore' };
  return {
    firstName,
    mail,
    lastName,
    email: `${ascii(firstName)}.${ascii(lastName)}@${company.domain}.example`,
    company: company.name,
    title,
    country: company.country,
    teamSize: persona === 'cold' ? teamSizes[3]! : teamSizes[i % 3]!,
    persona,
    visits,
    bant,
    ...(i % 3 === 0
      ? { utm: { utm_source: 'linkedin', utm_medium: 'paid-social', utm_campaign: 'q4-demo-push' } }
      : i % 3 === 1
        ? { utm: { utm_source: 'google', utm_medium: 'cpc', utm_campaign: 'lead-scoring-search' } }
        : {}),
  };
}

/** 36 people, half in the US, half in Germany, Austria and Switzerland. */
export function people(): Person[] {
  const out: Person[] = [];
  const used: Record<string, number> = {};
  for (let i = 0; i < 36; i++) {
    const company = companies[i % companies.length]!;
    const names = namesByCountry[company.country]!;
    const n = used[company.country] ?? 0;
    used[company.country] = n + 1;
    const [first, last] = names[n % names.length]!;
    out.push(personFor(i, first, last, company));
  }
  return out;
}
