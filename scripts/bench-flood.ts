/**
 * Benchmark scenario 13, a member flooding a group (issue 14, item 9): is
 * the victim's API still responsive while it ingests, and how much of the
 * flood does it store?
 *
 * The victim is a real node process (`p2p-chat start --headless`, its own
 * process, 127.0.0.1). The attacker, in this process, is a member: a
 * ChatNode that joined with the victim's invite, storing each message of the
 * flood in its own history as it publishes it (so that it answers the
 * victim's sync like any member), straight through its gossipsub (no send
 * queue): valid messages (sealed, signed, each linked to the one
 * before, `--text` bytes of text, 4 KiB by default, the largest a message
 * may carry) at `--rate` a second for `--seconds` s, all by one author.
 * A worker thread
 * (its own event loop: this process's publishing does not delay it) times
 * `GET /v1/status` on the victim's API one request after another: first
 * idle, with the attacker connected (the baseline), then during the flood,
 * then while the victim drains what it received (and syncs with the
 * attacker). At the end the victim is stopped and its history counted:
 * stored beside sent.
 *
 *   npx tsc -p tsconfig.json && ./node_modules/.bin/node dist/scripts/bench-flood.js [--quick] [--rate 1000] [--seconds 20] [--idle 5] [--text 4096] [--drain 3]
 *
 * The default is the figure: 20,000 messages of 4 KiB in 20 s.
 * The last stdout line is the runner's {"bench":"flood","rows":[…]}.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { ApiClient } from '../src/api/index.js'
import { toStorable } from '../src/chat/index.js'
import { HISTORY_DIR } from '../src/config.js'
import { deriveGroupKeys, ed25519Signer, sealInOrder } from '../src/envelope/index.js'
import { decodeInvite } from '../src/groups/index.js'
import { ChatNode } from '../src/node.js'
import { HistoryStore } from '../src/store/index.js'
import { percentile } from './bench-common.js'
import { storeOf } from './bench-local.js'
import type { ChildProcess } from 'node:child_process'

const CLI = fileURLToPath(new URL('../../bin/p2p-chat.js', import.meta.url))
const TOPIC = 'flood'
/** pause between two probes of the API: one request at a time */
const PROBE_GAP_MS = 20
/** a probe that takes longer counts as this long (and as a timeout) */
const PROBE_TIMEOUT_MS = 30_000

interface Probe { at: number, ms: number, ok: boolean }
interface ProberData { url: string, token: string }

// ---------------------------------------------------------------------------
// the prober: a worker thread timing GET /v1/status until told to stop
// ---------------------------------------------------------------------------

