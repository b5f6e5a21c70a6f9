import { createCipheriv, createDecipheriv, createHmac, randomFillSync, timingSafeEqual } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { Body, Envelope } from './pb/envelope.js'
import { messageId, preparedKeys } from './keys.js'
import { ED25519_PUBLIC_KEY_LENGTH, verifyEd25519 } from './signer.js'
import type { GroupKeys } from './keys.js'
import type { Signer } from './signer.js'

export const ENVELOPE_VERSION = 1
export const KIND_TEXT = 1
/** Largest message text, in UTF-8 bytes */
export const MAX_TEXT_BYTES = 4096
/** Largest display name, in UTF-8 bytes */
export const MAX_NAME_BYTES = 64
/** Largest encoded envelope accepted from anyone; checked before decoding */
export const MAX_ENVELOPE_BYTES = 8192
/** Largest Lamport value: 2^63 - 1, so that an increment always still encodes (uint64 varints wrap at 2^64) */
export const MAX_LAMPORT = (1n << 63n) - 1n
/** Largest timestamp: below 2^48 ms (the year 10889), what the store's sort key holds exactly */
export const MAX_TIMESTAMP = (1n << 48n) - 1n

const NONCE_LENGTH = 12
const TAG_LENGTH = 16
const SIGNATURE_LENGTH = 64
const MAC_LENGTH = 32
/** bytes of the encoded signature field: tag, length, 64 bytes */
const SIGNATURE_FIELD_LENGTH = 2 + SIGNATURE_LENGTH
/** bytes of the encoded mac field: tag, length, 32 bytes */
const MAC_FIELD_LENGTH = 2 + MAC_LENGTH
/** protobuf keys of the signature (field 10) and mac (field 11) fields: length-delimited */
const SIGNATURE_TAG = (10 << 3) | 2
const MAC_TAG = (11 << 3) | 2
const SIGNATURE_DOMAIN = Buffer.from('p2p-chat/envelope-signature/1\n', 'utf8')

export interface SealInput {
  seq: bigint
  lamport: bigint
  timestamp: number
  text: string
  name: string
  kind?: number
}

