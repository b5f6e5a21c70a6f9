import { randomBytes } from 'node:crypto'
import { pbStream } from '@libp2p/utils'
import { Envelope, MAX_ENVELOPE_BYTES } from '../envelope/index.js'
import { SyncAbortedError, SyncProtocolError } from './errors.js'
import { NONCE_LENGTH, PROOF_LENGTH, digest, equalBytes, proof, syncKey } from './proof.js'
import { RangeSet } from '../store/index.js'
import { MAX_RANGES_PER_AUTHOR, MAX_SUMMARY_AUTHORS, MAX_WANT_RANGES, MAX_WANT_SEQS, buildSummary, missing, parseSummary, parseWants, wanted, wantsToWire } from './summary.js'
import { Auth, AuthReply, Frame, Hello, Summary } from './sync.js'
import type { AuthorRanges } from './sync.js'
import type { Transcript } from './proof.js'
import type { Holdings } from './summary.js'
import type { HistoryStore } from '../store/index.js'
import type { PeerId, Stream } from '@libp2p/interface'
import type { ProtobufStream } from '@libp2p/utils'

/** Largest message after the handshake (a summary or a batch) */
export const MAX_FRAME_BYTES = 1024 * 1024
/** Bytes read ahead from a peer at most: two batches (two pulls in flight) and a little, or one frame */
const READ_BUFFER_BYTES = MAX_FRAME_BYTES + 64 * 1024
/** Largest message of an initiator before it has proved membership */
export const MAX_HANDSHAKE_BYTES = 256
/** Most records in one batch: no more than were asked for, at most MAX_WANT_SEQS */
export const MAX_BATCH_RECORDS = MAX_WANT_SEQS
/** Bytes of records one batch aims at at most (a batch ends after the record that crosses it) */
export const MAX_BATCH_BYTES = 512 * 1024
/** Seqs this node asks for per pull, by default */
export const DEFAULT_BATCH_RECORDS = 512
/** Bytes of records per batch this node sends, by default */
export const DEFAULT_BATCH_BYTES = 256 * 1024
/** Pulls in flight per direction */
const PIPELINE = 2
/** Records verified and stored at once while ingesting a batch */
const INGEST_CONCURRENCY = 8

/** What sync needs of a group */
export interface SyncGroup {
  topicId: string
  keys: { groupId: string, macKey: Uint8Array }
}

export type Verdict = 'accept' | 'ignore' | 'reject'

/** Verify and store one sealed envelope (ChatNode.ingest): never throws for bad input. */
export type IngestFn<G extends SyncGroup> = (group: G, bytes: Uint8Array, from: string) => Promise<Verdict>

export interface SyncProgress {
  topicId: string
  peer: string
  /** new records stored from this peer so far */
  received: number
  /** records this peer holds that this node lacked when the session started (gossip or another session may bring some instead) */
  expected: number
  /** records sent to this peer so far */
  sent: number
  /** records this node holds that the peer lacks, at most (the peer asks for them) */
  toSend: number
}

export type SessionStatus = 'synced' | 'in-sync' | 'unknown' | 'busy'

export interface SessionResult {
  status: SessionStatus
  /** new records stored */
  received: number
  /** records sent */
  sent: number
  /** records refused as duplicates (already held: gossip got there first) */
  duplicates: number
  /** stream payload bytes read and written (length prefixes included) */
  bytesIn: number
  bytesOut: number
}

export interface SessionOptions<G extends SyncGroup> {
  stream: Stream
  local: PeerId
  remote: PeerId
  store: Pick<HistoryStore, 'seqIndex' | 'recordsBySeq'>
  ingest: IngestFn<G>
  /** aborts the whole session (service stop, caller's signal, session deadline) */
  signal: AbortSignal
  /** ms allowed for each read */
  readTimeout: number
  batchRecords?: number
  batchBytes?: number
  onProgress?: (progress: SyncProgress) => void
  /** still a member of this group? checked between batches */
  isCurrent?: (group: G) => boolean
  /** seqs being fetched by this node's sessions, shared by them */
  claims?: Claims
}

/** protons types byte fields as Uint8Array<ArrayBuffer>; Buffers and stored values are views of one */
const u8 = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>

const SUMMARY_LIMITS = { authors: MAX_SUMMARY_AUTHORS, authors$: { ranges: 2 * MAX_RANGES_PER_AUTHOR } }
const FRAME_LIMITS = { records: MAX_BATCH_RECORDS, wants: MAX_WANT_RANGES, wants$: { ranges: 2 * MAX_WANT_RANGES }, summary: { authors: 0 } }

