/**
 * Typing indicators: small sealed ephemeral messages on a group's ephemeral
 * topic (the wire topic + "/ephemeral"), never stored, never synced (see
 * docs/PROTOCOL.md, "Typing indicators"). Sealed like an envelope, with keys
 * of their own derived from the group secret: a MAC (membership, checked
 * first), ChaCha20-Poly1305 padded to one size (nothing readable, every
 * indicator the same length) and the author's Ed25519 signature (who types).
 * A node sends at most one per group every TYPING_INTERVAL_MS, and takes (and
 * forwards) at most one per author and group in ACCEPT_INTERVAL_MS, within
 * a timestamp window; each forwarding peer is rate limited before anything
 * is decoded.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { MAX_NAME_BYTES, verifyEd25519 } from '../envelope/index.js'
import { createTopicValidator } from '../groups/index.js'
import { scoreTopic } from '../libp2p.js'
import { PeerRateLimiter } from '../rate-limit.js'
import { authorPeerId } from './message.js'
import { Ephemeral, EphemeralSealed, EphemeralSigned } from './pb/ephemeral.js'
import type { KeyObject } from 'node:crypto'
import type { GroupKeys, Signer } from '../envelope/index.js'
import type { Group, GroupRegistry, Verdict } from '../groups/index.js'
import type { ChatLibp2p } from '../libp2p.js'

const log = logger('p2p-chat:typing')

export const EPHEMERAL_VERSION = 1
export const EPHEMERAL_TOPIC_SUFFIX = '/ephemeral'
export const KIND_TYPING = 1
/** Every ephemeral plaintext is padded to exactly this many bytes */
export const EPHEMERAL_PLAINTEXT_BYTES = 256
/** Largest encoded ephemeral message accepted; checked before decoding */
export const MAX_EPHEMERAL_BYTES = 512
/** A node sends at most one typing indicator per group in this time */
export const TYPING_INTERVAL_MS = 3000
/** An indicator is shown this long after it arrived (unless another one or a message of the author comes) */
export const TYPING_TTL_MS = 6000
/** Older than this (by the receiver's clock): refused */
export const TYPING_MAX_AGE_MS = 30_000
/** Further ahead than this: refused */
export const TYPING_MAX_AHEAD_MS = 5 * 60_000
/** Per author and group, one taken (and forwarded) in this time at most: a little under the interval (delays vary) */
export const ACCEPT_INTERVAL_MS = 2500
/** Ephemeral messages one forwarding peer may make this node look at per second (before decoding), and at once */
export const EPHEMERAL_RATE = 10
export const EPHEMERAL_BURST = 30

const NONCE_LENGTH = 12
const TAG_LENGTH = 16
const MAC_LENGTH = 32
const SIGNATURE_LENGTH = 64
const LENGTH_PREFIX = 4
const MAC_TAG = (5 << 3) | 2
const SIGNATURE_DOMAIN = Buffer.from('p2p-chat/ephemeral-signature/1\n', 'utf8')
const HKDF_SALT_PREFIX = 'p2p-chat/v1/group/'
const MAX_TRACKED_AUTHORS = 10_000

/** The keys and topic of a group's ephemeral messages */
export interface EphemeralKeys {
  readonly topic: string
  readonly epoch: number
  readonly mac: KeyObject
  readonly enc: KeyObject
  readonly aad: Buffer
  readonly topicBytes: Buffer
}

/** per GroupKeys object, with the secret it was made from (a caller may pair keys with another secret: made anew then) */
const prepared = new WeakMap<GroupKeys, { secret: Uint8Array, keys: EphemeralKeys }>()

/** The ephemeral topic of a group: its wire topic + "/ephemeral" */
export function ephemeralTopic (keys: GroupKeys): string {
  return keys.wireTopic + EPHEMERAL_TOPIC_SUFFIX
}

/**
 * HKDF-SHA256 of the group secret, with the salt of every group key and the
 * infos `ephemeral-mac/<epoch>` and `ephemeral-enc/<epoch>`: keys of their
 * own, so that no ephemeral message is ever a valid envelope or the reverse.
 */
