import { EventEmitter } from 'node:events'
import { logger } from '@libp2p/logger'
import { serviceCapabilities, serviceDependencies } from '@libp2p/interface'
import { Admission } from './admission.js'
import { SyncAbortedError, SyncSessionError, toError } from './errors.js'
import { GapDetector } from './gaps.js'
import { SyncScheduler } from './scheduler.js'
import { initiateSession, respondSession } from './session.js'
import { DEFAULT_HANDSHAKE_TIMEOUT } from './channel.js'
import { openStreamTo } from '../connectivity/streams.js'
import { Claims } from './claims.js'
import {
  DEFAULT_GAP_DELAY, DEFAULT_MAX_INBOUND, DEFAULT_MAX_OUTBOUND, DEFAULT_PENALTY, DEFAULT_READ_TIMEOUT, DEFAULT_SESSION_TIMEOUT, DEFAULT_SYNC_INTERVAL
} from './types.js'
import type { InboundSlot } from './admission.js'
import type { SessionOptions, SessionResult, SyncProgress } from './session.js'
import type { SessionReport, SyncComponents, SyncHost, SyncInit, SyncOptions, SyncReason, SyncServiceEvents, SyncSummary, SyncableGroup } from './types.js'
import type { GossipsubMessage, SubscriptionChangeData } from '@libp2p/gossipsub'
import type { Connection, PeerId, Startable, Stream } from '@libp2p/interface'

const log = logger('p2p-chat:sync')

export const SYNC_PROTOCOL = '/p2p-chat/sync/2.0.0'
/** sync streams one connection may have open at once, per direction */
export const MAX_STREAMS_PER_CONNECTION = 8

const EMPTY: SessionResult = { status: 'synced', received: 0, sent: 0, duplicates: 0, bytesIn: 0, bytesOut: 0 }

/**
 * History sync: answers `/p2p-chat/sync/2.0.0`, and starts sessions when a
 * member's subscription shows up, when a group is joined, periodically, on
 * a gap in live traffic, after a session brought news, and on demand.
 * This class wires the parts (types.ts lists them) to libp2p and runs the
 * sessions; at most one session per peer and group at a time.
 */
export class SyncService<G extends SyncableGroup> extends EventEmitter<SyncServiceEvents> implements Startable {
  readonly [Symbol.toStringTag] = 'p2p-chat/sync'
  readonly [serviceCapabilities]: string[] = ['@p2p-chat/sync']
  readonly [serviceDependencies]: string[] = ['@libp2p/pubsub']
  private readonly components: SyncComponents
  private readonly host: SyncHost<G>
  private readonly init: Required<SyncInit>
  private readonly scheduler: SyncScheduler<G>
  private readonly admission: Admission
  private readonly gaps: GapDetector<G>
  private controller?: AbortController
  private readonly sessions = new Set<Promise<unknown>>()
  /** seqs being fetched, per group: concurrent sessions never fetch the same record twice */
  private readonly claims = new Claims()

