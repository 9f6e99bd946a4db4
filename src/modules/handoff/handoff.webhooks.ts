import { emitWebhookEvent } from '../webhooks/index.js';

/** The webhook events handoff emits (API.md). */
export type HandoffWebhookType =
  | 'lead.qualified'
  | 'handoff.created'
  | 'handoff.accepted'
  | 'handoff.rejected'
  | 'opportunity.stage_changed';

/**
 * Emits one webhook event through the webhooks area, idempotent per `eventId` (a repeated handoff
 * step emits nothing new). `data` is the handoff, lead or opportunity as the API shows it, with
 * `leadId`.
 */
export async function emitHandoffEvent(
  type: HandoffWebhookType,
  eventId: string,
  data: Record<string, unknown>,
): Promise<void> {
  await emitWebhookEvent({
    type,
    eventId,
    data: JSON.parse(JSON.stringify(data)) as Record<string, unknown>,
  });
}
