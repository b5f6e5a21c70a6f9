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
 *   npx tsc -p tsconfig.json && ./node_modules/.bin/node dist/scripts/bench-trace.js [--messages 300] [--gap 10]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ChatNode } from '../src/node.js'
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
    for (const s of STAGES) {
      const v = Float64Array.from(samples.get(s) ?? []).sort()
      process.stdout.write(`${s.padEnd(30)} p50 ${percentile(v, 50).toFixed(3)} ms   p90 ${percentile(v, 90).toFixed(3)} ms\n`)
    }
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
