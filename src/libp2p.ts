import { createHash } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { gossipsub, StrictNoSign } from '@libp2p/gossipsub'
import { createTopicScoreParams } from '@libp2p/gossipsub/score'
import { identify } from '@libp2p/identify'
import { mdns } from '@libp2p/mdns'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import type { GossipSub, GossipsubOpts } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score'
import type { Libp2p, PeerDiscovery, PeerId, PrivateKey, Transport } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'

/** Largest gossipsub RPC accepted from a peer (it may batch several messages and control data) */
export const MAX_RPC_BYTES = 1024 * 1024

export interface ChatServices extends Record<string, unknown> {
  pubsub: GossipSub
  identify: Identify
  ping: Ping
}

export type ChatLibp2p = Libp2p<ChatServices>

export interface Libp2pOptions {
  privateKey: PrivateKey
  listen: string[]
  bootstrap?: string[]
  mdns?: boolean
  /** replace TCP (tests may use @libp2p/memory) */
  transports?: Array<(components: any) => Transport>
  gossipsub?: Partial<GossipsubOpts>
  /** inbound connections per second per host before the connection manager resets them */
  inboundConnectionThreshold?: number
}

/**
 * Peer scoring on a group's wire topic. Only invalid messages count against a
 * peer (P4): a forged MAC or signature, a malformed or oversized envelope can
 * only come from a peer that is not honest, since gossipsub forwards nothing
 * that failed validation. The penalty is the square of the count: about ten
 * invalid messages cross the graylist threshold, after which every RPC from
 * that peer is dropped before it is read; the count decays by 1 % a second, so
 * a flood is forgiven after some ten minutes. Mesh delivery deficits (P3) are
 * off: a quiet chat is not a misbehaving peer.
 */
export const TOPIC_SCORE_PARAMS: Readonly<Partial<TopicScoreParams>> = {
  topicWeight: 1,
  timeInMeshWeight: 0.01,
  timeInMeshQuantum: 1000,
  timeInMeshCap: 300,
  firstMessageDeliveriesWeight: 1,
  firstMessageDeliveriesDecay: 0.9,
  firstMessageDeliveriesCap: 10,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: -1,
  invalidMessageDeliveriesDecay: 0.99
}

/**
 * Peer-wide score parameters: no IP colocation penalty (members behind one
 * NAT, or every test node on 127.0.0.1, are not sybils: the group key decides
 * membership). Topics are added at run time as groups are joined.
 */
export const SCORE_PARAMS: Readonly<Partial<PeerScoreParams>> = {
  IPColocationFactorWeight: 0,
  topicScoreCap: 10
}

/** Below `graylistThreshold` nothing a peer sends is processed at all. */
export const SCORE_THRESHOLDS: Readonly<PeerScoreThresholds> = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 100,
  opportunisticGraftThreshold: 5
}

/** What gossipsub exposes beyond its public interface: the scorer. */
interface Scored {
  score?: { params?: PeerScoreParams, score?: (peer: string) => number }
}

/**
 * Score peers on a wire topic (on a join), or stop (on a leave). gossipsub
 * reads its score parameters on every use, so a topic added here counts from
 * the next message on.
 */
export function scoreTopic (node: ChatLibp2p, topic: string, on: boolean): void {
  const params = (node.services.pubsub as unknown as Scored).score?.params
  if (params == null) return
  if (on) params.topics[topic] = createTopicScoreParams(TOPIC_SCORE_PARAMS)
  else delete params.topics[topic]
}

/** gossipsub's current score of a peer (0 for a peer it has no record of). */
export function peerScore (node: ChatLibp2p, peer: PeerId | string): number {
  return (node.services.pubsub as unknown as Scored).score?.score?.(peer.toString()) ?? 0
}

/** Content address of a pubsub message: SHA-256 of its data, so identical envelopes are one message everywhere. */
function msgIdFn (msg: { data: Uint8Array }): Uint8Array {
  return createHash('sha256').update(msg.data).digest()
}

/** The one place libp2p modules and their options are chosen. */
export async function createChatLibp2p (opts: Libp2pOptions): Promise<ChatLibp2p> {
  const peerDiscovery: Array<(components: any) => PeerDiscovery> = []
  if (opts.mdns !== false) peerDiscovery.push(mdns())
  if (opts.bootstrap != null && opts.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: opts.bootstrap }))

  return createLibp2p({
    privateKey: opts.privateKey,
    addresses: { listen: opts.listen },
    transports: opts.transports ?? [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery,
    connectionManager: {
      inboundConnectionThreshold: opts.inboundConnectionThreshold,
      // group members are tagged keep-alive (ChatNode): after a network
      // outage libp2p redials them for about five minutes (1 s, then x1.5)
      reconnectRetries: 12,
      reconnectRetryInterval: 1000,
      reconnectBackoffFactor: 1.5
    },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        // the envelope carries its own author signature: one check per message, not two
        globalSignaturePolicy: StrictNoSign,
        msgIdFn,
        // a chat message is sent, stored and synced later even when nobody is listening now
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        maxInboundDataLength: MAX_RPC_BYTES,
        scoreParams: { ...SCORE_PARAMS, topics: {} },
        scoreThresholds: SCORE_THRESHOLDS,
        ...opts.gossipsub
      })
    }
  })
}
