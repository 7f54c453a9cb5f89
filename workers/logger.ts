import { pino, type DestinationStream, type Logger } from 'pino';
import { safeSerializers } from '../domain/log-redaction.js';

/**
 * JSON logs in production; pretty in a terminal for `npm run dev`. Redacts
 * anything secret-shaped: credential fields, Authorization headers, and the
 * bound parameters of failed queries (errors are serialized without them).
 */
export function createLogger(level: string, pretty = false, destination?: DestinationStream): Logger {
  const options = {
    level,
    serializers: safeSerializers,
    redact: { paths: ['*.secretAccessKey', '*.accessKeyId', '*.password', '*.authorization', 'req.headers.authorization'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname' } } } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}

/** The same logger with the safe serializers, whoever built it (tests hand in plain pino loggers). */
export const withSafeSerializers = (log: Logger): Logger => log.child({}, { serializers: safeSerializers });