  constructor (components: SyncComponents, host: SyncHost<G>, init: SyncInit = {}) {
    super()
    this.components = components
    this.host = host
    this.init = {
      auto: init.auto ?? true,
      interval: init.interval ?? DEFAULT_SYNC_INTERVAL,
      readTimeout: init.readTimeout ?? DEFAULT_READ_TIMEOUT,
      sessionTimeout: init.sessionTimeout ?? DEFAULT_SESSION_TIMEOUT,
      maxOutbound: init.maxOutbound ?? DEFAULT_MAX_OUTBOUND,
      maxInbound: init.maxInbound ?? DEFAULT_MAX_INBOUND,
      penalty: init.penalty ?? DEFAULT_PENALTY,
      gapDelay: init.gapDelay ?? DEFAULT_GAP_DELAY,
      handshakeTimeout: init.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
      batchRecords: init.batchRecords ?? 0,
      batchBytes: init.batchBytes ?? 0
    }
    this.admission = new Admission({
      maxInbound: this.init.maxInbound,
      penalty: this.init.penalty,
      sessionTimeout: this.init.sessionTimeout,
      onPenalized: (peer, reason) => { this.emit('penalized', { peer, reason }) }
    })
    this.scheduler = new SyncScheduler<G>({
      auto: this.init.auto,
      maxOutbound: this.init.maxOutbound,
      interval: this.init.interval,
      deferredDelay: this.claims.hold,
      groups: () => this.host.groups(),
      subscribers: group => this.subscribers(group),
      connected: peer => this.components.connectionManager.getConnections(peer).length > 0,
      penalized: peer => this.penalizedUntil(peer.toString()) != null,
      proven: (peer, group) => this.admission.proven(peer.toString(), group.keys.groupId),
      initiates: peer => this.initiates(peer),
      session: async (peer, group, reason, options) => this.track(this.outboundSession(peer, group, reason, options))
    })
    this.gaps = new GapDetector<G>({
      store: host.store,
      byWireTopic: topic => this.byWireTopic(topic),
      recordKey: host.recordKey,
      gapDelay: this.init.gapDelay,
      // through this.schedule, so that a test can count the gap sessions
      onGap: (peer, group) => { this.schedule(peer, group, 'gap') }
    })
  }

  get started (): boolean { return this.controller != null }

  async start (): Promise<void> {
    if (this.controller != null) return
    this.controller = new AbortController()
    const { registrar, pubsub } = this.components
    await registrar.handle(SYNC_PROTOCOL, this.handleStream, {
      runOnLimitedConnection: true,
      maxInboundStreams: MAX_STREAMS_PER_CONNECTION,
      maxOutboundStreams: MAX_STREAMS_PER_CONNECTION
    })
    pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    pubsub.addEventListener('gossipsub:message', this.onGossipMessage)
    this.gaps.start()
    this.scheduler.start()
  }

  /** Abort every session and wait for them while connections are still up; idempotent. */
  async beforeStop (): Promise<void> {
    const controller = this.controller
    if (controller == null) return
    this.controller = undefined
    controller.abort(new SyncAbortedError('sync stopped'))
    const { registrar, pubsub } = this.components
    pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    pubsub.removeEventListener('gossipsub:message', this.onGossipMessage)
    this.gaps.stop()
    this.scheduler.stop()
    await registrar.unhandle(SYNC_PROTOCOL).catch((err: unknown) => { log('unhandle %s: %e', SYNC_PROTOCOL, err) })
    await Promise.allSettled([...this.sessions])
  }

  /** Stopped in beforeStop (sessions need their connections); nothing left to do. */
  async stop (): Promise<void> {
    await this.beforeStop()
  }

  /** A peer cut off until when (ms since 1970), or undefined. */
  penalizedUntil (peer: string): number | undefined {
    return this.admission.penalizedUntil(peer)
  }

  /** Has the peer proved membership of the group, in a sync session either way (and not been cut off since)? */
  proven (peer: string, group: G): boolean {
    return this.admission.proven(peer, group.keys.groupId)
  }

  // ---- triggers -------------------------------------------------------------

  /** A group was joined here: reconcile with the members already known. */
  groupJoined (group: G): void {
    for (const peer of this.subscribers(group)) this.schedule(peer, group, 'joined')
  }

  /** Queue a session with `peer` for `group` (SyncScheduler.schedule); every automatic trigger goes through here. */
  schedule (peer: PeerId, group: G, reason: SyncReason): void {
    if (this.controller == null) return
    this.scheduler.schedule(peer, group, reason)
  }

