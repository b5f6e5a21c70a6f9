/**
 * Scenario 16, single-node ingest from one peer (issue 16): how fast one
 * node takes in a busy group's messages that all come from one peer (a relay
 * of the group, or the one member a node is connected to), beside the
 * primitives that work is made of, and whether the per-peer validation limit
 * (ChatNodeInit `validationRate`, 2,000 a second with bursts of 20,000 by
 * default) holds an honest peer below that rate.
 *
 * The receiver is a ChatNode with the defaults a user runs (mDNS off, on
 * 127.0.0.1), in a child process of its own (`--receiver`, driven over IPC).
 * The sender, in this process, is a member: a ChatNode that joined with the
 * receiver's invite and stored every message in its own history first (so it
 * answers the receiver's sync like any member), then publishes them straight
 * through its gossipsub, keeping at most `--window` messages ahead of what
 * the receiver has taken in (ingested or refused): the receiver's rate sets
 * the pace, nothing piles up in buffers. The messages are 128-byte texts of
 * `--authors` authors, in turn (each author's share stays within its quota's
 * burst, 500: the quota is not what is measured).
 *
 * Baseline, in the receiver's process, on the same number of messages of the
 * same size: the primitives of ingest, one after the other on one core:
 * `open()` of each envelope (HMAC, decrypt, Ed25519 verify, SHA-256) and
 * `HistoryStore.appendMany` in batches of 1,000 on a fresh store. Rounds
 * alternate which goes first; each round has its own group.
 *
 * Figures: messages taken in per second (the receiver's `message` events,
 * time from the first publish to the last event), the receiver's CPU-seconds
 * per message, and how many messages the per-peer limit ignored (status
 * `ingest.rateLimited`), beside what was published.
 *
 *   npx tsc -p tsconfig.json && ./node_modules/.bin/node dist/scripts/bench-ingest.js [--quick] [--messages 100000] [--authors 250] [--rounds 2] [--window 2000] [--profile DIR]
 *
 * --profile DIR: a V8 CPU profile of the receiver's process in DIR.
 *
 * --quick: 3,000 messages, one round (a smoke check). The last stdout line is
 * the runner's {"bench":"ingest","rows":[…]}.
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { toStorable } from '../src/chat/index.js'
import { deriveGroupKeys, ed25519Signer, open, sealInOrder } from '../src/envelope/index.js'
import { decodeInvite } from '../src/groups/index.js'
import { ChatNode } from '../src/node.js'
import { HistoryStore } from '../src/store/index.js'
import { TEXT_BYTES, median, nowNs, sleep } from './bench-common.js'
import { costRatio, storeOf } from './bench-local.js'
import type { OpenedMessage, GroupKeys } from '../src/envelope/index.js'
import type { ChildProcess } from 'node:child_process'

// this scenario never needs the internet: no public bootstrap peers, no UPnP
process.env.P2P_CHAT_NO_PUBLIC_NETWORK ??= '1'

/** batch of the baseline's appendMany (the node's group commit takes what is pending, up to this order) */
const APPEND_BATCH = 1000
/** the receiver takes nothing in for this long: the gossip phase is over (sync may bring the rest) */
const STALL_MS = 10_000
/** after a stall, how long sync may take to bring what gossip did not */
const SYNC_MS = 60_000

type Command =
  | { type: 'start', dataDir: string }
  | { type: 'group', name: string }
  | { type: 'count' }
  | { type: 'primitives', messages: number, authors: number, dir: string }
  | { type: 'stop' }

interface Counts { count: number, lastNs: string, rateLimited: number, quota: number, cpuUs: number, groupPeers: number }
interface Primitives { openMs: number, storeMs: number, cpuUs: number }

