/**
 * Benchmark scenario 9, connectivity, on 127.0.0.1 (real libp2p nodes, real
 * LevelDB, one process): each figure beside a baseline measured in the same
 * run.
 *   - time from start to the first message delivered: two nodes that can be
 *     reached only through a relay, beside the same two listening directly;
 *   - message latency p50/p99 over the relayed connection, beside direct;
 *   - time for a member restarted on a new port to catch up by itself, beside
 *     a fresh member joining with an invite that carries an address;
 *   - time for two members with no address for each other to meet through
 *     the DHT rendezvous, beside the same join with an invite.
 * The NAT case (namespaces, masquerade) is in test/connectivity-nat.test.ts;
 * on loopback a relayed connection costs the relay's extra hop and nothing
 * of a real network's, so these are the software's share only.
 * The last stdout line is the runner's {"bench":"connectivity","rows":[…]}.
 *
 *   npx tsc -p tsconfig.json && ./node_modules/.bin/node dist/scripts/bench-connectivity.js [--quick]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ChatNode } from '../src/index.js'
import { MEMBER_TAG } from '../src/connectivity/index.js'
import type { ChatMessage, ChatNodeInit } from '../src/index.js'

const { values: opts } = parseArgs({ options: { quick: { type: 'boolean', default: false } } })
const QUICK = opts.quick
const LATENCY_MESSAGES = QUICK ? 50 : 400
const RATE = 50

let root = ''
const nodes = new Set<ChatNode>()

async function node (init: Partial<ChatNodeInit> = {}): Promise<ChatNode> {
  const n = new ChatNode({
    dataDir: init.dataDir ?? await mkdtemp(join(root, 'n-')),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    inboundConnectionThreshold: 1000,
    ...init
  })
  nodes.add(n)
  await n.start()
  return n
}

async function stop (n: ChatNode): Promise<void> {
  await n.stop()
  nodes.delete(n)
}

function loopback (n: ChatNode): string {
  const a = n.addresses.find(x => x.startsWith('/ip4/127.0.0.1/') && !x.includes('p2p-circuit'))
  if (a == null) throw new Error('no loopback address')
  return a
}

async function until (what: string, fn: () => boolean | Promise<boolean>, timeout = 60_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

async function count (n: ChatNode, topicId: string): Promise<number> {
  return (await n.history(topicId, { limit: 10_000 })).messages.length
}

/** Two fresh nodes, a group, b joins by invite; ms until b holds a message a sends once b is on the topic. */
async function firstMessage (init: Partial<ChatNodeInit>, topicId: string): Promise<{ ms: number, a: ChatNode, b: ChatNode }> {
  const t0 = performance.now()
  const [a, b] = await Promise.all([node(init), node(init)])
  if (init.bootstrap != null) await until('reservations', () => a.connectivity().relayAddresses.length > 0 && b.connectivity().relayAddresses.length > 0)
  const { invite } = await a.createGroup(topicId)
  await b.joinGroup({ invite })
  await until('b on the topic', () => a.groupPeers(topicId).includes(b.peerId))
  await a.send(topicId, 'first')
  await until('b to hold it', async () => await count(b, topicId) === 1)
  return { ms: performance.now() - t0, a, b }
}

/** One-way latency of `n` messages a -> b at RATE/s (one process: the same clock). */
async function latency (a: ChatNode, b: ChatNode, topicId: string, n: number): Promise<number[]> {
  const sent = new Map<string, number>()
  const got: number[] = []
  const onMessage = (m: ChatMessage): void => {
    const t = sent.get(m.text)
    if (m.topicId === topicId && t != null) got.push(performance.now() - t)
  }
  b.on('message', onMessage)
  try {
    for (let i = 0; i < n; i++) {
      const text = `lat ${i}`
      sent.set(text, performance.now())
      await a.send(topicId, text)
      await new Promise(resolve => setTimeout(resolve, 1000 / RATE))
    }
    await until('every latency message', () => got.length >= n, 30_000)
  } finally {
    b.off('message', onMessage)
  }
  return got.sort((x, y) => x - y)
}

