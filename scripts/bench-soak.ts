/**
 * Benchmark scenario 11, soak: is memory bounded? Two real nodes on
 * 127.0.0.1 in this process, one sending 50 msg/s to the other (gossip,
 * store, sync all running), for `--minutes` (default 10, --quick 0.3). Every
 * 5 s (`--sample-seconds`), one `soak sample` line on stdout: RSS (and its
 * anonymous / file-backed parts, from /proc/self/status), the JS heap in use
 * after a full GC (run with --expose-gc) and V8's resident heap (all spaces,
 * physical), the anonymous RSS outside it (native: malloc, LevelDB, Node),
 * V8's external and ArrayBuffer memory, and LevelDB's own (`leveldb.approximate-memory-usage`: block cache
 * plus memtables, summed over the four databases: history and peer store of
 * each node) with their table-file count. `--prefill N` first writes N
 * records per node straight into each history (another group: a node with a
 * long history, so that LevelDB's table cache reaches its bound in the run).
 * Figures: each at the end beside after the warm-up (first minute, or the
 * first fifth of a short run), and least-squares slopes in MiB per hour over
 * the run once warm and over its second half. A bounded node has slopes near
 * 0 in the second half. `node --expose-gc dist/scripts/bench-soak.js
 * --minutes 60`, or `node dist/scripts/bench.js --only soak --soak-minutes 60`.
 * The last stdout line is the runner's {"bench":"soak","rows":[…]}.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { getHeapStatistics } from 'node:v8'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ChatNode } from '../src/index.js'
import type { HistoryStore, StorableMessage } from '../src/store/store.js'

const { values: opts } = parseArgs({ options: { quick: { type: 'boolean', default: false }, minutes: { type: 'string' }, rate: { type: 'string' }, 'sample-seconds': { type: 'string' }, prefill: { type: 'string' } } })
const MINUTES = Number(opts.minutes ?? (opts.quick ? 0.3 : 10))
const RATE = Number(opts.rate ?? 50)
const SAMPLE_MS = Number(opts['sample-seconds'] ?? 5) * 1000
const PREFILL = Number(opts.prefill ?? 0)
const MiB = 1024 * 1024

/** one sample: t in hours since the start, every other figure in MiB (tables: a count) */
interface Sample { t: number, rss: number, anon: number, file: number, heap: number, v8: number, native: number, external: number, arrayBuffers: number, ldb: number, tables: number }
type Figure = Exclude<keyof Sample, 't' | 'tables'>

/** the LevelDB handles of a node: history and peer store (private fields, read for this figure only) */
interface LevelLike { status: string, getProperty?: (p: string) => string }
function levels (n: ChatNode): LevelLike[] {
  const r = (n as unknown as { running?: { store?: { db?: LevelLike }, peers?: { db?: LevelLike } } }).running
  return [r?.store?.db, r?.peers?.db].filter((d): d is LevelLike => d != null)
}

/** LevelDB's own memory (block cache + memtables), MiB, and its table files, over the given databases */
function levelMemory (dbs: LevelLike[]): { ldb: number, tables: number } {
  let bytes = 0
  let tables = 0
  for (const db of dbs) {
    if (db.status !== 'open' || db.getProperty == null) continue
    bytes += Number(db.getProperty('leveldb.approximate-memory-usage'))
    for (let level = 0; level < 7; level++) tables += Number(db.getProperty(`leveldb.num-files-at-level${level}`))
  }
  return { ldb: bytes / MiB, tables }
}

/** RssAnon and RssFile (+ RssShmem) of /proc/self/status, MiB; NaN off Linux */
function rssParts (): { anon: number, file: number } {
  try {
    const status = readFileSync('/proc/self/status', 'utf8')
    const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
    return { anon: kib('RssAnon') / 1024, file: (kib('RssFile') + kib('RssShmem')) / 1024 }
  } catch {
    return { anon: NaN, file: NaN }
  }
}

function sample (t0: number, dbs: LevelLike[]): Sample {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const m = process.memoryUsage()
  const parts = rssParts()
  const v8 = getHeapStatistics().total_physical_size / MiB
  return { t: (Date.now() - t0) / 3_600_000, rss: m.rss / MiB, ...parts, heap: m.heapUsed / MiB, v8, native: parts.anon - v8, external: m.external / MiB, arrayBuffers: m.arrayBuffers / MiB, ...levelMemory(dbs) }
}

/** `count` records of a group no one is in, straight into a node's history (the store verifies nothing) */
async function prefill (n: ChatNode, count: number): Promise<void> {
  const store = (n as unknown as { running?: { store?: HistoryStore } }).running?.store
  if (store == null) throw new Error('bench-soak: no history store to prefill')
  const author = randomBytes(32)
  for (let seq = 1; seq <= count;) {
    const chunk: StorableMessage[] = []
    for (; chunk.length < 1000 && seq <= count; seq++) chunk.push({ id: randomBytes(32), bytes: randomBytes(400), author, seq: BigInt(seq), lamport: BigInt(seq), timestamp: BigInt(Date.now()) })
    await store.appendMany('prefill', chunk)
  }
}

function show (s: Sample): string {
  return `soak sample ${(s.t * 60).toFixed(2)} min: rss ${s.rss.toFixed(1)} (anon ${s.anon.toFixed(1)}, file ${s.file.toFixed(1)}) heap ${s.heap.toFixed(1)} (resident ${s.v8.toFixed(1)}) native ${s.native.toFixed(1)} external ${s.external.toFixed(1)} arrayBuffers ${s.arrayBuffers.toFixed(1)} leveldb ${s.ldb.toFixed(1)} MiB, ${s.tables} tables`
}

