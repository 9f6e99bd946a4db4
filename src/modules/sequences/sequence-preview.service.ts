import { notFound } from '../../lib/errors.js';
import { renderEmail, type RenderLead } from '../email/index.js';
import { Lead } from '../leads/index.js';
import { findVersion } from './sequence-versions.service.js';
import type { PreviewBody } from './sequences.schemas.js';
import { stepContent } from './step-runner.service.js';

type RenderRuntime = Parameters<typeof renderEmail>[0];

/** Who a preview is rendered for when the caller names no lead. */
const sampleLead: RenderLead = {
  email: 'ada@example.com',
  firstName: 'Ada',
  lastName: 'Lovelace',
  company: 'Example Ltd',
  title: 'Head of Engineering',
  country: 'GB',
  source: 'Preview',
  attributes: {},
};

type RenderedStep = { id: string; subject: string; html: string; text: string };

/**
 * Renders every step of the latest version for one lead (a stored one, one given inline, or a
 * sample), as email would send it but untracked. A step with variants lists each of them.
 */
export async function previewSequence(rt: RenderRuntime, key: string, body: PreviewBody) {
  const seq = await findVersion(key);
  if (!seq) throw notFound(`sequence ${key}`);
  let lead: RenderLead = body.lead ?? sampleLead;
  if (body.leadId) {
    const found = await Lead.findById(body.leadId).lean();
    if (!found) throw notFound('lead');
    lead = found as RenderLead;
  }
  const render = async (content: ReturnType<typeof stepContent>['content']) => {
    const r = await renderEmail(rt, { lead, content, marketing: true });
    return { subject: r.subject, html: r.html, text: r.text };
  };
  const steps: (RenderedStep & { variants?: RenderedStep[] })[] = [];
  for (const step of seq.definition.steps) {
    if (!step.variants) {
      steps.push({ id: step.id, ...(await render(stepContent(step).content)) });
      continue;
    }
    const variants: RenderedStep[] = [];
    for (const v of step.variants) {
      const only = { ...step, variants: [{ ...v, weight: 1 }] };
      variants.push({ id: v.id, ...(await render(stepContent(only).content)) });
    }
    steps.push({ ...variants[0]!, id: step.id, variants });
  }
  return { key, version: seq.version, steps };
}
