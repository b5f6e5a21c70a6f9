/**
 * Benchmark scenario 12, overload of the send API: a real node process
 * (`p2p-chat start --headless`, its own process, 127.0.0.1), driven through
 * its local API from this process.
 *   1. peak: 8 senders in a closed loop (each waits for its answer) for
 *      `--peak` s: acknowledged sends per second is the capacity;
 *   2. overload: open-loop arrivals at 5x that rate for `--seconds` s (30;
 *      --quick 5), no retries: acknowledged per second beside the peak, the
 *      share answered 429, the node's peak RSS beside its RSS after the peak
 *      phase, and, at the end, every acknowledged send looked up in
 *      history (lost must be 0).
 * The last stdout line is the runner's {"bench":"overload","rows":[…]}.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ApiClient } from '../src/api/index.js'
import type { ChildProcess } from 'node:child_process'

const { values: opts } = parseArgs({ options: { quick: { type: 'boolean', default: false }, seconds: { type: 'string' }, peak: { type: 'string' } } })
const OVERLOAD_S = Number(opts.seconds ?? (opts.quick ? 5 : 30))
const PEAK_S = Number(opts.peak ?? (opts.quick ? 3 : 10))
const FACTOR = 5
const CLI = fileURLToPath(new URL('../../bin/p2p-chat.js', import.meta.url))

function rssMiB (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m != null ? Number(m[1]) / 1024 : NaN
}

async function main (): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-overload-'))
  let proc: ChildProcess | undefined
  try {
    proc = spawn(process.execPath, [CLI, 'start', '--headless', '--json', '--no-mdns', '--no-public-network', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0'], { stdio: ['ignore', 'ignore', 'pipe'] })
    const pid = proc.pid ?? 0
    const client = new ApiClient(dataDir)
    const deadline = Date.now() + 30_000
    while (!await client.running()) {
      if (Date.now() > deadline) throw new Error('the node did not become ready')
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    await client.createGroup('load')
    const info = JSON.parse(readFileSync(join(dataDir, 'api.json'), 'utf8')) as { url: string, token: string }
    const acked: string[] = []
    let refused = 0
    let failed = 0
    const post = async (text: string): Promise<void> => {
      const res = await fetch(`${info.url}/v1/groups/load/messages`, { method: 'POST', headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ text }) })
      const body = await res.json() as { id?: string }
      if (res.status === 201 && body.id != null) acked.push(body.id)
      else if (res.status === 429) refused++
      else failed++
    }
    // 1. peak: a closed loop
    let n = 0
    const peakEnd = Date.now() + PEAK_S * 1000
    const peakStart = Date.now()
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (Date.now() < peakEnd) await post(`peak ${n++}`)
    }))
    const peakRate = acked.length / ((Date.now() - peakStart) / 1000)
    const rssAfterPeak = rssMiB(pid)
    // 2. overload: open loop at FACTOR x the peak rate
    const ackedBefore = acked.length
    const rate = peakRate * FACTOR
    const t0 = Date.now()
    const end = t0 + OVERLOAD_S * 1000
    const inflight = new Set<Promise<void>>()
    let sent = 0
    let rssMax = rssAfterPeak
    let nextRss = t0
    while (Date.now() < end) {
      const due = Math.floor(((Date.now() - t0) / 1000) * rate)
      while (sent < due) {
        const p = post(`over ${sent++}`).catch(() => { failed++ }).finally(() => inflight.delete(p))
        inflight.add(p)
      }
      if (Date.now() >= nextRss) {
        rssMax = Math.max(rssMax, rssMiB(pid))
        nextRss += 500
      }
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    await Promise.all(inflight)
    const overloadRate = (acked.length - ackedBefore) / ((Date.now() - t0) / 1000)
    // every acknowledged send is in history
    const stored = new Set<string>()
    let before: string | undefined
    do {
      const page = await client.history('load', { limit: 10_000, before })
      for (const m of page.messages) stored.add(m.id)
      before = page.next
    } while (before != null)
    const lost = acked.filter(id => !stored.has(id)).length
    console.log(`peak ${peakRate.toFixed(0)} sends/s; overload: offered ${rate.toFixed(0)}/s for ${OVERLOAD_S} s (${sent} sends), acknowledged ${overloadRate.toFixed(0)}/s, 429 ${refused}, other failures ${failed}; node RSS ${rssAfterPeak.toFixed(0)} -> max ${rssMax.toFixed(0)} MiB; acknowledged ${acked.length}, lost ${lost}`)
    const rows = [
      { figure: `send API at ${FACTOR}x its capacity for ${OVERLOAD_S} s: acknowledged per second`, value: Math.round(overloadRate), unit: 'sends/s', baseline: 'at capacity (8 closed-loop senders)', baselineValue: Math.round(peakRate), ratio: peakRate / Math.max(overloadRate, 1e-9) },
      { figure: `send API at ${FACTOR}x: share answered 429 (refused at once, nothing stored)`, value: Math.round((100 * refused) / Math.max(sent, 1)), unit: '%', baseline: 'share the node could not take (1 - 1/5)', baselineValue: 80, ratio: 1 },
      { figure: `send API at ${FACTOR}x: node RSS, highest`, value: Math.round(rssMax), unit: 'MiB', baseline: 'after the capacity phase', baselineValue: Math.round(rssAfterPeak) },
      { figure: `send API at ${FACTOR}x: acknowledged sends lost`, value: lost, unit: 'msgs', baseline: 'acknowledged', baselineValue: acked.length, ratio: 1 + lost }
    ]
    console.log(JSON.stringify({ bench: 'overload', rows }))
  } finally {
    if (proc != null && proc.exitCode == null) {
      proc.kill('SIGTERM')
      await once(proc, 'exit')
    }
    await rm(dataDir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