/** least-squares slope of y over t (hours) */
function slope (points: Array<{ t: number, y: number }>): number {
  const n = points.length
  if (n < 2) return NaN
  const mt = points.reduce((s, p) => s + p.t, 0) / n
  const my = points.reduce((s, p) => s + p.y, 0) / n
  const num = points.reduce((s, p) => s + (p.t - mt) * (p.y - my), 0)
  const den = points.reduce((s, p) => s + (p.t - mt) ** 2, 0)
  return den === 0 ? NaN : num / den
}

async function main (): Promise<void> {
  if ((globalThis as { gc?: () => void }).gc == null) console.error('bench-soak: run with --expose-gc for heap-after-GC figures (without it, heap figures include garbage)')
  const root = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-soak-'))
  const nodes: ChatNode[] = []
  try {
    const make = async (name: string): Promise<ChatNode> => {
      const n = new ChatNode({ dataDir: await mkdtemp(join(root, `${name}-`)), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, inboundConnectionThreshold: 1000, quota: { rate: 1e6, burst: 1e6, bytes: 2 ** 40 } })
      nodes.push(n)
      await n.start()
      return n
    }
    const a = await make('a')
    const b = await make('b')
    const { invite } = await a.createGroup('soak')
    await b.joinGroup({ invite })
    if (PREFILL > 0) {
      const tp = Date.now()
      await Promise.all([prefill(a, PREFILL), prefill(b, PREFILL)])
      console.log(`soak: prefilled ${PREFILL} records per node in ${((Date.now() - tp) / 1000).toFixed(1)} s`)
    }
    const dbs = [...levels(a), ...levels(b)]
    const cpu0 = process.cpuUsage()
    const t0 = Date.now()
    const samples: Sample[] = [sample(t0, dbs)]
    console.log(show(samples[0]))
    let sent = 0
    let received = 0
    b.on('message', () => { received++ })
    const end = t0 + MINUTES * 60_000
    let nextSample = t0 + SAMPLE_MS
    const text = 'x'.repeat(128)
    while (Date.now() < end) {
      await a.send('soak', `${text} ${sent++}`)
      const wait = t0 + (sent * 1000) / RATE - Date.now()
      if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
      if (Date.now() >= nextSample) {
        samples.push(sample(t0, dbs))
        console.log(show(samples[samples.length - 1]))
        nextSample += SAMPLE_MS
      }
    }
    const cpu = process.cpuUsage(cpu0)
    samples.push(sample(t0, dbs))
    console.log(show(samples[samples.length - 1]))
    const cpuPerMsg = (cpu.user + cpu.system) / Math.max(1, sent)
    const warm = samples.filter(s => s.t * 60 >= Math.min(1, MINUTES / 5))
    const second = samples.filter(s => s.t * 60 >= MINUTES / 2)
    const first = warm[0] ?? samples[0]
    const mid = second[0] ?? first
    const last = samples[samples.length - 1]
    const slopeOf = (points: Sample[], f: Figure): number => slope(points.map(s => ({ t: s.t, y: s[f] })))
    const names: Record<Figure, string> = { rss: 'RSS', anon: 'RSS anonymous', file: 'RSS file-backed', heap: 'JS heap after GC', v8: 'V8 heap resident', native: 'RSS anonymous outside V8 (native)', external: 'external', arrayBuffers: 'arrayBuffers', ldb: 'LevelDB (cache + memtables)' }
    const figures = Object.keys(names) as Figure[]
    console.log(`soak ${MINUTES} min at ${RATE} msg/s: sent ${sent}, received ${received}; ${last.tables} table files at the end; CPU ${cpuPerMsg.toFixed(0)} µs per message (both nodes)`)
    for (const f of figures) {
      console.log(`  ${names[f]}: ${first[f].toFixed(1)} after warm-up, ${mid[f].toFixed(1)} at half-time, ${last[f].toFixed(1)} MiB at the end; slope ${slopeOf(warm, f).toFixed(1)} MiB/h once warm, ${slopeOf(second, f).toFixed(1)} MiB/h in the second half`)
    }
    const tag = `soak ${MINUTES} min at ${RATE} msg/s${PREFILL > 0 ? `, ${PREFILL} records prefilled` : ''}`
    const rows: Array<Record<string, unknown>> = [
      { figure: `${tag} (2 nodes, one process): JS heap after GC at the end`, value: round1(last.heap), unit: 'MiB', baseline: 'after the warm-up', baselineValue: round1(first.heap) },
      { figure: `${tag}: RSS at the end`, value: Math.round(last.rss), unit: 'MiB', baseline: 'after the warm-up', baselineValue: Math.round(first.rss) }
    ]
    for (const f of figures) {
      const [w, h] = [slopeOf(warm, f), slopeOf(second, f)]
      rows.push({ figure: `${tag}: ${names[f]} slope, second half (once warm: ${round1(w)} MiB/h)`, value: round1(h), unit: 'MiB/h', baseline: `${names[f]} at half-time, MiB (ratio 1 + slope / level: growth per hour)`, baselineValue: round1(mid[f]), ratio: 1 + h / mid[f] })
    }
    rows.push({ figure: `${tag}: CPU per message sent (both nodes, one process)`, value: Math.round(cpuPerMsg), unit: 'µs', baseline: 'one message every (1 / rate)', baselineValue: Math.round(1e6 / RATE) })
    rows.push({ figure: `${tag}: delivered`, value: received, unit: 'msgs', baseline: 'sent', baselineValue: sent, ratio: sent / Math.max(1, received) })
    console.log(JSON.stringify({ bench: 'soak', rows }))
  } finally {
    for (const n of nodes) await n.stop().catch(() => { /* stopping what is left; changes no figure */ })
    await rm(root, { recursive: true, force: true })
  }
}

function round1 (x: number): number {
  return Math.round(x * 10) / 10
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
