import { EventEmitter } from 'node:events'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { randomBytes } from 'node:crypto'
import { DEFAULT_TCP_PORT, HISTORY_DIR, PROFILE_FILE, ensureDataDir, readFileIfExists, writeFileAtomic } from './config.js'
import { ed25519Signer, open, seal, MAX_NAME_BYTES, MAX_TEXT_BYTES, SECRET_LENGTH } from './envelope/index.js'
import { EmptyMessageError, GroupExistsError, InvalidInputError, ListenError, MessageTooLargeError, NotStartedError } from './errors.js'
import { GroupRegistry, createTopicValidator, decodeInvite, encodeInvite, parseSecret, validateTopicId } from './groups/index.js'
import { loadOrCreateIdentity } from './identity.js'
import { createChatLibp2p, scoreTopic } from './libp2p.js'
import { PeerRateLimiter } from './rate-limit.js'
import { CALL_EVENTS, CallService, callKey } from './calls/index.js'
import type { AnswerOptions, Call, CallEnd, CallInfo, CallOptions, CallServiceEvents, CallServiceInit } from './calls/index.js'
import { createStoreBackupHost } from './backup/index.js'
import { HistoryStore } from './store/index.js'
import { SyncService } from './sync/index.js'
import type { OpenedMessage } from './envelope/index.js'
import type { Group, Verdict } from './groups/index.js'
import type { ChatLibp2p, Libp2pOptions } from './libp2p.js'
import type { HistoryQuery, StorableMessage } from './store/index.js'
import type { SyncInit, SyncOptions, SyncSummary } from './sync/index.js'
import { KEEP_ALIVE } from '@libp2p/interface'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'
import type { SubscriptionChangeData } from '@libp2p/gossipsub'
import type { BackupHost } from './backup/index.js'

const log = logger('p2p-chat:node')

export interface ChatNodeInit {
  dataDir: string
  /** listen multiaddrs; default TCP on all interfaces, port 4747 or the next free one */
  listen?: string[]
  bootstrap?: string[]
  mdns?: boolean
  /** display name; persisted; default derived from the peer id */
  name?: string
  transports?: Libp2pOptions['transports']
  gossipsub?: Libp2pOptions['gossipsub']
  inboundConnectionThreshold?: number
  /** timeout for dialing an invite's addresses, ms */
  dialTimeout?: number
  /** calls (src/calls): how many at once, timeouts, buffers */
  calls?: CallServiceInit
  /** history sync: interval, timeouts, limits (src/sync) */
  sync?: SyncInit
  /** gossip messages one peer may make this node validate per second, in the long run; the excess is ignored (sync fills the gap). Default 2,000 */
  validationRate?: number
  /** ... and at once: a member's honest burst passes whole. Default 20,000 */
  validationBurst?: number
}

/** A message as the API, the CLI and tests see it */
export interface ChatMessage {
  /** hex SHA-256 of the sealed envelope */
  id: string
  topicId: string
  /** peer id of the author */
  author: string
  name: string
  text: string
  /** author's clock, ms since 1970 */
  timestamp: number
  lamport: number
  seq: number
  /** position in history: pass as `before` to read older messages */
  cursor?: string
  /** written by this node */
  own: boolean
}

export interface GroupInfo {
  topicId: string
  name?: string
  joinedAt: number
  /** peers currently subscribed to the group's topic */
  peers: number
}

export interface PeerInfo {
  peerId: string
  addrs: string[]
}

export interface HistoryResult {
  messages: ChatMessage[]
  next?: string
}

export interface ChatNodeEvents extends CallServiceEvents {
  message: [ChatMessage]
  'peer:connect': [PeerInfo]
  'peer:disconnect': [PeerInfo]
  'group:joined': [GroupInfo]
  'group:left': [{ topicId: string }]
  /** a message failed verification (kind of failure and the sending peer) */
  rejected: [{ topicId: string, from: string, reason: string }]
}