export function ephemeralKeys (group: Pick<Group, 'topicId' | 'secret' | 'keys'>): EphemeralKeys {
  const cached = prepared.get(group.keys)
  if (cached != null && Buffer.from(cached.secret).equals(group.secret)) return cached.keys
  {
    const salt = Buffer.from(HKDF_SALT_PREFIX + group.topicId, 'utf8')
    const derive = (info: string): KeyObject => createSecretKey(Buffer.from(hkdfSync('sha256', group.secret, salt, Buffer.from(info, 'utf8'), 32)))
    const epoch = group.keys.epoch
    const topic = ephemeralTopic(group.keys)
    const topicBytes = Buffer.from(topic, 'utf8')
    const k = { topic, epoch, mac: derive(`ephemeral-mac/${epoch}`), enc: derive(`ephemeral-enc/${epoch}`), aad: Buffer.concat([topicBytes, Uint8Array.of(EPHEMERAL_VERSION), u32(epoch)]), topicBytes }
    prepared.set(group.keys, { secret: Uint8Array.from(group.secret), keys: k })
    return k
  }
}

function u32 (n: number): Buffer {
  const b = Buffer.allocUnsafe(4)
  b.writeUInt32BE(n, 0)
  return b
}

const mac = (key: KeyObject, data: Uint8Array): Buffer => createHmac('sha256', key).update(data).digest()
const signedData = (k: EphemeralKeys, signed: Uint8Array): Buffer => Buffer.concat([SIGNATURE_DOMAIN, k.topicBytes, u32(k.epoch), signed])

export interface EphemeralContent {
  /** raw Ed25519 public key */
  author: Uint8Array
  timestamp: number
  kind: number
  name: string
}

/** Seal an ephemeral message (a typing indicator) for a group. Throws a RangeError for a name open() would refuse. */
export function sealEphemeral (group: Pick<Group, 'topicId' | 'secret' | 'keys'>, signer: Signer, input: { timestamp: number, name: string, kind?: number }): Uint8Array {
  const k = ephemeralKeys(group)
  if (input.name.trim() === '' || Buffer.byteLength(input.name) > MAX_NAME_BYTES) throw new RangeError('cannot seal: bad name')
  const signed = EphemeralSigned.encode({ author: new Uint8Array(signer.publicKey), timestamp: BigInt(input.timestamp), kind: input.kind ?? KIND_TYPING, name: input.name })
  const inner = EphemeralSealed.encode({ signed, signature: new Uint8Array(signer.sign(signedData(k, signed))) })
  if (LENGTH_PREFIX + inner.byteLength > EPHEMERAL_PLAINTEXT_BYTES) throw new RangeError('cannot seal: too large')
  const plain = Buffer.alloc(EPHEMERAL_PLAINTEXT_BYTES)
  plain.writeUInt32BE(inner.byteLength, 0)
  plain.set(inner, LENGTH_PREFIX)
  const nonce = new Uint8Array(randomBytes(NONCE_LENGTH))
  const cipher = createCipheriv('chacha20-poly1305', k.enc, nonce, { authTagLength: TAG_LENGTH })
  cipher.setAAD(k.aad, { plaintextLength: plain.byteLength })
  const ciphertext = new Uint8Array(Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]))
  const unmaced = Ephemeral.encode({ version: EPHEMERAL_VERSION, epoch: k.epoch, nonce, ciphertext, mac: new Uint8Array(0) })
  const out = new Uint8Array(unmaced.byteLength + 2 + MAC_LENGTH)
  out.set(unmaced, 0)
  out[unmaced.byteLength] = MAC_TAG
  out[unmaced.byteLength + 1] = MAC_LENGTH
  out.set(mac(k.mac, unmaced), unmaced.byteLength + 2)
  return out
}

export type EphemeralResult =
  | { ok: true, value: EphemeralContent }
  /** `reject`: only a dishonest peer sends it (gossipsub scores it down); else ignored */
  | { ok: false, reason: string, reject: boolean }

const refuse = (reason: string, reject = true): EphemeralResult => ({ ok: false, reason, reject })

/**
 * Open an ephemeral message, cheapest checks first: size, decoding, version,
 * epoch, field lengths, canonical encoding, MAC, decryption and padding,
 * inner decoding, kind and name, the timestamp window (by `now`), and last
 * the signature. Never throws.
 */
