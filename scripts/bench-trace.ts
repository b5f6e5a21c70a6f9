/**
 * Where one message's latency goes (issue 16), for the investigation, not a
 * runner scenario: two ChatNodes in this process on 127.0.0.1 TCP, one group,
 * `--messages` sends one at a time (`--gap` ms apart, so nothing queues),
 * each timed at the stages of its path:
 *
 *   sender:   send() → staged (numbered, sealed, handed to the store) → claimed (in the journal) → publish
 *   receiver: topic validator entered → staged (opened, verified, checked) → claimed → `message` event
 *
 * and the validator's entry after the publish (gossipsub and the transport,
 * both nodes sharing this process's event loop). Medians and p90 over all
 * but the first 20 (warm-up).
 *
 * Then the floor the crypto sets: `seal()` and `open()` alone, timed at the
 * same cadence (one every `--gap` ms, so as cold as on the real path), added
 * to the transport's stage: what a chat message cannot go below on this
 * machine, and the chat path's p50 beside it.
 *
 *   npx tsc -p tsconfig.json && ./node_modules/.bin/node dist/scripts/bench-trace.js [--messages 300] [--gap 10]
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ChatNode } from '../src/node.js'
import { deriveGroupKeys, ed25519Signer, open, seal } from '../src/envelope/index.js'
import { TEXT_BYTES, percentile, sleep } from './bench-common.js'
import { storeOf } from './bench-local.js'
import type { TopicValidatorFn } from '@libp2p/gossipsub'

process.env.P2P_CHAT_NO_PUBLIC_NETWORK ??= '1'

const STAGES = ['send → staged', 'staged → claimed', 'claimed → publish', 'publish → validator', 'validator → staged', 'staged → claimed (receiver)', 'claimed → event', 'send → event'] as const
type Stage = typeof STAGES[number]

async function main (): Promise<void> {
  const { values: opts } = parseArgs({ options: { messages: { type: 'string' }, gap: { type: 'string' } } })
  const N = Number(opts.messages ?? 300)
  const GAP = Number(opts.gap ?? 10)
  const root = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-trace-'))
  const make = (name: string): ChatNode => new ChatNode({ dataDir: join(root, name), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, name, quota: { rate: 1e6, burst: 1e6 } })
  const a = make('a')
  const b = make('b')
  try {
    await a.start()
    await b.start()
    const { invite, topicId } = await a.createGroup('trace')
    await b.joinGroup({ invite })
    await a.dial(b.addresses[0])
    while (a.groupPeers(topicId).length < 1 || b.groupPeers(topicId).length < 1) await sleep(50)
    await sleep(2000)

    // the stage clocks of the message under way (one at a time)
    const at: Record<string, number> = {}
    const now = (): number => performance.now()
    const sa = storeOf(a)
    const stageMany = sa.stageMany.bind(sa)
    sa.stageMany = (g, m) => { at.aStaged = now(); const r = stageMany(g, m); void r.claimed.then(() => { at.aClaimed = now() }, () => {}); return r }
    const sb = storeOf(b)
    const stage = sb.stage.bind(sb)
    sb.stage = (g, m) => { at.bStaged = now(); const r = stage(g, m); void r.claimed.then(() => { at.bClaimed = now() }, () => {}); return r }
    const pa = a.libp2pNode.services.pubsub
    const publish = pa.publish.bind(pa)
    pa.publish = async (topic: string, data?: Uint8Array) => { at.published = now(); return publish(topic, data) }
    const pb = b.libp2pNode.services.pubsub
    for (const [topic, validate] of pb.topicValidators) {
      pb.topicValidators.set(topic, (async (from, msg) => { at.validator = now(); return validate(from, msg) }) satisfies TopicValidatorFn)
    }

    const samples = new Map<Stage, number[]>(STAGES.map(s => [s, []]))
    for (let i = 0; i < N; i++) {
      const arrived = new Promise<number>(resolve => { b.once('message', () => { resolve(now()) }) })
      const sent = now()
      await a.send(topicId, `trace ${i} `.padEnd(TEXT_BYTES, 'x'))
      const event = await arrived
      if (i >= 20) {
        const add = (s: Stage, v: number): void => { samples.get(s)?.push(v) }
        add('send → staged', at.aStaged - sent)
        add('staged → claimed', at.aClaimed - at.aStaged)
        add('claimed → publish', at.published - at.aClaimed)
        add('publish → validator', at.validator - at.published)
        add('validator → staged', at.bStaged - at.validator)
        add('staged → claimed (receiver)', at.bClaimed - at.bStaged)
        add('claimed → event', event - at.bClaimed)
        add('send → event', event - sent)
      }
      await sleep(GAP)
    }
    const p50 = new Map<string, number>()
    for (const s of STAGES) {
      const v = Float64Array.from(samples.get(s) ?? []).sort()
      p50.set(s, percentile(v, 50))
      process.stdout.write(`${s.padEnd(30)} p50 ${percentile(v, 50).toFixed(3)} ms   p90 ${percentile(v, 90).toFixed(3)} ms\n`)
    }

    // the crypto alone, at the same cadence
    const keys = deriveGroupKeys('trace-floor', new Uint8Array(randomBytes(32)))
    const signer = ed25519Signer(new Uint8Array(randomBytes(32)))
    const seals: number[] = []
    const opens: number[] = []
    let prev: Uint8Array | undefined
    for (let i = 0; i < N; i++) {
      const t0 = now()
      const m = seal(keys, signer, { seq: BigInt(i + 1), lamport: BigInt(i + 1), timestamp: Date.now(), text: `floor ${i} `.padEnd(TEXT_BYTES, 'x'), name: 'a', prev })
      prev = m.id
      const t1 = now()
      if (!open(keys, m.bytes).ok) throw new Error('floor: a sealed message did not open')
      const t2 = now()
      if (i >= 20) { seals.push(t1 - t0); opens.push(t2 - t1) }
      await sleep(GAP)
    }
    const sealP50 = percentile(Float64Array.from(seals).sort(), 50)
    const openP50 = percentile(Float64Array.from(opens).sort(), 50)
    const transport = p50.get('publish → validator') ?? NaN
    const floor = transport + sealP50 + openP50
    const chat = p50.get('send → event') ?? NaN
    process.stdout.write(`${'seal() alone'.padEnd(30)} p50 ${sealP50.toFixed(3)} ms\n${'open() alone'.padEnd(30)} p50 ${openP50.toFixed(3)} ms\n`)
    process.stdout.write(`floor (transport + seal + open) p50 ${floor.toFixed(3)} ms = ${(floor / transport).toFixed(2)}x the transport; the chat path ${(chat / transport).toFixed(2)}x the transport, ${(chat / floor).toFixed(2)}x the floor\n`)
  } finally {
    await a.stop()
    await b.stop()
    await rm(root, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
