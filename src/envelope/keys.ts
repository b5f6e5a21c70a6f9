import { createHash, createSecretKey, hkdfSync } from 'node:crypto'
import type { KeyObject } from 'node:crypto'

/** Length of a group secret in bytes */
export const SECRET_LENGTH = 32
/** Prefix of every wire topic; the version changes if the derivation does */
export const WIRE_TOPIC_PREFIX = '/p2p-chat/1/'

const HKDF_SALT_PREFIX = 'p2p-chat/v1/group/'

export interface GroupKeys {
  /** the topic id users see and type */
  readonly topicId: string
  /** gossipsub topic: derived from topic id and secret, reveals neither */
  readonly wireTopic: string
  /** short stable id used in storage keys (hex of the wire topic hash) */
  readonly groupId: string
  /** HMAC-SHA256 key: proves group membership */
  readonly macKey: Buffer
  /** ChaCha20-Poly1305 key: keeps bodies secret */
  readonly encKey: Buffer
  /** key epoch these keys belong to */
  readonly epoch: number
  /**
   * every key a member holds (issue 15, src/membership): epoch -> the keys
   * held for it (one per rotation seen; concurrent rotations make several).
   * open() takes the keys of the envelope's epoch from here; absent: these keys only.
   */
  readonly ring?: ReadonlyMap<number, readonly GroupKeys[]>
}

function hkdf (secret: Uint8Array, salt: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.from(salt, 'utf8'), Buffer.from(info, 'utf8'), 32))
}

/**
 * Derive every key of a group from its topic id and shared secret (HKDF-SHA256,
 * salt bound to the topic id, one `info` label per key). Pure.
 */
export function deriveGroupKeys (topicId: string, secret: Uint8Array, epoch = 0): GroupKeys {
  const salt = HKDF_SALT_PREFIX + topicId
  const topicKey = hkdf(secret, salt, `topic/${epoch}`)
  const groupId = createHash('sha256').update(topicKey).digest('hex').slice(0, 32)
  return {
    topicId,
    wireTopic: WIRE_TOPIC_PREFIX + groupId,
    groupId,
    macKey: hkdf(secret, salt, `mac/${epoch}`),
    encKey: hkdf(secret, salt, `enc/${epoch}`),
    epoch
  }
}

/** Content address of an encoded envelope: SHA-256 of its bytes */
export function messageId (bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

/** What seal and open need of a group's keys on every message, made once per GroupKeys object */
export interface PreparedKeys {
  /** `macKey` as a KeyObject: createHmac with a Buffer makes one on every call */
  readonly mac: KeyObject
  /** `encKey` as a KeyObject, for the same reason */
  readonly enc: KeyObject
  /** the wire topic, UTF-8 */
  readonly topic: Buffer
}

/**
 * Keyed by object identity: GroupKeys are immutable, and an object built by
 * spreading another (`{ ...keys, encKey }`) gets its own entry, never a stale one.
 */
const prepared = new WeakMap<GroupKeys, PreparedKeys>()

/** The KeyObjects and encoded topic of a group's keys, made on first use and then reused. */
export function preparedKeys (keys: GroupKeys): PreparedKeys {
  let p = prepared.get(keys)
  if (p == null) {
    p = { mac: createSecretKey(keys.macKey), enc: createSecretKey(keys.encKey), topic: Buffer.from(keys.wireTopic, 'utf8') }
    prepared.set(keys, p)
  }
  return p
}
