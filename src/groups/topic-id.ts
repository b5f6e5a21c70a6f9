import { SECRET_LENGTH } from '../envelope/index.js'
import { InvalidInputError } from '../errors.js'

const TOPIC_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** A topic id: 1 to 64 of letters, digits, '.', '_', '-', starting with a letter or digit. */
export function validateTopicId (topicId: unknown): string {
  if (typeof topicId !== 'string' || !TOPIC_ID_RE.test(topicId)) {
    throw new InvalidInputError(`invalid topic id ${JSON.stringify(topicId)}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
  }
  return topicId
}

/** A group secret as typed by a user: 64 hex characters or base64/base64url of 32 bytes. */
export function parseSecret (secret: unknown): Uint8Array {
  if (typeof secret === 'string') {
    const s = secret.trim()
    let bytes: Buffer | undefined
    if (/^[0-9a-fA-F]{64}$/.test(s)) bytes = Buffer.from(s, 'hex')
    else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(s)) bytes = Buffer.from(s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=$/, ''), 'base64url')
    if (bytes?.byteLength === SECRET_LENGTH) return new Uint8Array(bytes)
  }
  throw new InvalidInputError(`invalid group secret: expected ${SECRET_LENGTH} bytes as 64 hex characters or base64`)
}

export function formatSecret (secret: Uint8Array): string {
  return Buffer.from(secret).toString('hex')
}
