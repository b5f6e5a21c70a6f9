/**
 * The file service (a libp2p service, as @libp2p/fetch is one): answers
 * `/p2p-chat/file/1.0.0` from the content store, fetches files from the
 * members of their group, takes in files to send. Wires the parts (see
 * index.ts) to libp2p: the registrar, the connections, gossipsub's
 * subscribers (the members asked), per-peer rate limits and penalties.
 */
import { EventEmitter } from 'node:events'
import { rename, rm, open as openFile } from 'node:fs/promises'
import { logger } from '@libp2p/logger'
import { serviceCapabilities, serviceDependencies } from '@libp2p/interface'
import { NotStartedError, OverloadedError, InvalidInputError, errorMessage } from '../errors.js'
import { PeerRateLimiter } from '../rate-limit.js'
import { openStreamTo } from '../connectivity/streams.js'
import { FILE_PROTOCOL } from './channel.js'
import { chunkCount, MAX_CHUNKS } from './chunks.js'
import { FileProtocolError, FileTooLargeError, NotAFileError } from './errors.js'
import { fetchChunks } from './fetch.js'
import { groupFileKey } from './proof.js'
import { serve } from './serve.js'
import { FileStore } from './store.js'
import { FileResponse } from './pb/file.js'
import {
  DEFAULT_FILE_PENALTY, DEFAULT_FILE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_IMPORTS, DEFAULT_MAX_SERVING,
  DEFAULT_MAX_SOURCES, DEFAULT_NO_HOLDER_TIMEOUT, DEFAULT_REQUEST_BYTES, DEFAULT_REQUEST_RATE, DEFAULT_STREAM_RATE, DEFAULT_WINDOW_BYTES
} from './index.js'
import type { AddOptions, FetchOptions, FetchResult, FileComponents, FileGroup, FileHolding, FileHost, FileInit, FileProgress, Files, FileServiceEvents } from './index.js'
import type { FileVersion } from './store.js'
import type { FileRef } from '../envelope/index.js'
import type { AbortOptions, Connection, PeerId, Startable, Stream } from '@libp2p/interface'

const log = logger('p2p-chat:files')

/** file streams one connection may have open at once, per direction */
export const MAX_STREAMS_PER_CONNECTION = 8

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

interface Running {
  promise: Promise<FetchResult>
  progress: FileProgress
  listeners: Set<(p: FileProgress) => void>
  controller: AbortController
  /** callers waiting for it; when the last one gives up, the fetch is aborted */
  waiting: number
}

export class FileService extends EventEmitter<FileServiceEvents> implements Startable, Files {
  readonly [Symbol.toStringTag] = 'p2p-chat/files'
  readonly [serviceCapabilities]: string[] = ['@p2p-chat/files']
  readonly [serviceDependencies]: string[] = ['@libp2p/pubsub']
  readonly protocol = FILE_PROTOCOL
  readonly store: FileStore
  private readonly components: FileComponents
  private readonly host: FileHost
  private readonly init: Required<Omit<FileInit, 'dir'>>
  private controller?: AbortController
  private readonly running = new Map<string, Running>()
  private readonly serving = new Set<Promise<unknown>>()
  private readonly penalties = new Map<string, number>()
  private readonly requestLimiter: PeerRateLimiter
  private readonly streamLimiter: PeerRateLimiter
  private imports = 0

  constructor (components: FileComponents, host: FileHost, init: FileInit) {
    super()
    this.components = components
    this.host = host
    this.store = new FileStore(init.dir)
    this.init = {
      maxFileSize: init.maxFileSize ?? DEFAULT_MAX_FILE_SIZE,
      timeout: init.timeout ?? DEFAULT_FILE_TIMEOUT,
      idleTimeout: init.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
      noHolderTimeout: init.noHolderTimeout ?? DEFAULT_NO_HOLDER_TIMEOUT,
      maxSources: init.maxSources ?? DEFAULT_MAX_SOURCES,
      windowBytes: init.windowBytes ?? DEFAULT_WINDOW_BYTES,
      requestBytes: init.requestBytes ?? DEFAULT_REQUEST_BYTES,
      penalty: init.penalty ?? DEFAULT_FILE_PENALTY,
      maxServing: init.maxServing ?? DEFAULT_MAX_SERVING,
      requestRate: init.requestRate ?? DEFAULT_REQUEST_RATE,
      streamRate: init.streamRate ?? DEFAULT_STREAM_RATE,
      maxImports: init.maxImports ?? DEFAULT_MAX_IMPORTS
    }
    if (!(this.init.maxFileSize >= 1)) throw new InvalidInputError('the largest file size must be at least 1 byte')
    this.requestLimiter = new PeerRateLimiter({ rate: this.init.requestRate })
    this.streamLimiter = new PeerRateLimiter({ rate: this.init.streamRate })
  }

