import { ChatError, errorMessage } from '../errors.js'
import type { SessionResult } from './session.js'

/** The peer broke the sync protocol (malformed, oversized or unexpected message, forged record): it is cut off. */
export class SyncProtocolError extends ChatError {
  constructor (message: string, options?: ErrorOptions) {
    super('SyncProtocolError', 'ERR_SYNC_PROTOCOL', message, options)
  }
}

/** A session ended early for a reason that is nobody's fault (stopped, busy, timed out). */
export class SyncAbortedError extends ChatError {
  constructor (message: string, options?: ErrorOptions) {
    super('SyncAbortedError', 'ERR_SYNC_ABORTED', message, options)
  }
}

/**
 * A session failed after it began: `cause` says why (a SyncProtocolError,
 * a SyncAbortedError, a store error), `stats` what it had done by then.
 * The message is the cause's.
 */
export class SyncSessionError extends ChatError {
  readonly stats: Readonly<SessionResult>

  constructor (cause: unknown, stats: SessionResult) {
    super('SyncSessionError', 'ERR_SYNC_FAILED', errorMessage(cause), { cause })
    this.stats = { ...stats }
  }

  /** the peer broke the protocol: cut it off */
  get protocolError (): SyncProtocolError | undefined {
    return this.cause instanceof SyncProtocolError ? this.cause : undefined
  }
}

/** Anything thrown, as an Error (what `stream.abort` takes). */
export function toError (err: unknown): Error {
  return err instanceof Error ? err : new Error(errorMessage(err))
}