  /** Sync one group with every connected member now; each session ends at the session timeout, all at `options.signal`. */
  async syncGroup (group: G, options: SyncOptions = {}): Promise<SyncSummary> {
    const summary: SyncSummary = { peers: 0, received: 0, sent: 0, failed: 0, bytesIn: 0, bytesOut: 0 }
    if (this.controller == null) return summary
    const reports = await Promise.all(this.subscribers(group).map(async peer =>
      // a session with this peer for this group is under way: it is the answer
      this.scheduler.current(peer, group) ?? this.scheduler.runOutbound(peer, group, 'demand', options)))
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
    this.gaps.observe(msg.topic, msg.data, propagationSource).catch((err: unknown) => {
      log('gap check of a message in %s failed: %e', msg.topic, err)
    })
  }

  // ---- peers and groups -----------------------------------------------------

  /** Of two members, the one with the smaller peer id starts the symmetric rounds. */
  private initiates (peer: PeerId): boolean {
    return this.components.peerId.toString() < peer.toString()
  }

  private subscribers (group: G): PeerId[] {
    const { peerId, pubsub, connectionManager } = this.components
    return pubsub.getSubscribers(group.keys.wireTopic)
      .filter(p => !p.equals(peerId) && connectionManager.getConnections(p).length > 0 && this.penalizedUntil(p.toString()) == null)
  }

  private byWireTopic (topic: string): G | undefined {
    for (const g of this.host.groups()) if (g.keys.wireTopic === topic) return g
    return undefined
  }

  private isCurrent (group: G): boolean {
    for (const g of this.host.groups()) if (g.keys.groupId === group.keys.groupId) return true
    return false
  }

  // ---- sessions -------------------------------------------------------------

  private sessionOptions (stream: Stream, remote: PeerId, signal: AbortSignal, touch: () => void, onProgress?: (p: SyncProgress) => void): SessionOptions<G> {
    const { store, ingest, recordKey, heads, unknownEpoch } = this.host
    return {
      stream,
      local: this.components.peerId,
      remote,
      store,
      ingest,
      recordKey,
      heads,
      unknownEpoch,
      signal,
      readTimeout: this.init.readTimeout,
      handshakeTimeout: this.init.handshakeTimeout,
      onProven: g => { this.admission.prove(remote.toString(), g.keys.groupId) },
      batchRecords: this.init.batchRecords > 0 ? this.init.batchRecords : undefined,
      batchBytes: this.init.batchBytes > 0 ? this.init.batchBytes : undefined,
      // progress restarts the session's idle deadline
      onProgress: p => {
        touch()
        onProgress?.(p)
      },
      isCurrent: g => this.isCurrent(g),
      claims: this.claims
    }
  }

  private async track<T>(p: Promise<T>): Promise<T> {
    this.sessions.add(p)
    try {
      return await p
    } finally {
      this.sessions.delete(p)
    }
  }

  private async outboundSession (peer: PeerId, group: G, reason: SyncReason, options: SyncOptions): Promise<SessionReport> {
    const started = Date.now()
    const { signal, touch, done } = this.admission.sessionSignal(peer.toString(), [this.controller?.signal, options.signal])
    let stream: Stream | undefined
    let report: SessionReport
    if (this.host.admitPeer?.(group, peer) === false) {
      done()
      report = { ...EMPTY, status: 'unknown', peer: peer.toString(), topicId: group.topicId, direction: 'outbound', ms: 0 }
      log('no sync with %p in %s: not admitted (removed from the group)', peer, group.topicId)
      this.emit('session', report)
      return report
    }
    try {
      // members behind NATs meet over relayed (limited) connections: sync runs there too
      // protocol negotiation is part of the handshake: a peer that stalls it holds a slot
      const negotiation = AbortSignal.any([signal, AbortSignal.timeout(this.init.handshakeTimeout)])
      stream = await openStreamTo(this.components.connectionManager, peer, SYNC_PROTOCOL, { signal: negotiation })
      const result = await initiateSession(group, this.sessionOptions(stream, peer, signal, touch, options.onProgress))
      await stream.close({ signal })
      report = { ...result, peer: peer.toString(), topicId: group.topicId, direction: 'outbound', ms: Date.now() - started }
    } catch (err: unknown) {
      stream?.abort(toError(err))
      report = this.failure(err, peer, group, 'outbound', started)
    } finally {
      done()
    }
    log('%s sync with %p in %s (%s): %s, received %d, sent %d, %d ms', report.direction, peer, group.topicId, reason, report.status, report.received, report.sent, report.ms)
    this.emit('session', report)
    return report
  }