  get maxFileSize (): number { return this.init.maxFileSize }

  get started (): boolean { return this.controller != null }

  async start (): Promise<void> {
    if (this.controller != null) return
    await this.store.init()
    // over relayed (limited) connections too: members behind NATs meet there; it counts against the relay's data limit
    await this.components.registrar.handle(FILE_PROTOCOL, this.onStream, {
      runOnLimitedConnection: true,
      maxInboundStreams: MAX_STREAMS_PER_CONNECTION,
      maxOutboundStreams: MAX_STREAMS_PER_CONNECTION
    })
    this.controller = new AbortController()
  }

  /** Abort fetches and transfers while connections are still up; idempotent. */
  async beforeStop (): Promise<void> {
    const controller = this.controller
    if (controller == null) return
    this.controller = undefined
    controller.abort(new NotStartedError())
    await this.components.registrar.unhandle(FILE_PROTOCOL).catch((err: unknown) => { log('unhandle %s: %e', FILE_PROTOCOL, err) })
    await Promise.allSettled([...this.running.values()].map(async r => r.promise))
    await Promise.allSettled([...this.serving])
    await this.store.close()
  }

  async stop (): Promise<void> {
    await this.beforeStop()
  }

  private live (): AbortSignal {
    const c = this.controller
    if (c == null) throw new NotStartedError()
    return c.signal
  }

  // ---- penalties ------------------------------------------------------------

  penalizedUntil (peer: string): number | undefined {
    const until = this.penalties.get(peer)
    if (until == null) return undefined
    if (until <= Date.now()) {
      this.penalties.delete(peer)
      return undefined
    }
    return until
  }

  private penalize (peer: PeerId, reason: string): void {
    const key = peer.toString()
    log('cut off %p for %d s: %s', peer, Math.round(this.init.penalty / 1000), reason)
    this.penalties.set(key, Date.now() + this.init.penalty)
    if (this.penalties.size > 10_000) for (const [p, until] of this.penalties) if (until <= Date.now()) this.penalties.delete(p)
    this.emit('penalized', { peer: key, reason })
  }

  // ---- sending ----------------------------------------------------------------

  /** Take in a file for a group: chunked, encrypted under a fresh key, stored complete. Returns the FileRef to announce. */
  async add (group: FileGroup, source: AsyncIterable<Uint8Array>, options: AddOptions): Promise<FileRef> {
    const stopped = this.live()
    if (this.imports >= this.init.maxImports) throw new OverloadedError(`${this.imports} files are being taken in already: try again in a moment`, 1000)
    this.imports++
    try {
      const signal = options.signal != null ? AbortSignal.any([stopped, options.signal]) : stopped
      const v = await this.store.import(source, { name: options.name, mime: options.mime, size: options.size, maxSize: this.init.maxFileSize, groupId: group.keys.groupId, signal, onProgress: options.onProgress })
      log('took in %s (%d bytes, %d chunks) for %s', v.ref.name, v.size, v.chunks, group.topicId)
      return v.ref
    } finally {
      this.imports--
    }
  }

  // ---- fetching ---------------------------------------------------------------

  /** The members to ask, best first: the author, members proven by sync, then the others subscribed to the group. */
  private sources (group: FileGroup, author?: string): PeerId[] {
    const { peerId, pubsub, connectionManager } = this.components
    const peers = pubsub.getSubscribers(group.keys.wireTopic)
      .filter(p => !p.equals(peerId) && connectionManager.getConnections(p).length > 0 && this.penalizedUntil(p.toString()) == null)
    const rank = (p: PeerId): number => p.toString() === author ? 0 : this.host.proven?.(p, group) === true ? 1 : 2
    return peers.map(p => ({ p, r: rank(p), k: Math.random() })).sort((a, b) => a.r - b.r || a.k - b.k).map(x => x.p)
  }

  private progressOf (v: FileVersion, state: FileProgress['state'], fetched = 0, sources = 0, from: Record<string, number> = {}): FileProgress {
    return { hash: v.hashHex, name: v.ref.name, size: v.size, chunks: v.chunks, held: v.held.count, bytes: v.heldBytes, fetched, sources, from, state }
  }