function cloneWants (wants: Map<string, RangeSet>): Map<string, RangeSet> {
  return new Map([...wants].map(([author, set]) => [author, set.clone()]))
}

/** Seqs of each group that a session of this node is fetching now: other sessions leave them alone. */
export class Claims {
  private readonly groups = new Map<string, Map<string, RangeSet>>()

  get (groupId: string, author: string): RangeSet | undefined {
    return this.groups.get(groupId)?.get(author)
  }

  add (groupId: string, author: string, set: RangeSet): void {
    let authors = this.groups.get(groupId)
    if (authors == null) this.groups.set(groupId, authors = new Map())
    const claimed = authors.get(author)
    if (claimed == null) authors.set(author, set.clone())
    else claimed.addAll(set)
  }

  remove (groupId: string, author: string, set: RangeSet): void {
    const authors = this.groups.get(groupId)
    const claimed = authors?.get(author)
    if (authors == null || claimed == null) return
    const left = claimed.minus(set)
    if (left.empty) authors.delete(author)
    else authors.set(author, left)
    if (authors.size === 0) this.groups.delete(groupId)
  }
}

const varintLength = (n: number): number => n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5

/**
 * One sync session over one stream, either end. After the handshake both
 * ends run the same loop: ask for what it lacks (two requests in flight),
 * answer the other's requests in order, verify everything received and
 * refuse anything it did not ask for.
 */
class Session<G extends SyncGroup> {
  private readonly opts: SessionOptions<G>
  private readonly result: SessionResult = { status: 'synced', received: 0, sent: 0, duplicates: 0, bytesIn: 0, bytesOut: 0 }
  /** why the stream closed, when it did with an error (a read buffer overflow aborts it from inside) */
  private closeError?: Error
  private readonly onMessage = (evt: { data: { byteLength: number } }): void => { this.result.bytesIn += evt.data.byteLength }
  private readonly onClose = (evt: { error?: Error }): void => { this.closeError ??= evt.error }

  constructor (opts: SessionOptions<G>) {
    this.opts = opts
    opts.stream.addEventListener('message', this.onMessage)
    opts.stream.addEventListener('close', this.onClose)
  }

  done (status: SessionStatus): SessionResult {
    this.release()
    this.result.status = status
    return this.result
  }

  release (): void {
    this.opts.stream.removeEventListener('message', this.onMessage)
    this.opts.stream.removeEventListener('close', this.onClose)
  }

  get stats (): SessionResult { return this.result }

  readSignal (): AbortSignal {
    return AbortSignal.any([this.opts.signal, AbortSignal.timeout(this.opts.readTimeout)])
  }

  async read<T>(pb: ProtobufStream, codec: { decode: (buf: any, opts?: any) => T }, limits?: Record<string, unknown>): Promise<T> {
    const decode = (buf: any): T => {
      try {
        return codec.decode(buf, limits != null ? { limits } : undefined)
      } catch (err: any) {
        throw new SyncProtocolError(`malformed message: ${err.message}`)
      }
    }
    try {
      return await pb.read({ decode }, { signal: this.readSignal() })
    } catch (err: any) {
      throw this.classify(err)
    }
  }

  /** Protocol errors cut the peer off; everything else just ends the session. */
  private classify (err: any): Error {
    if (err instanceof SyncProtocolError || err instanceof SyncAbortedError) return err
    // the peer sent more than the read buffer holds: whatever failed next, that is the cause
    if (this.closeError?.name === 'StreamBufferError') return new SyncProtocolError(`oversized message: ${this.closeError.message}`)
    if (this.opts.signal.aborted) return new SyncAbortedError(`sync aborted: ${String(this.opts.signal.reason?.message ?? this.opts.signal.reason)}`)
    switch (err?.name) {
      case 'AbortError':
      case 'TimeoutError':
        return new SyncAbortedError('sync peer too slow: timed out')
      case 'InvalidDataLengthError':
      case 'InvalidDataLengthLengthError':
      case 'InvalidMessageLengthError':
      case 'StreamBufferError':
        return new SyncProtocolError(`oversized message: ${err.message}`)
      case 'UnexpectedEOFError':
      case 'StreamResetError':
      case 'StreamAbortedError':
      case 'StreamStateError':
      case 'StreamClosedError':
        return new SyncAbortedError(`stream closed: ${err.message}`)
      default:
        return err
    }
  }

