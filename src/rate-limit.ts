/**
 * Per-peer token buckets: how much work one remote peer may make this node do
 * (validations, sync sessions, call offers). Pure: no libp2p, no timers; the
 * clock is passed in for tests.
 */

export interface PeerRateLimitInit {
  /** tokens added per second, per peer */
  rate: number
  /** bucket size: the burst a peer may spend at once; default 2 × rate */
  burst?: number
  /** peers tracked at most; beyond, the idle (full) buckets are forgotten. Default 10,000 */
  maxPeers?: number
  /**
   * Work-conserving: a peer over its rate is still let through while it is
   * the only one asking, i.e. no other peer took a token within this many
   * ms. The limit is then a share among peers that compete, and never holds
   * a node's only busy peer below what the node could do. Default: off (the
   * rate holds always)
   */
  aloneAfterMs?: number
}

interface Bucket { tokens: number, at: number }

const DEFAULT_MAX_PEERS = 10_000

export class PeerRateLimiter {
  readonly rate: number
  readonly burst: number
  private readonly maxPeers: number
  private readonly buckets = new Map<string, Bucket>()
  private readonly aloneAfterMs: number | undefined
  /** the peer that took a token last, and when; the last other peer before it, and when (for aloneAfterMs) */
  private last: { peer: string, at: number } | undefined
  private lastOther: { peer: string, at: number } | undefined
  /** requests refused so far, all peers */
  refused = 0
  /** requests let through over their peer's rate because that peer was the only one asking (aloneAfterMs) */
  alone = 0

  constructor (init: PeerRateLimitInit) {
    if (!(init.rate > 0)) throw new RangeError('rate must be positive')
    this.rate = init.rate
    this.burst = Math.max(1, init.burst ?? 2 * init.rate)
    this.maxPeers = init.maxPeers ?? DEFAULT_MAX_PEERS
    this.aloneAfterMs = init.aloneAfterMs
  }

  /** Spend `cost` tokens of `peer`'s bucket: false (and nothing spent) when it has fewer. */
  take (peer: string, cost = 1, now = Date.now()): boolean {
    let b = this.buckets.get(peer)
    if (b == null) {
      if (this.buckets.size >= this.maxPeers) this.prune(now)
      b = { tokens: this.burst, at: now }
      this.buckets.set(peer, b)
    } else {
      b.tokens = Math.min(this.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.rate)
      b.at = now
    }
    if (b.tokens < cost) {
      if (this.aloneAfterMs != null && this.othersQuiet(peer, now)) {
        this.alone++
        this.taken(peer, now)
        return true
      }
      this.refused++
      return false
    }
    b.tokens -= cost
    this.taken(peer, now)
    return true
  }

  /** no peer but `peer` took a token within aloneAfterMs */
  private othersQuiet (peer: string, now: number): boolean {
    const other = this.last?.peer === peer ? this.lastOther : this.last
    return other == null || now - other.at >= (this.aloneAfterMs ?? 0)
  }

  private taken (peer: string, now: number): void {
    if (this.last?.peer === peer) this.last.at = now
    else {
      this.lastOther = this.last
      this.last = { peer, at: now }
    }
  }

  /** Peers tracked now */
  get size (): number { return this.buckets.size }

  private prune (now: number): void {
    for (const [peer, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(peer)
    }
    // everyone is busy: forget the oldest half rather than grow without bound
    if (this.buckets.size >= this.maxPeers) {
      let n = Math.ceil(this.buckets.size / 2)
      for (const peer of this.buckets.keys()) {
        if (n-- <= 0) break
        this.buckets.delete(peer)
      }
    }
  }
}
