/**
 * Call benchmark on loopback: one-way frame latency (p50/p99) and throughput
 * of a 2 Mbit/s media stream through the call protocol, beside a bare libp2p
 * stream carrying the same frames (varint length + 8-byte capture time +
 * payload, no call protocol), measured in the same run between the same two
 * nodes. Then the most each path carries unpaced.
 *
 * The last stdout line is the runner's {"bench":"calls","rows":[…]}
 * (docs/BENCHMARKS.md); --quick runs 3 s and 16 MiB unpaced.
 *
 *   npx tsc -p tsconfig.json && ./node_modules/.bin/node dist/scripts/bench-calls.js [--quick] [--seconds 10] [--flood-mib 64] [--json]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Uint8ArrayList } from 'uint8arraylist'
import { ChatNode, media } from '../src/index.js'
import { FrameDecoder, nowMs } from '../src/calls/protocol.js'
import type { CallEnd } from '../src/index.js'
import type { Stream } from '@libp2p/interface'

const BARE_PROTOCOL = '/p2p-chat/bench-bare/1.0.0'

function arg (name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

const QUICK = process.argv.includes('--quick')
const SECONDS = arg('seconds', QUICK ? 3 : 10)
const BITRATE = arg('bitrate', 2_000_000)
const FPS = 30
const FRAME_MS = 1000 / FPS
const FRAME_BYTES = Math.round(BITRATE / 8 / FPS)
const FLOOD_BYTES = arg('flood-mib', QUICK ? 16 : 64) * 1024 * 1024
const FLOOD_FRAME = 64 * 1024
const JSON_OUT = process.argv.includes('--json')

interface Result {
  path: string
  mode: string
  frames: number
  lost: number
  p50Ms?: number
  p99Ms?: number
  meanMs?: number
  maxMs?: number
  mbitPerSec: number
}

function summarize (path: string, mode: string, latencies: number[], bytes: number, seconds: number, expected: number): Result {
  const sorted = [...latencies].sort((a, b) => a - b)
  const q = (p: number): number => round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))])
  const r: Result = { path, mode, frames: latencies.length, lost: expected - latencies.length, mbitPerSec: round(bytes * 8 / seconds / 1e6) }
  if (mode === 'paced') {
    r.p50Ms = q(0.5); r.p99Ms = q(0.99); r.maxMs = q(1)
    r.meanMs = round(sorted.reduce((s, x) => s + x, 0) / sorted.length)
  }
  return r
}

function round (n: number): number { return Math.round(n * 1000) / 1000 }

function payload (bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes)
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + seed) & 0xff
  return b
}

async function * repeat (frame: Uint8Array, count: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield frame
}

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return Uint8Array.from(out)
}

/** Bare path, receiving side: record capture→arrival per frame. */
function bareReceiver (): { handler: (stream: Stream) => void, next: () => Promise<{ latencies: number[], bytes: number, seconds: number }> } {
  let resolve: (r: { latencies: number[], bytes: number, seconds: number }) => void = () => {} // replaced by next()
  return {
    handler: (stream) => {
      const decoder = new FrameDecoder(FLOOD_FRAME + 64)
      const latencies: number[] = []
      let bytes = 0
      let first: number | undefined
      let last = 0
      stream.addEventListener('message', (evt) => {
        const now = nowMs()
        for (const msg of decoder.decode(evt.data)) {
          const sent = msg.subarray(0, 8)
          latencies.push(now - Buffer.from(sent).readDoubleBE(0))
          bytes += msg.byteLength - 8
          first ??= Buffer.from(sent).readDoubleBE(0)
          last = now
        }
      })
      stream.addEventListener('remoteCloseWrite', () => {
        resolve({ latencies, bytes, seconds: (last - (first ?? last)) / 1000 })
        void stream.close().catch(() => {}) // the measurement is over: a failed close changes nothing
      })
    },
    next: async () => new Promise(r => { resolve = r })
  }
}

/** Bare path, sending side: same frames, same pacing, waiting for drain like the call does. */
async function bareSend (stream: Stream, frames: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const f of frames) {
    const header = Buffer.alloc(8)
    header.writeDoubleBE(nowMs(), 0)
    if (!stream.send(new Uint8ArrayList(varint(f.byteLength + 8), header, f))) await stream.onDrain()
  }
  await stream.close()
}

