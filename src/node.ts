import { EventEmitter } from 'node:events'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { rm } from 'node:fs/promises'
import { LevelDatastore } from 'datastore-level'
import { DEFAULT_TCP_PORT, HISTORY_DIR, IDENTITY_FILE, PEERS_DIR, PROFILE_FILE, RESTORED_MEMBERS_FILE, ensureDataDir, readFileIfExists, writeFileAtomic } from './config.js'
import { ed25519Signer, open, seal, MAX_NAME_BYTES, MAX_TEXT_BYTES, SECRET_LENGTH } from './envelope/index.js'
import { DialFailedError, EmptyMessageError, GroupExistsError, InvalidInputError, ListenError, MessageTooLargeError, NotStartedError } from './errors.js'
import { GroupRegistry, decodeInvite, encodeInvite, parseSecret, validateTopicId } from './groups/index.js'
import { loadOrCreateIdentity } from './identity.js'
import { createChatLibp2p } from './libp2p.js'
import { PeerRateLimiter } from './rate-limit.js'
import { CALL_EVENTS } from './calls/index.js'
import { createStoreBackupHost } from './backup/index.js'
import { HistoryStore } from './store/index.js'
import { GroupClocks, GroupSubscriptions, Outbox, authorPeerId, toChatMessage, toStorable } from './chat/index.js'
import type { CallService, CallServiceEvents, CallServiceInit } from './calls/index.js'
import type { ChatMessage } from './chat/index.js'
import type { OpenedMessage, Signer } from './envelope/index.js'
import type { Group, Verdict } from './groups/index.js'
import type { ChatLibp2p, Libp2pOptions } from './libp2p.js'
import type { HistoryQuery } from './store/index.js'
import type { SessionReport, SyncInit, SyncOptions, SyncSummary } from './sync/index.js'
import { connectionKind, MEMBER_TAG } from './connectivity/index.js'
import { MAX_BACKUP_MEMBERS, MAX_BACKUP_MEMBER_ADDRS } from './backup/index.js'
import type { ConnectionKind, ReachabilityReport, RedialInit, RendezvousInit, RendezvousRound } from './connectivity/index.js'
import type { PeerId } from '@libp2p/interface'
import type { BackupHost } from './backup/index.js'

const log = logger('p2p-chat:node')

export type { ChatMessage } from './chat/index.js'

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
  calls?: Omit<CallServiceInit, 'callKeys'>
  /** history sync: interval, timeouts, limits (src/sync) */
  sync?: SyncInit
  /** gossip messages one peer may make this node validate per second, in the long run; the excess is ignored (sync fills the gap). Default 2,000 */
  validationRate?: number
  /** ... and at once: a member's honest burst passes whole. Default 20,000 */
  validationBurst?: number
  /** redialling members and bootstrap peers: backoff, concurrency (src/connectivity) */
  redial?: RedialInit
  /** the DHT rendezvous of members without addresses: timing (src/connectivity) */
  rendezvous?: Omit<RendezvousInit, 'groups'>
  /** on the public internet: the DHT keeps public addresses only, UPnP maps a port. Default false */
  publicNetwork?: boolean
  /** serve as a circuit relay for others (`start --relay`), optionally for these peer ids only */
  relay?: { allow?: string[] }
  /** be reachable through relays (listen on /p2p-circuit). Default true */
  relayClient?: boolean
  /** own messages per group waiting to be written at most; past it send() fails with OverloadedError (API: 429). Default 4096 */
  maxQueuedSends?: number
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

/** A member as status shows it */
export interface MemberConnection {
  peerId: string
  /** the groups it was seen subscribed to */
  groups: string[]
  connection: ConnectionKind
  /** failed redials since it was last reached */
  failures: number
}

/** A member of a group as `members` shows it: everyone seen writing in it lately, and everyone on its topic now */
export interface GroupMember {
  peerId: string
  /** the display name of its latest message ("" when it has written nothing lately) */
  name: string
  /** subscribed to the group's topic now */
  online: boolean
  connection: ConnectionKind
  /** ms since 1970 of its latest message seen, if any */
  lastSeen?: number
  /** this node */
  self: boolean
}

/** How this node is reached and how its members are connected */
export interface ConnectivityInfo extends ReachabilityReport {
  members: MemberConnection[]
  /** serving as a relay for others (`start --relay`): reservations held */
  relay?: { reservations: number }
  /** the last DHT rendezvous round of each group */
  rendezvous: RendezvousRound[]
}

export interface HistoryResult {
  messages: ChatMessage[]
  next?: string
}

/** Where a message event comes from */
export interface MessageOrigin {
  /** own: sent by this node; gossip: live from the group; sync: caught up from a member's history */
  via: 'own' | 'gossip' | 'sync'
  /** the peer it came from (gossip and sync) */
  from?: string
}