/** The messages of one round: `n` 128-byte texts by `authors` authors in turn, seq and Lamport in order */
function sealRound (keys: GroupKeys, n: number, authors: number, round: number): OpenedMessage[] {
  const signers = Array.from({ length: authors }, (_, a) => {
    const seed = Buffer.alloc(32, 1)
    seed.writeUInt32BE(round, 0)
    seed.writeUInt32BE(a, 4)
    return ed25519Signer(Uint8Array.from(seed))
  })
  const filler = 'x'.repeat(TEXT_BYTES)
  const now = Date.now()
  return Array.from({ length: n }, (_, i) => {
    const a = i % authors
    return sealInOrder(keys, signers[a], { seq: BigInt(Math.floor(i / authors) + 1), lamport: BigInt(i + 1), timestamp: now - n + i, text: `${round}/${i} ${filler}`.slice(0, TEXT_BYTES), name: `author-${a}` })
  })
}

// ---------------------------------------------------------------------------
// the receiver (child process)
// ---------------------------------------------------------------------------

async function receiver (): Promise<void> {
  let node: ChatNode | undefined
  let topic = ''
  let count = 0
  let lastNs = 0n
  const reply = (m: unknown): void => { process.send?.(m) }
  process.on('disconnect', () => { void node?.stop().finally(() => process.exit(0)) })
  process.on('message', (cmd: Command) => {
    void (async () => {
      switch (cmd.type) {
        case 'start': {
          node = new ChatNode({ dataDir: cmd.dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, name: 'receiver' })
          await node.start()
          node.on('message', m => {
            if (m.topicId !== topic) return
            count++
            lastNs = process.hrtime.bigint()
          })
          reply({ addr: node.addresses[0] })
          break
        }
        case 'group': {
          if (node == null) throw new Error('not started')
          const created = await node.createGroup(cmd.name)
          topic = created.topicId
          count = 0
          reply({ invite: created.invite })
          break
        }
        case 'count': {
          const cpu = process.cpuUsage()
          const ingest = node?.ingestCounts()
          reply({ count, lastNs: String(lastNs), rateLimited: ingest?.rateLimited ?? 0, quota: ingest?.quota ?? 0, cpuUs: cpu.user + cpu.system, groupPeers: node?.groupPeers(topic).length ?? 0 } satisfies Counts)
          break
        }
        case 'primitives': {
          // a group of its own, messages as large as the round's
          const keys = deriveGroupKeys('bench-ingest-baseline', Uint8Array.from(Buffer.alloc(32, 9)))
          const sealed = sealRound(keys, cmd.messages, cmd.authors, 99)
          const bytes = sealed.map(m => m.bytes)
          const store = new HistoryStore(cmd.dir)
          await store.open()
          try {
            const cpu0 = process.cpuUsage()
            const t0 = nowNs()
            const opened: OpenedMessage[] = []
            for (const b of bytes) {
              const r = open(keys, b)
              if (!r.ok) throw new Error(`baseline: ${r.reason}`)
              opened.push(r.message)
            }
            const t1 = nowNs()
            for (let i = 0; i < opened.length; i += APPEND_BATCH) await store.appendMany(keys.groupId, opened.slice(i, i + APPEND_BATCH).map(m => toStorable(m)))
            const t2 = nowNs()
            const cpu = process.cpuUsage(cpu0)
            reply({ openMs: Number(t1 - t0) / 1e6, storeMs: Number(t2 - t1) / 1e6, cpuUs: cpu.user + cpu.system } satisfies Primitives)
          } finally {
            await store.close()
          }
          break
        }
        case 'stop': {
          await node?.stop()
          reply({ stopped: true })
          process.exit(0)
        }
      }
    })().catch((err: unknown) => {
      process.stderr.write(`receiver: ${String((err as Error)?.stack ?? err)}\n`)
      process.exit(1)
    })
  })
  reply({ ready: true })
}

// ---------------------------------------------------------------------------
// the sender and the runs (this process)
// ---------------------------------------------------------------------------

/** The receiver's process: one answer per command, in order */
class Receiver {
  private readonly waiting: Array<{ resolve: (m: any) => void, reject: (err: Error) => void }> = []
  private exited: Error | undefined
  constructor (readonly proc: ChildProcess) {
    proc.on('message', (m) => { this.waiting.shift()?.resolve(m) })
    proc.once('exit', (code, signal) => {
      this.exited = new Error(`the receiver exited (${String(code ?? signal)})`)
      for (const w of this.waiting.splice(0)) w.reject(this.exited)
    })
  }

