/**
 * The manifest of a file (pure): the SHA-256 of each encrypted chunk, in
 * order, concatenated. Its own SHA-256 is FileRef.manifest, signed inside
 * the announcement, so a manifest from anyone can be checked, and with it
 * every chunk. Also the bit sets of chunks held that the store keeps and
 * the protocol's OPEN answer carries.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { chunkCount } from './chunks.js'

export const HASH_BYTES = 32

/** Builds a manifest chunk by chunk. */
export class ManifestBuilder {
  private readonly hashes: Buffer[] = []

  /** Add the next encrypted chunk; returns its hash. */
  add (sealed: Uint8Array): Buffer {
    const h = createHash('sha256').update(sealed).digest()
    this.hashes.push(h)
    return h
  }

  get chunks (): number { return this.hashes.length }

  /** The manifest and its hash (FileRef.manifest). */
  finish (): { manifest: Buffer, hash: Buffer } {
    const manifest = Buffer.concat(this.hashes)
    return { manifest, hash: createHash('sha256').update(manifest).digest() }
  }
}

/** What is wrong with a manifest for a file of `size` bytes in chunks of `chunkSize` whose manifest hash is `expected`, or undefined. */
export function manifestProblem (manifest: Uint8Array, expected: Uint8Array, size: number, chunkSize: number): string | undefined {
  if (manifest.byteLength !== HASH_BYTES * chunkCount(size, chunkSize)) return 'manifest of the wrong length'
  const h = createHash('sha256').update(manifest).digest()
  if (expected.byteLength !== HASH_BYTES || !timingSafeEqual(h, expected)) return 'manifest does not match its hash'
  return undefined
}

/** The hash of chunk `i` in a manifest */
export function chunkHash (manifest: Uint8Array, i: number): Uint8Array {
  return manifest.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)
}

/** Does an encrypted chunk hash to what the manifest says for index `i`? */
export function chunkMatches (manifest: Uint8Array, i: number, sealed: Uint8Array): boolean {
  const expected = chunkHash(manifest, i)
  if (expected.byteLength !== HASH_BYTES) return false
  return timingSafeEqual(createHash('sha256').update(sealed).digest(), expected)
}

/**
 * A set of chunk indexes 0..n-1 as bits: bit i is bit (i % 8) of byte
 * i / 8, least significant first. Its bytes are what the store writes and
 * what OPEN answers carry (exactly ceil(n / 8) bytes, unused bits zero).
 */
export class ChunkSet {
  readonly size: number
  readonly bytes: Uint8Array
  private held = 0

  constructor (size: number, bytes?: Uint8Array) {
    this.size = size
    this.bytes = new Uint8Array(Math.ceil(size / 8))
    if (bytes != null) {
      this.bytes.set(bytes.subarray(0, this.bytes.byteLength))
      // bits past the end are not chunks
      if (size % 8 !== 0 && this.bytes.byteLength > 0) this.bytes[this.bytes.byteLength - 1] &= (1 << (size % 8)) - 1
      for (const b of this.bytes) this.held += popcount(b)
    }
  }

  /** A peer's set, or undefined when its bytes are not exactly ceil(n / 8) with unused bits zero. */
  static parse (size: number, bytes: Uint8Array): ChunkSet | undefined {
    if (bytes.byteLength !== Math.ceil(size / 8)) return undefined
    if (size % 8 !== 0 && bytes.byteLength > 0 && (bytes[bytes.byteLength - 1] >> (size % 8)) !== 0) return undefined
    return new ChunkSet(size, bytes)
  }

  /** Every chunk of a file of `size` bytes */
  static full (size: number): ChunkSet {
    const s = new ChunkSet(size)
    for (let i = 0; i < size; i++) s.add(i)
    return s
  }

  static forFile (size: number, chunkSize: number, bytes?: Uint8Array): ChunkSet {
    return new ChunkSet(chunkCount(size, chunkSize), bytes)
  }

  has (i: number): boolean {
    return i >= 0 && i < this.size && (this.bytes[i >> 3] & (1 << (i & 7))) !== 0
  }

  /** Add chunk i; true when it was not there */
  add (i: number): boolean {
    if (this.has(i) || i < 0 || i >= this.size) return false
    this.bytes[i >> 3] |= 1 << (i & 7)
    this.held++
    return true
  }

  /** Remove chunk i; true when it was there */
  delete (i: number): boolean {
    if (!this.has(i)) return false
    this.bytes[i >> 3] &= ~(1 << (i & 7))
    this.held--
    return true
  }

  /** chunks in the set */
  get count (): number { return this.held }

  get complete (): boolean { return this.held === this.size }
}

function popcount (b: number): number {
  let n = 0
  for (let x = b; x !== 0; x &= x - 1) n++
  return n
}
