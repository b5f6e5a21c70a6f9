import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { join } from 'node:path'
import { IDENTITY_FILE, readFileIfExists, writeFileAtomic } from './config.js'
import { DataDirError } from './errors.js'
import type { Ed25519PrivateKey } from '@libp2p/interface'

/** The node's persistent Ed25519 identity: created on first start (mode 0600), then reused. */
export async function loadOrCreateIdentity (dataDir: string): Promise<Ed25519PrivateKey> {
  const path = join(dataDir, IDENTITY_FILE)
  const existing = await readFileIfExists(path)
  if (existing != null) {
    let key
    try {
      key = privateKeyFromProtobuf(existing)
    } catch (err) {
      throw new DataDirError(`identity file ${path} is corrupt: move it away to create a new identity`, { cause: err })
    }
    if (key.type !== 'Ed25519') throw new DataDirError(`identity file ${path} holds a ${key.type} key; p2p-chat needs Ed25519`)
    return key
  }
  const key = await generateKeyPair('Ed25519')
  await writeFileAtomic(path, privateKeyToProtobuf(key), 0o600)
  return key
}
