/**
 * LevelDB key layout (pure). Every key is an ASCII string; numbers are
 * fixed-width lowercase hex so that byte order is numeric order.
 *
 *   h!<group>!<sort>            -> sealed envelope bytes (history, ordered)
 *   i!<message id>              -> "<group>!<sort>" (dedupe, lookup by id)
 *   a!<group>!<author>!<seq>    -> message id bytes (per-author sequences)
 *   k!<group>!<key hash>        -> message id bytes (idempotency keys of own sends)
 *
 * <group> is GroupKeys.groupId (32 hex), <sort> is lamport (16 hex),
 * timestamp (12 hex) and message id (64 hex): history order is Lamport
 * order, ties broken by time then id, identical on every node.
 */
export const GROUP_ID_LENGTH = 32
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
