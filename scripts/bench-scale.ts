/**
 * Scenario 10, scale: a larger group than one process per node allows on 2
 * cores. Every node of the group runs in this one process, connected over
 * @libp2p/memory (noise and yamux as on TCP, no sockets), at a low rate:
 * delivery and latency of the chat path beside bare gossipsub nodes
 * (createBaseLibp2p, same gossipsub options) on the same topology, rate and
 * publishers, in the same run. Run by scripts/bench.ts (contract in
 * docs/BENCHMARKS.md); by hand:
 *
 *   ./node_modules/.bin/node dist/scripts/bench-scale.js [--nodes 30] [--rate 10] [--duration 10000] [--pubs 1,all] [--quick]
 *
 * --quick: 5 nodes, 1 s per run (a smoke check, not the scale figure).
 *
 * Topology: node i dials up to DEGREE (6) distinct earlier nodes, picked by a
 * seeded generator (the same graph for chat and bare), so most messages take
 * several hops. The chat group runs first, is stopped, then the bare group:
 * one side's idle work (heartbeats, DHT) never runs during the other's runs.
 * All nodes share one event loop (one core), so the CPU figure is the whole
 * process's CPU-seconds per delivered (message, receiver) pair.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { memory } from '@libp2p/memory'
import { multiaddr } from '@multiformats/multiaddr'
import { deriveGroupKeys, ed25519Signer } from '../src/envelope/index.js'
import { createBaseLibp2p } from '../src/libp2p.js'
import { ChatNode } from '../src/node.js'
import { TEXT_BYTES, benchName, makePayload, nowNs, parsePayload, percentile, sleep } from './bench-common.js'
import { benchMessage, costRatio } from './bench-local.js'
import type { BaseLibp2p } from '../src/libp2p.js'

// this scenario never needs the internet: no public bootstrap peers, no UPnP
process.env.P2P_CHAT_NO_PUBLIC_NETWORK ??= '1'

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    nodes: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    pubs: { type: 'string' }
  }
})
const QUICK = opts.quick
const N = opts.nodes != null ? Number(opts.nodes) : (QUICK ? 5 : 30)
const RATE = opts.rate != null ? Number(opts.rate) : 10
const DURATION = opts.duration != null ? Number(opts.duration) : (QUICK ? 1000 : 10_000)
const PUBS = (opts.pubs ?? '1,all').split(',').map(p => p === 'all' ? N : Number(p))
const DEGREE = 6
const log = (s: string): void => { process.stderr.write(s + '\n') }

interface Node {
  publish: (text: string) => Promise<unknown>
  pubsub: () => BaseLibp2p['services']['pubsub']
  dial: (addr: string) => Promise<unknown>
  peers: () => number
  stop: () => Promise<void>
}

/** what every node of the current run received: `${sender}:${seq}` per receiver, and latencies */
let runId = ''
let latencies: number[] = []
let received = 0
let wireMin = Infinity
let wireMax = 0
const seenBy: Array<Set<string>> = []

function onPayload (receiver: number, text: string): void {
  const now = nowNs()
  const p = parsePayload(text)
  if (p == null || p.runId !== runId) return
  const key = `${p.sender}:${p.seq}`
  const seen = seenBy[receiver]
  if (seen.has(key)) return
  seen.add(key)
  received++
  latencies.push(Number(now - p.sentNs) / 1e6)
}

function onWire (bytes: number): void {
  if (bytes < wireMin) wireMin = bytes
  if (bytes > wireMax) wireMax = bytes
}

/** seeded (mulberry32): the same graph for both sides */
function rng (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6D2B79F5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function topology (n: number): number[][] {
  const r = rng(16)
  return Array.from({ length: n }, (_, i) => {
    const picks = new Set<number>()
    while (picks.size < Math.min(i, DEGREE)) picks.add(Math.floor(r() * i))
    return [...picks]
  })
}

async function startChat (i: number, base: string, group: { topicId: string, secret: string, wireTopic: string }): Promise<Node> {
  const node = new ChatNode({
    dataDir: join(base, `chat-${i}`),
    listen: [`/memory/scale-chat-${process.pid}-${i}`],
    transports: [memory()],
    mdns: false,
    inboundConnectionThreshold: 10_000,
    name: benchName(i)
  })
  await node.start()
  await node.joinGroup({ topicId: group.topicId, secret: group.secret })
  node.on('message', m => { if (!m.own) onPayload(i, m.text) })
  const validators = node.libp2pNode.services.pubsub.topicValidators
  const validate = validators.get(group.wireTopic)
  if (validate != null) validators.set(group.wireTopic, async (from, msg) => { onWire(msg.data.byteLength); return validate(from, msg) })
  return {
    publish: async text => node.send(group.topicId, text),
    pubsub: () => node.libp2pNode.services.pubsub,
    dial: async addr => node.dial(addr),
    peers: () => node.libp2pNode.getPeers().length,
    stop: async () => node.stop()
  }
}

async function startBare (i: number, group: { wireTopic: string }): Promise<Node> {
  const node = await createBaseLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: [`/memory/scale-bare-${process.pid}-${i}`],
    transports: [memory()],
    mdns: false,
    inboundConnectionThreshold: 10_000
  })
  const pubsub = node.services.pubsub
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  pubsub.addEventListener('message', evt => {
    if (evt.detail.topic !== group.wireTopic) return
    onWire(evt.detail.data.byteLength)
    onPayload(i, decoder.decode(evt.detail.data))
  })
  pubsub.subscribe(group.wireTopic)
  return {
    publish: async text => pubsub.publish(group.wireTopic, encoder.encode(text)),
    pubsub: () => pubsub,
    dial: async addr => node.dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) }),
    peers: () => node.getPeers().length,
    stop: async () => node.stop()
  }
}

