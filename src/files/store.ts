/**
 * The content store: `<data-dir>/files/<hash hex>/<manifest hex>/`, one
 * directory per encrypted version of a content (usually one: a file sent
 * once), named by the SHA-256 of the plain file and then by its manifest
 * hash:
 *
 *   ref.json   the FileRef (its key too: 0600) and the groups it was announced in
 *   manifest   the manifest, once known (32 bytes per chunk)
 *   chunks     the encrypted chunks as they travel, chunk i at offset i × (chunkSize + 16); sparse while partial
 *   have       which chunks are held: bit i = chunk i (ChunkSet bytes), written after the chunk
 *   complete   written once every chunk is held and the decrypted content matched its hash
 *
 * Only ciphertext is kept; the plain file exists only where it is written
 * out (`get --out`). A chunk is checked against the manifest whenever it is
 * read (served, exported): one damaged on disk is dropped from `have` and
 * fetched again. Resuming is reading `have`.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { writeFileAtomic } from '../config.js'
import { DataDirError, InvalidInputError, errorCode } from '../errors.js'
import { fileProblem } from '../envelope/index.js'
import { TAG_BYTES, chooseChunkSize, chunkCount, decryptChunk, encryptChunk, sealedLength } from './chunks.js'
import { FileMismatchError, FileTooLargeError } from './errors.js'
import { IMAGE_HEAD_BYTES, imageInfo, mediaType } from './image.js'
import { ChunkSet, ManifestBuilder, chunkMatches, manifestProblem } from './manifest.js'
import type { FileHandle } from 'node:fs/promises'
import type { FileRef } from '../envelope/index.js'

const log = logger('p2p-chat:files:store')

const REF_FILE = 'ref.json'
const MANIFEST_FILE = 'manifest'
const CHUNKS_FILE = 'chunks'
const HAVE_FILE = 'have'
const COMPLETE_FILE = 'complete'
const TMP_DIR = 'tmp'
const HEX64 = /^[0-9a-f]{64}$/
/** ms an idle version keeps its files open */
const IDLE_CLOSE_MS = 2_000

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

interface RefFile {
  version: 1
  name: string
  size: string
  mime: string
  hash: string
  manifest: string
  chunkSize: number
  key: string
  width: number
  height: number
  /** group ids the file was announced in: who may fetch it from here is checked against these */
  groups: string[]
}

/** What import() is told of the file */
export interface ImportOptions {
  name: string
  mime?: string
  /** bytes expected (a path's size, a Content-Length): picks the chunk size; more than `maxSize` fails before reading */
  size?: number
  maxSize: number
  /** the group it is sent in */
  groupId: string
  signal?: AbortSignal
  /** plain bytes read so far */
  onProgress?: (bytes: number) => void
}

/** One encrypted version of a content, complete or partial. */
export class FileVersion {
  readonly dir: string
  readonly ref: FileRef
  readonly size: number
  readonly chunks: number
  readonly held: ChunkSet
  readonly groups: Set<string>
  manifest?: Uint8Array
  complete: boolean
  private handles?: Promise<{ chunks: FileHandle, have: FileHandle }>
  private users = 0
  private closeTimer?: NodeJS.Timeout
  private haveWrites: Promise<void> = Promise.resolve()
  /** the plain content hashed so far, in order: chunks 0 .. hashed - 1 */
  private hasher = createHash('sha256')
  private hashed = 0
  private hashing: Promise<void> = Promise.resolve()
  private hashError?: Error

  constructor (dir: string, ref: FileRef, groups: Iterable<string>, held: ChunkSet, manifest: Uint8Array | undefined, complete: boolean) {
    this.dir = dir
    this.ref = ref
    this.size = Number(ref.size)
    this.chunks = chunkCount(this.size, ref.chunkSize)
    this.held = held
    this.groups = new Set(groups)
    this.manifest = manifest
    this.complete = complete
  }

  get hashHex (): string { return hex(this.ref.hash) }
  get manifestHex (): string { return hex(this.ref.manifest) }

