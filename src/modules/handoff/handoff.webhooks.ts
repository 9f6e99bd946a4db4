/** The webhook events handoff emits (API.md). */
export type HandoffWebhookType =
  | 'lead.qualified'
  | 'handoff.created'
  | 'handoff.accepted'
  | 'handoff.rejected'
  | 'opportunity.stage_changed';

/**
 * Emits one webhook event, idempotent per `eventId`. The one place handoff talks to the webhooks
 * area: until its `emitWebhookEvent` is on main this records nothing.
 */
export async function emitHandoffEvent(
  _type: HandoffWebhookType,
  _eventId: string,
  _data: Record<string, unknown>,
): Promise<void> {}
