/**
 * One node of a multi-node benchmark scenario, in its own process, driven by
 * scripts/bench.ts over IPC (`child_process.fork`). Either a full ChatNode
 * (mode `chat`: seal, sign, MAC, validate, store) or a bare libp2p node with
 * the same gossipsub options from createBaseLibp2p (mode `bare`: raw payloads
 * of the same size, no topic validator, no storage).
 *
 * Not meant to be run by hand; see docs/BENCHMARKS.md.
 */
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { OverloadedError } from '../src/errors.js'
import { ChatNode } from '../src/node.js'
import { createBaseLibp2p } from '../src/libp2p.js'
import { TEXT_BYTES, benchName, makePayload, nowNs, parsePayload, sleep } from './bench-common.js'
import type { BurstDoneEvent, Stalls, WorkerCommand, WorkerReply } from './bench-common.js'
import type { BaseLibp2p } from '../src/libp2p.js'

/** loopback nodes dial each other in bursts: never let the connection manager reset them */
const INBOUND_THRESHOLD = 10_000

interface Driver {
  pubsub: () => BaseLibp2p['services']['pubsub']
  topic: string
  publish: (text: string) => Promise<unknown>
  dial: (addr: string) => Promise<unknown>
  addrs: () => string[]
  /** connected peers */
  peers: () => number
  peerId: string
  stop: () => Promise<void>
}

let driver: Driver | undefined
let index = 0
/**
 * Length of what this node hands to publish: the chat text (TEXT_BYTES,
 * sealed into an envelope of `payloadBytes`) for chat nodes, the raw payload
 * (`payloadBytes`, as large as that envelope) for bare nodes.
 */
let publishBytes = 0

/** receive state of the current run */
let runId = ''
let latencies: number[] = []
/** diagnostics: time from handing a message over to publish()/send() resolving; time spent in the topic validator (chat) */
let sendMs: number[] = []
let validateMs: number[] = []
let seen = new Set<string>()
/** sizes of the gossipsub message data this node received on the topic (smallest, largest): the envelope for chat, the payload for bare */
let wireMin = Infinity
let wireMax = 0
let cpuStart = process.cpuUsage()
let eluStart = performance.eventLoopUtilization()
let wallStart = nowNs()
let burstExpected = 0
let burstDone = false
/** what holds the event loop (diagnostics): its delay, and GC pauses, over the current run */
const loopDelay = monitorEventLoopDelay({ resolution: 5 })
loopDelay.enable()
let gcMax = 0
let gcSum = 0
new PerformanceObserver(list => {
  for (const e of list.getEntries()) {
    gcSum += e.duration
    if (e.duration > gcMax) gcMax = e.duration
  }
}).observe({ entryTypes: ['gc'] })

function stalls (): Stalls {
  return { loopP99: loopDelay.percentile(99) / 1e6, loopMax: loopDelay.max / 1e6, gcMax, gcSum }
}

function reset (id: string): void {
  runId = id
  latencies = []
  sendMs = []
  validateMs = []
  seen = new Set()
  wireMin = Infinity
  wireMax = 0
  burstExpected = 0
  burstDone = false
  loopDelay.reset()
  gcMax = 0
  gcSum = 0
  cpuStart = process.cpuUsage()
  eluStart = performance.eventLoopUtilization()
  wallStart = nowNs()
}

function onWire (bytes: number): void {
  if (bytes < wireMin) wireMin = bytes
  if (bytes > wireMax) wireMax = bytes
}

function onPayload (text: string): void {
  const now = nowNs()
  const p = parsePayload(text)
  if (p == null || p.runId !== runId) return
  const key = `${p.sender}:${p.seq}`
  if (seen.has(key)) return
  seen.add(key)
  latencies.push(Number(now - p.sentNs) / 1e6)
  if (burstExpected > 0 && !burstDone && seen.size >= burstExpected) {
    burstDone = true
    const evt: BurstDoneEvent = { type: 'burstDone', runId, doneNs: now.toString(), received: seen.size }
    process.send?.(evt)
  }
}

