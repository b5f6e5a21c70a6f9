import { Invite, TokenInvite } from './pb/invite.js'
import { SECRET_LENGTH } from '../envelope/index.js'
import { errorMessage, InvalidInviteError } from '../errors.js'
import { validateTopicId } from './topic-id.js'

/** Every invite starts with this; the digit is the invite format version */
export const INVITE_PREFIX = 'p2pchat1'
/** A revocable invite (issue 15): a token, no secret */
export const TOKEN_INVITE_PREFIX = 'p2pchat2'
/** Length of an invite token */
export const TOKEN_LENGTH = 32
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

/** A revocable invite: who to ask, and the token to show */
export interface TokenInviteData {
  topicId: string
  token: Uint8Array
  addrs: string[]
  name?: string
  /** ms since 1970 */
  expires: number
}

/** Encode a revocable invite as "p2pchat2" + base64url(protobuf). Pure. */
export function encodeTokenInvite (invite: TokenInviteData): string {
  const bytes = TokenInvite.encode({ topicId: invite.topicId, token: invite.token as Uint8Array<ArrayBuffer>, addrs: invite.addrs.slice(0, MAX_ADDRS), name: invite.name ?? '', expires: BigInt(invite.expires) })
  return TOKEN_INVITE_PREFIX + Buffer.from(bytes).toString('base64url')
}

/** Is this (trimmed) text a revocable invite? */
export function isTokenInvite (code: string): boolean {
  return code.trim().startsWith(TOKEN_INVITE_PREFIX)
}

/** The base64url body of an invite with this prefix, checked for length and alphabet */
function inviteBody (code: string, prefix: string): Buffer {
  const text = code.trim()
  if (!text.startsWith(prefix)) throw new InvalidInviteError(`it must start with "${INVITE_PREFIX}" or "${TOKEN_INVITE_PREFIX}"`)
  if (text.length > MAX_INVITE_LENGTH) throw new InvalidInviteError('it is too long')
  const body = text.slice(prefix.length)
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new InvalidInviteError('it contains characters that are not base64url')
  return Buffer.from(body, 'base64url')
}

function checkTopic (topicId: string): void {
  try {
    validateTopicId(topicId)
  } catch (err: unknown) {
    throw new InvalidInviteError(errorMessage(err))
  }
}

/** Decode and validate an invite that holds the secret (p2pchat1); throws InvalidInviteError naming what is wrong. Pure. */
export function decodeInvite (code: string): InviteData {
  if (isTokenInvite(code)) throw new InvalidInviteError('this is a revocable invite (p2pchat2): "p2p-chat join" takes it as it is')
  const body = inviteBody(code, INVITE_PREFIX)
  let invite: Invite
  try {
    invite = Invite.decode(body, { limits: { addrs: MAX_ADDRS } })
  } catch {
    throw new InvalidInviteError('it is damaged (not a valid encoding)')
  }
  if (invite.secret.byteLength !== SECRET_LENGTH) throw new InvalidInviteError(`the secret must be ${SECRET_LENGTH} bytes`)
  checkTopic(invite.topicId)
  return { topicId: invite.topicId, secret: invite.secret, addrs: invite.addrs, name: invite.name === '' ? undefined : invite.name }
}

/** Decode and validate a revocable invite (p2pchat2). Pure: its expiry is the caller's to check. */
export function decodeTokenInvite (code: string): TokenInviteData {
  const body = inviteBody(code, TOKEN_INVITE_PREFIX)
  let invite: TokenInvite
  try {
    invite = TokenInvite.decode(body, { limits: { addrs: MAX_ADDRS } })
  } catch {
    throw new InvalidInviteError('it is damaged (not a valid encoding)')
  }
  if (invite.token.byteLength !== TOKEN_LENGTH) throw new InvalidInviteError(`the token must be ${TOKEN_LENGTH} bytes`)
  if (invite.expires < 1n || invite.expires > 2n ** 48n) throw new InvalidInviteError('its expiry is out of range')
  if (invite.addrs.length === 0) throw new InvalidInviteError('it names no member to ask')
  checkTopic(invite.topicId)
  return { topicId: invite.topicId, token: invite.token, addrs: invite.addrs, expires: Number(invite.expires), ...(invite.name !== '' ? { name: invite.name } : {}) }
}

/** The addresses of either kind of invite (the CLI's join report counts them) */
export function inviteAddrs (code: string): string[] {
  return isTokenInvite(code) ? decodeTokenInvite(code).addrs : decodeInvite(code).addrs
}
