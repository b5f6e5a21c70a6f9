/**
 * Search over a group's decrypted history: an inverted index in the history
 * database (`s!<group>!<token>!<cursor>`, see src/store/keys.ts), written in
 * the same batch as each message (`indexFields`), backfilled once for history
 * stored before it, and read newest first. A token is not the word itself
 * but a keyed hash of it (HMAC-SHA256 under a key derived from the group
 * secret): history at rest stays sealed, also after the group is left.
 * Edits and deletes are applied when results are read, by the fold of
 * src/chat/view.ts: a message is found by its latest text, never once its
 * author deleted it (and a dropped message's tokens are removed with it,
 * `forget`). The index is this node's own, never sent.
 */
import { createHmac, createSecretKey, hkdfSync } from 'node:crypto'
import { peek, KIND_DELETE, KIND_EDIT, KIND_FILE, KIND_TEXT } from '../envelope/index.js'
import { sortKey } from '../store/keys.js'
import { toChatMessage } from './message.js'
import { foldView } from './view.js'
import type { KeyObject } from 'node:crypto'
import type { GroupKeys, OpenedMessage } from '../envelope/index.js'
import type { Group } from '../groups/index.js'
import type { HistoryStore, StorableMessage } from '../store/index.js'
import type { ChatMessage } from './message.js'

/** Longest token kept, in characters (longer words are cut: a search for them cuts the same way) */
export const MAX_TOKEN_LENGTH = 40
/** Distinct tokens indexed per message at most */
export const MAX_TERMS = 256
export const DEFAULT_SEARCH_LIMIT = 20
export const MAX_SEARCH_LIMIT = 500
/** Records read per batch of a backfill */
const BACKFILL_BATCH = 2000
/** Candidates read at once while searching */
const CANDIDATE_BATCH = 64
/** Postings counted per query word to pick the rarest as the one to walk */
const COUNT_CAP = 1024
/** Characters of context either side of the first match in a snippet */
const SNIPPET_CONTEXT = 40
/** The state `q!<group>` holds once the group's index is complete; a new tokenizer gets a new one (and a rebuild) */
export const INDEX_VERSION = '1'

const WORD = /[\p{L}\p{N}\p{M}]+/gu
const MARKS = /\p{M}/gu

// eslint-disable-next-line no-control-regex
const ASCII = /^[\u0000-\u007f]*$/

/** One word as the index holds it: compatibility-decomposed, without accents, lower case, at most 40 characters. */
export function normalizeToken (word: string): string {
  if (ASCII.test(word)) return word.slice(0, MAX_TOKEN_LENGTH).toLowerCase()
  const w = word.normalize('NFKD').replace(MARKS, '').toLowerCase()
  // code points, not UTF-16 units: a word is never cut inside a character (letters and digits only: no emoji sequences)
  return w.length <= MAX_TOKEN_LENGTH ? w : Array.from(w).slice(0, MAX_TOKEN_LENGTH).join('')
}

/** The distinct normalised words of a text (letters and digits; everything else separates words). */
export function searchTerms (text: string): string[] {
  const out = new Set<string>()
  for (const m of text.matchAll(WORD)) {
    const t = normalizeToken(m[0])
    if (t !== '') out.add(t)
    if (out.size >= MAX_TERMS) break
  }
  return [...out]
}

/** The group's own key of its index tokens, with the secret it was made from, and the tokens of recent words (words repeat: most are found here) */
const tokenKeys = new WeakMap<GroupKeys, { secret: Uint8Array, key: KeyObject, cache: Map<string, string> }>()
/** words whose tokens are kept per group at most */
const TOKEN_CACHE = 50_000

/** Hex characters of a token: 64 bits (a collision only makes a candidate that the text check drops) */
const TOKEN_HEX = 16

/** The index token of a normalised word: hex of the first 8 bytes of HMAC-SHA256(HKDF(secret, "search/<epoch>"), word) */
export function tokenOf (group: Pick<Group, 'topicId' | 'secret' | 'keys'>, term: string): string {
  let k = tokenKeys.get(group.keys)
  if (k == null || !Buffer.from(k.secret).equals(group.secret)) {
    const salt = Buffer.from(`p2p-chat/v1/group/${group.topicId}`, 'utf8')
    k = { secret: Uint8Array.from(group.secret), key: createSecretKey(Buffer.from(hkdfSync('sha256', group.secret, salt, Buffer.from(`search/${group.keys.epoch}`, 'utf8'), 32))), cache: new Map() }
    tokenKeys.set(group.keys, k)
  }
  let token = k.cache.get(term)
  if (token == null) {
    // hex of the first bytes only: a slice of the whole digest's hex would keep all 64 characters alive in the cache (3.1 against 6.9 MiB for 50,000 tokens)
    token = createHmac('sha256', k.key).update(term, 'utf8').digest().toString('hex', 0, TOKEN_HEX / 2)
    if (k.cache.size >= TOKEN_CACHE) k.cache.clear()
    k.cache.set(term, token)
  }
  return token
}