async function main (): Promise<void> {
  root = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-conn-'))
  try {
    const relay = await node({ relay: {} })
    const relayed: Partial<ChatNodeInit> = { listen: [], bootstrap: [loopback(relay)] }

    const direct = await firstMessage({}, 'direct')
    const viaRelay = await firstMessage(relayed, 'relayed')
    console.log(`first message: direct ${direct.ms.toFixed(0)} ms, via relay ${viaRelay.ms.toFixed(0)} ms`)

    const latDirect = await latency(direct.a, direct.b, 'direct', LATENCY_MESSAGES)
    const latRelayed = await latency(viaRelay.a, viaRelay.b, 'relayed', LATENCY_MESSAGES)
    console.log(`latency p50/p99: direct ${percentile(latDirect, 0.5).toFixed(2)}/${percentile(latDirect, 0.99).toFixed(2)} ms, relayed ${percentile(latRelayed, 0.5).toFixed(2)}/${percentile(latRelayed, 0.99).toFixed(2)} ms`)
    for (const n of [direct.a, direct.b, viaRelay.a, viaRelay.b]) await stop(n)

    // a member restarted on a new port catches up by itself; baseline: a fresh member joining with an invite
    const a = await node()
    const bDir = await mkdtemp(join(root, 'b-'))
    const b1 = await node({ dataDir: bDir })
    const { invite } = await a.createGroup('back')
    await b1.joinGroup({ invite })
    await until('b1 on the topic', () => a.groupPeers('back').includes(b1.peerId))
    // a member is kept (and redialled after a restart) once it proved membership in a sync session
    await until('b1 to know a as a member', async () => {
      try {
        return (await b1.libp2pNode.peerStore.get(a.libp2pNode.peerId)).tags.has(MEMBER_TAG)
      } catch {
        return false // not in the peer store yet
      }
    })
    await stop(b1)
    await a.send('back', 'while b was away')
    let t = performance.now()
    const b2 = await node({ dataDir: bDir })
    await until('b2 caught up', async () => await count(b2, 'back') === 1)
    const reconnectMs = performance.now() - t
    t = performance.now()
    const fresh = await node()
    await fresh.joinGroup({ invite: a.invite('back') })
    await until('fresh caught up', async () => await count(fresh, 'back') === 1)
    const freshMs = performance.now() - t
    console.log(`restart on a new port to caught up: ${reconnectMs.toFixed(0)} ms; a fresh member with an invite: ${freshMs.toFixed(0)} ms`)
    for (const n of [a, b2, fresh]) await stop(n)

    // the DHT rendezvous: members with only the secret; baseline: an invite with an address
    const dht: Partial<ChatNodeInit> = { bootstrap: [loopback(relay)], rendezvous: { interval: 1000, firstDelay: 100 } }
    const [c, d] = await Promise.all([node(dht), node(dht)])
    const { topicId } = await c.createGroup('meet')
    t = performance.now()
    await d.joinGroup({ topicId, secret: c.secret(topicId) })
    await until('c and d to meet', () => c.groupPeers(topicId).includes(d.peerId) && d.groupPeers(topicId).includes(c.peerId))
    const meetMs = performance.now() - t
    const e = await node(dht)
    t = performance.now()
    await e.joinGroup({ invite: c.invite(topicId) })
    await until('c and e to meet', () => c.groupPeers(topicId).includes(e.peerId) && e.groupPeers(topicId).includes(c.peerId))
    const inviteMs = performance.now() - t
    console.log(`members with no address meet through the DHT: ${meetMs.toFixed(0)} ms; with an invite: ${inviteMs.toFixed(0)} ms`)

    const rows = [
      { figure: 'start to first message, two nodes reachable only via a relay', value: Math.round(viaRelay.ms), unit: 'ms', baseline: 'the same, listening directly', baselineValue: Math.round(direct.ms) },
      { figure: `message latency via a relay (${LATENCY_MESSAGES} at ${RATE}/s): p50`, value: round2(percentile(latRelayed, 0.5)), unit: 'ms', baseline: 'direct connection', baselineValue: round2(percentile(latDirect, 0.5)) },
      { figure: `message latency via a relay (${LATENCY_MESSAGES} at ${RATE}/s): p99`, value: round2(percentile(latRelayed, 0.99)), unit: 'ms', baseline: 'direct connection', baselineValue: round2(percentile(latDirect, 0.99)) },
      { figure: 'member restarted on a new port: until caught up, by itself', value: Math.round(reconnectMs), unit: 'ms', baseline: 'a fresh member joining with an invite', baselineValue: Math.round(freshMs) },
      { figure: 'two members with no address: until they meet (DHT rendezvous)', value: Math.round(meetMs), unit: 'ms', baseline: 'joining with an invite that carries an address', baselineValue: Math.round(inviteMs) }
    ]
    console.log(JSON.stringify({ bench: 'connectivity', rows }))
  } finally {
    for (const n of nodes) await n.stop().catch(() => { /* stopping what is left; an error here changes no figure */ })
    await rm(root, { recursive: true, force: true })
  }
}

function round2 (x: number): number {
  return Math.round(x * 100) / 100
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
