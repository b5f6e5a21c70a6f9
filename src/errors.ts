/**
 * Typed errors: every error the project raises on purpose has a stable `name`
 * and a machine-readable `code`. The CLI maps them to one line and an exit
 * code, the API maps their codes to HTTP statuses (src/api/status.ts).
 */
export type ErrorCode =
  | 'ERR_INVALID_INPUT'
  | 'ERR_UNKNOWN_GROUP'
  | 'ERR_GROUP_EXISTS'
  | 'ERR_MESSAGE_EMPTY'
  | 'ERR_MESSAGE_TOO_LARGE'
  | 'ERR_INVALID_INVITE'
  | 'ERR_DATA_DIR'
  | 'ERR_DISK_FULL'
  | 'ERR_OVERLOADED'
  | 'ERR_LISTEN'
  | 'ERR_NOT_STARTED'
  | 'ERR_NODE_NOT_RUNNING'
  | 'ERR_INVALID_BACKUP'
  | 'ERR_WRONG_PASSPHRASE'
  | 'ERR_API'
  | 'ERR_BODY_TOO_LARGE'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_NOT_FOUND'
  | 'ERR_TIMEOUT'
  | 'ERR_CALL_REJECTED'
  | 'ERR_CALL_FAILED'
  | 'ERR_DIAL_FAILED'
  | 'ERR_NO_SUCH_CALL'
  | 'ERR_MEDIA'
  | 'ERR_MEDIA_TOOL_MISSING'
  | 'ERR_SYNC_PROTOCOL'
  | 'ERR_SYNC_ABORTED'
  | 'ERR_SYNC_FAILED'
  | 'ERR_MESSAGE_NOT_FOUND'
  | 'ERR_NOT_YOUR_MESSAGE'
  | 'ERR_INVITE_REFUSED'

export class ChatError extends Error {
  readonly code: ErrorCode

  constructor (name: string, code: ErrorCode, message: string, options?: ErrorOptions)
  /** @deprecated the HTTP status is no longer the error's: src/api/status.ts maps codes to statuses; `status` is ignored */
  constructor (name: string, code: ErrorCode, message: string, status: number, options?: ErrorOptions)
  constructor (name: string, code: ErrorCode, message: string, statusOrOptions?: number | ErrorOptions, options?: ErrorOptions) {
    super(message, typeof statusOrOptions === 'number' ? options : statusOrOptions)
    this.name = name
    this.code = code
  }
}

export class InvalidInputError extends ChatError {
  constructor (message: string) { super('InvalidInputError', 'ERR_INVALID_INPUT', message) }
}

export class UnknownGroupError extends ChatError {
  constructor (topicId: string, message = `unknown group "${topicId}": create or join it first (p2p-chat groups lists yours)`) { super('UnknownGroupError', 'ERR_UNKNOWN_GROUP', message) }
}

export class GroupExistsError extends ChatError {
  constructor (topicId: string) { super('GroupExistsError', 'ERR_GROUP_EXISTS', `group "${topicId}" already exists on this node`) }
}

export class EmptyMessageError extends ChatError {
  constructor () { super('EmptyMessageError', 'ERR_MESSAGE_EMPTY', 'message is empty') }
}

export class MessageTooLargeError extends ChatError {
  constructor (size: number, max: number) { super('MessageTooLargeError', 'ERR_MESSAGE_TOO_LARGE', `message is ${size} bytes, the limit is ${max}`) }
}

/** No such message in the group (or it was deleted): a reply, reaction, edit or delete needs its target held here */
export class MessageNotFoundError extends ChatError {
  constructor (message: string) { super('MessageNotFoundError', 'ERR_MESSAGE_NOT_FOUND', message) }
}

/** Editing or deleting a message someone else wrote: only its author may (admins, once group roles exist: issue 15) */
export class NotYourMessageError extends ChatError {
  constructor (message: string) { super('NotYourMessageError', 'ERR_NOT_YOUR_MESSAGE', message) }
}

export class InvalidInviteError extends ChatError {
  constructor (reason: string) { super('InvalidInviteError', 'ERR_INVALID_INVITE', `invalid invite: ${reason}`) }
}

/** A revocable invite (p2pchat2) admits nobody: `reason` is expired, used, revoked, removed, unknown or failed */
export class InviteRefusedError extends ChatError {
  readonly reason: string
  constructor (reason: string, message: string) {
    super('InviteRefusedError', 'ERR_INVITE_REFUSED', message)
    this.reason = reason
  }
}

export class DataDirError extends ChatError {
  constructor (message: string, options?: ErrorOptions, name = 'DataDirError', code: ErrorCode = 'ERR_DATA_DIR') { super(name, code, message, options) }
}

