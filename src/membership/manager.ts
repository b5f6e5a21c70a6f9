/**
 * A node's membership side (issue 15, docs/PROTOCOL.md "Membership and
 * epochs"): per group, the fold of its log over the stored history, the
 * keyring of its epochs, the membership checks of ingest and read, and the
 * ops this node appends (create, key, remove, rotate, ...).
 */
import { createHash } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { deriveGroupKeys, peek, KIND_OP } from '../envelope/index.js'
import { createTopicValidator } from '../groups/index.js'
import { scoreTopic } from '../libp2p.js'
import { sortKey } from '../store/keys.js'
import { apply, compareEntries, emptyState, fold, memberAt, rotationDue, rotationRecipients } from './log.js'
import { decodeOp, encodeOp, OpError } from './op.js'
import { openSecret, randomSecret, sealSecret } from './box.js'
import type { GroupKeys, OpenedMessage } from '../envelope/index.js'
import type { Group, GroupRegistry, Verdict } from '../groups/index.js'
import type { HistoryStore } from '../store/index.js'
import type { ChatLibp2p } from '../libp2p.js'
import type { PeerRateLimiter } from '../rate-limit.js'
import type { LogEntry, MembershipState } from './log.js'
import type { Op } from './op.js'
import type { X25519KeyPair } from './box.js'

const log = logger('p2p-chat:membership')
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
/** ms an admin that did not cause a due rotation waits before making it (the one that did acts at once) */
const ROTATE_DELAY_MS = 2000

export interface MembershipHost {
  store: HistoryStore
  registry: GroupRegistry
  libp2p: ChatLibp2p
  limiter: PeerRateLimiter
  self: Uint8Array
  x25519: X25519KeyPair
  /** append an op as this node (ChatNode.post with kind 6) */
  post: (group: Group, op: Uint8Array) => Promise<unknown>
  /** ChatNode.ingest, for the extra epochs' wire topics */
  ingest: (group: Group, data: Uint8Array, from: string) => Promise<Verdict>
  /** a new epoch key arrived: catch up what was skipped */
  resync: (group: Group) => void
}

interface GroupLog {
  entries: LogEntry[]
  state: MembershipState
  /** authors with an entry (their first message or an op) */
  authors: Set<string>
  /** hex ids of the entries */
  ids: Set<string>
  /** wire topics subscribed beside epoch 0's */
  topics: Set<string>
  rotateTimer?: NodeJS.Timeout
  /** the key op of this node was appended (or found) */
  keyPublished: boolean
}

/** the context a box is bound to: topic id, epoch, rotate author, recipient */
export function boxContext (topicId: string, epoch: number, author: string, member: string): Buffer {
  return Buffer.from(`p2p-chat/membership/epoch/1\n${topicId}\n${epoch}\n${author}\n${member}`, 'utf8')
}

/** The keys of an epoch: derived as epoch 0's are, from its secret, with epoch 0's store group id (history stays one sequence) */
export function epochKeys (topicId: string, secret: Uint8Array, epoch: number, groupId: string): GroupKeys {
  return { ...deriveGroupKeys(topicId, secret, epoch), groupId }
}

export class Membership {
  private readonly host: MembershipHost
  private readonly logs = new Map<string, GroupLog>()
  private stopped = false

  constructor (host: MembershipHost) {
    this.host = host
  }

  get selfHex (): string { return hex(this.host.self) }

  stop (): void {
    this.stopped = true
    for (const l of this.logs.values()) clearTimeout(l.rotateTimer)
  }

  /** Fold the group's stored history (one scan) and subscribe to every epoch's topic held. */
  async load (group: Group): Promise<void> {
    const gid = group.keys.groupId
    if (this.logs.has(gid)) return
    const entries: LogEntry[] = []
    const authors = new Set<string>()
    for await (const r of this.host.store.iterate(gid)) {
      const p = peek(group.keys, r.bytes)
      if (!p.ok) continue
      const e = this.entryOf(p.message, r.cursor, authors)
      if (e != null) entries.push(e)
    }
    entries.sort(compareEntries)
    const l: GroupLog = { entries, state: fold(entries), authors, ids: new Set(entries.map(e => e.id)), topics: new Set(), keyPublished: false }
    this.logs.set(gid, l)
    this.takeKeys(group, l)
    this.subscribeEpochs(group, l)
  }

