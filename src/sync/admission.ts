import { logger } from '@libp2p/logger'
import { PeerRateLimiter } from '../rate-limit.js'
import { SyncAbortedError } from './errors.js'

const log = logger('p2p-chat:sync:admission')

/** inbound sessions one peer may have at once: no peer can take every inbound slot */
export const MAX_INBOUND_PER_PEER = 4
/** inbound sessions a peer may start per second, in the long run (bursts of INBOUND_SESSION_BURST) */
export const INBOUND_SESSION_RATE = 1
export const INBOUND_SESSION_BURST = 64
/** penalties remembered before the expired ones are swept */
const MAX_PENALTIES = 10_000

export interface AdmissionInit {
  /** inbound sessions at once, all peers */
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
  done: () => void
}

/**
 * Who may make this node work, and who is cut off: the inbound session
 * caps (all peers, per peer, per second), the penalties for peers that
 * broke the protocol, and the abort controllers that end every session of
 * a peer when it is cut off. Pure bookkeeping: no streams, no libp2p.
 */
export class Admission {
  /** inbound sessions a peer may start, per second (tests read `refused`) */
  readonly inboundRate = new PeerRateLimiter({ rate: INBOUND_SESSION_RATE, burst: INBOUND_SESSION_BURST })
  private readonly init: AdmissionInit
  private inboundRunning = 0
  private readonly inboundPerPeer = new Map<string, number>()
  private readonly penalties = new Map<string, number>()
  private readonly peerControllers = new Map<string, Set<AbortController>>()

  constructor (init: AdmissionInit) {
    this.init = init
  }

  /** inbound sessions under way */
  get inbound (): number { return this.inboundRunning }

  /**
   * A slot for an inbound session of `peer`, or undefined when it is cut
   * off, every slot is taken, it holds its share, or it started too many
   * of late (checked in that order: a refusal for the earlier reasons
   * spends none of its rate).
   */
  admitInbound (peer: string): InboundSlot | undefined {
    const perPeer = this.inboundPerPeer.get(peer) ?? 0
    if (this.penalizedUntil(peer) != null || this.inboundRunning >= this.init.maxInbound ||
      perPeer >= MAX_INBOUND_PER_PEER || !this.inboundRate.take(peer)) return undefined
    this.inboundRunning++
    this.inboundPerPeer.set(peer, perPeer + 1)
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        this.inboundRunning--
        const left = (this.inboundPerPeer.get(peer) ?? 1) - 1
        if (left > 0) this.inboundPerPeer.set(peer, left)
        else this.inboundPerPeer.delete(peer)
      }
    }
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
    for (const c of this.peerControllers.get(peer) ?? []) c.abort(new SyncAbortedError('peer cut off'))
    this.init.onPenalized?.(peer, reason)
  }

  /**
   * The signal of one session with `peer`: aborted when the peer is cut
   * off, at the session deadline, or by any of `signals`. Call `done` when
   * the session ends.
   */
  sessionSignal (peer: string, signals: Array<AbortSignal | undefined> = []): PeerSignal {
    const own = new AbortController()
    let set = this.peerControllers.get(peer)
    if (set == null) this.peerControllers.set(peer, set = new Set())
    set.add(own)
    const all = [own.signal, AbortSignal.timeout(this.init.sessionTimeout)]
    for (const s of signals) if (s != null) all.push(s)
    return {
      signal: AbortSignal.any(all),
      done: () => {
        set.delete(own)
        if (set.size === 0) this.peerControllers.delete(peer)
      }
    }
  }
}