async function main (): Promise<void> {
  const dirs = await Promise.all([mkdtemp(join(tmpdir(), 'bench-calls-')), mkdtemp(join(tmpdir(), 'bench-calls-'))])
  const [a, b] = dirs.map(dataDir => new ChatNode({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }))
  const results: Result[] = []
  try {
    await a.start(); await b.start()
    const { invite } = await a.createGroup('bench')
    await b.joinGroup({ invite })
    await a.dial(b.addresses[0])
    while (!a.isGroupPeer(b.peerId) || !b.isGroupPeer(a.peerId)) await new Promise(resolve => setTimeout(resolve, 20))
    const bare = bareReceiver()
    await b.libp2pNode.handle(BARE_PROTOCOL, bare.handler)

    const frames = Math.round(SECONDS * 1000 / FRAME_MS)
    const frame = payload(FRAME_BYTES, 1)
    const log = (s: string): void => { if (!JSON_OUT) process.stderr.write(s + '\n') }
    log(`${SECONDS} s at ${(BITRATE / 1e6).toFixed(1)} Mbit/s: ${frames} frames of ${FRAME_BYTES} B every ${FRAME_MS.toFixed(1)} ms`)

    const runBare = async (mode: string, source: AsyncIterable<Uint8Array>, expected: number): Promise<void> => {
      const got = bare.next()
      const stream = await a.libp2pNode.dialProtocol(b.libp2pNode.peerId, BARE_PROTOCOL)
      await bareSend(stream, source)
      const r = await got
      results.push(summarize('bare libp2p stream', mode, r.latencies, r.bytes, r.seconds, expected))
    }

    const runCall = async (mode: string, source: AsyncIterable<Uint8Array>, frameBytes: number, frameMs: number, expected: number): Promise<CallEnd> => {
      const sink = media.collectingSink()
      const ended = new Promise<CallEnd>(resolve => { b.once('call:ended', resolve) })
      const endedA = new Promise<CallEnd>(resolve => { a.once('call:ended', resolve) })
      await Promise.all([
        a.calls.call(b.peerId, { video: true, input: source, output: 'none', frameBytes, frameMs }),
        b.calls.answer({ input: 'none', output: sink, timeout: 10_000 })
      ])
      const [end] = await Promise.all([ended, endedA])
      const lat = sink.frames.map(f => f.arrivalMs - f.captureMs)
      const bytes = sink.chunks.reduce((s, c) => s + c.byteLength, 0)
      const span = (sink.frames[sink.frames.length - 1].arrivalMs - sink.frames[0].captureMs) / 1000
      results.push(summarize('call protocol', mode, lat, bytes, span, expected))
      return end
    }

    // warm-up (JIT, connection windows), not reported
    await runBare('warmup', repeat(frame, 50), 50)
    await runCall('warmup', (async function * () { yield Buffer.concat(Array.from({ length: 50 }, () => frame)) })(), FRAME_BYTES, 0, 50)
    results.length = 0

    log('bare stream, paced...')
    await runBare('paced', media.pace(repeat(frame, frames), FRAME_MS, new AbortController().signal), frames)
    log('call, paced...')
    const end = await runCall('paced', (async function * () { yield Buffer.concat(Array.from({ length: frames }, () => frame)) })(), FRAME_BYTES, FRAME_MS, frames)
    const floodFrames = Math.ceil(FLOOD_BYTES / FLOOD_FRAME)
    const big = payload(FLOOD_FRAME, 2)
    log('bare stream, unpaced...')
    await runBare('unpaced', repeat(big, floodFrames), floodFrames)
    log('call, unpaced...')
    await runCall('unpaced', (async function * () { for (let i = 0; i < floodFrames; i++) yield big })(), FLOOD_FRAME, 0, floodFrames)

    if (JSON_OUT) {
      process.stdout.write(JSON.stringify({ seconds: SECONDS, bitrate: BITRATE, frameBytes: FRAME_BYTES, fps: FPS, node: process.version, results, callStats: end.stats }, null, 2) + '\n')
    } else {
      const rows = results.map(r => [r.path, r.mode, String(r.frames), String(r.lost), r.p50Ms?.toFixed(3) ?? '-', r.p99Ms?.toFixed(3) ?? '-', r.maxMs?.toFixed(3) ?? '-', r.mbitPerSec.toFixed(2)])
      const head = ['path', 'mode', 'frames', 'lost', 'p50 ms', 'p99 ms', 'max ms', 'Mbit/s']
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
      const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ')
      process.stdout.write([line(head), ...rows.map(line)].join('\n') + '\n')
      process.stdout.write(`call stats (paced run, receiver): rtt ${end.stats.rttMs} ms, one-way ${end.stats.oneWayDelayMs} ms, jitter ${end.stats.jitterMs} ms, lost ${end.stats.framesLost}, receive ${(end.stats.receiveBitrate / 1e6).toFixed(2)} Mbit/s\n`)
      const find = (path: string, mode: string): Result => results.find(r => r.path === path && r.mode === mode)!
      const benchRows: Array<Record<string, string | number>> = []
      const mbit = (BITRATE / 1e6).toFixed(0)
      for (const [mode, label] of [['paced', `${mbit} Mbit/s video, ${SECONDS} s`], ['unpaced', 'unpaced']] as const) {
        const call = find('call protocol', mode)
        const bare = find('bare libp2p stream', mode)
        if (mode === 'paced') {
          benchRows.push({ figure: `${label}: one-way p50`, value: call.p50Ms!, unit: 'ms', baseline: 'bare libp2p stream', baselineValue: bare.p50Ms! })
          benchRows.push({ figure: `${label}: one-way p99`, value: call.p99Ms!, unit: 'ms', baseline: 'bare libp2p stream', baselineValue: bare.p99Ms! })
        }
        benchRows.push({ figure: `${label}: throughput (frames lost ${call.lost})`, value: call.mbitPerSec, unit: 'Mbit/s', baseline: `bare libp2p stream (lost ${bare.lost})`, baselineValue: bare.mbitPerSec, ratio: bare.mbitPerSec / call.mbitPerSec })
      }
      process.stdout.write(JSON.stringify({ bench: 'calls', rows: benchRows }) + '\n')
    }
  } finally {
    // cleanup after the figures are out: a failed stop changes nothing
    await a.stop().catch(() => {})
    await b.stop().catch(() => {})
    await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-calls failed: ${(err instanceof Error ? err.stack : undefined) ?? String(err)}\n`)
  process.exit(1)
})
