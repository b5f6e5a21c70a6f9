import { Level } from 'level'
import { logger } from '@libp2p/logger'
import { createHash } from 'node:crypto'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { authorKey, authorRange, editKey, editRange, editsRange, equivocatorKey, equivocatorRange, historyKey, historyRange, idempotencyKey, idKey, isCursor, lateKey, lamportFromSort, parseAuthorKey, postingOf, PRESENT, readMarkerKey, searchKey, searchRange, searchStateKey, sortFromHistoryKey, sortKey } from './keys.js'
import { RangeSet } from './ranges.js'
import { Journal } from './journal.js'
import type { JournalEntry, JournalTicket } from './journal.js'
import { DataDirError, DiskFullError, errorMessage, InvalidInputError, NotStartedError } from '../errors.js'

const log = logger('p2p-chat:store')

/** What the store needs of a message: it never decodes or verifies anything itself. */
export interface StorableMessage {
  id: Uint8Array
  bytes: Uint8Array
  author: Uint8Array
  seq: bigint
  lamport: bigint
  timestamp: bigint
  /** an own send's idempotency key: stored with the message, in the same batch */
  idempotencyKey?: string
  /** set when the message arrived much later than its timestamp (or is misordered): when it arrived, ms since 1970 */
  arrivedLate?: number
  /** its Lamport value contradicts its links (stored with the arrival time) */
  misordered?: boolean
  /** search index (src/chat/search.ts): the normalised words of its text, written in the same batch */
  terms?: string[]
  /** an edit or a delete: hex id of the message it acts on (an e! key, in the same batch) */
  edits?: string
}

export interface StoredRecord {
  /** opaque, ordered position in the group's history: a cursor */
  cursor: string
  bytes: Uint8Array
  /** it arrived late (see StorableMessage): when, ms since 1970 */
  arrivedLate?: number
  misordered?: boolean
}

/** Evidence that an author signed two messages under one seq */
export interface Equivocation {
  seq: string
  /** hex ids of the two messages */
  ids: [string, string]
  /** ms since 1970 */
  at: number
}

export interface HistoryPage {
  /** newest first */
  records: StoredRecord[]
  /** pass as `before` to read the next (older) page; absent on the last page */
  next?: string
}

/**
 * A record whose sealed bytes were dropped because its author deleted it
 * (docs/PROTOCOL.md, "Message kinds"): what is kept of it, for good.
 */
export interface Tombstone {
  /** hex message id */
  id: string
  /** hex of the author's raw key */
  author: string
  seq: bigint
  kind: number
  /** its place in history; for a record never held, just before the successor that names it (its own place is lost with it) */
  cursor?: string
}

export interface HistoryQuery {
  limit?: number
  before?: string
}

export const DEFAULT_HISTORY_LIMIT = 50
export const MAX_HISTORY_LIMIT = 10_000
/** appends written together at most, in one group commit */
const MAX_GROUP_COMMIT = 1024
/** ms between tries to write records kept in the journal after their LevelDB write failed */
const RETRY_UNSTORED_MS = 5000
/**
 * LevelDB's memory for the history, bounded whatever the history's size
 * (issue 20; docs/BENCHMARKS.md, soak): the block cache (8 MiB of decompressed
 * blocks), the memtable being filled plus one being written out (2 x 4 MiB),
 * and the table cache: each open table keeps its index block in memory and
 * its file mapped, and the pages read stay in RSS (file-backed, reclaimable:
 * 60-130 KiB per 2 MiB table in the soak, the whole file at worst).
 * classic-level's default of 1000 open files lets that grow with the history
 * up to 990 tables (2 GB); 100 caps it at 90 tables per database.
 */
export const HISTORY_DB_OPTIONS = { cacheSize: 8 << 20, writeBufferSize: 4 << 20, maxOpenFiles: 100 } as const

/** a message a batch claims: its hex id and author hex, computed once for the claim and the LevelDB keys */
interface Claimed extends JournalEntry { idHex: string, authorHex: string }

/** stage / stageMany on a closing store: both steps refused (handled, so that a caller awaiting one only is not an unhandled rejection) */
function refusedStage (): { claimed: Promise<never>, written: Promise<never> } {
  const refused = Promise.reject(new NotStartedError())
  refused.catch(() => {})
  return { claimed: refused, written: refused }
}

/** Per author (hex of the raw public key): the sequence numbers held. */
export type SeqIndex = ReadonlyMap<string, RangeSet>

/** One record read by author and sequence number */
export interface SeqRecord {
  seq: bigint
  bytes: Uint8Array
}

/**
 * Message history in LevelDB: sealed envelopes as they came, per group,
 * ordered by Lamport clock. Appends are idempotent.
 */
export class HistoryStore {
  private readonly db: Level<string, Uint8Array>
  private readonly pending = new Set<string>()
  /** appends waiting for the next group commit */
  private commitQueue: Array<{ groupId: string, msg: StorableMessage, resolve: (added: boolean) => void, reject: (err: unknown) => void, claimed?: (added: boolean) => void }> = []
  /** (group, author, seq) of messages claimed by a batch being written -> message id: a second version is seen before the first is on disk */
  private readonly pendingSeqs = new Map<string, Uint8Array>()
  /** batch writes under way: reads wait for them (a message announced while its write is in flight is found) */
  private readonly writes = new Set<Promise<unknown>>()
  private committing?: Promise<void>
  private closing = false
  /** per group: the held sequence numbers of each author, built on first use, then kept up to date by appends */
  private readonly seqIndexes = new Map<string, Map<string, RangeSet>>()
  private readonly seqIndexBuilds = new Map<string, Promise<Map<string, RangeSet>>>()
  /** appends that completed while a group's index was being built: applied when the scan ends */
  private readonly seqIndexPending = new Map<string, Array<[string, bigint]>>()
  /** per group, loaded on first use: deletes seen (target hex -> hex keys of the authors who sent one) and records dropped as deleted */
  private readonly deletes = new Map<string, { notes: Map<string, Set<string>>, dropped: Map<string, Tombstone> }>()
  private readonly deleteLoads = new Map<string, Promise<{ notes: Map<string, Set<string>>, dropped: Map<string, Tombstone> }>>()