const meshPeers = (n: Node, topic: string): number => (n.pubsub() as unknown as { getMeshPeers: (t: string) => string[] }).getMeshPeers(topic).length

interface RunResult {
  publishers: number
  published: number
  expected: number
  received: number
  delivery: number
  p50: number
  p99: number
  max: number
  /** process CPU-seconds over the run (publish start to drained), µs per delivered (message, receiver) pair */
  cpuPerDeliveryUs: number
  /** the process's event-loop utilisation over the run (every node shares it) */
  elu: number
  wireBytes: { min: number, max: number }
  drainMs: number
}

async function groupRuns (mode: 'chat' | 'bare', base: string, group: { topicId: string, secret: string, wireTopic: string }, publishBytes: number): Promise<{ runs: RunResult[], startMs: number, meshMin: number, idleElu: number }> {
  const t0 = nowNs()
  const nodes: Node[] = []
  try {
    for (let i = 0; i < N; i++) nodes.push(mode === 'chat' ? await startChat(i, base, group) : await startBare(i, group))
    const edges = topology(N)
    for (let i = 1; i < N; i++) {
      await Promise.all(edges[i].map(async j => nodes[i].dial(`/memory/scale-${mode}-${process.pid}-${j}`)))
    }
    // every node grafted (mesh >= min(its connections, 4)): gossipsub's heartbeat is 1 s
    const deadline = Date.now() + 60_000
    while (nodes.some(n => meshPeers(n, group.wireTopic) < Math.min(n.peers(), 4)) && Date.now() < deadline) await sleep(200)
    const meshMin = Math.min(...nodes.map(n => meshPeers(n, group.wireTopic)))
    const startMs = Number(nowNs() - t0) / 1e6
    log(`  ${mode}: ${N} nodes up and meshed in ${(startMs / 1000).toFixed(1)} s (fewest mesh peers ${meshMin})`)
    // settle: start-up work (sync rounds, DHT, identify) done; every node idle together under 30% of the one core, at most 60 s
    const settleStart = Date.now()
    let idleElu = 1
    while (Date.now() - settleStart < (QUICK ? 10_000 : 60_000)) {
      const e0 = performance.eventLoopUtilization()
      await sleep(1000)
      idleElu = performance.eventLoopUtilization(e0).utilization
      if (idleElu < 0.3) break
    }
    log(`  ${mode}: settled after ${((Date.now() - settleStart) / 1000).toFixed(1)} s, idle event-loop utilisation ${(100 * idleElu).toFixed(0)}%`)
    const runs: RunResult[] = []
    for (const publishers of PUBS) runs.push(await oneRun(nodes, publishers, publishBytes))
    return { runs, startMs, meshMin, idleElu }
  } finally {
    await Promise.allSettled(nodes.map(async n => n.stop()))
  }
}

