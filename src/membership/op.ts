/**
 * Membership ops (docs/PROTOCOL.md, "Membership and epochs"): the encoded
 * MembershipOp carried in the `op` field of a kind 6 envelope message.
 * Pure: strict decoding (one encoding per op, every length checked).
 */
import { MembershipOp } from './pb/op.js'

export const KEY_LENGTH = 32
export const HASH_LENGTH = 32
export const MAX_CREATE_ADMINS = 16
export const MAX_BOXES = 256
export const MAX_OP_NAME_BYTES = 64
/** a sealed 32-byte epoch secret: ciphertext + 16-byte tag */
export const SEALED_SECRET_LENGTH = 48

export interface Box { member: string, ephemeral: Uint8Array, sealed: Uint8Array }

/** A decoded op; member keys are hex of the raw Ed25519 key */
export type Op =
  | { type: 'create', admins: string[] }
  | { type: 'add', member: string, x25519: string, name: string, invite?: string }
  | { type: 'remove', member: string }
  | { type: 'leave' }
  | { type: 'promote', member: string }
  | { type: 'demote', member: string }
  | { type: 'rotate', epoch: number, boxes: Box[] }
  | { type: 'invite', tokenHash: string, expires: number, uses: number }
  | { type: 'key', x25519: string }

export type OpType = Op['type']

/** ops only an admin may append (an `add` with a valid invite also by any member) */
export const ADMIN_OPS: ReadonlySet<OpType> = new Set<OpType>(['create', 'add', 'remove', 'promote', 'demote', 'rotate', 'invite'])

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const bytes = (h: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(h, 'hex'))

export function encodeOp (op: Op): Uint8Array {
  switch (op.type) {
    case 'create': return MembershipOp.encode({ create: { admins: op.admins.map(bytes) } })
    case 'add': return MembershipOp.encode({ add: { member: bytes(op.member), x25519: bytes(op.x25519), name: op.name, invite: bytes(op.invite ?? '') } })
    case 'remove': return MembershipOp.encode({ remove: { member: bytes(op.member) } })
    case 'leave': return MembershipOp.encode({ leave: {} })
    case 'promote': return MembershipOp.encode({ promote: { member: bytes(op.member) } })
    case 'demote': return MembershipOp.encode({ demote: { member: bytes(op.member) } })
    case 'rotate': return MembershipOp.encode({ rotate: { epoch: op.epoch, boxes: op.boxes.map(b => ({ member: bytes(b.member), ephemeral: new Uint8Array(b.ephemeral), sealed: new Uint8Array(b.sealed) })) } })
    case 'invite': return MembershipOp.encode({ invite: { tokenHash: bytes(op.tokenHash), expires: BigInt(op.expires), uses: op.uses } })
    case 'key': return MembershipOp.encode({ key: { x25519: bytes(op.x25519) } })
  }
}

export class OpError extends Error {}

function key (b: Uint8Array | undefined, what: string): string {
  if (b?.byteLength !== KEY_LENGTH) throw new OpError(`bad ${what}`)
  return hex(b)
}

/** Decode an op; OpError names what is wrong. Exactly one op, canonical, lengths as the protocol says. */
export function decodeOp (data: Uint8Array): Op {
  let m: MembershipOp
  try {
    m = MembershipOp.decode(data, { limits: { create: { admins: MAX_CREATE_ADMINS + 1 }, rotate: { boxes: MAX_BOXES + 1 } } })
  } catch {
    throw new OpError('malformed op')
  }
  const set = Object.entries(m).filter(([, v]) => v != null)
  if (set.length !== 1) throw new OpError('not exactly one op')
  if (!Buffer.from(MembershipOp.encode(m)).equals(Buffer.from(data))) throw new OpError('op not canonical')
  let op: Op
  if (m.create != null) {
    if (m.create.admins.length > MAX_CREATE_ADMINS) throw new OpError('too many admins')
    op = { type: 'create', admins: m.create.admins.map(a => key(a, 'admin')) }
  } else if (m.add != null) {
    const a = m.add
    if (Buffer.byteLength(a.name) > MAX_OP_NAME_BYTES) throw new OpError('name too long')
    if (a.invite.byteLength !== 0 && a.invite.byteLength !== HASH_LENGTH) throw new OpError('bad invite')
    op = { type: 'add', member: key(a.member, 'member'), x25519: key(a.x25519, 'x25519 key'), name: a.name, ...(a.invite.byteLength > 0 ? { invite: hex(a.invite) } : {}) }
  } else if (m.remove != null) op = { type: 'remove', member: key(m.remove.member, 'member') }
  else if (m.leave != null) op = { type: 'leave' }
  else if (m.promote != null) op = { type: 'promote', member: key(m.promote.member, 'member') }
  else if (m.demote != null) op = { type: 'demote', member: key(m.demote.member, 'member') }
  else if (m.rotate != null) {
    const r = m.rotate
    if (r.epoch < 1) throw new OpError('bad epoch')
    if (r.boxes.length > MAX_BOXES) throw new OpError('too many boxes')
    const seen = new Set<string>()
    const boxes = r.boxes.map(b => {
      const member = key(b.member, 'box member')
      if (seen.has(member)) throw new OpError('two boxes for one member')
      seen.add(member)
      if (b.ephemeral.byteLength !== KEY_LENGTH || b.sealed.byteLength !== SEALED_SECRET_LENGTH) throw new OpError('bad box')
      return { member, ephemeral: b.ephemeral, sealed: b.sealed }
    })
    op = { type: 'rotate', epoch: r.epoch, boxes }
  } else if (m.invite != null) {
    const i = m.invite
    if (i.tokenHash.byteLength !== HASH_LENGTH || i.uses < 1 || i.expires < 1n || i.expires > 2n ** 48n) throw new OpError('bad invite')
    op = { type: 'invite', tokenHash: hex(i.tokenHash), expires: Number(i.expires), uses: i.uses }
  } else if (m.key != null) op = { type: 'key', x25519: key(m.key.x25519, 'x25519 key') }
  else throw new OpError('no op')
  return op
}
