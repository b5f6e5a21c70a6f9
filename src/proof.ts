import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Pure building blocks of the membership proofs (sync, calls): a key for one
 * protocol derived from a group's MAC key, HMAC over length-prefixed parts,
 * constant-time comparison. See docs/PROTOCOL.md, "Membership proof".
 */

/** `lp(x)`: each part prefixed by its length as a 16-bit big-endian integer, concatenated. */
export function lengthPrefixed (parts: Uint8Array[]): Buffer {
  const chunks: Buffer[] = []
  for (const p of parts) {
    const len = Buffer.alloc(2)
    len.writeUInt16BE(p.byteLength)
    chunks.push(len, Buffer.from(p.buffer, p.byteOffset, p.byteLength))
  }
  return Buffer.concat(chunks)
}

/** HMAC-SHA256(MAC key, label): a key for one protocol only (never used on envelopes). */
export function deriveKey (macKey: Uint8Array, label: Uint8Array): Buffer {
  return createHmac('sha256', macKey).update(label).digest()
}

/** HMAC-SHA256(key, lp(part1) ‖ lp(part2) ‖ …) */
export function hmacParts (key: Uint8Array, parts: Uint8Array[]): Buffer {
  return createHmac('sha256', key).update(lengthPrefixed(parts)).digest()
}

/** Constant-time comparison; false for different lengths. */
export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b)
}
