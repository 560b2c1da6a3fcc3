import type { LoggerService } from '@nestjs/common';
import { currentSession } from '@arbiter/session';
import type { LogLevel } from '../config/app-config';

const RANK: Record<string, number> = { error: 0, fatal: 0, warn: 1, log: 2, info: 2, debug: 3, verbose: 4 };

/**
 * Writes one JSON object per line to stdout (errors to stderr), with the current session's
 * request id on every line so a request can be followed across the logs.
 */
export class JsonLogger implements LoggerService {
  private readonly max: number;

  constructor(level: LogLevel = 'info') {
    this.max = RANK[level] ?? 2;
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('verbose', message, rest);
  }

  /** Logs a structured record (e.g. one line per HTTP request). */
  record(level: 'info' | 'warn' | 'error' | 'debug', msg: string, fields: Record<string, unknown>): void {
    if ((RANK[level] ?? 2) > this.max) return;
    this.emit(level, { msg, ...fields });
  }

  private write(level: string, message: unknown, rest: unknown[]): void {
    if ((RANK[level] ?? 2) > this.max) return;
    // Nest passes the context as the last string argument and, for errors, a stack before it.
    const args = [...rest];
    const context = typeof args[args.length - 1] === 'string' ? (args.pop() as string) : undefined;
    const stack = level === 'error' || level === 'fatal' ? args.find((a) => typeof a === 'string') : undefined;
    const msg = message instanceof Error ? message.message : typeof message === 'string' ? message : JSON.stringify(message);
    this.emit(level, { msg, ...(context ? { context } : {}), ...(stack ? { stack } : {}) });
  }

  private emit(level: string, fields: Record<string, unknown>): void {
    const session = currentSession();
    const line = JSON.stringify({ time: new Date().toISOString(), level, ...(session ? { request_id: session.requestId } : {}), ...fields });
    (level === 'error' || level === 'fatal' ? process.stderr : process.stdout).write(`${line}\n`);
  }
}
