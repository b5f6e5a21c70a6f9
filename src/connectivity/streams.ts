import type { AbortOptions, Connection, PeerId, Stream } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

/**
 * Open a protocol stream to a peer on a connection we already have, a
 * relayed (limited) one too, before dialling. libp2p's own
 * `openStream(peer)` reuses only unlimited connections: to a member behind
 * a NAT, reachable only through a relay, it dials the member's private
 * addresses instead and times out.
 */
export async function openStreamTo (connectionManager: ConnectionManager, peer: PeerId, protocol: string, options: AbortOptions = {}): Promise<Stream> {
  const open = connectionManager.getConnections(peer).filter(c => c.status === 'open')
  const best = pickConnection(open)
  if (best != null) return best.newStream(protocol, { ...options, runOnLimitedConnection: true })
  return connectionManager.openStream(peer, protocol, { ...options, runOnLimitedConnection: true })
}

/** A direct connection if there is one, else the relayed one with the most time left. */
export function pickConnection (connections: Connection[]): Connection | undefined {
  const direct = connections.find(c => c.limits == null)
  if (direct != null) return direct
  return [...connections].sort((a, b) => (b.limits?.seconds ?? 0) - (a.limits?.seconds ?? 0))[0]
}
