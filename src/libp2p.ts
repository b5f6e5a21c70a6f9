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
import type { Libp2pInit, ServiceFactoryMap } from 'libp2p'
import type { GossipSub, GossipsubOpts } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import { calls } from './calls/index.js'
import { historySync } from './sync/index.js'
import { joinService } from './membership/join.js'
import type { JoinHost, JoinService } from './membership/join.js'
import { files } from './files/index.js'
import type { FileHost, FileInit, FileService } from './files/index.js'
import type { CallService, CallServiceInit } from './calls/index.js'
import type { SyncHost, SyncInit, SyncService } from './sync/index.js'
import type { Group } from './groups/index.js'
import { reachability, redial, rendezvous } from './connectivity/index.js'
import type { ReachabilityReporter, Redialer, RedialInit, Rendezvous, RendezvousInit } from './connectivity/index.js'
import { autoNATv2 } from '@libp2p/autonat-v2'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { peerIdFromString } from '@libp2p/peer-id'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { KadDHT } from '@libp2p/kad-dht'
import type { ConnectionGater } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/** How long the peer store keeps an address it has not confirmed, and a peer with none (ms) */
export const PEER_ADDRESS_AGE = 30 * 24 * 3600_000
export const PEER_AGE = 90 * 24 * 3600_000

/** Largest gossipsub RPC accepted from a peer (it may batch several messages and control data) */
export const MAX_RPC_BYTES = 1024 * 1024

/** The libp2p services every peer runs, a bare one (tests, the benchmark's baseline) too */
export interface BaseServices extends Record<string, unknown> {
  pubsub: GossipSub
  identify: Identify
  ping: Ping
}

export type BaseLibp2p = Libp2p<BaseServices>

/** ... and the chat protocols, registered as libp2p services */
export interface ChatServices extends BaseServices {
  /** history sync, /p2p-chat/sync/2.0.0 (src/sync) */
  sync: SyncService<Group>
  /** calls, /p2p-chat/call/2.0.0 (src/calls) */
  calls: CallService
  /** file transfer, /p2p-chat/file/1.0.0 (src/files) */
  files: FileService
  /** revocable invites, /p2p-chat/join/1.0.0 (src/membership/join.ts) */
  join: JoinService
  /** keeps members and bootstrap peers connected (src/connectivity) */
  redial: Redialer
  /** members meet under a daily key derived from the group secret (src/connectivity) */
  rendezvous: Rendezvous
  /** Kademlia DHT: the rendezvous and relay discovery run on it */
  dht: KadDHT
  /** learns whether our addresses are reachable from outside */
  autoNAT: unknown
  /** what the address manager knows of our reachability, for status */
  reachability: ReachabilityReporter
  /** a circuit relay v2 server for others, with `start --relay` */
  relay?: CircuitRelayService
  /** port mapping on routers that offer UPnP, on the public network */
  upnp?: unknown
}

export type ChatLibp2p = Libp2p<ChatServices>

export interface BaseLibp2pOptions {
  privateKey: PrivateKey
  listen: string[]
  bootstrap?: string[]
  mdns?: boolean
  /** replace TCP (tests may use @libp2p/memory) */
  transports?: NonNullable<Libp2pInit['transports']>
  gossipsub?: Partial<GossipsubOpts>
  /** inbound connections per second per host before the connection manager resets them */
  inboundConnectionThreshold?: number
  /** where the peer store lives (known members' addresses and tags survive restarts); default in memory */
  datastore?: Datastore
}

export interface Libp2pOptions extends BaseLibp2pOptions {
  /** what history sync needs of the chat node, and its options */
  sync: { host: SyncHost<Group>, init?: SyncInit }
  calls?: CallServiceInit
  /** what file transfer needs of the chat node (its groups), and where and how it stores files */
  files: { host: FileHost, init: FileInit }
  /** what the join service needs of the chat node: its answer to a join request */
  join: JoinHost
  /** redialling members and the bootstrap addresses */
  redial?: RedialInit
  /** the groups members meet under, and the rounds' timing */
  rendezvous: RendezvousInit
  /**
   * The public internet: the DHT keeps only public addresses (the IPFS Amino
   * DHT's rule) and UPnP asks the router for a port. Off (the default) for a
   * private network or tests: every address counts.
   */
  publicNetwork?: boolean
  /** serve as a circuit relay v2 for others; `allow` limits reservations to these peer ids */
  relayServer?: { allow?: string[] }
  /** be reachable through relays (listen on /p2p-circuit). Default true */
  relayClient?: boolean
}

/** A relay's limits: a chat, its history sync and a call's signalling fit, not a film (libp2p's default is 128 KiB for 2 min) */
export const RELAY_MAX_RESERVATIONS = 256
export const RELAY_DURATION_LIMIT = 60 * 60_000
export const RELAY_DATA_LIMIT = 256n * 1024n * 1024n
/** the DHT's protocol: the IPFS Amino DHT's, so that public bootstrap peers serve the rendezvous */
export const DHT_PROTOCOL = '/ipfs/kad/1.0.0'

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
export function scoreTopic (node: BaseLibp2p, topic: string, on: boolean): void {
  const params = (node.services.pubsub as unknown as Scored).score?.params
  if (params == null) return
  if (on) params.topics[topic] = createTopicScoreParams(TOPIC_SCORE_PARAMS)
  else params.topics = Object.fromEntries(Object.entries(params.topics).filter(([t]) => t !== topic))
}

