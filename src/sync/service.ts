import { EventEmitter } from 'node:events'
import { logger } from '@libp2p/logger'
import { Envelope } from '../envelope/index.js'
import { SyncAbortedError, SyncProtocolError } from './errors.js'
import { Claims, initiateSession, respondSession } from './session.js'
import { PeerRateLimiter } from '../rate-limit.js'
import type { IngestFn, SessionOptions, SessionResult, SessionStatus, SyncGroup, SyncProgress } from './session.js'
import type { HistoryStore } from '../store/index.js'
import type { GossipSub, GossipsubMessage, SubscriptionChangeData } from '@libp2p/gossipsub'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'

const log = logger('p2p-chat:sync')

export const SYNC_PROTOCOL = '/p2p-chat/sync/1.0.0'

export const DEFAULT_SYNC_INTERVAL = 60_000
export const DEFAULT_READ_TIMEOUT = 10_000
export const DEFAULT_SESSION_TIMEOUT = 5 * 60_000
export const DEFAULT_MAX_OUTBOUND = 4
export const DEFAULT_MAX_INBOUND = 16
export const DEFAULT_PENALTY = 10 * 60_000
export const DEFAULT_GAP_DELAY = 250
/** sync streams one connection may have open at once, per direction */
export const MAX_STREAMS_PER_CONNECTION = 8
/** inbound sessions one peer may have at once: no peer can take every inbound slot */
export const MAX_INBOUND_PER_PEER = 4
/** inbound sessions a peer may start per second, in the long run (bursts of INBOUND_SESSION_BURST) */
export const INBOUND_SESSION_RATE = 1
export const INBOUND_SESSION_BURST = 64

export interface SyncInit {
  /** start sessions by itself (on subscriptions, joins, gaps, news, periodically); default true. Off: only on demand and when asked */
  auto?: boolean
  /** ms between periodic rounds with every connected member; 0 turns them off. Default 60 s */
  interval?: number
  /** ms allowed for each read from a peer. Default 10 s */
  readTimeout?: number
  /** ms a whole session may last. Default 5 min */
  sessionTimeout?: number
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

export interface SyncComponents<G extends SyncableGroup> {
  libp2p: Libp2p<{ pubsub: GossipSub }>
  store: HistoryStore
  /** the groups this node is in, now */
  groups: () => Iterable<G>
  /** full verification and storage of one record (ChatNode.ingest) */
  ingest: IngestFn<G>
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

export interface SyncOptions {
  signal?: AbortSignal
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

interface Pending<G> { peer: PeerId, group: G, reason: SyncReason }

const EMPTY: SessionResult = { status: 'synced', received: 0, sent: 0, duplicates: 0, bytesIn: 0, bytesOut: 0 }

/**
 * History sync: answers `/p2p-chat/sync/1.0.0`, and starts sessions when a
 * member's subscription shows up, when a group is joined, periodically, on
 * a gap in live traffic, after a session brought news, and on demand.
 * At most one session per peer and group at a time.
 */
export class SyncService<G extends SyncableGroup> extends EventEmitter<SyncServiceEvents> {
  private readonly components: SyncComponents<G>
  private readonly init: Required<SyncInit>
  private controller?: AbortController
  private readonly outbound = new Map<string, Promise<SessionReport>>()
  private readonly inbound = new Map<string, Promise<SessionReport>>()
  private readonly queue: Array<Pending<G>> = []
  private readonly queued = new Set<string>()
  private readonly rerun = new Map<string, Pending<G>>()
  private readonly penalties = new Map<string, number>()
  private readonly peerControllers = new Map<string, Set<AbortController>>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private readonly sessions = new Set<Promise<unknown>>()
  /** seqs being fetched, per group: concurrent sessions never fetch the same record twice */
  private readonly claims = new Claims()
  private running = 0
  private inboundRunning = 0
  private readonly inboundPerPeer = new Map<string, number>()
  private readonly inboundRate = new PeerRateLimiter({ rate: INBOUND_SESSION_RATE, burst: INBOUND_SESSION_BURST })
  private periodic?: ReturnType<typeof setTimeout>