  /**
   * Fetch a file from the group's members until it is held complete and its
   * content checked; a fetch of the same file under way is joined. Resumes
   * from what is held (after a stop or a crash too). `signal` gives up this
   * caller's wait (the fetch stops when nobody waits any more).
   */
  async fetch (group: FileGroup, ref: FileRef, options: FetchOptions = {}): Promise<FetchResult> {
    this.live()
    const size = Number(ref.size)
    if (size > this.init.maxFileSize) throw new FileTooLargeError(size, this.init.maxFileSize)
    if (chunkCount(size, ref.chunkSize) > MAX_CHUNKS) throw new FileTooLargeError(size, Math.min(this.init.maxFileSize, MAX_CHUNKS * ref.chunkSize))
    options.signal?.throwIfAborted()
    const key = hex(ref.manifest)
    // the same content held complete under another announcement: nothing to fetch (that version is not served as this one)
    if (!this.running.has(key) && (await this.store.find(ref))?.complete !== true) {
      const same = await this.store.completeContent(ref.hash)
      if (same != null) {
        const progress = { ...this.progressOf(same, 'complete'), name: ref.name }
        options.onProgress?.(progress)
        return { ...progress, alreadyHeld: true, fetchedBytes: 0, ms: 0, refused: {} }
      }
    }
    let run = this.running.get(key)
    if (run == null) {
      const version = await this.store.open(ref, group.keys.groupId)
      run = this.running.get(key)
      if (run == null) {
        const controller = new AbortController()
        const progress = this.progressOf(version, 'fetching')
        const listeners = new Set<(p: FileProgress) => void>()
        const started: Running = { promise: Promise.resolve(undefined as never), progress, listeners, controller, waiting: 0 }
        started.promise = this.runFetch(group, version, options.author, started).finally(() => { this.running.delete(key) })
        started.promise.catch(() => {}) // every caller awaits it below; a failure reaches them there
        this.running.set(key, started)
        run = started
      }
    }
    return this.wait(run, options)
  }

  private async wait (run: Running, options: FetchOptions): Promise<FetchResult> {
    const { onProgress, signal } = options
    if (onProgress != null) {
      run.listeners.add(onProgress)
      onProgress(run.progress)
    }
    run.waiting++
    let onAbort: (() => void) | undefined
    try {
      if (signal == null) return await run.promise
      return await Promise.race([run.promise, new Promise<never>((_resolve, reject) => {
        onAbort = () => { reject(signal.reason as Error) }
        signal.addEventListener('abort', onAbort, { once: true })
      })])
    } finally {
      if (onAbort != null) signal?.removeEventListener('abort', onAbort)
      if (onProgress != null) run.listeners.delete(onProgress)
      if (--run.waiting === 0) run.controller.abort(new Error('nobody waits for this file any more'))
    }
  }

  private async runFetch (group: FileGroup, version: FileVersion, author: string | undefined, run: Running): Promise<FetchResult> {
    const started = Date.now()
    const stopped = this.live()
    const signal = AbortSignal.any([stopped, run.controller.signal])
    const from: Record<string, number> = {}
    let fetched = 0
    let sources = 0
    const report = (state: FileProgress['state']): void => {
      run.progress = this.progressOf(version, state, fetched, sources, { ...from })
      for (const l of run.listeners) {
        try { l(run.progress) } catch (err) { log.error('a progress listener threw: %e', err) }
      }
    }
    const alreadyHeld = version.complete
    let outcome = { bytes: 0, refused: {} as Record<string, string> }
    if (!version.held.complete) {
      log('fetching %s (%d of %d chunks held) in %s', version.ref.name, version.held.count, version.chunks, group.topicId)
      outcome = await fetchChunks({
        local: this.components.peerId,
        version,
        groupKey: groupFileKey(group.keys.macKey),
        sources: () => this.sources(group, author),
        open: async (peer, s) => openStreamTo(this.components.connectionManager, peer, FILE_PROTOCOL, { signal: s }),
        penalize: (peer, reason) => { this.penalize(peer, reason) },
        excluded: peer => this.penalizedUntil(peer.toString()) != null,
        maxSources: this.init.maxSources,
        windowBytes: this.init.windowBytes,
        requestBytes: this.init.requestBytes,
        timeout: this.init.timeout,
        idleTimeout: this.init.idleTimeout,
        noHolderTimeout: this.init.noHolderTimeout,
        signal,
        onChunk: (peer) => {
          fetched++
          from[peer] = (from[peer] ?? 0) + 1
          report('fetching')
        },
        onSources: n => { sources = n }
      })
    }
    if (!version.complete) {
      report('verifying')
      await version.verify(signal)
    }
    report('complete')
    const result: FetchResult = { ...run.progress, alreadyHeld, fetchedBytes: outcome.bytes, ms: Date.now() - started, refused: outcome.refused }
    if (!alreadyHeld) {
      log('fetched %s: %d chunks in %d ms from %o', version.ref.name, fetched, result.ms, from)
      this.emit('fetched', result)
    }
    return result
  }