async function startChat (cmd: Extract<WorkerCommand, { type: 'init' }>): Promise<Driver> {
  const node = new ChatNode({
    dataDir: cmd.dataDir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    // one author at 100-500 msg/s and bursts of 10,000: above the per-author quota, which is not under test here
    quota: { rate: 1e6, burst: 1e6, bytes: 2 ** 40 },
    inboundConnectionThreshold: INBOUND_THRESHOLD,
    name: benchName(cmd.index)
  })
  await node.start()
  await node.joinGroup({ topicId: cmd.topicId, secret: cmd.secret })
  node.on('message', m => { if (!m.own) onPayload(m.text) })
  // time the node's own topic validator (open, store, announce) without changing it
  const validators = node.libp2pNode.services.pubsub.topicValidators
  const validate = validators.get(cmd.wireTopic)
  if (validate != null) {
    validators.set(cmd.wireTopic, async (from, msg) => {
      const t = nowNs()
      onWire(msg.data.byteLength)
      try {
        return await validate(from, msg)
      } finally {
        validateMs.push(Number(nowNs() - t) / 1e6)
      }
    })
  }
  return {
    pubsub: () => node.libp2pNode.services.pubsub,
    topic: cmd.wireTopic,
    // a refused send (the group's send queue is full: OverloadedError, the API's 429) is retried
    // after the delay it asks for, as the API client and the CLI do: a burst larger than the queue
    // is then all sent, and its stamp (taken when first handed over) counts the wait
    publish: async text => {
      for (;;) {
        try {
          return await node.send(cmd.topicId, text)
        } catch (err) {
          if (!(err instanceof OverloadedError)) throw err
          await sleep(Math.max(10, err.retryAfterMs))
        }
      }
    },
    dial: async addr => node.dial(addr),
    addrs: () => node.addresses,
    peers: () => node.libp2pNode.getPeers().length,
    peerId: node.peerId,
    stop: async () => node.stop()
  }
}

async function startBare (cmd: Extract<WorkerCommand, { type: 'init' }>): Promise<Driver> {
  const node = await createBaseLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    inboundConnectionThreshold: INBOUND_THRESHOLD
  })
  const pubsub = node.services.pubsub
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  pubsub.addEventListener('message', evt => {
    if (evt.detail.topic !== cmd.wireTopic) return
    onWire(evt.detail.data.byteLength)
    onPayload(decoder.decode(evt.detail.data))
  })
  pubsub.subscribe(cmd.wireTopic)
  return {
    pubsub: () => pubsub,
    topic: cmd.wireTopic,
    publish: async text => pubsub.publish(cmd.wireTopic, encoder.encode(text)),
    dial: async addr => node.dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) }),
    addrs: () => node.getMultiaddrs().map(ma => ma.toString()),
    peers: () => node.getPeers().length,
    peerId: node.peerId.toString(),
    stop: async () => node.stop()
  }
}

/** the GossipSub class has getMeshPeers; the exported interface does not */
function meshPeers (d: Driver): number {
  return (d.pubsub() as unknown as { getMeshPeers: (t: string) => string[] }).getMeshPeers(d.topic).length
}

function need (): Driver {
  if (driver == null) throw new Error('worker not initialised')
  return driver
}

function publishOne (d: Driver, seq: number): void {
  const t = nowNs()
  const sends = sendMs
  d.publish(makePayload(runId, index, seq, publishBytes)).then(() => { sends.push(Number(nowNs() - t) / 1e6) }, (err: unknown) => {
    process.stderr.write(`bench-node ${index}: publish failed: ${err instanceof Error ? err.message : String(err)}\n`)
  })
}

/** Publish at `rate` per second for `durationMs`; each message stamped just before it is handed over. */
async function publishAt (d: Driver, rate: number, durationMs: number): Promise<number> {
  const total = Math.max(1, Math.floor(rate * durationMs / 1000))
  const intervalNs = 1e9 / rate
  const start = nowNs()
  let k = 0
  while (k < total) {
    const due = Math.min(total, Math.floor(Number(nowNs() - start) / intervalNs) + 1)
    while (k < due) publishOne(d, k++)
    if (k < total) await sleep(1)
  }
  return total
}

