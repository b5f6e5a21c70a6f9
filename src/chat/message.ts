import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { OpenedMessage } from '../envelope/index.js'
import type { Group } from '../groups/index.js'
import type { StorableMessage } from '../store/index.js'

/** A message as the API, the CLI and tests see it */
export interface ChatMessage {
  /** hex SHA-256 of the sealed envelope */
  id: string
  topicId: string
  /** peer id of the author */
  author: string
  name: string
  text: string
  /** author's clock, ms since 1970 */
  timestamp: number
  lamport: number
  seq: number
  /** position in history: pass as `before` to read older messages */
  cursor?: string
  /** written by this node */
  own: boolean
}

/** An opened envelope as a ChatMessage; `self` is this node's raw public key. */
export function toChatMessage (group: Group, msg: OpenedMessage, self: Uint8Array): ChatMessage {
  return {
    id: Buffer.from(msg.id).toString('hex'),
    topicId: group.topicId,
    author: authorPeerId(msg.envelope.author),
    name: msg.body.name,
    text: msg.body.text,
    timestamp: Number(msg.envelope.timestamp),
    lamport: Number(msg.envelope.lamport),
    seq: Number(msg.envelope.seq),
    own: Buffer.from(msg.envelope.author).equals(self)
  }
}

/** What the history store keeps of an opened envelope */
export function toStorable (msg: OpenedMessage, idempotencyKey?: string): StorableMessage {
  const e = msg.envelope
  return { id: msg.id, bytes: msg.bytes, author: e.author, seq: e.seq, lamport: e.lamport, timestamp: e.timestamp, ...(idempotencyKey != null ? { idempotencyKey } : {}) }
}

const peerIdCache = new Map<string, string>()
const PEER_ID_CACHE_SIZE = 4096

/** The peer id (text) of a raw Ed25519 author key, cached. */
export function authorPeerId (raw: Uint8Array): string {
  const k = Buffer.from(raw).toString('hex')
  let id = peerIdCache.get(k)
  if (id == null) {
    id = peerIdFromPublicKey(publicKeyFromRaw(raw)).toString()
    if (peerIdCache.size > PEER_ID_CACHE_SIZE) peerIdCache.clear()
    peerIdCache.set(k, id)
  }
  return id
}