  constructor (components: SyncComponents<G>, init: SyncInit = {}) {
    super()
    this.components = components
    this.init = {
      auto: init.auto ?? true,
      interval: init.interval ?? DEFAULT_SYNC_INTERVAL,
      readTimeout: init.readTimeout ?? DEFAULT_READ_TIMEOUT,
      sessionTimeout: init.sessionTimeout ?? DEFAULT_SESSION_TIMEOUT,
      maxOutbound: init.maxOutbound ?? DEFAULT_MAX_OUTBOUND,
      maxInbound: init.maxInbound ?? DEFAULT_MAX_INBOUND,
      penalty: init.penalty ?? DEFAULT_PENALTY,
      gapDelay: init.gapDelay ?? DEFAULT_GAP_DELAY,
      batchRecords: init.batchRecords ?? 0,
      batchBytes: init.batchBytes ?? 0
    }
  }

  get started (): boolean { return this.controller != null }

  async start (): Promise<void> {
    if (this.controller != null) return
    this.controller = new AbortController()
    const { libp2p } = this.components
    await libp2p.handle(SYNC_PROTOCOL, this.handleStream, {
      maxInboundStreams: MAX_STREAMS_PER_CONNECTION,
      maxOutboundStreams: MAX_STREAMS_PER_CONNECTION
    })
    libp2p.services.pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    libp2p.services.pubsub.addEventListener('gossipsub:message', this.onGossipMessage)
    this.armPeriodic()
  }

  /** Abort every session and wait for them; idempotent. Call before libp2p stops. */
  async stop (): Promise<void> {
    const controller = this.controller
    if (controller == null) return
    this.controller = undefined
    controller.abort(new SyncAbortedError('sync stopped'))
    const { libp2p } = this.components
    libp2p.services.pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    libp2p.services.pubsub.removeEventListener('gossipsub:message', this.onGossipMessage)
    if (this.periodic != null) clearTimeout(this.periodic)
    this.periodic = undefined
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.queue.length = 0
    this.queued.clear()
    this.rerun.clear()
    await libp2p.unhandle(SYNC_PROTOCOL).catch(() => {})
    await Promise.allSettled([...this.sessions])
  }

  /** A peer cut off until when (ms since 1970), or undefined. */
  penalizedUntil (peer: string): number | undefined {
    const until = this.penalties.get(peer)
    if (until == null) return undefined
    if (until <= Date.now()) {
      this.penalties.delete(peer)
      return undefined
    }
    return until
  }

  // ---- triggers -------------------------------------------------------------

  /** A group was joined here: reconcile with the members already known. */
  groupJoined (group: G): void {
    for (const peer of this.subscribers(group)) this.schedule(peer, group, 'joined')
  }

  /** Sync one group with every connected member now. */
  async syncGroup (group: G, options: SyncOptions = {}): Promise<SyncSummary> {
    const summary: SyncSummary = { peers: 0, received: 0, sent: 0, failed: 0, bytesIn: 0, bytesOut: 0 }
    if (this.controller == null) return summary
    const reports = await Promise.all(this.subscribers(group).map(async peer => {
      const key = sessionKey(peer, group)
      // a session with this peer for this group is under way: it is the answer
      const current = this.outbound.get(key) ?? this.inbound.get(key)
      if (current != null) return current
      return this.runOutbound(peer, group, 'demand', options)
    }))
    for (const r of reports) {
      if (r.status === 'unknown' || r.status === 'busy') continue
      summary.peers++
      if (r.status === 'failed') summary.failed++
      summary.received += r.received
      summary.sent += r.sent
      summary.bytesIn += r.bytesIn
      summary.bytesOut += r.bytesOut
    }
    return summary
  }