export function openEphemeral (group: Pick<Group, 'topicId' | 'secret' | 'keys'>, bytes: Uint8Array, now = Date.now()): EphemeralResult {
  if (bytes.byteLength === 0 || bytes.byteLength > MAX_EPHEMERAL_BYTES) return refuse('bad size')
  const k = ephemeralKeys(group)
  let e: Ephemeral
  try {
    e = Ephemeral.decode(bytes)
  } catch {
    return refuse('malformed')
  }
  if (e.version !== EPHEMERAL_VERSION) return refuse('unknown version')
  if (e.epoch !== k.epoch) return refuse('unknown epoch')
  if (e.nonce.byteLength !== NONCE_LENGTH || e.mac.byteLength !== MAC_LENGTH || e.ciphertext.byteLength !== EPHEMERAL_PLAINTEXT_BYTES + TAG_LENGTH) return refuse('bad field')
  if (!Buffer.from(Ephemeral.encode(e)).equals(bytes)) return refuse('not canonical')
  if (!timingSafeEqual(mac(k.mac, bytes.subarray(0, bytes.byteLength - 2 - MAC_LENGTH)), e.mac)) return refuse('bad mac')
  let plain: Buffer
  try {
    const ct = e.ciphertext
    const decipher = createDecipheriv('chacha20-poly1305', k.enc, e.nonce, { authTagLength: TAG_LENGTH })
    decipher.setAAD(k.aad, { plaintextLength: ct.byteLength - TAG_LENGTH })
    decipher.setAuthTag(ct.subarray(ct.byteLength - TAG_LENGTH))
    plain = Buffer.concat([decipher.update(ct.subarray(0, ct.byteLength - TAG_LENGTH)), decipher.final()])
  } catch {
    return refuse('undecryptable')
  }
  const length = plain.readUInt32BE(0)
  if (length > plain.byteLength - LENGTH_PREFIX) return refuse('bad padding')
  for (let i = LENGTH_PREFIX + length; i < plain.byteLength; i++) if (plain[i] !== 0) return refuse('bad padding')
  const innerBytes = new Uint8Array(plain.buffer, plain.byteOffset + LENGTH_PREFIX, length)
  let sealed: EphemeralSealed
  let signed: EphemeralSigned
  try {
    sealed = EphemeralSealed.decode(innerBytes)
    signed = EphemeralSigned.decode(sealed.signed)
  } catch {
    return refuse('bad body')
  }
  if (!Buffer.from(EphemeralSealed.encode(sealed)).equals(innerBytes) || !Buffer.from(EphemeralSigned.encode(signed)).equals(Buffer.from(sealed.signed))) return refuse('bad body')
  if (signed.author.byteLength !== 32 || sealed.signature.byteLength !== SIGNATURE_LENGTH) return refuse('bad field')
  if (signed.kind !== KIND_TYPING) return refuse('unknown kind')
  if (signed.name.trim() === '' || Buffer.byteLength(signed.name) > MAX_NAME_BYTES) return refuse('bad name')
  const ts = signed.timestamp
  if (ts < BigInt(now - TYPING_MAX_AGE_MS)) return refuse('too old', false)
  if (ts > BigInt(now + TYPING_MAX_AHEAD_MS)) return refuse('in the future', false)
  if (!verifyEd25519(signed.author, signedData(k, sealed.signed), sealed.signature)) return refuse('bad signature')
  return { ok: true, value: { author: signed.author, timestamp: Number(ts), kind: signed.kind, name: signed.name } }
}

/** A member typing in a group, as the node announces it (`typing` event) */
export interface TypingEvent {
  topicId: string
  peerId: string
  name: string
  /** the author's clock, ms since 1970 */
  timestamp: number
  /** this node's clock, ms since 1970: show it until then (unless a message of the author comes first) */
  expiresAt: number
}

export interface TypingInit {
  libp2p: ChatLibp2p
  registry: GroupRegistry
  signer: Signer
  /** the display name sent with an indicator */
  name: () => string
  onTyping: (e: TypingEvent) => void
}

/** Counts since start, for tests and status */
export interface TypingCounts { sent: number, suppressed: number, accepted: number, ignored: number, rejected: number }

