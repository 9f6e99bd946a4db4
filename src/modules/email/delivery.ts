/**
 * How an SMTP failure is treated. Pure, so every branch is unit-tested.
 *
 * - `bounce`: the server refused the recipient for good (5xx on RCPT TO): a hard bounce.
 * - `rejected`: the server refused the message for good (5xx elsewhere): failed, not retried.
 * - `retry`: the server surely did not take the message (a 4xx answer, or no connection/session was
 *   ever established): the claim is released and the job retried with backoff.
 * - `unknown`: the connection broke while the message may have been accepted (during or after
 *   DATA, or a failure we cannot place): recorded as unknown and never sent again.
 *
 * Nodemailer names the command `CONN` for every broken connection, whatever stage it was in (a
 * server closing or timing out after the message's final dot included, measured with smtp-server):
 * only a failed TCP connect, a connect/greeting/TLS timeout, or the pool's own "closed before the
 * session" error prove the message never left.
 */
export type SmtpFailure = 'bounce' | 'rejected' | 'retry' | 'unknown';

type MailError = {
  code?: string;
  originalCode?: string;
  timeoutType?: string;
  responseCode?: number;
  command?: string;
  rejectedErrors?: { responseCode?: number; command?: string }[];
};

// Commands before DATA: a failure there means the message was never handed over.
const beforeData = /^(EHLO|HELO|LHLO|STARTTLS|AUTH|MAIL FROM|RCPT TO)/i;
// a TCP connect that failed, and the timeouts of the phases before the session
const neverConnected = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND']);
const beforeSession = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT']);

export function classifySmtpError(err: unknown, mailerKind: 'smtp' | 'outbox'): SmtpFailure {
  // the outbox writes a temp file and renames it: nothing has left the process when it fails
  if (mailerKind === 'outbox') return 'retry';
  const e = (typeof err === 'object' && err !== null ? err : {}) as MailError;
  const rcpt = e.rejectedErrors?.find((r) => typeof r.responseCode === 'number');
  const code = e.responseCode ?? rcpt?.responseCode;
  const command = e.command ?? rcpt?.command ?? '';
  if (typeof code === 'number') {
    if (code >= 500) return e.code === 'EENVELOPE' || /^RCPT/i.test(command) ? 'bounce' : 'rejected';
    if (code >= 400) return 'retry';
  }
  if (e.code === 'EDNS' || e.code === 'EAUTH' || e.code === 'ECONNREFUSED') return 'retry';
  if (neverConnected.has(e.originalCode ?? '') || beforeSession.has(e.timeoutType ?? '')) return 'retry';
  // the pool gave up opening a connection: no session, no message
  if (e.code === 'ECONNECTION' && !command) return 'retry';
  if (command && beforeData.test(command)) return 'retry';
  return 'unknown';
}
