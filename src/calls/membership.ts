/**
 * Membership proofs of the call protocol (pure). The offer proves that the
 * caller holds the MAC key of a group the callee is in; an accepting answer
 * proves the same of the callee. Both are bound to the two peer ids (as the
 * Noise handshake authenticated them), the call id and the caller's fresh
 * nonce, so a proof is good for one call between these two peers only.
 * Nothing names the group: the callee tries its own groups' keys.
 * See docs/PROTOCOL.md, "Calls", "Admission".
 */
import { randomBytes } from 'node:crypto'
import { deriveKey, equalBytes, hmacParts } from '../proof.js'

export const NONCE_BYTES = 32
export const PROOF_BYTES = 32
/** proofs in one offer: the caller proves up to this many of its groups, and pads to it */
export const MAX_PROOFS = 4

const KEY_LABEL = Buffer.from('p2p-chat/call/1/key', 'utf8')
const AUTH_LABEL = Buffer.from('p2p-chat/call/1/auth', 'utf8')

export type CallRole = 'caller' | 'callee'

/** The public inputs of one call's proofs. Peer ids are their multihash bytes. */
export interface CallTranscript {
  caller: Uint8Array
  callee: Uint8Array
  callId: Uint8Array
  nonce: Uint8Array
}

/** A key for calls only, derived from the group MAC key: HMAC(MAC key, "p2p-chat/call/1/key"). */
export function callKey (macKey: Uint8Array): Buffer {
  return deriveKey(macKey, KEY_LABEL)
}

/** HMAC(callKey, lp("p2p-chat/call/1/auth") ‖ lp(role) ‖ lp(caller) ‖ lp(callee) ‖ lp(call id) ‖ lp(nonce)) */
export function callProof (key: Uint8Array, role: CallRole, t: CallTranscript): Buffer {
  return hmacParts(key, [AUTH_LABEL, Buffer.from(role, 'utf8'), t.caller, t.callee, t.callId, t.nonce])
}

/**
 * Caller: one proof per call key (the first MAX_PROOFS, in the caller's order
 * of preference), padded with random bytes to exactly MAX_PROOFS so that the
 * offer does not tell how many groups the caller is in.
 */
export function offerProofs (keys: Uint8Array[], t: CallTranscript): Buffer[] {
  const proofs = keys.slice(0, MAX_PROOFS).map(k => callProof(k, 'caller', t))
  while (proofs.length < MAX_PROOFS) proofs.push(randomBytes(PROOF_BYTES))
  return proofs
}

/**
 * Callee: the index of the first key that some proof matches, or -1. Every
 * key is tried against every proof (constant-time compares, no early exit),
 * so the time taken depends on how many groups the callee has, not on which
 * one matched.
 */
export function findProver (keys: Uint8Array[], proofs: Uint8Array[], t: CallTranscript): number {
  let found = -1
  keys.forEach((key, i) => {
    const expected = callProof(key, 'caller', t)
    let match = false
    for (const p of proofs) match = equalBytes(p, expected) || match
    if (match && found < 0) found = i
  })
  return found
}

/** Caller: does the answer's proof show that the callee holds one of the keys the offer proved? */
export function checkCalleeProof (keys: Uint8Array[], proof: Uint8Array | undefined, t: CallTranscript): boolean {
  if (proof == null || proof.byteLength !== PROOF_BYTES) return false
  let match = false
  for (const key of keys) match = equalBytes(proof, callProof(key, 'callee', t)) || match
  return match
}