/** A sync session that brought messages, for a one-line summary */
export interface SyncedEvent {
  topicId: string
  peer: string
  received: number
  sent: number
  ms: number
}

/** Messages refused or flagged on ingest, since start (status shows them) */
export interface IngestCounts {
  /** timestamps more than MAX_CLOCK_SKEW_MS ahead of this node's clock: ignored until their time */
  future: number
  /** Lamport values more than MAX_LAMPORT_AHEAD ahead of the group clock: ignored */
  clockJump: number
  /** a second message with an author's seq: stored beside the first, flagged */
  equivocations: number
}

/** How far ahead of our clock a message's timestamp may be: 5 minutes */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000
/** How far ahead of the group's clock a message's Lamport value may be: 2^32 (reaching 2^63 would take 2^31 messages) */
export const MAX_LAMPORT_AHEAD = 1n << 32n

export interface ChatNodeEvents extends CallServiceEvents {
  message: [ChatMessage, MessageOrigin]
  /** an author signed two different messages with one seq in a group */
  equivocation: [{ topicId: string, author: string, seq: number, id: string }]
  /** a sync session with a member stored or sent something */
  synced: [SyncedEvent]
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
/** messages per group searched for a member's name */
const RESOLVE_NAME_WINDOW = 500

/** Pick the default port if it is free, else let the OS choose. */
async function defaultListen (): Promise<string[]> {
  const free = await new Promise<boolean>(resolve => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen(DEFAULT_TCP_PORT, '0.0.0.0', () => server.close(() => { resolve(true) }))
  })
  return [`/ip4/0.0.0.0/tcp/${free ? DEFAULT_TCP_PORT : 0}`]
}

/** An own message waiting in the outbox */
interface OwnMessage { group: Group, text: string, idempotencyKey?: string }

export interface SendOptions {
  /**
   * The client's key for this send: a send repeated with the same key (a
   * retry after a timeout or a crash) returns the message stored the first
   * time instead of sending another. Kept with the message, so across restarts.
   */
  idempotencyKey?: string
}

/** An idempotency key is 1-128 printable ASCII characters */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128

/** Everything a started node holds; one record, gone on stop. */
interface Running {
  libp2p: ChatLibp2p
  store: HistoryStore
  peers: LevelDatastore
  registry: GroupRegistry
  signer: Signer
  subscriptions: GroupSubscriptions
  /** own messages waiting to be numbered and written, per group id (group commit) */
  outbox: Outbox<OwnMessage, OpenedMessage>
  clocks: GroupClocks
}

/**
 * The chat node: a facade over libp2p (with the sync and calls services),
 * the group registry, the history store and the gossip subscriptions. The
 * only place they meet.
 */
