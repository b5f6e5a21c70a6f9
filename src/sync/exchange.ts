import { MAX_ENVELOPE_BYTES } from '../envelope/index.js'
import { RangeSet } from '../store/index.js'
import { Claims } from './claims.js'
import { SyncAbortedError, SyncProtocolError, toError } from './errors.js'
import { MAX_WANT_RANGES, MAX_WANT_SEQS, missing, parseWants, wanted, wantsToWire } from './summary.js'
import { Frame } from './pb/sync.js'
import type { SessionChannel } from './channel.js'
import type { SessionOptions, SessionResult, SyncGroup } from './session.js'
import type { Holdings } from './summary.js'
import type { HistoryStore, SeqIndex } from '../store/index.js'
import type { AbortOptions } from '@libp2p/interface'

/**
 * The exchange, after the handshake (both ends run it alike): pull what
 * this end lacks in batches, serve the other's pulls in order, verify
 * everything received and refuse anything not asked for.
 */

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

export const FRAME_LIMITS = { records: MAX_BATCH_RECORDS, wants: MAX_WANT_RANGES, wants$: { ranges: 2 * MAX_WANT_RANGES }, summary: { authors: 0 } }

/** A pull: author hex -> seqs */
export type Request = Map<string, RangeSet>

/** protons types byte fields as Uint8Array<ArrayBuffer>; Buffers and stored values are views of one */
export const u8 = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>

function cloneRequest (req: Request): Request {
  return new Map([...req].map(([author, set]) => [author, set.clone()]))
}

/**
 * Both summaries known. Each end asks for what it lacks, a request of up
 * to `batchRecords` seqs at a time with two in flight, and answers the
 * other's requests in order. Seqs another session of this node is already
 * fetching for the group are left out (`claims`), so a node catching up
 * from several members at once gets each record once.
 */
