/**
 * Benchmark scenario 10, soak: is memory bounded? Two real nodes on
 * 127.0.0.1 in this process, one sending 50 msg/s to the other (gossip,
 * store, sync all running), for `--minutes` (default 10, --quick 0.3). Every
 * 5 s: RSS and the JS heap in use after a full GC (run with --expose-gc).
 * Figures: heap and RSS at the end beside after the warm-up (first minute,
 * or the first fifth of a short run), and the least-squares slope of the
 * heap after GC, in MiB per hour. A bounded node has a slope near 0 once
 * warm; the RSS step issue 20 saw (about 23 minutes in) needs a run of
 * 30 minutes or more: `node --expose-gc dist/scripts/bench-soak.js --minutes 60`.
 * The last stdout line is the runner's {"bench":"soak","rows":[…]}.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ChatNode } from '../src/index.js'

const { values: opts } = parseArgs({ options: { quick: { type: 'boolean', default: false }, minutes: { type: 'string' }, rate: { type: 'string' } } })
const MINUTES = Number(opts.minutes ?? (opts.quick ? 0.3 : 10))
const RATE = Number(opts.rate ?? 50)
const SAMPLE_MS = 5000
const MiB = 1024 * 1024

interface Sample { t: number, rss: number, heap: number }

function sample (t0: number): Sample {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const m = process.memoryUsage()
  return { t: (Date.now() - t0) / 3_600_000, rss: m.rss / MiB, heap: m.heapUsed / MiB }
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
      const n = new ChatNode({ dataDir: await mkdtemp(join(root, `${name}-`)), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, inboundConnectionThreshold: 1000 })
      nodes.push(n)
      await n.start()
      return n
    }
    const a = await make('a')
    const b = await make('b')
    const { invite } = await a.createGroup('soak')
    await b.joinGroup({ invite })
    const t0 = Date.now()
    const samples: Sample[] = [sample(t0)]
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
        samples.push(sample(t0))
        nextSample += SAMPLE_MS
      }
    }
    samples.push(sample(t0))
    const warm = samples.filter(s => s.t * 60 >= Math.min(1, MINUTES / 5))
    const first = warm[0] ?? samples[0]
    const last = samples[samples.length - 1]
    const heapSlope = slope(warm.map(s => ({ t: s.t, y: s.heap })))
    const rssSlope = slope(warm.map(s => ({ t: s.t, y: s.rss })))
    console.log(`soak ${MINUTES} min at ${RATE} msg/s: sent ${sent}, received ${received}; heap after GC ${first.heap.toFixed(1)} -> ${last.heap.toFixed(1)} MiB (slope ${heapSlope.toFixed(1)} MiB/h), RSS ${first.rss.toFixed(0)} -> ${last.rss.toFixed(0)} MiB (slope ${rssSlope.toFixed(1)} MiB/h)`)
    const rows = [
      { figure: `soak ${MINUTES} min at ${RATE} msg/s (2 nodes, one process): JS heap after GC at the end`, value: round1(last.heap), unit: 'MiB', baseline: 'after the warm-up', baselineValue: round1(first.heap) },
      { figure: `soak ${MINUTES} min at ${RATE} msg/s: RSS at the end`, value: Math.round(last.rss), unit: 'MiB', baseline: 'after the warm-up', baselineValue: Math.round(first.rss) },
      { figure: `soak ${MINUTES} min at ${RATE} msg/s: heap-after-GC slope once warm`, value: round1(heapSlope), unit: 'MiB/h', baseline: 'heap after the warm-up (slope / level = growth per hour)', baselineValue: round1(first.heap), ratio: 1 + heapSlope / first.heap },
      { figure: `soak ${MINUTES} min at ${RATE} msg/s: delivered`, value: received, unit: 'msgs', baseline: 'sent', baselineValue: sent, ratio: sent / Math.max(1, received) }
    ]
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