  async write<T>(pb: ProtobufStream, value: T, codec: { encode: (v: T) => Uint8Array }): Promise<void> {
    const bytes = codec.encode(value)
    this.result.bytesOut += bytes.byteLength + varintLength(bytes.byteLength)
    try {
      await pb.write(bytes, { encode: (b: Uint8Array) => b }, { signal: this.readSignal() })
    } catch (err: any) {
      throw this.classify(err)
    }
  }

  transcript (initiator: PeerId, responder: PeerId, initiatorNonce: Uint8Array, responderNonce: Uint8Array): Transcript {
    return { initiator: initiator.toMultihash().bytes, responder: responder.toMultihash().bytes, initiatorNonce, responderNonce }
  }

  /**
   * Both summaries known. Each end asks for what it lacks, a request of up
   * to `batchRecords` seqs at a time with two in flight, and answers the
   * other's requests in order. Seqs another session of this node is already
   * fetching for the group are left out (`claims`), so a node catching up
   * from several members at once gets each record once.
   */
  async exchange (pb: ProtobufStream, group: G, mine: Holdings, theirs: Holdings): Promise<void> {
    const { opts } = this
    const gid = group.keys.groupId
    const claims = opts.claims ?? new Claims()
    // what they described that the store lacks (asked for a request at a time; the store keeps growing meanwhile)
    const want = wanted(theirs, await opts.store.seqIndex(gid))
    // at most what they may ask for
    const offer = missing(mine, theirs)
    const from = opts.remote.toString()
    const progress = (): void => opts.onProgress?.({
      topicId: group.topicId,
      peer: from,
      received: this.result.received,
      expected: Number(want.count),
      sent: this.result.sent,
      toSend: Number(offer.count)
    })
    progress()
    const outstanding: Array<Map<string, RangeSet>> = []
    const release = (req: Map<string, RangeSet>): void => { for (const [author, set] of req) claims.remove(gid, author, set) }
    let myDone = false
    let peerDone = false
    try {
      while (true) {
        while (!myDone && outstanding.length < PIPELINE) {
          const req = await this.claimNext(gid, want.authors, claims)
          if (req == null) {
            if (outstanding.length === 0) {
              await this.write(pb, { kind: Frame.Kind.PULL, records: [], done: true, wants: [] }, Frame)
              myDone = true
            }
            break
          }
          outstanding.push(req)
          await this.write(pb, { kind: Frame.Kind.PULL, records: [], done: false, wants: wantsToWire(req) as AuthorRanges[] }, Frame)
        }
        if (myDone && peerDone) break
        const frame = await this.read(pb, Frame, FRAME_LIMITS)
        if (frame.kind === Frame.Kind.PULL) {
          if (peerDone) throw new SyncProtocolError('pull after the last one')
          if (frame.done) {
            if (frame.wants.length > 0) throw new SyncProtocolError('bad pull')
            peerDone = true
            continue
          }
          const records = await this.serve(gid, parseWants(frame.wants, mine))
          await this.write(pb, { kind: Frame.Kind.BATCH, records: records.map(u8), done: false, wants: [] }, Frame)
          this.result.sent += records.length
          progress()
        } else if (frame.kind === Frame.Kind.BATCH) {
          const req = outstanding.shift()
          if (req == null) throw new SyncProtocolError('batch not asked for')
          try {
            await this.ingest(group, frame.records, cloneWants(req), from)
          } finally {
            release(req)
          }
          if (frame.records.length === 0) {
            // the peer does not hold what it described: do not ask it again
            for (const [author, set] of req) {
              const left = want.authors.get(author)
              if (left != null) want.authors.set(author, left.minus(set))
            }
          }
          progress()
        } else {
          throw new SyncProtocolError('unexpected message')
        }
        if (opts.isCurrent != null && !opts.isCurrent(group)) throw new SyncAbortedError('group left')
      }
    } finally {
      for (const req of outstanding) release(req)
    }
  }

