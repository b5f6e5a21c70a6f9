import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { ChatNode } from '../src/index.js'
import type { ChatNodeInit, ChatMessage } from '../src/index.js'
import type { TestContext } from 'node:test'

const cleanups = new WeakMap<TestContext, Array<() => unknown>>()

/**
 * Run `fn` when the test ends, pass or fail. The last registered runs first (node:test runs its own
 * `after` hooks in the order they were added), so a node started on a temp directory is stopped
 * before the directory is removed. Every cleanup runs even if one throws; the errors are thrown after.
 */
export function defer (t: TestContext, fn: () => unknown): void {
  let stack = cleanups.get(t)
  if (stack == null) {
    const mine: Array<() => unknown> = stack = []
    cleanups.set(t, mine)
    t.after(async () => {
      const errors: unknown[] = []
      for (let next = mine.pop(); next != null; next = mine.pop()) {
        try { await next() } catch (err) { errors.push(err) }
      }
      if (errors.length === 1) throw errors[0]
      if (errors.length > 1) throw new AggregateError(errors, `${errors.length} cleanups failed`)
    })
  }
  stack.push(fn)
}

/** A temp directory removed when the test ends (after whatever was started on it later has stopped). */
export async function tempDir (t: TestContext, prefix = 'p2p-chat-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  defer(t, async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** Start a node on 127.0.0.1 with mDNS off; stopped when the test ends, pass or fail. */
export async function startNode (t: TestContext, init: Partial<ChatNodeInit> = {}): Promise<ChatNode> {
  const dataDir = init.dataDir ?? await tempDir(t)
  const node = new ChatNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    inboundConnectionThreshold: 1000,
    ...init,
    dataDir
  })
  defer(t, async () => { await node.stop() })
  await node.start()
  return node
}

export async function startNodes (t: TestContext, n: number, init: Partial<ChatNodeInit> = {}): Promise<ChatNode[]> {
  return Promise.all(Array.from({ length: n }, async () => startNode(t, init)))
}

/** Poll a condition until it holds; fails with `what` after `timeout` ms. Used only where no event exists. */
export async function waitUntil (what: string, fn: () => boolean | Promise<boolean>, timeout = 20_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

/** Connect every pair and wait until each node sees every other as a subscriber of the group. */
export async function meshGroup (nodes: ChatNode[], topicId: string): Promise<void> {
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) await nodes[i].dial(nodes[j].addresses[0])
  }
  await waitUntil(`every member of ${topicId} to see the others`, () =>
    nodes.every(n => n.groupPeers(topicId).length >= nodes.length - 1))
}

/** Collect the messages a node announces. */
export function collect (node: ChatNode): ChatMessage[] {
  const seen: ChatMessage[] = []
  node.on('message', m => seen.push(m))
  return seen
}

/** Wait for the next message event matching `match`. */
export async function nextMessage (node: ChatNode, match: (m: ChatMessage) => boolean, timeout = 20_000): Promise<ChatMessage> {
  const signal = AbortSignal.timeout(timeout)
  while (true) {
    const [m] = await once(node, 'message', { signal }) as [ChatMessage]
    if (match(m)) return m
  }
}
