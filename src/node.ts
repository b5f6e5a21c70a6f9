import { EventEmitter } from 'node:events'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { availableParallelism } from 'node:os'
import { randomBytes } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { rm } from 'node:fs/promises'
import { LevelDatastore } from 'datastore-level'
import { DEFAULT_TCP_PORT, HISTORY_DIR, IDENTITY_FILE, PEERS_DIR, PROFILE_FILE, RESTORED_MEMBERS_FILE, ensureDataDir, readFileIfExists, writeFileAtomic } from './config.js'
import { ed25519Signer, open, openUnverified, peek, seal, verifyEd25519, SignatureThread, KIND_DELETE, KIND_EDIT, KIND_FILE, KIND_REACTION, KIND_TEXT, KIND_OP, MAX_EMOJI_BYTES, MAX_NAME_BYTES, MAX_TEXT_BYTES, SECRET_LENGTH } from './envelope/index.js'
import { DataDirError, DialFailedError, EmptyMessageError, GroupExistsError, InvalidInputError, ListenError, MessageNotFoundError, MessageTooLargeError, NotStartedError, NotYourMessageError } from './errors.js'
import { GroupRegistry, decodeInvite, encodeInvite, isTokenInvite, parseSecret, validateTopicId } from './groups/index.js'
import { loadOrCreateIdentity } from './identity.js'
import { createChatLibp2p } from './libp2p.js'
import { PeerRateLimiter } from './rate-limit.js'
import { CALL_EVENTS } from './calls/index.js'
import { createStoreBackupHost } from './backup/index.js'
import { DEFAULT_HISTORY_LIMIT, HistoryStore, MAX_HISTORY_LIMIT } from './store/index.js'
import { AuthorQuota, CausalLinks, GroupClocks, GroupSubscriptions, Outbox, authorPeerId, foldView, historyOrder, isShownKind, quoteText, toChatMessage, toLateStorable, toStorable } from './chat/index.js'
import { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, SearchIndex, indexFields, searchTerms } from './chat/search.js'
import { UnreadCounts } from './chat/unread.js'
import { TypingIndicators } from './chat/typing.js'
import { mentionKeys, resolveMentions } from './chat/mentions.js'
import { isCursor, sortKey } from './store/keys.js'
import type { SearchProgress, SearchResult } from './chat/search.js'
import type { UnreadInfo } from './chat/unread.js'
import type { TypingEvent } from './chat/typing.js'
import type { CallService, CallServiceEvents, CallServiceInit } from './calls/index.js'
import type { AuthorQuotaInit, ChatMessage, DroppedMessage, Quote, ViewMessage } from './chat/index.js'
import type { MessageHeader, OpenedMessage, SealInput, Signer } from './envelope/index.js'
import type { EpochSecret, Group, Verdict } from './groups/index.js'
import type { ChatLibp2p, Libp2pOptions } from './libp2p.js'
import type { HistoryQuery, StorableMessage } from './store/index.js'
import type { SessionReport, SyncInit, SyncOptions, SyncSummary } from './sync/index.js'
import { connectionKind, MEMBER_TAG } from './connectivity/index.js'
import { MAX_BACKUP_MEMBERS, MAX_BACKUP_MEMBER_ADDRS } from './backup/index.js'
import type { ConnectionKind, ReachabilityReport, RedialInit, RendezvousInit, RendezvousRound } from './connectivity/index.js'
import type { PeerId } from '@libp2p/interface'
import type { BackupHost } from './backup/index.js'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { fileProblem } from './envelope/index.js'
import { outerEpoch } from './envelope/seal.js'
import { Membership, loadOrCreateX25519, membershipOf } from './membership/index.js'
import type { MembershipInfo } from './membership/index.js'
import { Invites } from './membership/invites.js'
import type { InviteResult } from './membership/invites.js'
import { JoinResponse } from './membership/join.js'
import { FILES_DIR, NotAFileError } from './files/index.js'
import type { FetchResult, FileHolding, FileInit, FileProgress, FileService } from './files/index.js'
import type { FileInfo } from './chat/index.js'
import type { FileRef } from './envelope/index.js'

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
  /**
   * gossip messages one peer may make this node validate per second, in the long run, while other peers send
   * too; the excess is ignored (sync fills the gap). A peer that is the only one sending (none other for
   * VALIDATION_ALONE_AFTER_MS) is not held to it. Default 2,000
   */
  validationRate?: number
  /** ... and at once: a member's honest burst passes whole. Default 20,000 */
  validationBurst?: number
  /** per-author limits in each group (src/chat/quota.ts): live messages 20/s with bursts of 500, 64 MiB stored a day; the excess is ignored (ingestCounts().quota) */
  quota?: AuthorQuotaInit
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
  /** files (src/files): largest size (default 100 MiB), timeouts, sources; `autoFetchMaxSize`: fetch announced files up to this many bytes as they arrive (default 0: only on demand) */
  files?: Omit<FileInit, 'dir'> & { autoFetchMaxSize?: number }
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
  /** issue 15, a group with a membership log: its role, or how it left (`removed`, `left`); `pending`: seen, not admitted */
  role?: 'admin' | 'member' | 'removed' | 'left' | 'pending'
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

/** A page of `view`: history as users see it (src/chat/view.ts) */
export interface ViewResult {
  /** newest first */
  messages: ViewMessage[]
  /** pass as `before` to read the next (older) page; absent on the last page */
  next?: string
  /** reactions, edits and deletes refused among the records read (an edit or delete by someone else than the author, …) */
  rejected: number
}

/** A message's view changed: a reaction, an edit, a delete, or one of those applied once the message arrived */
export interface MessageUpdate {
  topicId: string
  /** hex id of the message */
  id: string
  message: ViewMessage
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
  /** a Lamport value not above the message's own links (prev, parents): stored, marked misordered */
  misordered: number
  /** over the author's quota in the group (src/chat/quota.ts): ignored, not stored; counted at each refusal (sync may offer a message again) */
  quota: number
  /** gossip messages ignored before decoding because their peer was over the per-peer validation rate (validationRate); sync brings what they carried */
  rateLimited: number
}

/** How far ahead of our clock a message's timestamp may be: 5 minutes */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000
/** How far ahead of the group's clock a message's Lamport value may be: 2^32 (reaching 2^63 would take 2^31 messages) */
export const MAX_LAMPORT_AHEAD = 1n << 32n

export interface ChatNodeEvents extends CallServiceEvents {
  /** a message to show: own ones once written; others' once verified, new and in the history's journal, their LevelDB write in flight (reads wait for it) */
  message: [ChatMessage, MessageOrigin]
  /** a message as `view` shows it changed (src/chat/view.ts); told a moment after, once per burst */
  updated: [MessageUpdate]
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
  /** a member is typing in a group (ephemeral, src/chat/typing.ts): show it until `expiresAt` or the member's next message */
  typing: [TypingEvent]
}

export const DEFAULT_DIAL_TIMEOUT = 10_000
export const DEFAULT_VALIDATION_RATE = 2000
export const DEFAULT_VALIDATION_BURST = 20_000
/**
 * A peer over its validation rate is still let through when no other peer made this node validate anything
 * for this long: the limit shares the node among peers that compete, and never holds back a node's only
 * busy peer (a relay of a busy group; measured: scripts/bench-ingest.ts, docs/BENCHMARKS.md)
 */
export const VALIDATION_ALONE_AFTER_MS = 1000
/** a second core for the verification thread (src/envelope/signatures.ts): on one core it would only add the hand-over */
const SPARE_CORE = availableParallelism() > 1
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
/**
 * The content of a message this node writes: a kind and its fields (see
 * SealInput); numbers, links and name are added when it is sealed.
 */
export type MessageDraft = Omit<SealInput, 'seq' | 'lamport' | 'timestamp' | 'name' | 'prev' | 'parents'>

interface OwnMessage { group: Group, draft: MessageDraft, idempotencyKey?: string }

/** Ingests in flight past which each one first waits for a turn of the event loop (API requests, timers) */
export const INGEST_YIELD_AFTER = 4
/** Waiting ingests let go per turn of the event loop (each verification is about 0.1-0.5 ms of CPU) */
export const INGEST_PER_TURN = 8

/** A message that arrives this much later than its timestamp is marked as arrived late */
export const LATE_AFTER_MS = 2 * 60_000

export interface SendOptions {
  /**
   * The client's key for this send: a send repeated with the same key (a
   * retry after a timeout or a crash) returns the message stored the first
   * time instead of sending another. Kept with the message, so across restarts.
   */
  idempotencyKey?: string
  /** text: resolve `@name` (and `@name~abcd`) tokens to members and mention them (src/chat/mentions.ts). Default true */
  mentions?: boolean
}

/** Options of ChatNode.sendFile */
export interface SendFileOptions {
  /** caption, sent with the file (at most 4096 bytes) */
  caption?: string
  /** file name announced; default the path's last part */
  name?: string
  /** media type; default from the first bytes (images) or the name */
  mime?: string
  /** hex id of the message this file replies to */
  replyTo?: string
  signal?: AbortSignal
  /** plain bytes read so far */
  onProgress?: (bytes: number) => void
}

/** Options of ChatNode.getFile */
export interface GetFileOptions {
  /** write the plain file here once held (through a temporary file beside it) */
  out?: string
  /** replace `out` when it exists; default false */
  overwrite?: boolean
  onProgress?: (progress: FileProgress) => void
  signal?: AbortSignal
}

/** What getFile did */
export interface GetFileResult extends FetchResult {
  messageId: string
  topicId: string
  file: FileInfo
  /** where it was written, with `out` */
  path?: string
}

/** What fileStatus tells */
export interface FileStatus extends FileHolding {
  messageId: string
  topicId: string
  file: FileInfo
}

/** file announcements remembered for id prefixes, at most */
const MAX_REMEMBERED_FILES = 10_000
/** files fetched at once by `files.autoFetchMaxSize` */
const AUTO_FETCHES_AT_ONCE = 2

/** A message id given as 64 hex characters */
function messageIdBytes (id: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/i.test(id)) throw new InvalidInputError(`"${id}" is not a message id (64 hex characters)`)
  return Uint8Array.from(Buffer.from(id, 'hex'))
}

/** An idempotency key is 1-128 printable ASCII characters */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128

/** records read per step by `view` and the kinds' background work, at most */
const VIEW_SCAN_PAGE = 2000
/** records `view` reads past its page at most to quote the messages its replies answer (older ones are quoted as stored) */
const QUOTE_SCAN_RECORDS = 2000
/** `updated` is told this long after the change (a burst is one read of history) */
const UPDATE_DELAY_MS = 50
/** records read at most to tell `updated` (a change further back goes untold: `view` shows it) */
const UPDATE_SCAN_RECORDS = 20_000
/** targets of reactions and edits that came first, remembered per group to tell `updated` when they arrive */
const MAX_AWAITED_TARGETS = 4096

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** records kept decoded for `view` (about 1 KiB each) */
const MAX_DECODED = 20_000

