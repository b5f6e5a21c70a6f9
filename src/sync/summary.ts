import { RangeSet } from '../store/index.js'
import { SyncProtocolError } from './errors.js'
import type { AuthorRanges, Summary } from './pb/sync.js'
import type { SeqIndex } from '../store/index.js'

/**
 * Summaries (pure): what a node holds in a group, per author, as ranges of
 * sequence numbers. Both peers compute what each must send from the two
 * summaries as they went over the wire, with the same function, so each
 * knows exactly what to expect and can refuse anything else.
 */

/** Authors described in one summary at most */
export const MAX_SUMMARY_AUTHORS = 4096
/** Ranges described per author at most (more means holes: the rest is described next round) */
export const MAX_RANGES_PER_AUTHOR = 64
/** Ranges in one summary at most, all authors together */
export const MAX_SUMMARY_RANGES = 16_384
/** Seqs asked for in one pull at most */
export const MAX_WANT_SEQS = 1024
/** Ranges in one pull at most */
export const MAX_WANT_RANGES = 256

const AUTHOR_LENGTH = 32
const ID_LENGTH = 32

/** A summary as sets: author hex -> seqs held; `limit`: seqs above it are not described. */
export interface Holdings {
  authors: Map<string, { set: RangeSet, limit?: bigint, head?: string }>
  /** authors after this one (hex order) are not described */
  lastAuthor?: string
}

/** The summary of a store index, within the limits, and the holdings it describes. */
export function buildSummary (index: SeqIndex, limits: { authors?: number, rangesPerAuthor?: number, ranges?: number } = {}, heads: ReadonlyMap<string, Uint8Array> = new Map()): { summary: Summary, holdings: Holdings } {
  const maxAuthors = limits.authors ?? MAX_SUMMARY_AUTHORS
  const maxPerAuthor = limits.rangesPerAuthor ?? MAX_RANGES_PER_AUTHOR
  let budget = limits.ranges ?? MAX_SUMMARY_RANGES
  const summary: Summary = { authors: [], truncated: false }
  const holdings: Holdings = { authors: new Map() }
  const names = [...index.keys()].sort()
  for (const author of names) {
    const set = index.get(author)
    if (set == null || set.empty) continue
    if (summary.authors.length >= maxAuthors || budget <= 0) {
      summary.truncated = true
      break
    }
    const n = Math.min(set.size, maxPerAuthor, budget)
    budget -= n
    const flat = set.toFlat(n)
    const truncated = n < set.size
    const head = truncated ? undefined : heads.get(author)
    summary.authors.push({ author: Uint8Array.from(Buffer.from(author, 'hex')), ranges: flat, truncated, head: head != null ? Uint8Array.from(head) : new Uint8Array(0) })
    const described = RangeSet.fromFlat(flat)
    holdings.authors.set(author, truncated ? { set: described, limit: flat[flat.length - 1] } : { set: described, ...(head != null ? { head: Buffer.from(head).toString('hex') } : {}) })
  }
  if (summary.truncated && summary.authors.length > 0) {
    holdings.lastAuthor = Buffer.from(summary.authors[summary.authors.length - 1].author).toString('hex')
  } else if (summary.truncated) {
    holdings.lastAuthor = ''
  }
  return { summary, holdings }
}

/** Check a peer's summary and turn it into holdings; throws SyncProtocolError when malformed. */
export function parseSummary (summary: Summary | undefined): Holdings {
  if (summary == null) throw new SyncProtocolError('missing summary')
  if (summary.authors.length > MAX_SUMMARY_AUTHORS) throw new SyncProtocolError('too many authors in summary')
  const holdings: Holdings = { authors: new Map() }
  let total = 0
  let previous = ''
  for (const entry of summary.authors) {
    if (entry.author.byteLength !== AUTHOR_LENGTH) throw new SyncProtocolError('bad author in summary')
    const author = Buffer.from(entry.author).toString('hex')
    if (author <= previous) throw new SyncProtocolError('summary authors not ascending')
    previous = author
    const flat = entry.ranges
    if (flat.length === 0 || flat.length % 2 !== 0) throw new SyncProtocolError('bad ranges in summary')
    if (flat.length / 2 > MAX_RANGES_PER_AUTHOR) throw new SyncProtocolError('too many ranges for one author')
    total += flat.length / 2
    if (total > MAX_SUMMARY_RANGES) throw new SyncProtocolError('too many ranges in summary')
    let end = 0n
    for (let i = 0; i < flat.length; i += 2) {
      // ascending, disjoint, not touching, from 1
      if (flat[i] < 1n || flat[i] > flat[i + 1] || (i > 0 && flat[i] <= end + 1n)) throw new SyncProtocolError('bad ranges in summary')
      end = flat[i + 1]
    }
    if (entry.head.byteLength !== 0 && (entry.head.byteLength !== ID_LENGTH || entry.truncated)) throw new SyncProtocolError('bad head in summary')
    const set = RangeSet.fromFlat(flat)
    holdings.authors.set(author, entry.truncated ? { set, limit: end } : { set, ...(entry.head.byteLength > 0 ? { head: Buffer.from(entry.head).toString('hex') } : {}) })
  }
  if (summary.truncated) holdings.lastAuthor = previous
  return holdings
}

