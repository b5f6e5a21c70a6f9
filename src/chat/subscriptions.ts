import { callKey } from '../calls/index.js'
import { createTopicValidator } from '../groups/index.js'
import { scoreTopic } from '../libp2p.js'
import type { Group, GroupRegistry, Verdict } from '../groups/index.js'
import type { ChatLibp2p } from '../libp2p.js'
import type { PeerRateLimiter } from '../rate-limit.js'
import type { PeerId } from '@libp2p/interface'

export interface GroupSubscriptionsInit {
  libp2p: ChatLibp2p
  registry: GroupRegistry
  /** full verification and storage of one gossip message (ChatNode.ingest) */
  ingest: (group: Group, data: Uint8Array, from: string) => Promise<Verdict>
  /** validations each remote peer may cause, shared by every group */
  limiter: PeerRateLimiter
}

/**
 * The groups' gossipsub side: one topic validator, topic scoring and a
 * subscription per joined group, and the questions calls ask of it (which
 * groups a peer shares with us).
 */
export class GroupSubscriptions {
  private readonly init: GroupSubscriptionsInit
  /** validations each remote peer may cause (shared by every group): its `refused` counts the excess */
  readonly limiter: GroupSubscriptionsInit['limiter']

  constructor (init: GroupSubscriptionsInit) {
    this.init = init
    this.limiter = init.limiter
  }

  /** Nothing to listen to: members are tagged once they proved membership (ChatNode, on sync sessions), not on a subscription anyone can fake. */
  start (): void {}

  /** Remove every listener and validator; the subscriptions end with libp2p. */
  stop (): void {
    const { libp2p, registry } = this.init
    for (const group of registry.list()) libp2p.services.pubsub.topicValidators.delete(group.keys.wireTopic)
  }

  subscribe (group: Group): void {
    const { libp2p, registry, limiter } = this.init
    const topicId = group.topicId
    libp2p.services.pubsub.topicValidators.set(group.keys.wireTopic, createTopicValidator(async (data, from) => {
      const current = registry.get(topicId)
      if (current == null) return 'ignore'
      return this.init.ingest(current, data, from.toString())
    }, { limiter }))
    scoreTopic(libp2p, group.keys.wireTopic, true)
    libp2p.services.pubsub.subscribe(group.keys.wireTopic)
  }

  unsubscribe (group: Group): void {
    const { libp2p } = this.init
    libp2p.services.pubsub.unsubscribe(group.keys.wireTopic)
    libp2p.services.pubsub.topicValidators.delete(group.keys.wireTopic)
    scoreTopic(libp2p, group.keys.wireTopic, false)
  }

  /** Peers subscribed to the group's wire topic, as gossipsub last heard. */
  subscribers (group: Group): PeerId[] {
    return this.init.libp2p.services.pubsub.getSubscribers(group.keys.wireTopic)
  }

  /** Is the peer (`id` as text) subscribed to the group's wire topic? */
  subscribed (group: Group, id: string): boolean {
    return this.subscribers(group).some(p => p.toString() === id)
  }

  /** Does this peer share a group with us (is it subscribed to one of our groups' topics)? */
  isGroupPeer (peer: PeerId | string): boolean {
    const id = peer.toString()
    return this.init.registry.list().some(g => this.subscribed(g, id))
  }

  /** The call keys of our groups, those `peer` is subscribed to first (the offer proves the first four). */
  callKeys (peer: PeerId): Uint8Array[] {
    const id = peer.toString()
    const shared: Group[] = []
    const others: Group[] = []
    for (const g of this.init.registry.list()) (this.subscribed(g, id) ? shared : others).push(g)
    return [...shared, ...others].map(g => callKey(g.keys.macKey))
  }
}