  async ask<T>(cmd: Command): Promise<T> {
    if (this.exited != null) throw this.exited
    const answer = new Promise<T>((resolve, reject) => { this.waiting.push({ resolve, reject }) })
    this.proc.send(cmd)
    return answer
  }
}

interface RoundResult { messages: number, ms: number, cpuUsPerMsg: number, rateLimited: number, quota: number, complete: boolean, baselineMs: number, baselineOpenMs: number, baselineCpuUsPerMsg: number }

async function main (): Promise<void> {
  const { values: opts } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      messages: { type: 'string' },
      authors: { type: 'string' },
      rounds: { type: 'string' },
      window: { type: 'string' },
      profile: { type: 'string' }
    }
  })
  const N = Number(opts.messages ?? (opts.quick ? 3000 : 100_000))
  const AUTHORS = Number(opts.authors ?? Math.max(10, Math.ceil(N / 400)))
  const ROUNDS = Number(opts.rounds ?? (opts.quick ? 1 : 2))
  const WINDOW = Number(opts.window ?? 2000)
  const load0 = loadavg()[0]
  const root = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-ingest-'))
  const profile = opts.profile != null ? ['--cpu-prof', '--cpu-prof-dir', opts.profile] : []
  const proc = fork(fileURLToPath(import.meta.url), ['--receiver'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...process.execArgv, ...profile] })
  const rx = new Receiver(proc)
  const sender = new ChatNode({ dataDir: join(root, 'sender'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, name: 'sender' })
  const results: RoundResult[] = []
  try {
    await once(proc, 'message')
    await rx.ask<{ addr: string }>({ type: 'start', dataDir: join(root, 'receiver') })
    await sender.start()
    const senderStore = storeOf(sender)
    const pubsub = sender.libp2pNode.services.pubsub

    for (let round = 0; round < ROUNDS; round++) {
      const { invite } = await rx.ask<{ invite: string }>({ type: 'group', name: `ingest-${round}` })
      const { topicId, secret } = decodeInvite(invite)
      const keys = deriveGroupKeys(topicId, secret)
      const sealStart = Date.now()
      const sealed = sealRound(keys, N, AUTHORS, round)
      await sender.joinGroup({ invite })
      process.stderr.write(`round ${round + 1}: sealed ${N} messages of ${AUTHORS} authors (${sealed[0].bytes.byteLength}-byte envelopes) in ${Date.now() - sealStart} ms\n`)
      const meshDeadline = Date.now() + 30_000
      while (sender.groupPeers(topicId).length < 1 || (await rx.ask<Counts>({ type: 'count' })).groupPeers < 1) {
        if (Date.now() > meshDeadline) throw new Error('the sender and the receiver did not see each other on the group')
        await sleep(50)
      }
      // let the join's own sync rounds end before the clock starts
      await sleep(2000)

      const baseline = async (): Promise<Primitives> => rx.ask<Primitives>({ type: 'primitives', messages: N, authors: AUTHORS, dir: join(root, `baseline-${round}`) })
      let prim: Primitives | undefined
      if (round % 2 === 0) prim = await baseline()

      const before = await rx.ask<Counts>({ type: 'count' })
      const t0 = process.hrtime.bigint()
      let k = 0
      let stored = 0
      let seen = before
      let lastProgress = Date.now()
      let stalledAt: number | undefined
      while (true) {
        const taken = seen.count + seen.rateLimited - before.rateLimited
        const upTo = Math.min(N, taken + WINDOW)
        // stored first, as their authors' nodes did: the receiver's sync can fetch what gossip does not bring
        if (upTo > stored) {
          await senderStore.appendMany(keys.groupId, sealed.slice(stored, upTo).map(m => toStorable(m)))
          stored = upTo
        }
        while (k < upTo) {
          pubsub.publish(keys.wireTopic, sealed[k++].bytes).catch(() => { /* counted as not taken in; sync brings it */ })
        }
        if (seen.count >= N) break
        await sleep(5)
        const now = await rx.ask<Counts>({ type: 'count' })
        if (now.count > seen.count || now.rateLimited > seen.rateLimited) lastProgress = Date.now()
        seen = now
        if (k >= N && stalledAt == null && Date.now() - lastProgress > STALL_MS) {
          stalledAt = Date.now()
          process.stderr.write(`round ${round + 1}: gossip stalled at ${seen.count} of ${N}; waiting up to ${SYNC_MS / 1000} s for sync\n`)
        }
        if (stalledAt != null && Date.now() - stalledAt > SYNC_MS) break
      }
      const ms = Number(BigInt(seen.lastNs) - t0) / 1e6
      if (prim == null) prim = await baseline()
      const r: RoundResult = {
        messages: seen.count,
        ms,
        cpuUsPerMsg: (seen.cpuUs - before.cpuUs) / Math.max(1, seen.count),
        rateLimited: seen.rateLimited - before.rateLimited,
        quota: seen.quota - before.quota,
        complete: seen.count >= N,
        baselineMs: prim.openMs + prim.storeMs,
        baselineOpenMs: prim.openMs,
        baselineCpuUsPerMsg: prim.cpuUs / N
      }
      results.push(r)
      process.stderr.write(`round ${round + 1}: ${r.messages} of ${N} taken in in ${ms.toFixed(0)} ms (${Math.round(r.messages / (ms / 1000))}/s), ${r.rateLimited} ignored by the per-peer limit, ${r.quota} over a quota; primitives ${r.baselineMs.toFixed(0)} ms (open ${prim.openMs.toFixed(0)}, store ${prim.storeMs.toFixed(0)}): ${Math.round(N / (r.baselineMs / 1000))}/s; receiver CPU ${r.cpuUsPerMsg.toFixed(0)} µs/msg beside ${r.baselineCpuUsPerMsg.toFixed(0)}\n`)
      await sender.leaveGroup(topicId).catch(() => undefined)
    }
  } finally {
    if (sender.started) await sender.stop()
    if (proc.exitCode == null && proc.signalCode == null) {
      const exited = once(proc, 'exit')
      await rx.ask({ type: 'stop' }).catch(() => undefined)
      // it exits once it has answered (writing its CPU profile first, with --profile)
      const kill = setTimeout(() => { proc.kill('SIGKILL') }, 10_000)
      await exited
      clearTimeout(kill)
    }
    await rm(root, { recursive: true, force: true })
  }

  const rate = median(results.map(r => r.messages / (r.ms / 1000)))
  const baseRate = median(results.map(r => N / (r.baselineMs / 1000)))
  const cpu = median(results.map(r => r.cpuUsPerMsg))
  const baseCpu = median(results.map(r => r.baselineCpuUsPerMsg))
  const limited = results.reduce((a, r) => a + r.rateLimited, 0)
  const complete = results.every(r => r.complete)
  const note = `load average ${load0.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end; ${results.length} round(s), median`
  const label = `${N.toLocaleString('en-US')} messages of ${AUTHORS} authors from one peer`
  const rows = [
    { figure: `${label}: taken in per second${complete ? '' : ' (INCOMPLETE)'}`, value: rate, unit: 'msg/s', baseline: `its primitives (open + appendMany by ${APPEND_BATCH}), one core`, baselineValue: baseRate, ratio: costRatio(rate, baseRate, 'higher'), note },
    { figure: `${label}: receiver CPU per message`, value: cpu, unit: 'µs', baseline: 'its primitives', baselineValue: baseCpu, ratio: costRatio(cpu, baseCpu, 'lower') },
    { figure: `${label}: ignored by the per-peer validation limit (status ingest.rateLimited)`, value: limited, unit: 'msgs', baseline: 'published', baselineValue: N * results.length, ratio: 1 }
  ]
  process.stdout.write(JSON.stringify({ details: { messages: N, authors: AUTHORS, window: WINDOW, rounds: results } }) + '\n')
  process.stdout.write(JSON.stringify({ bench: 'ingest', rows }) + '\n')
}

if (process.argv[2] === '--receiver') {
  receiver().catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
} else {
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
