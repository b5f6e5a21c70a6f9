/**
 * The fetching end of /p2p-chat/file/1.0.0: the missing chunks of one file
 * from several members at once. A plan hands out runs of chunks that are
 * neither held nor asked for already, each to a session with a member that
 * holds them (its OPEN answer says which); a session keeps a window of
 * bytes asked for and not received yet. Every chunk is checked against the
 * manifest (its SHA-256, its length) before it is stored: a bad one, a bad
 * manifest or a broken message cuts the peer off and its chunks go back to
 * the plan, for another member. A session that fails (the member went away,
 * a timeout) gives its chunks back too; the member is asked again later.
 */
import { sealedLength } from './chunks.js'
import { FileChannel, END, MAX_RANGE, bytes, maxResponseBytes } from './channel.js'
import { FileProtocolError, FileUnavailableError } from './errors.js'
import { ChunkSet, chunkMatches, manifestProblem } from './manifest.js'
import { accessProof } from './proof.js'
import { FileRequest, FileResponse } from './pb/file.js'
import type { FileVersion } from './store.js'
import type { PeerId, Stream } from '@libp2p/interface'

export interface FetchContext {
  local: PeerId
  version: FileVersion
  /** groupFileKey of the group the file was announced in */
  groupKey: Uint8Array
  /** the members to ask now, best first */
  sources: () => PeerId[]
  /** a file stream to a peer */
  open: (peer: PeerId, signal: AbortSignal) => Promise<Stream>
  penalize: (peer: PeerId, reason: string) => void
  /** peers not to ask (cut off) */
  excluded: (peer: PeerId) => boolean
  maxSources: number
  windowBytes: number
  requestBytes: number
  timeout: number
  idleTimeout: number
  noHolderTimeout: number
  signal: AbortSignal
  /** a chunk arrived and was stored */
  onChunk: (peer: string, bytes: number) => void
  /** sessions under way changed */
  onSources: (n: number) => void
}

export interface FetchOutcome {
  /** encrypted bytes received and stored */
  bytes: number
  /** peers refused (cut off), with why */
  refused: Record<string, string>
}

type SessionEnd = 'drained' | 'unknown' | 'busy' | 'failed' | 'refused'

/** Which chunks are held or asked for: runs of the others for sessions. */
export class Plan {
  readonly held: ChunkSet
  private readonly asked: Uint8Array
  private low = 0

  constructor (held: ChunkSet) {
    this.held = held
    this.asked = new Uint8Array(held.size)
  }

  get complete (): boolean { return this.held.complete }

  private free (i: number): boolean { return !this.held.has(i) && this.asked[i] === 0 }

  /** Is any chunk neither held nor asked for? */
  get open (): boolean {
    for (let i = this.low; i < this.held.size; i++) if (this.free(i)) return true
    return false
  }

  /** The lowest run (at most `max`) of chunks neither held nor asked for that `has` holds; marked as asked. */
  take (has: (i: number) => boolean, max: number): number[] {
    while (this.low < this.held.size && this.held.has(this.low)) this.low++
    const run: number[] = []
    for (let i = this.low; i < this.held.size && run.length < max; i++) {
      if (this.free(i) && has(i)) {
        run.push(i)
        this.asked[i] = 1
      } else if (run.length > 0) break
    }
    return run
  }

  /** Chunk i is no longer asked for (received, or given back) */
  release (i: number): void {
    this.asked[i] = 0
  }
}

/** ms before a peer is asked again after a session ended so */
function retryDelay (end: SessionEnd, failures: number): number {
  switch (end) {
    case 'drained': return 500
    case 'busy': return 2_000
    case 'unknown': return 3_000
    case 'failed': return Math.min(16_000, 1_000 * 2 ** Math.max(0, failures - 1))
    case 'refused': return Number.POSITIVE_INFINITY
  }
}

/** Fetch every missing chunk of `ctx.version`; resolves once all are held (the caller verifies the content). */
export async function fetchChunks (ctx: FetchContext): Promise<FetchOutcome> {
  const { version } = ctx
  const plan = new Plan(version.held)
  const outcome: FetchOutcome = { bytes: 0, refused: {} }
  const stop = new AbortController()
  const signal = AbortSignal.any([ctx.signal, stop.signal])
  const active = new Map<string, Promise<void>>()
  const retryAt = new Map<string, number>()
  const failures = new Map<string, number>()
  const started = Date.now()
  let lastChunk = started
  let lastHolder = started
  let wake: (() => void) | undefined

  const state: SessionState = {
    plan,
    outcome,
    onHolder: () => { lastHolder = Date.now() },
    onChunk: (peer, bytes) => {
      lastChunk = lastHolder = Date.now()
      outcome.bytes += bytes
      ctx.onChunk(peer, bytes)
    }
  }
  try {
    while (!plan.complete) {
      signal.throwIfAborted()
      const now = Date.now()
      if (plan.open) {
        for (const peer of ctx.sources()) {
          if (active.size >= ctx.maxSources) break
          const key = peer.toString()
          if (active.has(key) || ctx.excluded(peer) || (retryAt.get(key) ?? 0) > now) continue
          const run = session(peer, ctx, state, signal).then(end => {
            const f = end === 'failed' ? (failures.get(key) ?? 0) + 1 : 0
            failures.set(key, f)
            retryAt.set(key, Date.now() + retryDelay(end, f))
          }).finally(() => {
            active.delete(key)
            ctx.onSources(active.size)
            wake?.()
          })
          active.set(key, run)
          ctx.onSources(active.size)
        }
      }
      if (plan.complete) break
      if (Date.now() - lastChunk > ctx.idleTimeout) {
        throw new FileUnavailableError(`no chunk of ${version.ref.name} arrived for ${Math.round(ctx.idleTimeout / 1000)} s: ${version.held.count} of ${version.chunks} chunks held (fetch it again later: it goes on from there)`)
      }
      if (active.size === 0 && Date.now() - lastHolder > ctx.noHolderTimeout) {
        throw new FileUnavailableError(`no connected member holds ${version.ref.name}${version.held.count > 0 ? ` (or the ${version.chunks - version.held.count} chunks still missing)` : ''}: try again once the sender or another member that has it is online`)
      }
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, 200)
        wake = () => { clearTimeout(timer); resolve() }
      })
      wake = undefined
    }
    return outcome
  } finally {
    stop.abort(new Error('fetch over'))
    await Promise.allSettled([...active.values()])
  }
}