export class ChatNode extends EventEmitter<ChatNodeEvents> {
  readonly dataDir: string
  private readonly init: ChatNodeInit
  private running?: Running
  private displayName = ''
  private starting?: Promise<void>
  private stopping?: Promise<void>
  private readonly onPeerConnect = (evt: CustomEvent<PeerId>): void => { this.emit('peer:connect', this.peerInfo(evt.detail)) }
  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>): void => { this.emit('peer:disconnect', this.peerInfo(evt.detail)) }
  /** a peer found on the LAN (mDNS): connect, so that gossip and sync can find out whether it is a member */
  private readonly onDiscovery = (evt: CustomEvent<{ id: PeerId }>): void => {
    const node = this.running?.libp2p
    if (node == null || this.init.mdns === false || node.getConnections(evt.detail.id).length > 0) return
    node.dial(evt.detail.id, { signal: AbortSignal.timeout(this.init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT) }).catch((err: unknown) => { log('cannot reach discovered peer %p: %e', evt.detail.id, err) })
  }

  private readonly onSyncSession = (r: SessionReport): void => {
    // a session that got this far proved membership (the sync proof): only such peers are kept and redialled
    if ((r.status === 'synced' || r.status === 'in-sync') && this.running != null) {
      const redial = this.running.libp2p.services.redial
      Promise.resolve().then(async () => { await redial.addMember(peerIdFromString(r.peer)) })
        .catch((err: unknown) => { log('cannot tag %s as a member: %e', r.peer, err) })
    }
    if (r.topicId == null || (r.received === 0 && r.sent === 0)) return
    this.emit('synced', { topicId: r.topicId, peer: r.peer, received: r.received, sent: r.sent, ms: r.ms })
  }

  /** removes the listeners that re-emit the calls service's events as the node's */
  private unforwardCalls: Array<() => void> = []

  constructor (init: ChatNodeInit) {
    super()
    this.init = init
    this.dataDir = init.dataDir
  }

  get started (): boolean { return this.running != null && this.stopping == null }

  get peerId (): string { return this.parts().libp2p.peerId.toString() }

  get name (): string { return this.displayName }

  get addresses (): string[] { return this.parts().libp2p.getMultiaddrs().map(ma => ma.toString()) }

  /** Calls (src/calls): ring, answer, reject, hang up, list. Their events are also emitted by the node. */
  get calls (): CallService { return this.parts().libp2p.services.calls }

  /** Start: identity, history, groups, libp2p with its services, subscriptions. Idempotent. */
  async start (): Promise<void> {
    if (this.running != null) return
    this.starting ??= this.doStart().finally(() => { this.starting = undefined })
    await this.starting
  }

  private async doStart (): Promise<void> {
    await ensureDataDir(this.dataDir)
    const privateKey = await loadOrCreateIdentity(this.dataDir)
    const signer = ed25519Signer(privateKey.raw)
    await this.loadProfile(peerIdFromPublicKey(privateKey.publicKey).toString())
    const registry = new GroupRegistry(this.dataDir)
    await registry.load()
    const store = new HistoryStore(join(this.dataDir, HISTORY_DIR))
    await store.open()
    const peers = new LevelDatastore(join(this.dataDir, PEERS_DIR))
    let libp2p: ChatLibp2p
    const listen = this.init.listen ?? await defaultListen()
    try {
      await peers.open()
      libp2p = await createChatLibp2p({
        datastore: peers,
        privateKey,
        listen,
        bootstrap: this.init.bootstrap,
        mdns: this.init.mdns,
        transports: this.init.transports,
        gossipsub: this.init.gossipsub,
        inboundConnectionThreshold: this.init.inboundConnectionThreshold,
        sync: { host: { store, groups: () => registry.list(), ingest: async (g, bytes, from) => this.ingest(g, bytes, from, 'sync') }, init: this.init.sync },
        calls: { ...this.init.calls, callKeys: peer => this.running?.subscriptions.callKeys(peer) ?? [] },
        redial: { dialTimeout: this.init.dialTimeout, ...this.init.redial },
        rendezvous: { ...this.init.rendezvous, groups: () => registry.list() },
        publicNetwork: this.init.publicNetwork,
        relayServer: this.init.relay,
        relayClient: this.init.relayClient
      })
    } catch (err) {
      // libp2p stopped what it had started; the databases are ours to close
      await peers.close().catch((e: unknown) => { log.error('failed start: cannot close the peer store: %e', e) })
      await store.close().catch((e: unknown) => { log.error('failed start: cannot close history: %e', e) })
      throw listenError(err, listen)
    }
    const limiter = new PeerRateLimiter({ rate: this.init.validationRate ?? DEFAULT_VALIDATION_RATE, burst: this.init.validationBurst ?? DEFAULT_VALIDATION_BURST })
    const clocks = new GroupClocks()
    const running: Running = {
      libp2p,
      store,
      peers,
      registry,
      signer,
      clocks,
      subscriptions: new GroupSubscriptions({ libp2p, registry, limiter, ingest: async (g, data, from) => this.ingest(g, data, from, 'gossip') }),
      outbox: new Outbox<OwnMessage, OpenedMessage>({ flush: async (gid, items) => this.writeOwn(gid, items), maxQueued: this.init.maxQueuedSends })
    }
    this.running = running
    libp2p.addEventListener('peer:connect', this.onPeerConnect)
    libp2p.addEventListener('peer:disconnect', this.onPeerDisconnect)
    libp2p.addEventListener('peer:discovery', this.onDiscovery)
    this.unforwardCalls = CALL_EVENTS.map(name => forward(libp2p.services.calls, this, name))
    libp2p.services.sync.on('session', this.onSyncSession)
    running.subscriptions.start()
    try {
      for (const group of registry.list()) await this.subscribe(group)
    } catch (err) {
      await this.doStop()
      throw err
    }
    await this.takeRestoredMembers()
    log('started %p with %d groups', libp2p.peerId, registry.list().length)
  }

  /** Stop: libp2p with its services (calls hang up, sync sessions end), then close LevelDB last. Idempotent. */
  async stop (): Promise<void> {
    if (this.starting != null) await this.starting.catch(() => { /* a failed start left nothing to stop */ })
    if (this.running == null) return
    this.stopping ??= this.doStop().finally(() => { this.stopping = undefined })
    await this.stopping
  }

  private async doStop (): Promise<void> {
    const running = this.running
    if (running == null) return
    const { libp2p } = running
    libp2p.removeEventListener('peer:connect', this.onPeerConnect)
    libp2p.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    libp2p.removeEventListener('peer:discovery', this.onDiscovery)
    running.subscriptions.stop()
    await libp2p.stop()
    for (const off of this.unforwardCalls) off()
    this.unforwardCalls = []
    libp2p.services.sync.off('session', this.onSyncSession)
    // wait for sends under way so that nothing acknowledged is lost
    await running.outbox.idle()
    await running.peers.close()
    await running.store.close()
    this.running = undefined
    log('stopped')
  }

  private parts (): Running {
    if (this.running == null || this.stopping != null) throw new NotStartedError()
    return this.running
  }

  // ---- profile -----------------------------------------------------------

  private async loadProfile (peerIdText: string): Promise<void> {
    const path = join(this.dataDir, PROFILE_FILE)
    let saved: string | undefined
    const raw = await readFileIfExists(path)
    if (raw != null) {
      try {
        const parsed: unknown = JSON.parse(raw.toString('utf8'))
        const name = (parsed as { name?: unknown } | null)?.name
        saved = typeof name === 'string' ? name : undefined
      } catch {
        saved = undefined // a damaged profile only loses the saved name
      }
    }
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
    const { store, clocks, signer, subscriptions } = this.parts()
    const gid = group.keys.groupId
    if (!clocks.has(gid)) {
      const [lamport, seq] = await Promise.all([store.lastLamport(gid), store.lastSeq(gid, signer.publicKey)])
      clocks.load(gid, { seq, lamport })
    }
    // in the background: sync needs it, and with it appends skip the duplicate read for new messages
    store.seqIndex(gid).catch((err: unknown) => { log('seq index of %s not built: %e', group.topicId, err) })
    subscriptions.subscribe(group)
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
      ;({ topicId, secret, name, addrs } = decodeInvite(opts.invite))
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
    const { registry, libp2p } = this.parts()
    const [group, added] = await registry.add(topicId, secret, name)
    if (added) {
      await this.subscribe(group)
      libp2p.services.sync.groupJoined(group)
      libp2p.services.rendezvous.meet(group).catch((err: unknown) => { log('rendezvous for %s failed: %e', group.topicId, err) })
      this.emit('group:joined', this.groupInfo(group))
    }
    return group
  }

  /** Leave a group: unsubscribe and forget its secret. Its history stays on disk. */
  async leaveGroup (topicId: string): Promise<void> {
    const { registry, subscriptions } = this.parts()
    const group = await registry.remove(topicId)
    subscriptions.unsubscribe(group)
    this.emit('group:left', { topicId })
  }

  groups (): GroupInfo[] {
    return this.parts().registry.list().map(g => this.groupInfo(g))
  }

  group (topicId: string): GroupInfo {
    return this.groupInfo(this.parts().registry.require(topicId))
  }

  private groupInfo (group: Group): GroupInfo {
    const peers = this.running?.subscriptions.subscribers(group).length ?? 0
    return { topicId: group.topicId, name: group.name, joinedAt: group.joinedAt, peers }
  }

  /** An invite code for a group: topic id, secret and this node's addresses. */
  invite (topicId: string): string {
    const { libp2p, registry } = this.parts()
    const group = registry.require(topicId)
    const addrs = libp2p.getMultiaddrs().map(ma => ma.toString())
    return encodeInvite({ topicId, secret: group.secret, addrs, name: group.name })
  }

  /** The group's secret as hex, for `join <topic-id> --secret`. */
  secret (topicId: string): string {
    return Buffer.from(this.parts().registry.require(topicId).secret).toString('hex')
  }

  /** Peers subscribed to a group's topic. */
  groupPeers (topicId: string): string[] {
    const { registry, subscriptions } = this.parts()
    return subscriptions.subscribers(registry.require(topicId)).map(p => p.toString())
  }

  /** Does this peer share a group with us (is it subscribed to one of our groups' topics)? */
  isGroupPeer (peer: PeerId | string): boolean {
    return this.running?.subscriptions.isGroupPeer(peer) ?? false
  }

  // ---- messages ------------------------------------------------------------

  /**
   * Seal, store and publish a message. Resolves once it is in history;
   * OverloadedError (nothing stored) when too many sends of the group are
   * waiting already. With an idempotency key seen before, resolves with the
   * message stored then (published again, in case it never left).
   */
  async send (topicId: string, text: string, options: SendOptions = {}): Promise<ChatMessage> {
    const { registry } = this.parts()
    const group = registry.require(topicId)
    checkText(text)
    const key = options.idempotencyKey
    if (key == null) return this.sendNew(group, text)
    return (await this.sendKeyed(group, text, key)).message
  }

  /**
   * `send` with an idempotency key, telling whether it was a repeat (the
   * message stored the first time) or stored now.
   */
  async sendIdempotent (topicId: string, text: string, idempotencyKey: string): Promise<{ message: ChatMessage, repeated: boolean }> {
    const { registry } = this.parts()
    const group = registry.require(topicId)
    checkText(text)
    return this.sendKeyed(group, text, idempotencyKey)
  }

  private async sendKeyed (group: Group, text: string, key: string): Promise<{ message: ChatMessage, repeated: boolean }> {
    if (key.length < 1 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
      throw new InvalidInputError(`an idempotency key is 1-${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters without spaces`)
    }
    // the same key twice at once: the second waits for the first, and is a repeat
    const slot = `${group.keys.groupId}/${key}`
    const current = this.sending.get(slot)
    if (current != null) return { message: (await current).message, repeated: true }
    const sent = this.sendOnce(group, text, key).finally(() => this.sending.delete(slot))
    this.sending.set(slot, sent)
    return sent
  }

  private readonly refusedCounts: IngestCounts = { future: 0, clockJump: 0, equivocations: 0 }

  /** Messages refused or flagged on ingest since start. */
  ingestCounts (): IngestCounts {
    return { ...this.refusedCounts }
  }

  /** sends under way by group id and idempotency key */
  private readonly sending = new Map<string, Promise<{ message: ChatMessage, repeated: boolean }>>()

  private async sendOnce (group: Group, text: string, key: string): Promise<{ message: ChatMessage, repeated: boolean }> {
    const { store, signer, libp2p } = this.parts()
    const id = await store.idempotent(group.keys.groupId, key)
    const bytes = id != null ? await store.get(id) : undefined
    if (bytes != null) {
      const opened = open(group.keys, bytes)
      if (opened.ok) {
        libp2p.services.pubsub.publish(group.keys.wireTopic, opened.message.bytes).catch((err: unknown) => { log('republish of a repeated send failed: %e', err) })
        return { message: toChatMessage(group, opened.message, signer.publicKey), repeated: true }
      }
    }
    return { message: await this.sendNew(group, text, key), repeated: false }
  }

  private async sendNew (group: Group, text: string, idempotencyKey?: string): Promise<ChatMessage> {
    const { libp2p, outbox, signer } = this.parts()
    const topicId = group.topicId
    const sealed = await outbox.push(group.keys.groupId, { group, text, idempotencyKey })
    try {
      await libp2p.services.pubsub.publish(group.keys.wireTopic, sealed.bytes)
    } catch (err) {
      // stored: sync delivers it later
      log.error('publish to %s failed: %e', topicId, err)
    }
    const message = toChatMessage(group, sealed, signer.publicKey)
    this.emit('message', message, { via: 'own' })
    return message
  }

  /**
   * One batch of the group commit of this node's own messages (see Outbox):
   * numbered, sealed and written together. Numbers advance only once the
   * batch is on disk, so a failed write leaves no gap in this author's
   * sequence.
   */
  private async writeOwn (groupId: string, items: OwnMessage[]): Promise<OpenedMessage[]> {
    const { store, clocks, signer } = this.parts()
    const now = Date.now()
    const numbers = clocks.peekNext(groupId, items.length)
    const sealed = items.map(({ group, text }, i) => seal(group.keys, signer, { ...numbers[i], timestamp: now, text, name: this.displayName }))
    await store.appendMany(groupId, sealed.map((m, i) => toStorable(m, items[i].idempotencyKey)))
    const last = numbers[numbers.length - 1]
    // ingest may have raised either meanwhile (a message of ours from sync or a backup): observe never lowers
    clocks.observe(groupId, last.lamport, true, last.seq)
    return sealed
  }

  /**
   * Verify, store and announce one sealed envelope from the network (gossip,
   * sync or import). Duplicates are ignored, forgeries rejected. Never throws
   * for bad input.
   */
  async ingest (group: Group, data: Uint8Array, from: string, via: MessageOrigin['via'] = 'gossip'): Promise<Verdict> {
    const opened = open(group.keys, data)
    if (!opened.ok) {
      log('rejected a message in %s from %s: %s', group.topicId, from, opened.reason)
      this.emit('rejected', { topicId: group.topicId, from, reason: opened.reason })
      return 'reject'
    }
    const running = this.running
    if (running == null) return 'ignore'
    const msg = opened.message
    const gid = group.keys.groupId
    const env = msg.envelope
    // the author's word on time and order is bounded: a message from the future waits (ignored now, sync brings
    // it again once its time has come); one that would throw the group's clock far ahead is not taken
    if (env.timestamp > BigInt(Date.now() + MAX_CLOCK_SKEW_MS)) {
      this.refusedCounts.future++
      log('ignored a message in %s from %s: timestamp %s is in the future', group.topicId, from, env.timestamp)
      return 'ignore'
    }
    if (env.lamport > running.clocks.read(gid).lamport + MAX_LAMPORT_AHEAD) {
      this.refusedCounts.clockJump++
      log('ignored a message in %s from %s: lamport %s is far ahead of the group clock', group.topicId, from, env.lamport)
      return 'ignore'
    }
    // one author, one seq, two messages: an equivocation (kept, both, as evidence; told)
    const equivocates = running.store.holdsSeq(gid, env.author, env.seq) === true && !await running.store.has(msg.id)
    if (!await running.store.append(gid, toStorable(msg))) return 'ignore'
    if (equivocates) {
      this.refusedCounts.equivocations++
      const author = authorPeerId(env.author)
      log.error('%s signed two messages with seq %s in %s', author, env.seq, group.topicId)
      this.emit('equivocation', { topicId: group.topicId, author, seq: Number(env.seq), id: Buffer.from(msg.id).toString('hex') })
    }
    // our own message coming back (e.g. from a backup or another device's sync) also raises our seq
    const own = Buffer.from(msg.envelope.author).equals(running.signer.publicKey)
    running.clocks.observe(gid, msg.envelope.lamport, own, msg.envelope.seq)
    this.emit('message', toChatMessage(group, msg, running.signer.publicKey), { via, from })
    return 'accept'
  }

  /**
   * Reconcile a group's history with every connected member now (both
   * directions). `onProgress` reports each peer's session as it goes.
   */
  async sync (topicId: string, options: SyncOptions = {}): Promise<SyncSummary> {
    const { registry, libp2p } = this.parts()
    return libp2p.services.sync.syncGroup(registry.require(topicId), options)
  }

  /** History of a group, newest first, `limit` per page, older pages by `before` cursor. */
  async history (topicId: string, query: HistoryQuery = {}): Promise<HistoryResult> {
    const { store, registry, signer } = this.parts()
    const group = registry.require(topicId)
    const page = await store.history(group.keys.groupId, query)
    const messages: ChatMessage[] = []
    for (const record of page.records) {
      const opened = open(group.keys, record.bytes)
      if (!opened.ok) {
        log.error('stored record %s in %s fails verification: %s', record.cursor, topicId, opened.reason)
        continue
      }
      messages.push({ ...toChatMessage(group, opened.message, signer.publicKey), cursor: record.cursor })
    }
    return page.next != null ? { messages, next: page.next } : { messages }
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
    const { store, registry, clocks, signer } = this.parts()
    const host = createStoreBackupHost({
      peerId: this.peerId,
      store,
      registry,
      join: async (topicId, secret, name) => this.addGroup(topicId, secret, name),
      onStored: (group, records) => {
        const gid = group.keys.groupId
        for (const r of records) clocks.observe(gid, r.lamport, Buffer.from(r.author).equals(signer.publicKey), r.seq)
      }
    })
    // the identity of a running node can be backed up, not replaced
    const keyFile = join(this.dataDir, IDENTITY_FILE)
    return {
      ...host,
      identity: async () => {
        const key = await readFileIfExists(keyFile)
        return key != null ? { key, name: this.displayName, members: await this.knownMembers() } : undefined
      },
      restoreIdentity: async (identity) => {
        const key = await readFileIfExists(keyFile)
        const same = key != null && Buffer.from(key).equals(identity.key)
        // our own backup: the members it knew are ours to reach again
        if (same) await this.addKnownMembers(identity.members ?? [])
        return same ? 'same' : 'running'
      }
    }
  }

  /** The members this node keeps (tagged in its peer store) and their addresses, for an identity backup. */
  private async knownMembers (): Promise<Array<{ peerId: string, addrs: string[] }>> {
    const { libp2p } = this.parts()
    const peers = await libp2p.peerStore.all({ filters: [p => p.tags.has(MEMBER_TAG)] })
    return peers.slice(0, MAX_BACKUP_MEMBERS).map(p => ({ peerId: p.id.toString(), addrs: p.addresses.slice(0, MAX_BACKUP_MEMBER_ADDRS).map(a => a.multiaddr.toString()) }))
  }

  /** Take members (from a backup) into the peer store, tagged: they are dialled from now on. Bad entries are skipped. */
  private async addKnownMembers (members: Array<{ peerId: string, addrs: string[] }>): Promise<number> {
    const { libp2p } = this.parts()
    let added = 0
    for (const m of members) {
      try {
        const id = peerIdFromString(m.peerId)
        if (id.equals(libp2p.peerId)) continue
        await libp2p.peerStore.merge(id, { multiaddrs: m.addrs.map(a => multiaddr(a)) })
        await libp2p.services.redial.addMember(id)
        await libp2p.services.redial.dialSoon(id)
        added++
      } catch (err) {
        log('a restored member was skipped: %e', err)
      }
    }
    return added
  }

  /** Members restored from a backup while no node ran (RESTORED_MEMBERS_FILE): taken in at start, the file removed. */
  private async takeRestoredMembers (): Promise<void> {
    const path = join(this.dataDir, RESTORED_MEMBERS_FILE)
    const raw = await readFileIfExists(path)
    if (raw == null) return
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'))
      const list = Array.isArray(parsed) ? parsed.filter((m): m is { peerId: string, addrs: string[] } => typeof (m as { peerId?: unknown }).peerId === 'string' && Array.isArray((m as { addrs?: unknown }).addrs)) : []
      log('took %d restored members into the peer store', await this.addKnownMembers(list))
    } catch (err) {
      log.error('cannot read %s: %e', path, err)
    }
    await rm(path, { force: true })
  }

  /**
   * A peer id from a peer id or a member's display name (as seen in the
   * recent history of your groups). Ambiguous or unknown names are errors.
   */
  async resolvePeer (target: string): Promise<string> {
    const t = target.trim()
    try {
      return peerIdFromString(t).toString()
    } catch {
      // not a peer id: a name
    }
    const found = new Set<string>()
    for (const group of this.parts().registry.list()) {
      for (const m of (await this.history(group.topicId, { limit: RESOLVE_NAME_WINDOW })).messages) {
        if (!m.own && m.name === t) found.add(m.author)
      }
    }
    const [only] = found
    if (found.size === 1) return only
    if (found.size === 0) throw new InvalidInputError(`"${t}" is neither a peer id nor the name of a member seen in your groups' recent messages`)
    throw new InvalidInputError(`several members are called "${t}": use a peer id (${[...found].join(', ')})`)
  }

  /**
   * The members of a group as far as this node knows them: the peers on
   * its topic now and the authors of its recent messages (the last 500),
   * with their latest names. Names are self-chosen: two members with one
   * name differ by peer id.
   */
  async members (topicId: string): Promise<GroupMember[]> {
    const { libp2p, registry, subscriptions } = this.parts()
    const group = registry.require(topicId)
    const self = libp2p.peerId.toString()
    const out = new Map<string, GroupMember>()
    const entry = (peerId: string): GroupMember => {
      let m = out.get(peerId)
      if (m == null) {
        m = { peerId, name: '', online: false, connection: 'none', self: peerId === self }
        out.set(peerId, m)
      }
      return m
    }
    entry(self).name = this.displayName
    entry(self).online = true
    for (const p of subscriptions.subscribers(group)) entry(p.toString()).online = true
    // newest first: the first message of an author carries its latest name
    for (const m of (await this.history(topicId, { limit: RESOLVE_NAME_WINDOW })).messages) {
      const e = entry(m.author)
      if (e.lastSeen == null) {
        e.lastSeen = m.timestamp
        if (!e.self) e.name = m.name
      }
    }
    for (const m of out.values()) {
      if (m.self) continue
      try {
        m.connection = connectionKind(libp2p.getConnections(peerIdFromString(m.peerId)))
      } catch {
        m.connection = 'none' // not a peer id: cannot be connected
      }
    }
    return [...out.values()].sort((a, b) => Number(b.self) - Number(a.self) || Number(b.online) - Number(a.online) || (b.lastSeen ?? 0) - (a.lastSeen ?? 0))
  }

  // ---- peers ---------------------------------------------------------------

  /** Reachability, our direct and relay addresses, and how each known member is connected now. */
  connectivity (): ConnectivityInfo {
    const { libp2p, registry, subscriptions } = this.parts()
    const members = new Map<string, MemberConnection>()
    const entry = (id: string): MemberConnection => {
      let m = members.get(id)
      if (m == null) {
        m = { peerId: id, groups: [], connection: 'none', failures: 0 }
        members.set(id, m)
      }
      return m
    }
    for (const g of registry.list()) for (const p of subscriptions.subscribers(g)) entry(p.toString()).groups.push(g.topicId)
    for (const t of libp2p.services.redial.list()) {
      if (t.target.startsWith('/')) continue // a bootstrap or relay address, not a member
      entry(t.target).failures = t.failures
    }
    for (const m of members.values()) {
      try {
        m.connection = connectionKind(libp2p.getConnections(peerIdFromString(m.peerId)))
      } catch {
        m.connection = 'none' // not a peer id: cannot be connected
      }
    }
    const relay = libp2p.services.relay
    return {
      ...libp2p.services.reachability.report(),
      members: [...members.values()],
      ...(relay != null ? { relay: { reservations: relay.reservations.size } } : {}),
      rendezvous: libp2p.services.rendezvous.list()
    }
  }

  peers (): PeerInfo[] {
    return this.parts().libp2p.getPeers().map(p => this.peerInfo(p))
  }

  private peerInfo (peer: PeerId): PeerInfo {
    const addrs = this.running?.libp2p.getConnections(peer).map(c => c.remoteAddr.toString()) ?? []
    return { peerId: peer.toString(), addrs }
  }

  /** Dial a multiaddr (with /p2p/<peer-id>) or a peer id. */
  async dial (address: string, signal?: AbortSignal): Promise<PeerInfo> {
    const { libp2p } = this.parts()
    let target
    try {
      target = address.startsWith('/') ? multiaddr(address) : peerIdFromString(address)
    } catch {
      throw new InvalidInputError(`not a multiaddr or peer id: ${address}`)
    }
    const timeout = this.init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT
    try {
      const conn = await libp2p.dial(target, { signal: signal ?? AbortSignal.timeout(timeout) })
      return this.peerInfo(conn.remotePeer)
    } catch (err) {
      throw dialError(err, address, timeout)
    }
  }

  private async dialAll (addrs: string[]): Promise<number> {
    const self = this.peerId
    const results = await Promise.allSettled(addrs.filter(a => !a.includes(self)).map(async a => this.dial(a)))
    results.forEach(r => { if (r.status === 'rejected') log('invite address not reachable: %e', r.reason) })
    return results.filter(r => r.status === 'fulfilled').length
  }

  /** libp2p for tests, benchmarks and protocols layered on top */
  get libp2pNode (): ChatLibp2p { return this.parts().libp2p }
}

