/**
 * The benchmark suite: every figure beside a baseline measured in the same
 * run, printed as one table and written to bench/results/<timestamp>.json.
 *
 *   npm run bench                  # full run (several minutes)
 *   npm run bench -- --quick       # smoke run, under a minute
 *   ./node_modules/.bin/node dist/scripts/bench.js --only latency,burst [--profile DIR] [--markdown]
 *
 * Scenarios (docs/BENCHMARKS.md explains each):
 *   1 latency   group latency and delivery, one process per node, beside bare gossipsub
 *   2 burst     a burst into a group: time until every node holds every message
 *   3 seal      seal/open beside the node:crypto primitives
 *   4 store     HistoryStore beside raw level
 *   5-7         scripts/bench-{backup,sync,calls}.ts when present (run as child processes)
 *   8 startup   start-up time and RSS of `p2p-chat start`
 *   10 scale    scripts/bench-scale.ts: a 30-node group in one process (memory transport) beside bare gossipsub
 *   13 flood    scripts/bench-flood.ts: a member floods a node; its API latency beside idle, stored beside sent
 *   14 search   scripts/bench-search.ts: search latency at 100,000 messages beside a scan, index backfill, disk, write cost
 *   15 files    scripts/bench-files.ts: file fetch throughput beside a bare libp2p stream of the same bytes; send-file, get --out
 */