  /** the journal (src/store/journal.ts), while open */
  private journal?: Journal
  /** records in the journal whose LevelDB write failed (a full disk): written again every RETRY_UNSTORED_MS */
  private readonly unstored: Array<{ ticket: JournalTicket, entries: JournalEntry[] }> = []
  private retryTimer?: ReturnType<typeof setTimeout>

  /** `path`: the LevelDB directory; the journal is `${path}.journal.0` and `.1` beside it */
  constructor (path: string) {
    this.db = new Level<string, Uint8Array>(path, { ...HISTORY_DB_OPTIONS, keyEncoding: 'utf8', valueEncoding: 'view' })
  }

  async open (): Promise<void> {
    this.closing = false
    try {
      await this.db.open()
    } catch (err: unknown) {
      throw new DataDirError(`cannot open the history database at ${this.db.location}: ${levelMessage(err)}`, { cause: err })
    }
    // opened after LevelDB's lock is held: one process at a time
    try {
      const journal = new Journal(`${this.db.location}.journal`)
      await this.replay(journal)
      this.journal = journal
    } catch (err) {
      await this.db.close().catch(() => {})
      throw err
    }
  }

  /** What the journal holds after a crash, into LevelDB (duplicates skipped), then the journal emptied */
  private async replay (journal: Journal): Promise<void> {
    let entries: JournalEntry[]
    try {
      entries = journal.read()
      let added = 0
      for (let i = 0; i < entries.length; i += MAX_GROUP_COMMIT) {
        added += (await this.write(entries.slice(i, i + MAX_GROUP_COMMIT))).filter(Boolean).length
      }
      if (entries.length > 0) log('journal: %d record(s) read back, %d of them not yet in LevelDB', entries.length, added)
      // emptied even when nothing was read: a torn frame left there would hide every append after it
      if (journal.sizes().some(n => n > 0)) journal.reset()
    } catch (err) {
      journal.close()
      throw err
    }
  }

  async close (): Promise<void> {
    // appends already accepted are written before the database closes; later ones are refused
    this.closing = true
    if (this.retryTimer != null) clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    while (this.committing != null) await this.committing
    if (this.writes.size > 0) await Promise.allSettled([...this.writes])
    this.unstored.length = 0
    if (this.journal != null) {
      // every record in LevelDB: nothing to read back at the next start
      if (this.journal.clean()) this.journal.reset()
      this.journal.close()
      this.journal = undefined
    }
    if (this.db.status === 'open' || this.db.status === 'opening') await this.db.close()
    this.seqIndexes.clear()
    this.seqIndexBuilds.clear()
    this.seqIndexPending.clear()
    this.deletes.clear()
  }

  get location (): string { return this.db.location }

  async has (id: Uint8Array): Promise<boolean> {
    const idHex = Buffer.from(id).toString('hex')
    if (this.pending.has(idHex)) return true
    return (await this.db.get(idKey(idHex))) !== undefined
  }

  /**
   * Store one message; false when it was already there. Group commit: appends
   * that arrive while a batch is being written wait and go together in the
   * next one (one lookup, one write), so a busy node does one disk round per
   * batch instead of one per message. Resolves once its batch is written.
   */
  async append (groupId: string, msg: StorableMessage): Promise<boolean> {
    if (this.closing) throw new NotStartedError()
    return new Promise<boolean>((resolve, reject) => {
      this.commitQueue.push({ groupId, msg, resolve, reject })
      this.committing ??= this.commitLoop()
    })
  }

  /**
   * As append, in two steps: `claimed` resolves as soon as the message is
   * known to be new (looked up, claimed for its batch: a copy arriving
   * meanwhile is a duplicate), `written` once its batch is on disk. Ingest
   * announces a message at `claimed` and answers gossip at `written`; reads
   * (history, get) wait for writes in flight, so what was announced is read.
   */
  stage (groupId: string, msg: StorableMessage): { claimed: Promise<boolean>, written: Promise<boolean> } {
    if (this.closing) return refusedStage()
    let claimed!: (added: boolean) => void
    let claimFailed!: (err: unknown) => void
    const claim = new Promise<boolean>((resolve, reject) => { claimed = resolve; claimFailed = reject })
    const written = new Promise<boolean>((resolve, reject) => {
      this.commitQueue.push({ groupId, msg, resolve, reject: (err) => { const e = err instanceof Error ? err : new Error(String(err)); claimFailed(e); reject(e) }, claimed })
      this.committing ??= this.commitLoop()
    })
    // a caller that stops at `claimed` (a duplicate) does not await `written`
    written.catch(() => {})
    return { claimed: claim, written }
  }

  /** Resolves once the batch writes under way now have ended (written or failed) */
  async settled (): Promise<void> {
    if (this.writes.size > 0) await Promise.allSettled([...this.writes])
  }

  private async commitLoop (): Promise<void> {
    try {
      while (this.commitQueue.length > 0) {
        const waiting = this.commitQueue.splice(0, MAX_GROUP_COMMIT)
        try {
          const added = await this.write(waiting, (i, isNew) => { waiting[i].claimed?.(isNew) })
          waiting.forEach((w, i) => { w.resolve(added[i]) })
        } catch (err) {
          for (const w of waiting) w.reject(err)
        }
      }
    } finally {
      this.committing = undefined
    }
  }

