import { networkInterfaces } from 'node:os'
import { multiaddr } from '@multiformats/multiaddr'
import { serviceCapabilities } from '@libp2p/interface'
import { Backoff } from './backoff.js'
import type { BackoffInit } from './backoff.js'
import type { ComponentLogger, Libp2pEvents, Logger, PeerId, PeerStore, Startable, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Peer store tag of group members. Not a KEEP_ALIVE tag on purpose: libp2p's
 * reconnect queue drops KEEP_ALIVE tags after its last retry, which is how a
 * member used to be given up after a five-minute outage. This service
 * redials tagged peers for as long as the node runs.
 */
export const MEMBER_TAG = 'p2p-chat-member'
export const MEMBER_TAG_VALUE = 50
/** peer store metadata: when a member was last connected (ms since 1970, decimal text) */
export const LAST_SEEN_KEY = 'p2p-chat-last-seen'

export const DEFAULT_REDIAL_CONCURRENCY = 4
export const DEFAULT_REDIAL_DIAL_TIMEOUT = 10_000
export const DEFAULT_NETWORK_CHECK_INTERVAL = 5_000

export interface RedialInit {
  /** the capped backoff between attempts per peer (default 1 s doubling up to 30 s) */
  backoff?: BackoffInit
  /** dials at once. Default 4 */
  concurrency?: number
  /** ms one dial may take. Default 10 s */
  dialTimeout?: number
  /** multiaddrs (with /p2p/) kept connected the same way: bootstrap peers, relays */
  addresses?: string[]
  /** ms between looks at the network interfaces (a change retries everything now); 0 turns it off. Default 5 s */
  networkCheckInterval?: number
}

export interface RedialComponents {
  peerId: PeerId
  peerStore: PeerStore
  connectionManager: ConnectionManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

/** One peer the redialer keeps connected, as status shows it */
export interface RedialTarget {
  /** peer id, or the multiaddr of a bootstrap/relay peer */
  target: string
  connected: boolean
  /** failed attempts since the last success */
  failures: number
  /** ms since 1970 of the next attempt, when one is due */
  nextAttempt?: number
}

interface Target {
  key: string
  dial: PeerId | Multiaddr
  peer?: PeerId
  timer?: ReturnType<typeof setTimeout>
  due?: number
  dialing: boolean
}

/**
 * Keeps a node connected to its group members (peers tagged MEMBER_TAG in
 * the persistent peer store) and to its bootstrap/relay addresses: on start
 * (most recently seen first), after each disconnect, and after every failure
 * with a capped backoff, for as long as the node runs; at once again when the
 * network interfaces change. Bounded concurrency.
 */
export class Redialer implements Startable {
  readonly [Symbol.toStringTag] = 'p2p-chat/redial'
  readonly [serviceCapabilities]: string[] = ['@p2p-chat/redial']
  private readonly components: RedialComponents
  private readonly log: Logger
  private readonly backoff: Backoff
  private readonly concurrency: number
  private readonly dialTimeout: number
  private readonly addresses: string[]
  private readonly networkCheckInterval: number
  private readonly targets = new Map<string, Target>()
  private readonly waiting: Target[] = []
  private active = 0
  private started = false
  private controller?: AbortController
  private networkTimer?: ReturnType<typeof setInterval>
  private networkSignature = ''

  constructor (components: RedialComponents, init: RedialInit = {}) {
    this.components = components
    this.log = components.logger.forComponent('p2p-chat:redial')
    this.backoff = new Backoff(init.backoff)
    this.concurrency = init.concurrency ?? DEFAULT_REDIAL_CONCURRENCY
    this.dialTimeout = init.dialTimeout ?? DEFAULT_REDIAL_DIAL_TIMEOUT
    this.addresses = init.addresses ?? []
    this.networkCheckInterval = init.networkCheckInterval ?? DEFAULT_NETWORK_CHECK_INTERVAL
  }

  start (): void {
    if (this.started) return
    this.started = true
    this.controller = new AbortController()
    this.components.events.addEventListener('peer:connect', this.onConnect)
    this.components.events.addEventListener('peer:disconnect', this.onDisconnect)
  }

  /** After libp2p is listening: dial the known members, newest first, and the fixed addresses. */
  afterStart (): void {
    for (const addr of this.addresses) {
      try {
        const ma = multiaddr(addr)
        const peer = ma.getComponents().findLast(c => c.name === 'p2p')?.value
        this.schedule(this.target(addr, ma), 0)
        if (peer == null) this.log('%s has no /p2p/ peer id: dialled, but not recognised when connected', addr)
      } catch (err) {
        this.log.error('not a multiaddr: %s: %e', addr, err)
      }
    }
    this.loadMembers().catch((err: unknown) => { this.log.error('cannot read the members from the peer store: %e', err) })
    if (this.networkCheckInterval > 0) {
      this.networkSignature = interfacesSignature()
      this.networkTimer = setInterval(() => { this.checkNetwork() }, this.networkCheckInterval)
      this.networkTimer.unref()
    }
  }

  stop (): void {
    if (!this.started) return
    this.started = false
    this.controller?.abort()
    this.controller = undefined
    this.components.events.removeEventListener('peer:connect', this.onConnect)
    this.components.events.removeEventListener('peer:disconnect', this.onDisconnect)
    if (this.networkTimer != null) clearInterval(this.networkTimer)
    this.networkTimer = undefined
    for (const t of this.targets.values()) if (t.timer != null) clearTimeout(t.timer)
    this.targets.clear()
    this.waiting.length = 0
  }

  /** Tag a peer as a group member (persisted): it is redialled from now on, also after restarts. */
  async addMember (peer: PeerId): Promise<void> {
    if (peer.equals(this.components.peerId)) return
    await this.components.peerStore.merge(peer, { tags: { [MEMBER_TAG]: { value: MEMBER_TAG_VALUE } } })
    if (this.components.connectionManager.getConnections(peer).length > 0) await this.markSeen(peer)
  }

  /** Dial a peer now (when not connected), then keep it connected as any target. */
  async dialSoon (peer: PeerId): Promise<void> {
    if (!this.started || peer.equals(this.components.peerId)) return
    this.schedule(this.target(peer.toString(), peer), 0)
  }

  /** What is being kept connected, for status. */
  list (): RedialTarget[] {
    return [...this.targets.values()].map(t => ({
      target: t.key,
      connected: t.peer != null && this.components.connectionManager.getConnections(t.peer).length > 0,
      failures: this.backoff.failuresOf(t.key),
      ...(t.due != null ? { nextAttempt: t.due } : {})
    }))
  }

  private async loadMembers (): Promise<void> {
    const members = await this.components.peerStore.all({ filters: [p => p.tags.has(MEMBER_TAG)] })
    members.sort((a, b) => lastSeen(b.metadata) - lastSeen(a.metadata))
    this.log('redialling %d known members', members.length)
    for (const m of members) {
      if (!this.started) return
      this.schedule(this.target(m.id.toString(), m.id), 0)
    }
  }

  private target (key: string, dial: PeerId | Multiaddr): Target {
    let t = this.targets.get(key)
    if (t == null) {
      const peerText = isPeerId(dial) ? undefined : dial.getComponents().findLast(c => c.name === 'p2p')?.value
      t = { key, dial, peer: isPeerId(dial) ? dial : undefined, dialing: false }
      if (peerText != null) this.peerOfAddress.set(peerText, key)
      this.targets.set(key, t)
    }
    return t
  }

  /** peer id text of a fixed address -> its target key, to tell when it connects */
  private readonly peerOfAddress = new Map<string, string>()

  private schedule (t: Target, delay: number): void {
    if (!this.started || t.dialing) return
    if (t.timer != null) {
      if (t.due != null && t.due <= Date.now() + delay) return
      clearTimeout(t.timer)
    }
    t.due = Date.now() + delay
    t.timer = setTimeout(() => {
      t.timer = undefined
      t.due = undefined
      this.enqueue(t)
    }, delay)
    t.timer.unref()
  }

  private enqueue (t: Target): void {
    if (!this.started || t.dialing || this.waiting.includes(t)) return
    this.waiting.push(t)
    this.pump()
  }

  private pump (): void {
    while (this.started && this.active < this.concurrency && this.waiting.length > 0) {
      const t = this.waiting.shift()
      if (t == null) break
      this.active++
      t.dialing = true
      this.attempt(t).then(retryIn => {
        t.dialing = false
        this.active--
        if (retryIn != null) this.schedule(t, retryIn)
        this.pump()
      }).catch((err: unknown) => { this.log.error('redial of %s failed unexpectedly: %e', t.key, err) })
    }
  }

  /** One dial; resolves with the delay before the next attempt after a failure. Never rejects. */
  private async attempt (t: Target): Promise<number | undefined> {
    const { connectionManager } = this.components
    if (t.peer != null && connectionManager.getConnections(t.peer).length > 0) {
      this.backoff.reset(t.key)
      return undefined
    }
    const signal = this.controller != null ? AbortSignal.any([this.controller.signal, AbortSignal.timeout(this.dialTimeout)]) : AbortSignal.timeout(this.dialTimeout)
    try {
      const conn = await connectionManager.openConnection(t.dial, { signal })
      t.peer ??= conn.remotePeer
      this.backoff.reset(t.key)
      this.log('reconnected to %s', t.key)
      return undefined
    } catch (err) {
      if (!this.started) return undefined
      const delay = this.backoff.fail(t.key)
      this.log('cannot reach %s (attempt %d), again in %d ms: %e', t.key, this.backoff.failuresOf(t.key), delay, err)
      return delay
    }
  }

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail
    const key = this.peerOfAddress.get(peer.toString()) ?? peer.toString()
    const t = this.targets.get(key)
    if (t != null) {
      this.backoff.reset(key)
      t.peer ??= peer
      if (t.timer != null) clearTimeout(t.timer)
      t.timer = undefined
      t.due = undefined
    }
    this.isMember(peer).then(async member => { if (member) await this.markSeen(peer) })
      .catch((err: unknown) => { this.log('cannot note %p as seen: %e', peer, err) })
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail
    const fixed = this.peerOfAddress.get(peer.toString())
    if (fixed != null) {
      const t = this.targets.get(fixed)
      if (t != null) this.schedule(t, this.backoff.peek(fixed))
      return
    }
    this.isMember(peer).then(async member => {
      if (!member) return
      await this.markSeen(peer)
      const t = this.target(peer.toString(), peer)
      this.schedule(t, this.backoff.peek(t.key))
    }).catch((err: unknown) => { this.log('cannot look up %p: %e', peer, err) })
  }

  private async isMember (peer: PeerId): Promise<boolean> {
    if (!this.started) return false
    try {
      return (await this.components.peerStore.get(peer)).tags.has(MEMBER_TAG)
    } catch {
      return false // not in the peer store: not a member
    }
  }

  private async markSeen (peer: PeerId): Promise<void> {
    await this.components.peerStore.merge(peer, { metadata: { [LAST_SEEN_KEY]: new TextEncoder().encode(String(Date.now())) } })
  }

  /** A changed set of interface addresses (Wi-Fi to mobile, a VPN, a cable): every backoff starts again, every target is tried now. */
  private checkNetwork (): void {
    const now = interfacesSignature()
    if (now === this.networkSignature) return
    this.networkSignature = now
    this.log('network interfaces changed: redialling everyone now')
    this.backoff.reset()
    for (const t of this.targets.values()) {
      if (t.peer == null || this.components.connectionManager.getConnections(t.peer).length === 0) this.schedule(t, 0)
    }
  }
}

function lastSeen (metadata: Map<string, Uint8Array>): number {
  const raw = metadata.get(LAST_SEEN_KEY)
  if (raw == null) return 0
  const n = Number(new TextDecoder().decode(raw))
  return Number.isFinite(n) ? n : 0
}

function isPeerId (x: PeerId | Multiaddr): x is PeerId {
  return typeof (x as PeerId).toMultihash === 'function'
}

function interfacesSignature (): string {
  const out: string[] = []
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) if (!a.internal) out.push(`${name}/${a.address}`)
  }
  return out.sort().join(',')
}

/** The redialer as a libp2p service: `services: { redial: redial(init) }`. */
export function redial (init: RedialInit = {}): (components: RedialComponents) => Redialer {
  return (components) => new Redialer(components, init)
}
