import { Level } from 'level'
import { logger } from '@libp2p/logger'
import { createHash } from 'node:crypto'
import { authorKey, authorRange, historyKey, historyRange, idempotencyKey, idKey, isCursor, lamportFromSort, parseAuthorKey, sortFromHistoryKey, sortKey } from './keys.js'
import { RangeSet } from './ranges.js'
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
}

export interface StoredRecord {
  /** opaque, ordered position in the group's history: a cursor */
  cursor: string
  bytes: Uint8Array
}

export interface HistoryPage {
  /** newest first */
  records: StoredRecord[]
  /** pass as `before` to read the next (older) page; absent on the last page */
  next?: string
}

export interface HistoryQuery {
  limit?: number
  before?: string
}

export const DEFAULT_HISTORY_LIMIT = 50
export const MAX_HISTORY_LIMIT = 10_000
/** appends written together at most, in one group commit */
const MAX_GROUP_COMMIT = 1024

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
  private commitQueue: Array<{ groupId: string, msg: StorableMessage, resolve: (added: boolean) => void, reject: (err: unknown) => void }> = []
  private committing?: Promise<void>
  private closing = false
  /** per group: the held sequence numbers of each author, built on first use, then kept up to date by appends */
  private readonly seqIndexes = new Map<string, Map<string, RangeSet>>()
  private readonly seqIndexBuilds = new Map<string, Promise<Map<string, RangeSet>>>()
  /** appends that completed while a group's index was being built: applied when the scan ends */
  private readonly seqIndexPending = new Map<string, Array<[string, bigint]>>()

  constructor (path: string) {
    this.db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
  }

  async open (): Promise<void> {
    this.closing = false
    try {
      await this.db.open()
    } catch (err: unknown) {
      throw new DataDirError(`cannot open the history database at ${this.db.location}: ${levelMessage(err)}`, { cause: err })
    }
  }

  async close (): Promise<void> {
    // appends already accepted are written before the database closes; later ones are refused
    this.closing = true
    while (this.committing != null) await this.committing
    if (this.db.status === 'open' || this.db.status === 'opening') await this.db.close()
    this.seqIndexes.clear()
    this.seqIndexBuilds.clear()
    this.seqIndexPending.clear()
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

  private async commitLoop (): Promise<void> {
    try {
      while (this.commitQueue.length > 0) {
        const waiting = this.commitQueue.splice(0, MAX_GROUP_COMMIT)
        try {
          const added = await this.write(waiting)
          waiting.forEach((w, i) => { w.resolve(added[i]) })
        } catch (err) {
          for (const w of waiting) w.reject(err)
        }
      }
    } finally {
      this.committing = undefined
    }
  }

  /** Store many messages in one batch; returns how many were new. */
  async appendMany (groupId: string, msgs: StorableMessage[]): Promise<number> {
    const added = await this.write(msgs.map(msg => ({ groupId, msg })))
    return added.filter(Boolean).length
  }

  /** One lookup and one batch for messages of any groups; per message, whether it was new. */
  private async write (entries: Array<{ groupId: string, msg: StorableMessage }>): Promise<boolean[]> {
    const ids = entries.map(e => Buffer.from(e.msg.id).toString('hex'))
    const existing = await this.lookup(entries, ids)
    const batch = this.db.batch()
    const claimed: string[] = []
    const added = entries.map(() => false)
    const seqs: Array<{ groupId: string, author: string, seq: bigint }> = []
    for (let i = 0; i < entries.length; i++) {
      const idHex = ids[i]
      if (existing[i] !== undefined || this.pending.has(idHex)) continue
      this.pending.add(idHex)
      claimed.push(idHex)
      added[i] = true
      const { groupId, msg: m } = entries[i]
      const sort = sortKey(m.lamport, m.timestamp, idHex)
      batch.put(historyKey(groupId, sort), m.bytes)
      batch.put(idKey(idHex), Buffer.from(`${groupId}!${sort}`))
      const authorHex = Buffer.from(m.author).toString('hex')
      batch.put(authorKey(groupId, authorHex, m.seq), m.id)
      if (m.idempotencyKey != null) batch.put(idempotencyKey(groupId, keyHash(m.idempotencyKey)), m.id)
      seqs.push({ groupId, author: authorHex, seq: m.seq })
    }
    try {
      if (claimed.length > 0) await batch.write()
      else await batch.close()
    } catch (err: unknown) {
      // a full or read-only disk: LevelDB's log keeps what was written before intact
      const why = levelMessage(err)
      if (/ENOSPC|no space left/i.test(why)) throw new DiskFullError(`cannot write to the history database at ${this.db.location}: the disk is full (${why}): free some space; nothing acknowledged is lost`, { cause: err })
      throw new DataDirError(`cannot write to the history database at ${this.db.location}: ${why}`, { cause: err })
    } finally {
      for (const idHex of claimed) this.pending.delete(idHex)
    }
    for (const { groupId, author, seq } of seqs) this.noteSeq(groupId, author, seq)
    if (claimed.length > 0) log.trace('stored %d new of %d', claimed.length, entries.length)
    return added
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
    return index.get(Buffer.from(author).toString('hex'))?.has(seq) ?? false
  }

  /** The id of the own message sent with this idempotency key, if one was stored. */
  async idempotent (groupId: string, key: string): Promise<Uint8Array | undefined> {
    return this.db.get(idempotencyKey(groupId, keyHash(key)))
  }

  /** A stored record by message id (any group). */
  async get (id: Uint8Array): Promise<Uint8Array | undefined> {
    const where = await this.db.get(idKey(Buffer.from(id).toString('hex')))
    if (where == null) return undefined
    const text = Buffer.from(where).toString()
    const bang = text.indexOf('!')
    return this.db.get(historyKey(text.slice(0, bang), text.slice(bang + 1)))
  }

  /** A page of history, newest first. */
  async history (groupId: string, query: HistoryQuery = {}): Promise<HistoryPage> {
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
    return more ? { records, next: records[records.length - 1].cursor } : { records }
  }

  /** Every record of a group, oldest first, streamed. */
  async * iterate (groupId: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<StoredRecord> {
    const range = historyRange(groupId)
    for await (const [key, value] of this.db.iterator({ gt: range.gt, lt: range.lt })) {
      options.signal?.throwIfAborted()
      yield { cursor: sortFromHistoryKey(key), bytes: value }
    }
  }

  async count (groupId: string): Promise<number> {
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

  /** Highest sequence number stored for an author in a group (0 when none). */
  async lastSeq (groupId: string, author: Uint8Array): Promise<bigint> {
    const range = authorRange(groupId, Buffer.from(author).toString('hex'))
    for await (const key of this.db.keys({ gt: range.gt, lt: range.lt, reverse: true, limit: 1 })) {
      return parseAuthorKey(key)?.seq ?? 0n
    }
    return 0n
  }
}

/** A LevelDB error's message: the cause's (the database's own words) when it has one */
function keyHash (key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
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