  /**
   * As appendMany, in two steps (see stage): `claimed` resolves once the
   * batch is claimed (and so in the journal: on disk), `written` once it is
   * in LevelDB, with how many were new.
   */
  stageMany (groupId: string, msgs: StorableMessage[]): { claimed: Promise<void>, written: Promise<number> } {
    if (this.closing) return refusedStage()
    let claimedNow!: () => void
    const claim = new Promise<void>(resolve => { claimedNow = resolve })
    const written = this.write(msgs.map(msg => ({ groupId, msg })), i => { if (i === 0) claimedNow() }).then(added => added.filter(Boolean).length)
    // a batch refused before its claim (the journal could not be written) rejects both
    const claimed = Promise.race([claim, written.then(() => {})])
    claimed.catch(() => {})
    written.catch(() => {})
    return { claimed, written }
  }

  /** Store many messages in one batch; returns how many were new. */
  async appendMany (groupId: string, msgs: StorableMessage[]): Promise<number> {
    const added = await this.write(msgs.map(msg => ({ groupId, msg })))
    return added.filter(Boolean).length
  }

  /**
   * One lookup and one batch for messages of any groups; per message, whether
   * it was new. Claimed messages go to the journal first (unless `journal` is
   * false: they are in it already).
   */
  private async write (entries: Array<{ groupId: string, msg: StorableMessage }>, onClaim?: (index: number, added: boolean) => void, journal = true): Promise<boolean[]> {
    const ids = entries.map(e => Buffer.from(e.msg.id).toString('hex'))
    const existing = await this.lookup(entries, ids)
    const added = entries.map(() => false)
    // the messages this batch claims, with their hex id and author (keys of pending, pendingSeqs and LevelDB)
    const fresh: Claimed[] = []
    for (let i = 0; i < entries.length; i++) {
      const idHex = ids[i]
      if (existing[i] !== undefined || this.pending.has(idHex)) continue
      this.pending.add(idHex)
      added[i] = true
      const { groupId, msg } = entries[i]
      const authorHex = Buffer.from(msg.author).toString('hex')
      const byAuthor = authorKey(groupId, authorHex, msg.seq)
      if (!this.pendingSeqs.has(byAuthor)) this.pendingSeqs.set(byAuthor, msg.id)
      fresh.push({ groupId, msg, idHex, authorHex })
    }
    const release = (): void => {
      for (const f of fresh) {
        this.pending.delete(f.idHex)
        this.pendingSeqs.delete(authorKey(f.groupId, f.authorHex, f.msg.seq))
      }
    }
    // the journal first, synchronously: once claimed, a message is on disk (src/store/journal.ts)
    let ticket: JournalTicket | undefined
    if (fresh.length > 0 && journal && this.journal != null) {
      try {
        ticket = this.journal.append(fresh)
      } catch (err) {
        release()
        throw err
      }
    }
    // The LevelDB batch is built and handed to the thread pool on the next turn of the event loop: what the
    // claim lets run (publishing an own batch, answering gossip, the message event) goes first, and reads
    // already wait for it (`writes`). Building it is about 90 µs a message (issue 16, scripts/bench-trace.ts).
    const done = fresh.length > 0 ? nextTurn().then(async () => this.writeBatch(fresh)) : Promise.resolve()
    this.writes.add(done)
    if (onClaim != null) for (let i = 0; i < entries.length; i++) onClaim(i, added[i])
    let ok = false
    try {
      await done
      ok = true
    } catch (err: unknown) {
      // a full or read-only disk: LevelDB's log keeps what was written before intact
      const why = levelMessage(err)
      if (/ENOSPC|no space left/i.test(why)) throw new DiskFullError(`cannot write to the history database at ${this.db.location}: the disk is full (${why}): free some space; nothing acknowledged is lost`, { cause: err })
      throw new DataDirError(`cannot write to the history database at ${this.db.location}: ${why}`, { cause: err })
    } finally {
      if (ticket != null) {
        this.journal?.settled(ticket, fresh.length, ok)
        // in the journal, not in LevelDB: written again later (and at the next start in any case)
        if (!ok) this.keepUnstored(ticket, fresh)
      }
      this.writes.delete(done)
      release()
    }
    for (const f of fresh) this.noteSeq(f.groupId, f.authorHex, f.msg.seq)
    if (fresh.length > 0) log.trace('stored %d new of %d', fresh.length, entries.length)
    return added
  }

  /** New messages into LevelDB in one batch (a batch that cannot be filled is closed, not left open) */
  private async writeBatch (entries: Claimed[]): Promise<void> {
    const batch = this.db.batch()
    try {
      this.putAll(batch, entries)
    } catch (err) {
      await batch.close().catch(() => {})
      throw err
    }
    await batch.write()
  }

  /** every key a message is stored under (src/store/keys.ts) */
  private putAll (batch: { put: (key: string, value: Uint8Array) => unknown }, entries: Claimed[]): void {
    for (const { groupId, msg: m, idHex, authorHex } of entries) {
      const sort = sortKey(m.lamport, m.timestamp, idHex)
      batch.put(historyKey(groupId, sort), m.bytes)
      batch.put(idKey(idHex), Buffer.from(`${groupId}!${sort}`))
      batch.put(authorKey(groupId, authorHex, m.seq), m.id)
      if (m.idempotencyKey != null) batch.put(idempotencyKey(groupId, keyHash(m.idempotencyKey)), m.id)
      if (m.arrivedLate != null) batch.put(lateKey(groupId, sort), mark(m.arrivedLate, m.misordered === true))
      if (m.terms != null) for (const t of m.terms) batch.put(searchKey(groupId, t, postingOf(sort)), PRESENT)
      if (m.edits != null) batch.put(editKey(groupId, m.edits, sort), PRESENT)
    }
  }

