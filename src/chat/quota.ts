/**
 * Per-author quotas in each group (issue 14, item 9: a member flooding a
 * group). Two limits per (group, author), both counted at arrival here:
 *
 * - a **rate** of live messages: a token bucket, `rate` per second in the
 *   long run, `burst` at once. The caller says what counts (`rate: true`):
 *   ChatNode counts every gossip message, and, from an author that is
 *   `throttled` (went over the rate within the time its bucket takes to
 *   refill), also what sync brings: sync filling the gaps left by refused
 *   gossip would otherwise fetch at once what the rate just refused. A
 *   catch-up of an author that kept to the rate (for a newcomer, or a member
 *   back after a while) arrives in bulk by nature and is not rate-limited,
 *   only budgeted.
 * - a **storage budget**: envelope bytes stored within a rolling window
 *   (`bytes` per `windowMs`, rolled in `slots` steps), for every message
 *   stored, live or history.
 *
 * What is over either is not stored (ChatNode.ingest answers 'ignore': no
 * penalty, not forwarded; sync offers it again later, when there is room):
 * the rate bounds how fast an author's messages are stored, the budget how
 * much of them a day.
 * Memory is bounded: at most `maxAuthors` (group, author) pairs are tracked,
 * the least recently seen forgotten beyond. Pure: no timers, no I/O; the
 * clock is passed in.
 *
 * Defaults, against honest use: a person types well under 1 message a
 * second, and a paste, a bot or a bridge replaying a backlog sends bursts of
 * tens to hundreds; 20 a second with bursts of 500 is far above either, and
 * caps the flood of the issue (20,000 messages in 20 s) at 900 stored live.
 * 64 MiB a day is 16,000 messages of the largest size (4 KiB of text), or
 * about 130,000 of the usual 256-512 byte envelopes. The benchmarks send
 * 100-500 messages a second from one author, and bursts of 10,000: they
 * raise the limits (ChatNodeInit `quota`).
 */

export interface AuthorQuotaInit {
  /** live messages one author may have stored per second in one group, in the long run. Default 20 */
  rate?: number
  /** ... and at once (bucket size). Default 500 */
  burst?: number
  /** envelope bytes one author may have stored in one group per window. Default 64 MiB */
  bytes?: number
  /** the rolling window of `bytes`, ms. Default 24 h */
  windowMs?: number
  /** steps the window rolls in: bytes leave it one slot (windowMs / slots) at a time. Default 24 */
  slots?: number
  /** (group, author) pairs tracked at most; beyond, the least recently seen is forgotten. Default 10,000 */
  maxAuthors?: number
}

export const DEFAULT_QUOTA_RATE = 20
export const DEFAULT_QUOTA_BURST = 500
export const DEFAULT_QUOTA_BYTES = 64 * 1024 * 1024
export const DEFAULT_QUOTA_WINDOW_MS = 24 * 60 * 60_000
export const DEFAULT_QUOTA_SLOTS = 24
export const DEFAULT_QUOTA_MAX_AUTHORS = 10_000

export interface QuotaOptions {
  /** count the message against the rate (a live message); false: the storage budget only (history). Default true */
  rate?: boolean
}

export interface QuotaCounts {
  /** messages taken (within both limits) */
  taken: number
  /** refused: over the author's rate */
  refusedRate: number
  /** refused: over the author's storage budget */
  refusedStorage: number
  /** (group, author) pairs tracked now */
  tracked: number
  /** pairs forgotten to stay within maxAuthors */
  evicted: number
}

interface Entry {
  /** rate bucket */
  tokens: number
  at: number
  /** bytes per slot of the window, a ring; `slot` is the absolute index of the newest */
  used: Float64Array
  slot: number
  total: number
  /** when a take was last refused for the rate */
  refusedAt: number
}

export class AuthorQuota {
  readonly rate: number
  readonly burst: number
  readonly bytes: number
  readonly windowMs: number
  readonly slots: number
  readonly maxAuthors: number
  private readonly slotMs: number
  /** insertion order is recency: an entry is moved to the end when used */
  private readonly entries = new Map<string, Entry>()
  private readonly counters = { taken: 0, refusedRate: 0, refusedStorage: 0, evicted: 0 }

  constructor (init: AuthorQuotaInit = {}) {
    this.rate = positive(init.rate ?? DEFAULT_QUOTA_RATE, 'rate')
    this.burst = Math.max(1, positive(init.burst ?? DEFAULT_QUOTA_BURST, 'burst'))
    this.bytes = positive(init.bytes ?? DEFAULT_QUOTA_BYTES, 'bytes')
    this.windowMs = positive(init.windowMs ?? DEFAULT_QUOTA_WINDOW_MS, 'windowMs')
    this.slots = Math.max(1, Math.floor(positive(init.slots ?? DEFAULT_QUOTA_SLOTS, 'slots')))
    this.maxAuthors = Math.max(1, Math.floor(positive(init.maxAuthors ?? DEFAULT_QUOTA_MAX_AUTHORS, 'maxAuthors')))
    this.slotMs = this.windowMs / this.slots
  }

