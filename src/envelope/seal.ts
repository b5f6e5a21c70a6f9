import { createCipheriv, createDecipheriv, createHmac, randomFillSync, timingSafeEqual } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { Body, Envelope, Sealed, Signed } from './pb/envelope.js'
import { messageId, preparedKeys } from './keys.js'
import { ED25519_PUBLIC_KEY_LENGTH, verifyEd25519 } from './signer.js'
import { bodyProblem, fieldProblem, linkProblem, MAX_MENTIONS, MAX_PARENTS } from './rules.js'
import type { FileRef } from './pb/envelope.js'
import type { GroupKeys } from './keys.js'
import type { Signer } from './signer.js'

/** The envelope version seal() writes */
export const ENVELOPE_VERSION = 2
/** The envelope version open() still accepts (history, backups, old peers), never written */
export const LEGACY_ENVELOPE_VERSION = 1
/** Largest encoded envelope accepted from anyone; checked before decoding */
export const MAX_ENVELOPE_BYTES = 8448
/** Sizes (bytes) the v2 plaintext is padded to: an observer learns only the bucket */
export const PAD_BUCKETS = [256, 512, 1024, 2048, 4096, 8192] as const

const NONCE_LENGTH = 12
const TAG_LENGTH = 16
const SIGNATURE_LENGTH = 64
const MAC_LENGTH = 32
const LENGTH_PREFIX = 4
/** bytes of the encoded v1 signature field: tag, length, 64 bytes */
const SIGNATURE_FIELD_LENGTH = 2 + SIGNATURE_LENGTH
/** bytes of the encoded mac field: tag, length, 32 bytes */
const MAC_FIELD_LENGTH = 2 + MAC_LENGTH
/** protobuf key of the mac (field 11) field: length-delimited */
const MAC_TAG = (11 << 3) | 2
const SIGNATURE_DOMAIN_V1 = Buffer.from('p2p-chat/envelope-signature/1\n', 'utf8')
const SIGNATURE_DOMAIN_V2 = Buffer.from('p2p-chat/envelope-signature/2\n', 'utf8')
/** bounded decoding of the inner message: no more repeated entries than the rules allow, plus one to tell "too many" */
const SIGNED_LIMITS = { limits: { parents: MAX_PARENTS + 1, body: { mentions: MAX_MENTIONS + 1 } } }

export interface SealInput {
  seq: bigint
  lamport: bigint
  timestamp: number
  name: string
  /** 1 text (the default), 2 reaction, 3 edit, 4 delete, 5 file */
  kind?: number
  text?: string
  /** id of this author's message seq - 1; required from seq 2 */
  prev?: Uint8Array
  /** ids of the newest messages of others this author has seen, at most 4 */
  parents?: Uint8Array[]
  replyTo?: Uint8Array
  target?: Uint8Array
  emoji?: string
  remove?: boolean
  file?: FileRef
  mentions?: Uint8Array[]
  /** 6 membership op: the encoded MembershipOp */
  op?: Uint8Array
}

/** What open() read of a message, the same for both versions (v1 has no links) */
export interface MessageHeader {
  version: number
  epoch: number
  /** raw Ed25519 public key */
  author: Uint8Array
  seq: bigint
  lamport: bigint
  timestamp: bigint
  kind: number
  /** v2: id of the author's previous message (empty at seq 1, and in v1) */
  prev: Uint8Array
  /** v2: ids of messages the author had seen (none in v1) */
  parents: Uint8Array[]
}

export interface OpenedMessage {
  /** v2: SHA-256 of the signed inner message; v1: SHA-256 of `bytes` */
  id: Uint8Array
  /** the sealed envelope exactly as published and stored */
  bytes: Uint8Array
  envelope: MessageHeader
  body: Body
}

export type OpenResult =
  | { ok: true, message: OpenedMessage }
  | { ok: false, reason: string }

// ---- random nonces -----------------------------------------------------------

/** nonces are cut from a pool filled by one randomFillSync: one call per 1,024 seals instead of one each */
const NONCE_POOL_BYTES = NONCE_LENGTH * 1024
let noncePool = Buffer.alloc(0)
let nonceOffset = 0