  /** Plain bytes held (chunks held, the last one's true length) */
  get heldBytes (): number {
    if (this.held.complete) return this.size
    const last = this.chunks - 1
    return this.held.count * this.ref.chunkSize - (this.held.has(last) ? this.ref.chunkSize - (this.size - last * this.ref.chunkSize) : 0)
  }

  private offset (i: number): number { return i * (this.ref.chunkSize + TAG_BYTES) }

  /** Run `fn` with the chunk and have files open; they close once idle. */
  private async use<T>(fn: (h: { chunks: FileHandle, have: FileHandle }) => Promise<T>): Promise<T> {
    if (this.closeTimer != null) { clearTimeout(this.closeTimer); this.closeTimer = undefined }
    this.users++
    try {
      this.handles ??= (async () => {
        const chunks = await open(join(this.dir, CHUNKS_FILE), 'r+')
        try {
          return { chunks, have: await open(join(this.dir, HAVE_FILE), 'r+') }
        } catch (err) {
          await chunks.close()
          throw err
        }
      })()
      return await fn(await this.handles)
    } finally {
      if (--this.users === 0) {
        this.closeTimer = setTimeout(() => { void this.close() }, IDLE_CLOSE_MS)
        this.closeTimer.unref()
      }
    }
  }

  /** Close the open files (reopened on the next use). */
  async close (): Promise<void> {
    if (this.closeTimer != null) { clearTimeout(this.closeTimer); this.closeTimer = undefined }
    const handles = this.handles
    if (handles == null || this.users > 0) return
    this.handles = undefined
    await this.haveWrites
    const h = await handles.catch(() => undefined)
    await h?.chunks.close().catch(() => {})
    await h?.have.close().catch(() => {})
  }

  /** Keep a manifest checked against FileRef.manifest (the caller checked it: manifestProblem). */
  async setManifest (manifest: Uint8Array): Promise<void> {
    if (this.manifest != null) return
    await writeFileAtomic(join(this.dir, MANIFEST_FILE), manifest, 0o600)
    this.manifest = Uint8Array.from(manifest)
  }

  /** Store chunk i (already checked against the manifest) and note it held. */
  async writeChunk (i: number, sealed: Uint8Array): Promise<void> {
    await this.use(async (h) => {
      await h.chunks.write(sealed, 0, sealed.byteLength, this.offset(i))
      if (this.held.add(i)) this.noteHave(h.have, i)
    })
    this.advance(i, sealed)
  }

  /**
   * Decrypt and hash the content on from `hashed` as far as it is held, in
   * order, as chunks arrive (chunk i from memory, the others read back), so
   * that completing the file does not read it all again.
   */
  private advance (i: number, sealed: Uint8Array): void {
    this.hashing = this.hashing.then(async () => {
      if (this.hashError != null) return
      while (this.hashed < this.chunks && this.held.has(this.hashed)) {
        const j = this.hashed
        const data = j === i ? sealed : await this.readChunk(j)
        // damaged on disk: dropped from `have`, fetched again, hashed then
        if (data == null) return
        this.hasher.update(decryptChunk(this.ref.key, j, data))
        this.hashed++
      }
    }).catch((err: unknown) => { this.hashError = err instanceof Error ? err : new Error(String(err)) })
  }

  /** Persist the byte of `have` holding chunk i, after the writes before it (the last write carries the latest bits). */
  private noteHave (have: FileHandle, i: number): void {
    const at = i >> 3
    this.haveWrites = this.haveWrites.then(async () => { await have.write(this.held.bytes, at, 1, at) })
      .catch((err: unknown) => { log.error('cannot note chunk %d of %s held: %e', i, this.hashHex, err) })
  }

