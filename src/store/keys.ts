/**
 * LevelDB key layout (pure). Every key is an ASCII string; numbers are
 * fixed-width lowercase hex so that byte order is numeric order.
 *
 *   h!<group>!<sort>            -> sealed envelope bytes (history, ordered)
 *   i!<message id>              -> "<group>!<sort>" (dedupe, lookup by id)
 *   a!<group>!<author>!<seq>    -> message id bytes (per-author sequences)
 *   k!<group>!<key hash>        -> message id bytes (idempotency keys of own sends)
 *   l!<group>!<sort>            -> arrival time, ms (u64 BE): messages that arrived late
 *   x!<group>!<author>          -> JSON evidence: an author that signed two messages under one seq
 *   r!<group>                   -> read marker: the cursor of the last message read here (local state, never synced)
 *   s!<group>!<token>!<posting> -> PRESENT: search index, a word (its keyed hash) of the message whose sort key starts with <posting>
 *   e!<group>!<target>!<sort>   -> PRESENT: the message at <sort> edits or deletes message <target> (hex id)
 *   d!<group>!<target>!<by>     -> PRESENT: a delete of message <target> by <by> that arrived before it
 *   q!<group>                   -> search index state: "1" once every stored message of the group is indexed
 *
 * <group> is GroupKeys.groupId (32 hex), <sort> is lamport (16 hex),
 * timestamp (12 hex) and message id (64 hex): history order is Lamport
 * order, ties broken by time then id, identical on every node.
 */
export const GROUP_ID_LENGTH = 32

/**
 * The value of a key whose presence is the whole record (s!, e!, d!): one
 * byte, never empty. classic-level (3.0.0, binding.cc) copies every key and
 * value of a write into `new char[size]` and frees the copy only when the
 * size is not 0, so each empty value written leaks one allocation (a 32-byte
 * malloc chunk): one per distinct word of every message stored, the native
 * growth the soak measured (docs/BENCHMARKS.md). Keys written before this
 * hold empty values; readers only ask whether a key is there.
 */
export const PRESENT: Uint8Array = Uint8Array.of(1)
export const SORT_KEY_LENGTH = 16 + 12 + 64

export function hex (n: bigint | number, width: number): string {
  return n.toString(16).padStart(width, '0')
}

export function sortKey (lamport: bigint, timestamp: bigint, idHex: string): string {
  return hex(lamport, 16) + hex(timestamp & 0xffffffffffffn, 12) + idHex
}

export function historyKey (groupId: string, sort: string): string {
  return `h!${groupId}!${sort}`
}

/** [gte, lt) bounds of one group's history */
export function historyRange (groupId: string): { gt: string, lt: string } {
  return { gt: `h!${groupId}!`, lt: `h!${groupId}!~` }
}

export function lateKey (groupId: string, sort: string): string {
  return `l!${groupId}!${sort}`
}

export function equivocatorKey (groupId: string, authorHex: string): string {
  return `x!${groupId}!${authorHex}`
}

export function equivocatorRange (groupId: string): { gt: string, lt: string } {
  return { gt: `x!${groupId}!`, lt: `x!${groupId}!~` }
}

export function idKey (idHex: string): string {
  return `i!${idHex}`
}

export function authorKey (groupId: string, authorHex: string, seq: bigint): string {
  return `a!${groupId}!${authorHex}!${hex(seq, 16)}`
}

/** <key hash> is the hex SHA-256 of the client's idempotency key (any length in, fixed length stored) */
export function idempotencyKey (groupId: string, keyHashHex: string): string {
  return `k!${groupId}!${keyHashHex}`
}

export function authorRange (groupId: string, authorHex?: string): { gt: string, lt: string } {
  const p = authorHex == null ? `a!${groupId}!` : `a!${groupId}!${authorHex}!`
  return { gt: p, lt: p + '~' }
}

/** Parse "a!<group>!<author>!<seq>" */
export function parseAuthorKey (key: string): { author: string, seq: bigint } | undefined {
  const parts = key.split('!')
  if (parts.length !== 4) return undefined
  return { author: parts[2], seq: BigInt('0x' + parts[3]) }
}

export function sortFromHistoryKey (key: string): string {
  return key.slice(key.lastIndexOf('!') + 1)
}

const CURSOR_RE = new RegExp(`^[0-9a-f]{${SORT_KEY_LENGTH}}$`)

export function isCursor (value: string): boolean {
  return CURSOR_RE.test(value)
}

export function lamportFromSort (sort: string): bigint {
  return BigInt('0x' + sort.slice(0, 16))
}

export function readMarkerKey (groupId: string): string {
  return `r!${groupId}`
}

/** A search posting: the start of a sort key (lamport, timestamp, 16 hex of the id), enough to find the record */
export const POSTING_LENGTH = 16 + 12 + 16

export function postingOf (sort: string): string {
  return sort.slice(0, POSTING_LENGTH)
}

/** <token> is hex (a keyed hash of a normalised word, src/chat/search.ts): never "!" or "~" */
export function searchKey (groupId: string, token: string, posting: string): string {
  return `s!${groupId}!${token}!${posting}`
}

export function searchRange (groupId: string, token: string): { gt: string, lt: string } {
  return { gt: `s!${groupId}!${token}!`, lt: `s!${groupId}!${token}!~` }
}

export function editKey (groupId: string, targetHex: string, sort: string): string {
  return `e!${groupId}!${targetHex}!${sort}`
}

export function editRange (groupId: string, targetHex: string): { gt: string, lt: string } {
  return { gt: `e!${groupId}!${targetHex}!`, lt: `e!${groupId}!${targetHex}!~` }
}

/** [gt, lt) of every edit link of a group */
export function editsRange (groupId: string): { gt: string, lt: string } {
  return { gt: `e!${groupId}!`, lt: `e!${groupId}!~` }
}

export function searchStateKey (groupId: string): string {
  return `q!${groupId}`
}
