/**
 * The access proof of the file protocol (pure). A requester proves that it
 * holds both the MAC key of a group the file was announced in and the
 * file's key (FileRef.key, inside the sealed announcement): what reading
 * the announcement takes. The proof is bound to the two peer ids (as Noise
 * authenticated them) and the file, so it is good for this requester
 * towards this responder for this file only; nothing in it names the
 * group, and a file's hash, or even its manifest hash, is not enough to
 * make one. See docs/PROTOCOL.md, "Files", "Who may fetch".
 */
import { deriveKey, equalBytes, hmacParts } from '../proof.js'

export const PROOF_BYTES = 32

const KEY_LABEL = Buffer.from('p2p-chat/file/1/key', 'utf8')
const AUTH_LABEL = Buffer.from('p2p-chat/file/1/auth', 'utf8')

/** The public inputs and the file's secret of one proof. Peer ids are their multihash bytes. */
export interface AccessTranscript {
  requester: Uint8Array
  responder: Uint8Array
  /** FileRef.manifest */
  manifest: Uint8Array
  /** FileRef.key */
  fileKey: Uint8Array
}

/** A key for files only, derived from the group MAC key: HMAC(MAC key, "p2p-chat/file/1/key"). */
export function groupFileKey (macKey: Uint8Array): Buffer {
  return deriveKey(macKey, KEY_LABEL)
}

/** HMAC(groupFileKey, lp("p2p-chat/file/1/auth") ‖ lp(requester) ‖ lp(responder) ‖ lp(manifest) ‖ lp(file key)) */
export function accessProof (key: Uint8Array, t: AccessTranscript): Buffer {
  return hmacParts(key, [AUTH_LABEL, t.requester, t.responder, t.manifest, t.fileKey])
}

/**
 * Responder: does `proof` match any of the group keys? Every key is tried
 * (constant-time compares, no early exit), so the time does not tell which.
 */
export function checkAccess (keys: Uint8Array[], proof: Uint8Array, t: AccessTranscript): boolean {
  if (proof.byteLength !== PROOF_BYTES) return false
  let ok = false
  for (const key of keys) ok = equalBytes(proof, accessProof(key, t)) || ok
  return ok
}