  private readonly onSubscriptionChange = (evt: CustomEvent<SubscriptionChangeData>): void => {
    const { peerId, subscriptions } = evt.detail
    // both ends see each other's subscriptions when they connect: one end starts
    if (!this.initiates(peerId)) return
    for (const sub of subscriptions) {
      if (!sub.subscribe) continue
      const group = this.byWireTopic(sub.topic)
      if (group != null) this.schedule(peerId, group, 'subscribed')
    }
  }

  private readonly onGossipMessage = (evt: CustomEvent<GossipsubMessage>): void => {
    const { msg, propagationSource } = evt.detail
    const group = this.byWireTopic(msg.topic)
    if (group == null) return
    let author: string
    let seq: bigint
    try {
      const env = Envelope.decode(msg.data)
      author = Buffer.from(env.author).toString('hex')
      seq = env.seq
    } catch {
      return
    }
    if (seq <= 1n) return
    // the predecessors only, and once more after gapDelay: gossip accepts a message
    // before it is on disk, and its predecessors may still be arriving or being written
    const missing = async (): Promise<boolean> => {
      const index = await this.components.store.seqIndex(group.keys.groupId)
      return index.get(author)?.coversPrefix(seq - 1n) !== true
    }
    missing().then(gap => {
      if (!gap) return
      this.later(this.init.gapDelay, () => {
        missing().then(still => {
          if (!still) return
          log('gap before seq %s of %s in %s: asking %p', seq, author.slice(0, 8), group.topicId, propagationSource)
          this.schedule(propagationSource, group, 'gap')
        }, () => {})
      })
    }, () => {})
  }

  private armPeriodic (): void {
    if (this.init.interval <= 0 || !this.init.auto || this.controller == null) return
    // +-10 % jitter so that members do not all start at once
    const delay = this.init.interval * (0.9 + Math.random() * 0.2)
    this.periodic = setTimeout(() => {
      this.periodic = undefined
      for (const group of this.components.groups()) {
        for (const peer of this.subscribers(group)) {
          if (this.initiates(peer)) this.schedule(peer, group, 'periodic')
        }
      }
      this.armPeriodic()
    }, delay)
    this.periodic.unref?.()
  }

  private later (ms: number, fn: () => void): void {
    if (this.controller == null) return
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    t.unref?.()
    this.timers.add(t)
  }

  // ---- scheduling -----------------------------------------------------------

  /** Of two members, the one with the smaller peer id starts the symmetric rounds. */
  private initiates (peer: PeerId): boolean {
    return this.components.libp2p.peerId.toString() < peer.toString()
  }

  private subscribers (group: G): PeerId[] {
    const { libp2p } = this.components
    return libp2p.services.pubsub.getSubscribers(group.keys.wireTopic)
      .filter(p => !p.equals(libp2p.peerId) && libp2p.getConnections(p).length > 0 && this.penalizedUntil(p.toString()) == null)
  }

  private byWireTopic (topic: string): G | undefined {
    for (const g of this.components.groups()) if (g.keys.wireTopic === topic) return g
    return undefined
  }

  private byGroupId (groupId: string): G | undefined {
    for (const g of this.components.groups()) if (g.keys.groupId === groupId) return g
    return undefined
  }

  schedule (peer: PeerId, group: G, reason: SyncReason): void {
    if (this.controller == null || !this.init.auto || this.penalizedUntil(peer.toString()) != null) return
    const key = sessionKey(peer, group)
    if (this.outbound.has(key) || this.inbound.has(key)) {
      // news arrived during a session: one more round once it ends
      if (reason !== 'periodic' && reason !== 'subscribed') this.rerun.set(key, { peer, group, reason: 'rerun' })
      return
    }
    if (this.queued.has(key)) return
    this.queued.add(key)
    this.queue.push({ peer, group, reason })
    this.pump()
  }

