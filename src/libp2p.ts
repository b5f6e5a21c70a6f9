import { createHash } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { gossipsub, StrictNoSign } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { mdns } from '@libp2p/mdns'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import type { GossipSub, GossipsubOpts } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { Libp2p, PeerDiscovery, PrivateKey, Transport } from '@libp2p/interface'
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
      inboundConnectionThreshold: opts.inboundConnectionThreshold
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
        ...opts.gossipsub
      })
    }
  })
}