async function oneRun (nodes: Node[], publishers: number, publishBytes: number): Promise<RunResult> {
  runId = `s${randomBytes(3).toString('hex')}`
  latencies = []
  received = 0
  wireMin = Infinity
  wireMax = 0
  seenBy.length = 0
  for (let i = 0; i < nodes.length; i++) seenBy.push(new Set())
  const cpu0 = process.cpuUsage()
  const elu0 = performance.eventLoopUtilization()
  const total = Math.max(1, Math.floor(RATE * DURATION / 1000))
  const intervalNs = 1e9 / RATE
  const start = nowNs()
  let k = 0
  while (k < total) {
    const due = Math.min(total, Math.floor(Number(nowNs() - start) / intervalNs) + 1)
    while (k < due) {
      const sender = k % publishers
      nodes[sender].publish(makePayload(runId, sender, k, publishBytes)).catch((err: unknown) => { log(`  publish failed: ${err instanceof Error ? err.message : String(err)}`) })
      k++
    }
    if (k < total) await sleep(1)
  }
  const expected = total * (nodes.length - 1)
  // drained: everything arrived, or nothing new for 5 s (1 s in --quick), at most 60 s
  const stall = QUICK ? 1000 : 5000
  let last = -1
  let lastChange = Date.now()
  const t = Date.now()
  while (received < expected && Date.now() - lastChange < stall && Date.now() - t < 60_000) {
    if (received !== last) { last = received; lastChange = Date.now() }
    await sleep(50)
  }
  const cpu = process.cpuUsage(cpu0)
  const elu = performance.eventLoopUtilization(elu0).utilization
  const sorted = Float64Array.from(latencies).sort()
  return {
    publishers,
    published: total,
    expected,
    received,
    delivery: received / expected,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
    cpuPerDeliveryUs: received > 0 ? (cpu.user + cpu.system) / received : NaN,
    elu,
    wireBytes: { min: Number.isFinite(wireMin) ? wireMin : 0, max: wireMax },
    drainMs: Number(nowNs() - start) / 1e6 - DURATION
  }
}

interface OutRow { figure: string, value: number, unit: string, baseline: string, baselineValue: number, ratio: number, note?: string }

async function main (): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-scale-'))
  try {
    const secret = randomBytes(32)
    const keys = deriveGroupKeys('scale', secret)
    const group = { topicId: 'scale', secret: secret.toString('hex'), wireTopic: keys.wireTopic }
    // bare payloads as large as the sealed envelope of a TEXT_BYTES text; chat sends the TEXT_BYTES text
    const payloadBytes = benchMessage(keys, ed25519Signer(randomBytes(32)), 1000).bytes.byteLength
    log(`bench-scale: ${N} nodes in one process over @libp2p/memory, ${RATE} msg/s for ${DURATION} ms, publishers ${PUBS.join(',')}${QUICK ? ' (--quick: a smoke check)' : ''}`)
    const chat = await groupRuns('chat', base, group, TEXT_BYTES)
    const bare = await groupRuns('bare', base, group, payloadBytes)
    const rows: OutRow[] = []
    const B = 'bare gossipsub, same graph'
    for (let r = 0; r < PUBS.length; r++) {
      const c = chat.runs[r]; const b = bare.runs[r]
      const label = `${N} nodes in one process (memory transport), ${c.publishers} pub, ${RATE}/s`
      log(`  ${label}: chat p50 ${c.p50.toFixed(1)} p99 ${c.p99.toFixed(1)} ms, delivery ${(100 * c.delivery).toFixed(1)}%, wire ${c.wireBytes.min}-${c.wireBytes.max} B | bare p50 ${b.p50.toFixed(1)} p99 ${b.p99.toFixed(1)} ms, delivery ${(100 * b.delivery).toFixed(1)}%, wire ${b.wireBytes.min}-${b.wireBytes.max} B`)
      rows.push(
        { figure: `${label}: p50`, value: c.p50, unit: 'ms', baseline: B, baselineValue: b.p50, ratio: costRatio(c.p50, b.p50, 'lower') },
        { figure: `${label}: p99`, value: c.p99, unit: 'ms', baseline: B, baselineValue: b.p99, ratio: costRatio(c.p99, b.p99, 'lower') },
        { figure: `${label}: max`, value: c.max, unit: 'ms', baseline: B, baselineValue: b.max, ratio: costRatio(c.max, b.max, 'lower') },
        { figure: `${label}: delivery`, value: 100 * c.delivery, unit: '%', baseline: B, baselineValue: 100 * b.delivery, ratio: costRatio(c.delivery, b.delivery, 'higher') },
        { figure: `${label}: CPU per delivered message (whole process)`, value: c.cpuPerDeliveryUs, unit: 'µs', baseline: B, baselineValue: b.cpuPerDeliveryUs, ratio: costRatio(c.cpuPerDeliveryUs, b.cpuPerDeliveryUs, 'lower') },
        { figure: `${label}: event-loop utilisation (all nodes share it)`, value: 100 * c.elu, unit: '%', baseline: B, baselineValue: 100 * b.elu, ratio: costRatio(c.elu, b.elu, 'lower') }
      )
    }
    process.stdout.write(JSON.stringify({ details: { nodes: N, rate: RATE, durationMs: DURATION, degree: DEGREE, payloadBytes, chat, bare } }) + '\n')
    process.stdout.write(JSON.stringify({ bench: 'scale', rows }) + '\n')
  } finally {
    await rm(base, { recursive: true, force: true })
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`bench-scale: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