  /** The next request: seqs wanted, not held by now, not being fetched by another session. */
  private async claimNext (gid: string, want: Map<string, RangeSet>, claims: Claims): Promise<Map<string, RangeSet> | undefined> {
    const index = await this.opts.store.seqIndex(gid)
    let budget = BigInt(Math.min(this.opts.batchRecords ?? DEFAULT_BATCH_RECORDS, MAX_WANT_SEQS))
    let ranges = 0
    const req = new Map<string, RangeSet>()
    for (const [author, set] of want) {
      const have = index.get(author)
      const left = have != null ? set.minus(have) : set
      if (left.empty) {
        want.delete(author)
        continue
      }
      if (left !== set) want.set(author, left)
      if (budget === 0n || ranges >= MAX_WANT_RANGES) break
      const claimed = claims.get(gid, author)
      const free = claimed != null ? left.minus(claimed) : left
      if (free.empty) continue
      let taken = free.take(budget)
      if (ranges + taken.size > MAX_WANT_RANGES) taken = RangeSet.fromFlat(taken.toFlat(MAX_WANT_RANGES - ranges))
      budget -= taken.count()
      ranges += taken.size
      claims.add(gid, author, taken)
      req.set(author, taken)
    }
    return req.size > 0 ? req : undefined
  }

  /** Stored records for a request, in its order, up to the batch byte budget (always at least one). */
  private async serve (gid: string, asked: Map<string, RangeSet>): Promise<Uint8Array[]> {
    const maxBytes = Math.min(this.opts.batchBytes ?? DEFAULT_BATCH_BYTES, MAX_BATCH_BYTES)
    const out: Uint8Array[] = []
    let bytes = 0
    for (const [author, set] of asked) {
      for (const [start, end] of set.ranges()) {
        let from = start
        while (from <= end) {
          this.opts.signal.throwIfAborted()
          const span = end - from + 1n
          const limit = Number(span < BigInt(MAX_WANT_SEQS) ? span : BigInt(MAX_WANT_SEQS))
          const records = await this.opts.store.recordsBySeq(gid, author, from, end, { limit, maxBytes: Math.max(1, maxBytes - bytes) })
          if (records.length === 0) break
          for (const r of records) {
            out.push(r.bytes)
            bytes += r.bytes.byteLength
          }
          if (bytes >= maxBytes) return out
          from = records[records.length - 1].seq + 1n
        }
      }
    }
    return out
  }

  /**
   * Cheap checks first (size, decode, was it asked for), then the full
   * verification of ChatNode.ingest, a few at a time so that storage
   * overlaps verification.
   */
  private async ingest (group: G, records: Uint8Array[], asked: Map<string, RangeSet>, from: string): Promise<void> {
    const inflight = new Set<Promise<void>>()
    let failure: Error | undefined
    for (const bytes of records) {
      if (failure != null) break
      if (bytes.byteLength > MAX_ENVELOPE_BYTES) {
        failure = new SyncProtocolError('oversized record')
        break
      }
      let author: string
      let seq: bigint
      try {
        const env = Envelope.decode(bytes)
        author = Buffer.from(env.author).toString('hex')
        seq = env.seq
      } catch {
        failure = new SyncProtocolError('malformed record')
        break
      }
      if (asked.get(author)?.delete(seq) !== true) {
        failure = new SyncProtocolError('record not asked for')
        break
      }
      const p: Promise<void> = this.opts.ingest(group, bytes, from).then(verdict => {
        if (verdict === 'reject') failure ??= new SyncProtocolError('forged record')
        else if (verdict === 'accept') this.result.received++
        else this.result.duplicates++
      }, err => { failure ??= err }).finally(() => inflight.delete(p))
      inflight.add(p)
      if (inflight.size >= INGEST_CONCURRENCY) await Promise.race(inflight)
    }
    await Promise.all(inflight)
    if (failure != null) throw failure
  }

  // ---- the two ends ---------------------------------------------------------

  async initiate (group: G): Promise<SessionResult> {
    const { opts } = this
    const pb = pbStream(opts.stream, { maxDataLength: MAX_FRAME_BYTES, maxBufferSize: READ_BUFFER_BYTES })
    const myNonce = randomBytes(NONCE_LENGTH)
    await this.write(pb, { nonce: u8(myNonce) }, Hello)
    const hello = await this.read(pb, Hello)
    if (hello.nonce.byteLength !== NONCE_LENGTH) throw new SyncProtocolError('bad nonce')
    const t = this.transcript(opts.local, opts.remote, myNonce, hello.nonce)
    const key = syncKey(group.keys.macKey)
    const { summary, holdings } = buildSummary(await opts.store.seqIndex(group.keys.groupId))
    const encoded = Summary.encode(summary)
    await this.write(pb, { proof: u8(proof(key, 'initiator', t)), digest: u8(summary.truncated ? new Uint8Array(0) : digest(key, t, encoded)) }, Auth)
    const reply = await this.read(pb, AuthReply, { summary: SUMMARY_LIMITS })
    if (reply.status === AuthReply.Status.UNKNOWN) return this.done('unknown')
    if (reply.status === AuthReply.Status.BUSY) return this.done('busy')
    if (reply.status !== AuthReply.Status.OK) throw new SyncProtocolError('unknown status')
    if (!equalBytes(reply.proof, proof(key, 'responder', t))) throw new SyncProtocolError('responder failed to prove membership')
    if (reply.inSync) return this.done('in-sync')
    const theirs = parseSummary(reply.summary)
    await this.write(pb, { kind: Frame.Kind.SUMMARY, summary, records: [], done: false, wants: [] }, Frame)
    await this.exchange(pb, group, holdings, theirs)
    return this.done('synced')
  }