async function handle (cmd: WorkerCommand): Promise<WorkerReply> {
  switch (cmd.type) {
    case 'init': {
      index = cmd.index
      // chat: a TEXT_BYTES text, sealed into a payloadBytes envelope; bare: a payloadBytes payload (the same bytes on the wire)
      publishBytes = cmd.mode === 'chat' ? TEXT_BYTES : cmd.payloadBytes
      driver = cmd.mode === 'chat' ? await startChat(cmd) : await startBare(cmd)
      return { type: 'init', ok: true, peerId: driver.peerId, addrs: driver.addrs() }
    }
    case 'dial': {
      const d = need()
      await Promise.all(cmd.addrs.filter(a => !a.endsWith(d.peerId)).map(async a => d.dial(a)))
      return { type: 'dial', ok: true }
    }
    case 'waitMesh': {
      const d = need()
      const deadline = Date.now() + cmd.timeout
      while (true) {
        const peers = d.pubsub().getSubscribers(d.topic).length
        const mesh = meshPeers(d)
        if (peers >= cmd.peers && mesh >= cmd.mesh) return { type: 'waitMesh', ok: true, peers, mesh }
        if (Date.now() > deadline) throw new Error(`mesh not formed: ${peers} subscribers, ${mesh} mesh peers`)
        await sleep(50)
      }
    }
    case 'run': {
      const d = need()
      if (cmd.runId !== runId) reset(cmd.runId)
      if (!cmd.publish) return { type: 'run', ok: true, published: 0, publishMs: 0 }
      const start = nowNs()
      const published = await publishAt(d, cmd.rate, cmd.durationMs)
      return { type: 'run', ok: true, published, publishMs: Number(nowNs() - start) / 1e6 }
    }
    case 'count':
      return { type: 'count', ok: true, received: cmd.runId === runId ? seen.size : 0 }
    case 'collect': {
      const cpu = process.cpuUsage(cpuStart)
      const elu = performance.eventLoopUtilization(eluStart).utilization
      const wallMs = Number(nowNs() - wallStart) / 1e6
      const received = cmd.runId === runId ? seen.size : 0
      return { type: 'collect', ok: true, received, latencies: Float64Array.from(cmd.runId === runId ? latencies : []), cpuMicros: cpu.user + cpu.system, wallMs, elu, wireMin: Number.isFinite(wireMin) ? wireMin : 0, wireMax, peers: need().peers(), sendMs: Float64Array.from(sendMs), validateMs: Float64Array.from(validateMs), stalls: stalls() }
    }
    case 'status': {
      const d = need()
      const c0 = process.cpuUsage()
      const t0 = nowNs()
      await sleep(cmd.windowMs)
      const c = process.cpuUsage(c0)
      const cpu = 100 * ((c.user + c.system) / 1000) / (Number(nowNs() - t0) / 1e6)
      return { type: 'status', ok: true, peers: d.peers(), subscribers: d.pubsub().getSubscribers(d.topic).length, mesh: meshPeers(d), cpu }
    }
    case 'burst': {
      const d = need()
      if (cmd.runId !== runId) reset(cmd.runId)
      if (!cmd.publish) {
        burstExpected = cmd.expected
        return { type: 'burst', ok: true, published: 0 }
      }
      const start = nowNs()
      for (let k = 0; k < cmd.count; k++) publishOne(d, k)
      return { type: 'burst', ok: true, published: cmd.count, startNs: start.toString() }
    }
    case 'stop':
      await stop()
      return { type: 'stop', ok: true }
  }
}

let stopping: Promise<void> | undefined
async function stop (): Promise<void> {
  stopping ??= (async () => {
    const d = driver
    driver = undefined
    await d?.stop()
  })()
  return stopping
}

process.on('message', (cmd: WorkerCommand) => {
  handle(cmd).then(
    reply => {
      process.send?.(reply, undefined, undefined, () => { if (cmd.type === 'stop') process.exit(0) })
    },
    (err: unknown) => {
      process.send?.({ type: cmd.type, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) })
    }
  )
})

// the runner went away (crash, Ctrl-C): stop and leave
process.on('disconnect', () => {
  const timer = setTimeout(() => process.exit(1), 5_000)
  void stop().finally(() => { clearTimeout(timer); process.exit(0) })
})