  /**
   * Chunk i as stored, checked against the manifest; undefined when it is not
   * held, or was damaged on disk (then it is no longer held: fetched again).
   */
  async readChunk (i: number): Promise<Buffer | undefined> {
    const manifest = this.manifest
    if (manifest == null || !this.held.has(i)) return undefined
    const length = sealedLength(this.size, this.ref.chunkSize, i)
    return this.use(async (h) => {
      const buf = Buffer.allocUnsafe(length)
      const { bytesRead } = await h.chunks.read(buf, 0, length, this.offset(i))
      if (bytesRead === length && chunkMatches(manifest, i, buf)) return buf
      log.error('chunk %d of %s is damaged on disk: dropped, to be fetched again', i, this.hashHex)
      if (this.held.delete(i)) this.noteHave(h.have, i)
      if (this.complete) {
        this.complete = false
        await rm(join(this.dir, COMPLETE_FILE), { force: true })
      }
      return undefined
    })
  }

  /** The plain content, chunk by chunk, each checked (manifest, then its tag); throws when a chunk is missing or damaged. */
  async * plain (signal?: AbortSignal): AsyncGenerator<Buffer> {
    // the next chunk is read while this one is decrypted and used
    let next = this.readChunk(0).catch(() => undefined)
    for (let i = 0; i < this.chunks; i++) {
      signal?.throwIfAborted()
      const sealed = await next
      if (i + 1 < this.chunks) next = this.readChunk(i + 1).catch(() => undefined)
      if (sealed == null) throw new FileMismatchError(`chunk ${i} of ${this.ref.name} is not held (damaged on disk?): fetch the file again`)
      try {
        yield decryptChunk(this.ref.key, i, sealed)
      } catch (err) {
        log('chunk %d of %s does not decrypt: %e', i, this.hashHex, err)
        throw new FileMismatchError(`chunk ${i} of ${this.ref.name} does not decrypt with the announced key: the announcement is wrong`)
      }
    }
  }

  /** Once every chunk is held: decrypt everything and check the plain hash; writes `complete`. FileMismatchError when it does not match. */
  async verify (signal?: AbortSignal): Promise<void> {
    if (this.complete) return
    await this.hashing
    const failed = this.hashError
    try {
      if (failed != null) throw failed
      // what was held before this process began (a resumed fetch), or came after a gap
      while (this.hashed < this.chunks) {
        signal?.throwIfAborted()
        const data = await this.readChunk(this.hashed)
        if (data == null) throw new FileMismatchError(`chunk ${this.hashed} of ${this.ref.name} is not held (damaged on disk?): fetch the file again`)
        this.hasher.update(decryptChunk(this.ref.key, this.hashed, data))
        this.hashed++
      }
      if (!this.hasher.digest().equals(Buffer.from(this.ref.hash))) throw new FileMismatchError(`the content of ${this.ref.name} does not match the hash its announcement gives: its sender announced it wrong`)
    } catch (err) {
      // start over next time
      this.hasher = createHash('sha256')
      this.hashed = 0
      this.hashError = undefined
      if (err instanceof FileMismatchError || signal?.aborted === true) throw err
      throw new FileMismatchError(`${this.ref.name} does not decrypt with the key its announcement gives: its sender announced it wrong`)
    }
    await writeFile(join(this.dir, COMPLETE_FILE), `${new Date().toISOString()}\n`, { mode: 0o600 })
    this.complete = true
  }

  /** Record that the file was announced in this group too (who may fetch it from here). */
  async addGroup (groupId: string): Promise<void> {
    if (this.groups.has(groupId)) return
    this.groups.add(groupId)
    await writeFileAtomic(join(this.dir, REF_FILE), JSON.stringify(refFile(this.ref, this.groups), null, 2) + '\n', 0o600)
  }
}

function refFile (ref: FileRef, groups: Iterable<string>): RefFile {
  return {
    version: 1,
    name: ref.name,
    size: ref.size.toString(),
    mime: ref.mime,
    hash: hex(ref.hash),
    manifest: hex(ref.manifest),
    chunkSize: ref.chunkSize,
    key: hex(ref.key),
    width: ref.width,
    height: ref.height,
    groups: [...groups]
  }
}