/** The disk under the data directory is full: nothing was written (the API answers 507) */
export class DiskFullError extends DataDirError {
  constructor (message: string, options?: ErrorOptions) { super(message, options, 'DiskFullError', 'ERR_DISK_FULL') }
}

/** Too much is waiting already: try again after `retryAfterMs` (the API answers 429 with Retry-After) */
export class OverloadedError extends ChatError {
  readonly retryAfterMs: number
  constructor (message: string, retryAfterMs: number) {
    super('OverloadedError', 'ERR_OVERLOADED', message)
    this.retryAfterMs = retryAfterMs
  }
}

export class ListenError extends ChatError {
  constructor (message: string, options?: ErrorOptions) { super('ListenError', 'ERR_LISTEN', message, options) }
}

export class NotStartedError extends ChatError {
  constructor () { super('NotStartedError', 'ERR_NOT_STARTED', 'the chat node is not started') }
}

export class NodeNotRunningError extends ChatError {
  constructor (dataDir: string, message = `no p2p-chat node is running for ${dataDir}: start one with "p2p-chat start --data-dir ${dataDir}" (right after "start &", add --wait 30s)`) { super('NodeNotRunningError', 'ERR_NODE_NOT_RUNNING', message) }
}

export class InvalidBackupError extends ChatError {
  constructor (message: string, options?: ErrorOptions) { super('InvalidBackupError', 'ERR_INVALID_BACKUP', message, options) }
}

export class WrongPassphraseError extends ChatError {
  constructor () { super('WrongPassphraseError', 'ERR_WRONG_PASSPHRASE', 'wrong passphrase, or the backup file was altered') }
}

/** A request the local API refuses (unauthorized, malformed, no such endpoint, too large), or a failed answer seen by the client */
export class ApiError extends ChatError {
  constructor (message: string, code: ErrorCode = 'ERR_API') { super('ApiError', code, message) }
}

export class TimeoutError extends ChatError {
  constructor (message: string) { super('TimeoutError', 'ERR_TIMEOUT', message) }
}

// ---- calls (src/calls) ----------------------------------------------------

/** The callee refused the call (declined, busy, no shared group, no answer); `reason` says which. */
export class CallRejectedError extends ChatError {
  readonly reason: string
  constructor (reason: string, message: string) {
    super('CallRejectedError', 'ERR_CALL_REJECTED', message)
    this.reason = reason
  }
}

/** The call could not be set up or ended before it connected (unreachable peer, lost connection, cancelled). */
export class CallFailedError extends ChatError {
  readonly reason: string
  constructor (reason: string, message: string, options?: ErrorOptions) {
    super('CallFailedError', 'ERR_CALL_FAILED', message, options)
    this.reason = reason
  }
}

/** A peer could not be reached: no known address, refused, no answer in time */
export class DialFailedError extends ChatError {
  constructor (message: string, options?: ErrorOptions) { super('DialFailedError', 'ERR_DIAL_FAILED', message, options) }
}

export class NoSuchCallError extends ChatError {
  constructor (message: string) { super('NoSuchCallError', 'ERR_NO_SUCH_CALL', message) }
}

/** A media file, pipe or tool failed (cannot open the input, the tool exited with an error). */
export class MediaError extends ChatError {
  constructor (message: string, options?: ErrorOptions) { super('MediaError', 'ERR_MEDIA', message, options) }
}

/** A media tool (rec, play, ffmpeg, ffplay) is not installed: names the Debian package to install. */
export class MediaToolMissingError extends ChatError {
  readonly tool: string
  readonly package: string
  constructor (tool: string, pkg: string) {
    super('MediaToolMissingError', 'ERR_MEDIA_TOOL_MISSING', `${tool} is not installed: install the Debian package "${pkg}" (sudo apt-get install ${pkg}), or use --input/--output files`)
    this.tool = tool
    this.package = pkg
  }
}

export function isChatError (err: unknown): err is ChatError {
  return err instanceof ChatError
}

/** The string `code` of anything thrown (a Node.js system error's ENOENT, EEXIST, …; a ChatError's code), or undefined */
export function errorCode (err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined
  return typeof err.code === 'string' ? err.code : undefined
}

/** The `name` of anything thrown (AbortError, TimeoutError, …), or undefined */
export function errorName (err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('name' in err)) return undefined
  return typeof err.name === 'string' ? err.name : undefined
}

/** The message of anything thrown: its `message`, else its string form */
export function errorMessage (err: unknown): string {
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string') return err.message
  return String(err)
}