interface SessionState {
  plan: Plan
  outcome: FetchOutcome
  onHolder: () => void
  onChunk: (peer: string, bytes: number) => void
}

/** One member: OPEN, the manifest if not known yet, then chunks in a window until it has nothing more we lack. */
async function session (peer: PeerId, ctx: FetchContext, state: SessionState, signal: AbortSignal): Promise<SessionEnd> {
  const { version } = ctx
  const { plan } = state
  const ref = version.ref
  const key = peer.toString()
  const sealedMax = ref.chunkSize + 16
  const windowChunks = Math.max(1, Math.floor(ctx.windowBytes / sealedMax))
  const perRequest = Math.max(1, Math.min(MAX_RANGE, Math.floor(ctx.requestBytes / ref.chunkSize)))
  const maxData = maxResponseBytes(ref)
  /** chunks asked of this peer and not answered yet, in the order asked */
  const pending: number[] = []
  let writing: number | undefined
  let ch: FileChannel | undefined
  try {
    const stream = await ctx.open(peer, AbortSignal.any([signal, AbortSignal.timeout(ctx.timeout)]))
    ch = new FileChannel(stream, { maxDataLength: maxData, maxBufferSize: windowChunks * (sealedMax + 64) + 2 * maxData, timeout: ctx.timeout, signal })
    const channel = ch
    const proof = accessProof(ctx.groupKey, { requester: ctx.local.toMultihash().bytes, responder: peer.toMultihash().bytes, manifest: ref.manifest, fileKey: ref.key })
    await channel.write({ kind: FileRequest.Kind.OPEN, manifest: ref.manifest, proof: bytes(proof) }, FileRequest)
    const opened = await channel.read(FileResponse)
    if (opened === END) throw new Error('the peer closed the stream')
    if (opened.status === FileResponse.Status.UNKNOWN) { await channel.close(); return 'unknown' }
    if (opened.status === FileResponse.Status.BUSY) { await channel.close(); return 'busy' }
    if (opened.status !== FileResponse.Status.OK) throw new FileProtocolError('bad answer to OPEN')
    if (opened.chunks !== version.chunks) throw new FileProtocolError(`the peer says the file has ${opened.chunks} chunks, not ${version.chunks}`)
    const has = ChunkSet.parse(version.chunks, opened.have)
    if (has == null) throw new FileProtocolError('malformed chunk set')
    state.onHolder()
    if (version.manifest == null) {
      await channel.write({ kind: FileRequest.Kind.MANIFEST }, FileRequest)
      const m = await channel.read(FileResponse)
      if (m === END) throw new Error('the peer closed the stream')
      const problem = m.status !== FileResponse.Status.OK ? 'no manifest' : manifestProblem(m.hashes, ref.manifest, version.size, ref.chunkSize)
      if (problem != null) throw new FileProtocolError(problem)
      await version.setManifest(m.hashes)
    }
    const manifest = version.manifest
    if (manifest == null) throw new Error('no manifest')
    const fill = async (): Promise<void> => {
      while (pending.length < windowChunks) {
        const run = plan.take(i => has.has(i), Math.min(perRequest, windowChunks - pending.length))
        if (run.length === 0) return
        pending.push(...run)
        await channel.write({ kind: FileRequest.Kind.CHUNKS, start: run[0], count: run.length }, FileRequest)
      }
    }
    await fill()
    while (pending.length > 0) {
      const r = await channel.read(FileResponse)
      if (r === END) throw new Error('the peer closed the stream')
      const i = pending[0]
      if (r.index !== i) throw new FileProtocolError(`chunk ${r.index} came where ${i} was asked`)
      pending.shift()
      if (r.status === FileResponse.Status.MISSING) {
        has.delete(i)
        plan.release(i)
        await fill()
        continue
      }
      if (r.status !== FileResponse.Status.OK) throw new FileProtocolError('bad answer to CHUNKS')
      writing = i
      if (r.data.byteLength !== sealedLength(version.size, ref.chunkSize, i) || !chunkMatches(manifest, i, r.data)) {
        throw new FileProtocolError(`chunk ${i} does not match the manifest`)
      }
      // the next request goes out before this chunk is on disk
      await fill()
      await version.writeChunk(i, r.data)
      writing = undefined
      plan.release(i)
      state.onChunk(key, r.data.byteLength)
    }
    await channel.close()
    return 'drained'
  } catch (err: unknown) {
    for (const i of pending) plan.release(i)
    if (writing != null) plan.release(writing)
    ch?.abort(err instanceof Error ? err : new Error(String(err)))
    if (err instanceof FileProtocolError) {
      state.outcome.refused[key] = err.message
      ctx.penalize(peer, err.message)
      return 'refused'
    }
    return 'failed'
  }
}