  private pump (): void {
    while (this.controller != null && this.running < this.init.maxOutbound && this.queue.length > 0) {
      const next = this.queue.shift() as Pending<G>
      const key = sessionKey(next.peer, next.group)
      this.queued.delete(key)
      if (this.outbound.has(key) || this.inbound.has(key) || this.components.libp2p.getConnections(next.peer).length === 0) continue
      this.running++
      this.runOutbound(next.peer, next.group, next.reason).finally(() => {
        this.running--
        this.pump()
      }).catch(() => {})
    }
  }

  /**
   * After a session for this pair ends: the round asked for meanwhile; news
   * for the other members; and after a failure, the other members may hold
   * what this peer was to send (another session may have left it to this one).
   */
  private afterSession (key: string, peer: PeerId, group: G, report: SessionReport): void {
    const again = this.rerun.get(key)
    if (again != null) {
      this.rerun.delete(key)
      this.schedule(again.peer, again.group, 'rerun')
    }
    if ((report.received > 0 || report.status === 'failed') && this.byGroupId(group.keys.groupId) != null) {
      for (const other of this.subscribers(group)) {
        if (!other.equals(peer)) this.schedule(other, group, 'propagate')
      }
    }
  }

  // ---- sessions -------------------------------------------------------------

  private peerSignal (peer: string, extra?: AbortSignal): { signal: AbortSignal, done: () => void } {
    const own = new AbortController()
    let set = this.peerControllers.get(peer)
    if (set == null) this.peerControllers.set(peer, set = new Set())
    set.add(own)
    const signals = [own.signal, AbortSignal.timeout(this.init.sessionTimeout)]
    if (this.controller != null) signals.push(this.controller.signal)
    if (extra != null) signals.push(extra)
    return {
      signal: AbortSignal.any(signals),
      done: () => {
        set.delete(own)
        if (set.size === 0) this.peerControllers.delete(peer)
      }
    }
  }

  private penalize (peer: PeerId, reason: string): void {
    const p = peer.toString()
    log('cutting off %p for %d ms: %s', peer, this.init.penalty, reason)
    if (this.penalties.size > 10_000) {
      for (const [k, until] of this.penalties) if (until <= Date.now()) this.penalties.delete(k)
    }
    this.penalties.set(p, Date.now() + this.init.penalty)
    for (const c of this.peerControllers.get(p) ?? []) c.abort(new SyncAbortedError('peer cut off'))
    this.emit('penalized', { peer: p, reason })
  }