  private keepUnstored (ticket: JournalTicket, entries: JournalEntry[]): void {
    this.unstored.push({ ticket, entries })
    if (this.retryTimer != null || this.closing) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.retryUnstored().catch((err: unknown) => { log.error('writing records kept in the journal: %e', err) })
    }, RETRY_UNSTORED_MS)
    this.retryTimer.unref?.()
  }

  /** Records whose LevelDB write failed, into LevelDB now (not journaled again); those that fail again wait for the next try */
  private async retryUnstored (): Promise<void> {
    for (const u of this.unstored.splice(0)) {
      if (this.closing) return
      try {
        await this.write(u.entries, undefined, false)
        this.journal?.recovered(u.ticket, u.entries.length)
        log('%d record(s) kept in the journal after a failed write are in LevelDB now', u.entries.length)
      } catch {
        if (!this.closing) this.keepUnstored(u.ticket, u.entries)
      }
    }
  }

  /** a record whose LevelDB write failed and that waits in the journal, by message id */
  private unstoredRecord (match: (e: JournalEntry) => boolean): JournalEntry | undefined {
    for (const u of this.unstored) for (const e of u.entries) if (match(e)) return e
    return undefined
  }

  /**
   * Which of these ids are stored already. Every stored message's author and
   * sequence number is in the group's seq index once it is built, so a
   * message whose (author, seq) the index does not hold cannot be stored:
   * only the others (duplicates, or a second message under the same number)
   * need a database read. Saves a read per new message on a busy node.
   */
  private async lookup (entries: Array<{ groupId: string, msg: StorableMessage }>, ids: string[]): Promise<Array<Uint8Array | undefined>> {
    const found: Array<Uint8Array | undefined> = entries.map(() => undefined)
    const ask: number[] = []
    entries.forEach(({ groupId, msg }, i) => {
      const held = this.seqIndexes.get(groupId)?.get(Buffer.from(msg.author).toString('hex'))
      if (held == null ? !this.seqIndexes.has(groupId) : held.has(msg.seq)) ask.push(i)
    })
    if (ask.length > 0) {
      const values = await this.db.getMany(ask.map(i => idKey(ids[i])))
      ask.forEach((i, k) => { found[i] = values[k] })
    }
    return found
  }

  /**
   * Does the store hold a message of this author with this seq? Undefined
   * while the group's seq index is not built yet (it is built at subscribe).
   */
  holdsSeq (groupId: string, author: Uint8Array, seq: bigint): boolean | undefined {
    const index = this.seqIndexes.get(groupId)
    if (index == null) return undefined
    const authorHex = Buffer.from(author).toString('hex')
    return index.get(authorHex)?.has(seq) === true || this.pendingSeqs.has(authorKey(groupId, authorHex, seq))
  }

  /**
   * Does the store hold (or a batch being written claim) every seq of this
   * author from 1 to n? For gap detection: a message forwarded before its
   * predecessors' writes ended is no gap.
   */
  async holdsPrefix (groupId: string, authorHex: string, n: bigint): Promise<boolean> {
    const held = (await this.seqIndex(groupId)).get(authorHex)
    if (held?.coversPrefix(n) === true) return true
    // each hole below n must be claimed, seq by seq: never more such seqs than there are claims
    let budget = BigInt(this.pendingSeqs.size)
    const claimedAll = (from: bigint, to: bigint): boolean => {
      if (to - from + 1n > budget) return false
      budget -= to - from + 1n
      for (let seq = from; seq <= to; seq++) if (!this.pendingSeqs.has(authorKey(groupId, authorHex, seq))) return false
      return true
    }
    let next = 1n
    for (const [start, end] of held?.ranges() ?? []) {
      if (start > n) break
      if (start > next && !claimedAll(next, start - 1n)) return false
      next = end + 1n
      if (next > n) return true
    }
    return claimedAll(next, n)
  }

  /** The id of the own message sent with this idempotency key, if one was stored. */
  async idempotent (groupId: string, key: string): Promise<Uint8Array | undefined> {
    // a send whose LevelDB write failed after it was published (it waits in the journal): a repeat, not a new one
    const waiting = this.unstoredRecord(e => e.groupId === groupId && e.msg.idempotencyKey === key)
    if (waiting != null) return waiting.msg.id
    return this.db.get(idempotencyKey(groupId, keyHash(key)))
  }

  /** A stored record by message id (any group). */
  async get (id: Uint8Array): Promise<Uint8Array | undefined> {
    await this.settled()
    const waiting = this.unstoredRecord(e => Buffer.from(e.msg.id).equals(id))
    if (waiting != null) return waiting.msg.bytes
    const where = await this.db.get(idKey(Buffer.from(id).toString('hex')))
    if (where == null) return undefined
    const text = Buffer.from(where).toString()
    const bang = text.indexOf('!')
    return this.db.get(historyKey(text.slice(0, bang), text.slice(bang + 1)))
  }

  /** A page of history, newest first. */
  async history (groupId: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    await this.settled()
    const limit = query.limit ?? DEFAULT_HISTORY_LIMIT
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
      throw new InvalidInputError(`limit must be a whole number from 1 to ${MAX_HISTORY_LIMIT}`)
    }
    const range = historyRange(groupId)
    let lt = range.lt
    if (query.before != null) {
      if (!isCursor(query.before)) throw new InvalidInputError('invalid cursor')
      lt = historyKey(groupId, query.before)
    }
    const records: StoredRecord[] = []
    for await (const [key, value] of this.db.iterator({ gt: range.gt, lt, reverse: true, limit: limit + 1 })) {
      records.push({ cursor: sortFromHistoryKey(key), bytes: value })
    }
    const more = records.length > limit
    if (more) records.length = limit
    if (records.length > 0) {
      // the late markers of the page: one range read over the same sort keys
      const at = new Map<string, Uint8Array>()
      const lo = records[records.length - 1].cursor
      const hi = records[0].cursor
      for await (const [key, value] of this.db.iterator({ gte: lateKey(groupId, lo), lte: lateKey(groupId, hi) })) {
        at.set(sortFromHistoryKey(key), value)
      }
      for (const r of at.size > 0 ? records : []) {
        const v = at.get(r.cursor)
        if (v == null || v.byteLength < 8) continue
        const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength)
        const arrived = Number(b.readBigUInt64BE(0))
        // arrival 0: misordered only, not late
        if (arrived > 0) r.arrivedLate = arrived
        if (b.byteLength > 8 && (b[8] & 1) === 1) r.misordered = true
      }
    }
    return more ? { records, next: records[records.length - 1].cursor } : { records }
  }

  /** The id of an author's message with this seq (the first stored, when there are two), if held. */
  async idAtSeq (groupId: string, author: Uint8Array, seq: bigint): Promise<Uint8Array | undefined> {
    const key = authorKey(groupId, Buffer.from(author).toString('hex'), seq)
    return this.pendingSeqs.get(key) ?? await this.db.get(key)
  }

  /** Record that an author equivocated (kept for good; the first evidence stays). */
  async flagEquivocator (groupId: string, author: Uint8Array, evidence: Equivocation): Promise<void> {
    const key = equivocatorKey(groupId, Buffer.from(author).toString('hex'))
    if (await this.db.get(key) !== undefined) return
    await this.db.put(key, Buffer.from(JSON.stringify(evidence)))
  }

  /** The authors of a group flagged as equivocators (hex of raw keys), with their evidence. */
  async equivocators (groupId: string): Promise<Map<string, Equivocation>> {
    const out = new Map<string, Equivocation>()
    const range = equivocatorRange(groupId)
    for await (const [key, value] of this.db.iterator({ gt: range.gt, lt: range.lt })) {
      try { out.set(key.slice(key.lastIndexOf('!') + 1), JSON.parse(Buffer.from(value).toString()) as Equivocation) } catch { /* a damaged entry: the author is still flagged below */ out.set(key.slice(key.lastIndexOf('!') + 1), { seq: '?', ids: ['', ''], at: 0 }) }
    }
    return out
  }

  /** Every record of a group, oldest first, streamed. */
  async * iterate (groupId: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<StoredRecord> {
    await this.settled()
    const range = historyRange(groupId)
    for await (const [key, value] of this.db.iterator({ gt: range.gt, lt: range.lt })) {
      options.signal?.throwIfAborted()
      yield { cursor: sortFromHistoryKey(key), bytes: value }
    }
  }

  async count (groupId: string): Promise<number> {
    await this.settled()
    let n = 0
    const range = historyRange(groupId)
    for await (const _ of this.db.keys({ gt: range.gt, lt: range.lt })) n++
    return n
  }

  /** Highest Lamport clock stored for a group (0 when empty). */
  async lastLamport (groupId: string): Promise<bigint> {
    const range = historyRange(groupId)
    for await (const key of this.db.keys({ gt: range.gt, lt: range.lt, reverse: true, limit: 1 })) {
      return lamportFromSort(sortFromHistoryKey(key))
    }
    return 0n
  }

  private noteSeq (groupId: string, author: string, seq: bigint): void {
    const index = this.seqIndexes.get(groupId)
    if (index != null) {
      addSeq(index, author, seq)
      return
    }
    // a scan under way may or may not see it: adding twice is harmless
    this.seqIndexPending.get(groupId)?.push([author, seq])
  }

  /**
   * Which sequence numbers of which authors the store holds for a group.
   * Built by one scan of the group's author keys on first use, then kept up
   * to date by every append. The map is live: copy what must not change.
   */
  async seqIndex (groupId: string): Promise<SeqIndex> {
    const ready = this.seqIndexes.get(groupId)
    if (ready != null) return ready
    let build = this.seqIndexBuilds.get(groupId)
    if (build == null) {
      build = this.buildSeqIndex(groupId).finally(() => this.seqIndexBuilds.delete(groupId))
      this.seqIndexBuilds.set(groupId, build)
    }
    return build
  }

  private async buildSeqIndex (groupId: string): Promise<Map<string, RangeSet>> {
    const pending: Array<[string, bigint]> = []
    this.seqIndexPending.set(groupId, pending)
    try {
      const index = new Map<string, RangeSet>()
      const range = authorRange(groupId)
      // keys are a!<group>!<author hex>!<seq, 16 hex>, ascending by author then seq
      for await (const key of this.db.keys(range)) {
        const end = key.length
        addSeq(index, key.slice(range.gt.length, end - 17), BigInt('0x' + key.slice(end - 16)))
      }
      for (const [author, seq] of pending) addSeq(index, author, seq)
      if (this.db.status === 'open') this.seqIndexes.set(groupId, index)
      return index
    } finally {
      this.seqIndexPending.delete(groupId)
    }
  }

  /**
   * Records of one author with sequence numbers in [from, to], ascending: at
   * most `limit` of them, and no more than `maxBytes` in all (at least one).
   */
  async recordsBySeq (groupId: string, authorHex: string, from: bigint, to: bigint, opts: { limit: number, maxBytes?: number }): Promise<SeqRecord[]> {
    const seqs: bigint[] = []
    const ids: string[] = []
    for await (const [key, value] of this.db.iterator({ gte: authorKey(groupId, authorHex, from), lte: authorKey(groupId, authorHex, to), limit: opts.limit })) {
      seqs.push(BigInt('0x' + key.slice(key.length - 16)))
      ids.push(Buffer.from(value).toString('hex'))
    }
    if (ids.length === 0) return []
    const locations = await this.db.getMany(ids.map(idKey))
    const keys: string[] = []
    const found: bigint[] = []
    for (let i = 0; i < locations.length; i++) {
      const loc = locations[i]
      if (loc == null) continue
      const text = Buffer.from(loc).toString('utf8')
      keys.push(historyKey(groupId, text.slice(text.indexOf('!') + 1)))
      found.push(seqs[i])
    }
    const values = await this.db.getMany(keys)
    const out: SeqRecord[] = []
    let bytes = 0
    for (let i = 0; i < values.length; i++) {
      const value = values[i]
      if (value == null) continue
      bytes += value.byteLength
      if (out.length > 0 && opts.maxBytes != null && bytes > opts.maxBytes) break
      out.push({ seq: found[i], bytes: value })
    }
    return out
  }

  // ---- read markers and the search index (src/chat/unread.ts, src/chat/search.ts) ----

  /** The cursor of the last message read in a group, if one was marked. */
  async readMarker (groupId: string): Promise<string | undefined> {
    const v = await this.db.get(readMarkerKey(groupId))
    return v != null ? Buffer.from(v).toString() : undefined
  }

  async setReadMarker (groupId: string, cursor: string): Promise<void> {
    if (!isCursor(cursor)) throw new InvalidInputError('invalid cursor')
    await this.db.put(readMarkerKey(groupId), Buffer.from(cursor))
  }

  /** The cursor of the newest message of a group, if it has one. */
  async newestCursor (groupId: string): Promise<string | undefined> {
    await this.settled()
    const range = historyRange(groupId)
    for await (const key of this.db.keys({ gt: range.gt, lt: range.lt, reverse: true, limit: 1 })) return sortFromHistoryKey(key)
    return undefined
  }

  /** Records after `cursor` (all when undefined), oldest first, at most `limit`. */
  async after (groupId: string, cursor: string | undefined, limit: number): Promise<StoredRecord[]> {
    await this.settled()
    const range = historyRange(groupId)
    const out: StoredRecord[] = []
    for await (const [key, value] of this.db.iterator({ gt: cursor != null ? historyKey(groupId, cursor) : range.gt, lt: range.lt, limit })) {
      out.push({ cursor: sortFromHistoryKey(key), bytes: value })
    }
    return out
  }

  /** The records at these cursors (undefined where none is stored). */
  async recordsAt (groupId: string, cursors: string[]): Promise<Array<Uint8Array | undefined>> {
    await this.settled()
    if (cursors.length === 0) return []
    return this.db.getMany(cursors.map(c => historyKey(groupId, c)))
  }

  /** The records of search postings (the first stored where two share one), undefined where none is stored. */
  async recordsAtPostings (groupId: string, postings: string[]): Promise<Array<StoredRecord | undefined>> {
    return Promise.all(postings.map(async posting => {
      const from = historyKey(groupId, posting)
      for await (const [key, value] of this.db.iterator({ gte: from, lt: from + '~', limit: 1 })) return { cursor: sortFromHistoryKey(key), bytes: value }
      return undefined
    }))
  }

  /** The postings a search token has (see keys.ts), newest first, from before `before` (exclusive), at most `limit`. */
  async postings (groupId: string, token: string, opts: { before?: string, limit: number }): Promise<string[]> {
    const range = searchRange(groupId, token)
    const out: string[] = []
    const lt = opts.before != null ? searchKey(groupId, token, opts.before) : range.lt
    for await (const key of this.db.keys({ gt: range.gt, lt, reverse: true, limit: opts.limit })) out.push(sortFromHistoryKey(key))
    return out
  }

  /** For each posting: does the token have it too? */
  async hasPostings (groupId: string, token: string, postings: string[]): Promise<boolean[]> {
    if (postings.length === 0) return []
    return (await this.db.getMany(postings.map(c => searchKey(groupId, token, c)))).map(v => v !== undefined)
  }

  /** The cursors of the edits and deletes of message `targetHex`, oldest first. */
  async editsOf (groupId: string, targetHex: string): Promise<string[]> {
    const out: string[] = []
    for await (const key of this.db.keys(editRange(groupId, targetHex))) out.push(sortFromHistoryKey(key))
    return out
  }

  /** The ids (hex) of the messages of a group that an edit or a delete aims at */
  async editTargets (groupId: string): Promise<Set<string>> {
    const out = new Set<string>()
    const range = editsRange(groupId)
    for await (const key of this.db.keys(range)) out.add(key.slice(range.gt.length, key.lastIndexOf('!')))
    return out
  }

  /** Write (or with `remove`, delete) search postings and edit links: the backfill of history stored before the index, and the purge of deleted messages. */
  async putIndex (groupId: string, entries: Array<{ cursor: string, terms?: string[], edits?: string }>, remove = false): Promise<void> {
    const batch = this.db.batch()
    for (const e of entries) {
      for (const t of e.terms ?? []) {
        if (remove) batch.del(searchKey(groupId, t, postingOf(e.cursor)))
        else batch.put(searchKey(groupId, t, postingOf(e.cursor)), PRESENT)
      }
      if (e.edits != null && !remove) batch.put(editKey(groupId, e.edits, e.cursor), PRESENT)
    }
    await batch.write()
  }

  /** The search index's state of a group ("1": complete), undefined when it was never built. */
  async searchState (groupId: string): Promise<string | undefined> {
    const v = await this.db.get(searchStateKey(groupId))
    return v != null ? Buffer.from(v).toString() : undefined
  }

  async setSearchState (groupId: string, state: string | undefined): Promise<void> {
    if (state == null) await this.db.del(searchStateKey(groupId))
    else await this.db.put(searchStateKey(groupId), Buffer.from(state))
  }

  // ---- deletes (message kind 4; docs/PROTOCOL.md, "Message kinds") ----------------

  /**
   * Load a group's deletes and tombstones into memory (d! and t! keys), so
   * that deletedBy and tombstone answer at once. Idempotent.
   */
  async loadDeletes (groupId: string): Promise<void> {
    await this.deleteState(groupId)
  }

  /** The authors (hex keys) who sent a delete of this message, as far as loaded (loadDeletes). */
  deletedBy (groupId: string, idHex: string): ReadonlySet<string> | undefined {
    return this.deletes.get(groupId)?.notes.get(idHex)
  }

  /** The tombstone of a record dropped as deleted, as far as loaded (loadDeletes). */
  tombstone (groupId: string, idHex: string): Tombstone | undefined {
    return this.deletes.get(groupId)?.dropped.get(idHex)
  }

  /** Every tombstone of a group. */
  async tombstones (groupId: string): Promise<Tombstone[]> {
    return [...(await this.deleteState(groupId)).dropped.values()]
  }

  /**
   * Remember a delete of `targetHex` by author `byHex` (its target may
   * arrive later): kept for good. Once the group's deletes are loaded,
   * deletedBy tells it at once, before the write resolves.
   */
  async noteDelete (groupId: string, targetHex: string, byHex: string): Promise<void> {
    const noted = (state: { notes: Map<string, Set<string>> }): boolean => {
      const set = state.notes.get(targetHex) ?? new Set<string>()
      if (set.has(byHex)) return false
      set.add(byHex)
      state.notes.set(targetHex, set)
      return true
    }
    const ready = this.deletes.get(groupId)
    if (ready != null ? !noted(ready) : !noted(await this.deleteState(groupId))) return
    await this.db.put(`d!${groupId}!${targetHex}!${byHex}`, PRESENT)
  }

  /**
   * Drop the sealed bytes of a held record its author deleted: its history
   * entry and late mark go, its id (i!) and author seq (a!) stay, so that it
   * is never taken again and sync ranges stay complete, and a tombstone
   * (t!) says whose it was and where. False when the bytes are not held.
   */
  async drop (groupId: string, id: Uint8Array, info: { author: Uint8Array, seq: bigint, kind: number, cursor: string }): Promise<boolean> {
    const state = await this.deleteState(groupId)
    const idHex = Buffer.from(id).toString('hex')
    if (!isCursor(info.cursor) || !info.cursor.endsWith(idHex) || await this.db.get(historyKey(groupId, info.cursor)) === undefined) return false
    const t: Tombstone = { id: idHex, author: Buffer.from(info.author).toString('hex'), seq: info.seq, kind: info.kind, cursor: info.cursor }
    await this.db.batch([
      { type: 'del', key: historyKey(groupId, info.cursor) },
      { type: 'del', key: lateKey(groupId, info.cursor) },
      { type: 'put', key: idKey(idHex), value: Buffer.from(`${groupId}!${info.cursor}`) },
      { type: 'put', key: tombstoneKey(groupId, idHex), value: encodeTombstone(t) }
    ])
    state.dropped.set(idHex, t)
    return true
  }

  /**
   * Take a record never held as held and dropped: its author deleted it, and
   * its successor's `prev` names it as this seq. Its id and seq are written
   * (no bytes), so that sync stops asking for it and never takes it; its
   * tombstone goes at `cursor` (just before that successor). False when the
   * id is stored already.
   */
  async holdDropped (groupId: string, id: Uint8Array, info: { author: Uint8Array, seq: bigint, kind: number, cursor?: string }): Promise<boolean> {
    const state = await this.deleteState(groupId)
    const idHex = Buffer.from(id).toString('hex')
    if (this.pending.has(idHex) || await this.db.get(idKey(idHex)) !== undefined) return false
    const authorHex = Buffer.from(info.author).toString('hex')
    const t: Tombstone = { id: idHex, author: authorHex, seq: info.seq, kind: info.kind, ...(info.cursor != null && isCursor(info.cursor) ? { cursor: info.cursor } : {}) }
    const seqKey = authorKey(groupId, authorHex, info.seq)
    const held = await this.db.get(seqKey) !== undefined
    await this.db.batch([
      { type: 'put', key: idKey(idHex), value: Buffer.from(`${groupId}!`) },
      { type: 'put', key: tombstoneKey(groupId, idHex), value: encodeTombstone(t) },
      ...(held ? [] : [{ type: 'put' as const, key: seqKey, value: Uint8Array.from(id) }])
    ])
    state.dropped.set(idHex, t)
    if (!held) this.noteSeq(groupId, authorHex, info.seq)
    return true
  }

  /** A record held as dropped before it came (holdDropped) came after all, never to be stored: its tombstone moves to its own place. */
  async placeTombstone (groupId: string, idHex: string, info: { cursor: string, kind: number }): Promise<void> {
    const state = await this.deleteState(groupId)
    const t = state.dropped.get(idHex)
    if (t == null || !isCursor(info.cursor) || !info.cursor.endsWith(idHex) || t.cursor === info.cursor) return
    const placed: Tombstone = { ...t, kind: info.kind, cursor: info.cursor }
    await this.db.put(tombstoneKey(groupId, idHex), encodeTombstone(placed))
    state.dropped.set(idHex, placed)
  }

  /**
   * A record taken as dropped (holdDropped) on the word of an author it
   * turns out not to be by (its delete and the successor naming it were
   * another member's forgery): forgotten, id, seq and tombstone, so that
   * the real message can be stored. Records once held are left alone.
   */
  async forgetDropped (groupId: string, idHex: string): Promise<void> {
    const state = await this.deleteState(groupId)
    const t = state.dropped.get(idHex)
    if (t == null) return
    const where = await this.db.get(idKey(idHex))
    if (where == null || Buffer.from(where).toString() !== `${groupId}!`) return
    const seqKey = authorKey(groupId, t.author, t.seq)
    const at = await this.db.get(seqKey)
    const ours = at != null && Buffer.from(at).toString('hex') === idHex
    await this.db.batch([
      { type: 'del', key: idKey(idHex) },
      { type: 'del', key: tombstoneKey(groupId, idHex) },
      ...(ours ? [{ type: 'del' as const, key: seqKey }] : [])
    ])
    if (ours) this.seqIndexes.get(groupId)?.get(t.author)?.delete(t.seq)
    state.dropped.delete(idHex)
  }

  /** Ids (hex) of the group's messages that start with `prefix` (hex), at most `limit`. */
  async idsWithPrefix (groupId: string, prefix: string, limit: number): Promise<string[]> {
    await this.settled()
    const out: string[] = []
    for await (const [key, value] of this.db.iterator({ gte: idKey(prefix), lt: idKey(prefix) + '~', limit: 1024 })) {
      if (!Buffer.from(value).toString().startsWith(`${groupId}!`)) continue
      out.push(key.slice(2))
      if (out.length >= limit) break
    }
    return out
  }

  private async deleteState (groupId: string): Promise<{ notes: Map<string, Set<string>>, dropped: Map<string, Tombstone> }> {
    const ready = this.deletes.get(groupId)
    if (ready != null) return ready
    let load = this.deleteLoads.get(groupId)
    if (load == null) {
      load = (async () => {
        const state = { notes: new Map<string, Set<string>>(), dropped: new Map<string, Tombstone>() }
        for await (const key of this.db.keys({ gt: `d!${groupId}!`, lt: `d!${groupId}!~` })) {
          const [,, target, by] = key.split('!')
          const set = state.notes.get(target) ?? new Set<string>()
          set.add(by)
          state.notes.set(target, set)
        }
        for await (const [key, value] of this.db.iterator({ gt: tombstoneKey(groupId, ''), lt: tombstoneKey(groupId, '~') })) {
          const t = decodeTombstone(key.slice(key.lastIndexOf('!') + 1), value)
          if (t != null) state.dropped.set(t.id, t)
        }
        if (this.db.status === 'open') this.deletes.set(groupId, state)
        return state
      })().finally(() => this.deleteLoads.delete(groupId))
      this.deleteLoads.set(groupId, load)
    }
    return load
  }

  /** Highest sequence number stored for an author in a group (0 when none). */
  async lastSeq (groupId: string, author: Uint8Array): Promise<bigint> {
    const range = authorRange(groupId, Buffer.from(author).toString('hex'))
    for await (const key of this.db.keys({ gt: range.gt, lt: range.lt, reverse: true, limit: 1 })) {
      return parseAuthorKey(key)?.seq ?? 0n
    }
    return 0n
  }
}

