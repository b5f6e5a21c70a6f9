/**
 * Shared bits of the fault and hostile-input suite (test/fault-*.test.ts).
 * `LONG=1` (npm run test:long) scales every count and duration up.
 */
import { createServer } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { deriveGroupKeys, open } from '../src/envelope/index.js'
import { tempDir } from './helpers.js'
import { HistoryStore } from '../src/store/index.js'
import type { ChatNode } from '../src/index.js'
import type { GroupKeys } from '../src/envelope/index.js'
import type { TestContext } from 'node:test'

export const LONG = process.env.LONG === '1'

/** The short value in `npm test`, the long one under LONG=1. */
export function scale<T> (short: T, long: T): T {
  return LONG ? long : short
}

export function keysOf (node: ChatNode, topicId: string): GroupKeys {
  return deriveGroupKeys(topicId, Buffer.from(node.secret(topicId), 'hex'))
}

/** Every message id of a group at a node, newest first, all pages. */
export async function allIds (node: ChatNode, topicId: string): Promise<string[]> {
  const out: string[] = []
  let before: string | undefined
  do {
    const page = await node.history(topicId, { limit: 10_000, before })
    out.push(...page.messages.map(m => m.id))
    before = page.next
  } while (before != null)
  return out
}

/** How many records a node stores for a group (counts keys; verifies nothing). */
export async function storedCount (node: ChatNode, topicId: string): Promise<number> {
  const inner = (node as unknown as { running: { registry: { require: (t: string) => { keys: GroupKeys } }, store: { count: (gid: string) => Promise<number> } } }).running
  return inner.store.count(inner.registry.require(topicId).keys.groupId)
}

export interface StoreAudit {
  records: number
  /** records that fail envelope verification */
  bad: number
  ids: Set<string>
}

/**
 * Open a stopped node's history database directly and verify every record of
 * a group with the envelope checks (MAC, signature, decryption).
 */
export async function auditStore (historyDir: string, keys: GroupKeys): Promise<StoreAudit> {
  const store = new HistoryStore(historyDir)
  await store.open()
  try {
    const ids = new Set<string>()
    let records = 0
    let bad = 0
    for await (const r of store.iterate(keys.groupId)) {
      records++
      const opened = open(keys, r.bytes)
      if (!opened.ok) bad++
      else ids.add(Buffer.from(opened.message.id).toString('hex'))
    }
    return { records, bad, ids }
  } finally {
    await store.close()
  }
}

/** Sleep for a random time in [min, max) ms: only to spread load in churn and crash loops, never to wait for a result. */
export async function jitter (min: number, max: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, min + Math.random() * (max - min)))
}

/** A data directory with an identity made in advance, so that every node's address is known before any starts. */
export async function preparedDataDir (t: TestContext): Promise<{ dataDir: string, peerId: string }> {
  const dataDir = await tempDir(t)
  const key = await generateKeyPair('Ed25519')
  await writeFile(join(dataDir, 'identity.key'), privateKeyToProtobuf(key), { mode: 0o600 })
  return { dataDir, peerId: peerIdFromPrivateKey(key).toString() }
}

/** A TCP port free on 127.0.0.1 now. */
export async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