  async respond (lookup: (match: (key: Uint8Array) => boolean) => G | undefined, admit: (group: G) => boolean): Promise<SessionResult & { group?: G }> {
    const { opts } = this
    // until the initiator proves membership it gets a tiny budget
    const small = pbStream(opts.stream, { maxDataLength: MAX_HANDSHAKE_BYTES, maxBufferSize: 4 * MAX_HANDSHAKE_BYTES })
    const hello = await this.read(small, Hello)
    if (hello.nonce.byteLength !== NONCE_LENGTH) throw new SyncProtocolError('bad nonce')
    const myNonce = randomBytes(NONCE_LENGTH)
    await this.write(small, { nonce: u8(myNonce) }, Hello)
    const auth = await this.read(small, Auth)
    const t = this.transcript(opts.remote, opts.local, hello.nonce, myNonce)
    let key: Buffer | undefined
    const group = auth.proof.byteLength !== PROOF_LENGTH
      ? undefined
      : lookup(macKey => {
        const k = syncKey(macKey)
        if (!equalBytes(auth.proof, proof(k, 'initiator', t))) return false
        key = k
        return true
      })
    if (group == null || key == null) {
      // the same answer for a group this node is not in and a proof that fails
      await this.write(small, { status: AuthReply.Status.UNKNOWN, proof: new Uint8Array(0), inSync: false }, AuthReply)
      return this.done('unknown')
    }
    if (!admit(group)) {
      await this.write(small, { status: AuthReply.Status.BUSY, proof: new Uint8Array(0), inSync: false }, AuthReply)
      return { ...this.done('busy'), group }
    }
    const pb = pbStream(small.unwrap(), { maxDataLength: MAX_FRAME_BYTES, maxBufferSize: READ_BUFFER_BYTES })
    const { summary, holdings } = buildSummary(await opts.store.seqIndex(group.keys.groupId))
    const myProof = u8(proof(key, 'responder', t))
    if (auth.digest.byteLength > 0 && !summary.truncated && equalBytes(auth.digest, digest(key, t, Summary.encode(summary)))) {
      await this.write(pb, { status: AuthReply.Status.OK, proof: myProof, inSync: true }, AuthReply)
      return { ...this.done('in-sync'), group }
    }
    await this.write(pb, { status: AuthReply.Status.OK, proof: myProof, inSync: false, summary }, AuthReply)
    const frame = await this.read(pb, Frame, { records: 0, summary: SUMMARY_LIMITS })
    if (frame.kind !== Frame.Kind.SUMMARY) throw new SyncProtocolError('expected a summary')
    const theirs = parseSummary(frame.summary)
    await this.exchange(pb, group, holdings, theirs)
    return { ...this.done('synced'), group }
  }
}

/** Run the initiating end of a session for `group` over an open stream. */
export async function initiateSession<G extends SyncGroup> (opts: SessionOptions<G>, group: G): Promise<SessionResult> {
  const session = new Session(opts)
  try {
    return await session.initiate(group)
  } catch (err) {
    session.release()
    throw Object.assign(err as Error, { stats: session.stats })
  }
}

/** Run the responding end of a session over an inbound stream. */
export async function respondSession<G extends SyncGroup> (
  opts: SessionOptions<G>,
  lookup: (match: (macKey: Uint8Array) => boolean) => G | undefined,
  admit: (group: G) => boolean,
  onGroup?: (group: G) => void
): Promise<SessionResult & { group?: G }> {
  const session = new Session(opts)
  try {
    return await session.respond(lookup, group => {
      const ok = admit(group)
      if (ok) onGroup?.(group)
      return ok
    })
  } catch (err) {
    session.release()
    throw Object.assign(err as Error, { stats: session.stats })
  }
}
