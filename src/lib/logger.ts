import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino replaces with "[redacted]": credentials, and personal data that has no business in
 * logs (emails, names, phone numbers) wherever it appears one or two levels deep.
 */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'password',
  'key',
  'secret',
  'email',
  'phone',
  'firstName',
  'lastName',
  '*.password',
  '*.key',
  '*.secret',
  '*.email',
  '*.phone',
  '*.firstName',
  '*.lastName',
  '*.to',
];

/** The process logger; every module takes a child of it. */
export function createLogger(level: string, name = 'leadflow', destination?: DestinationStream): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: redactPaths, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}