  /**
   * Admit one message of `bytes` by `authorHex` in `groupId`: true, and
   * counted against both limits, when it is within them; false, and nothing
   * counted, when it is over either.
   */
  take (groupId: string, authorHex: string, bytes: number, now = Date.now(), options: QuotaOptions = {}): boolean {
    const e = this.entry(groupId, authorHex, now)
    const rated = options.rate !== false
    if (rated && e.tokens < 1) {
      this.counters.refusedRate++
      e.refusedAt = now
      return false
    }
    if (e.total + bytes > this.bytes) {
      this.counters.refusedStorage++
      return false
    }
    if (rated) e.tokens -= 1
    e.used[this.index(e.slot)] += bytes
    e.total += bytes
    this.counters.taken++
    return true
  }

  /**
   * Give back a `take` whose message was not stored after all (a duplicate):
   * a replayed old message must not use up its author's quota. Same
   * arguments as the take.
   */
  refund (groupId: string, authorHex: string, bytes: number, now = Date.now(), options: QuotaOptions = {}): void {
    const e = this.entries.get(key(groupId, authorHex))
    if (e == null) return
    this.roll(e, now)
    if (options.rate !== false) e.tokens = Math.min(this.burst, e.tokens + 1)
    // from the newest slot back: the bytes were counted in one of them, unless they rolled out already
    let left = Math.min(bytes, e.total)
    for (let s = e.slot; left > 0 && s > e.slot - this.slots; s--) {
      const i = this.index(s)
      const give = Math.min(left, e.used[i])
      e.used[i] -= give
      e.total -= give
      left -= give
    }
    if (this.counters.taken > 0) this.counters.taken--
  }

  /**
   * Did this author go over the rate lately: a take refused for the rate less
   * than burst / rate seconds ago (the time its bucket takes to refill)?
   * Changes nothing.
   */
  throttled (groupId: string, authorHex: string, now = Date.now()): boolean {
    const e = this.entries.get(key(groupId, authorHex))
    return e != null && now - e.refusedAt < this.burst / this.rate * 1000
  }

  /**
   * Milliseconds until `take` of a message of `bytes` by this author would
   * pass (0: now; Infinity: never, larger than the whole budget). Changes
   * nothing. For sync: not to ask again at once for what was just refused.
   */
  retryAfter (groupId: string, authorHex: string, bytes: number, now = Date.now(), options: QuotaOptions = {}): number {
    if (bytes > this.bytes) return Infinity
    const e = this.entries.get(key(groupId, authorHex))
    if (e == null) return 0
    let wait = 0
    if (options.rate !== false) {
      const tokens = Math.min(this.burst, e.tokens + Math.max(0, now - e.at) / 1000 * this.rate)
      if (tokens < 1) wait = Math.ceil((1 - tokens) / this.rate * 1000)
    }
    // the window as it is at `now`, then its oldest slots rolling out one by one until the bytes fit
    const slot = Math.max(e.slot, this.slotOf(now))
    let total = 0
    for (let s = slot - this.slots + 1; s <= e.slot; s++) total += e.used[this.index(s)]
    for (let s = slot - this.slots + 1; total + bytes > this.bytes && s <= e.slot; s++) {
      total -= e.used[this.index(s)]
      // slot s leaves the window when slot s + slots begins
      wait = Math.max(wait, Math.ceil((s + this.slots) * this.slotMs - now))
    }
    return wait
  }

  /** Forget a group's authors (the group was left). */
  forget (groupId: string): void {
    const prefix = groupId + '/'
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k)
  }

  counts (): QuotaCounts {
    return { ...this.counters, tracked: this.entries.size }
  }

  /** The (refilled, rolled) entry of a pair, made most recent; created full, evicting the least recent beyond maxAuthors. */
  private entry (groupId: string, authorHex: string, now: number): Entry {
    const k = key(groupId, authorHex)
    let e = this.entries.get(k)
    if (e != null) {
      this.entries.delete(k)
      this.roll(e, now)
    } else {
      while (this.entries.size >= this.maxAuthors) {
        const oldest = this.entries.keys().next().value
        if (oldest == null) break
        this.entries.delete(oldest)
        this.counters.evicted++
      }
      e = { tokens: this.burst, at: now, used: new Float64Array(this.slots), slot: this.slotOf(now), total: 0, refusedAt: -Infinity }
    }
    this.entries.set(k, e)
    return e
  }

  /** Refill the bucket and move the window to `now`; a clock going back refills and rolls nothing. */
  private roll (e: Entry, now: number): void {
    if (now > e.at) {
      e.tokens = Math.min(this.burst, e.tokens + (now - e.at) / 1000 * this.rate)
      e.at = now
    }
    const slot = this.slotOf(now)
    if (slot <= e.slot) return
    if (slot - e.slot >= this.slots) {
      e.used.fill(0)
      e.total = 0
    } else {
      for (let s = e.slot + 1; s <= slot; s++) {
        const i = this.index(s)
        e.total -= e.used[i]
        e.used[i] = 0
      }
      if (e.total < 0) e.total = 0
    }
    e.slot = slot
  }

  private slotOf (now: number): number {
    return Math.floor(now / this.slotMs)
  }

  /** position of an absolute slot in the ring */
  private index (slot: number): number {
    return ((slot % this.slots) + this.slots) % this.slots
  }
}

function key (groupId: string, authorHex: string): string {
  return `${groupId}/${authorHex}`
}

function positive (v: number, what: string): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`quota ${what} must be a positive number`)
  return v
}