async function prober (data: ProberData): Promise<void> {
  const port = parentPort
  if (port == null) return
  const probes: Probe[] = []
  let stopped = false
  port.on('message', (m: string) => { if (m === 'stop') stopped = true })
  let first = true
  while (!stopped) {
    const at = Date.now()
    const t = performance.now()
    let ok = false
    try {
      const res = await fetch(`${data.url}/v1/status`, { headers: { authorization: `Bearer ${data.token}` }, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
      await res.arrayBuffer()
      ok = res.status === 200
    } catch { /* a timeout or a refused connection: counted as not ok */ }
    probes.push({ at, ms: ok ? performance.now() - t : Math.max(performance.now() - t, PROBE_TIMEOUT_MS), ok })
    if (first) port.postMessage('ready')
    first = false
    await new Promise(resolve => setTimeout(resolve, PROBE_GAP_MS))
  }
  port.postMessage(probes)
}

// ---------------------------------------------------------------------------
// the run
// ---------------------------------------------------------------------------

function cpuSeconds (pid: number): number {
  // utime and stime, fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 a second on Linux)
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

async function dirBytes (dir: string): Promise<number> {
  let total = 0
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    total += e.isDirectory() ? await dirBytes(p) : (await stat(p)).size
  }
  return total
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function summary (probes: Probe[]): { n: number, p50: number, p99: number, max: number, failed: number } {
  const ms = Float64Array.from(probes.map(p => p.ms)).sort()
  return { n: ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms.length > 0 ? ms[ms.length - 1] : NaN, failed: probes.filter(p => !p.ok).length }
}

async function main (): Promise<void> {
  const { values: opts } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rate: { type: 'string' },
      seconds: { type: 'string' },
      idle: { type: 'string' },
      text: { type: 'string' },
      /** seconds to wait after the flood at least, before the victim may be found quiet */
      drain: { type: 'string' }
    }
  })
  const RATE = Number(opts.rate ?? 1000)
  const SECONDS = Number(opts.seconds ?? (opts.quick ? 5 : 20))
  const IDLE_S = Number(opts.idle ?? (opts.quick ? 2 : 5))
  const TEXT = Number(opts.text ?? 4096)
  const DRAIN_MIN_S = Number(opts.drain ?? 3)
  const COUNT = Math.round(RATE * SECONDS)

  const load0 = loadavg()[0]
  const root = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-flood-'))
  const dataDir = join(root, 'victim')
  let proc: ChildProcess | undefined
  let worker: Worker | undefined
  const attacker = new ChatNode({ dataDir: join(root, 'attacker'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, inboundConnectionThreshold: 1000, name: 'mallory' })
  try {
    proc = spawn(process.execPath, [CLI, 'start', '--headless', '--json', '--no-mdns', '--no-public-network', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0'], { stdio: ['ignore', 'ignore', 'pipe'] })
    proc.stderr?.resume()
    const pid = proc.pid ?? 0
    const client = new ApiClient(dataDir)
    const deadline = Date.now() + 30_000
    while (!await client.running()) {
      if (Date.now() > deadline) throw new Error('the victim node did not become ready')
      await sleep(100)
    }
    const created = await client.createGroup(TOPIC)
    const invite = decodeInvite(created.invite)
    const keys = deriveGroupKeys(invite.topicId, invite.secret)
    const victimId = (await client.status()).peerId
    const api = JSON.parse(readFileSync(join(dataDir, 'api.json'), 'utf8')) as { url: string, token: string }

    // the flood, sealed beforehand: one author, seq 1.., each linked to the one before
    const signer = ed25519Signer(Uint8Array.from(Buffer.alloc(32, 7)))
    const filler = 'x'.repeat(TEXT)
    const sealStart = Date.now()
    const sealed = Array.from({ length: COUNT }, (_, i) => sealInOrder(keys, signer, { seq: BigInt(i + 1), lamport: BigInt(i + 1), timestamp: Date.now(), text: `${i} `.concat(filler).slice(0, TEXT), name: 'mallory' }))
    const flood = sealed.map(m => m.bytes)
    const envelopeBytes = flood.length > 0 ? flood[0].byteLength : 0
    process.stderr.write(`sealed ${COUNT} messages of ${TEXT} bytes of text (${envelopeBytes}-byte envelopes) in ${Date.now() - sealStart} ms\n`)

    // the attacker joins (dialling the invite's addresses)
    await attacker.start()
    await attacker.joinGroup({ invite: created.invite })
    const attackerStore = storeOf(attacker)
    const pubsub = attacker.libp2pNode.services.pubsub
    const meshDeadline = Date.now() + 30_000
    while (!pubsub.getSubscribers(keys.wireTopic).some(p => p.toString() === victimId) || (await client.group(TOPIC)).peers < 1) {
      if (Date.now() > meshDeadline) throw new Error('the attacker and the victim did not see each other on the topic')
      await sleep(100)
    }

    worker = new Worker(fileURLToPath(import.meta.url), { workerData: { url: api.url, token: api.token } satisfies ProberData })
    // loading this module in the worker takes a while on a busy machine: the idle phase starts with its first probe
    await once(worker, 'message')
    const probesDone = once(worker, 'message') as Promise<[Probe[]]>
    const phases = { idleStart: Date.now(), floodStart: 0, floodEnd: 0, drainEnd: 0 }
    await sleep(IDLE_S * 1000)

    // publish at RATE a second, each on time (not waiting for the one before)
    const cpu0 = cpuSeconds(pid)
    phases.floodStart = Date.now()
    let sent = 0
    let failed = 0
    const inflight = new Set<Promise<void>>()
    let k = 0
    while (k < COUNT) {
      const due = Math.min(COUNT, Math.floor((Date.now() - phases.floodStart) / 1000 * RATE) + 1)
      // stored first, as its author's node does: the victim's sync can fetch what gossip did not bring
      if (due > k) await attackerStore.appendMany(keys.groupId, sealed.slice(k, due).map(m => toStorable(m)))
      while (k < due) {
        const p: Promise<void> = pubsub.publish(keys.wireTopic, flood[k++]).then(r => { if (r.recipients.length > 0) sent++; else failed++ }, () => { failed++ })
          .finally(() => inflight.delete(p))
        inflight.add(p)
      }
      if (k < COUNT) await sleep(1)
    }
    await Promise.all(inflight)
    phases.floodEnd = Date.now()
    const cpuFlood = cpuSeconds(pid) - cpu0
    // drain: at least DRAIN_MIN_S, then until the victim is quiet (under 10% of a core for 2 s in a row), at most 120 s
    const drainMin = Date.now() + DRAIN_MIN_S * 1000
    const drainDeadline = Date.now() + 120_000
    for (let last = cpuSeconds(pid), quiet = 0; Date.now() < drainDeadline;) {
      await sleep(1000)
      const now = cpuSeconds(pid)
      quiet = now - last < 0.1 ? quiet + 1 : 0
      last = now
      if (quiet >= 2 && Date.now() >= drainMin) break
    }
    phases.drainEnd = Date.now()
    worker.postMessage('stop')
    const [probes] = await probesDone
    const ingest = (await client.status() as unknown as { ingest?: Record<string, number> }).ingest ?? {}

    // stop the victim, then count what it stored
    proc.kill('SIGTERM')
    await once(proc, 'exit')
    const store = new HistoryStore(join(dataDir, HISTORY_DIR))
    await store.open()
    const stored = await store.count(keys.groupId)
    await store.close()
    const historyMiB = await dirBytes(join(dataDir, HISTORY_DIR)) / (1024 * 1024)

    const idle = summary(probes.filter(p => p.at >= phases.idleStart && p.at < phases.floodStart))
    const during = summary(probes.filter(p => p.at >= phases.floodStart && p.at < phases.floodEnd))
    const drain = summary(probes.filter(p => p.at >= phases.floodEnd && p.at < phases.drainEnd))
    const floodS = (phases.floodEnd - phases.floodStart) / 1000
    const drainS = (phases.drainEnd - phases.floodEnd) / 1000
    console.log(`flood: ${sent} of ${COUNT} published (${failed} not delivered) in ${floodS.toFixed(1)} s (${Math.round(sent / floodS)}/s), envelopes ${envelopeBytes} bytes; victim CPU ${(100 * cpuFlood / floodS).toFixed(0)}% of a core during the flood, drained in ${drainS.toFixed(1)} s`)
    console.log(`GET /v1/status, ms: idle p50 ${idle.p50.toFixed(1)} p99 ${idle.p99.toFixed(1)} max ${idle.max.toFixed(1)} (${idle.n}); flood p50 ${during.p50.toFixed(1)} p99 ${during.p99.toFixed(1)} max ${during.max.toFixed(1)} (${during.n}, ${during.failed} failed); drain p50 ${drain.p50.toFixed(1)} p99 ${drain.p99.toFixed(1)} max ${drain.max.toFixed(1)} (${drain.n})`)
    // what reached ingest's checks and was counted there (ignored or flagged) beside what was stored; the rest never reached ingest
    const counted = Object.values(ingest).reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0)
    const note = `load average ${load0.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end`
    console.log(`stored ${stored} of ${sent} sent; history ${historyMiB.toFixed(1)} MiB; ingest counts ${JSON.stringify(ingest)}; neither stored nor counted ${Math.max(0, sent - stored - counted)}; ${note}`)
    const label = `${Math.round(RATE)}/s of ${TEXT}-byte texts for ${SECONDS} s`
    const rows = [
      { figure: `API GET /v1/status p50 while a member floods ${label}`, value: during.p50, unit: 'ms', baseline: 'idle, same run', baselineValue: idle.p50, note },
      { figure: `API GET /v1/status p99 during the flood (${during.n} requests, ${during.failed} failed)`, value: during.p99, unit: 'ms', baseline: 'idle, same run', baselineValue: idle.p99 },
      { figure: 'API GET /v1/status slowest during the flood', value: during.max, unit: 'ms', baseline: 'idle, same run', baselineValue: idle.max },
      { figure: `API GET /v1/status p99 while the victim drains (${drainS.toFixed(1)} s after the flood)`, value: drain.p99, unit: 'ms', baseline: 'idle, same run', baselineValue: idle.p99 },
      { figure: 'flood messages stored by the victim', value: stored, unit: 'msgs', baseline: 'published to it', baselineValue: sent, ratio: stored / Math.max(1, sent) },
      { figure: 'victim CPU during the flood', value: Math.round(100 * cpuFlood / floodS), unit: '% of a core', baseline: 'one core', baselineValue: 100 },
      ...(typeof ingest.quota === 'number' ? [{ figure: 'flood messages ignored as over the author\'s quota (status ingest.quota)', value: ingest.quota, unit: 'msgs', baseline: 'published to it', baselineValue: sent, ratio: 1 }] : [])
    ]
    console.log(JSON.stringify({ bench: 'flood', rows }))
  } finally {
    if (worker != null) await worker.terminate()
    if (attacker.started) await attacker.stop()
    if (proc != null && proc.exitCode == null && proc.signalCode == null) {
      proc.kill('SIGTERM')
      await once(proc, 'exit')
    }
    await rm(root, { recursive: true, force: true })
  }
}

if (isMainThread) {
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
} else {
  prober(workerData as ProberData).catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