/** Re-emit one event of the calls service as the node's; returns the undo. */
function forward (from: CallService, to: ChatNode, name: keyof CallServiceEvents): () => void {
  // ChatNodeEvents extends CallServiceEvents: the same name carries the same arguments on both
  const source = from as EventEmitter as EventEmitter<Record<string, unknown[]>>
  const target = to as EventEmitter as EventEmitter<Record<string, unknown[]>>
  const listener = (...args: unknown[]): void => { target.emit(name, ...args) }
  source.on(name, listener)
  return () => { source.off(name, listener) }
}

/** libp2p's dial failures as one line that says what to do */
function dialError (err: unknown, address: string, timeout: number): Error {
  const name = err instanceof Error ? err.name : ''
  const text = err instanceof Error ? err.message : String(err)
  if (/dial self/i.test(text)) return new InvalidInputError(`${address} is this node itself: dial another node`)
  const timedOut = name === 'TimeoutError' || name === 'AbortError'
  // a bare peer id: libp2p had (or found) no address for it
  if (name === 'NoValidAddressesError' || (timedOut && !address.startsWith('/'))) return new DialFailedError(`no known address for ${address}${timedOut ? ` (none found within ${Math.round(timeout / 1000)} s)` : ''}: dial its full address (/ip4/…/tcp/…/p2p/${address.replace(/^.*\/p2p\//, '')}), which "p2p-chat status" on that node prints`, { cause: err })
  if (timedOut) return new DialFailedError(`${address} did not answer within ${Math.round(timeout / 1000)} s`, { cause: err })
  if (/ECONNREFUSED/.test(text)) return new DialFailedError(`${address}: connection refused (no node listens there now)`, { cause: err })
  if (/ECONNRESET|EHOSTUNREACH|ENETUNREACH/.test(text)) return new DialFailedError(`cannot reach ${address}: ${/E[A-Z]+/.exec(text)?.[0] ?? 'network error'}`, { cause: err })
  return new DialFailedError(`cannot reach ${address}: ${text.split('\n')[0]}`, { cause: err })
}