  /** A failed session's report; a peer that broke the protocol is cut off. */
  private failure (err: unknown, peer: PeerId, group: G | undefined, direction: 'outbound' | 'inbound', started: number): SessionReport {
    const session = err instanceof SyncSessionError ? err : undefined
    const broken = session?.protocolError
    if (broken != null) this.admission.penalize(peer.toString(), broken.message)
    else log('%s sync with %p failed: %e', direction, peer, err)
    const stats = session?.stats ?? EMPTY
    return { ...stats, status: 'failed', error: toError(err).message, peer: peer.toString(), topicId: group?.topicId, direction, ms: Date.now() - started }
  }

  private readonly handleStream = async (stream: Stream, connection: Connection): Promise<void> => {
    const remote = connection.remotePeer
    const peer = remote.toString()
    // until its proof verifies, the peer holds a handshake slot only
    const handshake = this.controller != null ? this.admission.admitHandshake(peer) : undefined
    if (handshake == null) {
      stream.abort(new SyncAbortedError('not accepting a sync session now'))
      return
    }
    let group: G | undefined
    let slot: InboundSlot | undefined
    // while it runs, the session for its pair (syncGroup waits for it rather than start another)
    const finished: Promise<SessionReport> = this.track(this.inboundSession(stream, remote, g => {
      handshake.release()
      slot = this.admission.admitSession(peer)
      if (slot == null) throw new SyncAbortedError('no inbound sync slot free')
      if (!this.scheduler.beginInbound(remote, g, finished)) return false
      group = g
      return true
    }).finally(() => {
      handshake.release()
      slot?.release()
    }))
    const report = await finished
    if (group != null) this.scheduler.inboundEnded(remote, group, report)
    if (report.status !== 'unknown') {
      log('inbound sync with %p in %s: %s, received %d, sent %d, %d ms', remote, report.topicId, report.status, report.received, report.sent, report.ms)
    }
    this.emit('session', report)
  }

  /** The responding end; `admit` registers the session for its pair. Never rejects: failures are reports. */
  private async inboundSession (stream: Stream, remote: PeerId, admit: (group: G) => boolean): Promise<SessionReport> {
    const started = Date.now()
    const { signal, touch, done } = this.admission.sessionSignal(remote.toString(), [this.controller?.signal])
    let admitted: G | undefined
    try {
      const result = await respondSession<G>({
        lookup: match => {
          for (const g of this.host.groups()) {
            // a peer the group does not admit (issue 15: removed from its log) gets the answer of a group this node is not in
            if (match(g.keys.macKey)) return this.host.admitPeer?.(g, remote) === false ? undefined : g
          }
          return undefined
        },
        admit: g => {
          if (!admit(g)) return false
          admitted = g
          return true
        }
      }, this.sessionOptions(stream, remote, signal, touch))
      await stream.close({ signal })
      const { group: _found, ...stats } = result
      return { ...stats, peer: remote.toString(), topicId: result.group?.topicId, direction: 'inbound', ms: Date.now() - started }
    } catch (err: unknown) {
      stream.abort(toError(err))
      return this.failure(err, remote, admitted, 'inbound', started)
    } finally {
      done()
    }
  }
}

/**
 * History sync as a libp2p service: `services: { sync: historySync(host, init) }`.
 * Needs gossipsub registered as `pubsub`.
 */
export function historySync<G extends SyncableGroup> (host: SyncHost<G>, init: SyncInit = {}): (components: SyncComponents) => SyncService<G> {
  return (components) => new SyncService<G>(components, host, init)
}
