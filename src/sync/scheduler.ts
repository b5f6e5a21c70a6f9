import { logger } from '@libp2p/logger'
import { PeerQueue } from '@libp2p/utils'
import { sessionKey } from './types.js'
import { Backoff } from '../connectivity/index.js'
import type { BackoffInit } from '../connectivity/index.js'
import type { SessionReport, SyncOptions, SyncReason, SyncableGroup } from './types.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { PeerQueueJobOptions } from '@libp2p/utils'

const log = logger('p2p-chat:sync:scheduler')

export interface SchedulerInit<G extends SyncableGroup> {
  /** start sessions by itself; off: only runOutbound (on demand) starts them */
  auto: boolean
  /** outbound sessions at once started by schedule with peers that proved membership (queued beyond) */
  maxOutbound: number
  /** outbound sessions at once with peers that have not proved membership yet (queued beyond); default DEFAULT_MAX_PROBES */
  maxProbes?: number
  /** ms between periodic rounds (+-10 % jitter); 0 turns them off */
  interval: number
  /** ms after a session that left seqs to another session (`deferred`) before the next round with that peer: the claim hold */
  deferredDelay: number
  /** the groups this node is in, now */
  groups: () => Iterable<G>
  /** the group's connected members that are not cut off */
  subscribers: (group: G) => PeerId[]
  connected: (peer: PeerId) => boolean
  penalized: (peer: PeerId) => boolean
  /** has the peer proved membership of the group (in a sync handshake, either direction)? */
  proven: (peer: PeerId, group: G) => boolean
  /** of two members, does this node start the symmetric rounds with `peer`? */
  initiates: (peer: PeerId) => boolean
  /** run one outbound session (never rejects: failures are reports) */
  session: (peer: PeerId, group: G, reason: SyncReason, options: SyncOptions) => Promise<SessionReport>
  /** the wait after a failed session before the next scheduled one with that pair (doubling, 1 to 30 s by default) */
  failureBackoff?: BackoffInit
}

/** outbound sessions at once with peers that have not proved membership: each one proves it or fails within the handshake timeout */
export const DEFAULT_MAX_PROBES = 32

interface Job<G> extends PeerQueueJobOptions {
  group: G
  reason: SyncReason
}

/**
 * When outbound sessions run: at most one session per peer and group at a
 * time (either direction); at most `maxOutbound` scheduled ones at once
 * with peers that proved membership, and apart from them at most
 * `maxProbes` with peers that have not (yet), so that subscribers that
 * cannot prove it never hold up the members (the rest wait in PeerQueues,
 * each pair once); one more round for a pair when news arrived during its
 * session; news passed on to the other proven members after a session; and
 * the periodic rounds. A pair whose session failed is not scheduled again
 * before its backoff has passed (one round is kept for then): otherwise two
 * members that cannot be reached would pass a failure back and forth, each
 * one's failure a reason to sync with the other, without end (seen as a
 * storm of sessions during a partition, issue 16's test runs). Sessions on
 * demand (runOutbound) are not held back.
 */
export class SyncScheduler<G extends SyncableGroup> {
  private readonly init: SchedulerInit<G>
  private readonly queue: PeerQueue<SessionReport | undefined, Job<G>>
  private readonly probes: PeerQueue<SessionReport | undefined, Job<G>>
  /** pairs waiting in the queue */
  private readonly queued = new Set<string>()
  /** pairs to run once more when their session ends */
  private readonly rerun = new Map<string, { peer: PeerId, group: G }>()
  private readonly outbound = new Map<string, Promise<SessionReport>>()
  private readonly inbound = new Map<string, Promise<SessionReport>>()
  private periodic?: ReturnType<typeof setTimeout>
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private running = false
  private readonly failures: Backoff
  /** per pair whose last session failed: when the next scheduled one may start (ms since 1970) */
  private readonly heldUntil = new Map<string, number>()
  /** pairs with a round kept for the end of their backoff */
  private readonly heldRounds = new Set<string>()

  constructor (init: SchedulerInit<G>) {
    this.init = init
    this.queue = new PeerQueue({ concurrency: Math.max(1, init.maxOutbound) })
    this.probes = new PeerQueue({ concurrency: Math.max(1, init.maxProbes ?? DEFAULT_MAX_PROBES) })
    this.failures = new Backoff(init.failureBackoff)
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.armPeriodic()
  }

  /** Forget what waits; sessions under way are the service's to end. */
  stop (): void {
    this.running = false
    if (this.periodic != null) clearTimeout(this.periodic)
    this.periodic = undefined
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.queue.abort()
    this.probes.abort()
    this.queued.clear()
    this.rerun.clear()
    this.heldUntil.clear()
    this.heldRounds.clear()
    this.failures.reset()
  }

  /** the session under way with this peer for this group, either direction */
  current (peer: PeerId, group: G): Promise<SessionReport> | undefined {
    const key = sessionKey(peer, group)
    return this.outbound.get(key) ?? this.inbound.get(key)
  }

  /** pairs waiting for a slot */
  get waiting (): number { return this.queued.size }

  /** Resolves once no scheduled session runs or waits (sessions on demand are not counted). */
  async idle (options?: AbortOptions): Promise<void> {
    await Promise.all([this.queue.onIdle(options), this.probes.onIdle(options)])
  }

