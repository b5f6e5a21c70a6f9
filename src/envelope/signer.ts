import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'

/** Signs with an author's Ed25519 key. Built from the libp2p identity's raw key. */
export interface Signer {
  /** raw 32-byte Ed25519 public key */
  readonly publicKey: Uint8Array
  sign(data: Uint8Array): Uint8Array
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
export const ED25519_PUBLIC_KEY_LENGTH = 32

/**
 * A signer from a raw Ed25519 private key as libp2p holds it: 64 bytes
 * (seed then public key) or the 32-byte seed alone.
 */
export function ed25519Signer (rawPrivateKey: Uint8Array): Signer {
  const seed = rawPrivateKey.subarray(0, 32)
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' })
  const publicKey = new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.length))
  return {
    publicKey,
    sign: (data) => sign(null, data, key)
  }
}

const MAX_CACHED_KEYS = 4096
const publicKeyCache = new Map<string, KeyObject>()

function publicKeyObject (raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw).toString('base64')
  let key = publicKeyCache.get(id)
  if (key == null) {
    key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' })
    if (publicKeyCache.size >= MAX_CACHED_KEYS) {
      const oldest = publicKeyCache.keys().next().value
      if (oldest != null) publicKeyCache.delete(oldest)
    }
    publicKeyCache.set(id, key)
  }
  return key
}

/** Verify an Ed25519 signature; false (never a throw) for malformed keys or signatures. */
export function verifyEd25519 (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH || signature.length !== 64) return false
  try {
    return verify(null, data, publicKeyObject(publicKey), signature)
  } catch {
    return false
  }
}