/** The words of a message that search finds: of a text, an edit, a file (its caption and name) */
function wordsOf (msg: OpenedMessage): string[] {
  const kind = msg.envelope.kind
  const b = msg.body
  if (kind !== KIND_TEXT && kind !== KIND_EDIT && kind !== KIND_FILE) return []
  return searchTerms(kind === KIND_FILE && b.file != null ? `${b.text} ${b.file.name}` : b.text)
}

/** What the store indexes of a message, in the same batch: the tokens of its words; the target of an edit or delete. */
export function indexFields (group: Pick<Group, 'topicId' | 'secret' | 'keys'>, msg: OpenedMessage): Pick<StorableMessage, 'terms' | 'edits'> {
  const kind = msg.envelope.kind
  const b = msg.body
  const out: Pick<StorableMessage, 'terms' | 'edits'> = {}
  const words = wordsOf(msg)
  if (words.length > 0) out.terms = words.map(w => tokenOf(group, w))
  if ((kind === KIND_EDIT || kind === KIND_DELETE) && b.target.byteLength > 0) out.edits = Buffer.from(b.target).toString('hex')
  return out
}

/** A search hit: the message as history shows it (its latest text), where it is, and a snippet */
export interface SearchResult extends ChatMessage {
  /** its place in history: `cursor` is its own; `historyBefore` is the `before` of a history page that starts with it */
  cursor: string
  historyBefore: string
  /** the text around the first match, on one line */
  snippet: string
  /** the text is that of its author's latest edit */
  edited?: boolean
}

export interface SearchProgress { topicId: string, done: number, total: number }

/** A message after its author's edits and deletes (src/chat/view.ts's fold) */
interface Folded { original: OpenedMessage, cursor: string, text: string, edited: boolean, deleted: boolean }

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** The cursor right after `cursor`: `before` it, a history page starts with the message at `cursor`. */
export function cursorAfter (cursor: string): string {
  return (BigInt('0x' + cursor) + 1n).toString(16).padStart(cursor.length, '0')
}

/** The first match of `terms` in `text` with some context, on one line. */
export function snippet (text: string, terms: Set<string>): string {
  let at = -1
  let len = 0
  for (const m of text.matchAll(WORD)) {
    if (terms.has(normalizeToken(m[0]))) { at = m.index; len = m[0].length; break }
  }
  const flat = (s: string): string => s.replace(/\s+/g, ' ')
  if (at < 0) return flat(text.slice(0, 2 * SNIPPET_CONTEXT)) + (text.length > 2 * SNIPPET_CONTEXT ? '…' : '')
  const from = Math.max(0, at - SNIPPET_CONTEXT)
  const to = Math.min(text.length, at + len + SNIPPET_CONTEXT)
  return `${from > 0 ? '…' : ''}${flat(text.slice(from, to))}${to < text.length ? '…' : ''}`
}

/**
 * The index's reader and keeper. Messages are indexed as they are stored
 * (ChatNode puts `indexFields` into what it stores); `ensure` backfills a
 * group whose history predates the index, once.
 */
export class SearchIndex {
  private readonly store: HistoryStore
  private readonly self: Uint8Array
  private readonly builds = new Map<string, Promise<void>>()
  private readonly complete = new Set<string>()
  /** per group: how often it was invalidated (a backfill under way when it was is not complete) */
  private readonly generations = new Map<string, number>()
  /** per group: ids (hex) of the messages an edit or a delete aims at, read once, then kept up to date by `stored` */
  private readonly targets = new Map<string, Set<string>>()
  private readonly targetLoads = new Map<string, Promise<Set<string>>>()
  /** acts stored while a group's targets were being read */
  private readonly targetPending = new Map<string, string[]>()

  constructor (store: HistoryStore, self: Uint8Array) {
    this.store = store
    this.self = self
  }

