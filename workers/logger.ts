import { pino, stdSerializers, type Logger } from 'pino';

/** JSON logs in production; pretty in a terminal for `npm run dev`. Redacts anything secret-shaped. */
export function createLogger(level: string, pretty = false): Logger {
  return pino({
    level,
    serializers: { err: stdSerializers.err, error: stdSerializers.err },
    redact: { paths: ['*.secretAccessKey', '*.accessKeyId', '*.password', '*.authorization', 'req.headers.authorization'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname' } } } : {}),
  });
}
