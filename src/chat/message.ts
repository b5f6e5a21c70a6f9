import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { KIND_DELETE, KIND_EDIT, KIND_FILE, KIND_REACTION, KIND_TEXT } from '../envelope/index.js'
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
  /** what it is; `unsupported`: a kind this version does not know (`kindNumber` tells which) */
  kind: MessageKind
  /** the envelope's kind number */
  kindNumber: number
  /** text: hex id of the message it replies to */
  replyTo?: string
  /** reaction, edit, delete: hex id of the message it acts on */
  target?: string
  /** reaction */
  emoji?: string
  /** reaction: the author takes this reaction back */
  remove?: boolean
  /** file: what it is (its key stays inside the node) */
  file?: FileInfo
  /** text, edit: peer ids of the members mentioned */
  mentions?: string[]
  /** text, edit: this node is among the members mentioned (never set on its own messages) */
  mentionsMe?: boolean
  /** arrived much later than its timestamp: when, ms since 1970 (see docs/PROTOCOL.md, "Order and links") */
  arrivedLate?: number
  /** its Lamport value contradicts its own links: its place in history is its author's lie */
  misordered?: boolean
  /** its author signed two messages under one seq in this group (evidence kept): not to be trusted */
  conflict?: boolean
  /** envelope version it came in (1: legacy) */
  version: number
}

export type MessageKind = 'text' | 'reaction' | 'edit' | 'delete' | 'file' | 'unsupported'

export interface FileInfo {
  name: string
  size: number
  mime: string
  /** hex SHA-256 of the file */
  hash: string
  chunkSize: number
  width?: number
  height?: number
}

const KIND_NAMES: Record<number, MessageKind> = {
  [KIND_TEXT]: 'text', [KIND_REACTION]: 'reaction', [KIND_EDIT]: 'edit', [KIND_DELETE]: 'delete', [KIND_FILE]: 'file'
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex')

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
    own: Buffer.from(msg.envelope.author).equals(self),
    ...kindFields(msg),
    ...(mentionsSelf(msg, self) ? { mentionsMe: true } : {}),
    version: msg.envelope.version
  }
}

function kindFields (msg: OpenedMessage): Pick<ChatMessage, 'kind' | 'kindNumber' | 'replyTo' | 'target' | 'emoji' | 'remove' | 'file' | 'mentions'> {
  const b = msg.body
  const n = msg.envelope.kind
  const kind = KIND_NAMES[n] ?? 'unsupported'
  const out: ReturnType<typeof kindFields> = { kind, kindNumber: n }
  if (kind === 'unsupported') return out
  if (b.replyTo.byteLength > 0) out.replyTo = hexOf(b.replyTo)
  if (b.target.byteLength > 0) out.target = hexOf(b.target)
  if (kind === 'reaction') {
    out.emoji = b.emoji
    out.remove = b.remove
  }
  if (b.file != null) {
    const f = b.file
    out.file = { name: f.name, size: Number(f.size), mime: f.mime, hash: hexOf(f.hash), chunkSize: f.chunkSize, ...(f.width > 0 ? { width: f.width } : {}), ...(f.height > 0 ? { height: f.height } : {}) }
  }
  if (b.mentions.length > 0) out.mentions = b.mentions.map(m => authorPeerId(m))
  return out
}

/** Does a text or an edit by another author mention `self` (a raw key)? */
function mentionsSelf (msg: OpenedMessage, self: Uint8Array): boolean {
  const k = msg.envelope.kind
  if ((k !== KIND_TEXT && k !== KIND_EDIT) || msg.body.mentions.length === 0 || Buffer.from(msg.envelope.author).equals(self)) return false
  return msg.body.mentions.some(m => Buffer.from(m).equals(self))
}

/** What the history store keeps of an opened envelope */
export function toStorable (msg: OpenedMessage, idempotencyKey?: string): StorableMessage {
  const e = msg.envelope
  return { id: msg.id, bytes: msg.bytes, author: e.author, seq: e.seq, lamport: e.lamport, timestamp: e.timestamp, ...(idempotencyKey != null ? { idempotencyKey } : {}) }
}

/** `toStorable`, marked: arrived late (at `arrivedAt`), misordered, or both */
export function toLateStorable (msg: OpenedMessage, arrivedAt: number, misordered = false): StorableMessage {
  return { ...toStorable(msg), arrivedLate: arrivedAt, ...(misordered ? { misordered } : {}) }
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