  /** Queue an outbound session with `peer` for `group` (or a rerun, if one is under way). */
  schedule (peer: PeerId, group: G, reason: SyncReason): void {
    if (!this.running || !this.init.auto || this.init.penalized(peer)) return
    const key = sessionKey(peer, group)
    if (this.outbound.has(key) || this.inbound.has(key)) {
      // news arrived during a session: one more round once it ends
      if (reason !== 'periodic' && reason !== 'subscribed') this.rerun.set(key, { peer, group })
      return
    }
    if (this.queued.has(key)) return
    if (reason === 'subscribed' || reason === 'joined') {
      // a new subscription or connection: what failed before may work now
      this.failures.reset(key)
      this.heldUntil.delete(key)
    }
    const until = this.heldUntil.get(key)
    if (until != null && until > Date.now()) {
      // its last session failed: one round once the backoff has passed (periodic ones come anyway)
      if (reason !== 'periodic' && !this.heldRounds.has(key)) {
        this.heldRounds.add(key)
        this.later(until - Date.now(), () => { this.heldRounds.delete(key); this.schedule(peer, group, reason) })
      }
      return
    }
    this.queued.add(key)
    const queue = this.init.proven(peer, group) ? this.queue : this.probes
    queue.add(async () => {
      this.queued.delete(key)
      if (!this.running || this.outbound.has(key) || this.inbound.has(key) || !this.init.connected(peer)) return undefined
      return this.runOutbound(peer, group, reason)
    }, { peerId: peer, group, reason }).catch((err: unknown) => {
      // only when stopped: queue.abort() rejects what was still waiting
      log('sync with %p in %s not started: %e', peer, group.topicId, err)
    })
  }

  /** Run an outbound session now, outside the queue (on demand), or join the one under way. */
  async runOutbound (peer: PeerId, group: G, reason: SyncReason, options: SyncOptions = {}): Promise<SessionReport> {
    const key = sessionKey(peer, group)
    const existing = this.outbound.get(key)
    if (existing != null) return existing
    const run = this.init.session(peer, group, reason, options)
    this.outbound.set(key, run)
    const report = await run
    this.outbound.delete(key)
    if (report.status === 'busy' && reason !== 'periodic' && reason !== 'subscribed') {
      // the peer is running a session with us: go again after it
      this.rerun.set(key, { peer, group })
    }
    this.afterSession(key, peer, group, report)
    return report
  }

  /**
   * An inbound session for this pair wants to begin: false when one is
   * under way, or when both ends started at once and this node's outbound
   * one goes on (the smaller peer id's). True registers it until
   * inboundEnded.
   */
  beginInbound (peer: PeerId, group: G, finished: Promise<SessionReport>): boolean {
    const key = sessionKey(peer, group)
    if (this.inbound.has(key)) return false
    if (this.outbound.has(key) && this.init.initiates(peer)) return false
    this.inbound.set(key, finished)
    return true
  }

  inboundEnded (peer: PeerId, group: G, report: SessionReport): void {
    const key = sessionKey(peer, group)
    this.inbound.delete(key)
    this.afterSession(key, peer, group, report)
  }

  /**
   * After a session for this pair ends: the round asked for meanwhile; news
   * for the other members; after a failure, the other members may hold
   * what this peer was to send (another session may have left it to this
   * one); and what it left to another session, once that one's claim has
   * had its time.
   */
  private afterSession (key: string, peer: PeerId, group: G, report: SessionReport): void {
    if (report.status === 'failed') {
      this.heldUntil.set(key, Date.now() + this.failures.fail(key))
    } else {
      this.failures.reset(key)
      this.heldUntil.delete(key)
    }
    const again = this.rerun.get(key)
    if (again != null) {
      this.rerun.delete(key)
      this.schedule(again.peer, again.group, 'rerun')
    } else if (report.deferred === true && report.status !== 'failed') {
      this.later(this.init.deferredDelay, () => { this.schedule(peer, group, 'rerun') })
    }
    if ((report.received > 0 || report.status === 'failed') && this.isCurrent(group)) {
      for (const other of this.init.subscribers(group)) {
        if (!other.equals(peer) && this.init.proven(other, group)) this.schedule(other, group, 'propagate')
      }
    }
  }

  private isCurrent (group: G): boolean {
    for (const g of this.init.groups()) if (g.keys.groupId === group.keys.groupId) return true
    return false
  }

  private later (ms: number, fn: () => void): void {
    if (!this.running) return
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    t.unref?.()
    this.timers.add(t)
  }

  private armPeriodic (): void {
    if (this.init.interval <= 0 || !this.init.auto || !this.running) return
    // +-10 % jitter so that members do not all start at once
    const delay = this.init.interval * (0.9 + Math.random() * 0.2)
    this.periodic = setTimeout(() => {
      this.periodic = undefined
      for (const group of this.init.groups()) {
        for (const peer of this.init.subscribers(group)) {
          if (this.init.initiates(peer)) this.schedule(peer, group, 'periodic')
        }
      }
      this.armPeriodic()
    }, delay)
    this.periodic.unref?.()
  }
}