export const DEFAULT_DIAL_TIMEOUT = 10_000
export const DEFAULT_VALIDATION_RATE = 2000
export const DEFAULT_VALIDATION_BURST = 20_000
/** peer store tag of group members: libp2p keeps their connections and redials them after an outage */
const MEMBER_TAG = `${KEEP_ALIVE}-p2p-chat-member`
/** messages per group searched for a member's name */
const RESOLVE_NAME_WINDOW = 500
/** own messages of one group numbered and written together at most */
const MAX_SEND_BATCH = 256

/** Pick the default port if it is free, else let the OS choose. */
async function defaultListen (): Promise<string[]> {
  const free = await new Promise<boolean>(resolve => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(DEFAULT_TCP_PORT, '0.0.0.0', () => server.close(() => resolve(true)))
  })
  return [`/ip4/0.0.0.0/tcp/${free ? DEFAULT_TCP_PORT : 0}`]
}

/**
 * The chat node: assembles libp2p, the group registry, the history store and
 * the topic validators. The only place they meet.
 */
export class ChatNode extends EventEmitter<ChatNodeEvents> {
  readonly dataDir: string
  private readonly init: ChatNodeInit
  private libp2p?: ChatLibp2p
  private store?: HistoryStore
  private registry?: GroupRegistry
  private privateKey?: Ed25519PrivateKey
  private signer?: ReturnType<typeof ed25519Signer>
  private displayName = ''
  private readonly clocks = new Map<string, bigint>()
  private readonly seqs = new Map<string, bigint>()
  /** per group id: own messages waiting to be numbered and written (see drainOutbox) */
  private readonly outbox = new Map<string, Array<{ text: string, resolve: (msg: OpenedMessage) => void, reject: (err: unknown) => void }>>()
  /** per group id: the outbox drain under way */
  private readonly drains = new Map<string, Promise<void>>()
  private starting?: Promise<void>
  private stopping?: Promise<void>
  private callService?: CallService
  private syncService?: SyncService<Group>
  private readonly onPeerConnect = (evt: CustomEvent<PeerId>): void => { this.emit('peer:connect', this.peerInfo(evt.detail)) }
  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>): void => { this.emit('peer:disconnect', this.peerInfo(evt.detail)) }
  /** validations each remote peer may cause, shared by every group */
  private validations?: PeerRateLimiter
  /** a peer subscribed to one of our groups is a member: keep it connected, redial it after an outage */
  private readonly onSubscriptionChange = (evt: CustomEvent<SubscriptionChangeData>): void => {
    const node = this.libp2p
    const { peerId, subscriptions } = evt.detail
    if (node == null || !subscriptions.some(s => s.subscribe && this.registry?.byTopic(s.topic) != null)) return
    node.peerStore.merge(peerId, { tags: { [MEMBER_TAG]: { value: 50 } } }).catch(err => { log('cannot tag %p: %e', peerId, err) })
  }
  /** a peer found on the LAN (mDNS): connect, so that gossip and sync can find out whether it is a member */
  private readonly onDiscovery = (evt: CustomEvent<{ id: PeerId }>): void => {
    const node = this.libp2p
    if (node == null || this.init.mdns === false || node.getConnections(evt.detail.id).length > 0) return
    node.dial(evt.detail.id, { signal: AbortSignal.timeout(this.init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT) }).catch(err => { log('cannot reach discovered peer %p: %e', evt.detail.id, err) })
  }

  constructor (init: ChatNodeInit) {
    super()
    this.init = init
    this.dataDir = init.dataDir
  }

  get started (): boolean { return this.libp2p != null && this.stopping == null }

  get peerId (): string { return this.node().peerId.toString() }

  get name (): string { return this.displayName }

  get addresses (): string[] { return this.node().getMultiaddrs().map(ma => ma.toString()) }

  /** Start: identity, history, groups, libp2p, subscriptions. Idempotent. */
  async start (): Promise<void> {
    if (this.libp2p != null) return
    this.starting ??= this.doStart().finally(() => { this.starting = undefined })
    await this.starting
  }

  private async doStart (): Promise<void> {
    await ensureDataDir(this.dataDir)
    this.privateKey = await loadOrCreateIdentity(this.dataDir)
    this.signer = ed25519Signer(this.privateKey.raw)
    await this.loadProfile()
    const registry = new GroupRegistry(this.dataDir)
    await registry.load()
    const store = new HistoryStore(join(this.dataDir, HISTORY_DIR))
    await store.open()
    try {
      const listen = this.init.listen ?? await defaultListen()
      const node = await createChatLibp2p({
        privateKey: this.privateKey,
        listen,
        bootstrap: this.init.bootstrap,
        mdns: this.init.mdns,
        transports: this.init.transports,
        gossipsub: this.init.gossipsub,
        inboundConnectionThreshold: this.init.inboundConnectionThreshold
      }).catch((err: any) => { throw listenError(err, listen) })
      this.store = store
      this.registry = registry
      this.libp2p = node
      node.addEventListener('peer:connect', this.onPeerConnect)
      node.addEventListener('peer:disconnect', this.onPeerDisconnect)
      node.addEventListener('peer:discovery', this.onDiscovery)
      node.services.pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
      this.validations = new PeerRateLimiter({ rate: this.init.validationRate ?? DEFAULT_VALIDATION_RATE, burst: this.init.validationBurst ?? DEFAULT_VALIDATION_BURST })
      this.callService = new CallService(node, { ...this.init.calls, callKeys: peer => this.callKeys(peer) })
      for (const name of CALL_EVENTS) this.callService.on(name, (arg: any) => { this.emit(name, arg) })
      await this.callService.start()
      for (const group of registry.list()) await this.subscribe(group)
      this.syncService = new SyncService<Group>({ libp2p: node, store, groups: () => registry.list(), ingest: async (g, bytes, from) => this.ingest(g, bytes, from) }, this.init.sync)
      await this.syncService.start()
      log('started %p with %d groups', node.peerId, registry.list().length)
    } catch (err) {
      // undo what started, in reverse order, so a failed start leaves no port open nor database locked
      const undo = async (what: string, fn?: () => Promise<unknown>): Promise<void> => {
        try { await fn?.() } catch (e: any) { log.error('failed start: cannot stop %s: %s', what, e.message) }
      }
      await undo('sync', this.syncService != null ? async () => this.syncService?.stop() : undefined)
      await undo('calls', this.callService != null ? async () => this.callService?.stop() : undefined)
      await undo('libp2p', this.libp2p != null ? async () => this.libp2p?.stop() : undefined)
      await undo('history', async () => store.close())
      this.syncService = undefined
      this.callService = undefined
      this.libp2p = undefined
      this.store = undefined
      throw err
    }
  }

  /** Stop: unsubscribe, stop libp2p, then close LevelDB last. Idempotent. */
  async stop (): Promise<void> {
    if (this.starting != null) await this.starting.catch(() => {})
    if (this.libp2p == null) return
    this.stopping ??= this.doStop().finally(() => { this.stopping = undefined })
    await this.stopping
  }

  private async doStop (): Promise<void> {
    const node = this.libp2p
    if (node == null) return
    node.removeEventListener('peer:connect', this.onPeerConnect)
    node.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    node.removeEventListener('peer:discovery', this.onDiscovery)
    node.services.pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    // hang up calls (peers are told 'shutdown') while libp2p still runs
    await this.callService?.stop()
    this.callService = undefined
    for (const group of this.registry?.list() ?? []) {
      node.services.pubsub.topicValidators.delete(group.keys.wireTopic)
    }
    await this.syncService?.stop()
    this.syncService = undefined
    await node.stop()
    // wait for sends under way so that nothing acknowledged is lost
    while (this.drains.size > 0) await Promise.all(this.drains.values())
    await this.store?.close()
    this.libp2p = undefined
    this.store = undefined
    log('stopped')
  }

  private node (): ChatLibp2p {
    if (this.libp2p == null || this.stopping != null) throw new NotStartedError()
    return this.libp2p
  }

  private parts (): { node: ChatLibp2p, store: HistoryStore, registry: GroupRegistry } {
    const node = this.node()
    return { node, store: this.store as HistoryStore, registry: this.registry as GroupRegistry }
  }

  // ---- profile -----------------------------------------------------------

  private async loadProfile (): Promise<void> {
    const path = join(this.dataDir, PROFILE_FILE)
    let saved: string | undefined
    const raw = await readFileIfExists(path)
    if (raw != null) {
      try { saved = JSON.parse(raw.toString('utf8')).name } catch { saved = undefined }
    }
    const peerIdText = peerIdFromPublicKey(this.privateKey!.publicKey).toString()
    const wanted = this.init.name ?? saved ?? `peer-${peerIdText.slice(-6)}`
    this.displayName = checkName(wanted)
    if (this.displayName !== saved) await writeFileAtomic(path, JSON.stringify({ name: this.displayName }) + '\n', 0o600)
  }

  /** Change the display name carried by this node's next messages. */
  async setName (name: string): Promise<string> {
    this.displayName = checkName(name)
    await writeFileAtomic(join(this.dataDir, PROFILE_FILE), JSON.stringify({ name: this.displayName }) + '\n', 0o600)
    return this.displayName
  }

  // ---- groups --------------------------------------------------------------

  private async subscribe (group: Group): Promise<void> {
    const { node, store } = this.parts()
    const gid = group.keys.groupId
    if (!this.clocks.has(gid)) this.clocks.set(gid, await store.lastLamport(gid))
    if (!this.seqs.has(gid)) this.seqs.set(gid, await store.lastSeq(gid, this.signer!.publicKey))
    // in the background: sync needs it, and with it appends skip the duplicate read for new messages
    store.seqIndex(gid).catch((err: any) => { log('seq index of %s not built: %s', group.topicId, err.message) })
    const topicId = group.topicId
    node.services.pubsub.topicValidators.set(group.keys.wireTopic, createTopicValidator(async (data, from) => {
      const current = this.registry?.get(topicId)
      if (current == null) return 'ignore'
      return this.ingest(current, data, from.toString())
    }, { limiter: this.validations }))
    scoreTopic(node, group.keys.wireTopic, true)
    node.services.pubsub.subscribe(group.keys.wireTopic)
  }

  /** Create a group with a fresh random secret. */
  async createGroup (topicId: string, opts: { name?: string } = {}): Promise<GroupInfo & { invite: string }> {
    validateTopicId(topicId)
    const { registry } = this.parts()
    if (registry.get(topicId) != null) throw new GroupExistsError(topicId)
    const group = await this.addGroup(topicId, new Uint8Array(randomBytes(SECRET_LENGTH)), opts.name)
    return { ...this.groupInfo(group), invite: this.invite(topicId) }
  }

  /** Join by invite code, or by topic id and secret. Dials the invite's addresses. */
  async joinGroup (opts: { invite: string } | { topicId: string, secret: string | Uint8Array, name?: string }): Promise<GroupInfo & { dialed: number }> {
    this.parts()
    let topicId: string, secret: Uint8Array, name: string | undefined, addrs: string[] = []
    if ('invite' in opts) {
      const invite = decodeInvite(opts.invite)
      ;({ topicId, secret, name, addrs } = invite)
    } else {
      topicId = validateTopicId(opts.topicId)
      secret = typeof opts.secret === 'string' ? parseSecret(opts.secret) : opts.secret
      if (secret.byteLength !== SECRET_LENGTH) throw new InvalidInputError(`a group secret is ${SECRET_LENGTH} bytes`)
      name = opts.name
    }
    const group = await this.addGroup(topicId, secret, name)
    const dialed = await this.dialAll(addrs)
    return { ...this.groupInfo(group), dialed }
  }

  private async addGroup (topicId: string, secret: Uint8Array, name?: string): Promise<Group> {
    const { registry } = this.parts()
    const [group, added] = await registry.add(topicId, secret, name)
    if (added) {
      await this.subscribe(group)
      this.syncService?.groupJoined(group)
      this.emit('group:joined', this.groupInfo(group))
    }
    return group
  }

  /** Leave a group: unsubscribe and forget its secret. Its history stays on disk. */
  async leaveGroup (topicId: string): Promise<void> {
    const { node, registry } = this.parts()
    const group = await registry.remove(topicId)
    node.services.pubsub.unsubscribe(group.keys.wireTopic)
    node.services.pubsub.topicValidators.delete(group.keys.wireTopic)
    scoreTopic(node, group.keys.wireTopic, false)
    this.emit('group:left', { topicId })
  }

  groups (): GroupInfo[] {
    const { registry } = this.parts()
    return registry.list().map(g => this.groupInfo(g))
  }

  group (topicId: string): GroupInfo {
    return this.groupInfo(this.parts().registry.require(topicId))
  }

  private groupInfo (group: Group): GroupInfo {
    const peers = this.libp2p?.services.pubsub.getSubscribers(group.keys.wireTopic).length ?? 0
    return { topicId: group.topicId, name: group.name, joinedAt: group.joinedAt, peers }
  }

  /** An invite code for a group: topic id, secret and this node's addresses. */
  invite (topicId: string): string {
    const { node, registry } = this.parts()
    const group = registry.require(topicId)
    const addrs = node.getMultiaddrs().map(ma => ma.toString())
    return encodeInvite({ topicId, secret: group.secret, addrs, name: group.name })
  }

  /** The group's secret as hex, for `join <topic-id> --secret`. */
  secret (topicId: string): string {
    return Buffer.from(this.parts().registry.require(topicId).secret).toString('hex')
  }

  /** Peers subscribed to a group's topic. */
  groupPeers (topicId: string): string[] {
    const { node, registry } = this.parts()
    return node.services.pubsub.getSubscribers(registry.require(topicId).keys.wireTopic).map(p => p.toString())
  }

  // ---- messages ------------------------------------------------------------

  /** Seal, store and publish a message. Resolves once it is in history. */
  async send (topicId: string, text: string): Promise<ChatMessage> {
    const { node, registry } = this.parts()
    const group = registry.require(topicId)
    if (typeof text !== 'string' || text.trim() === '') throw new EmptyMessageError()
    const size = Buffer.byteLength(text)
    if (size > MAX_TEXT_BYTES) throw new MessageTooLargeError(size, MAX_TEXT_BYTES)
    const sealed = await new Promise<OpenedMessage>((resolve, reject) => {
      const gid = group.keys.groupId
      const queue = this.outbox.get(gid) ?? []
      queue.push({ text, resolve, reject })
      this.outbox.set(gid, queue)
      if (!this.drains.has(gid)) this.drains.set(gid, this.drainOutbox(group))
    })
    try {
      await node.services.pubsub.publish(group.keys.wireTopic, sealed.bytes)
    } catch (err) {
      // stored: sync delivers it later
      log.error('publish to %s failed: %e', topicId, err)
    }
    const message = this.toChatMessage(group, sealed, true)
    this.emit('message', message)
    return message
  }

  /**
   * Group commit of this node's own messages, per group: the sends waiting
   * are numbered, sealed and written as one batch (one drain per group, one
   * batch at a time, so numbers are handed out in order).
   * Sequence numbers and the clock advance only once the batch is on disk,
   * so a failed write leaves no gap in this author's sequence; each send
   * resolves (or fails) with its batch.
   */
  private async drainOutbox (group: Group): Promise<void> {
    const gid = group.keys.groupId
    // let the sends of this turn of the event loop join the first batch
    await Promise.resolve()
    try {
      while (true) {
        const queue = this.outbox.get(gid) ?? []
        if (queue.length === 0) break
        const batch = queue.splice(0, MAX_SEND_BATCH)
        try {
          const store = this.parts().store
          let seq = this.seqs.get(gid) ?? 0n
          let lamport = this.clocks.get(gid) ?? 0n
          const now = Date.now()
          const sealed = batch.map(b => seal(group.keys, this.signer!, { seq: ++seq, lamport: ++lamport, timestamp: now, text: b.text, name: this.displayName }))
          await store.appendMany(gid, sealed.map(toStorable))
          // ingest may have raised either meanwhile (a message of ours from sync or a backup)
          if (seq > (this.seqs.get(gid) ?? 0n)) this.seqs.set(gid, seq)
          if (lamport > (this.clocks.get(gid) ?? 0n)) this.clocks.set(gid, lamport)
          batch.forEach((b, i) => { b.resolve(sealed[i]) })
        } catch (err) {
          for (const b of batch) b.reject(err)
        }
      }
    } finally {
      this.drains.delete(gid)
      if (this.outbox.get(gid)?.length === 0) this.outbox.delete(gid)
    }
  }

  /**
   * Verify, store and announce one sealed envelope from the network (gossip,
   * sync or import). Duplicates are ignored, forgeries rejected. Never throws
   * for bad input.
   */
  async ingest (group: Group, data: Uint8Array, from: string): Promise<Verdict> {
    const opened = open(group.keys, data)
    if (!opened.ok) {
      log('rejected a message in %s from %s: %s', group.topicId, from, opened.reason)
      this.emit('rejected', { topicId: group.topicId, from, reason: opened.reason })
      return 'reject'
    }
    const store = this.store
    if (store == null) return 'ignore'
    const msg = opened.message
    const gid = group.keys.groupId
    if (!await store.append(gid, toStorable(msg))) return 'ignore'
    const clock = this.clocks.get(gid) ?? 0n
    if (msg.envelope.lamport > clock) this.clocks.set(gid, msg.envelope.lamport)
    if (Buffer.from(msg.envelope.author).equals(this.signer!.publicKey)) {
      // our own message coming back (e.g. from a backup or another device's sync)
      const seq = this.seqs.get(gid) ?? 0n
      if (msg.envelope.seq > seq) this.seqs.set(gid, msg.envelope.seq)
    }
    this.emit('message', this.toChatMessage(group, msg, false))
    return 'accept'
  }

  /**
   * Reconcile a group's history with every connected member now (both
   * directions). `onProgress` reports each peer's session as it goes.
   */
  async sync (topicId: string, options: SyncOptions = {}): Promise<SyncSummary> {
    const group = this.parts().registry.require(topicId)
    return this.syncService!.syncGroup(group, options)
  }

  /** History of a group, newest first, `limit` per page, older pages by `before` cursor. */
  async history (topicId: string, query: HistoryQuery = {}): Promise<HistoryResult> {
    const { store, registry } = this.parts()
    const group = registry.require(topicId)
    const page = await store.history(group.keys.groupId, query)
    const messages: ChatMessage[] = []
    for (const record of page.records) {
      const opened = open(group.keys, record.bytes)
      if (!opened.ok) {
        log.error('stored record %s in %s fails verification: %s', record.cursor, topicId, opened.reason)
        continue
      }
      messages.push({ ...this.toChatMessage(group, opened.message, false), cursor: record.cursor })
    }
    return page.next != null ? { messages, next: page.next } : { messages }
  }

  private toChatMessage (group: Group, msg: OpenedMessage, own: boolean): ChatMessage {
    const author = authorPeerId(msg.envelope.author)
    return {
      id: Buffer.from(msg.id).toString('hex'),
      topicId: group.topicId,
      author,
      name: msg.body.name,
      text: msg.body.text,
      timestamp: Number(msg.envelope.timestamp),
      lamport: Number(msg.envelope.lamport),
      seq: Number(msg.envelope.seq),
      own: own || Buffer.from(msg.envelope.author).equals(this.signer!.publicKey)
    }
  }

  // ---- backup (src/backup) ----------------------------------------------------

  /**
   * This running node as a backup host: export reads its history; import
   * joins restored groups (subscribing to them) and stores, in batches,
   * records that passed backup's verifyRecord (envelope `open()`, as gossip),
   * then advances the group's Lamport clock and this author's sequence as
   * `ingest` does. Imported records are not announced as `message` events.
   */
  backupHost (): BackupHost {
    const { store, registry } = this.parts()
    return createStoreBackupHost({
      peerId: this.peerId,
      store,
      registry,
      join: async (topicId, secret, name) => this.addGroup(topicId, secret, name),
      onStored: (group, records) => {
        const gid = group.keys.groupId
        let clock = this.clocks.get(gid) ?? 0n
        let seq = this.seqs.get(gid) ?? 0n
        for (const r of records) {
          if (r.lamport > clock) clock = r.lamport
          if (r.seq > seq && Buffer.from(r.author).equals(this.signer!.publicKey)) seq = r.seq
        }
        this.clocks.set(gid, clock)
        this.seqs.set(gid, seq)
      }
    })
  }

  // ---- calls (src/calls) ------------------------------------------------------

  /** Does this peer share a group with us (is it subscribed to one of our groups' topics)? */
  isGroupPeer (peer: PeerId | string): boolean {
    const id = peer.toString()
    return (this.registry?.list() ?? []).some(g => this.subscribed(g, id))
  }

  /** Is the peer (`id` as text) subscribed to the group's wire topic, as gossipsub last heard? */
  private subscribed (group: Group, id: string): boolean {
    return this.libp2p?.services.pubsub.getSubscribers(group.keys.wireTopic).some(p => p.toString() === id) ?? false
  }

  /** The call keys of our groups, those `peer` is subscribed to first (the offer proves the first four). */
  private callKeys (peer: PeerId): Uint8Array[] {
    const id = peer.toString()
    const shared: Group[] = []
    const others: Group[] = []
    for (const g of this.registry?.list() ?? []) (this.subscribed(g, id) ? shared : others).push(g)
    return [...shared, ...others].map(g => callKey(g.keys.macKey))
  }

  private calling (): CallService {
    this.node()
    return this.callService as CallService
  }

  /** Ring a group member; resolves once answered, else CallRejectedError / CallFailedError / MediaToolMissingError. */
  async call (peerId: string, opts: CallOptions = {}): Promise<Call> { return this.calling().call(peerId, opts) }

  /** The oldest unanswered incoming call, or the next to ring (TimeoutError after `timeout` ms). */
  async nextIncomingCall (opts: { signal?: AbortSignal, timeout?: number } = {}): Promise<Call> { return this.calling().nextIncoming(opts) }

  /** Accept a ringing call (by id, else the oldest, else wait for the next); resolves once connected. */
  async answer (opts: AnswerOptions & { callId?: string, signal?: AbortSignal, timeout?: number } = {}): Promise<Call> { return this.calling().answer(opts) }

  /** Refuse a ringing call (by id, else the oldest): the caller sees 'rejected' and the reason. */
  async reject (callId?: string, reason?: string): Promise<CallEnd> { return this.calling().reject(callId, reason) }

  /** Hang up a call by id, or every call. */
  async hangup (callId?: string): Promise<CallEnd[]> { return this.calling().hangup(callId) }

  /**
   * A peer id from a peer id or a member's display name (as seen in the
   * recent history of your groups). Ambiguous or unknown names are errors.
   */
  async resolvePeer (target: string): Promise<string> {
    const t = target.trim()
    try { return peerIdFromString(t).toString() } catch {}
    const found = new Set<string>()
    for (const group of this.parts().registry.list()) {
      for (const m of (await this.history(group.topicId, { limit: RESOLVE_NAME_WINDOW })).messages) {
        if (!m.own && m.name === t) found.add(m.author)
      }
    }
    if (found.size === 1) return [...found][0]
    if (found.size === 0) throw new InvalidInputError(`"${t}" is neither a peer id nor the name of a member seen in your groups' recent messages`)
    throw new InvalidInputError(`several members are called "${t}": use a peer id (${[...found].join(', ')})`)
  }

  /** Calls ringing or connected. */
  calls (): CallInfo[] { return this.calling().list() }

  getCall (callId: string): Call | undefined { return this.calling().get(callId) }

  // ---- peers ---------------------------------------------------------------

  peers (): PeerInfo[] {
    const node = this.node()
    return node.getPeers().map(p => this.peerInfo(p))
  }

  private peerInfo (peer: PeerId): PeerInfo {
    const addrs = this.libp2p?.getConnections(peer).map(c => c.remoteAddr.toString()) ?? []
    return { peerId: peer.toString(), addrs }
  }

  /** Dial a multiaddr (with /p2p/<peer-id>) or a peer id. */
  async dial (address: string, signal?: AbortSignal): Promise<PeerInfo> {
    const node = this.node()
    let target
    try {
      target = address.startsWith('/') ? multiaddr(address) : peerIdFromString(address)
    } catch {
      throw new InvalidInputError(`not a multiaddr or peer id: ${address}`)
    }
    const conn = await node.dial(target, { signal: signal ?? AbortSignal.timeout(this.init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT) })
    return this.peerInfo(conn.remotePeer)
  }

  private async dialAll (addrs: string[]): Promise<number> {
    const results = await Promise.allSettled(addrs.filter(a => !a.includes(this.peerId)).map(async a => this.dial(a)))
    results.forEach(r => { if (r.status === 'rejected') log('invite address not reachable: %e', r.reason) })
    return results.filter(r => r.status === 'fulfilled').length
  }

  /** libp2p for tests, benchmarks and protocols layered on top */
  get libp2pNode (): ChatLibp2p { return this.node() }
}

