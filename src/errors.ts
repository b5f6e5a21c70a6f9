/**
 * Typed errors: every error the project raises on purpose has a stable `name`
 * and a machine-readable `code`. The CLI maps them to one line and an exit
 * code, the API maps them to an HTTP status.
 */
export type ErrorCode =
  | 'ERR_INVALID_INPUT'
  | 'ERR_UNKNOWN_GROUP'
  | 'ERR_GROUP_EXISTS'
  | 'ERR_MESSAGE_EMPTY'
  | 'ERR_MESSAGE_TOO_LARGE'
  | 'ERR_INVALID_INVITE'
  | 'ERR_DATA_DIR'
  | 'ERR_LISTEN'
  | 'ERR_NOT_STARTED'
  | 'ERR_NODE_NOT_RUNNING'
  | 'ERR_INVALID_BACKUP'
  | 'ERR_WRONG_PASSPHRASE'
  | 'ERR_API'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_NOT_FOUND'
  | 'ERR_TIMEOUT'
  | 'ERR_CALL_REJECTED'
  | 'ERR_CALL_FAILED'
  | 'ERR_NO_SUCH_CALL'
  | 'ERR_MEDIA'
  | 'ERR_MEDIA_TOOL_MISSING'

export class ChatError extends Error {
  readonly code: ErrorCode
  /** HTTP status the local API answers with for this error */
  readonly status: number

  constructor (name: string, code: ErrorCode, message: string, status = 400, options?: ErrorOptions) {
    super(message, options)
    this.name = name
    this.code = code
    this.status = status
  }
}

export class InvalidInputError extends ChatError {
  constructor (message: string) { super('InvalidInputError', 'ERR_INVALID_INPUT', message, 400) }
}

export class UnknownGroupError extends ChatError {
  constructor (topicId: string) { super('UnknownGroupError', 'ERR_UNKNOWN_GROUP', `unknown group "${topicId}": create or join it first (p2p-chat groups lists yours)`, 404) }
}

export class GroupExistsError extends ChatError {
  constructor (topicId: string) { super('GroupExistsError', 'ERR_GROUP_EXISTS', `group "${topicId}" already exists on this node`, 409) }
}

export class EmptyMessageError extends ChatError {
  constructor () { super('EmptyMessageError', 'ERR_MESSAGE_EMPTY', 'message is empty', 400) }
}

export class MessageTooLargeError extends ChatError {
  constructor (size: number, max: number) { super('MessageTooLargeError', 'ERR_MESSAGE_TOO_LARGE', `message is ${size} bytes, the limit is ${max}`, 413) }
}

export class InvalidInviteError extends ChatError {
  constructor (reason: string) { super('InvalidInviteError', 'ERR_INVALID_INVITE', `invalid invite: ${reason}`, 400) }
}

export class DataDirError extends ChatError {
  constructor (message: string, options?: ErrorOptions) { super('DataDirError', 'ERR_DATA_DIR', message, 500, options) }
}

export class ListenError extends ChatError {
  constructor (message: string, options?: ErrorOptions) { super('ListenError', 'ERR_LISTEN', message, 500, options) }
}

export class NotStartedError extends ChatError {
  constructor () { super('NotStartedError', 'ERR_NOT_STARTED', 'the chat node is not started', 503) }
}

export class NodeNotRunningError extends ChatError {
  constructor (dataDir: string) { super('NodeNotRunningError', 'ERR_NODE_NOT_RUNNING', `no p2p-chat node is running for ${dataDir}: start one with "p2p-chat start --data-dir ${dataDir}"`, 503) }
}

export class InvalidBackupError extends ChatError {
  constructor (message: string) { super('InvalidBackupError', 'ERR_INVALID_BACKUP', message, 400) }
}

export class WrongPassphraseError extends ChatError {
  constructor () { super('WrongPassphraseError', 'ERR_WRONG_PASSPHRASE', 'wrong passphrase, or the backup file was altered', 400) }
}

export class ApiError extends ChatError {
  constructor (message: string, status: number, code: ErrorCode = 'ERR_API') { super('ApiError', code, message, status) }
}

export class TimeoutError extends ChatError {
  constructor (message: string) { super('TimeoutError', 'ERR_TIMEOUT', message, 504) }
}

// ---- calls (src/calls) ----------------------------------------------------

/** The callee refused the call (declined, busy, no shared group, no answer); `reason` says which. */
export class CallRejectedError extends ChatError {
  readonly reason: string
  constructor (reason: string, message: string) {
    super('CallRejectedError', 'ERR_CALL_REJECTED', message, 409)
    this.reason = reason
  }
}

/** The call could not be set up or ended before it connected (unreachable peer, lost connection, cancelled). */
export class CallFailedError extends ChatError {
  readonly reason: string
  constructor (reason: string, message: string, options?: ErrorOptions) {
    super('CallFailedError', 'ERR_CALL_FAILED', message, 502, options)
    this.reason = reason
  }
}

export class NoSuchCallError extends ChatError {
  constructor (message: string) { super('NoSuchCallError', 'ERR_NO_SUCH_CALL', message, 404) }
}

/** A media file, pipe or tool failed (cannot open the input, the tool exited with an error). */
export class MediaError extends ChatError {
  constructor (message: string, options?: ErrorOptions) { super('MediaError', 'ERR_MEDIA', message, 500, options) }
}

/** A media tool (rec, play, ffmpeg, ffplay) is not installed: names the Debian package to install. */
export class MediaToolMissingError extends ChatError {
  readonly tool: string
  readonly package: string
  constructor (tool: string, pkg: string) {
    super('MediaToolMissingError', 'ERR_MEDIA_TOOL_MISSING', `${tool} is not installed: install the Debian package "${pkg}" (sudo apt-get install ${pkg}), or use --input/--output files`, 501)
    this.tool = tool
    this.package = pkg
  }
}

export function isChatError (err: unknown): err is ChatError {
  return err instanceof ChatError
}
