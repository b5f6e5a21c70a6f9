import type { IngestFn, RecordKeyFn, SessionOptions, SessionResult, SessionStatus, SyncGroup, SyncProgress } from './session.js'
import type { HistoryStore } from '../store/index.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

/**
 * The contract of the sync service: what it is given (components, host,
 * init), what it reports (sessions, penalties) and what it answers.
 * The parts: scheduler.ts (when to start outbound sessions), admission.ts
 * (which inbound sessions to take, who is cut off), gaps.ts (holes in live
 * traffic), session.ts (one session, either end), service.ts (wiring).
 */

export const DEFAULT_SYNC_INTERVAL = 60_000
export const DEFAULT_READ_TIMEOUT = 10_000
export const DEFAULT_SESSION_TIMEOUT = 5 * 60_000
export const DEFAULT_MAX_OUTBOUND = 4
export const DEFAULT_MAX_INBOUND = 16
export const DEFAULT_PENALTY = 10 * 60_000
export const DEFAULT_GAP_DELAY = 250

export interface SyncInit {
  /** start sessions by itself (on subscriptions, joins, gaps, news, periodically); default true. Off: only on demand and when asked */
  auto?: boolean
  /** ms between periodic rounds with every connected member; 0 turns them off. Default 60 s */
  interval?: number
  /** ms allowed for each read from a peer. Default 10 s */
  readTimeout?: number
  /** ms a session may go without progress (records received or sent) before it is ended; a session that makes progress runs as long as it needs. Default 5 min */
  sessionTimeout?: number
  /** ms a peer has to prove membership at the start of a session; one that misses it is cut off (stalling). Default 5 s */
  handshakeTimeout?: number
  /** outbound sessions at once (queued beyond). Default 4 */
  maxOutbound?: number
  /** inbound sessions at once (refused beyond). Default 16 */
  maxInbound?: number
  /** ms a peer that broke the protocol or sent forgeries is ignored. Default 10 min */
  penalty?: number
  /** ms to wait after a gap in live traffic before asking for what is missing. Default 250 */
  gapDelay?: number
  /** records per batch sent; default 512 */
  batchRecords?: number
  /** bytes per batch sent, aimed at; default 256 KiB */
  batchBytes?: number
}

/** What sync needs of a group: its topic id and keys */
export interface SyncableGroup extends SyncGroup {
  keys: SyncGroup['keys'] & { wireTopic: string }
}

/** What libp2p injects: its own components and the gossipsub service (registered as `pubsub`) */
export interface SyncComponents {
  peerId: PeerId
  registrar: Registrar
  connectionManager: ConnectionManager
  pubsub: GossipSub
}

/** What the chat node gives: the history, its groups, and full verification */
export interface SyncHost<G extends SyncableGroup> {
  store: HistoryStore
  /** the groups this node is in, now */
  groups: () => Iterable<G>
  /** full verification and storage of one record (ChatNode.ingest) */
  ingest: IngestFn<G>
  /** author and seq of a record, before full verification (envelope peek) */
  recordKey: RecordKeyFn<G>
  /** per author: the id at its last seq, for summaries (SessionOptions.heads) */
  heads?: SessionOptions<G>['heads']
  /** a record recordKey cannot read is of a key epoch this node holds no key for yet (issue 15): skipped, not a protocol error */
  unknownEpoch?: SessionOptions<G>['unknownEpoch']
  /** may a session for this group run with this (Noise-authenticated) peer? false: none either way (issue 15: a removed member). Default: yes */
  admitPeer?: (group: G, peer: PeerId) => boolean
}

export type SyncReason = 'subscribed' | 'joined' | 'periodic' | 'gap' | 'propagate' | 'rerun' | 'demand'

/** One finished session, either direction */
export interface SessionReport extends Omit<SessionResult, 'status'> {
  peer: string
  topicId?: string
  direction: 'outbound' | 'inbound'
  status: SessionStatus | 'failed'
  error?: string
  ms: number
}

/** Options of an on-demand sync: `signal` ends its sessions (each also ends at the session timeout) */
export interface SyncOptions extends AbortOptions {
  onProgress?: (progress: SyncProgress) => void
}

/** The outcome of ChatNode.sync */
export interface SyncSummary {
  /** peers a session was held with */
  peers: number
  /** new records stored */
  received: number
  /** records sent */
  sent: number
  /** sessions that failed (timeouts, refused, protocol errors) */
  failed: number
  /** stream payload bytes read and written */
  bytesIn: number
  bytesOut: number
}

export interface SyncServiceEvents {
  session: [SessionReport]
  /** a peer broke the protocol or sent forgeries: no sync with it for a while */
  penalized: [{ peer: string, reason: string }]
}

/** A session's pair: one at a time per peer and group, either direction */
export function sessionKey (peer: PeerId, group: SyncableGroup): string {
  return `${peer.toString()}/${group.keys.groupId}`
}