export interface OpenedMessage {
  /** SHA-256 of `bytes` */
  id: Uint8Array
  /** the sealed envelope exactly as published and stored */
  bytes: Uint8Array
  envelope: Envelope
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

/** what the author signs: domain, wire topic, envelope without signature and mac */
function signedData (topic: Buffer, unsigned: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(SIGNATURE_DOMAIN.byteLength + topic.byteLength + unsigned.byteLength)
  SIGNATURE_DOMAIN.copy(out, 0)
  topic.copy(out, SIGNATURE_DOMAIN.byteLength)
  out.set(unsigned, SIGNATURE_DOMAIN.byteLength + topic.byteLength)
  return out
}

function mac (key: KeyObject, data: Uint8Array): Buffer {
  return createHmac('sha256', key).update(data).digest()
}

/** additional data of the AEAD: wire topic, author, sequence number */
function aad (topic: Buffer, author: Uint8Array, seq: bigint): Buffer {
  const out = Buffer.allocUnsafe(topic.byteLength + author.byteLength + 8)
  topic.copy(out, 0)
  out.set(author, topic.byteLength)
  out.writeBigUInt64BE(seq, topic.byteLength + author.byteLength)
  return out
}

/**
 * The rules on the envelope's numbers and kind that seal and open share:
 * seq and lamport from 1, lamport at most MAX_LAMPORT, timestamp at most
 * MAX_TIMESTAMP, a known kind (0 is none). Undefined when they hold.
 */
export function fieldProblem (seq: bigint, lamport: bigint, timestamp: bigint, kind: number): string | undefined {
  if (seq < 1n || seq > MAX_LAMPORT) return 'seq out of range'
  if (lamport < 1n || lamport > MAX_LAMPORT) return 'lamport out of range'
  if (timestamp < 0n || timestamp > MAX_TIMESTAMP) return 'timestamp out of range'
  if (kind !== KIND_TEXT) return 'unknown kind'
  return undefined
}

/** The rules on the body: a non-empty text and a non-empty name within their limits. */
export function bodyProblem (body: Body): string | undefined {
  if (body.text.trim() === '') return 'empty text'
  if (Buffer.byteLength(body.text) > MAX_TEXT_BYTES || Buffer.byteLength(body.name) > MAX_NAME_BYTES) return 'body too large'
  if (body.name.trim() === '') return 'empty name'
  return undefined
}

/**
 * Seal a message: encrypt the body, sign as the author, MAC with the group key. Pure but for the random nonce.
 * Refuses (throws a RangeError) what open() would refuse.
 *
 * The signature and mac are the envelope's last two fields, so protons'
 * encoding of the envelope without them is a prefix of the sealed bytes:
 * encode once, then append the two fields (open() checks the result is canonical).
 */
export function seal (keys: GroupKeys, signer: Signer, input: SealInput): OpenedMessage {
  const body: Body = { text: input.text, name: input.name }
  const problem = fieldProblem(input.seq, input.lamport, BigInt(input.timestamp), input.kind ?? KIND_TEXT) ?? bodyProblem(body)
  if (problem != null) throw new RangeError(`cannot seal: ${problem}`)
  const { mac: macKey, enc: encKey, topic } = preparedKeys(keys)
  const author = signer.publicKey
  const nonce = nextNonce()
  const cipher = createCipheriv('chacha20-poly1305', encKey, nonce, { authTagLength: TAG_LENGTH })
  const plain = Body.encode(body)
  cipher.setAAD(aad(topic, author, input.seq), { plaintextLength: plain.byteLength })
  const encrypted = cipher.update(plain)
  const rest = cipher.final()
  const ciphertext = new Uint8Array(encrypted.byteLength + rest.byteLength + TAG_LENGTH)
  ciphertext.set(encrypted, 0)
  ciphertext.set(rest, encrypted.byteLength)
  ciphertext.set(cipher.getAuthTag(), encrypted.byteLength + rest.byteLength)
  const envelope: Envelope = {
    version: ENVELOPE_VERSION,
    epoch: keys.epoch,
    author: new Uint8Array(author),
    seq: input.seq,
    lamport: input.lamport,
    timestamp: BigInt(input.timestamp),
    kind: input.kind ?? KIND_TEXT,
    nonce,
    ciphertext,
    signature: new Uint8Array(0),
    mac: new Uint8Array(0)
  }
  const unsigned = Envelope.encode(envelope)
  const signature = signer.sign(signedData(topic, unsigned))
  if (signature.byteLength !== SIGNATURE_LENGTH) throw new Error('the signer returned a signature of a wrong length')
  const bytes = new Uint8Array(unsigned.byteLength + SIGNATURE_FIELD_LENGTH + MAC_FIELD_LENGTH)
  bytes.set(unsigned, 0)
  let at = unsigned.byteLength
  bytes[at++] = SIGNATURE_TAG
  bytes[at++] = SIGNATURE_LENGTH
  bytes.set(signature, at)
  at += SIGNATURE_LENGTH
  const tag = mac(macKey, bytes.subarray(0, at))
  bytes[at++] = MAC_TAG
  bytes[at++] = MAC_LENGTH
  bytes.set(tag, at)
  envelope.signature = bytes.subarray(unsigned.byteLength + 2, unsigned.byteLength + SIGNATURE_FIELD_LENGTH)
  envelope.mac = bytes.subarray(bytes.byteLength - MAC_LENGTH)
  return { id: messageId(bytes), bytes, envelope, body }
}

/**
 * Open a sealed envelope, checking in order of cost: size, decode, fields,
 * canonical encoding, MAC, signature, decryption. Never throws.
 */
export function open (keys: GroupKeys, bytes: Uint8Array): OpenResult {
  if (bytes.byteLength === 0) return { ok: false, reason: 'empty' }
  if (bytes.byteLength > MAX_ENVELOPE_BYTES) return { ok: false, reason: 'too large' }
  let envelope: Envelope
  try {
    envelope = Envelope.decode(bytes)
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  if (envelope.version !== ENVELOPE_VERSION) return { ok: false, reason: 'unknown version' }
  if (envelope.epoch !== keys.epoch) return { ok: false, reason: 'unknown epoch' }
  if (envelope.author.byteLength !== ED25519_PUBLIC_KEY_LENGTH || envelope.nonce.byteLength !== NONCE_LENGTH ||
    envelope.signature.byteLength !== SIGNATURE_LENGTH || envelope.mac.byteLength !== MAC_LENGTH ||
    envelope.ciphertext.byteLength < TAG_LENGTH) {
    return { ok: false, reason: 'bad field' }
  }
  const fields = fieldProblem(envelope.seq, envelope.lamport, envelope.timestamp, envelope.kind)
  if (fields != null) return { ok: false, reason: fields }
  // The id is the hash of the bytes, so only the canonical encoding is
  // accepted: otherwise one message could be stored twice under two ids.
  const canonical = Envelope.encode(envelope)
  if (!Buffer.from(canonical.buffer, canonical.byteOffset, canonical.byteLength).equals(bytes)) {
    return { ok: false, reason: 'not canonical' }
  }
  const { mac: macKey, enc: encKey, topic } = preparedKeys(keys)
  const macInput = bytes.subarray(0, bytes.byteLength - MAC_FIELD_LENGTH)
  if (!timingSafeEqual(mac(macKey, macInput), envelope.mac)) return { ok: false, reason: 'bad mac' }
  const unsigned = macInput.subarray(0, macInput.byteLength - SIGNATURE_FIELD_LENGTH)
  if (!verifyEd25519(envelope.author, signedData(topic, unsigned), envelope.signature)) {
    return { ok: false, reason: 'bad signature' }
  }
  let body: Body
  let plain: Buffer
  try {
    const ct = envelope.ciphertext
    const decipher = createDecipheriv('chacha20-poly1305', encKey, envelope.nonce, { authTagLength: TAG_LENGTH })
    decipher.setAAD(aad(topic, envelope.author, envelope.seq), { plaintextLength: ct.byteLength - TAG_LENGTH })
    decipher.setAuthTag(ct.subarray(ct.byteLength - TAG_LENGTH))
    const updated = decipher.update(ct.subarray(0, ct.byteLength - TAG_LENGTH))
    // final() checks the tag; ChaCha20-Poly1305 has nothing left to give
    const last = decipher.final()
    plain = last.byteLength === 0 ? updated : Buffer.concat([updated, last])
  } catch {
    return { ok: false, reason: 'undecryptable' }
  }
  try {
    body = Body.decode(plain)
  } catch {
    return { ok: false, reason: 'bad body' }
  }
  // canonical: the one encoding of its fields (this also refuses invalid UTF-8,
  // which decoding turns into U+FFFD and so into other bytes)
  if (!Buffer.from(Body.encode(body)).equals(plain)) return { ok: false, reason: 'bad body' }
  const bodyWrong = bodyProblem(body)
  if (bodyWrong != null) return { ok: false, reason: bodyWrong }
  return { ok: true, message: { id: messageId(bytes), bytes, envelope, body } }
}
