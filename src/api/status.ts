import { ChatError } from '../errors.js'
import type { ErrorCode } from '../errors.js'

/**
 * The HTTP status the local API answers with, per error code (docs/API.md
 * lists them). Domain errors carry no status: this table is the one place
 * that knows HTTP.
 */
export const STATUS_BY_CODE: Readonly<Partial<Record<ErrorCode, number>>> = {
  ERR_INVALID_INPUT: 400,
  ERR_MESSAGE_EMPTY: 400,
  ERR_INVALID_INVITE: 400,
  ERR_INVALID_BACKUP: 400,
  ERR_WRONG_PASSPHRASE: 400,
  ERR_API: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_UNKNOWN_GROUP: 404,
  ERR_NOT_FOUND: 404,
  ERR_NO_SUCH_CALL: 404,
  ERR_MESSAGE_NOT_FOUND: 404,
  ERR_NOT_YOUR_MESSAGE: 403,
  ERR_INVITE_REFUSED: 403,
  ERR_GROUP_EXISTS: 409,
  ERR_CALL_REJECTED: 409,
  ERR_MESSAGE_TOO_LARGE: 413,
  ERR_BODY_TOO_LARGE: 413,
  ERR_DATA_DIR: 500,
  ERR_LISTEN: 500,
  ERR_MEDIA: 500,
  ERR_MEDIA_TOOL_MISSING: 501,
  ERR_CALL_FAILED: 502,
  ERR_DIAL_FAILED: 502,
  ERR_NOT_STARTED: 503,
  ERR_NODE_NOT_RUNNING: 503,
  ERR_TIMEOUT: 504,
  ERR_OVERLOADED: 429,
  ERR_DISK_FULL: 507
}

/** A ChatError whose code is not in the table is the caller's fault: 400 */
export const DEFAULT_CHAT_ERROR_STATUS = 400

/** Anything else thrown is a fault of the node: 500 */
export const INTERNAL_ERROR_STATUS = 500

/** The HTTP status for an error thrown while answering a request. */
export function httpStatus (err: unknown): number {
  if (!(err instanceof ChatError)) return INTERNAL_ERROR_STATUS
  return STATUS_BY_CODE[err.code] ?? DEFAULT_CHAT_ERROR_STATUS
}
