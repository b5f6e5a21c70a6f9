import { open } from '../envelope/index.js'
import type { GroupKeys } from '../envelope/index.js'
import type { StorableMessage } from '../store/index.js'

/** A record that passed `verifyRecord`: what the history store needs of it */
export type VerifiedRecord = StorableMessage

export type VerifyResult =
  | { ok: true, record: VerifiedRecord }
  | { ok: false, reason: string }

/**
 * The one check every imported record goes through, on a running node or on
 * a data directory: envelope `open()` (the same function the gossip
 * validator uses) with the group's keys: size, decoding, MAC, author
 * signature, decryption. Never throws.
 */
export function verifyRecord (keys: GroupKeys, bytes: Uint8Array): VerifyResult {
  const opened = open(keys, bytes)
  if (!opened.ok) return opened
  const { id, envelope: e } = opened.message
  return { ok: true, record: { id, bytes, author: e.author, seq: e.seq, lamport: e.lamport, timestamp: e.timestamp } }
}