/** The typing indicators of every joined group: one ephemeral topic each. */
export class TypingIndicators {
  private readonly init: TypingInit
  /** per forwarding peer, before anything is decoded */
  readonly limiter = new PeerRateLimiter({ rate: EPHEMERAL_RATE, burst: EPHEMERAL_BURST })
  /** per group id: when we last sent */
  private readonly lastSent = new Map<string, number>()
  /** per "<group>/<author hex>": the last one taken */
  private readonly accepted = new Map<string, { timestamp: number, at: number }>()
  private readonly topics = new Set<string>()
  readonly counts: TypingCounts = { sent: 0, suppressed: 0, accepted: 0, ignored: 0, rejected: 0 }

  constructor (init: TypingInit) {
    this.init = init
  }

  subscribe (group: Group): void {
    const { libp2p, registry } = this.init
    const limiter = this.limiter
    const topicId = group.topicId
    const topic = ephemeralTopic(group.keys)
    libp2p.services.pubsub.topicValidators.set(topic, createTopicValidator(async (data, from) => {
      const current = registry.get(topicId)
      if (current == null) return 'ignore'
      return this.take(current, data, from.toString())
    }, { limiter }))
    scoreTopic(libp2p, topic, true)
    libp2p.services.pubsub.subscribe(topic)
    this.topics.add(topic)
  }

  unsubscribe (group: Group): void {
    const { libp2p } = this.init
    const topic = ephemeralTopic(group.keys)
    libp2p.services.pubsub.unsubscribe(topic)
    libp2p.services.pubsub.topicValidators.delete(topic)
    scoreTopic(libp2p, topic, false)
    this.topics.delete(topic)
    this.lastSent.delete(group.keys.groupId)
  }

  stop (): void {
    for (const topic of this.topics) this.init.libp2p.services.pubsub.topicValidators.delete(topic)
    this.topics.clear()
  }

  /**
   * This node's user is typing in `group`: an indicator is sent unless one
   * was sent less than TYPING_INTERVAL_MS ago. True when one was sent.
   */
  notify (group: Group, now = Date.now()): boolean {
    const gid = group.keys.groupId
    const last = this.lastSent.get(gid)
    if (last != null && now - last < TYPING_INTERVAL_MS && now >= last) {
      this.counts.suppressed++
      return false
    }
    this.lastSent.set(gid, now)
    const bytes = sealEphemeral(group, this.init.signer, { timestamp: now, name: this.init.name() })
    this.counts.sent++
    this.init.libp2p.services.pubsub.publish(ephemeralTopic(group.keys), bytes).catch((err: unknown) => { log('typing indicator not published in %s: %e', group.topicId, err) })
    return true
  }

  /** One ephemeral message from the network: verified, bounded per author, announced. */
  private take (group: Group, data: Uint8Array, from: string): Verdict {
    const now = Date.now()
    const r = openEphemeral(group, data, now)
    if (!r.ok) {
      if (r.reject) this.counts.rejected++
      else this.counts.ignored++
      log('%s an ephemeral message in %s from %s: %s', r.reject ? 'rejected' : 'ignored', group.topicId, from, r.reason)
      return r.reject ? 'reject' : 'ignore'
    }
    const { author, timestamp, name } = r.value
    if (Buffer.from(author).equals(this.init.signer.publicKey)) return 'ignore'
    const key = `${group.keys.groupId}/${Buffer.from(author).toString('hex')}`
    const prev = this.accepted.get(key)
    // a replay (not newer than the last taken) or too soon after it: not shown, not forwarded
    if (prev != null && (timestamp <= prev.timestamp || now - prev.at < ACCEPT_INTERVAL_MS)) {
      this.counts.ignored++
      return 'ignore'
    }
    if (this.accepted.size >= MAX_TRACKED_AUTHORS) {
      for (const [k, v] of this.accepted) if (now - v.at > TYPING_MAX_AGE_MS) this.accepted.delete(k)
      if (this.accepted.size >= MAX_TRACKED_AUTHORS) this.accepted.clear()
    }
    this.accepted.set(key, { timestamp, at: now })
    this.counts.accepted++
    this.init.onTyping({ topicId: group.topicId, peerId: authorPeerId(author), name, timestamp, expiresAt: now + TYPING_TTL_MS })
    return 'accept'
  }
}