function checkName (name: string): string {
  const n = name.trim()
  if (n === '') throw new InvalidInputError('name is empty')
  if (Buffer.byteLength(n) > MAX_NAME_BYTES) throw new InvalidInputError(`name is longer than ${MAX_NAME_BYTES} bytes`)
  return n
}

function toStorable (msg: OpenedMessage): StorableMessage {
  const e = msg.envelope
  return { id: msg.id, bytes: msg.bytes, author: e.author, seq: e.seq, lamport: e.lamport, timestamp: e.timestamp }
}

const peerIdCache = new Map<string, string>()

function authorPeerId (raw: Uint8Array): string {
  const k = Buffer.from(raw).toString('hex')
  let id = peerIdCache.get(k)
  if (id == null) {
    id = peerIdFromPublicKey(publicKeyFromRaw(raw)).toString()
    if (peerIdCache.size > 4096) peerIdCache.clear()
    peerIdCache.set(k, id)
  }
  return id
}

/** libp2p's "failed to listen" as one clear line naming the address and the cause */
function listenError (err: any, listen: string[]): Error {
  if (err?.name !== 'UnsupportedListenAddressesError' && err?.name !== 'NoValidAddressesError') return err
  const text = String(err.message ?? '')
  const failed = listen.filter(addr => text.includes(addr))
  const cause = /EADDRINUSE/.test(text) ? 'address already in use' : /EADDRNOTAVAIL/.test(text) ? 'address not available on this machine' : /EACCES/.test(text) ? 'permission denied' : 'not supported'
  return new ListenError(`cannot listen on ${failed.length > 0 ? failed.join(', ') : listen.join(', ')}: ${cause} (choose others with --listen, e.g. /ip4/0.0.0.0/tcp/0)`, { cause: err })
}