  /** The fold entry of a message: an op, or its author's first message; undefined for any other */
  private entryOf (m: OpenedMessage, cursor: string, authors: Set<string>): LogEntry | undefined {
    const author = hex(m.envelope.author)
    let op: Op | undefined
    if (m.envelope.kind === KIND_OP && m.body.op != null) {
      try { op = decodeOp(m.body.op) } catch { return undefined }
    } else if (authors.has(author)) return undefined
    authors.add(author)
    return { id: hex(m.id), author, lamport: m.envelope.lamport, timestamp: m.envelope.timestamp, epoch: m.envelope.epoch, cursor, ...(op != null ? { op } : {}) }
  }

  state (group: Group): MembershipState {
    return this.logs.get(group.keys.groupId)?.state ?? emptyState()
  }

  /**
   * Ingest's check, after open(): why this message is refused (never
   * stored), or undefined. A malformed op is a forgery ('reject'); a
   * removed member writing after its removal, or an admin op by someone
   * never an admin, is refused ('ignore': an honest peer may not know yet).
   */
  refuse (group: Group, m: OpenedMessage): { verdict: 'reject' | 'ignore', reason: string } | undefined {
    const l = this.logs.get(group.keys.groupId)
    if (l == null) return undefined
    const author = hex(m.envelope.author)
    if (m.envelope.kind === KIND_OP) {
      let op: Op
      try { op = decodeOp(m.body.op ?? new Uint8Array(0)) } catch (err) { return { verdict: 'reject', reason: err instanceof OpError ? err.message : 'bad op' } }
      if (op.type !== 'key' && op.type !== 'leave' && op.type !== 'create' && !(op.type === 'add' && op.invite != null) && l.state.logged && !l.state.everAdmins.has(author)) {
        return { verdict: 'ignore', reason: `${op.type} by a member that is no admin` }
      }
    }
    const removed = l.state.removed.get(author)
    if (removed != null && !l.state.members.has(author) && m.envelope.lamport > removed.lamport) return { verdict: 'ignore', reason: 'not a member (removed)' }
    return undefined
  }

  /** Is a stored message hidden from history: an op, or its author not a member at its place in history */
  hidden (group: Group, kind: number, authorHex: string, cursor: string): boolean {
    if (kind === KIND_OP) return true
    const l = this.logs.get(group.keys.groupId)
    // a group without a log (legacy, not adopted): every author's messages are shown, as before
    if (l == null || !l.state.logged) return false
    return !memberAt(l.state, authorHex, cursor)
  }

  /** A message was stored (own, gossip, sync, backup): fold it in and act on what changed. */
  stored (group: Group, m: OpenedMessage): void {
    const l = this.logs.get(group.keys.groupId)
    if (l == null || l.ids.has(hex(m.id))) return
    const cursor = sortKey(m.envelope.lamport, m.envelope.timestamp, hex(m.id))
    const e = this.entryOf(m, cursor, l.authors)
    if (e == null) return
    l.ids.add(e.id)
    const last = l.entries[l.entries.length - 1]
    l.entries.push(e)
    if (last == null || compareEntries(last, e) < 0) apply(l.state, e)
    else {
      l.entries.sort(compareEntries)
      l.state = fold(l.entries)
    }
    if (e.op == null) return
    // a group adopted a log: this node's key goes in it
    if (e.op.type === 'create') this.publishKey(group).catch((err: unknown) => { log('key of %s not published: %e', group.topicId, err) })
    if (e.op.type === 'rotate') {
      this.takeKeys(group, l)
      this.subscribeEpochs(group, l)
    }
    this.scheduleRotation(group, l, e)
  }

  /** Open this node's boxes of every rotation, keep their secrets, build the keyring, choose the sealing key. */
  private takeKeys (group: Group, l: GroupLog): void {
    const self = this.selfHex
    let learned = false
    for (const r of l.state.rotations) {
      if (this.host.registry.epochSecret(group.topicId, r.id) != null) continue
      const box = r.boxes.find(b => b.member === self)
      if (box == null) continue
      const secret = openSecret(this.host.x25519, box.ephemeral, box.sealed, boxContext(group.topicId, r.epoch, r.author, self))
      if (secret == null) { log('a box for us in %s does not open', group.topicId); continue }
      this.host.registry.putEpoch(group.topicId, { epoch: r.epoch, id: r.id, secret })
      learned = true
    }
    this.host.registry.chooseEpoch(group.topicId, l.state.epochId)
    if (learned) {
      this.host.registry.saveSoon()
      this.host.resync(group)
    }
  }