/** 12 fresh random bytes. Each pool byte is handed out once; a used pool is dropped, never refilled. */
function nextNonce (): Uint8Array<ArrayBuffer> {
  if (nonceOffset + NONCE_LENGTH > noncePool.byteLength) {
    noncePool = randomFillSync(Buffer.allocUnsafeSlow(NONCE_POOL_BYTES))
    nonceOffset = 0
  }
  const nonce = new Uint8Array(noncePool.subarray(nonceOffset, nonceOffset + NONCE_LENGTH))
  nonceOffset += NONCE_LENGTH
  return nonce
}

// ---- the byte strings each primitive gets -------------------------------------

function concat (...parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts)
}

function u32 (n: number): Buffer {
  const b = Buffer.allocUnsafe(4)
  b.writeUInt32BE(n, 0)
  return b
}

function mac (key: KeyObject, data: Uint8Array): Buffer {
  return createHmac('sha256', key).update(data).digest()
}

/** v2 AEAD additional data: wire topic, version byte, epoch (u32 BE) */
function aadV2 (topic: Buffer, epoch: number): Buffer {
  return concat(topic, Uint8Array.of(ENVELOPE_VERSION), u32(epoch))
}

/** v2: what the author signs */
function signedDataV2 (topic: Buffer, epoch: number, signed: Uint8Array): Buffer {
  return concat(SIGNATURE_DOMAIN_V2, topic, u32(epoch), signed)
}

/** the smallest bucket that holds `n` bytes, or undefined */
function bucketFor (n: number): number | undefined {
  return PAD_BUCKETS.find(b => b >= n)
}

/** protons writes every set field; the envelope's and body's empty values are its defaults */
function bodyOf (input: SealInput): Body {
  return {
    text: input.text ?? '',
    name: input.name,
    replyTo: input.replyTo ?? new Uint8Array(0),
    target: input.target ?? new Uint8Array(0),
    emoji: input.emoji ?? '',
    remove: input.remove ?? false,
    ...(input.file != null ? { file: input.file } : {}),
    mentions: input.mentions ?? [],
    ...(input.op != null ? { op: input.op } : {})
  } as Body
}

// ---- seal (version 2) -----------------------------------------------------------

/**
 * Seal a message (envelope version 2): sign the inner message as the
 * author, pad it to a bucket, encrypt it with the group key, and MAC the
 * outer envelope. Pure but for the random nonce. Refuses (throws a
 * RangeError) what open() would refuse.
 */
export function seal (keys: GroupKeys, signer: Signer, input: SealInput): OpenedMessage {
  const kind = input.kind ?? 1
  const body = bodyOf(input)
  const header: MessageHeader = {
    version: ENVELOPE_VERSION,
    epoch: keys.epoch,
    author: new Uint8Array(signer.publicKey),
    seq: input.seq,
    lamport: input.lamport,
    timestamp: BigInt(input.timestamp),
    kind,
    prev: input.prev ?? new Uint8Array(0),
    parents: input.parents ?? []
  }
  const problem = fieldProblem(header.seq, header.lamport, header.timestamp, kind, ENVELOPE_VERSION) ??
    linkProblem(header.seq, header.prev, header.parents) ?? bodyProblem(kind, body, ENVELOPE_VERSION)
  if (problem != null) throw new RangeError(`cannot seal: ${problem}`)
  const { mac: macKey, enc: encKey, topic } = preparedKeys(keys)
  const signed = Signed.encode({
    author: header.author as Uint8Array<ArrayBuffer>,
    seq: header.seq,
    lamport: header.lamport,
    timestamp: header.timestamp,
    kind,
    prev: header.prev as Uint8Array<ArrayBuffer>,
    parents: header.parents as Array<Uint8Array<ArrayBuffer>>,
    body
  })
  const signature = signer.sign(signedDataV2(topic, keys.epoch, signed))
  if (signature.byteLength !== SIGNATURE_LENGTH) throw new Error('the signer returned a signature of a wrong length')
  const inner = Sealed.encode({ signed, signature: new Uint8Array(signature) })
  const size = bucketFor(LENGTH_PREFIX + inner.byteLength)
  if (size == null) throw new RangeError('cannot seal: body too large')
  const plain = Buffer.alloc(size)
  plain.writeUInt32BE(inner.byteLength, 0)
  plain.set(inner, LENGTH_PREFIX)
  const nonce = nextNonce()
  const cipher = createCipheriv('chacha20-poly1305', encKey, nonce, { authTagLength: TAG_LENGTH })
  cipher.setAAD(aadV2(topic, keys.epoch), { plaintextLength: size })
  const ciphertext = new Uint8Array(concat(cipher.update(plain), cipher.final(), cipher.getAuthTag()))
  const unmaced = Envelope.encode({
    version: ENVELOPE_VERSION,
    epoch: keys.epoch,
    author: new Uint8Array(0),
    seq: 0n,
    lamport: 0n,
    timestamp: 0n,
    kind: 0,
    nonce,
    ciphertext,
    signature: new Uint8Array(0),
    mac: new Uint8Array(0)
  })
  const bytes = new Uint8Array(unmaced.byteLength + MAC_FIELD_LENGTH)
  bytes.set(unmaced, 0)
  bytes[unmaced.byteLength] = MAC_TAG
  bytes[unmaced.byteLength + 1] = MAC_LENGTH
  bytes.set(mac(macKey, unmaced), unmaced.byteLength + 2)
  return { id: messageId(signed), bytes, envelope: header, body }
}

