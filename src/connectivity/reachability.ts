import { serviceCapabilities } from '@libp2p/interface'
import type { Connection } from '@libp2p/interface'
import type { AddressManager } from '@libp2p/interface-internal'

/** How others can reach this node, as far as it knows */
export type Reachability = 'public' | 'behind-nat' | 'unknown'

/** How a connection to a peer goes */
export type ConnectionKind = 'direct' | 'relayed' | 'none'

export interface ReachabilityReport {
  /** public: an address of ours was verified from outside (AutoNAT); behind-nat: none was, but a relay reservation holds; unknown: neither yet */
  reachability: Reachability
  /** our direct (non-relay) addresses */
  listenAddresses: string[]
  /** our addresses through relays (/p2p-circuit), from reservations */
  relayAddresses: string[]
  /** direct addresses verified from outside */
  verifiedAddresses: string[]
}

export interface ReachabilityComponents {
  addressManager: AddressManager
}

/** Reads what libp2p's address manager knows of our addresses: the node's reachability for `status`. */
export class ReachabilityReporter {
  readonly [Symbol.toStringTag] = 'p2p-chat/reachability'
  readonly [serviceCapabilities]: string[] = ['@p2p-chat/reachability']
  private readonly components: ReachabilityComponents

  constructor (components: ReachabilityComponents) {
    this.components = components
  }

  report (): ReachabilityReport {
    const listenAddresses: string[] = []
    const relayAddresses: string[] = []
    const verifiedAddresses: string[] = []
    for (const a of this.components.addressManager.getAddressesWithMetadata()) {
      const text = a.multiaddr.toString()
      if (isRelayed(text)) {
        relayAddresses.push(text)
        continue
      }
      listenAddresses.push(text)
      if (a.verified && a.type !== 'transport') verifiedAddresses.push(text)
    }
    const reachability: Reachability = verifiedAddresses.length > 0 ? 'public' : relayAddresses.length > 0 ? 'behind-nat' : 'unknown'
    return { reachability, listenAddresses, relayAddresses, verifiedAddresses }
  }
}

function isRelayed (addr: string): boolean {
  return addr.includes('/p2p-circuit')
}

/** How the best of these connections goes: a direct one wins over a relayed one. */
export function connectionKind (connections: Connection[]): ConnectionKind {
  if (connections.length === 0) return 'none'
  return connections.some(c => c.limits == null && !isRelayed(c.remoteAddr.toString())) ? 'direct' : 'relayed'
}

/** The reporter as a libp2p service: `services: { reachability: reachability() }`. */
export function reachability (): (components: ReachabilityComponents) => ReachabilityReporter {
  return (components) => new ReachabilityReporter(components)
}