  /** What is held of a file, and the fetch under way. */
  async holding (ref: FileRef): Promise<FileHolding> {
    const v = await this.store.find(ref)
    const n = chunkCount(Number(ref.size), ref.chunkSize)
    const run = this.running.get(hex(ref.manifest))
    const same = v == null ? await this.store.completeContent(ref.hash) : undefined
    const base: FileHolding = v != null
      ? { chunks: v.chunks, held: v.held.count, bytes: v.heldBytes, complete: v.complete }
      : { chunks: n, held: same != null ? n : 0, bytes: same != null ? Number(ref.size) : 0, complete: same != null }
    return run != null ? { ...base, fetching: run.progress } : base
  }

  fetching (): FileProgress[] {
    return [...this.running.values()].map(r => r.progress)
  }

  /** The verified version of this file, or another complete one of the same content */
  private async completeVersion (ref: FileRef): Promise<FileVersion | undefined> {
    const v = await this.store.find(ref)
    if (v?.complete === true) return v
    return this.store.completeContent(ref.hash)
  }

  async content (ref: FileRef, options: AbortOptions = {}): Promise<AsyncIterable<Uint8Array> | undefined> {
    const v = await this.completeVersion(ref)
    return v != null ? v.plain(options.signal) : undefined
  }

  /** Write the plain content of a held file to `out` (through a temporary file beside it, renamed at the end). */
  async writeTo (ref: FileRef, out: string, options: AbortOptions & { overwrite?: boolean } = {}): Promise<number> {
    const v = await this.completeVersion(ref)
    if (v == null) throw new NotAFileError(`${ref.name} is not held here yet: fetch it first`)
    const part = `${out}.p2p-chat-part`
    const fh = await openFile(part, 'w', 0o600)
    let bytes = 0
    try {
      for await (const p of v.plain(options.signal)) {
        await fh.write(p)
        bytes += p.byteLength
      }
      await fh.close()
      if (options.overwrite !== true) {
        // refuse to replace a file that appeared meanwhile
        const exists = await openFile(out, 'r').then(async h => { await h.close(); return true }, () => false)
        if (exists) throw new InvalidInputError(`${out} exists already: give another path (or overwrite)`)
      }
      await rename(part, out)
      return bytes
    } catch (err) {
      await fh.close().catch(() => {})
      await rm(part, { force: true }).catch(() => {})
      throw err
    }
  }

  // ---- serving ------------------------------------------------------------------

  private groupKeys (groupIds: ReadonlySet<string>): Uint8Array[] {
    const keys: Uint8Array[] = []
    for (const g of this.host.groups()) if (groupIds.has(g.keys.groupId)) keys.push(groupFileKey(g.keys.macKey))
    return keys
  }

  private readonly onStream = (stream: Stream, connection: Connection): void => {
    const remote = connection.remotePeer
    const peer = remote.toString()
    const signal = this.controller?.signal
    if (signal == null || this.penalizedUntil(peer) != null || !this.streamLimiter.take(peer)) {
      stream.abort(new Error('not serving files to this peer now'))
      return
    }
    if (this.serving.size >= this.init.maxServing) {
      // BUSY, unread: the requester asks another member
      const busy = FileResponse.encode({ status: FileResponse.Status.BUSY })
      stream.send(Uint8Array.from([busy.byteLength, ...busy]))
      stream.close().catch(() => { stream.abort(new Error('closing a busy answer failed')) })
      return
    }
    const p = serve(stream, {
      local: this.components.peerId,
      remote,
      store: this.store,
      groupKeys: ids => this.groupKeys(ids),
      limiter: this.requestLimiter,
      timeout: this.init.timeout,
      signal
    }).then(r => {
      if (r.status === 'served') log('served %d chunks of %s to %p', r.chunks, r.hash, remote)
    }, (err: unknown) => {
      if (err instanceof FileProtocolError) this.penalize(remote, err.message)
      else log('file stream from %p ended: %s', remote, errorMessage(err))
    }).finally(() => { this.serving.delete(p) })
    this.serving.add(p)
  }
}