/** gossipsub's current score of a peer (0 for a peer it has no record of). */
export function peerScore (node: BaseLibp2p, peer: PeerId | string): number {
  return (node.services.pubsub as unknown as Scored).score?.score?.(peer.toString()) ?? 0
}

/** Content address of a pubsub message: SHA-256 of its data, so identical envelopes are one message everywhere. */
function msgIdFn (msg: { data: Uint8Array }): Uint8Array {
  return createHash('sha256').update(msg.data).digest()
}

/** The one place libp2p modules and their options are chosen: a chat node's libp2p, with its protocols and connectivity services. */
export async function createChatLibp2p (opts: Libp2pOptions): Promise<ChatLibp2p> {
  const base = baseConfig(opts)
  const relayClient = opts.relayClient !== false
  const services = {
    ...baseServices(opts),
    sync: historySync(opts.sync.host, opts.sync.init),
    calls: calls(opts.calls),
    files: files(opts.files.host, opts.files.init),
    join: joinService(opts.join),
    redial: redial({ addresses: opts.bootstrap, ...opts.redial }),
    dht: kadDHT({
      protocol: DHT_PROTOCOL,
      peerInfoMapper: opts.publicNetwork === true ? removePrivateAddressesMapper : passthroughMapper,
      // a relay is a well-known, reachable node: it serves the DHT from the start; others decide by reachability
      ...(opts.relayServer != null ? { clientMode: false } : {})
    }),
    rendezvous: rendezvous(opts.rendezvous),
    autoNAT: autoNATv2(),
    reachability: reachability(),
    ...(opts.relayServer != null
      ? {
          relay: circuitRelayServer({
            reservations: {
              maxReservations: RELAY_MAX_RESERVATIONS,
              defaultDurationLimit: RELAY_DURATION_LIMIT,
              defaultDataLimit: RELAY_DATA_LIMIT
            }
          })
        }
      : {}),
    ...(opts.publicNetwork === true ? { upnp: uPnPNAT() } : {})
  }
  return createLibp2p({
    ...base,
    addresses: { listen: relayClient ? [...opts.listen, '/p2p-circuit'] : opts.listen },
    // the relay transport; listening on /p2p-circuit makes reservations on relays found among connected peers
    // (the bootstrap peers, kept connected by the redial service), and again after a relay restarts
    transports: [...(base.transports ?? []), circuitRelayTransport()],
    ...(opts.relayServer?.allow != null ? { connectionGater: relayAllowList(opts.relayServer.allow) } : {}),
    services
  })
}

/** Only the listed peers may make a reservation on this relay. */
function relayAllowList (allow: string[]): ConnectionGater {
  const allowed = new Set(allow.map(a => peerIdFromString(a).toString()))
  return {
    denyInboundRelayReservation: async (source) => !allowed.has(source.toString())
  }
}

/** A peer with the same transports and gossipsub options but no chat protocols (hostile peers in tests, the benchmark's bare baseline). */
export async function createBaseLibp2p (opts: BaseLibp2pOptions): Promise<BaseLibp2p> {
  return createLibp2p({ ...baseConfig(opts), services: baseServices(opts) })
}

function baseConfig (opts: BaseLibp2pOptions): Omit<Libp2pInit, 'services'> {
  const peerDiscovery: NonNullable<Libp2pInit['peerDiscovery']> = []
  if (opts.mdns !== false) peerDiscovery.push(mdns())
  if (opts.bootstrap != null && opts.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: opts.bootstrap }))
  return {
    privateKey: opts.privateKey,
    addresses: { listen: opts.listen },
    transports: opts.transports ?? [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery,
    ...(opts.datastore != null ? { datastore: opts.datastore } : {}),
    peerStore: {
      // a member offline for a holiday is still found where it was
      maxAddressAge: PEER_ADDRESS_AGE,
      maxPeerAge: PEER_AGE
    },
    connectionManager: {
      // members are redialled by the redial service (src/connectivity), for as
      // long as the node runs, not by libp2p's reconnect queue (which gives up)
      inboundConnectionThreshold: opts.inboundConnectionThreshold
    }
  }
}

function baseServices (opts: BaseLibp2pOptions): ServiceFactoryMap<BaseServices> {
  return {
    identify: identify(),
    // the connection monitor pings every connection every 10 s on this protocol: on a slow relayed link the
    // last ping stream may not have closed yet, and one stream at a time (the default) made libp2p abort the connection
    ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 4 }),
    pubsub: gossipsub({
      // the envelope carries its own author signature: one check per message, not two
      globalSignaturePolicy: StrictNoSign,
      msgIdFn,
      // a chat message is sent, stored and synced later even when nobody is listening now
      allowPublishToZeroTopicPeers: true,
      ignoreDuplicatePublishError: true,
      emitSelf: false,
      // members behind NATs meet over relayed (limited) connections: gossip runs there too
      runOnLimitedConnection: true,
      maxInboundDataLength: MAX_RPC_BYTES,
      scoreParams: { ...SCORE_PARAMS, topics: {} },
      scoreThresholds: SCORE_THRESHOLDS,
      ...opts.gossipsub
    })
  }
}
