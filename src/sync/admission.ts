import { logger } from '@libp2p/logger'
import { PeerRateLimiter } from '../rate-limit.js'
import { SyncAbortedError } from './errors.js'

const log = logger('p2p-chat:sync:admission')

/** inbound sessions one peer may have at once, and handshakes: no peer can take every inbound slot */
export const MAX_INBOUND_PER_PEER = 4
/** inbound handshakes (before the peer proved membership) at once, all peers, per inbound session slot */
export const HANDSHAKES_PER_SLOT = 4
/** inbound sessions a peer may start per second, in the long run (bursts of INBOUND_SESSION_BURST) */
export const INBOUND_SESSION_RATE = 1
export const INBOUND_SESSION_BURST = 64
/** penalties remembered before the expired ones are swept */
const MAX_PENALTIES = 10_000
/** (peer, group) pairs remembered as proven members; beyond, the oldest are forgotten */
const MAX_PROVEN = 10_000

export interface AdmissionInit {
  /** inbound sessions at once, all peers (handshakes: HANDSHAKES_PER_SLOT times as many) */
  maxInbound: number
  /** ms a peer is cut off for */
  penalty: number
  /** ms one session may last */
  sessionTimeout: number
  /** a peer was cut off */
  onPenalized?: (peer: string, reason: string) => void
}

/** A taken inbound slot: give it back once, when the session ends. */
export interface InboundSlot {
  release: () => void
}

/** The signal of one session with a peer, and what to call when it ends. */
export interface PeerSignal {
  signal: AbortSignal
  /** the session made progress (records in or out): its idle deadline starts again */
  touch: () => void
  done: () => void
}

/**
 * Who may make this node work, and who is cut off. An inbound session
 * takes two slots in turn: a handshake slot while the peer has proved
 * nothing (capped in all, per peer and per second, and short: see
 * DEFAULT_HANDSHAKE_TIMEOUT), then, once its proof verified, a session
 * slot (capped in all and per peer). Also: which peers proved membership
 * of which group, the penalties for peers that broke the protocol, and the
 * abort controllers that end every session of a peer when it is cut off.
 * Pure bookkeeping: no streams, no libp2p.
 */
export class Admission {
  /** inbound sessions a peer may start, per second (tests read `refused`) */
  readonly inboundRate = new PeerRateLimiter({ rate: INBOUND_SESSION_RATE, burst: INBOUND_SESSION_BURST })
  private readonly init: AdmissionInit
  private readonly handshakes = new Slots()
  private readonly sessions = new Slots()
  private readonly members = new Map<string, number>()
  private readonly penalties = new Map<string, number>()
  private readonly peerControllers = new Map<string, Set<AbortController>>()

  constructor (init: AdmissionInit) {
    this.init = init
  }

  /** inbound sessions under way (past the handshake) */
  get inbound (): number { return this.sessions.total }

  /** inbound handshakes under way */
  get pendingHandshakes (): number { return this.handshakes.total }

  /**
   * A slot for an inbound handshake of `peer`, or undefined when it is cut
   * off, every handshake slot is taken, it holds its share, or it started
   * too many of late (checked in that order: a refusal for the earlier
   * reasons spends none of its rate). Release it when the peer's proof
   * verified or the session ended.
   */
  admitHandshake (peer: string): InboundSlot | undefined {
    if (this.penalizedUntil(peer) != null) return undefined
    if (!this.handshakes.free(peer, HANDSHAKES_PER_SLOT * this.init.maxInbound, MAX_INBOUND_PER_PEER)) return undefined
    if (!this.inboundRate.take(peer)) return undefined
    return this.handshakes.take(peer)
  }

  /** A slot for an inbound session of a peer that proved membership, or undefined when every slot is taken or it holds its share. */
  admitSession (peer: string): InboundSlot | undefined {
    if (this.penalizedUntil(peer) != null) return undefined
    if (!this.sessions.free(peer, this.init.maxInbound, MAX_INBOUND_PER_PEER)) return undefined
    return this.sessions.take(peer)
  }

  /** `peer` proved membership of the group (a sync handshake, either direction). */
  prove (peer: string, groupId: string): void {
    const key = `${peer}/${groupId}`
    this.members.delete(key)
    this.members.set(key, Date.now())
    if (this.members.size > MAX_PROVEN) {
      for (const k of this.members.keys()) {
        this.members.delete(k)
        break
      }
    }
  }

  /** Has `peer` proved membership of the group (and not been cut off since)? */
  proven (peer: string, groupId: string): boolean {
    return this.members.has(`${peer}/${groupId}`) && this.penalizedUntil(peer) == null
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

  /** Cut a peer off for the penalty time: its sessions end now, new ones are refused. */
  penalize (peer: string, reason: string): void {
    log('cutting off %s for %d ms: %s', peer, this.init.penalty, reason)
    if (this.penalties.size > MAX_PENALTIES) {
      for (const [k, until] of this.penalties) if (until <= Date.now()) this.penalties.delete(k)
    }
    this.penalties.set(peer, Date.now() + this.init.penalty)
    // it proves membership again before it is trusted again
    for (const key of [...this.members.keys()]) if (key.startsWith(`${peer}/`)) this.members.delete(key)
    for (const c of this.peerControllers.get(peer) ?? []) c.abort(new SyncAbortedError('peer cut off'))
    this.init.onPenalized?.(peer, reason)
  }

  /**
   * The signal of one session with `peer`: aborted when the peer is cut
   * off, when the session made no progress for `sessionTimeout` ms (an idle
   * deadline: a long catch-up that goes on is never cut), or by any of
   * `signals`. Call `touch` on progress and `done` when the session ends.
   */
  sessionSignal (peer: string, signals: Array<AbortSignal | undefined> = []): PeerSignal {
    const own = new AbortController()
    let set = this.peerControllers.get(peer)
    if (set == null) this.peerControllers.set(peer, set = new Set())
    set.add(own)
    const idle = new AbortController()
    const arm = (): ReturnType<typeof setTimeout> => {
      const t = setTimeout(() => { idle.abort(new SyncAbortedError(`no progress for ${this.init.sessionTimeout} ms`)) }, this.init.sessionTimeout)
      t.unref()
      return t
    }
    let timer = arm()
    const all = [own.signal, idle.signal]
    for (const s of signals) if (s != null) all.push(s)
    return {
      signal: AbortSignal.any(all),
      touch: () => {
        clearTimeout(timer)
        timer = arm()
      },
      done: () => {
        clearTimeout(timer)
        set.delete(own)
        if (set.size === 0) this.peerControllers.delete(peer)
      }
    }
  }
}

/** Slots taken, in all and per peer */
class Slots {
  total = 0
  private readonly perPeer = new Map<string, number>()

  free (peer: string, max: number, maxPerPeer: number): boolean {
    return this.total < max && (this.perPeer.get(peer) ?? 0) < maxPerPeer
  }

  take (peer: string): InboundSlot {
    this.total++
    this.perPeer.set(peer, (this.perPeer.get(peer) ?? 0) + 1)
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        this.total--
        const left = (this.perPeer.get(peer) ?? 1) - 1
        if (left > 0) this.perPeer.set(peer, left)
        else this.perPeer.delete(peer)
      }
    }
  }
}