import { execFileSync, fork, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { deriveGroupKeys, ed25519Signer } from '../src/envelope/index.js'
import { percentile, sleep, msSince, nowNs } from './bench-common.js'
import { benchMessage, costRatio, sealOpenScenario, startupScenario, storeScenario } from './bench-local.js'
import type { ChildProcess } from 'node:child_process'
import type { BurstDoneEvent, Stalls, WorkerCommand, WorkerReply } from './bench-common.js'
import type { Row } from './bench-local.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const WORKER = fileURLToPath(new URL('./bench-node.js', import.meta.url))
const SCENARIOS = ['latency', 'burst', 'seal', 'store', 'backup', 'sync', 'calls', 'startup', 'connectivity', 'scale', 'soak', 'overload', 'flood', 'search', 'files', 'ingest'] as const
type Scenario = typeof SCENARIOS[number]
/** scenarios other helpers own: scripts/bench-<name>.ts, run as child processes */
const EXTERNAL: Record<string, string> = { backup: '5 backup', sync: '6 sync', calls: '7 calls', connectivity: '9 connectivity', scale: '10 scale', soak: '11 soak', overload: '12 overload', flood: '13 flood', search: '14 search', files: '15 files', ingest: '16 ingest' }

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    skip: { type: 'string' },
    /** write V8 CPU profiles of every node process into this directory */
    profile: { type: 'string' },
    /** messages stored for the footprint figure (default: 1,000,000 full, 0 quick) */
    stored: { type: 'string' },
    markdown: { type: 'boolean', default: false },
    out: { type: 'string' },
    // focus the group scenarios (profiling, investigation): comma lists
    nodes: { type: 'string' },
    rates: { type: 'string' },
    pubs: { type: 'string' },
    /** publishing time of each latency run, ms */
    duration: { type: 'string' },
    burst: { type: 'string' },
    /** length of the soak scenario, minutes (its own default: 10, 0.3 quick) */
    'soak-minutes': { type: 'string' }
  }
})
const QUICK = opts.quick
const pick = (list: string | undefined): Set<string> => new Set((list ?? '').split(',').map(s => s.trim()).filter(s => s !== ''))
const only = pick(opts.only)
const skip = pick(opts.skip)
for (const s of [...only, ...skip]) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}; known: ${SCENARIOS.join(', ')}`)
const enabled = (s: Scenario): boolean => (only.size === 0 || only.has(s)) && !skip.has(s)

const log = (s: string): void => { process.stderr.write(s + '\n') }

// ---------------------------------------------------------------------------
// worker processes
// ---------------------------------------------------------------------------

const live = new Set<Worker>()
const liveExternal = new Set<ChildProcess>()

class Worker extends EventEmitter {
  readonly proc: ChildProcess
  readonly label: string
  private readonly pending = new Map<string, { resolve: (r: any) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }>()
  private stderr = ''
  readonly exited: Promise<void>

  constructor (label: string) {
    super()
    this.label = label
    const execArgv = opts.profile != null ? ['--cpu-prof', '--cpu-prof-dir', opts.profile, '--cpu-prof-name', `${label}-${process.pid}-\${pid}.cpuprofile`] : []
    this.proc = fork(WORKER, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    live.add(this)
    this.proc.stderr!.setEncoding('utf8').on('data', (s: string) => { this.stderr = (this.stderr + s).slice(-4000) })
    this.proc.on('message', (m: WorkerReply | BurstDoneEvent) => {
      if (m.type === 'burstDone') { this.emit('burstDone', m); return }
      const p = this.pending.get(m.type)
      if (p == null) return
      this.pending.delete(m.type)
      clearTimeout(p.timer)
      if ('ok' in m && m.ok) p.resolve(m)
      else p.reject(new Error(`${this.label}: ${m.type} failed: ${(m as { error: string }).error}`))
    })
    this.exited = once(this.proc, 'exit').then(([code, signal]) => {
      live.delete(this)
      for (const [, p] of this.pending) {
        clearTimeout(p.timer)
        p.reject(new Error(`${this.label} exited (${code ?? signal}): ${this.stderr}`))
      }
      this.pending.clear()
    })
  }

  async request<T extends WorkerCommand['type']> (cmd: Extract<WorkerCommand, { type: T }>, timeout = 60_000): Promise<Extract<WorkerReply, { type: T, ok: true }>> {
    if (this.pending.has(cmd.type)) throw new Error(`${this.label}: a ${cmd.type} is already pending`)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(cmd.type)
        reject(new Error(`${this.label}: no answer to ${cmd.type} within ${timeout} ms; stderr: ${this.stderr}`))
      }, timeout)
      this.pending.set(cmd.type, { resolve, reject, timer })
      this.proc.send(cmd)
    })
  }

  /** Ask to stop; SIGKILL when it has not exited after `grace` ms. */
  async stop (grace = 15_000): Promise<void> {
    if (this.proc.exitCode != null || this.proc.signalCode != null) return
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), grace)
    this.request({ type: 'stop' }, grace).catch(() => {}) // no answer is fine: the SIGKILL timer and `exited` decide
    await this.exited
    clearTimeout(timer)
  }
}

function killAllNow (): void {
  for (const w of live) w.proc.kill('SIGKILL')
  for (const p of liveExternal) { try { process.kill(-p.pid!, 'SIGKILL') } catch { /* already gone */ } }
}
process.on('exit', killAllNow)
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    log(`bench: ${sig}, stopping every child`)
    void Promise.allSettled([...live].map(async w => w.stop(5_000))).finally(() => process.exit(130))
  })
}

interface Group {
  mode: 'chat' | 'bare'
  workers: Worker[]
  /** first listen address of each node */
  addrs: string[]
}

/**
 * Start `n` node processes, connect every pair (each node dials the ones
 * started before it) and wait until gossipsub has formed its mesh.
 */
async function startGroup (mode: 'chat' | 'bare', n: number, base: string, group: { topicId: string, secret: string, wireTopic: string }, payloadBytes: number): Promise<Group> {
  const workers = Array.from({ length: n }, (_, i) => new Worker(`${mode}-${n}-${i}`))
  try {
    const inits = []
    for (let i = 0; i < n; i++) {
      // start two at a time: 2 cores, and libp2p start-up is CPU-bound
      inits.push(workers[i].request({ type: 'init', mode, index: i, dataDir: join(base, `${mode}-${n}-${i}`), ...group, payloadBytes }))
      if (i % 2 === 1) await Promise.all(inits.slice(-2))
    }
    const ready = await Promise.all(inits)
    for (let i = 1; i < n; i++) {
      await workers[i].request({ type: 'dial', addrs: ready.slice(0, i).map(r => r.addrs[0]) })
    }
    // gossipsub grafts at its heartbeat (1 s): wait for every subscription and a mesh of at least D_lo (4)
    await waitMesh(workers)
    return { mode, workers, addrs: ready.map(r => r.addrs[0]) }
  } catch (err) {
    await Promise.allSettled(workers.map(async w => w.stop()))
    throw err
  }
}

/** gossipsub grafts at its heartbeat (1 s): wait for every subscription and a mesh of at least D_lo (4) */
async function waitMesh (workers: Worker[]): Promise<void> {
  const n = workers.length
  await Promise.all(workers.map(async w => w.request({ type: 'waitMesh', peers: n - 1, mesh: Math.min(n - 1, 4), timeout: 30_000 }, 40_000)))
}

interface Settle { waitedMs: number, busyNodes: number, disconnectedNodes: number }

/**
 * Before a run: wait until the previous one has drained (every node under
 * 15% of a core, at most 60 s), then reconnect any node that lost a peer
 * (an overloaded node can miss keep-alives) and wait for the mesh again.
 */
async function settle (g: Group): Promise<Settle> {
  const t = Date.now()
  const n = g.workers.length
  let status = await Promise.all(g.workers.map(async w => w.request({ type: 'status', windowMs: 300 })))
  const busyNodes = status.filter(s => s.cpu >= 15).length
  while (status.some(s => s.cpu >= 15) && Date.now() - t < 60_000) {
    status = await Promise.all(g.workers.map(async w => w.request({ type: 'status', windowMs: 300 })))
  }
  const disconnectedNodes = status.filter(s => s.peers < n - 1).length
  if (disconnectedNodes > 0) {
    log(`  ${g.mode}: ${disconnectedNodes} node(s) lost connections (peers: ${status.map(s => s.peers).join(' ')}): redialing`)
    await Promise.all(g.workers.map(async w => w.request({ type: 'dial', addrs: g.addrs })))
    try {
      await waitMesh(g.workers)
    } catch (err: any) {
      // the machine, not the code under test: go on, the next rows carry the "links lost" note
      log(`  ${g.mode}: the mesh did not fully re-form (${String(err.message).split('\n')[0]}): going on`)
    }
  }
  return { waitedMs: Date.now() - t, busyNodes, disconnectedNodes }
}

async function stopGroup (g: Group | undefined): Promise<void> {
  if (g == null) return
  await Promise.allSettled(g.workers.map(async w => w.stop()))
}

// ---------------------------------------------------------------------------
// 1. latency and delivery
// ---------------------------------------------------------------------------

interface LatencyResult {
  settle: Settle
  /** diagnostics: publish()/send() resolution at the publishers; topic validator time at the receivers (chat only) */
  send: Spread
  validate: Spread
  /** the worst node's event-loop delay and GC pauses over the run (each figure the largest of any node) */
  stalls: Stalls
  /** lowest count of connected peers of any node when the run ended */
  minPeersAfter: number
  published: number
  expected: number
  received: number
  delivery: number
  p50: number
  p99: number
  max: number
  /** CPU of each node process over the run, % of one core (over the run's wall time, which includes a longer drain on the slower side: see cpuPerDeliveryUs) */
  cpu: number[]
  /** CPU-seconds of every node over the run (start to collect) divided by the deliveries, in µs per delivered (message, receiver) pair */
  cpuPerDeliveryUs: number
  /** event-loop utilisation of each node over the run (perf_hooks), 0..1 */
  elu: number[]
  /** smallest and largest topic message data any node received, bytes (chat: the sealed envelope; bare: the payload) */
  wireBytes: { min: number, max: number }
  wallMs: number
}

let runCounter = 0
const newRunId = (): string => `r${++runCounter}${randomBytes(3).toString('hex')}`

async function waitDelivered (g: Group, runId: string, expected: number, stallMs: number, maxMs: number): Promise<number> {
  const start = Date.now()
  let last = -1
  let lastChange = Date.now()
  while (true) {
    const counts = await Promise.all(g.workers.map(async w => w.request({ type: 'count', runId })))
    const total = counts.reduce((s, c) => s + c.received, 0)
    if (total >= expected) return total
    if (total !== last) { last = total; lastChange = Date.now() }
    if (Date.now() - lastChange > stallMs || Date.now() - start > maxMs) return total
    await sleep(100)
  }
}

/** p50/p99/max of a merged set of samples, ms */
interface Spread { n: number, p50: number, p99: number, max: number }

function merge (arrays: Float64Array[]): Float64Array {
  const out = new Float64Array(arrays.reduce((s, a) => s + a.length, 0))
  let o = 0
  for (const a of arrays) { out.set(a, o); o += a.length }
  return out.sort()
}

function spread (sorted: Float64Array): Spread {
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN }
}

/** each figure the largest of any node's: the node the loop was held longest on sets the row */
function worstStalls (all: Stalls[]): Stalls {
  const most = (k: keyof Stalls): number => Math.max(0, ...all.map(s => s[k]))
  return { loopP99: most('loopP99'), loopMax: most('loopMax'), gcMax: most('gcMax'), gcSum: most('gcSum') }
}

function stallText (s: Stalls): string {
  return `loop delay p99 ${s.loopP99.toFixed(1)} max ${s.loopMax.toFixed(1)} ms, GC longest ${s.gcMax.toFixed(1)} sum ${s.gcSum.toFixed(0)} ms`
}

interface Collected { latencies: Float64Array, received: number, cpu: number[], cpuMicros: number, elu: number[], wireBytes: { min: number, max: number }, wallMs: number, minPeers: number, send: Spread, validate: Spread, stalls: Stalls }

async function collect (g: Group, runId: string): Promise<Collected> {
  const parts = await Promise.all(g.workers.map(async w => w.request({ type: 'collect', runId })))
  const latencies = merge(parts.map(p => p.latencies))
  return {
    send: spread(merge(parts.map(p => p.sendMs))),
    validate: spread(merge(parts.map(p => p.validateMs))),
    stalls: worstStalls(parts.map(p => p.stalls)),
    latencies,
    received: parts.reduce((s, p) => s + p.received, 0),
    cpu: parts.map(p => 100 * (p.cpuMicros / 1000) / p.wallMs),
    cpuMicros: parts.reduce((s, p) => s + p.cpuMicros, 0),
    elu: parts.map(p => p.elu),
    wireBytes: { min: Math.min(...parts.map(p => p.wireMin > 0 ? p.wireMin : Infinity)), max: Math.max(...parts.map(p => p.wireMax)) },
    wallMs: Math.max(...parts.map(p => p.wallMs)),
    minPeers: Math.min(...parts.map(p => p.peers))
  }
}

async function latencyRun (g: Group, publishers: number, rate: number, durationMs: number): Promise<LatencyResult> {
  const s = await settle(g)
  const runId = newRunId()
  const n = g.workers.length
  await Promise.all(g.workers.map(async w => w.request({ type: 'run', runId, rate, durationMs, publish: false })))
  const runs = await Promise.all(g.workers.slice(0, publishers).map(async w =>
    w.request({ type: 'run', runId, rate: rate / publishers, durationMs, publish: true }, durationMs + 60_000)))
  const published = runs.reduce((s, r) => s + r.published, 0)
  const expected = published * (n - 1)
  await waitDelivered(g, runId, expected, QUICK ? 1000 : 5000, QUICK ? 5000 : 60_000)
  const c = await collect(g, runId)
  return {
    settle: s,
    minPeersAfter: c.minPeers,
    send: c.send,
    validate: c.validate,
    stalls: c.stalls,
    published,
    expected,
    received: c.received,
    delivery: c.received / expected,
    p50: percentile(c.latencies, 50),
    p99: percentile(c.latencies, 99),
    max: c.latencies.length > 0 ? c.latencies[c.latencies.length - 1] : NaN,
    cpu: c.cpu,
    cpuPerDeliveryUs: c.received > 0 ? c.cpuMicros / c.received : NaN,
    elu: c.elu,
    wireBytes: c.wireBytes,
    wallMs: c.wallMs
  }
}

/** a note when a node ended a run with fewer connections than it started with (libp2p's connection monitor aborts links whose pings time out under load) */
function dropped (chat: { minPeersAfter: number }, bare: { minPeersAfter: number }, peers: number): string {
  const parts = []
  if (chat.minPeersAfter < peers) parts.push(`chat ${chat.minPeersAfter}/${peers}`)
  if (bare.minPeersAfter < peers) parts.push(`bare ${bare.minPeersAfter}/${peers}`)
  return parts.length > 0 ? ` (links lost, fewest peers: ${parts.join(', ')})` : ''
}

function latencyRows (label: string, n: number, chat: LatencyResult, bare: LatencyResult): Row[] {
  const S = '1 latency'
  const B = 'bare gossipsub'
  const mean = (a: number[]): number => a.reduce((s, x) => s + x, 0) / a.length
  return [
    { scenario: S, figure: `${label}: p50`, value: chat.p50, unit: 'ms', baseline: B, baselineValue: bare.p50, ratio: costRatio(chat.p50, bare.p50, 'lower') },
    { scenario: S, figure: `${label}: p99`, value: chat.p99, unit: 'ms', baseline: B, baselineValue: bare.p99, ratio: costRatio(chat.p99, bare.p99, 'lower') },
    { scenario: S, figure: `${label}: max`, value: chat.max, unit: 'ms', baseline: B, baselineValue: bare.max, ratio: costRatio(chat.max, bare.max, 'lower') },
    { scenario: S, figure: `${label}: delivery${dropped(chat, bare, n - 1)}`, value: 100 * chat.delivery, unit: '%', baseline: B, baselineValue: 100 * bare.delivery, ratio: costRatio(chat.delivery, bare.delivery, 'higher') },
    { scenario: S, figure: `${label}: CPU per delivered message (all nodes)`, value: chat.cpuPerDeliveryUs, unit: 'µs', baseline: B, baselineValue: bare.cpuPerDeliveryUs, ratio: costRatio(chat.cpuPerDeliveryUs, bare.cpuPerDeliveryUs, 'lower') },
    { scenario: S, figure: `${label}: event-loop utilisation per node (mean)`, value: 100 * mean(chat.elu), unit: '%', baseline: B, baselineValue: 100 * mean(bare.elu), ratio: costRatio(mean(chat.elu), mean(bare.elu), 'lower') },
    { scenario: S, figure: `${label}: event-loop utilisation, busiest node`, value: 100 * Math.max(...chat.elu), unit: '%', baseline: B, baselineValue: 100 * Math.max(...bare.elu), ratio: costRatio(Math.max(...chat.elu), Math.max(...bare.elu), 'lower') }
  ]
}

// ---------------------------------------------------------------------------
// 2. burst
// ---------------------------------------------------------------------------

interface BurstResult { count: number, receivers: number, completeMs: number, complete: boolean, delivery: number, received: number, settle: Settle, minPeersAfter: number, send: Spread, validate: Spread }

async function burstRun (g: Group, count: number, maxMs: number): Promise<BurstResult> {
  const s = await settle(g)
  const runId = newRunId()
  const receivers = g.workers.slice(1)
  const done = new Set<Worker>()
  const allDone = new Promise<void>(resolve => {
    for (const w of receivers) {
      w.on('burstDone', (e: BurstDoneEvent) => {
        if (e.runId !== runId) return
        done.add(w)
        if (done.size === receivers.length) resolve()
      })
    }
  })
  await Promise.all(receivers.map(async w => w.request({ type: 'burst', runId, count, publish: false, expected: count })))
  await g.workers[0].request({ type: 'burst', runId, count, publish: true, expected: 0 }, 120_000)
  const expected = count * receivers.length
  await Promise.race([allDone, waitDelivered(g, runId, expected, QUICK ? 3000 : 10_000, maxMs)])
  for (const w of receivers) w.removeAllListeners('burstDone')
  const c = await collect(g, runId)
  // every payload carries its send stamp, taken when the burst was handed over: the largest latency is the time to the last delivery
  return { settle: s, minPeersAfter: c.minPeers, send: c.send, validate: c.validate, count, receivers: receivers.length, completeMs: c.latencies[c.latencies.length - 1] ?? NaN, complete: c.received >= expected, delivery: c.received / expected, received: c.received }
}

/** the sender's send()/publish() calls that had resolved when waiting stopped, when not all */
function unsent (r: BurstResult): string {
  return r.send.n < r.count ? ` (chat sender done with ${r.send.n.toLocaleString('en-US')} of ${r.count.toLocaleString('en-US')} sends)` : ''
}

function burstRows (n: number, chat: BurstResult, bare: BurstResult): Row[] {
  const S = '2 burst'
  const B = 'bare gossipsub, same burst'
  const cnt = chat.count.toLocaleString('en-US')
  return [
    { scenario: S, figure: `${cnt} msgs into ${n} nodes: until all hold all${chat.complete ? '' : ' (INCOMPLETE: last delivery)'}`, value: chat.completeMs, unit: 'ms', baseline: B + (bare.complete ? '' : ' (incomplete: last delivery)'), baselineValue: bare.completeMs, ratio: costRatio(chat.completeMs, bare.completeMs, 'lower') },
    { scenario: S, figure: `${cnt} msgs into ${n} nodes: delivery${dropped(chat, bare, n - 1)}${unsent(chat)}`, value: 100 * chat.delivery, unit: '%', baseline: B, baselineValue: 100 * bare.delivery, ratio: costRatio(chat.delivery, bare.delivery, 'higher') },
    { scenario: S, figure: `${cnt} msgs into ${n} nodes: delivered per second (all receivers)`, value: chat.received / (chat.completeMs / 1000), unit: 'msg/s', baseline: B, baselineValue: bare.received / (bare.completeMs / 1000), ratio: costRatio(chat.received / chat.completeMs, bare.received / bare.completeMs, 'higher') }
  ]
}

// ---------------------------------------------------------------------------
// multi-node scenarios 1 and 2
// ---------------------------------------------------------------------------

async function groupScenarios (rows: Row[], details: Record<string, unknown>): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-'))
  const secret = randomBytes(32)
  const keys = deriveGroupKeys('bench', secret)
  const group = { topicId: 'bench', secret: secret.toString('hex'), wireTopic: keys.wireTopic }
  // the bare payload is as large as the sealed envelope of the same text
  const payloadBytes = benchMessage(keys, ed25519Signer(randomBytes(32)), 1000).bytes.byteLength
  details.payloadBytes = payloadBytes
  const list = (v: string | undefined, dflt: number[]): number[] => v != null ? v.split(',').map(Number) : dflt
  const sizes = list(opts.nodes, QUICK ? [3] : [3, 10])
  const rates = list(opts.rates, [100, 500])
  const durationMs = opts.duration != null ? Number(opts.duration) : (QUICK ? 1000 : 8000)
  const burstCount = opts.burst != null ? Number(opts.burst) : (QUICK ? 500 : 10_000)
  const burstNodes = Math.max(...sizes)
  const latencyDetails: unknown[] = []
  try {
    for (const n of sizes) {
      const needed = (enabled('latency')) || (enabled('burst') && n === burstNodes)
      if (!needed) continue
      let chat: Group | undefined
      let bare: Group | undefined
      try {
        log(`  starting ${n} chat nodes and ${n} bare gossipsub nodes (one process each)`)
        chat = await startGroup('chat', n, base, group, payloadBytes)
        bare = await startGroup('bare', n, base, group, payloadBytes)
        if (enabled('latency')) {
          let k = 0
          for (const publishers of opts.pubs != null ? opts.pubs.split(',').map(p => p === 'all' ? n : Number(p)) : [1, n]) {
            for (const rate of rates) {
              const label = `${n} nodes, ${publishers} pub, ${rate}/s`
              // alternate which goes first: a noisy neighbour should not always hit the same side
              const order: Group[] = k++ % 2 === 0 ? [chat, bare] : [bare, chat]
              const r: Record<string, LatencyResult> = {}
              for (const g of order) r[g.mode] = await latencyRun(g, publishers, rate, durationMs)
              log(`  ${label}: chat p50 ${r.chat.p50.toFixed(2)} p99 ${r.chat.p99.toFixed(2)} ms, delivery ${(100 * r.chat.delivery).toFixed(1)}% | bare p50 ${r.bare.p50.toFixed(2)} p99 ${r.bare.p99.toFixed(2)} ms, delivery ${(100 * r.bare.delivery).toFixed(1)}%`)
              log(`    diagnostics: chat send() p50 ${r.chat.send.p50.toFixed(2)} p99 ${r.chat.send.p99.toFixed(2)} ms, validator p50 ${r.chat.validate.p50.toFixed(2)} p99 ${r.chat.validate.p99.toFixed(2)} ms | bare publish() p50 ${r.bare.send.p50.toFixed(2)} p99 ${r.bare.send.p99.toFixed(2)} ms; message data on the wire: chat ${r.chat.wireBytes.min}-${r.chat.wireBytes.max} B, bare ${r.bare.wireBytes.min}-${r.bare.wireBytes.max} B`)
              log(`    held event loop (worst node): chat ${stallText(r.chat.stalls)} | bare ${stallText(r.bare.stalls)}`)
              for (const m of ['chat', 'bare']) if (r[m].minPeersAfter < n - 1) log(`  ${m}: a node ended the run with ${r[m].minPeersAfter} of ${n - 1} peers connected`)
              rows.push(...latencyRows(label, n, r.chat, r.bare))
              latencyDetails.push({ nodes: n, publishers, rate, durationMs, chat: r.chat, bare: r.bare })
            }
          }
        }
        if (enabled('burst') && n === burstNodes) {
          const chatBurst = await burstRun(chat, burstCount, QUICK ? 20_000 : 180_000)
          log(`  burst chat: ${chatBurst.completeMs.toFixed(0)} ms, delivery ${(100 * chatBurst.delivery).toFixed(2)}%`)
          const bareBurst = await burstRun(bare, burstCount, QUICK ? 20_000 : 180_000)
          log(`  burst bare: ${bareBurst.completeMs.toFixed(0)} ms, delivery ${(100 * bareBurst.delivery).toFixed(2)}%`)
          rows.push(...burstRows(n, chatBurst, bareBurst))
          details.burst = { nodes: n, chat: chatBurst, bare: bareBurst }
        }
      } finally {
        await Promise.all([stopGroup(chat), stopGroup(bare)])
      }
    }
  } finally {
    details.latency = latencyDetails
    await rm(base, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------
// 5-7: other helpers' scripts
// ---------------------------------------------------------------------------

interface ExternalResult { name: string, script: string, exitCode: number | null, seconds: number, rows?: Row[], tail?: string }

/** Run scripts/bench-<name>.ts (compiled) with --quick passed through; read its final `{"bench", "rows"}` JSON line. */
async function runExternal (name: string): Promise<ExternalResult | undefined> {
  const src = join(ROOT, 'scripts', `bench-${name}.ts`)
  const script = join(ROOT, 'dist', 'scripts', `bench-${name}.js`)
  if (!existsSync(src) || !existsSync(script)) return undefined
  const t = nowNs()
  // --expose-gc: the soak scenario measures the heap after a full GC
  const soakMinutes = name === 'soak' && opts['soak-minutes'] != null ? Number(opts['soak-minutes']) : undefined
  const args = ['--expose-gc', script, ...(QUICK ? ['--quick'] : []), ...(soakMinutes != null ? ['--minutes', String(soakMinutes)] : [])]
  // its own process group, so that a timeout also ends whatever it started
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  liveExternal.add(proc)
  let stdout = ''
  let stderr = ''
  proc.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; if (stdout.length > 4_000_000) stdout = stdout.slice(-1_000_000) })
  proc.stderr.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-8000) })
  // quick: the external scripts run side by side with everything else on 2 cores (eight of them now)
  const limit = Math.max(QUICK ? 120_000 : 60 * 60_000, soakMinutes != null ? (soakMinutes + 10) * 60_000 : 0)
  const timer = setTimeout(() => {
    log(`  bench-${name}: still running after ${limit / 1000} s, stopping it`)
    try { process.kill(-proc.pid!, 'SIGTERM') } catch { /* already gone */ }
    setTimeout(() => { try { process.kill(-proc.pid!, 'SIGKILL') } catch { /* already gone */ } }, 5000).unref()
  }, limit)
  const [code] = await once(proc, 'exit') as [number | null]
  clearTimeout(timer)
  liveExternal.delete(proc)
  const seconds = msSince(t) / 1000
  const label = EXTERNAL[name]
  const lines = stdout.trimEnd().split('\n')
  for (let i = lines.length - 1; i >= 0; i--) {
    let parsed: any
    try { parsed = JSON.parse(lines[i]) } catch { continue }
    if (parsed != null && typeof parsed === 'object' && typeof parsed.bench === 'string' && Array.isArray(parsed.rows)) {
      const rows: Row[] = parsed.rows.map((r: any) => ({
        scenario: label,
        figure: String(r.figure),
        value: Number(r.value),
        unit: String(r.unit ?? ''),
        baseline: String(r.baseline ?? ''),
        baselineValue: Number(r.baselineValue),
        ratio: r.ratio != null ? Number(r.ratio) : Number(r.value) / Number(r.baselineValue),
        ...(r.note != null ? { note: String(r.note) } : {})
      }))
      return { name, script: `scripts/bench-${name}.ts`, exitCode: code, seconds, rows }
    }
  }
  const errLines = stderr.trimEnd().split('\n')
  const errorLine = errLines.find(l => /\b\w*Error\b|\berror\b/i.test(l) && !/^\s+at /.test(l) && !/throw new/.test(l))
  const tail = [...lines.slice(-15), ...(code !== 0 ? ['stderr:', ...(errorLine != null ? [errorLine.trim(), '...'] : []), ...errLines.slice(-4)] : [])].join('\n')
  return { name, script: `scripts/bench-${name}.ts`, exitCode: code, seconds, tail }
}

// ---------------------------------------------------------------------------
// table and results
// ---------------------------------------------------------------------------

function fmt (v: number): string {
  if (!Number.isFinite(v)) return String(v)
  const a = Math.abs(v)
  if (a >= 1000) return Math.round(v).toLocaleString('en-US')
  if (a >= 100) return v.toFixed(0)
  if (a >= 10) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  return v.toFixed(3)
}

const fmtRatio = (r: number): string => Number.isFinite(r) ? r.toFixed(2) + 'x' : String(r)

function table (rows: Row[]): string {
  const head = ['scenario', 'figure', 'value', 'baseline', 'baseline value', 'ratio']
  const body = rows.map(r => [r.scenario, r.figure, `${fmt(r.value)} ${r.unit}`, r.baseline, `${fmt(r.baselineValue)} ${r.unit}`, fmtRatio(r.ratio)])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map(b => b[i].length)))
  const right = new Set([2, 4, 5])
  const line = (cells: string[]): string => cells.map((c, i) => right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])).join('  ').trimEnd()
  return [line(head), widths.map(w => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}

function markdown (rows: Row[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|')
  return [
    '| scenario | figure | value | baseline | baseline value | ratio |',
    '|---|---|--:|---|--:|--:|',
    ...rows.map(r => `| ${esc(r.scenario)} | ${esc(r.figure)} | ${fmt(r.value)} ${r.unit} | ${esc(r.baseline)} | ${fmt(r.baselineValue)} ${r.unit} | ${fmtRatio(r.ratio)} |`)
  ].join('\n')
}

function git (args: string[]): string | undefined {
  try { return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() } catch { return undefined }
}

function machine (): Record<string, unknown> {
  const c = cpus()
  return {
    cores: c.length,
    cpu: c[0]?.model,
    memoryMiB: Math.round(totalmem() / 1024 / 1024),
    platform: `${process.platform} ${release()} ${process.arch}`,
    node: process.version
  }
}

async function main (): Promise<void> {
  const started = nowNs()
  const date = new Date()
  const rows: Row[] = []
  const details: Record<string, unknown> = {}
  const external: ExternalResult[] = []
  const failures: Array<{ scenario: string, error: string }> = []
  const loadStart = loadavg()
  log(`bench${QUICK ? ' --quick' : ''}: ${cpus().length} cores, node ${process.version}, load ${loadStart.map(l => l.toFixed(2)).join(' ')}`)

  const attempt = async (name: string, fn: () => Promise<void>): Promise<void> => {
    log(`[${name}]`)
    const t = nowNs()
    try {
      await fn()
    } catch (err: any) {
      failures.push({ scenario: name, error: err.stack ?? String(err) })
      log(`  FAILED: ${err.stack ?? err}`)
    }
    log(`  (${(msSince(t) / 1000).toFixed(1)} s)`)
  }

  // scenarios 5-7 come from other scripts: --quick (a smoke check) runs them side by side with
  // everything else to stay within a minute; a full run runs them one at a time, alone
  const externals = Object.keys(EXTERNAL).filter(n => enabled(n as Scenario))
  const runOne = async (name: string): Promise<void> => attempt(`${EXTERNAL[name]} (scripts/bench-${name}.ts)`, async () => {
    const r = await runExternal(name)
    if (r == null) { log('  not present, skipped'); return }
    external.push(r)
    log(`  ${name}: exit ${r.exitCode}, ${r.seconds.toFixed(1)} s, ${r.rows != null ? `${r.rows.length} rows` : 'no {"bench","rows"} line: showing its output tail'}`)
  })
  const quickExternals = QUICK ? Promise.all(externals.map(runOne)) : undefined

  if (enabled('latency') || enabled('burst')) await attempt('1-2 group latency, delivery, burst', async () => groupScenarios(rows, details))
  if (enabled('seal')) {
    await attempt('3 seal and open', async () => {
      const r = await sealOpenScenario(QUICK)
      rows.push(...r.rows)
      details.seal = { perOpMicros: r.perOpMicros, sizes: r.sizes }
    })
  }
  if (enabled('store')) {
    await attempt('4 store', async () => {
      const r = await storeScenario(QUICK)
      rows.push(...r.rows)
      details.store = { records: r.records, ...r.details }
    })
  }
  if (quickExternals != null) await quickExternals
  else for (const name of externals) await runOne(name)
  if (enabled('startup')) {
    await attempt('8 start-up and footprint', async () => {
      const stored = opts.stored != null ? Number(opts.stored) : (QUICK ? 0 : 1_000_000)
      const r = await startupScenario(QUICK, stored, log)
      rows.push(...r.rows)
      details.startup = r.details
    })
  }

  for (const e of external) if (e.rows != null) rows.push(...e.rows)
  rows.sort((a, b) => a.scenario.localeCompare(b.scenario))
  const seconds = msSince(started) / 1000
  const commit = git(['rev-parse', 'HEAD'])
  const dirty = (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== ''
  const facts = { date: date.toISOString(), quick: QUICK, seconds, commit, dirty, machine: machine(), load: { start: loadStart, end: loadavg() } }

  process.stdout.write(`\np2p-chat bench${QUICK ? ' --quick' : ''}: ${facts.date}, ${(facts.machine as any).cores} cores (${(facts.machine as any).cpu}), ${(facts.machine as any).memoryMiB} MiB, node ${process.version}, commit ${commit?.slice(0, 12) ?? '?'}${dirty ? '+dirty' : ''}\n`)
  process.stdout.write('ratio = cost of the figure over its baseline measured in this run (1.00x = same; above 1 = the chat path costs more; rates and delivery are inverted so that above 1 is always worse)\n\n')
  process.stdout.write(table(rows) + '\n')
  for (const e of external) {
    if (e.tail != null) process.stdout.write(`\n${EXTERNAL[e.name]} (${e.script}, exit ${e.exitCode}): no result line; output tail:\n${e.tail.split('\n').map(l => '  ' + l).join('\n')}\n`)
  }
  for (const f of failures) process.stdout.write(`\nFAILED ${f.scenario}: ${f.error.split('\n')[0]}\n`)
  if (opts.markdown) process.stdout.write('\n' + markdown(rows) + '\n')
  process.stdout.write(`\nbench finished in ${seconds.toFixed(1)} s (load average ${loadavg().map(l => l.toFixed(2)).join(' ')})\n`)

  const dir = opts.out ?? join(ROOT, 'bench', 'results')
  await mkdir(dir, { recursive: true })
  const file = join(dir, `${date.toISOString().replace(/[:.]/g, '-')}${QUICK ? '-quick' : ''}.json`)
  await writeFile(file, JSON.stringify({ ...facts, rows, external, failures, details, markdown: markdown(rows) }, (_k, v) => typeof v === 'bigint' ? v.toString() : v, 2) + '\n')
  process.stdout.write(`results: ${file}\n`)
  if (failures.length > 0 || external.some(e => e.exitCode !== 0)) process.exitCode = 1
}

main().catch((err: unknown) => {
  log(`bench failed: ${(err instanceof Error ? err.stack : undefined) ?? String(err)}`)
  process.exitCode = 1
}).finally(async () => {
  await Promise.allSettled([...live].map(async w => w.stop(5_000)))
})