// ---- open ---------------------------------------------------------------------

type Outer = { ok: true, envelope: Envelope } | { ok: false, reason: string }

/** size, decode, version, epoch, the lengths of the outer fields, canonical encoding, MAC */
function checkOuter (keys: GroupKeys, bytes: Uint8Array): Outer {
  if (bytes.byteLength === 0) return { ok: false, reason: 'empty' }
  if (bytes.byteLength > MAX_ENVELOPE_BYTES) return { ok: false, reason: 'too large' }
  let envelope: Envelope
  try {
    envelope = Envelope.decode(bytes)
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  if (envelope.version !== ENVELOPE_VERSION && envelope.version !== LEGACY_ENVELOPE_VERSION) return { ok: false, reason: 'unknown version' }
  if (envelope.epoch !== keys.epoch) return { ok: false, reason: 'unknown epoch' }
  if (envelope.nonce.byteLength !== NONCE_LENGTH || envelope.mac.byteLength !== MAC_LENGTH || envelope.ciphertext.byteLength < TAG_LENGTH) {
    return { ok: false, reason: 'bad field' }
  }
  if (envelope.version === ENVELOPE_VERSION) {
    // v2: nothing of the message in clear, and only whole buckets
    if (envelope.author.byteLength !== 0 || envelope.seq !== 0n || envelope.lamport !== 0n || envelope.timestamp !== 0n ||
      envelope.kind !== 0 || envelope.signature.byteLength !== 0 || bucketFor(envelope.ciphertext.byteLength - TAG_LENGTH) !== envelope.ciphertext.byteLength - TAG_LENGTH) {
      return { ok: false, reason: 'bad field' }
    }
  } else {
    if (envelope.author.byteLength !== ED25519_PUBLIC_KEY_LENGTH || envelope.signature.byteLength !== SIGNATURE_LENGTH) {
      return { ok: false, reason: 'bad field' }
    }
    const fields = fieldProblem(envelope.seq, envelope.lamport, envelope.timestamp, envelope.kind, LEGACY_ENVELOPE_VERSION)
    if (fields != null) return { ok: false, reason: fields }
  }
  // The id (v1) is the hash of the bytes, and the bytes are what is stored
  // and served: only the canonical encoding is accepted, so that one message
  // never travels in two forms.
  const canonical = Envelope.encode(envelope)
  if (!Buffer.from(canonical.buffer, canonical.byteOffset, canonical.byteLength).equals(bytes)) {
    return { ok: false, reason: 'not canonical' }
  }
  const macInput = bytes.subarray(0, bytes.byteLength - MAC_FIELD_LENGTH)
  if (!timingSafeEqual(mac(preparedKeys(keys).mac, macInput), envelope.mac)) return { ok: false, reason: 'bad mac' }
  return { ok: true, envelope }
}

function decrypt (keys: GroupKeys, envelope: Envelope, aad: Buffer): Buffer | undefined {
  try {
    const ct = envelope.ciphertext
    const decipher = createDecipheriv('chacha20-poly1305', preparedKeys(keys).enc, envelope.nonce, { authTagLength: TAG_LENGTH })
    decipher.setAAD(aad, { plaintextLength: ct.byteLength - TAG_LENGTH })
    decipher.setAuthTag(ct.subarray(ct.byteLength - TAG_LENGTH))
    const updated = decipher.update(ct.subarray(0, ct.byteLength - TAG_LENGTH))
    // final() checks the tag; ChaCha20-Poly1305 has nothing left to give
    const last = decipher.final()
    return last.byteLength === 0 ? updated : Buffer.concat([updated, last])
  } catch {
    return undefined
  }
}

/** What open() checks before the signature, and what the signature check needs */
export type Inner = { ok: true, message: OpenedMessage, signedData: Buffer, signature: Uint8Array } | { ok: false, reason: string }

/** v2 after the MAC: decrypt, unpad, decode canonically, check the rules. Everything but the signature. */
function openInnerV2 (keys: GroupKeys, bytes: Uint8Array, envelope: Envelope): Inner {
  const { topic } = preparedKeys(keys)
  const plain = decrypt(keys, envelope, aadV2(topic, envelope.epoch))
  if (plain == null) return { ok: false, reason: 'undecryptable' }
  const length = plain.readUInt32BE(0)
  if (length > plain.byteLength - LENGTH_PREFIX || bucketFor(LENGTH_PREFIX + length) !== plain.byteLength) return { ok: false, reason: 'bad padding' }
  for (let i = LENGTH_PREFIX + length; i < plain.byteLength; i++) if (plain[i] !== 0) return { ok: false, reason: 'bad padding' }
  // a plain Uint8Array view, so that decoded fields are Uint8Arrays (as for any other input), not Buffers
  const innerBytes = new Uint8Array(plain.buffer, plain.byteOffset + LENGTH_PREFIX, length)
  let sealed: Sealed
  let signed: Signed
  try {
    sealed = Sealed.decode(innerBytes)
    signed = Signed.decode(sealed.signed, SIGNED_LIMITS)
  } catch {
    return { ok: false, reason: 'bad body' }
  }
  // canonical, both layers: one encoding per message (this also refuses invalid UTF-8, which decoding replaces)
  if (!Buffer.from(Sealed.encode(sealed)).equals(innerBytes) || !Buffer.from(Signed.encode(signed)).equals(Buffer.from(sealed.signed))) {
    return { ok: false, reason: 'bad body' }
  }
  if (sealed.signature.byteLength !== SIGNATURE_LENGTH || signed.author.byteLength !== ED25519_PUBLIC_KEY_LENGTH) return { ok: false, reason: 'bad field' }
  const fields = fieldProblem(signed.seq, signed.lamport, signed.timestamp, signed.kind, ENVELOPE_VERSION) ?? linkProblem(signed.seq, signed.prev, signed.parents)
  if (fields != null) return { ok: false, reason: fields }
  const body = signed.body ?? { text: '', name: '', replyTo: new Uint8Array(0), target: new Uint8Array(0), emoji: '', remove: false, mentions: [] }
  const bodyWrong = bodyProblem(signed.kind, body, ENVELOPE_VERSION)
  if (bodyWrong != null) return { ok: false, reason: bodyWrong }
  const header: MessageHeader = {
    version: ENVELOPE_VERSION,
    epoch: envelope.epoch,
    author: signed.author,
    seq: signed.seq,
    lamport: signed.lamport,
    timestamp: signed.timestamp,
    kind: signed.kind,
    prev: signed.prev,
    parents: signed.parents
  }
  return {
    ok: true,
    message: { id: messageId(sealed.signed), bytes, envelope: header, body },
    signedData: signedDataV2(topic, envelope.epoch, sealed.signed),
    signature: sealed.signature
  }
}

/** v1 after the MAC: decrypt and check the body. Everything but the signature. */
function openInnerV1 (keys: GroupKeys, bytes: Uint8Array, envelope: Envelope): Inner {
  const { topic } = preparedKeys(keys)
  const aad = Buffer.allocUnsafe(topic.byteLength + envelope.author.byteLength + 8)
  topic.copy(aad, 0)
  aad.set(envelope.author, topic.byteLength)
  aad.writeBigUInt64BE(envelope.seq, topic.byteLength + envelope.author.byteLength)
  const plain = decrypt(keys, envelope, aad)
  if (plain == null) return { ok: false, reason: 'undecryptable' }
  let body: Body
  try {
    body = Body.decode(plain, { limits: { mentions: 0 } })
  } catch {
    return { ok: false, reason: 'bad body' }
  }
  if (!Buffer.from(Body.encode(body)).equals(plain)) return { ok: false, reason: 'bad body' }
  const bodyWrong = bodyProblem(envelope.kind, body, LEGACY_ENVELOPE_VERSION)
  if (bodyWrong != null) return { ok: false, reason: bodyWrong }
  const header: MessageHeader = {
    version: LEGACY_ENVELOPE_VERSION,
    epoch: envelope.epoch,
    author: envelope.author,
    seq: envelope.seq,
    lamport: envelope.lamport,
    timestamp: envelope.timestamp,
    kind: envelope.kind,
    prev: new Uint8Array(0),
    parents: []
  }
  const macInput = bytes.subarray(0, bytes.byteLength - MAC_FIELD_LENGTH)
  const unsigned = macInput.subarray(0, macInput.byteLength - SIGNATURE_FIELD_LENGTH)
  return {
    ok: true,
    message: { id: messageId(bytes), bytes, envelope: header, body },
    signedData: concat(SIGNATURE_DOMAIN_V1, topic, unsigned),
    signature: envelope.signature
  }
}

function openWith (keys: GroupKeys, bytes: Uint8Array): Inner {
  const outer = checkOuter(keys, bytes)
  if (!outer.ok) return outer
  return outer.envelope.version === ENVELOPE_VERSION ? openInnerV2(keys, bytes, outer.envelope) : openInnerV1(keys, bytes, outer.envelope)
}

/**
 * Every step of open() but the last, the Ed25519 signature, whose inputs it
 * returns (`signedData`, `signature`, the author in `message.envelope`): for
 * a caller that verifies elsewhere (another thread: ChatNode under load,
 * src/envelope/signatures.ts). Not proof of authorship until
 * verifyEd25519(author, signedData, signature) holds. Never throws.
 *
 * The keys of the envelope's own epoch: with a keyring (`keys.ring`, issue
 * 15), the outer `epoch` is read first and each key held for that epoch
 * tried (more than one after concurrent rotations; the MAC tells them
 * apart). Without one, `keys` alone.
 */
export function openUnverified (keys: GroupKeys, bytes: Uint8Array): Inner {
  const ring = keys.ring
  if (ring == null) return openWith(keys, bytes)
  const epoch = outerEpoch(bytes)
  const candidates = epoch === keys.epoch ? [keys, ...(ring.get(epoch) ?? []).filter(k => k.macKey !== keys.macKey)] : ring.get(epoch ?? -1) ?? []
  let last: Inner = { ok: false, reason: 'unknown epoch' }
  for (const k of candidates) {
    last = openWith(k, bytes)
    if (last.ok || (last.reason !== 'bad mac' && last.reason !== 'unknown epoch')) return last
  }
  return last
}

/** The outer `epoch` (field 2) of an encoded envelope, read without decoding it; undefined when it does not start as seal() writes */
export function outerEpoch (bytes: Uint8Array): number | undefined {
  let i = 0
  const varint = (): number | undefined => {
    let v = 0
    for (let shift = 0; shift < 35 && i < bytes.byteLength; shift += 7) {
      const b = bytes[i++]
      v += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return v
    }
    return undefined
  }
  if (bytes[i] !== 0x08) return undefined
  i++
  if (varint() == null) return undefined
  if (bytes[i] !== 0x10) return 0
  i++
  return varint()
}

/**
 * Open a sealed envelope (version 2, or the legacy version 1), checking in
 * order of cost: size, decode, outer fields, canonical encoding, MAC,
 * decryption, padding, inner decoding and rules, and last the Ed25519
 * signature. Never throws.
 */
export function open (keys: GroupKeys, bytes: Uint8Array): OpenResult {
  const inner = openUnverified(keys, bytes)
  if (!inner.ok) return inner
  if (!verifyEd25519(inner.message.envelope.author, inner.signedData, inner.signature)) return { ok: false, reason: 'bad signature' }
  return { ok: true, message: inner.message }
}

/**
 * Everything open() checks but the signature: a group member's envelope,
 * its author, numbers and id, for the cheap decisions made before the
 * Ed25519 verify (is it asked for, is it a duplicate). Never throws. Not
 * proof of authorship: open() the bytes before trusting or storing them.
 */
export function peek (keys: GroupKeys, bytes: Uint8Array): OpenResult {
  const inner = openUnverified(keys, bytes)
  return inner.ok ? { ok: true, message: inner.message } : inner
}