export async function exchange<G extends SyncGroup> (channel: SessionChannel, group: G, mine: Holdings, theirs: Holdings, options: SessionOptions<G>): Promise<void> {
  const { stats } = channel
  const gid = group.keys.groupId
  const claims = options.claims ?? new Claims()
  // what they described that the store lacks (asked for a request at a time; the store keeps growing meanwhile)
  const want = wanted(theirs, await options.store.seqIndex(gid), mine)
  // at most what they may ask for
  const offer = missing(mine, theirs)
  const from = options.remote.toString()
  const progress = (): void => options.onProgress?.({
    topicId: group.topicId,
    peer: from,
    received: stats.received,
    expected: Number(want.count),
    sent: stats.sent,
    toSend: Number(offer.count)
  })
  progress()
  const outstanding: Request[] = []
  const batchRecords = Math.min(options.batchRecords ?? DEFAULT_BATCH_RECORDS, MAX_WANT_SEQS)
  const batchBytes = Math.min(options.batchBytes ?? DEFAULT_BATCH_BYTES, MAX_BATCH_BYTES)
  let myDone = false
  let peerDone = false
  try {
    // an author's last seq held in two versions (two heads): ask for the peer's, once, first
    if (want.conflicts.size > 0) {
      const req: Request = new Map([...want.conflicts].map(([author, seq]) => [author, RangeSet.fromFlat([seq, seq])]))
      outstanding.push(req)
      await channel.write({ kind: Frame.Kind.PULL, records: [], done: false, wants: wantsToWire(req) }, Frame)
    }
    while (true) {
      while (!myDone && outstanding.length < PIPELINE) {
        const { req, blocked } = claimNext(await options.store.seqIndex(gid), gid, want.authors, claims, batchRecords)
        if (req == null) {
          if (outstanding.length === 0) {
            await channel.write({ kind: Frame.Kind.PULL, records: [], done: true, wants: [] }, Frame)
            myDone = true
            // what is left is another session's, for now: the scheduler comes back for it
            if (blocked) stats.deferred = true
          }
          break
        }
        outstanding.push(req)
        await channel.write({ kind: Frame.Kind.PULL, records: [], done: false, wants: wantsToWire(req) }, Frame)
      }
      if (myDone && peerDone) break
      const frame = await channel.read(Frame, FRAME_LIMITS)
      if (frame.kind === Frame.Kind.PULL) {
        if (peerDone) throw new SyncProtocolError('pull after the last one')
        if (frame.done) {
          if (frame.wants.length > 0) throw new SyncProtocolError('bad pull')
          peerDone = true
          continue
        }
        const records = await serve(options.store, gid, parseWants(frame.wants, mine), batchBytes, options)
        await channel.write({ kind: Frame.Kind.BATCH, records: records.map(u8), done: false, wants: [] }, Frame)
        stats.sent += records.length
        progress()
      } else if (frame.kind === Frame.Kind.BATCH) {
        const req = outstanding.shift()
        if (req == null) throw new SyncProtocolError('batch not asked for')
        let skipped = 0
        const before = stats.received
        try {
          skipped = await ingestBatch(group, frame.records, cloneRequest(req), from, stats, options)
        } finally {
          claims.release(gid, req)
        }
        // nothing of it stored (records of a key epoch not held yet, or refused by membership: issue 15): not asked again in this session
        if (frame.records.length === 0 || skipped === frame.records.length || stats.received === before) {
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
      if (options.isCurrent != null && !options.isCurrent(group)) throw new SyncAbortedError('group left')
    }
  } finally {
    for (const req of outstanding) claims.release(gid, req)
  }
}

/**
 * The next request: seqs wanted, not held by now (`index`), not being
 * fetched by another session; claims what it returns. Drops from `want`
 * what is held meanwhile. `blocked`: some seqs wanted were left out because
 * another session claimed them.
 */
function claimNext (index: SeqIndex, gid: string, want: Map<string, RangeSet>, claims: Claims, batchRecords: number): { req?: Request, blocked: boolean } {
  let budget = BigInt(batchRecords)
  let ranges = 0
  let blocked = false
  const now = Date.now()
  const req: Request = new Map()
  for (const [author, set] of want) {
    const have = index.get(author)
    const left = have != null ? set.minus(have) : set
    if (left.empty) {
      want.delete(author)
      continue
    }
    if (left !== set) want.set(author, left)
    if (budget === 0n || ranges >= MAX_WANT_RANGES) break
    const claimed = claims.get(gid, author, now)
    const free = claimed != null ? left.minus(claimed) : left
    if (free.count() < left.count()) blocked = true
    if (free.empty) continue
    let taken = free.take(budget)
    if (ranges + taken.size > MAX_WANT_RANGES) taken = RangeSet.fromFlat(taken.toFlat(MAX_WANT_RANGES - ranges))
    budget -= taken.count()
    ranges += taken.size
    claims.add(gid, author, taken, now)
    req.set(author, taken)
  }
  return { req: req.size > 0 ? req : undefined, blocked }
}

/** Stored records for a request, in its order, up to `maxBytes` (always at least one). */
async function serve (store: Pick<HistoryStore, 'recordsBySeq'>, gid: string, asked: Request, maxBytes: number, options: AbortOptions = {}): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  let bytes = 0
  for (const [author, set] of asked) {
    for (const [start, end] of set.ranges()) {
      let from = start
      while (from <= end) {
        options.signal?.throwIfAborted()
        const span = end - from + 1n
        const limit = Number(span < BigInt(MAX_WANT_SEQS) ? span : BigInt(MAX_WANT_SEQS))
        const records = await store.recordsBySeq(gid, author, from, end, { limit, maxBytes: Math.max(1, maxBytes - bytes) })
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
 * One batch received: cheap checks first (size, decode, was it asked for;
 * each seq is taken off `asked`), then the full verification of
 * ChatNode.ingest, a few at a time so that storage overlaps verification.
 * Counts into `counts` as it goes. Throws SyncProtocolError on the first
 * record that fails, once the records already handed to ingest are done.
 */
async function ingestBatch<G extends SyncGroup> (group: G, records: Uint8Array[], asked: Request, from: string, counts: Pick<SessionResult, 'received' | 'duplicates'>, options: Pick<SessionOptions<G>, 'ingest' | 'recordKey' | 'unknownEpoch'>): Promise<number> {
  const inflight = new Set<Promise<void>>()
  let failure: Error | undefined
  let skipped = 0
  for (const bytes of records) {
    if (failure != null) break
    if (bytes.byteLength > MAX_ENVELOPE_BYTES) {
      failure = new SyncProtocolError('oversized record')
      break
    }
    const key = options.recordKey(group, bytes)
    if (key == null && options.unknownEpoch?.(group, bytes) === true) {
      skipped++
      continue
    }
    if (key == null) {
      failure = new SyncProtocolError('malformed record')
      break
    }
    const { author, seq } = key
    if (asked.get(author)?.delete(seq) !== true) {
      failure = new SyncProtocolError('record not asked for')
      break
    }
    const p: Promise<void> = options.ingest(group, bytes, from).then(verdict => {
      if (verdict === 'reject') failure ??= new SyncProtocolError('forged record')
      else if (verdict === 'accept') counts.received++
      else counts.duplicates++
    }, (err: unknown) => { failure ??= toError(err) }).finally(() => inflight.delete(p))
    inflight.add(p)
    if (inflight.size >= INGEST_CONCURRENCY) await Promise.race(inflight)
  }
  await Promise.all(inflight)
  if (failure != null) throw failure
  return skipped
}
