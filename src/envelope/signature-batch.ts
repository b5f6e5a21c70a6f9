/**
 * The packed batches SignatureThread (signatures.ts) sends its worker
 * (signature-worker.ts): pure, and importing nothing but node:crypto, so
 * that the worker starts small.
 */
import { ED25519_PUBLIC_KEY_LENGTH, verifyEd25519 } from './signer.js'

/** One verification: the author's key, what it signed, the signature */
export interface SignatureCheck { publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array }

const SIGNATURE_LENGTH = 64
/**
 * A record of a packed batch: u32 LE length of the signed data (its top bit
 * set when the key or the signature has the wrong length: invalid, whatever
 * the bytes), public key, signature, signed data
 */
const RECORD_HEAD = 4 + ED25519_PUBLIC_KEY_LENGTH + SIGNATURE_LENGTH
const MALFORMED = 0x8000_0000

/** What the worker is sent: `count` records packed as RECORD_HEAD describes */
export interface SignatureBatch { id: number, count: number, packed: Uint8Array }
/** ... and answers: one byte per record, 1 for a valid signature */
export interface SignatureAnswer { id: number, valid: Uint8Array }

/** Pack verifications into one buffer (pure) */
export function packBatch (jobs: ReadonlyArray<SignatureCheck>): Uint8Array<ArrayBuffer> {
  let size = 0
  for (const j of jobs) size += RECORD_HEAD + j.data.byteLength
  const packed = new Uint8Array(size)
  const view = new DataView(packed.buffer)
  let o = 0
  for (const j of jobs) {
    const wellFormed = j.publicKey.byteLength === ED25519_PUBLIC_KEY_LENGTH && j.signature.byteLength === SIGNATURE_LENGTH
    view.setUint32(o, (j.data.byteLength | (wellFormed ? 0 : MALFORMED)) >>> 0, true)
    if (wellFormed) {
      packed.set(j.publicKey, o + 4)
      packed.set(j.signature, o + 4 + ED25519_PUBLIC_KEY_LENGTH)
    }
    packed.set(j.data, o + RECORD_HEAD)
    o += RECORD_HEAD + j.data.byteLength
  }
  return packed
}

/** Verify a packed batch (the worker's job; pure). A record cut short is invalid, as is everything after it. */
export function verifyBatch (count: number, packed: Uint8Array): Uint8Array<ArrayBuffer> {
  const valid = new Uint8Array(count)
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength)
  let o = 0
  for (let i = 0; i < count; i++) {
    if (o + RECORD_HEAD > packed.byteLength) break
    const head = view.getUint32(o, true)
    const len = head & ~MALFORMED
    const end = o + RECORD_HEAD + len
    if (end > packed.byteLength) break
    const publicKey = packed.subarray(o + 4, o + 4 + ED25519_PUBLIC_KEY_LENGTH)
    const signature = packed.subarray(o + 4 + ED25519_PUBLIC_KEY_LENGTH, o + RECORD_HEAD)
    valid[i] = (head & MALFORMED) === 0 && verifyEd25519(publicKey, packed.subarray(o + RECORD_HEAD, end), signature) ? 1 : 0
    o = end
  }
  return valid
}
