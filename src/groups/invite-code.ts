import { Invite } from './pb/invite.js'
import { SECRET_LENGTH } from '../envelope/index.js'
import { errorMessage, InvalidInviteError } from '../errors.js'
import { validateTopicId } from './topic-id.js'

/** Every invite starts with this; the digit is the invite format version */
export const INVITE_PREFIX = 'p2pchat1'
const MAX_INVITE_LENGTH = 4096
const MAX_ADDRS = 16

export interface InviteData {
  topicId: string
  secret: Uint8Array
  addrs: string[]
  name?: string
}

/** Encode an invite as "p2pchat1" + base64url(protobuf). Pure. */
export function encodeInvite (invite: InviteData): string {
  const bytes = Invite.encode({ topicId: invite.topicId, secret: invite.secret as Uint8Array<ArrayBuffer>, addrs: invite.addrs.slice(0, MAX_ADDRS), name: invite.name ?? '' })
  return INVITE_PREFIX + Buffer.from(bytes).toString('base64url')
}

/** Decode and validate an invite; throws InvalidInviteError naming what is wrong. Pure. */
export function decodeInvite (code: string): InviteData {
  const text = code.trim()
  if (!text.startsWith(INVITE_PREFIX)) throw new InvalidInviteError(`it must start with "${INVITE_PREFIX}"`)
  if (text.length > MAX_INVITE_LENGTH) throw new InvalidInviteError('it is too long')
  const body = text.slice(INVITE_PREFIX.length)
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new InvalidInviteError('it contains characters that are not base64url')
  let invite: Invite
  try {
    invite = Invite.decode(Buffer.from(body, 'base64url'), { limits: { addrs: MAX_ADDRS } })
  } catch {
    throw new InvalidInviteError('it is damaged (not a valid encoding)')
  }
  if (invite.secret.byteLength !== SECRET_LENGTH) throw new InvalidInviteError(`the secret must be ${SECRET_LENGTH} bytes`)
  try {
    validateTopicId(invite.topicId)
  } catch (err: unknown) {
    throw new InvalidInviteError(errorMessage(err))
  }
  return { topicId: invite.topicId, secret: invite.secret, addrs: invite.addrs, name: invite.name === '' ? undefined : invite.name }
}
