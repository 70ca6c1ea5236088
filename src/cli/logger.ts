import { pino, type Logger } from 'pino';

/**
 * Operational logs: JSON lines on stderr (stdout carries the `listening` line and, when
 * configured, audit records). Never request bodies or credentials (redact paths below).
 */
export function createLogger(level: string = process.env.TOLLGATE_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      level,
      base: { service: 'tollgate' },
      redact: { paths: ['*.authorization', '*.headers.authorization', '*.headers.cookie', '*.client_secret', '*.password', '*.token'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: 2, sync: true }),
  );
}
