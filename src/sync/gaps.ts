import { logger } from '@libp2p/logger'
import type { RecordKeyFn } from './session.js'
import type { SyncableGroup } from './types.js'
import type { HistoryStore } from '../store/index.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'

const log = logger('p2p-chat:sync:gaps')

export interface GapDetectorInit<G extends SyncableGroup> {
  store: Pick<HistoryStore, 'holdsPrefix'>
  /** the group of a wire topic, when this node is in it */
  byWireTopic: (topic: string) => G | undefined
  /** author and seq of an envelope, unverified */
  recordKey: RecordKeyFn<G>
  /** ms to wait before checking once more */
  gapDelay: number
  /** records before this one are missing, still after gapDelay: ask the peer that relayed it */
  onGap: (peer: PeerId, group: G) => void
}

/**
 * Holes in live traffic: a gossip message whose author's earlier messages
 * this node lacks. Gossip accepts a message before its LevelDB write ends
 * (it is in the journal), so a predecessor claimed by a batch being written
 * counts as held; one may still be arriving, so a gap counts only if it is
 * still there after `gapDelay`.
 */
export class GapDetector<G extends SyncableGroup> {
  private readonly init: GapDetectorInit<G>
  private readonly timers = new Map<ReturnType<typeof setTimeout>, () => void>()
  private running = false

  constructor (init: GapDetectorInit<G>) {
    this.init = init
  }

  start (): void {
    this.running = true
  }

  /** Cancel the pending re-checks: they report no gap. */
  stop (): void {
    this.running = false
    for (const cancel of [...this.timers.values()]) cancel()
  }

  /**
   * A gossip message (raw envelope bytes on `topic`) relayed by `from`.
   * Resolves true when it reported a gap (after the re-check), false when
   * there was none, the message is not a group's, or it was stopped (or
   * `options.signal` aborted) first.
   */
  async observe (topic: string, data: Uint8Array, from: PeerId, options: AbortOptions = {}): Promise<boolean> {
    if (!this.running) return false
    const group = this.init.byWireTopic(topic)
    if (group == null) return false
    const key = this.init.recordKey(group, data)
    // not an envelope of the group: the topic validator rejects it and penalises the sender, nothing to fill here
    if (key == null) return false
    const { author, seq } = key
    if (seq <= 1n) return false
    // the predecessors only, and once more after gapDelay
    if (!await this.missingBefore(group, author, seq)) return false
    if (!await this.delay(this.init.gapDelay, options)) return false
    if (!await this.missingBefore(group, author, seq)) return false
    log('gap before seq %s of %s in %s: asking %p', seq, author.slice(0, 8), group.topicId, from)
    this.init.onGap(from, group)
    return true
  }

  private async missingBefore (group: G, author: string, seq: bigint): Promise<boolean> {
    return !await this.init.store.holdsPrefix(group.keys.groupId, author, seq - 1n)
  }

  /** true after `ms`, false when stopped or aborted first */
  private async delay (ms: number, options: AbortOptions): Promise<boolean> {
    const { signal } = options
    if (!this.running || signal?.aborted === true) return false
    return new Promise<boolean>(resolve => {
      const cancel = (): void => {
        clearTimeout(t)
        this.timers.delete(t)
        signal?.removeEventListener('abort', cancel)
        resolve(false)
      }
      const t = setTimeout(() => {
        this.timers.delete(t)
        signal?.removeEventListener('abort', cancel)
        resolve(this.running)
      }, ms)
      t.unref?.()
      this.timers.set(t, cancel)
      signal?.addEventListener('abort', cancel, { once: true })
    })
  }
}
