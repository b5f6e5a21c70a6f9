import { serviceCapabilities } from '@libp2p/interface'
import { rendezvousCid, rendezvousDays, rendezvousKey, utcDay } from './rendezvous-key.js'
import type { ComponentLogger, ContentRouting, Logger, PeerId, PeerStore, Startable } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { CID } from 'multiformats/cid'

export const DEFAULT_RENDEZVOUS_INTERVAL = 5 * 60_000
export const DEFAULT_RENDEZVOUS_FIRST_DELAY = 1_000
export const DEFAULT_RENDEZVOUS_QUERY_TIMEOUT = 60_000
/** providers dialled per group and round at most */
export const MAX_RENDEZVOUS_DIALS = 16
/** groups announced and looked up at once: a node in (or importing) thousands of groups runs them a few at a time */
export const RENDEZVOUS_CONCURRENCY = 2

/** What rendezvous needs of a group */
export interface RendezvousGroup {
  topicId: string
  secret: Uint8Array
}

export interface RendezvousInit {
  /** the groups this node is in, now */
  groups: () => Iterable<RendezvousGroup>
  /** ms between rounds (announce and look up every group). Default 5 min */
  interval?: number
  /** ms after start before the first round (the DHT needs a peer first). Default 1 s */
  firstDelay?: number
  /** ms one provide or lookup may take. Default 60 s */
  queryTimeout?: number
}

export interface RendezvousComponents {
  peerId: PeerId
  contentRouting: ContentRouting
  connectionManager: ConnectionManager
  peerStore: PeerStore
  logger: ComponentLogger
}

/** One finished round for a group, for status and tests */
export interface RendezvousRound {
  topicId: string
  at: number
  announced: boolean
  found: number
  dialled: number
  error?: string
}

/**
 * Members that have no address for each other meet in the DHT: every node
 * announces itself as a provider of its groups' daily rendezvous keys and
 * looks up the other providers, then dials them (gossip and sync take over
 * from there). Rounds run after start, when a group is joined, and every
 * `interval`. See docs/PROTOCOL.md, "Rendezvous".
 */
export class Rendezvous implements Startable {
  readonly [Symbol.toStringTag] = 'p2p-chat/rendezvous'
  readonly [serviceCapabilities]: string[] = ['@p2p-chat/rendezvous']
  private readonly components: RendezvousComponents
  private readonly init: Required<RendezvousInit>
  private readonly log: Logger
  private controller?: AbortController
  private timer?: ReturnType<typeof setTimeout>
  private readonly rounds = new Map<string, RendezvousRound>()
  private readonly running = new Map<string, Promise<RendezvousRound>>()
  private readonly keys = new Map<string, Buffer>()
  private active = 0
  private readonly waiting: Array<() => void> = []

  constructor (components: RendezvousComponents, init: RendezvousInit) {
    this.components = components
    this.log = components.logger.forComponent('p2p-chat:rendezvous')
    this.init = {
      groups: init.groups,
      interval: init.interval ?? DEFAULT_RENDEZVOUS_INTERVAL,
      firstDelay: init.firstDelay ?? DEFAULT_RENDEZVOUS_FIRST_DELAY,
      queryTimeout: init.queryTimeout ?? DEFAULT_RENDEZVOUS_QUERY_TIMEOUT
    }
  }

  start (): void {
    this.controller ??= new AbortController()
  }

  afterStart (): void {
    this.arm(this.init.firstDelay)
  }

  stop (): void {
    this.controller?.abort()
    this.controller = undefined
    // rounds still waiting for a turn find no controller and end at once
    for (const go of this.waiting.splice(0)) go()
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = undefined
  }

  /** The last round of each group. */
  list (): RendezvousRound[] {
    return [...this.rounds.values()]
  }

