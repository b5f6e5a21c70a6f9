/**
 * Epoch secrets sealed to one member (docs/PROTOCOL.md, "Membership and
 * epochs"): X25519 ECDH between a fresh ephemeral key and the member's
 * published X25519 key, HKDF-SHA256, ChaCha20-Poly1305. node:crypto only.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { readFileIfExists, writeFileAtomic } from '../config.js'
import type { KeyObject } from 'node:crypto'

/** <data-dir>/membership-key: this node's X25519 private key (PKCS#8 DER, mode 0600) */
export const X25519_KEY_FILE = 'membership-key'
const BOX_INFO = 'p2p-chat/membership/box/1'
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')

export interface X25519KeyPair {
  privateKey: KeyObject
  /** raw 32-byte public key */
  publicKey: Uint8Array
}

export function rawPublicKey (key: KeyObject): Uint8Array {
  const der = key.export({ type: 'spki', format: 'der' })
  return new Uint8Array(der.subarray(der.byteLength - 32))
}

export function publicKeyFromRaw (raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
}

export function generateX25519 (): X25519KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519')
  return { privateKey, publicKey: rawPublicKey(publicKey) }
}

/** This node's X25519 key pair, made on first use and kept in the data dir. */
export async function loadOrCreateX25519 (dataDir: string): Promise<X25519KeyPair> {
  const path = join(dataDir, X25519_KEY_FILE)
  const raw = await readFileIfExists(path)
  if (raw != null) {
    const privateKey = createPrivateKey({ key: raw, format: 'der', type: 'pkcs8' })
    return { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) }
  }
  const pair = generateX25519()
  await writeFileAtomic(path, pair.privateKey.export({ type: 'pkcs8', format: 'der' }), 0o600)
  return pair
}

/** key and nonce of a box: HKDF(shared, salt = ephemeral || recipient, info = label || context) */
function boxKey (shared: Buffer, ephemeral: Uint8Array, recipient: Uint8Array, context: Uint8Array): { key: Buffer, nonce: Buffer } {
  const okm = Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeral, recipient]), Buffer.concat([Buffer.from(BOX_INFO, 'utf8'), context]), 44))
  return { key: okm.subarray(0, 32), nonce: okm.subarray(32, 44) }
}

/**
 * Seal a 32-byte secret to a recipient's raw X25519 public key. `context`
 * binds the box to its use (wire topic, epoch, recipient's Ed25519 key).
 */
export function sealSecret (recipient: Uint8Array, secret: Uint8Array, context: Uint8Array): { ephemeral: Uint8Array, sealed: Uint8Array } {
  const eph = generateX25519()
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: publicKeyFromRaw(recipient) })
  const { key, nonce } = boxKey(shared, eph.publicKey, recipient, context)
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
  const sealed = Buffer.concat([cipher.update(secret), cipher.final(), cipher.getAuthTag()])
  return { ephemeral: eph.publicKey, sealed: new Uint8Array(sealed) }
}

/** Open a box sealed to our key pair; undefined when it does not open. */
export function openSecret (own: X25519KeyPair, ephemeral: Uint8Array, sealed: Uint8Array, context: Uint8Array): Uint8Array | undefined {
  try {
    const shared = diffieHellman({ privateKey: own.privateKey, publicKey: publicKeyFromRaw(ephemeral) })
    const { key, nonce } = boxKey(shared, ephemeral, own.publicKey, context)
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    d.setAuthTag(sealed.subarray(sealed.byteLength - 16))
    const plain = Buffer.concat([d.update(sealed.subarray(0, sealed.byteLength - 16)), d.final()])
    return plain.byteLength === 32 ? new Uint8Array(plain) : undefined
  } catch {
    return undefined
  }
}

export function randomSecret (): Uint8Array {
  return new Uint8Array(randomBytes(32))
}
