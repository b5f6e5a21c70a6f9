/**
 * Chunking and chunk encryption of files (pure). A file is cut into chunks
 * of `chunkSize` plain bytes (the last may be shorter); chunk i is sealed
 * with ChaCha20-Poly1305 under the file's key (FileRef.key), nonce = i as a
 * 12-byte big-endian integer, no associated data, 16-byte tag appended.
 *
 * A nonce that is only the chunk index is safe because a key seals one file
 * only: every file sent gets a fresh random key (its FileRef's), so no
 * (key, nonce) pair ever seals two different plaintexts. What binds the
 * chunks together (their order, their number, the last one's length) is the
 * manifest, whose hash the signed announcement carries (manifest.ts).
 * See docs/PROTOCOL.md, "Files".
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto'
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../envelope/index.js'

export const KEY_BYTES = 32
export const NONCE_BYTES = 12
export const TAG_BYTES = 16
/** Chunk size this node chooses when a file has at most MAX_CHUNKS of it */
export const DEFAULT_CHUNK_SIZE = 256 * 1024
/** Chunks a file may have (this node's limit: a manifest of 1 MiB) */
export const MAX_CHUNKS = 32_768

/** The chunk size for a file of `size` bytes: 256 KiB, or the power of two that keeps it within MAX_CHUNKS chunks (4 MiB at most). */
export function chooseChunkSize (size: number): number {
  let c = DEFAULT_CHUNK_SIZE
  while (c < MAX_CHUNK_SIZE && Math.ceil(size / c) > MAX_CHUNKS) c *= 2
  return c
}

/** Is `c` a chunk size FileRef allows (a power of two, 4 KiB to 4 MiB)? */
export function validChunkSize (c: number): boolean {
  return Number.isInteger(c) && c >= MIN_CHUNK_SIZE && c <= MAX_CHUNK_SIZE && (c & (c - 1)) === 0
}

/** Chunks of a file of `size` bytes (size ≥ 1) */
export function chunkCount (size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize)
}

/** Plain bytes of chunk `i` */
export function plainLength (size: number, chunkSize: number, i: number): number {
  const n = chunkCount(size, chunkSize)
  if (i < 0 || i >= n) throw new RangeError(`no chunk ${i} in a file of ${n} chunks`)
  return i < n - 1 ? chunkSize : size - (n - 1) * chunkSize
}

/** Encrypted bytes of chunk `i`: its plain bytes and the tag */
export function sealedLength (size: number, chunkSize: number, i: number): number {
  return plainLength(size, chunkSize, i) + TAG_BYTES
}

/** The nonce of chunk `i`: i as a 12-byte big-endian integer */
export function chunkNonce (i: number): Buffer {
  if (!Number.isSafeInteger(i) || i < 0) throw new RangeError(`bad chunk index ${i}`)
  const nonce = Buffer.alloc(NONCE_BYTES)
  nonce.writeBigUInt64BE(BigInt(i), NONCE_BYTES - 8)
  return nonce
}

/** ChaCha20-Poly1305(key, nonce(i), plain), the 16-byte tag appended */
export function encryptChunk (key: Uint8Array, i: number, plain: Uint8Array): Buffer {
  if (key.byteLength !== KEY_BYTES) throw new RangeError('a file key is 32 bytes')
  const cipher = createCipheriv('chacha20-poly1305', key, chunkNonce(i), { authTagLength: TAG_BYTES })
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()])
}

/** The plain bytes of an encrypted chunk; throws when the tag does not verify (wrong key, index or bytes). */
export function decryptChunk (key: Uint8Array, i: number, sealed: Uint8Array): Buffer {
  if (key.byteLength !== KEY_BYTES) throw new RangeError('a file key is 32 bytes')
  if (sealed.byteLength < TAG_BYTES) throw new RangeError('an encrypted chunk is at least its tag')
  const body = sealed.subarray(0, sealed.byteLength - TAG_BYTES)
  const decipher = createDecipheriv('chacha20-poly1305', key, chunkNonce(i), { authTagLength: TAG_BYTES })
  decipher.setAuthTag(sealed.subarray(sealed.byteLength - TAG_BYTES))
  return Buffer.concat([decipher.update(body), decipher.final()])
}

export function sha256 (data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest()
}