  private sessionOptions (stream: Stream, remote: PeerId, signal: AbortSignal, onProgress?: (p: SyncProgress) => void): SessionOptions<G> {
    const { libp2p, store, ingest } = this.components
    return {
      stream,
      local: libp2p.peerId,
      remote,
      store,
      ingest,
      signal,
      readTimeout: this.init.readTimeout,
      batchRecords: this.init.batchRecords > 0 ? this.init.batchRecords : undefined,
      batchBytes: this.init.batchBytes > 0 ? this.init.batchBytes : undefined,
      onProgress,
      isCurrent: g => this.byGroupId(g.keys.groupId) != null,
      claims: this.claims
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.sessions.add(p)
    p.finally(() => this.sessions.delete(p)).catch(() => {})
    return p
  }

  private async runOutbound (peer: PeerId, group: G, reason: SyncReason, options: SyncOptions = {}): Promise<SessionReport> {
    const key = sessionKey(peer, group)
    const existing = this.outbound.get(key)
    if (existing != null) return existing
    const run = this.track(this.outboundSession(peer, group, reason, options))
    this.outbound.set(key, run)
    const report = await run
    this.outbound.delete(key)
    this.afterSession(key, peer, group, report)
    return report
  }

  private async outboundSession (peer: PeerId, group: G, reason: SyncReason, options: SyncOptions): Promise<SessionReport> {
    const started = Date.now()
    const { signal, done } = this.peerSignal(peer.toString(), options.signal)
    let stream: Stream | undefined
    let report: SessionReport
    try {
      stream = await this.components.libp2p.dialProtocol(peer, SYNC_PROTOCOL, { signal })
      const result = await initiateSession(this.sessionOptions(stream, peer, signal, options.onProgress), group)
      await stream.close({ signal })
      report = { ...result, peer: peer.toString(), topicId: group.topicId, direction: 'outbound', ms: Date.now() - started }
      if (result.status === 'busy' && reason !== 'periodic' && reason !== 'subscribed') {
        // the peer is running a session with us: go again after it
        this.rerun.set(sessionKey(peer, group), { peer, group, reason: 'rerun' })
      }
    } catch (err: any) {
      stream?.abort(err)
      report = this.failure(err, peer, group, 'outbound', started)
    } finally {
      done()
    }
    log('%s sync with %p in %s (%s): %s, received %d, sent %d, %d ms', report.direction, peer, group.topicId, reason, report.status, report.received, report.sent, report.ms)
    this.emit('session', report)
    return report
  }

  private failure (err: any, peer: PeerId, group: G | undefined, direction: 'outbound' | 'inbound', started: number): SessionReport {
    if (err instanceof SyncProtocolError) this.penalize(peer, err.message)
    else log('%s sync with %p failed: %s', direction, peer, err?.message ?? err)
    const stats: SessionResult = err?.stats ?? EMPTY
    return { ...stats, status: 'failed', error: err?.message ?? String(err), peer: peer.toString(), topicId: group?.topicId, direction, ms: Date.now() - started }
  }

  private readonly handleStream = async (stream: Stream, connection: Connection): Promise<void> => {
    const remote = connection.remotePeer
    const peer = remote.toString()
    const perPeer = this.inboundPerPeer.get(peer) ?? 0
    if (this.controller == null || this.penalizedUntil(peer) != null || this.inboundRunning >= this.init.maxInbound ||
      perPeer >= MAX_INBOUND_PER_PEER || !this.inboundRate.take(peer)) {
      stream.abort(new SyncAbortedError('not accepting a sync session now'))
      return
    }
    this.inboundRunning++
    this.inboundPerPeer.set(peer, perPeer + 1)
    const started = Date.now()
    const { signal, done } = this.peerSignal(remote.toString())
    let key: string | undefined
    let group: G | undefined
    let resolve!: (r: SessionReport) => void
    const finished = new Promise<SessionReport>(res => { resolve = res })
    this.track(finished)
    let report: SessionReport
    try {
      const result = await respondSession<G>(this.sessionOptions(stream, remote, signal), match => {
        for (const g of this.components.groups()) if (match(g.keys.macKey)) return g
        return undefined
      }, g => {
        const k = sessionKey(remote, g)
        if (this.inbound.has(k)) return false
        // both ends started at once: the smaller peer id's session goes on
        if (this.outbound.has(k) && this.initiates(remote)) return false
        return true
      }, g => {
        key = sessionKey(remote, g)
        group = g
        this.inbound.set(key, finished)
      })
      await stream.close({ signal })
      report = { ...result, peer: remote.toString(), topicId: result.group?.topicId, direction: 'inbound', ms: Date.now() - started }
      delete (report as { group?: G }).group
    } catch (err: any) {
      stream.abort(err)
      report = this.failure(err, remote, group, 'inbound', started)
    } finally {
      done()
      this.inboundRunning--
      const left = (this.inboundPerPeer.get(peer) ?? 1) - 1
      if (left > 0) this.inboundPerPeer.set(peer, left)
      else this.inboundPerPeer.delete(peer)
    }
    resolve(report)
    if (key != null) {
      this.inbound.delete(key)
      if (group != null) this.afterSession(key, remote, group, report)
    }
    if (report.status !== 'unknown') {
      log('inbound sync with %p in %s: %s, received %d, sent %d, %d ms', remote, report.topicId, report.status, report.received, report.sent, report.ms)
    }
    this.emit('session', report)
  }
}

function sessionKey (peer: PeerId, group: SyncableGroup): string {
  return `${peer.toString()}/${group.keys.groupId}`
}