/** What `mine` describes that `theirs` lacks (as far as `theirs` describes), per author, and how many seqs that is. */
export function missing (mine: Holdings, theirs: Holdings): { authors: Map<string, RangeSet>, count: bigint } {
  const authors = new Map<string, RangeSet>()
  let count = 0n
  for (const [author, { set }] of mine.authors) {
    if (theirs.lastAuthor != null && author > theirs.lastAuthor) continue
    const held = theirs.authors.get(author)
    const lacking = held == null ? set.clone() : set.minus(held.set, held.limit)
    if (lacking.empty) continue
    authors.set(author, lacking)
    count += lacking.count()
  }
  return { authors, count }
}

/**
 * What `theirs` describes that `index` (this store, all of it) lacks, and how
 * many seqs that is. With `mine`: `conflicts`, the authors whose last seq
 * both ends hold under different heads (two versions of it: an
 * equivocation), to be asked for although held, so that each end gets the
 * other's version.
 */
export function wanted (theirs: Holdings, index: SeqIndex, mine?: Holdings): { authors: Map<string, RangeSet>, count: bigint, conflicts: Map<string, bigint> } {
  const authors = new Map<string, RangeSet>()
  const conflicts = new Map<string, bigint>()
  let count = 0n
  for (const [author, { set, head }] of theirs.authors) {
    const have = index.get(author)
    const lacking = have == null ? set.clone() : set.minus(have)
    const own = mine?.authors.get(author)
    const end = set.last
    if (head != null && own?.head != null && own.head !== head && end != null && own.set.last === end && conflicts.size < MAX_WANT_RANGES) conflicts.set(author, end)
    if (lacking.empty) continue
    authors.set(author, lacking)
    count += lacking.count()
  }
  return { authors, count, conflicts }
}

/** A request as it goes on the wire: authors ascending. */
export function wantsToWire (wants: Map<string, RangeSet>): AuthorRanges[] {
  return [...wants.keys()].sort().map(author => ({
    author: Uint8Array.from(Buffer.from(author, 'hex')),
    ranges: (wants.get(author) as RangeSet).toFlat(),
    truncated: false,
    head: new Uint8Array(0)
  }))
}

/**
 * Check a peer's request against what this end described: well formed,
 * within the limits, nothing that was not offered. Throws SyncProtocolError.
 */
export function parseWants (wants: AuthorRanges[], mine: Holdings): Map<string, RangeSet> {
  if (wants.length === 0) throw new SyncProtocolError('empty pull')
  const out = new Map<string, RangeSet>()
  let seqs = 0n
  let ranges = 0
  let previous = ''
  for (const entry of wants) {
    if (entry.author.byteLength !== AUTHOR_LENGTH) throw new SyncProtocolError('bad author in pull')
    const author = Buffer.from(entry.author).toString('hex')
    if (author <= previous) throw new SyncProtocolError('pull authors not ascending')
    previous = author
    const held = mine.authors.get(author)?.set
    const flat = entry.ranges
    if (held == null) throw new SyncProtocolError('pull for an author not offered')
    if (flat.length === 0 || flat.length % 2 !== 0) throw new SyncProtocolError('bad ranges in pull')
    let end = 0n
    for (let i = 0; i < flat.length; i += 2) {
      const s = flat[i]
      const e = flat[i + 1]
      if (s < 1n || s > e || (i > 0 && s <= end)) throw new SyncProtocolError('bad ranges in pull')
      if (!held.hasRange(s, e)) throw new SyncProtocolError('pull for seqs not offered')
      end = e
      seqs += e - s + 1n
      ranges++
    }
    if (seqs > BigInt(MAX_WANT_SEQS) || ranges > MAX_WANT_RANGES) throw new SyncProtocolError('pull too large')
    out.set(author, RangeSet.fromFlat(flat))
  }
  return out
}
