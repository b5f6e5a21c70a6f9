import { generateKeyPair } from '@libp2p/crypto/keys'
import { createBaseLibp2p } from '../src/libp2p.js'
import { deriveGroupKeys } from '../src/envelope/index.js'
import type { ChatMessage, ChatNode } from '../src/index.js'
import type { BaseLibp2p } from '../src/libp2p.js'
import type { GroupKeys } from '../src/envelope/index.js'
import type { Group } from '../src/groups/index.js'
import type { SyncService } from '../src/sync/index.js'
import type { TestContext } from 'node:test'

/** What the history sync tests share (test/sync.test.ts, test/sync-attacks.test.ts): waits on events, counts, raw peers. */

const TEXT_LIMIT = 10_000

/** Every message id of a group at a node, oldest first. */
export async function ids (node: ChatNode, topicId: string): Promise<string[]> {
  const out: string[] = []
  let before: string | undefined
  do {
    const page = await node.history(topicId, { limit: TEXT_LIMIT, before })
    out.push(...page.messages.map(m => m.id))
    before = page.next
  } while (before != null)
  return out.reverse()
}

/** How many records a node stores for a group (cheap: counts keys, verifies nothing). */
export async function count (node: ChatNode, topicId: string): Promise<number> {
  const inner = (node as unknown as { running: { registry: { require: (t: string) => { keys: GroupKeys } }, store: { count: (gid: string) => Promise<number> } } }).running
  return inner.store.count(inner.registry.require(topicId).keys.groupId)
}

interface Emitter { on: (...args: any[]) => unknown, off: (...args: any[]) => unknown }
export type Source = [EventTarget | Emitter, string]

/**
 * Wait until `check` holds, checking it again whenever one of `sources`
 * fires (events that fire during a check bring one more check): no polling.
 * Fails with `what` after `timeout` ms.
 */
export async function waitFor (what: string, sources: Source[], check: () => boolean | Promise<boolean>, timeout = 20_000): Promise<void> {
  let fired: boolean
  let expired = false
  let wake: (() => void) | undefined
  const onEvent = (): void => { fired = true; wake?.() }
  const timer = setTimeout(() => { expired = true; wake?.() }, timeout)
  for (const [target, event] of sources) {
    if ('addEventListener' in target) target.addEventListener(event, onEvent)
    else target.on(event, onEvent)
  }
  try {
    while (true) {
      fired = false
      if (await check()) return
      if (expired) throw new Error(`timed out waiting for ${what}`)
      if (!fired) await new Promise<void>(resolve => { wake = resolve })
      wake = undefined
    }
  } finally {
    clearTimeout(timer)
    for (const [target, event] of sources) {
      if ('removeEventListener' in target) target.removeEventListener(event, onEvent)
      else target.off(event, onEvent)
    }
  }
}

/**
 * Wait until every node holds `n` records of the group. Each record a node
 * stores is announced once ('message'): the store is counted only once the
 * announcements say it may hold them all.
 */
export async function holdAll (what: string, nodes: ChatNode[], topicId: string, n: number, timeout?: number): Promise<void> {
  const announced = new Map<ChatNode, number>(nodes.map(node => [node, 0]))
  const listeners = nodes.map(node => {
    const fn = (m: ChatMessage): void => { if (m.topicId === topicId) announced.set(node, (announced.get(node) ?? 0) + 1) }
    node.on('message', fn)
    return { node, fn }
  })
  try {
    // counted after listening: a record stored in between counts twice, which only brings the exact check early
    const before = new Map(await Promise.all(nodes.map(async node => [node, await count(node, topicId)] as const)))
    await waitFor(what, nodes.map(node => [node, 'message']), async () => {
      if (nodes.some(node => (before.get(node) ?? 0) + (announced.get(node) ?? 0) < n)) return false
      for (const node of nodes) if (await count(node, topicId) !== n) return false
      return true
    }, timeout)
  } finally {
    for (const { node, fn } of listeners) node.off('message', fn)
  }
}

/** Wait until `node` sees `n` members of the group, at its gossipsub 'subscription-change' events. */
export async function seesMembers (node: ChatNode, topicId: string, n: number): Promise<void> {
  await waitFor(`${node.name} to see ${n} members of ${topicId}`, [[node.libp2pNode.services.pubsub, 'subscription-change']], () => node.groupPeers(topicId).length >= n)
}

/** Connect every pair and wait until each node sees every other as a subscriber of the group. */
export async function meshGroup (nodes: ChatNode[], topicId: string): Promise<void> {
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) await nodes[i].dial(nodes[j].addresses[0])
  }
  await Promise.all(nodes.map(async n => seesMembers(n, topicId, nodes.length - 1)))
}

export function syncOf (node: ChatNode): SyncService<Group> {
  return node.libp2pNode.services.sync
}

export function keysOf (node: ChatNode, topicId: string): GroupKeys {
  return deriveGroupKeys(topicId, Buffer.from(node.secret(topicId), 'hex'))
}

export async function rawNode (t: TestContext): Promise<BaseLibp2p> {
  const node = await createBaseLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, inboundConnectionThreshold: 1000 })
  t.after(async () => { await node.stop() })
  return node
}

export async function sendMany (node: ChatNode, topicId: string, n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i++) await node.send(topicId, `${prefix}-${i}`)
}
