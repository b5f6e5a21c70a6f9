import { createHmac } from 'node:crypto'
import { deriveKey, equalBytes, hmacParts, lengthPrefixed } from '../proof.js'

/**
 * Membership proofs of the sync protocol (pure). Both peers prove that they
 * hold the group's MAC key, bound to this session: both peer ids (as the
 * Noise handshake authenticated them) and a fresh nonce from each side. The
 * proof also names the group: the responder finds it by trying its own
 * groups' keys, so nothing on the wire identifies the group to anyone else.
 */

export const NONCE_LENGTH = 32
export const PROOF_LENGTH = 32

const KEY_LABEL = Buffer.from('p2p-chat/sync/2/key', 'utf8')
const TRANSCRIPT_LABEL = Buffer.from('p2p-chat/sync/2/auth', 'utf8')
const DIGEST_LABEL = Buffer.from('p2p-chat/sync/2/digest', 'utf8')

export type Role = 'initiator' | 'responder'

/** The session's public inputs, in the initiator's order. */
export interface Transcript {
  initiator: Uint8Array
  responder: Uint8Array
  initiatorNonce: Uint8Array
  responderNonce: Uint8Array
}

/** A key for sync only, derived from the group MAC key (never used on envelopes). */
export function syncKey (macKey: Uint8Array): Buffer {
  return deriveKey(macKey, KEY_LABEL)
}

/** HMAC(syncKey, label, role, initiator id, responder id, both nonces) */
export function proof (key: Uint8Array, role: Role, t: Transcript): Buffer {
  return hmacParts(key, [TRANSCRIPT_LABEL, Buffer.from(role, 'utf8'), t.initiator, t.responder, t.initiatorNonce, t.responderNonce])
}

/** A keyed, session-bound digest of an encoded summary: equal digests, equal holdings. */
export function digest (key: Uint8Array, t: Transcript, summary: Uint8Array): Buffer {
  return createHmac('sha256', key)
    .update(lengthPrefixed([DIGEST_LABEL, t.initiatorNonce, t.responderNonce]))
    .update(summary)
    .digest()
}

export { equalBytes }
