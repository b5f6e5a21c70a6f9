import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { Body, Envelope } from './envelope.js'
import { messageId } from './keys.js'
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

const NONCE_LENGTH = 12
const TAG_LENGTH = 16
const SIGNATURE_LENGTH = 64
const MAC_LENGTH = 32
/** bytes of the encoded signature field: tag, length, 64 bytes */
const SIGNATURE_FIELD_LENGTH = 2 + SIGNATURE_LENGTH
/** bytes of the encoded mac field: tag, length, 32 bytes */
const MAC_FIELD_LENGTH = 2 + MAC_LENGTH
const SIGNATURE_DOMAIN = Buffer.from('p2p-chat/envelope-signature/1\n', 'utf8')
const EMPTY = new Uint8Array(0)

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

function signedData (keys: GroupKeys, unsigned: Uint8Array): Buffer {
  return Buffer.concat([SIGNATURE_DOMAIN, Buffer.from(keys.wireTopic, 'utf8'), unsigned])
}

function mac (keys: GroupKeys, data: Uint8Array): Buffer {
  return createHmac('sha256', keys.macKey).update(data).digest()
}

function aad (keys: GroupKeys, author: Uint8Array, seq: bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(seq)
  return Buffer.concat([Buffer.from(keys.wireTopic, 'utf8'), author, b])
}

/** Seal a message: encrypt the body, sign as the author, MAC with the group key. Pure but for the random nonce. */
export function seal (keys: GroupKeys, signer: Signer, input: SealInput): OpenedMessage {
  const body: Body = { text: input.text, name: input.name }
  const nonce = randomBytes(NONCE_LENGTH)
  const cipher = createCipheriv('chacha20-poly1305', keys.encKey, nonce, { authTagLength: TAG_LENGTH })
  const plain = Body.encode(body)
  cipher.setAAD(aad(keys, signer.publicKey, input.seq), { plaintextLength: plain.byteLength })
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()])
  const envelope: Envelope = {
    version: ENVELOPE_VERSION,
    epoch: keys.epoch,
    author: new Uint8Array(signer.publicKey),
    seq: input.seq,
    lamport: input.lamport,
    timestamp: BigInt(input.timestamp),
    kind: input.kind ?? KIND_TEXT,
    nonce: new Uint8Array(nonce),
    ciphertext: new Uint8Array(ciphertext),
    signature: EMPTY,
    mac: EMPTY
  }
  const unsigned = Envelope.encode(envelope)
  envelope.signature = new Uint8Array(signer.sign(signedData(keys, unsigned)))
  envelope.mac = new Uint8Array(mac(keys, Envelope.encode(envelope)))
  const bytes = Envelope.encode(envelope)
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
    envelope.ciphertext.byteLength < TAG_LENGTH || envelope.seq < 1n) {
    return { ok: false, reason: 'bad field' }
  }
  // The id is the hash of the bytes, so only the canonical encoding is
  // accepted: otherwise one message could be stored twice under two ids.
  const canonical = Envelope.encode(envelope)
  if (!Buffer.from(canonical.buffer, canonical.byteOffset, canonical.byteLength).equals(bytes)) {
    return { ok: false, reason: 'not canonical' }
  }
  const macInput = bytes.subarray(0, bytes.byteLength - MAC_FIELD_LENGTH)
  if (!timingSafeEqual(mac(keys, macInput), envelope.mac)) return { ok: false, reason: 'bad mac' }
  const unsigned = macInput.subarray(0, macInput.byteLength - SIGNATURE_FIELD_LENGTH)
  if (!verifyEd25519(envelope.author, signedData(keys, unsigned), envelope.signature)) {
    return { ok: false, reason: 'bad signature' }
  }
  let body: Body
  try {
    const ct = envelope.ciphertext
    const decipher = createDecipheriv('chacha20-poly1305', keys.encKey, envelope.nonce, { authTagLength: TAG_LENGTH })
    decipher.setAAD(aad(keys, envelope.author, envelope.seq), { plaintextLength: ct.byteLength - TAG_LENGTH })
    decipher.setAuthTag(ct.subarray(ct.byteLength - TAG_LENGTH))
    const plain = Buffer.concat([decipher.update(ct.subarray(0, ct.byteLength - TAG_LENGTH)), decipher.final()])
    body = Body.decode(plain)
  } catch {
    return { ok: false, reason: 'undecryptable' }
  }
  if (Buffer.byteLength(body.text) > MAX_TEXT_BYTES || Buffer.byteLength(body.name) > MAX_NAME_BYTES) {
    return { ok: false, reason: 'body too large' }
  }
  return { ok: true, message: { id: messageId(bytes), bytes, envelope, body } }
}
