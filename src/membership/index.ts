/** Membership (issue 15): ops, the log fold, epoch boxes, the node's side. See docs/PROTOCOL.md, "Membership and epochs". */
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { MembershipState } from './log.js'

export { Membership, boxContext, epochKeys } from './manager.js'
export { loadOrCreateX25519, sealSecret, openSecret } from './box.js'
export { fold, apply, memberAt, rotationDue, emptyState } from './log.js'
export type { MembershipState, LogEntry, MemberInfo, Role as MemberRole } from './log.js'
export { encodeOp, decodeOp, OpError } from './op.js'
export type { Op } from './op.js'

/** A group's membership as `members` and the API show it */
export interface MembershipInfo {
  /** a create op adopted the log (else a legacy group: every author is a member) */
  logged: boolean
  epoch: number
  creator?: string
  members: Array<{ peerId: string, role: 'admin' | 'member', name?: string, hasKey: boolean }>
  removed: Array<{ peerId: string, left: boolean, by: string }>
}

export function peerIdOfKey (hexKey: string): string {
  return peerIdFromPublicKey(publicKeyFromRaw(Buffer.from(hexKey, 'hex'))).toString()
}

export function membershipOf (state: MembershipState): MembershipInfo {
  return {
    logged: state.logged,
    epoch: state.epoch,
    ...(state.creator != null ? { creator: peerIdOfKey(state.creator) } : {}),
    members: [...state.members.values()].map(m => ({ peerId: peerIdOfKey(m.key), role: m.role, ...(m.name != null ? { name: m.name } : {}), hasKey: m.x25519 != null })),
    removed: [...state.removed.values()].map(r => ({ peerId: peerIdOfKey(r.key), left: r.left, by: peerIdOfKey(r.by) }))
  }
}