/** A stored record as `view` reads it: the message, and what a drop needs of its envelope */
interface Decoded { m: ChatMessage, id: Uint8Array, envelope: MessageHeader, authorHex: string }

/** The cursor right before a message's: where the tombstone of a deleted predecessor never held goes (its own place is lost) */
function justBefore (m: OpenedMessage): string {
  const c = sortKey(m.envelope.lamport, m.envelope.timestamp, hexOf(m.id))
  return (BigInt('0x' + c) - 1n).toString(16).padStart(c.length, '0')
}

/** Everything a started node holds; one record, gone on stop. */
/** an own batch sealed and handed to the store (see ChatNode.writeOwn) */
interface OwnTail {
  seq: bigint
  lamport: bigint
  lastId: Uint8Array
  messages: OpenedMessage[]
  storables: StorableMessage[]
  /** in the history's journal: on disk, published next, its numbers taken */
  claim: Promise<void>
  /** settles true once claimed, false when the claim failed (never rejects) */
  claimed: Promise<boolean>
  /** in LevelDB */
  write: Promise<number>
}

interface Running {
  libp2p: ChatLibp2p
  store: HistoryStore
  peers: LevelDatastore
  registry: GroupRegistry
  signer: Signer
  /** per peer: gossip messages it may make this node validate (validationRate) */
  limiter: PeerRateLimiter
  /** Ed25519 checks of ingest on a worker thread while ingests queue up (src/envelope/signatures.ts) */
  signatures: SignatureThread
  subscriptions: GroupSubscriptions
  /** own messages waiting to be numbered and written, per group id (group commit) */
  outbox: Outbox<OwnMessage, OpenedMessage | Error>
  clocks: GroupClocks
  /** recent ids for prev/parents and their checks */
  links: CausalLinks
  /** per group id: authors (hex) flagged as equivocators */
  equivocators: Map<string, Set<string>>
  search: SearchIndex
  unread: UnreadCounts
  typing: TypingIndicators
  /** issue 15: the membership log, epochs and their checks (src/membership) */
  membership: Membership
  /** issue 15: revocable invites and the join service's answers (src/membership/invites.ts) */
  invites: Invites
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
  /** per-author rate and storage quota per group, applied on ingest */
  private readonly quota: AuthorQuota
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
    this.quota = new AuthorQuota(init.quota)
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
        sync: { host: { store, groups: () => registry.list(), ingest: async (g, bytes, from) => this.ingest(g, bytes, from, 'sync'), recordKey, heads: async (g, index) => this.heads(g, index), unknownEpoch: (g, bytes) => this.unknownEpoch(g, bytes), admitPeer: (g, peer) => this.running == null || this.admitsPeer(g, peer) }, init: this.init.sync },
        calls: { ...this.init.calls, callKeys: peer => this.running?.subscriptions.callKeys(peer) ?? [] },
        join: { answer: async (req, peer, o) => this.running?.invites.answer(req, peer, o) ?? { status: JoinResponse.Status.BUSY, message: 'starting', name: '', secrets: [] } },
        files: { host: { groups: () => registry.list(), proven: (peer, g) => this.running?.libp2p.services.sync.proven(peer.toString(), g as Group) ?? false }, init: { ...this.init.files, dir: join(this.dataDir, FILES_DIR) } },
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
    const limiter = new PeerRateLimiter({ rate: this.init.validationRate ?? DEFAULT_VALIDATION_RATE, burst: this.init.validationBurst ?? DEFAULT_VALIDATION_BURST, aloneAfterMs: VALIDATION_ALONE_AFTER_MS })
    const clocks = new GroupClocks()
    const x25519 = await loadOrCreateX25519(this.dataDir)
    const running: Running = {
      libp2p,
      store,
      peers,
      registry,
      signer,
      limiter,
      signatures: new SignatureThread(),
      clocks,
      links: new CausalLinks(),
      equivocators: new Map(),
      search: new SearchIndex(store, signer.publicKey),
      unread: new UnreadCounts(store, signer.publicKey),
      typing: new TypingIndicators({ libp2p, registry, signer, name: () => this.displayName, onTyping: e => { this.emit('typing', e) } }),
      subscriptions: new GroupSubscriptions({ libp2p, registry, limiter, ingest: async (g, data, from) => this.ingest(g, data, from, 'gossip') }),
      outbox: new Outbox<OwnMessage, OpenedMessage | Error>({ flush: async (gid, items) => this.writeOwn(gid, items), maxQueued: this.init.maxQueuedSends, depth: 2 }),
      membership: new Membership({ store, registry, libp2p, limiter, self: signer.publicKey, x25519, post: async (g, op) => this.postTo(g, { kind: KIND_OP, op }, {}), ingest: async (g, data, from) => this.ingest(g, data, from, 'gossip'), resync: g => { setTimeout(() => { if (this.started) libp2p.services.sync.syncGroup(g).catch((err: unknown) => { log('resync of %s: %e', g.topicId, err) }) }, 200).unref() } }),
      invites: undefined as unknown as Invites
    }
    running.invites = new Invites({ registry, membership: running.membership, libp2p, x25519, self: hexOf(signer.publicKey), displayName: () => this.displayName, addGroup: async (t, secret, name, epochs) => this.addGroup(t, secret, name, epochs), dialAll: async addrs => this.dialAll(addrs) })
    this.running = running
    libp2p.addEventListener('peer:connect', this.onPeerConnect)
    libp2p.addEventListener('peer:disconnect', this.onPeerDisconnect)
    libp2p.addEventListener('peer:discovery', this.onDiscovery)
    this.unforwardCalls = CALL_EVENTS.map(name => forward(libp2p.services.calls, this, name))
    libp2p.services.sync.on('session', this.onSyncSession)
    this.on('message', this.onFileAnnounced)
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
    running.typing.stop()
    running.membership.stop()
    await libp2p.stop()
    for (const off of this.unforwardCalls) off()
    this.unforwardCalls = []
    libp2p.services.sync.off('session', this.onSyncSession)
    this.off('message', this.onFileAnnounced)
    // wait for sends under way so that nothing acknowledged is lost
    await running.outbox.idle()
    await running.signatures.close()
    this.clearViewUpdates()
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
    const { store, clocks, signer, subscriptions, typing } = this.parts()
    const gid = group.keys.groupId
    if (!clocks.has(gid)) {
      const [lamport, seq] = await Promise.all([store.lastLamport(gid), store.lastSeq(gid, signer.publicKey)])
      clocks.load(gid, { seq, lamport })
      await this.loadLinks(group, seq)
    }
    // in the background: sync needs it, and with it appends skip the duplicate read for new messages
    store.seqIndex(gid).catch((err: unknown) => { log('seq index of %s not built: %e', group.topicId, err) })
    // ingest asks it at once: a message whose author deleted it already is never shown
    await store.loadDeletes(gid)
    subscriptions.subscribe(group)
    typing.subscribe(group)
    await this.parts().membership.load(group)
    // a group with a membership log: this node's X25519 key is published in it (for the boxes of new epochs)
    if (this.parts().membership.state(group).logged) this.parts().membership.publishKey(group).catch((err: unknown) => { log('key of %s not published: %e', group.topicId, err) })
  }

  /**
   * What the links need after a restart: this node's own last message (its
   * next `prev`), the group's newest messages (parents) and its flagged
   * equivocators.
   */
  private async loadLinks (group: Group, ownSeq: bigint): Promise<void> {
    const { store, links, signer, equivocators } = this.parts()
    const gid = group.keys.groupId
    const page = await store.history(gid, { limit: 16 })
    for (const r of page.records.reverse()) {
      const p = peek(group.keys, r.bytes)
      if (p.ok) links.note(gid, p.message.id, p.message.envelope)
    }
    if (ownSeq > 0n && links.idAt(gid, signer.publicKey, ownSeq) == null) {
      const id = await store.idAtSeq(gid, signer.publicKey, ownSeq)
      const bytes = id != null ? await store.get(id) : undefined
      const p = bytes != null ? peek(group.keys, bytes) : undefined
      if (p?.ok === true) links.note(gid, p.message.id, p.message.envelope)
    }
    equivocators.set(gid, new Set((await store.equivocators(gid)).keys()))
  }

  /** Create a group with a fresh random secret. */
  async createGroup (topicId: string, opts: { name?: string, membership?: boolean } = {}): Promise<GroupInfo & { invite: string, expires?: number, uses?: number }> {
    validateTopicId(topicId)
    const { registry } = this.parts()
    if (registry.get(topicId) != null) throw new GroupExistsError(topicId)
    const group = await this.addGroup(topicId, new Uint8Array(randomBytes(SECRET_LENGTH)), opts.name)
    // issue 15: a membership log from the start (this node its first admin), this node's key in it
    if (opts.membership !== true) return { ...this.groupInfo(group), invite: this.invite(topicId) }
    await this.adoptLog(group)
    const inv = await this.parts().invites.create(group)
    return { ...this.groupInfo(group), invite: inv.invite, expires: inv.expires, uses: inv.uses }
  }

  /** Join by invite code, or by topic id and secret. Dials the invite's addresses. */
  async joinGroup (opts: { invite: string } | { topicId: string, secret: string | Uint8Array, name?: string }): Promise<GroupInfo & { dialed: number }> {
    this.parts()
    let topicId: string, secret: Uint8Array, name: string | undefined, addrs: string[] = []
    if ('invite' in opts && isTokenInvite(opts.invite)) {
      const { group, dialed } = await this.parts().invites.join(opts.invite)
      return { ...this.groupInfo(group), dialed }
    }
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

  private async addGroup (topicId: string, secret: Uint8Array, name?: string, epochs: EpochSecret[] = []): Promise<Group> {
    const { registry, libp2p } = this.parts()
    const [group, added] = await registry.add(topicId, secret, name)
    if (added) {
      // a revocable invite's later epochs: held before the first subscription and sync
      if (epochs.length > 0) {
        for (const e of epochs) registry.putEpoch(topicId, e)
        registry.chooseEpoch(topicId, undefined)
        registry.saveSoon()
      }
      await this.subscribe(group)
      libp2p.services.sync.groupJoined(group)
      libp2p.services.rendezvous.meet(group).catch((err: unknown) => { log('rendezvous for %s failed: %e', group.topicId, err) })
      this.emit('group:joined', this.groupInfo(group))
    }
    return group
  }

  /** Leave a group: unsubscribe and forget its secret. Its history stays on disk. */
  async leaveGroup (topicId: string): Promise<void> {
    const { registry, subscriptions, membership } = this.parts()
    // a member of a group with a log says so first: the admins start a new epoch without it
    const leaving = registry.require(topicId)
    if (membership.state(leaving).members.has(membership.selfHex) && membership.state(leaving).logged) await membership.append(leaving, { type: 'leave' }).catch((err: unknown) => { log('leave op in %s not sent: %e', topicId, err) })
    membership.unsubscribe(leaving)
    const group = await registry.remove(topicId)
    subscriptions.unsubscribe(group)
    this.quota.forget(group.keys.groupId)
    this.running?.typing.unsubscribe(group)
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

  /**
   * A revocable invite (issue 15; admins): an invite op with the hash of a
   * fresh token, and a p2pchat2 code that holds no secret. A legacy group
   * gets its membership log first (its admin only).
   */
  async createInvite (topicId: string, opts: { ttlMs?: number, uses?: number } = {}): Promise<InviteResult> {
    const { registry, membership, invites } = this.parts()
    const group = registry.require(topicId)
    if (!membership.state(group).logged) {
      const first = [...membership.state(group).members.values()].find(m => m.role === 'admin')
      if (first != null && first.key !== membership.selfHex) throw new NotYourMessageError(`only the admin of ${topicId} (its first member) can give it a membership log and revocable invites; "--legacy-secret" prints the group secret instead`)
      await this.adoptLog(group)
    }
    return await invites.create(group, opts)
  }

  /** A synced record of a later epoch this node holds no key for: skipped; the keys are asked for (Invites.keysMissing) */
  private unknownEpoch (group: Group, bytes: Uint8Array): boolean {
    if ((outerEpoch(bytes) ?? 0) === 0) return false
    this.running?.invites.keysMissing(group)
    return true
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
    return this.postTo(group, await this.textDraft(group, text, options), options)
  }

  /**
   * Send a message of any kind (a text with a reply or mentions, a
   * reaction, an edit, a delete, a file announcement): `send` for drafts.
   * The draft must pass the envelope rules (RangeError from seal otherwise,
   * nothing stored); what the kinds mean is checked by their callers.
   */
  async post (topicId: string, draft: MessageDraft, options: SendOptions = {}): Promise<ChatMessage> {
    const { registry } = this.parts()
    return this.postTo(registry.require(topicId), draft, options)
  }

  private async postTo (group: Group, draft: MessageDraft, options: SendOptions): Promise<ChatMessage> {
    const key = options.idempotencyKey
    if (key == null) return this.sendNew(group, draft)
    return (await this.sendKeyed(group, draft, key)).message
  }

  // ---- replies, reactions, edits, deletes (issue 18: src/chat/view.ts, docs/PROTOCOL.md "Message kinds") ----

  /** Reply to a message of the group (`targetId`: its hex id, or a unique prefix of 8 or more hex characters). */
  async reply (topicId: string, targetId: string, text: string, options: SendOptions = {}): Promise<ChatMessage> {
    const group = this.parts().registry.require(topicId)
    checkText(text)
    const target = await this.actTarget(group, targetId, 'reply to')
    return this.postTo(group, { ...await this.textDraft(group, text, options), replyTo: target.id }, options)
  }

  /** React to a message with an emoji, or (`remove`) take that reaction back. */
  async react (topicId: string, targetId: string, emoji: string, options: SendOptions & { remove?: boolean } = {}): Promise<ChatMessage> {
    const group = this.parts().registry.require(topicId)
    const e = typeof emoji === 'string' ? emoji.trim() : ''
    // eslint-disable-next-line no-control-regex
    if (e === '' || Buffer.byteLength(e) > MAX_EMOJI_BYTES || /[\s\u0000-\u001f\u007f]/.test(e)) {
      throw new InvalidInputError(`a reaction is one emoji: 1 to ${MAX_EMOJI_BYTES} bytes, no spaces or control characters`)
    }
    const target = await this.actTarget(group, targetId, 'react to')
    return this.postTo(group, { kind: KIND_REACTION, target: target.id, emoji: e, ...(options.remove === true ? { remove: true } : {}) }, options)
  }

  /** Replace the text of one of this node's own messages (a file's caption); earlier versions stay in history. */
  async edit (topicId: string, targetId: string, text: string, options: SendOptions = {}): Promise<ChatMessage> {
    const group = this.parts().registry.require(topicId)
    checkText(text)
    const target = await this.actTarget(group, targetId, 'edit', true)
    if (target.kind !== KIND_TEXT && target.kind !== KIND_FILE) throw new InvalidInputError(`message ${targetId} is of a kind this version cannot edit (kind ${target.kind})`)
    const { mentions } = await this.textDraft(group, text, options)
    return this.postTo(group, { kind: KIND_EDIT, target: target.id, text, ...(mentions != null ? { mentions } : {}) }, options)
  }

  /**
   * Delete one of this node's own messages: every member shows a tombstone
   * instead, and drops the sealed original (and its edits) from its store.
   * Deletes by group admins wait for group roles (issue 15).
   */
  async deleteMessage (topicId: string, targetId: string, options: SendOptions = {}): Promise<ChatMessage> {
    const group = this.parts().registry.require(topicId)
    const target = await this.actTarget(group, targetId, 'delete', true)
    return this.postTo(group, { kind: KIND_DELETE, target: target.id }, options)
  }

  /** The full hex id of a group's message, from its id or a unique prefix of 8 or more hex characters (a leading # is allowed). */
  async messageId (topicId: string, idOrPrefix: string): Promise<string> {
    const { store, registry } = this.parts()
    const group = registry.require(topicId)
    const p = typeof idOrPrefix === 'string' ? idOrPrefix.trim().toLowerCase().replace(/^#/, '') : ''
    if (!/^[0-9a-f]{8,64}$/.test(p)) throw new InvalidInputError(`"${idOrPrefix}" is not a message id: give its hex id, or its first 8 or more hex characters`)
    const ids = await store.idsWithPrefix(group.keys.groupId, p, 2)
    if (ids.length === 0) throw new MessageNotFoundError(`no message ${p} in ${topicId}`)
    if (ids.length > 1) throw new InvalidInputError(`several messages in ${topicId} start with ${p}: give more of the id`)
    return ids[0]
  }

  /**
   * History as users see it (src/chat/view.ts): a page of messages, newest
   * first, each with its latest text, edit state, reactions and reply
   * quote, deleted ones as tombstones; `limit` counts the messages shown,
   * `before` is the previous page's `next`. Reactions, edits and deletes
   * come after what they act on in history, so the records are read from
   * the newest down: a page deep in history costs the reads above it.
   */
  async view (topicId: string, query: HistoryQuery = {}): Promise<ViewResult> {
    const group = this.parts().registry.require(topicId)
    const limit = query.limit ?? DEFAULT_HISTORY_LIMIT
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) throw new InvalidInputError(`limit must be a whole number from 1 to ${MAX_HISTORY_LIMIT}`)
    const before = query.before
    if (before != null && !isCursor(before)) throw new InvalidInputError('invalid cursor')
    const below = (c: string | undefined): boolean => before == null || (c != null && c < before)
    const messages: ChatMessage[] = []
    const dropped: DroppedMessage[] = []
    const opened = new Map<string, Decoded>()
    const ids = new Set<string>()
    let shown = 0
    /** once the page is read: the messages its replies quote that were not read yet, and how many more records were read for them */
    let quoted: Set<string> | undefined
    let extra = 0
    // a page of `limit` messages is about that many records and the reactions and edits among them
    for await (const page of this.newestPages(group, limit + (limit >> 1) + 16)) {
      for (const m of page.messages) {
        messages.push(m)
        ids.add(m.id)
        if (isShownKind(m.kind) && below(m.cursor)) shown++
      }
      for (const d of page.dropped) {
        dropped.push(d)
        ids.add(d.id)
        if (d.kindNumber !== KIND_REACTION && d.kindNumber !== KIND_EDIT && d.kindNumber !== KIND_DELETE && below(d.cursor)) shown++
      }
      for (const [id, o] of page.opened) opened.set(id, o)
      if (quoted == null && shown > limit) {
        const items = messages.filter(m => isShownKind(m.kind) && below(m.cursor)).sort(historyOrder).slice(-limit)
        quoted = new Set(items.flatMap(m => m.replyTo != null && !ids.has(m.replyTo) ? [m.replyTo] : []))
      } else if (quoted != null) {
        extra += page.messages.length
        for (const m of page.messages) quoted.delete(m.id)
        for (const d of page.dropped) quoted.delete(d.id)
      }
      if (quoted != null && (quoted.size === 0 || extra >= QUOTE_SCAN_RECORDS)) break
    }
    const folded = foldView(messages, dropped)
    const items = folded.messages.filter(m => below(m.cursor)).reverse()
    const out = items.slice(0, limit)
    for (const m of out) if (m.quote?.missing === true) m.quote = await this.quoteOf(group, m.quote.id)
    this.dropFolded(group, folded.droppable, opened)
    return { messages: out, ...(items.length > limit ? { next: out[out.length - 1].cursor } : {}), rejected: folded.rejected.length }
  }

  /** One message as `view` shows it; undefined when it is not a message of the group (a reaction, say). */
  async viewMessage (topicId: string, idOrPrefix: string): Promise<ViewMessage | undefined> {
    const group = this.parts().registry.require(topicId)
    const id = await this.messageId(topicId, idOrPrefix)
    return (await this.foldTargets(group, new Set([id]), Infinity)).get(id)
  }

  /** The target of a reply, reaction, edit or delete: held, a message (not an act), not deleted; with `own`, written by this node. */
  private async actTarget (group: Group, idOrPrefix: string, verb: string, own = false): Promise<{ id: Uint8Array, kind: number }> {
    const { store, signer } = this.parts()
    const gid = group.keys.groupId
    const idHex = await this.messageId(group.topicId, idOrPrefix)
    const short = idHex.slice(0, 12)
    const deleted = new MessageNotFoundError(`message ${short} in ${group.topicId} was deleted by its author: nothing to ${verb}`)
    if (store.tombstone(gid, idHex) != null) throw deleted
    const bytes = await store.get(Buffer.from(idHex, 'hex'))
    const opened = bytes != null ? open(group.keys, bytes) : undefined
    if (opened?.ok !== true) throw new MessageNotFoundError(`no message ${short} in ${group.topicId}`)
    const m = opened.message
    const kind = m.envelope.kind
    // what history does not show (a membership op, a removed member's message) is nothing to act on
    if (this.parts().membership.hidden(group, kind, hexOf(m.envelope.author), sortKey(m.envelope.lamport, m.envelope.timestamp, idHex))) throw new MessageNotFoundError(`no message ${short} in ${group.topicId}`)
    if (kind === KIND_REACTION || kind === KIND_EDIT || kind === KIND_DELETE) {
      throw new InvalidInputError(`${short} is a ${kind === KIND_REACTION ? 'reaction' : kind === KIND_EDIT ? 'edit' : 'delete'}, not a message: ${verb} the message it acts on (${hexOf(m.body.target).slice(0, 12)})`)
    }
    if (store.deletedBy(gid, idHex)?.has(hexOf(m.envelope.author)) === true) throw deleted
    if (own && !Buffer.from(m.envelope.author).equals(signer.publicKey)) {
      // eslint-disable-next-line no-control-regex
      const name = m.body.name.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '?')
      throw new NotYourMessageError(`message ${short} was written by ${name}~${authorPeerId(m.envelope.author).slice(-4)}: only its author can ${verb} it (deletes by group admins come with group roles, issue 15)`)
    }
    return { id: m.id, kind }
  }

  /**
   * A group's records newest first, a page at a time, each with the
   * tombstones of dropped records in its stretch of history; steps grow from
   * `first` records to VIEW_SCAN_PAGE. Read with peek (MAC, decryption,
   * decoding; no second signature check: every stored record passed open()
   * when it was stored, by ingest or import), and kept decoded (records
   * never change): folding the records above a page is what a view costs.
   */
  private async * newestPages (group: Group, first = 64): AsyncGenerator<{ messages: ChatMessage[], dropped: DroppedMessage[], opened: Map<string, Decoded> }> {
    const { store, signer } = this.parts()
    const gid = group.keys.groupId
    const self = hexOf(signer.publicKey)
    const stones = (await store.tombstones(gid)).flatMap(t => t.cursor != null ? [{ ...t, cursor: t.cursor }] : []).sort((a, b) => a.cursor < b.cursor ? 1 : -1)
    let s = 0
    let before: string | undefined
    let step = Math.max(1, Math.min(first, VIEW_SCAN_PAGE))
    while (true) {
      const page = await store.history(gid, { limit: step, before })
      step = Math.min(step * 2, VIEW_SCAN_PAGE)
      const messages: ChatMessage[] = []
      const opened = new Map<string, Decoded>()
      for (const record of page.records) {
        const key = `${gid}!${record.cursor}`
        let d = this.decoded.get(key)
        if (d != null) {
          this.decoded.delete(key)
        } else {
          const o = peek(group.keys, record.bytes)
          if (!o.ok) {
            log.error('stored record %s in %s fails verification: %s', record.cursor, group.topicId, o.reason)
            continue
          }
          const m: ChatMessage = { ...toChatMessage(group, o.message, signer.publicKey), cursor: record.cursor }
          if (record.arrivedLate != null) m.arrivedLate = record.arrivedLate
          if (record.misordered === true) m.misordered = true
          d = { m, id: o.message.id, envelope: o.message.envelope, authorHex: hexOf(o.message.envelope.author) }
          if (this.decoded.size >= MAX_DECODED) this.decoded.delete(this.decoded.keys().next().value ?? '')
        }
        this.decoded.set(key, d)
        if (this.parts().membership.hidden(group, d.envelope.kind, d.authorHex, record.cursor)) continue
        const m = this.withMarks(gid, { ...d.m })
        messages.push(m)
        opened.set(m.id, d)
      }
      const low = page.next != null ? page.next : undefined
      const dropped: DroppedMessage[] = []
      for (; s < stones.length && (low == null || stones[s].cursor >= low); s++) {
        const t = stones[s]
        dropped.push({
          id: t.id,
          topicId: group.topicId,
          author: authorPeerId(Buffer.from(t.author, 'hex')),
          cursor: t.cursor,
          lamport: Number(BigInt('0x' + t.cursor.slice(0, 16))),
          timestamp: Number(BigInt('0x' + t.cursor.slice(16, 28))),
          seq: Number(t.seq),
          kindNumber: t.kind,
          own: t.author === self
        })
      }
      yield { messages, dropped, opened }
      if (page.next == null) return
      before = page.next
    }
  }

  /** These messages as `view` shows them, read from the newest record down until all are found (or `maxRecords` were read). */
  private async foldTargets (group: Group, ids: ReadonlySet<string>, maxRecords: number): Promise<Map<string, ViewMessage>> {
    const messages: ChatMessage[] = []
    const dropped: DroppedMessage[] = []
    const left = new Set(ids)
    let read = 0
    for await (const page of this.newestPages(group)) {
      messages.push(...page.messages)
      dropped.push(...page.dropped)
      for (const m of page.messages) left.delete(m.id)
      for (const d of page.dropped) left.delete(d.id)
      read += page.messages.length
      if (left.size === 0 || read >= maxRecords) break
    }
    const out = new Map<string, ViewMessage>()
    for (const m of foldView(messages, dropped).messages) {
      if (!ids.has(m.id)) continue
      if (m.quote?.missing === true) m.quote = await this.quoteOf(group, m.quote.id)
      out.set(m.id, m)
    }
    return out
  }

  /** A reply's quote of a message older than what was read: as stored (its edits not applied), or deleted, or missing. */
  private async quoteOf (group: Group, idHex: string): Promise<Quote> {
    const { store } = this.parts()
    const gid = group.keys.groupId
    const t = store.tombstone(gid, idHex)
    if (t != null) return { id: idHex, author: authorPeerId(Buffer.from(t.author, 'hex')), deleted: true }
    const bytes = await store.get(Buffer.from(idHex, 'hex'))
    const o = bytes != null ? open(group.keys, bytes) : undefined
    if (o?.ok !== true) return { id: idHex, missing: true }
    const m = toChatMessage(group, o.message, this.parts().signer.publicKey)
    if (!isShownKind(m.kind)) return { id: idHex, missing: true }
    if (store.deletedBy(gid, idHex)?.has(hexOf(o.message.envelope.author)) === true) return { id: idHex, author: m.author, name: m.name, kind: m.kind, deleted: true }
    return { id: idHex, author: m.author, name: m.name, kind: m.kind, text: quoteText(m.kind === 'file' && m.text === '' ? m.file?.name ?? '' : m.text) }
  }

  /** Records a fold found deleted by their author but still held (a backup of before the delete, imported): dropped now, in the background. */
  private dropFolded (group: Group, ids: readonly string[], opened: ReadonlyMap<string, Decoded>): void {
    for (const id of ids) {
      if (!opened.has(id)) continue
      this.kindsWork(group, async () => {
        const bytes = await this.parts().store.get(Buffer.from(id, 'hex'))
        const p = bytes != null ? peek(group.keys, bytes) : undefined
        if (p?.ok === true) await this.dropDeleted(group, p.message, false)
      })
    }
  }

  /**
   * A message was stored (own, gossip, sync or a backup): what its kind
   * does to the store and to what is shown. A delete drops its target (if
   * held and its author's) and that author's edits of it; a message whose
   * author deleted it already (the delete came first), or an edit of such a
   * message, is dropped on arrival: true, not to be shown. Reactions,
   * edits and deletes tell `updated` about their target (once it is there).
   */
  /** Is this message, once stored, dropped at once (no side effect): its author deleted it already, or it edits one the author deleted */
  private kindsDrops (group: Group, msg: OpenedMessage): 'deleted' | 'edit-of-deleted' | undefined {
    const store = this.running?.store
    if (store == null) return undefined
    const gid = group.keys.groupId
    const env = msg.envelope
    const authorHex = hexOf(env.author)
    const isAct = env.kind === KIND_REACTION || env.kind === KIND_EDIT || env.kind === KIND_DELETE
    if (!isAct && store.deletedBy(gid, hexOf(msg.id))?.has(authorHex) === true) return 'deleted'
    const target = msg.body.target.byteLength > 0 ? hexOf(msg.body.target) : undefined
    if (env.kind === KIND_EDIT && target != null && store.tombstone(gid, target)?.author === authorHex) return 'edit-of-deleted'
    return undefined
  }

  private kindsStored (group: Group, msg: OpenedMessage): boolean {
    const running = this.running
    if (running == null) return false
    const { store } = running
    const gid = group.keys.groupId
    const env = msg.envelope
    const idHex = hexOf(msg.id)
    const authorHex = hexOf(env.author)
    const target = msg.body.target.byteLength > 0 ? hexOf(msg.body.target) : undefined
    const isAct = env.kind === KIND_REACTION || env.kind === KIND_EDIT || env.kind === KIND_DELETE
    const drops = this.kindsDrops(group, msg)
    if (drops != null) {
      this.kindsWork(group, async () => { await this.dropDeleted(group, msg, drops === 'deleted') })
      return true
    }
    if (env.kind === KIND_DELETE && target != null) {
      // known at once (deletedBy), written in the background
      const noted = store.noteDelete(gid, target, authorHex)
      noted.catch(() => { /* the task below awaits it and logs */ })
      this.kindsWork(group, async () => { await noted; await this.deleteArrived(group, msg, target) })
    } else if (isAct && target != null) {
      if (this.listenerCount('updated') > 0) this.kindsWork(group, async () => { await this.actArrived(group, target) })
    } else {
      const awaited = this.awaitedTargets.get(gid)
      if (awaited?.delete(idHex) === true) this.queueUpdate(group, idHex)
    }
    // its prev names a record its author deleted that this node never held: that record is held as dropped, so that sync stops looking for it
    if (env.seq > 1n && env.prev.byteLength === 32) {
      const prevHex = hexOf(env.prev)
      if (store.deletedBy(gid, prevHex)?.has(authorHex) === true && store.tombstone(gid, prevHex) == null) {
        this.kindsWork(group, async () => { await store.holdDropped(gid, env.prev, { author: env.author, seq: env.seq - 1n, kind: 0, cursor: justBefore(msg) }) })
      }
    }
    return false
  }

  /**
   * A record taken as dropped before it came (see deleteArrived) came after
   * all: by the author who deleted it, it is not stored and its tombstone
   * goes to its own place (true); by another (the delete and the successor
   * that named it were a third member's forgery), the tombstone is
   * forgotten and the message is stored like any (false).
   */
  private async kindsDropped (group: Group, msg: OpenedMessage): Promise<boolean> {
    const store = this.running?.store
    const gid = group.keys.groupId
    const idHex = hexOf(msg.id)
    const t = store?.tombstone(gid, idHex)
    if (store == null || t == null) return false
    const e = msg.envelope
    if (t.author !== hexOf(e.author)) {
      await store.forgetDropped(gid, idHex)
      return false
    }
    this.kindsWork(group, async () => { await store.placeTombstone(gid, idHex, { cursor: sortKey(e.lamport, e.timestamp, idHex), kind: e.kind }) })
    return true
  }

  /** Records restored from a backup: as kindsStored (deletes take effect), without events. */
  private kindsImported (group: Group, records: readonly StorableMessage[]): void {
    const store = this.running?.store
    if (store == null) return
    for (const r of records) {
      const p = peek(group.keys, r.bytes)
      if (!p.ok) continue
      if (store.tombstone(group.keys.groupId, hexOf(p.message.id)) == null) {
        this.kindsStored(group, p.message)
        continue
      }
      // not stored (its id was held): placed, or stored after all when its tombstone was a forgery
      this.kindsWork(group, async () => {
        if (await this.kindsDropped(group, p.message)) return
        if (await store.append(group.keys.groupId, r)) this.kindsStored(group, p.message)
      })
    }
  }

  /** Per group, the background work of kindsStored, one task after the other (errors logged). */
  private kindsWork (group: Group, task: () => Promise<void>): void {
    const gid = group.keys.groupId
    const next = (this.kindsQueue.get(gid) ?? Promise.resolve()).then(task).catch((err: unknown) => { if (this.running != null) log.error('kinds in %s: %e', group.topicId, err) })
    this.kindsQueue.set(gid, next)
    void next.finally(() => { if (this.kindsQueue.get(gid) === next) this.kindsQueue.delete(gid) })
  }

  /** A delete was stored (and noted): its target dropped when held and its author's, or taken as dropped when its successor names it. */
  private async deleteArrived (group: Group, d: OpenedMessage, targetHex: string): Promise<void> {
    const { store } = this.parts()
    const gid = group.keys.groupId
    const byHex = hexOf(d.envelope.author)
    const bytes = await store.get(Buffer.from(targetHex, 'hex'))
    const t = bytes != null ? peek(group.keys, bytes) : undefined
    if (t?.ok === true) {
      const k = t.message.envelope.kind
      if (hexOf(t.message.envelope.author) === byHex && k !== KIND_REACTION && k !== KIND_EDIT && k !== KIND_DELETE) await this.dropDeleted(group, t.message, true)
      this.queueUpdate(group, targetHex)
      return
    }
    if (store.tombstone(gid, targetHex) != null) return
    // never held: the author's next message may name it as its prev (then it is that seq)
    const author = d.envelope.author
    const held = (await store.seqIndex(gid)).get(byHex)
    for (const [start] of held?.ranges(64) ?? []) {
      if (start <= 1n) continue
      const nextId = await store.idAtSeq(gid, author, start)
      const next = nextId != null ? await store.get(nextId) : undefined
      const p = next != null ? peek(group.keys, next) : undefined
      if (p?.ok === true && hexOf(p.message.envelope.prev) === targetHex) {
        await store.holdDropped(gid, Buffer.from(targetHex, 'hex'), { author, seq: start - 1n, kind: 0, cursor: justBefore(p.message) })
        return
      }
    }
    this.awaitTarget(gid, targetHex)
  }

  /** Drop a record its author deleted (and with `edits`, that author's edits of it, which come after it in history). */
  private async dropDeleted (group: Group, m: OpenedMessage, edits: boolean): Promise<void> {
    const { store, search, unread } = this.parts()
    const gid = group.keys.groupId
    const e = m.envelope
    const idHex = hexOf(m.id)
    const cursor = sortKey(e.lamport, e.timestamp, idHex)
    await store.drop(gid, m.id, { author: e.author, seq: e.seq, kind: e.kind, cursor })
    // its words leave the search index with it, and it is no longer unread
    await search.forget(group, m, cursor)
    unread.invalidate(gid)
    if (!edits) return
    const author = Buffer.from(e.author)
    let before: string | undefined
    while (true) {
      const page = await store.history(gid, { limit: VIEW_SCAN_PAGE, before })
      for (const r of page.records) {
        if (r.cursor <= cursor) return
        const p = peek(group.keys, r.bytes)
        if (!p.ok || p.message.envelope.kind !== KIND_EDIT || !author.equals(p.message.envelope.author) || hexOf(p.message.body.target) !== idHex) continue
        const pe = p.message.envelope
        await store.drop(gid, p.message.id, { author: pe.author, seq: pe.seq, kind: pe.kind, cursor: r.cursor })
        await search.forget(group, p.message, r.cursor)
      }
      if (page.next == null) return
      before = page.next
    }
  }

  /** A reaction or edit was stored: its target's view changed, or will once it arrives. */
  private async actArrived (group: Group, targetHex: string): Promise<void> {
    if (await this.parts().store.has(Buffer.from(targetHex, 'hex'))) this.queueUpdate(group, targetHex)
    else this.awaitTarget(group.keys.groupId, targetHex)
  }

  private awaitTarget (gid: string, targetHex: string): void {
    if (this.listenerCount('updated') === 0) return
    const set = this.awaitedTargets.get(gid) ?? new Set<string>()
    if (set.size >= MAX_AWAITED_TARGETS) set.delete(set.values().next().value ?? '')
    set.add(targetHex)
    this.awaitedTargets.set(gid, set)
  }

  /** Tell `updated` about a message a moment from now: a burst of changes costs one read of history. */
  private queueUpdate (group: Group, idHex: string): void {
    if (this.listenerCount('updated') === 0) return
    const gid = group.keys.groupId
    let q = this.viewUpdates.get(gid)
    if (q == null) {
      q = { group, ids: new Set(), busy: false }
      this.viewUpdates.set(gid, q)
    }
    q.ids.add(idHex)
    if (q.timer == null && !q.busy) {
      q.timer = setTimeout(() => { void this.flushUpdates(gid) }, UPDATE_DELAY_MS)
      q.timer.unref()
    }
  }

  private async flushUpdates (gid: string): Promise<void> {
    const q = this.viewUpdates.get(gid)
    if (q == null) return
    q.timer = undefined
    const ids = q.ids
    q.ids = new Set()
    q.busy = true
    try {
      if (!this.started) return
      const views = await this.foldTargets(q.group, ids, UPDATE_SCAN_RECORDS)
      for (const [id, message] of views) this.emit('updated', { topicId: q.group.topicId, id, message })
    } catch (err) {
      if (this.started) log.error('updates of %s not told: %e', q.group.topicId, err)
    } finally {
      q.busy = false
      if (q.ids.size === 0) this.viewUpdates.delete(gid)
      else if (this.started) {
        q.timer = setTimeout(() => { void this.flushUpdates(gid) }, UPDATE_DELAY_MS)
        q.timer.unref()
      }
    }
  }

  private clearViewUpdates (): void {
    this.decoded.clear()
    for (const q of this.viewUpdates.values()) clearTimeout(q.timer)
    this.viewUpdates.clear()
    this.awaitedTargets.clear()
  }

  /** per group id: messages whose view changed, told as `updated` a moment later */
  private readonly viewUpdates = new Map<string, { group: Group, ids: Set<string>, timer?: NodeJS.Timeout, busy: boolean }>()
  /** per group id: targets of reactions, edits and deletes stored before them (told once they arrive) */
  private readonly awaitedTargets = new Map<string, Set<string>>()
  /** records decoded by newestPages, by group id and cursor, least recently read first */
  private readonly decoded = new Map<string, Decoded>()
  /** per group id: the background work of kindsStored, chained */
  private readonly kindsQueue = new Map<string, Promise<void>>()

  /**
   * `send` with an idempotency key, telling whether it was a repeat (the
   * message stored the first time) or stored now.
   */
  async sendIdempotent (topicId: string, text: string, idempotencyKey: string, options: Pick<SendOptions, 'mentions'> = {}): Promise<{ message: ChatMessage, repeated: boolean }> {
    const { registry } = this.parts()
    const group = registry.require(topicId)
    checkText(text)
    return this.sendKeyed(group, await this.textDraft(group, text, options), idempotencyKey)
  }

  private async sendKeyed (group: Group, draft: MessageDraft, key: string): Promise<{ message: ChatMessage, repeated: boolean }> {
    if (key.length < 1 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
      throw new InvalidInputError(`an idempotency key is 1-${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters without spaces`)
    }
    // the same key twice at once: the second waits for the first, and is a repeat
    const slot = `${group.keys.groupId}/${key}`
    const current = this.sending.get(slot)
    if (current != null) return { message: (await current).message, repeated: true }
    const sent = this.sendOnce(group, draft, key).finally(() => this.sending.delete(slot))
    this.sending.set(slot, sent)
    return sent
  }

  private readonly refusedCounts: Omit<IngestCounts, 'rateLimited'> = { future: 0, clockJump: 0, equivocations: 0, misordered: 0, quota: 0 }

  /** Messages refused or flagged on ingest since start. */
  ingestCounts (): IngestCounts {
    return { ...this.refusedCounts, rateLimited: this.running?.limiter.refused ?? 0 }
  }

  /** sends under way by group id and idempotency key */
  private readonly sending = new Map<string, Promise<{ message: ChatMessage, repeated: boolean }>>()

  private async sendOnce (group: Group, draft: MessageDraft, key: string): Promise<{ message: ChatMessage, repeated: boolean }> {
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
    return { message: await this.sendNew(group, draft, key), repeated: false }
  }

  private async sendNew (group: Group, draft: MessageDraft, idempotencyKey?: string): Promise<ChatMessage> {
    const { outbox, signer } = this.parts()
    // numbered, sealed, in the journal, published and written by writeOwn
    const sealed = await outbox.push(group.keys.groupId, { group, draft, idempotencyKey })
    if (sealed instanceof Error) throw sealed
    const message = toChatMessage(group, sealed, signer.publicKey)
    message.cursor = sortKey(sealed.envelope.lamport, sealed.envelope.timestamp, message.id)
    this.parts().membership.stored(group, sealed)
    if (sealed.envelope.kind !== KIND_OP) this.emit('message', message, { via: 'own' })
    this.kindsStored(group, sealed)
    return message
  }

  /**
   * One batch of the group commit of this node's own messages (see Outbox):
   * numbered, sealed and handed to the store together. Batches are numbered
   * and sealed one after the other, the next one while the last is being
   * written (Outbox depth 2, issue 16 cause 4). A batch is published as soon
   * as the store has claimed it, which puts it in the history's journal
   * (src/store/journal.ts): on disk, read back at the next start after a
   * crash, so a published number is never reused; its numbers are taken
   * then. The batch settles once it is in LevelDB (the send's
   * acknowledgement). A batch whose claim fails (the journal cannot be
   * written: a full disk) is not published and its numbers are not taken;
   * one sealed after it is stored but not published (its `prev` names a
   * message nobody will have), and fails.
   */
  private async writeOwn (groupId: string, items: OwnMessage[]): Promise<Array<OpenedMessage | Error>> {
    const prior = this.ownSealing.get(groupId) ?? Promise.resolve()
    const step = prior.then(async () => this.sealOwn(groupId, items))
    this.ownSealing.set(groupId, step.then(() => undefined, () => undefined))
    const { sealed, tail, after } = await step
    if (tail == null) return sealed
    const { clocks, links, search, libp2p, membership } = this.parts()
    let failure: Error | undefined
    try {
      await tail.claim
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err))
    }
    // the batch before this one: its outcome first (a failed one fails those numbered after it)
    const earlier = after != null ? await after.claimed : true
    if (this.ownTails.get(groupId) === tail) this.ownTails.delete(groupId)
    if (failure != null) throw failure
    // in the journal: its numbers are taken, even when an earlier batch failed (never reused; that batch's numbers stay a gap)
    clocks.observe(groupId, tail.lamport, true, tail.seq)
    for (const m of tail.messages) links.note(groupId, m.id, m.envelope)
    if (!earlier) {
      tail.write.catch(() => {})
      log.error('an own batch in %s was stored after the one before it failed: %d message(s) not sent', groupId, tail.messages.length)
      throw new DataDirError('a write before this one failed: not sent (it is stored and numbered; sync offers it later)')
    }
    const group = items[0].group
    const publish = (): void => {
      const topic = membership.wireTopic(group)
      for (const m of tail.messages) {
        // in the journal: sync delivers it later should this fail
        libp2p.services.pubsub.publish(topic, m.bytes).catch((err: unknown) => { log.error('publish to %s failed: %e', group.topicId, err) })
      }
    }
    // a membership op is published once written, as before: this node folds it (sendNew) right after, before
    // the members' answers to it (messages of a new epoch) can come back
    const ops = tail.messages.some(m => m.envelope.kind === KIND_OP)
    if (!ops) publish()
    // the acknowledgement waits for LevelDB (should it fail, the journal is read back at the next start)
    await tail.write
    if (ops) publish()
    for (const st of tail.storables) search.stored(groupId, st)
    return sealed
  }

  /** own batches per group: the one sealed last, while its write may be in flight (the next is numbered after it) */
  private readonly ownTails = new Map<string, OwnTail>()
  /** per group: the sealing of own batches, one after the other */
  private readonly ownSealing = new Map<string, Promise<void>>()

  /** Number and seal a batch after the last one sealed (written or not), and hand it to the store */
  private async sealOwn (groupId: string, items: OwnMessage[]): Promise<{ sealed: Array<OpenedMessage | Error>, tail?: OwnTail, after?: OwnTail }> {
    const { store, clocks, signer, links } = this.parts()
    const now = Date.now()
    const after = this.ownTails.get(groupId)
    const read = clocks.read(groupId)
    let seq = after != null && after.seq > read.seq ? after.seq : read.seq
    let lamport = after != null && after.lamport > read.lamport ? after.lamport : read.lamport
    const parents = links.parentsFor(groupId, signer.publicKey)
    let prev = seq > 0n ? after?.lastId ?? links.idAt(groupId, signer.publicKey, seq) ?? await store.idAtSeq(groupId, signer.publicKey, seq) : undefined
    // a draft that breaks the envelope rules fails alone: the others of its batch are still sent
    const sealed: Array<OpenedMessage | Error> = []
    const messages: OpenedMessage[] = []
    const storables: StorableMessage[] = []
    items.forEach(({ group, draft, idempotencyKey }) => {
      try {
        const m = seal(this.parts().registry.sealingKeys(group), signer, { ...draft, seq: seq + 1n, lamport: lamport + 1n, timestamp: now, name: this.displayName, prev, parents })
        seq++
        lamport++
        sealed.push(m)
        messages.push(m)
        storables.push({ ...toStorable(m, idempotencyKey), ...indexFields(items[0].group, m) })
        prev = m.id
      } catch (err) {
        sealed.push(err instanceof RangeError ? new InvalidInputError(err.message.replace(/^cannot seal: /, 'invalid message: ')) : err as Error)
      }
    })
    if (messages.length === 0) return { sealed }
    const { claimed: claim, written: write } = store.stageMany(groupId, storables)
    const tail: OwnTail = { seq, lamport, lastId: messages[messages.length - 1].id, messages, storables, claim, claimed: claim.then(() => true, () => false), write }
    this.ownTails.set(groupId, tail)
    return { sealed, tail, ...(after != null ? { after } : {}) }
  }

  /**
   * Verify, store and announce one sealed envelope from the network (gossip,
   * sync or import). Duplicates are ignored, forgeries rejected. Never throws
   * for bad input.
   */
  async ingest (group: Group, data: Uint8Array, from: string, via: MessageOrigin['via'] = 'gossip'): Promise<Verdict> {
    // Verification is CPU on the event loop the API shares: under a flood, validations queued as microtasks
    // would run back to back and starve every request. Past a few in flight, they wait for turns of the event
    // loop, INGEST_PER_TURN a turn, so that API requests and timers run between them.
    this.ingesting++
    try {
      if (this.ingesting > INGEST_YIELD_AFTER) await this.nextTurn()
      return await this.ingestOne(group, data, from, via)
    } finally {
      this.ingesting--
    }
  }

  /**
   * The last check of open(), the Ed25519 signature: on the event loop while ingests do not queue up (the
   * lowest latency), on the verification thread while they do or while it still holds some (so answers keep
   * their order): the event loop is then left to the network, the store and the API. undefined when valid.
   */
  private async signatureProblem (author: Uint8Array, signed: Uint8Array, signature: Uint8Array): Promise<string | undefined> {
    const thread = this.running?.signatures
    const offload = thread != null && SPARE_CORE && (this.ingesting > INGEST_YIELD_AFTER || thread.pending > 0)
    const valid = offload ? await thread.verify(author, signed, signature) : verifyEd25519(author, signed, signature)
    return valid ? undefined : 'bad signature'
  }

  /** ingests under way (see ingest) */
  private ingesting = 0
  /** ingests waiting for a turn of the event loop */
  private readonly turnQueue: Array<() => void> = []
  private turnScheduled = false

  private async nextTurn (): Promise<void> {
    return new Promise<void>(resolve => {
      this.turnQueue.push(resolve)
      if (!this.turnScheduled) {
        this.turnScheduled = true
        setImmediate(this.releaseTurn)
      }
    })
  }

  /** one turn: let INGEST_PER_TURN waiting ingests go, the rest wait for the next turn (after I/O) */
  private readonly releaseTurn = (): void => {
    this.turnScheduled = false
    for (const go of this.turnQueue.splice(0, INGEST_PER_TURN)) go()
    if (this.turnQueue.length > 0) {
      this.turnScheduled = true
      setImmediate(this.releaseTurn)
    }
  }

  private async ingestOne (group: Group, data: Uint8Array, from: string, via: MessageOrigin['via']): Promise<Verdict> {
    const inner = openUnverified(group.keys, data)
    const reason = inner.ok ? await this.signatureProblem(inner.message.envelope.author, inner.signedData, inner.signature) : inner.reason
    if (!inner.ok || reason != null) {
      log('rejected a message in %s from %s: %s', group.topicId, from, reason)
      this.emit('rejected', { topicId: group.topicId, from, reason: reason ?? 'bad signature' })
      return 'reject'
    }
    const msg = inner.message
    openedKeys.set(data, { author: Buffer.from(msg.envelope.author).toString('hex'), seq: msg.envelope.seq })
    const running = this.running
    if (running == null) return 'ignore'
    const gid = group.keys.groupId
    const env = msg.envelope
    // issue 15: a removed member's messages after its removal, an admin op by a non-admin, a malformed op
    const refused = running.membership.refuse(group, msg)
    if (refused != null) {
      log('refused a message in %s from %s: %s', group.topicId, from, refused.reason)
      this.emit('rejected', { topicId: group.topicId, from, reason: refused.reason })
      return refused.verdict
    }
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
    // one author, one seq, two messages: an equivocation (kept, both, as evidence; told). Found by the
    // seq index, or (v2) by a prev link naming another message than the one held at seq - 1
    const sameSeq = running.store.holdsSeq(gid, env.author, env.seq) === true && !await running.store.has(msg.id)
    // read before the append, which points the author's seq at the newer version
    const heldAtSeq = sameSeq ? await running.store.idAtSeq(gid, env.author, env.seq) : undefined
    const links = running.links.check(gid, env)
    // a Lamport value that contradicts the message's own links is the author's lie: stored like any message
    // (every member stores the same), marked as misordered wherever it is seen to be
    const misordered = !links.ok
    const now = Date.now()
    const late = via !== 'own' && Number(env.timestamp) < now - LATE_AFTER_MS
    const storable = { ...(late || misordered ? toLateStorable(msg, late ? now : 0, misordered) : toStorable(msg)), ...indexFields(group, msg) }
    // its author deleted it and this node took it as dropped before it came (src/chat/view.ts): never stored
    if (await this.kindsDropped(group, msg)) return 'ignore'
    // a member's flood (src/chat/quota.ts): gossip beyond the author's rate (and then what sync brings of that author
    // too), or bytes beyond its daily budget, are not stored: ignored (not forwarded, no penalty; sync offers them
    // again later). A catch-up of an author within its rate is budgeted only, and only for messages dated within
    // the budget's window: history older than that (a new member catching up years) is not a flood. A duplicate
    // gives its share back.
    const authorHex = Buffer.from(env.author).toString('hex')
    // sync is not rate-limited (an honest fast sender's refused gossip comes back by sync), only budgeted
    const rated = { rate: via === 'gossip' }
    const counted = rated.rate || Number(env.timestamp) >= now - this.quota.windowMs
    if (counted && !this.quota.take(gid, authorHex, data.byteLength, now, rated)) {
      this.refusedCounts.quota++
      log('ignored a message in %s from %s: its author is over its quota', group.topicId, from)
      return 'ignore'
    }
    const staged = running.store.stage(gid, storable)
    if (!await staged.claimed) {
      if (counted) this.quota.refund(gid, authorHex, data.byteLength, now, rated)
      return 'ignore'
    }
    // issue 16: proven new, claimed for the batch being written and so in the history's journal (on disk, read back
    // at the next start after a crash: src/store/journal.ts): the node's state, the message event and (gossip) the
    // Accept that forwards it now, with the LevelDB write in flight (reads wait for it)
    running.links.note(gid, msg.id, env)
    const conflictWith = heldAtSeq ?? (links.ok ? links.conflictWith : undefined)
    // our own message coming back (e.g. from a backup or another device's sync) also raises our seq
    const own = Buffer.from(msg.envelope.author).equals(running.signer.publicKey)
    running.clocks.observe(gid, msg.envelope.lamport, own, msg.envelope.seq)
    const shown = this.withMarks(gid, toChatMessage(group, msg, running.signer.publicKey))
    shown.cursor = sortKey(env.lamport, env.timestamp, shown.id)
    if (late) shown.arrivedLate = now
    if (misordered) shown.misordered = true
    if (conflictWith != null) shown.conflict = true
    // ops and messages of non-members are held, not shown (src/membership); one its author deleted already is dropped
    const showable = !running.membership.hidden(group, env.kind, hexOf(env.author), shown.cursor) && this.kindsDrops(group, msg) == null
    running.unread.noted(gid, shown.cursor, !own && showable && isShownKind(shown.kind), showable && shown.mentionsMe === true)
    if (showable) this.emit('message', shown, { via, from })
    const stored = this.afterWritten(group, msg, storable, staged.written, from, conflictWith, misordered ? links.reason : undefined)
    // gossip is answered now (the journal holds it); a membership op waits for its write, so that the fold has
    // it before the next op is checked; sync and imports count what was written
    if (via === 'gossip' && env.kind !== KIND_OP) {
      stored.catch((err: unknown) => { log.error('after storing a message in %s: %e', group.topicId, err) })
      return 'accept'
    }
    return await stored ? 'accept' : 'ignore'
  }

  /** What follows a message's LevelDB write: indexes, evidence, the membership fold, acts. False when the write failed. */
  private async afterWritten (group: Group, msg: OpenedMessage, storable: StorableMessage, written: Promise<boolean>, from: string, conflictWith: Uint8Array | string | undefined, misordered: string | undefined): Promise<boolean> {
    try {
      await written
    } catch (err: unknown) {
      // announced, in the journal, not in LevelDB (a full disk): the store writes it again a moment later (or the next start does)
      log.error('a message in %s from %s was not written: %e', group.topicId, from, err)
      return false
    }
    const running = this.running
    if (running == null) return true
    const env = msg.envelope
    running.search.stored(group.keys.groupId, storable)
    if (conflictWith != null) await this.equivocated(group, env.author, env.seq, msg.id, conflictWith)
    if (misordered != null) {
      this.refusedCounts.misordered++
      log('a message in %s from %s is misordered: %s', group.topicId, from, misordered)
    }
    running.membership.stored(group, msg)
    // its author deleted it already (the delete came first): stored, dropped, never shown (src/chat/view.ts)
    this.kindsStored(group, msg)
    return true
  }

  /**
   * For sync summaries: per author, the id of the message held at its last
   * seq (two members holding two versions see two heads). Not told for a
   * flagged equivocator: both versions are known by then.
   */
  private async heads (group: Group, index: ReadonlyMap<string, { last: bigint | undefined }>): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>()
    const running = this.running
    if (running == null) return out
    const gid = group.keys.groupId
    const flagged = running.equivocators.get(gid)
    await Promise.all([...index].map(async ([author, set]) => {
      const last = set.last
      if (last == null || flagged?.has(author) === true) return
      const key = Buffer.from(author, 'hex')
      const id = running.links.idAt(gid, key, last) ?? await running.store.idAtSeq(gid, key, last)
      if (id != null) out.set(author, id)
    }))
    return out
  }

  /** An author signed two messages under one seq: flag it for good (evidence kept), count and tell. */
  private async equivocated (group: Group, author: Uint8Array, seq: bigint, id: Uint8Array, other: Uint8Array | string): Promise<void> {
    const { store, equivocators } = this.parts()
    const gid = group.keys.groupId
    const idHex = Buffer.from(id).toString('hex')
    const otherHex = typeof other === 'string' ? other : Buffer.from(other).toString('hex')
    if (idHex === otherHex) return
    this.refusedCounts.equivocations++
    const authorHex = Buffer.from(author).toString('hex')
    const set = equivocators.get(gid) ?? new Set<string>()
    set.add(authorHex)
    equivocators.set(gid, set)
    await store.flagEquivocator(gid, author, { seq: seq.toString(), ids: [otherHex, idHex], at: Date.now() })
      .catch((err: unknown) => { log.error('cannot record an equivocation: %e', err) })
    const peer = authorPeerId(author)
    log.error('%s signed two messages with seq %s in %s', peer, seq, group.topicId)
    this.emit('equivocation', { topicId: group.topicId, author: peer, seq: Number(seq), id: idHex })
  }

  /** A message as shown: marked when its author is a flagged equivocator. */
  private withMarks (groupId: string, m: ChatMessage): ChatMessage {
    const flagged = this.running?.equivocators.get(groupId)
    if (flagged != null && flagged.size > 0 && m.author != null) {
      for (const hex of flagged) if (authorPeerId(Buffer.from(hex, 'hex')) === m.author) { m.conflict = true; break }
    }
    return m
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
      if (this.parts().membership.hidden(group, opened.message.envelope.kind, hexOf(opened.message.envelope.author), record.cursor)) continue
      const m: ChatMessage = { ...this.withMarks(group.keys.groupId, toChatMessage(group, opened.message, signer.publicKey)), cursor: record.cursor }
      if (record.arrivedLate != null) m.arrivedLate = record.arrivedLate
      if (record.misordered === true) m.misordered = true
      messages.push(m)
    }
    return page.next != null ? { messages, next: page.next } : { messages }
  }

  // ---- unread counts, search, typing (src/chat/unread.ts, search.ts, typing.ts) ----

  /** A group's unread counts and read marker (kept across restarts). */
  async unread (topicId: string): Promise<UnreadInfo> {
    const { registry, unread } = this.parts()
    return unread.get(registry.require(topicId))
  }

  /** Mark a group read up to `cursor` (default: its newest message). The marker only moves forward. */
  async markRead (topicId: string, cursor?: string): Promise<UnreadInfo> {
    const { registry, unread } = this.parts()
    return unread.mark(registry.require(topicId), cursor)
  }

  /**
   * Search the decrypted history of a group (or of every group): the
   * messages whose latest text holds every word of `query`, newest first,
   * each with its cursor and a snippet. Edited messages are found by their
   * latest text, deleted ones never. A group's history stored before the
   * index existed is indexed first (`searchIndex` does it with progress).
   */
  async search (query: string, opts: { topicId?: string, limit?: number } = {}): Promise<SearchResult[]> {
    const { registry, search } = this.parts()
    if (typeof query !== 'string' || searchTerms(query).length === 0) throw new InvalidInputError('search for at least one word (letters or digits)')
    const limit = opts.limit ?? DEFAULT_SEARCH_LIMIT
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT) throw new InvalidInputError(`limit must be a whole number from 1 to ${MAX_SEARCH_LIMIT}`)
    const groups = opts.topicId != null ? [registry.require(opts.topicId)] : registry.list()
    const found = (await Promise.all(groups.map(async g => search.search(g, query, { limit })))).flat()
    return found.sort((a, b) => b.timestamp - a.timestamp || b.lamport - a.lamport).slice(0, limit)
  }

  /** Index the history a group (or every group) stored before the search index existed; done once, then a no-op. */
  async searchIndex (opts: { topicId?: string, onProgress?: (p: SearchProgress) => void } = {}): Promise<{ groups: number, built: number }> {
    const { registry, search } = this.parts()
    const groups = opts.topicId != null ? [registry.require(opts.topicId)] : registry.list()
    let built = 0
    for (const g of groups) {
      if (await search.indexed(g)) continue
      await search.ensure(g, opts.onProgress)
      built++
    }
    return { groups: groups.length, built }
  }

  /**
   * This node's user is typing in a group: a typing indicator goes out,
   * unless one went less than 3 s ago (call it on every keystroke). Never
   * stored. True when one was sent.
   */
  typing (topicId: string): boolean {
    const { registry, typing } = this.parts()
    return typing.notify(registry.require(topicId))
  }

  /** A text message's draft, with the members its `@name` tokens name as mentions */
  private async textDraft (group: Group, text: string, options: Pick<SendOptions, 'mentions'>): Promise<MessageDraft> {
    if (options.mentions === false || !text.includes('@')) return { kind: KIND_TEXT, text }
    const { peerIds } = resolveMentions(text, await this.members(group.topicId))
    return peerIds.length > 0 ? { kind: KIND_TEXT, text, mentions: mentionKeys(peerIds) } : { kind: KIND_TEXT, text }
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
    const { store, registry, clocks, signer, search, unread } = this.parts()
    const host = createStoreBackupHost({
      peerId: this.peerId,
      store,
      registry,
      join: async (topicId, secret, name) => this.addGroup(topicId, secret, name),
      onStored: (group, records) => {
        const gid = group.keys.groupId
        // stored without their search index and unread count: both made again on next use
        search.invalidate(gid)
        unread.invalidate(gid)
        for (const r of records) clocks.observe(gid, r.lamport, Buffer.from(r.author).equals(signer.publicKey), r.seq)
        // their membership ops and first messages go into the group's log (src/membership)
        for (const r of records) { const p = peek(group.keys, r.bytes); if (p.ok) this.running?.membership.stored(group, p.message) }
        // deletes among them take effect (src/chat/view.ts)
        this.kindsImported(group, records)
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
    const ms = membershipOf(this.parts().membership.state(group))
    if (ms.logged) {
      for (const m of ms.members) { const e = entry(m.peerId); e.role = m.role; if (e.name === '' && m.name != null) e.name = m.name }
      for (const r of ms.removed) { const e = out.get(r.peerId); if (e != null) e.role = r.left ? 'left' : 'removed' }
      for (const e of out.values()) e.role ??= 'pending'
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

  // ---- membership (issue 15, src/membership) ----------------------------------

  /** The group's membership log as folded here: members with roles, removed ones, the epoch. */
  membership (topicId: string): MembershipInfo {
    const { registry, membership } = this.parts()
    return membershipOf(membership.state(registry.require(topicId)))
  }

  /** A legacy group gets a log (a create op by its admin), and this node's key goes in it */
  private async adoptLog (group: Group): Promise<void> {
    const { membership } = this.parts()
    if (!membership.state(group).logged) await membership.append(group, { type: 'create', admins: [] })
    await membership.publishKey(group)
  }

  /** A member's raw key (hex) from a peer id, a unique name or name~suffix (resolveMember) */
  private async memberKey (topicId: string, member: string): Promise<string> {
    const id = await this.resolveMember(topicId, member)
    return hexOf(peerIdFromString(id).publicKey?.raw ?? new Uint8Array(0))
  }

  /**
   * A member of the group by peer id, by name when only one member has it,
   * or by name~suffix (the end of its peer id, as `members` shows it:
   * "carol~x7Ab"; "?~x7Ab" for one without a name).
   */
  async resolveMember (topicId: string, target: string): Promise<string> {
    const t = typeof target === 'string' ? target.trim() : ''
    if (t === '') throw new InvalidInputError('say which member: a peer id, a name or name~suffix (see "p2p-chat members <topic-id>")')
    try {
      return peerIdFromString(t).toString()
    } catch {
      // not a peer id: a name
    }
    const members = (await this.members(topicId)).filter(m => !m.self || m.name !== '')
    const tilde = t.lastIndexOf('~')
    const suffixed = tilde > 0 && tilde < t.length - 1
    const name = suffixed ? t.slice(0, tilde) : t
    const found = members.filter(m => (m.name === name || (name === '?' && m.name === '')) && (!suffixed || m.peerId.endsWith(t.slice(tilde + 1))))
    if (found.length === 1) return found[0].peerId
    if (found.length === 0) throw new InvalidInputError(`"${t}" is neither a peer id nor the name (or name~suffix) of a member of ${topicId}: see "p2p-chat members ${topicId}"`)
    throw new InvalidInputError(`several members of ${topicId} match "${t}": say which with name~suffix or the peer id (${found.map(m => `${m.name === '' ? '?' : m.name}~${m.peerId.slice(-4)} ${m.peerId}`).join(', ')})`)
  }

  /**
   * Sync admission (docs/PROTOCOL.md, "Membership and epochs"): may a sync
   * session with this Noise-authenticated peer run for the group? In a group
   * with a log, not with a peer the log removed (or that left) and has not
   * re-added; any other holder of the group secret may (a joiner not yet added
   * needs the log to be added).
   */
  admitsPeer (group: Group, peer: PeerId): boolean {
    const state = this.parts().membership.state(group)
    if (!state.logged) return true
    const raw = peer.publicKey?.raw
    if (raw == null) return false
    const key = hexOf(raw)
    return state.members.has(key) || !state.removed.has(key)
  }

  private async adminOp (topicId: string, member: string, type: 'remove' | 'promote' | 'demote' | 'add'): Promise<MembershipInfo> {
    const { registry, membership } = this.parts()
    const group = registry.require(topicId)
    const key = await this.memberKey(topicId, member)
    if (!membership.state(group).logged) await this.adoptLog(group)
    const state = membership.state(group)
    if (state.members.get(membership.selfHex)?.role !== 'admin') throw new NotYourMessageError(`only an admin of ${topicId} may ${type} members (see "p2p-chat members ${topicId}")`)
    if (type === 'add') {
      if (state.members.has(key)) throw new InvalidInputError(`${member} is a member of ${topicId} already`)
      const x = state.keys.get(key)
      if (x == null) throw new InvalidInputError(`${member} has not published its key in ${topicId} yet: it joins (with the group secret) first`)
      await membership.append(group, { type: 'add', member: key, x25519: x, name: '' })
    } else {
      const m = state.members.get(key)
      if (m == null) throw new InvalidInputError(`${member} is not a member of ${topicId}`)
      if (type === 'promote' && m.role === 'admin') throw new InvalidInputError(`${member} is an admin already`)
      if (type === 'demote' && m.role !== 'admin') throw new InvalidInputError(`${member} is not an admin`)
      await membership.append(group, { type, member: key })
    }
    return membershipOf(membership.state(group))
  }

  /** Remove a member (admins only): a remove op, then a new epoch whose key the removed member never gets. */
  async removeMember (topicId: string, member: string): Promise<MembershipInfo> { return this.adminOp(topicId, member, 'remove') }
  /** Make a member an admin (admins only). */
  async promote (topicId: string, member: string): Promise<MembershipInfo> { return this.adminOp(topicId, member, 'promote') }
  /** Take a member's admin role (admins only; never the last admin's). */
  async demote (topicId: string, member: string): Promise<MembershipInfo> { return this.adminOp(topicId, member, 'demote') }
  /** Admit a node that joined with the group secret and published its key (admins only). */
  async addMember (topicId: string, member: string): Promise<MembershipInfo> { return this.adminOp(topicId, member, 'add') }

  /** The epoch this node seals new messages of the group with */
  sealingEpoch (topicId: string): number {
    const { registry } = this.parts()
    return registry.sealingKeys(registry.require(topicId)).epoch
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

  // ---- files (src/files) -----------------------------------------------------

  /** File transfer (src/files): fetches under way, penalties, the content store. */
  get files (): FileService { return this.parts().libp2p.services.files }

  /** file announcements seen since start (message id -> topic id): `get <prefix>` finds them without a history scan */
  private readonly fileIds = new Map<string, string>()

  /** Every file announcement that arrives is remembered; with `files.autoFetchMaxSize`, small ones are fetched at once. */
  private readonly onFileAnnounced = (m: ChatMessage, origin: MessageOrigin): void => {
    if (m.kind !== 'file' || m.file == null) return
    if (this.fileIds.size >= MAX_REMEMBERED_FILES) this.fileIds.delete(this.fileIds.keys().next().value ?? '')
    this.fileIds.set(m.id, m.topicId)
    const auto = this.init.files?.autoFetchMaxSize ?? 0
    if (origin.via === 'own' || m.file.size > auto) return
    this.autoFetches.push(m.id)
    this.nextAutoFetch()
  }

  /** announced files waiting to be fetched automatically, and how many are being fetched (two at a time) */
  private readonly autoFetches: string[] = []
  private autoFetching = 0

  private nextAutoFetch (): void {
    while (this.autoFetching < AUTO_FETCHES_AT_ONCE && this.autoFetches.length > 0 && this.started) {
      const id = this.autoFetches.shift() ?? ''
      this.autoFetching++
      this.getFile(id)
        .catch((err: unknown) => { log('auto-fetch of %s failed: %e', id, err) })
        .finally(() => { this.autoFetching--; this.nextAutoFetch() })
    }
  }

  /**
   * Send a file to a group: read from `path`, hashed, cut in chunks,
   * encrypted under a fresh key, stored under <data-dir>/files/<hash>, then
   * announced (a message of kind 5 with its FileRef and an optional caption).
   * Members fetch it from here, or from any member that has it. Images (PNG,
   * JPEG, GIF) carry their dimensions.
   */
  async sendFile (topicId: string, path: string, options: SendFileOptions = {}): Promise<ChatMessage> {
    const { registry } = this.parts()
    const group = registry.require(topicId)
    let size: number
    try {
      const st = await stat(path)
      if (!st.isFile()) throw new InvalidInputError(`${path} is not a file`)
      size = st.size
    } catch (err) {
      if (err instanceof InvalidInputError) throw err
      throw new InvalidInputError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
    }
    return this.sendFileFrom(group, createReadStream(path, { highWaterMark: 1024 * 1024 }), { ...options, name: options.name ?? basename(path), size })
  }

  /** `sendFile` from a stream (an upload): `name` is the file name announced, `size` (when known) is checked against the limit first. */
  async sendFileStream (topicId: string, source: AsyncIterable<Uint8Array>, options: SendFileOptions & { name: string, size?: number }): Promise<ChatMessage> {
    const { registry } = this.parts()
    return this.sendFileFrom(registry.require(topicId), source, options)
  }

  private async sendFileFrom (group: Group, source: AsyncIterable<Uint8Array>, options: SendFileOptions & { name: string, size?: number }): Promise<ChatMessage> {
    const { libp2p } = this.parts()
    const caption = options.caption ?? ''
    const captionBytes = Buffer.byteLength(caption)
    if (captionBytes > MAX_TEXT_BYTES) throw new MessageTooLargeError(captionBytes, MAX_TEXT_BYTES)
    const replyTo = options.replyTo != null ? messageIdBytes(options.replyTo) : undefined
    const zero = new Uint8Array(32)
    const problem = fileProblem({ name: options.name, size: 1n, mime: options.mime ?? '', hash: zero, manifest: zero, chunkSize: 4096, key: zero, width: 0, height: 0 })
    if (problem === 'bad file name') throw new InvalidInputError(`"${options.name}" cannot be a file name: 1-255 bytes, no "/", "\\" or control characters, no spaces around it`)
    if (problem != null) throw new InvalidInputError(`"${options.mime ?? ''}" cannot be a media type: printable ASCII, at most 127 bytes`)
    const ref = await libp2p.services.files.add(group, source, { name: options.name, mime: options.mime, size: options.size, signal: options.signal, onProgress: options.onProgress })
    return this.postTo(group, { kind: KIND_FILE, file: ref, text: caption, ...(replyTo != null ? { replyTo } : {}) }, {})
  }

  /**
   * Fetch the file a message announced (its id, or a prefix of at least 8
   * hex characters) from the group's members, unless held already; with
   * `out`, then write the plain file there. Resumes what an earlier fetch
   * (before a stop, a crash) left. FileUnavailableError when no member that
   * holds it answers.
   */
  async getFile (idOrPrefix: string, options: GetFileOptions = {}): Promise<GetFileResult> {
    const { libp2p } = this.parts()
    const found = await this.fileMessage(idOrPrefix)
    const files = libp2p.services.files
    const result = await files.fetch(found.group, found.ref, { author: found.message.author, signal: options.signal, onProgress: options.onProgress })
    const out: GetFileResult = { ...result, messageId: found.message.id, topicId: found.group.topicId, file: found.info }
    if (options.out != null) {
      await files.writeTo(found.ref, options.out, { overwrite: options.overwrite, signal: options.signal })
      out.path = options.out
    }
    return out
  }

  /** What is held of a file a message announced, and the fetch under way. */
  async fileStatus (idOrPrefix: string): Promise<FileStatus> {
    const found = await this.fileMessage(idOrPrefix)
    return { messageId: found.message.id, topicId: found.group.topicId, file: found.info, ...await this.files.holding(found.ref) }
  }

  /** The plain content of a file held complete here (NotAFileError when it is not: fetch it first). */
  async fileContent (idOrPrefix: string, options: { signal?: AbortSignal } = {}): Promise<{ messageId: string, file: FileInfo, content: AsyncIterable<Uint8Array> }> {
    const found = await this.fileMessage(idOrPrefix)
    const content = await this.files.content(found.ref, options)
    if (content == null) throw new NotAFileError(`${found.info.name} is not held here yet: fetch it first (p2p-chat get ${found.message.id.slice(0, 12)})`)
    return { messageId: found.message.id, file: found.info, content }
  }

  /** A file announcement by message id or id prefix (8 to 64 hex): its group, the message, its FileRef (with the key). */
  private async fileMessage (idOrPrefix: string): Promise<{ group: Group, message: ChatMessage, ref: FileRef, info: FileInfo }> {
    const { registry, store, signer } = this.parts()
    const prefix = idOrPrefix.trim().toLowerCase()
    if (!/^[0-9a-f]{8,64}$/.test(prefix)) throw new InvalidInputError(`"${idOrPrefix}" is not a message id: give the id, or its first 8 or more hex characters`)
    const candidates: Array<{ group: Group, bytes: Uint8Array }> = []
    const add = (group: Group, bytes: Uint8Array): void => { candidates.push({ group, bytes }) }
    const groupsById = new Map(registry.list().map(g => [g.keys.groupId, g]))
    if (prefix.length === 64) {
      const bytes = await store.get(Buffer.from(prefix, 'hex'))
      if (bytes != null) for (const g of groupsById.values()) if (open(g.keys, bytes).ok) add(g, bytes)
    } else {
      // announcements seen since start first; else every group's history (its keys end in the message id)
      const seen = [...this.fileIds].filter(([id]) => id.startsWith(prefix))
      for (const [id, topicId] of seen) {
        const g = registry.get(topicId)
        const bytes = g != null ? await store.get(Buffer.from(id, 'hex')) : undefined
        if (g != null && bytes != null) add(g, bytes)
      }
      if (candidates.length === 0) {
        for (const g of groupsById.values()) {
          for await (const r of store.iterate(g.keys.groupId)) {
            if (r.cursor.slice(-64).startsWith(prefix)) add(g, r.bytes)
            if (candidates.length > 1) break
          }
        }
      }
    }
    const files = candidates.flatMap(c => {
      const opened = open(c.group.keys, c.bytes)
      return opened.ok ? [{ group: c.group, opened: opened.message }] : []
    })
    if (files.length > 1) throw new InvalidInputError(`several messages start with ${prefix}: give more of the id`)
    const [hit] = files
    if (hit == null) throw new NotAFileError(`no message ${prefix} in your groups' history`)
    const message = toChatMessage(hit.group, hit.opened, signer.publicKey)
    const ref = hit.opened.body.file
    if (message.kind !== 'file' || ref == null || message.file == null) throw new NotAFileError(`message ${message.id.slice(0, 12)} is not a file (it is a ${message.kind} message)`)
    return { group: hit.group, message, ref, info: message.file }
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
/** author (hex of the raw key) and seq of a group's envelope, unverified: for sync and gap detection */
function recordKey (group: Group, bytes: Uint8Array): { author: string, seq: bigint } | undefined {
  // gap detection sees each gossip message after ingest opened the same bytes: no second decryption
  const known = openedKeys.get(bytes)
  if (known != null) return known
  const p = peek(group.keys, bytes)
  return p.ok ? { author: Buffer.from(p.message.envelope.author).toString('hex'), seq: p.message.envelope.seq } : undefined
}

/** author and seq of envelopes ingest opened, by the bytes object (gone with it) */
const openedKeys = new WeakMap<Uint8Array, { author: string, seq: bigint }>()

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
