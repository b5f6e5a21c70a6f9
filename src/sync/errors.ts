/** The peer broke the sync protocol (malformed, oversized or unexpected message, forged record): it is cut off. */
export class SyncProtocolError extends Error {
  static readonly code = 'ERR_SYNC_PROTOCOL'
  readonly code = SyncProtocolError.code
  constructor (message: string) {
    super(message)
    this.name = 'SyncProtocolError'
  }
}

/** A session ended early for a reason that is nobody's fault (stopped, busy, timed out). */
export class SyncAbortedError extends Error {
  static readonly code = 'ERR_SYNC_ABORTED'
  readonly code = SyncAbortedError.code
  constructor (message: string) {
    super(message)
    this.name = 'SyncAbortedError'
  }
}
