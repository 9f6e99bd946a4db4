import { describe, expect, it } from 'vitest';
import { classifySmtpError } from '../../src/modules/email/delivery.js';

describe('classifySmtpError', () => {
  it('when the recipient is refused with 5xx, then it is a hard bounce', () => {
    expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 550, command: 'RCPT TO' }, 'smtp')).toBe(
      'bounce',
    );
    expect(
      classifySmtpError(
        { code: 'EENVELOPE', rejectedErrors: [{ responseCode: 553, command: 'RCPT TO' }] },
        'smtp',
      ),
    ).toBe('bounce');
  });
  it('when the message is refused with 5xx after the recipient was taken, then it failed for good', () => {
    expect(classifySmtpError({ code: 'EMESSAGE', responseCode: 554, command: 'DATA' }, 'smtp')).toBe(
      'rejected',
    );
  });
  it('when the server answers 4xx or was never reached, then it may be retried', () => {
    expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 451, command: 'RCPT TO' }, 'smtp')).toBe(
      'retry',
    );
    expect(classifySmtpError({ code: 'EMESSAGE', responseCode: 452, command: 'DATA' }, 'smtp')).toBe('retry');
    expect(
      classifySmtpError({ code: 'ESOCKET', originalCode: 'ECONNREFUSED', command: 'CONN' }, 'smtp'),
    ).toBe('retry');
    expect(
      classifySmtpError({ code: 'ETIMEDOUT', timeoutType: 'GREETING_TIMEOUT', command: 'CONN' }, 'smtp'),
    ).toBe('retry');
    // the pool's "Reached maximum number of retries after connection was closed"
    expect(classifySmtpError({ code: 'ECONNECTION' }, 'smtp')).toBe('retry');
    expect(classifySmtpError(new Error('disk full'), 'outbox')).toBe('retry');
  });
  it('when the connection breaks during DATA or in a way we cannot place, then the outcome is unknown', () => {
    expect(classifySmtpError({ code: 'ETIMEDOUT', command: 'DATA' }, 'smtp')).toBe('unknown');
    expect(classifySmtpError({ code: 'ESOCKET' }, 'smtp')).toBe('unknown');
    // nodemailer says CONN for a connection closed or timed out at any stage, after DATA included
    expect(classifySmtpError({ code: 'ECONNECTION', command: 'CONN' }, 'smtp')).toBe('unknown');
    expect(
      classifySmtpError({ code: 'ETIMEDOUT', timeoutType: 'SOCKET_TIMEOUT', command: 'CONN' }, 'smtp'),
    ).toBe('unknown');
    expect(classifySmtpError('weird', 'smtp')).toBe('unknown');
  });
});