  /** A message was stored with its index fields: an edit or delete is remembered (its target is folded when found). */
  stored (groupId: string, fields: Pick<StorableMessage, 'edits'>): void {
    if (fields.edits == null) return
    const set = this.targets.get(groupId)
    if (set != null) set.add(fields.edits)
    else this.targetPending.get(groupId)?.push(fields.edits)
  }

  /** The ids of messages that something acts on (edits, deletes) */
  private async actedOn (groupId: string): Promise<Set<string>> {
    const ready = this.targets.get(groupId)
    if (ready != null) return ready
    let load = this.targetLoads.get(groupId)
    if (load == null) {
      const pending: string[] = []
      this.targetPending.set(groupId, pending)
      load = this.store.editTargets(groupId).then(set => {
        for (const t of pending) set.add(t)
        this.targets.set(groupId, set)
        return set
      }).finally(() => {
        this.targetLoads.delete(groupId)
        this.targetPending.delete(groupId)
      })
      this.targetLoads.set(groupId, load)
    }
    return load
  }

  /** Forget that a group is indexed (records were stored without their index: a backup import); the next search backfills. */
  invalidate (groupId: string): void {
    this.generations.set(groupId, (this.generations.get(groupId) ?? 0) + 1)
    this.complete.delete(groupId)
    this.targets.delete(groupId)
    this.store.setSearchState(groupId, undefined).catch(() => { /* closing: the state is rebuilt next time anyway */ })
  }

  /** Is the group's index complete (no backfill needed)? */
  async indexed (group: Group): Promise<boolean> {
    const gid = group.keys.groupId
    if (this.complete.has(gid)) return true
    if (await this.store.searchState(gid) === INDEX_VERSION) this.complete.add(gid)
    return this.complete.has(gid)
  }

  /** Index every stored message of the group unless done before; progress in records. Once at a time per group. */
  async ensure (group: Group, onProgress?: (p: SearchProgress) => void): Promise<void> {
    if (await this.indexed(group)) return
    const gid = group.keys.groupId
    let build = this.builds.get(gid)
    if (build == null) {
      build = this.backfill(group, onProgress).finally(() => this.builds.delete(gid))
      this.builds.set(gid, build)
    }
    await build
  }

  private async backfill (group: Group, onProgress?: (p: SearchProgress) => void): Promise<void> {
    const gid = group.keys.groupId
    const generation = this.generations.get(gid) ?? 0
    const total = await this.store.count(gid)
    let done = 0
    let cursor: string | undefined
    onProgress?.({ topicId: group.topicId, done, total })
    while (true) {
      const records = await this.store.after(gid, cursor, BACKFILL_BATCH)
      if (records.length === 0) break
      const entries: Array<{ cursor: string, terms?: string[], edits?: string }> = []
      for (const r of records) {
        const p = peek(group.keys, r.bytes)
        if (p.ok) entries.push({ cursor: r.cursor, ...indexFields(group, p.message) })
      }
      await this.store.putIndex(gid, entries)
      for (const e of entries) this.stored(gid, e)
      done += records.length
      cursor = records[records.length - 1].cursor
      onProgress?.({ topicId: group.topicId, done, total: Math.max(total, done) })
    }
    // records stored without their index meanwhile (an import) may be behind the scan: the next search goes again
    if ((this.generations.get(gid) ?? 0) !== generation) return
    await this.store.setSearchState(gid, INDEX_VERSION)
    this.complete.add(gid)
  }