  /** Epoch secrets arrived from elsewhere (a member's join answer): seal with the log's epoch, subscribe, catch up */
  keysAdded (group: Group): void {
    const l = this.logs.get(group.keys.groupId)
    if (l == null) return
    this.host.registry.chooseEpoch(group.topicId, l.state.epochId)
    this.subscribeEpochs(group, l)
    this.host.registry.saveSoon()
    this.host.resync(group)
  }

  /** Subscribe to the wire topic of every epoch key held (messages of any of them may still come) */
  private subscribeEpochs (group: Group, l: GroupLog): void {
    const { libp2p, limiter, registry } = this.host
    const current = registry.get(group.topicId)
    for (const keys of current?.keys.ring?.values() ?? []) {
      for (const k of keys) {
        if (k.wireTopic === group.keys.wireTopic && k.epoch === 0) continue
        if (l.topics.has(k.wireTopic)) continue
        l.topics.add(k.wireTopic)
        const topicId = group.topicId
        libp2p.services.pubsub.topicValidators.set(k.wireTopic, createTopicValidator(async (data, from) => {
          const g = registry.get(topicId)
          return g == null ? 'ignore' : this.host.ingest(g, data, from.toString())
        }, { limiter }))
        scoreTopic(libp2p, k.wireTopic, true)
        libp2p.services.pubsub.subscribe(k.wireTopic)
      }
    }
  }

  unsubscribe (group: Group): void {
    const l = this.logs.get(group.keys.groupId)
    if (l == null) return
    clearTimeout(l.rotateTimer)
    const { pubsub } = this.host.libp2p.services
    for (const t of l.topics) {
      pubsub.unsubscribe(t)
      pubsub.topicValidators.delete(t)
    }
    this.logs.delete(group.keys.groupId)
  }

  /** The topic this node publishes to: the sealing epoch's */
  wireTopic (group: Group): string {
    return this.host.registry.sealingKeys(group).wireTopic
  }

  /** After an op: when a new epoch is due and this node is an admin, make it (at once if this node caused it) */
  private scheduleRotation (group: Group, l: GroupLog, e: LogEntry): void {
    if (this.stopped || !rotationDue(l.state) || l.state.members.get(this.selfHex)?.role !== 'admin') return
    if (l.rotateTimer != null) return
    const mine = e.author === this.selfHex
    l.rotateTimer = setTimeout(() => {
      l.rotateTimer = undefined
      const g = this.host.registry.get(group.topicId)
      if (this.stopped || g == null || !rotationDue(l.state) || l.state.members.get(this.selfHex)?.role !== 'admin') return
      this.rotate(g).catch((err: unknown) => { log.error('rotation in %s failed: %e', group.topicId, err) })
    }, mine ? 0 : ROTATE_DELAY_MS + Math.floor(Math.random() * 1000))
    l.rotateTimer.unref()
  }

  /** Append a rotate op: a fresh secret sealed to every member with a key. */
  async rotate (group: Group): Promise<void> {
    const l = this.require(group)
    const epoch = l.state.epoch + 1
    const secret = randomSecret()
    const self = this.selfHex
    const boxes = rotationRecipients(l.state).map(m => {
      const { ephemeral, sealed } = sealSecret(Buffer.from(m.x25519 ?? '', 'hex'), secret, boxContext(group.topicId, epoch, self, m.key))
      return { member: m.key, ephemeral, sealed }
    })
    await this.append(group, { type: 'rotate', epoch, boxes })
  }

  async append (group: Group, op: Op): Promise<void> {
    await this.host.post(group, encodeOp(op))
  }

  private require (group: Group): GroupLog {
    const l = this.logs.get(group.keys.groupId)
    if (l == null) throw new Error(`membership of ${group.topicId} not loaded`)
    return l
  }

  /** Publish this node's X25519 key in the group once (a key op), unless the log has it */
  async publishKey (group: Group): Promise<void> {
    const l = this.require(group)
    if (l.keyPublished) return
    const mine = hex(this.host.x25519.publicKey)
    l.keyPublished = true
    if (l.state.keys.get(this.selfHex) === mine) return
    await this.append(group, { type: 'key', x25519: mine })
  }

  /** hex of this node's X25519 public key */
  get x25519Hex (): string { return hex(this.host.x25519.publicKey) }

  /** SHA-256 of an invite token, hex */
  static tokenHash (token: Uint8Array): string {
    return createHash('sha256').update(token).digest('hex')
  }
}