/** A message text the envelope rules accept: not empty, within the limit */
function checkText (text: string): void {
  if (typeof text !== 'string' || text.trim() === '') throw new EmptyMessageError()
  const size = Buffer.byteLength(text)
  if (size > MAX_TEXT_BYTES) throw new MessageTooLargeError(size, MAX_TEXT_BYTES)
}

function checkName (name: string): string {
  const n = name.trim()
  if (n === '') throw new InvalidInputError('name is empty')
  if (Buffer.byteLength(n) > MAX_NAME_BYTES) throw new InvalidInputError(`name is longer than ${MAX_NAME_BYTES} bytes`)
  return n
}

/** libp2p's "failed to listen" as one clear line naming the address and the cause */
function listenError (err: unknown, listen: string[]): Error {
  if (!(err instanceof Error)) return new Error(String(err))
  if (err.name !== 'UnsupportedListenAddressesError' && err.name !== 'NoValidAddressesError') return err
  const text = err.message
  const failed = listen.filter(addr => text.includes(addr))
  const cause = /EADDRINUSE/.test(text) ? 'address already in use' : /EADDRNOTAVAIL/.test(text) ? 'address not available on this machine' : /EACCES/.test(text) ? 'permission denied' : 'not supported'
  return new ListenError(`cannot listen on ${failed.length > 0 ? failed.join(', ') : listen.join(', ')}: ${cause} (choose others with --listen, e.g. /ip4/0.0.0.0/tcp/0)`, { cause: err })
}