function parseRefFile (raw: Buffer): { ref: FileRef, groups: string[] } {
  const f = JSON.parse(raw.toString('utf8')) as RefFile
  if (f.version !== 1) throw new Error(`unknown ref.json version ${String(f.version)}`)
  const ref: FileRef = {
    name: f.name,
    size: BigInt(f.size),
    mime: f.mime,
    hash: Uint8Array.from(Buffer.from(f.hash, 'hex')),
    manifest: Uint8Array.from(Buffer.from(f.manifest, 'hex')),
    chunkSize: f.chunkSize,
    key: Uint8Array.from(Buffer.from(f.key, 'hex')),
    width: f.width,
    height: f.height
  }
  const problem = fileProblem(ref)
  if (problem != null) throw new Error(problem)
  return { ref, groups: Array.isArray(f.groups) ? f.groups.filter(g => typeof g === 'string') : [] }
}

const sameRef = (a: FileRef, b: FileRef): boolean =>
  Buffer.from(a.key).equals(b.key) && a.size === b.size && a.chunkSize === b.chunkSize

/** The versions of every file held or being fetched, under one directory. */
export class FileStore {
  readonly dir: string
  /** manifest hex -> hash hexes of the versions with that manifest (two only if someone announced a copy under a false hash) */
  private readonly byManifest = new Map<string, Set<string>>()
  private readonly loaded = new Map<string, Promise<FileVersion | undefined>>()
  private ready?: Promise<void>

  constructor (dir: string) {
    this.dir = dir
  }

  /** Create the directory, drop imports a crash left half done, index what is held. Idempotent. */
  async init (): Promise<void> {
    this.ready ??= (async () => {
      try {
        await mkdir(this.dir, { recursive: true, mode: 0o700 })
        await rm(join(this.dir, TMP_DIR), { recursive: true, force: true })
        for (const hash of await readdir(this.dir)) {
          if (!HEX64.test(hash)) continue
          for (const manifest of await readdir(join(this.dir, hash)).catch(() => [] as string[])) {
            if (HEX64.test(manifest)) this.index(manifest, hash)
          }
        }
      } catch (err) {
        this.ready = undefined
        throw new DataDirError(`cannot use the file store ${this.dir}: ${errorCode(err) ?? String(err)}`, { cause: err })
      }
    })()
    await this.ready
  }

  private index (manifestHex: string, hashHex: string): void {
    let set = this.byManifest.get(manifestHex)
    if (set == null) this.byManifest.set(manifestHex, set = new Set())
    set.add(hashHex)
  }

  private path (hashHex: string, manifestHex: string): string {
    return join(this.dir, hashHex, manifestHex)
  }

  /** The version in `dir`, loaded once and then kept. */
  private async load (hashHex: string, manifestHex: string): Promise<FileVersion | undefined> {
    const dir = this.path(hashHex, manifestHex)
    let p = this.loaded.get(dir)
    if (p == null) {
      p = (async () => {
        const raw = await readFile(join(dir, REF_FILE)).catch(() => undefined)
        if (raw == null) return undefined
        const { ref, groups } = parseRefFile(raw)
        const manifest = await readFile(join(dir, MANIFEST_FILE)).catch(() => undefined)
        const size = Number(ref.size)
        const good = manifest != null && manifestProblem(manifest, ref.manifest, size, ref.chunkSize) == null
        const have = good ? await readFile(join(dir, HAVE_FILE)).catch(() => undefined) : undefined
        const held = ChunkSet.forFile(size, ref.chunkSize, have)
        const complete = held.complete && await stat(join(dir, COMPLETE_FILE)).then(() => true, () => false)
        return new FileVersion(dir, ref, groups, held, good ? Uint8Array.from(manifest) : undefined, complete)
      })().catch((err: unknown) => {
        log.error('the stored file in %s is unreadable: %e', dir, err)
        this.loaded.delete(dir)
        return undefined
      })
      this.loaded.set(dir, p)
    }
    return p
  }