/** an idempotency key as it is indexed: its SHA-256, hex (a fixed length whatever the caller sent) */
function keyHash (key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

/** the value of a late marker: arrival time (u64 BE, ms; 0 when on time) and a flags byte (1: misordered) */
function mark (arrivedAt: number, misordered: boolean): Uint8Array {
  const b = Buffer.alloc(9)
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(arrivedAt))), 0)
  b[8] = misordered ? 1 : 0
  return b
}

/** t!<group>!<id>: a record dropped as deleted (see HistoryStore.drop) */
function tombstoneKey (groupId: string, idHex: string): string {
  return `t!${groupId}!${idHex}`
}

/** author (32 bytes), seq (u64 BE), kind (u32 BE), then the cursor (ASCII) when it had a place in history */
function encodeTombstone (t: Tombstone): Uint8Array {
  const b = Buffer.alloc(44 + (t.cursor?.length ?? 0))
  Buffer.from(t.author, 'hex').copy(b, 0)
  b.writeBigUInt64BE(t.seq, 32)
  b.writeUInt32BE(t.kind, 40)
  if (t.cursor != null) b.write(t.cursor, 44, 'latin1')
  return b
}

function decodeTombstone (idHex: string, v: Uint8Array): Tombstone | undefined {
  if (v.byteLength < 44) return undefined
  const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  const cursor = b.byteLength > 44 ? b.toString('latin1', 44) : undefined
  return { id: idHex, author: b.toString('hex', 0, 32), seq: b.readBigUInt64BE(32), kind: b.readUInt32BE(40), ...(cursor != null && isCursor(cursor) ? { cursor } : {}) }
}

function levelMessage (err: unknown): string {
  return errorMessage(err instanceof Error && err.cause != null ? err.cause : err)
}

function addSeq (index: Map<string, RangeSet>, author: string, seq: bigint): void {
  let set = index.get(author)
  if (set == null) {
    set = new RangeSet()
    index.set(author, set)
  }
  set.add(seq)
}