  /**
   * The messages of a group whose latest text holds every word of `query`,
   * newest first, at most `limit`, from before `before` (a cursor of the
   * index walk, for the next page). The rarest word is walked; the others
   * are looked up beside it.
   */
  async search (group: Group, query: string, opts: { limit?: number } = {}): Promise<SearchResult[]> {
    const terms = searchTerms(query)
    if (terms.length === 0) return []
    const limit = opts.limit ?? DEFAULT_SEARCH_LIMIT
    await this.ensure(group)
    const gid = group.keys.groupId
    const tokens = terms.map(t => tokenOf(group, t))
    // the rarest word is walked (one word: no need to count)
    const counts = tokens.length === 1 ? [1] : await Promise.all(tokens.map(async t => (await this.store.postings(gid, t, { limit: COUNT_CAP })).length))
    if (counts.some(c => c === 0)) return []
    const acted = await this.actedOn(gid)
    const order = tokens.map((t, i) => ({ t, n: counts[i] })).sort((a, b) => a.n - b.n).map(x => x.t)
    const [walk, ...others] = order
    const wanted = new Set(terms)
    const out: SearchResult[] = []
    const seen = new Set<string>()
    let before: string | undefined
    while (out.length < limit) {
      let postings = await this.store.postings(gid, walk, { before, limit: CANDIDATE_BATCH })
      if (postings.length === 0) break
      before = postings[postings.length - 1]
      for (const t of others) {
        const has = await this.store.hasPostings(gid, t, postings)
        postings = postings.filter((_, i) => has[i])
      }
      const records = await this.store.recordsAtPostings(gid, postings)
      for (let i = 0; i < records.length && out.length < limit; i++) {
        const record = records[i]
        if (record == null) continue
        const p = peek(group.keys, record.bytes)
        if (!p.ok) continue
        const m = p.message
        const targetHex = m.envelope.kind === KIND_EDIT ? hex(m.body.target) : hex(m.id)
        if (seen.has(targetHex)) continue
        seen.add(targetHex)
        // nothing acts on it (most messages): it is as it was written
        const folded = m.envelope.kind !== KIND_EDIT && !acted.has(targetHex)
          ? (m.envelope.kind === KIND_TEXT || m.envelope.kind === KIND_FILE ? { original: m, cursor: record.cursor, text: m.body.text, edited: false, deleted: false } : undefined)
          : await this.fold(group, targetHex, m.envelope.kind === KIND_EDIT ? undefined : { cursor: record.cursor, msg: m })
        if (folded == null || folded.deleted) continue
        // the latest text must hold every word (an older version's posting, or one left behind, does not count)
        const have = new Set(searchTerms(folded.text))
        if (!terms.every(t => have.has(t))) continue
        out.push(this.result(group, folded, wanted))
      }
    }
    return out
  }

  private result (group: Group, f: Folded, terms: Set<string>): SearchResult {
    const m = toChatMessage(group, f.original, this.self)
    return {
      ...m,
      text: f.text,
      cursor: f.cursor,
      historyBefore: cursorAfter(f.cursor),
      snippet: snippet(f.text, terms),
      ...(f.edited ? { edited: true } : {})
    }
  }

  /**
   * A message with what acts on it folded in (src/chat/view.ts: edits by its
   * author, the latest in history order giving the text; a delete by its
   * author hiding it). Undefined when the message is not held (an edit that
   * came before its original, or a record dropped as deleted).
   */
  private async fold (group: Group, targetHex: string, known?: { cursor: string, msg: OpenedMessage }): Promise<Folded | undefined> {
    const gid = group.keys.groupId
    let cursor = known?.cursor
    let original = known?.msg
    if (original == null) {
      const bytes = await this.store.get(Buffer.from(targetHex, 'hex'))
      const p = bytes != null ? peek(group.keys, bytes) : undefined
      if (p?.ok !== true) return undefined
      original = p.message
      const e = original.envelope
      cursor = await this.cursorOf(gid, e.lamport, e.timestamp, targetHex)
    }
    if (cursor == null || (original.envelope.kind !== KIND_TEXT && original.envelope.kind !== KIND_FILE)) return undefined
    const acts = await this.store.editsOf(gid, targetHex)
    const records = await this.store.recordsAt(gid, acts)
    const messages = [{ ...toChatMessage(group, original, this.self), cursor }]
    for (let i = 0; i < acts.length; i++) {
      const bytes = records[i]
      const p = bytes != null ? peek(group.keys, bytes) : undefined
      if (p?.ok === true) messages.push({ ...toChatMessage(group, p.message, this.self), cursor: acts[i] })
    }
    const view = foldView(messages).messages.find(v => v.id === targetHex)
    if (view == null) return undefined
    return { original, cursor, text: view.text, edited: view.edited, deleted: view.deleted }
  }

  /** The cursor of a stored message (its sort key) */
  private async cursorOf (groupId: string, lamport: bigint, timestamp: bigint, idHex: string): Promise<string | undefined> {
    const c = sortKey(lamport, timestamp, idHex)
    const [held] = await this.store.recordsAt(groupId, [c])
    return held != null ? c : undefined
  }

  /** A record is dropped from the store (its author deleted it): its tokens leave the index with it. */
  async forget (group: Group, msg: OpenedMessage, cursor: string): Promise<void> {
    const { terms } = indexFields(group, msg)
    if (terms != null) await this.store.putIndex(group.keys.groupId, [{ cursor, terms }], true)
  }
}