  /**
   * Announce and look up one group (on join, and in every periodic round),
   * at most RENDEZVOUS_CONCURRENCY groups at a time; the round under way or
   * waiting for the group, if any, is the answer.
   */
  async meet (group: RendezvousGroup): Promise<RendezvousRound> {
    const current = this.running.get(group.topicId)
    if (current != null) return current
    const round = this.queued(async () => this.round(group)).finally(() => this.running.delete(group.topicId))
    this.running.set(group.topicId, round)
    return round
  }

  private async queued<T> (fn: () => Promise<T>): Promise<T> {
    if (this.active >= RENDEZVOUS_CONCURRENCY) await new Promise<void>(resolve => { this.waiting.push(resolve) })
    this.active++
    try {
      return await fn()
    } finally {
      this.active--
      this.waiting.shift()?.()
    }
  }

  private arm (delay: number): void {
    if (this.controller == null || this.init.interval <= 0) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      Promise.all([...this.init.groups()].map(async g => this.meet(g)))
        .catch((err: unknown) => { this.log.error('rendezvous round failed: %e', err) })
        .finally(() => { this.arm(this.init.interval) })
    }, delay)
    this.timer.unref()
  }

  private keyOf (group: RendezvousGroup): Buffer {
    let k = this.keys.get(group.topicId)
    if (k == null) {
      k = rendezvousKey(group.topicId, group.secret)
      this.keys.set(group.topicId, k)
    }
    return k
  }

  private async round (group: RendezvousGroup): Promise<RendezvousRound> {
    const result: RendezvousRound = { topicId: group.topicId, at: Date.now(), announced: false, found: 0, dialled: 0 }
    const controller = this.controller
    if (controller == null) return result
    const key = this.keyOf(group)
    const now = Date.now()
    const today = rendezvousCid(key, utcDay(now))
    const signal = (): AbortSignal => AbortSignal.any([controller.signal, AbortSignal.timeout(this.init.queryTimeout)])
    const errors: string[] = []
    try {
      await this.components.contentRouting.provide(today, { signal: signal() })
      result.announced = true
    } catch (err) {
      errors.push(`announce: ${err instanceof Error ? err.message : String(err)}`)
    }
    const seen = new Set<string>([this.components.peerId.toString()])
    for (const day of rendezvousDays(now)) {
      try {
        await this.lookUp(rendezvousCid(key, day), signal(), seen, result)
      } catch (err) {
        errors.push(`look-up ${day}: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    if (errors.length > 0) result.error = errors.join('; ')
    this.log('%s: announced %s, found %d, dialled %d%s', group.topicId, result.announced, result.found, result.dialled, result.error != null ? ` (${result.error})` : '')
    this.rounds.set(group.topicId, result)
    return result
  }

  private async lookUp (cid: CID, signal: AbortSignal, seen: Set<string>, result: RendezvousRound): Promise<void> {
    const dials: Array<Promise<void>> = []
    for await (const provider of this.components.contentRouting.findProviders(cid, { signal })) {
      const id = provider.id.toString()
      if (seen.has(id)) continue
      seen.add(id)
      result.found++
      if (this.components.connectionManager.getConnections(provider.id).length > 0 || dials.length >= MAX_RENDEZVOUS_DIALS) continue
      dials.push(this.dial(provider.id, provider.multiaddrs, signal).then(ok => { if (ok) result.dialled++ }))
    }
    await Promise.all(dials)
  }

  private async dial (peer: PeerId, addrs: Multiaddr[], signal: AbortSignal): Promise<boolean> {
    try {
      if (addrs.length > 0) await this.components.peerStore.merge(peer, { multiaddrs: addrs })
      await this.components.connectionManager.openConnection(peer, { signal })
      return true
    } catch (err) {
      this.log('cannot reach provider %p: %e', peer, err)
      return false
    }
  }
}

/** Rendezvous as a libp2p service: `services: { rendezvous: rendezvous({ groups }) }`. Needs a DHT (content routing). */
export function rendezvous (init: RendezvousInit): (components: RendezvousComponents) => Rendezvous {
  return (components) => new Rendezvous(components, init)
}