  /** Every version with this manifest hash (what OPEN names). */
  async byManifestHash (manifest: Uint8Array): Promise<FileVersion[]> {
    await this.init()
    const m = hex(manifest)
    const out: FileVersion[] = []
    for (const h of this.byManifest.get(m) ?? []) {
      const v = await this.load(h, m)
      if (v != null) out.push(v)
    }
    return out
  }

  /** The version this FileRef names, if held (partly or fully). */
  async find (ref: FileRef): Promise<FileVersion | undefined> {
    await this.init()
    const v = await this.load(hex(ref.hash), hex(ref.manifest))
    return v != null && sameRef(v.ref, ref) ? v : undefined
  }

  /** A complete version of the same content (same hash), if any: its plain bytes are the file's. */
  async completeContent (hash: Uint8Array): Promise<FileVersion | undefined> {
    await this.init()
    const h = hex(hash)
    for (const [m, hashes] of this.byManifest) {
      if (!hashes.has(h)) continue
      const v = await this.load(h, m)
      if (v?.complete === true) return v
    }
    return undefined
  }

  private readonly opening = new Map<string, Promise<FileVersion>>()

  /** The version a FileRef names: the one held, else a new empty one. */
  async open (ref: FileRef, groupId: string): Promise<FileVersion> {
    const key = `${hex(ref.hash)}/${hex(ref.manifest)}`
    let p = this.opening.get(key)
    if (p == null) {
      p = this.openOnce(ref, groupId).finally(() => this.opening.delete(key))
      this.opening.set(key, p)
    }
    const v = await p
    await v.addGroup(groupId)
    return v
  }

