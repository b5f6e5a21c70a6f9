/**
 * Causal links of envelope version 2 (docs/PROTOCOL.md, "Order and links"):
 * what a node remembers of recent messages to give its own messages their
 * `prev` and `parents`, and to check those of others. Bounded memory, no I/O.
 */
import { MAX_PARENTS } from '../envelope/index.js'
import type { MessageHeader } from '../envelope/index.js'

/** Recent message ids remembered with their Lamport values (for the parent check) */
export const MAX_REMEMBERED = 16_384

interface Head { id: Uint8Array, idHex: string, author: string, lamport: bigint }

export type LinkVerdict =
  | { ok: true, conflictWith?: undefined }
  /** the author's message seq - 1 we hold is not the one this message names: equivocation, `conflictWith` is the id we hold */
  | { ok: true, conflictWith: string }
  | { ok: false, reason: string }

export class CausalLinks {
  /** per group: the newest messages by Lamport value, at most a few per author, for parents */
  private readonly heads = new Map<string, Head[]>()
  /** id hex -> Lamport value of messages seen lately (insertion order: oldest first) */
  private readonly lamports = new Map<string, bigint>()
  /** "<group>/<author hex>" -> the id of its message at the highest seq seen, with that seq */
  private readonly tips = new Map<string, { seq: bigint, idHex: string, id: Uint8Array }>()

  /** A message is stored: remember it. */
  note (groupId: string, id: Uint8Array, header: Pick<MessageHeader, 'author' | 'seq' | 'lamport'>): void {
    const idHex = Buffer.from(id).toString('hex')
    const author = Buffer.from(header.author).toString('hex')
    this.remember(idHex, header.lamport)
    const tipKey = `${groupId}/${author}`
    const tip = this.tips.get(tipKey)
    if (tip == null || header.seq > tip.seq) {
      this.tips.delete(tipKey)
      this.tips.set(tipKey, { seq: header.seq, idHex, id })
      while (this.tips.size > MAX_REMEMBERED) this.tips.delete(this.tips.keys().next().value as string)
    }
    const heads = this.heads.get(groupId) ?? []
    if (heads.some(h => h.idHex === idHex)) return
    // one head per author: the newest (an author's later message has seen its earlier ones)
    const same = heads.findIndex(h => h.author === author)
    if (same >= 0) {
      if (heads[same].lamport >= header.lamport) return
      heads.splice(same, 1)
    }
    heads.push({ id, idHex, author, lamport: header.lamport })
    heads.sort((a, b) => (a.lamport > b.lamport ? -1 : a.lamport < b.lamport ? 1 : a.idHex < b.idHex ? -1 : 1))
    if (heads.length > MAX_PARENTS + 1) heads.length = MAX_PARENTS + 1
    this.heads.set(groupId, heads)
  }

  /** Parents for a new message by `self` (raw key): the newest messages of others, at most MAX_PARENTS. */
  parentsFor (groupId: string, self: Uint8Array): Uint8Array[] {
    const me = Buffer.from(self).toString('hex')
    return (this.heads.get(groupId) ?? []).filter(h => h.author !== me).slice(0, MAX_PARENTS).map(h => h.id)
  }

  /** The id of `author`'s message `seq` when it is the newest remembered, else undefined. */
  idAt (groupId: string, author: Uint8Array, seq: bigint): Uint8Array | undefined {
    const tip = this.tips.get(`${groupId}/${Buffer.from(author).toString('hex')}`)
    return tip?.seq === seq ? tip.id : undefined
  }

  /**
   * The links of a received v2 message against what this node remembers:
   * its Lamport value must be above every known parent's and its prev's
   * (a reason otherwise); a prev that is not the author's seq - 1 we hold
   * is an equivocation (accepted, with `conflictWith`). What is not
   * remembered is not checked.
   */
  check (groupId: string, header: MessageHeader, heldPrev?: Uint8Array): LinkVerdict {
    for (const p of header.parents) {
      const l = this.lamports.get(Buffer.from(p).toString('hex'))
      if (l != null && l >= header.lamport) return { ok: false, reason: 'lamport not after its parents' }
    }
    if (header.prev.byteLength === 0) return { ok: true }
    const prevHex = Buffer.from(header.prev).toString('hex')
    const l = this.lamports.get(prevHex)
    if (l != null && l >= header.lamport) return { ok: false, reason: 'lamport not after its prev' }
    const held = heldPrev ?? this.idAt(groupId, header.author, header.seq - 1n)
    if (held != null) {
      const heldHex = Buffer.from(held).toString('hex')
      if (heldHex !== prevHex) return { ok: true, conflictWith: heldHex }
    }
    return { ok: true }
  }

  forget (groupId: string): void {
    this.heads.delete(groupId)
    for (const k of [...this.tips.keys()]) if (k.startsWith(`${groupId}/`)) this.tips.delete(k)
  }

  private remember (idHex: string, lamport: bigint): void {
    if (this.lamports.has(idHex)) return
    this.lamports.set(idHex, lamport)
    while (this.lamports.size > MAX_REMEMBERED) this.lamports.delete(this.lamports.keys().next().value as string)
  }
}