  private async openOnce (ref: FileRef, groupId: string): Promise<FileVersion> {
    const found = await this.find(ref)
    if (found != null) {
      await found.addGroup(groupId)
      return found
    }
    const hashHex = hex(ref.hash)
    const manifestHex = hex(ref.manifest)
    const dir = this.path(hashHex, manifestHex)
    if (await this.load(hashHex, manifestHex) != null) throw new InvalidInputError(`another announcement of ${ref.name} with this manifest but another key is held: not fetching this one`)
    this.loaded.delete(dir)
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 })
      const size = Number(ref.size)
      await writeFile(join(dir, CHUNKS_FILE), new Uint8Array(0), { mode: 0o600 })
      await writeFile(join(dir, HAVE_FILE), new Uint8Array(Math.ceil(chunkCount(size, ref.chunkSize) / 8)), { mode: 0o600 })
      await writeFileAtomic(join(dir, REF_FILE), JSON.stringify(refFile(ref, [groupId]), null, 2) + '\n', 0o600)
    } catch (err) {
      if (err instanceof DataDirError) throw err
      throw new DataDirError(`cannot store ${ref.name} in ${dir}: ${errorCode(err) ?? String(err)}`, { cause: err })
    }
    this.index(manifestHex, hashHex)
    const v = await this.load(hashHex, manifestHex)
    if (v == null) throw new DataDirError(`cannot read back ${dir}`)
    return v
  }

  /**
   * Take in a plain file: cut it in chunks, encrypt each under a fresh key,
   * hash, store; the image's dimensions and the media type from its first
   * bytes. Returns the complete version, whose `ref` is what to announce.
   * FileTooLargeError past `maxSize` (nothing kept).
   */
  async import (source: AsyncIterable<Uint8Array>, opts: ImportOptions): Promise<FileVersion> {
    await this.init()
    if (opts.size != null && opts.size > opts.maxSize) throw new FileTooLargeError(opts.size, opts.maxSize)
    const tmp = join(this.dir, TMP_DIR, randomBytes(8).toString('hex'))
    await mkdir(tmp, { recursive: true, mode: 0o700 })
    try {
      const key = Uint8Array.from(randomBytes(32))
      const chunkSize = chooseChunkSize(opts.size ?? opts.maxSize)
      const plainHash = createHash('sha256')
      const manifest = new ManifestBuilder()
      const head: Buffer[] = []
      let headBytes = 0
      let total = 0
      let fill = 0
      const buf = Buffer.allocUnsafe(chunkSize)
      const fh = await open(join(tmp, CHUNKS_FILE), 'w', 0o600)
      try {
        const flush = async (): Promise<void> => {
          const i = manifest.chunks
          const sealed = encryptChunk(key, i, buf.subarray(0, fill))
          manifest.add(sealed)
          await fh.write(sealed, 0, sealed.byteLength, i * (chunkSize + TAG_BYTES))
          fill = 0
        }
        for await (const piece of source) {
          opts.signal?.throwIfAborted()
          const bytes = piece
          total += bytes.byteLength
          if (total > opts.maxSize) throw new FileTooLargeError(undefined, opts.maxSize)
          plainHash.update(bytes)
          if (headBytes < IMAGE_HEAD_BYTES) {
            head.push(Buffer.from(bytes.subarray(0, IMAGE_HEAD_BYTES - headBytes)))
            headBytes += Math.min(bytes.byteLength, IMAGE_HEAD_BYTES - headBytes)
          }
          let at = 0
          while (at < bytes.byteLength) {
            const n = Math.min(chunkSize - fill, bytes.byteLength - at)
            buf.set(bytes.subarray(at, at + n), fill)
            fill += n
            at += n
            if (fill === chunkSize) await flush()
          }
          opts.onProgress?.(total)
        }
        if (fill > 0) await flush()
      } finally {
        await fh.close()
      }
      if (total === 0) throw new InvalidInputError('the file is empty: there is nothing to send')
      const { manifest: m, hash: manifestHash } = manifest.finish()
      const first = Buffer.concat(head)
      const image = imageInfo(first)
      const dims = image != null && image.width <= 65535 && image.height <= 65535 ? image : undefined
      const ref: FileRef = {
        name: opts.name,
        size: BigInt(total),
        mime: opts.mime ?? mediaType(opts.name, first),
        hash: Uint8Array.from(plainHash.digest()),
        manifest: Uint8Array.from(manifestHash),
        chunkSize,
        key,
        width: dims?.width ?? 0,
        height: dims?.height ?? 0
      }
      const problem = fileProblem(ref)
      if (problem != null) throw new InvalidInputError(`cannot send this file: ${problem}`)
      const held = ChunkSet.forFile(total, chunkSize)
      for (let i = 0; i < held.size; i++) held.add(i)
      await writeFile(join(tmp, MANIFEST_FILE), m, { mode: 0o600 })
      await writeFile(join(tmp, HAVE_FILE), held.bytes, { mode: 0o600 })
      await writeFile(join(tmp, REF_FILE), JSON.stringify(refFile(ref, [opts.groupId]), null, 2) + '\n', { mode: 0o600 })
      await writeFile(join(tmp, COMPLETE_FILE), `${new Date().toISOString()}\n`, { mode: 0o600 })
      const hashHex = hex(ref.hash)
      const manifestHex = hex(ref.manifest)
      await mkdir(join(this.dir, hashHex), { recursive: true, mode: 0o700 })
      await rename(tmp, this.path(hashHex, manifestHex))
      this.index(manifestHex, hashHex)
      this.loaded.delete(this.path(hashHex, manifestHex))
      const v = await this.load(hashHex, manifestHex)
      if (v == null) throw new DataDirError(`cannot read back the file just stored in ${this.path(hashHex, manifestHex)}`)
      return v
    } catch (err) {
      await rm(tmp, { recursive: true, force: true }).catch(() => {})
      if (errorCode(err) === 'ENOSPC') throw new DataDirError(`no space left for the file in ${this.dir}`, { cause: err })
      throw err
    }
  }

  /** Close every open file. */
  async close (): Promise<void> {
    const versions = await Promise.all([...this.loaded.values()])
    await Promise.all(versions.map(async v => v?.close()))
  }
}
