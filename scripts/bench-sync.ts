/**
 * History sync benchmark: two real nodes over 127.0.0.1, the connection
 * passing through a counting TCP proxy (bytes on the wire: Noise, yamux,
 * multistream and whatever else shares the connection while a round runs).
 *
 *   1. catch-up: B misses `--missed` messages (default 10,000) that A holds
 *   2. in sync: both hold the same `--messages` (default 100,000): one round
 *   3. one message apart at that size: one round
 *
 * Stores are filled directly (seal + appendMany) before the nodes start.
 *
 * Baselines, measured in the same run: for the catch-up, opening (verify,
 * decrypt) and storing the same records locally, no network; for the bytes,
 * the envelopes themselves; for the in-sync round, the ids of every message
 * (what a naive "here is all I hold" exchange would send one way).
 * The last stdout line is the runner's {"bench":"sync","rows":[…]}.
 *
 *   npx tsc -p tsconfig.json && ./node_modules/.bin/node dist/scripts/bench-sync.js [--quick] [--messages N] [--missed N] [--authors N]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { ChatNode } from '../src/index.js'
import { HISTORY_DIR } from '../src/config.js'
import { deriveGroupKeys, ed25519Signer, open, sealInOrder } from '../src/envelope/index.js'
import { HistoryStore } from '../src/store/index.js'
import type { GroupKeys, OpenedMessage, Signer } from '../src/envelope/index.js'
import type { StorableMessage } from '../src/store/index.js'
import type { Server, Socket } from 'node:net'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    messages: { type: 'string' },
    missed: { type: 'string' },
    authors: { type: 'string', default: '10' }
  }
})
const MESSAGES = Number(values.messages ?? (values.quick ? 10_000 : 100_000))
const MISSED = Number(values.missed ?? (values.quick ? 1_000 : 10_000))
const AUTHORS = Number(values.authors)

const storable = (m: OpenedMessage): StorableMessage => ({
  id: m.id, bytes: m.bytes, author: m.envelope.author, seq: m.envelope.seq, lamport: m.envelope.lamport, timestamp: m.envelope.timestamp
})

/** `n` messages by `authors` round-robin, continuing their sequences. */
function* messages (keys: GroupKeys, authors: Signer[], seqs: bigint[], n: number, lamport: { v: bigint }): Generator<StorableMessage> {
  for (let i = 0; i < n; i++) {
    const k = i % authors.length
    seqs[k]++
    lamport.v++
    yield storable(sealInOrder(keys, authors[k], { seq: seqs[k], lamport: lamport.v, timestamp: Date.now(), text: `message ${i} ${'x'.repeat(40 + (i % 80))}`, name: `author-${k}` }))
  }
}

async function fill (stores: HistoryStore[], groupId: string, source: Generator<StorableMessage>): Promise<number> {
  let batch: StorableMessage[] = []
  let bytes = 0
  const flush = async (): Promise<void> => {
    await Promise.all(stores.map(async s => s.appendMany(groupId, batch)))
    batch = []
  }
  for (const m of source) {
    batch.push(m)
    bytes += m.bytes.byteLength
    if (batch.length === 2000) await flush()
  }
  if (batch.length > 0) await flush()
  return bytes
}

/** A TCP proxy to `port` that counts bytes each way. */
async function proxy (port: number): Promise<{ server: Server, port: number, counters: { up: number, down: number }, sockets: Set<Socket> }> {
  const counters = { up: 0, down: 0 }
  const sockets = new Set<Socket>()
  const server = createServer(client => {
    const upstream = connect(port, '127.0.0.1')
    // as libp2p's TCP transport does: no Nagle delay on small writes
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    sockets.add(client).add(upstream)
    client.on('data', d => { counters.up += d.byteLength })
    upstream.on('data', d => { counters.down += d.byteLength })
    client.pipe(upstream)
    upstream.pipe(client)
    const end = (): void => { client.destroy(); upstream.destroy() }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return { server, port: typeof address === 'object' && address != null ? address.port : 0, counters, sockets }
}

const fmt = (n: number): string => n.toLocaleString('en-US')
const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`

async function main (): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-sync-'))
  const dirA = join(root, 'a')
  const dirB = join(root, 'b')
  const init = { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, inboundConnectionThreshold: 1000, sync: { auto: false } }
  try {
    // groups and identities, then stop to fill the stores directly
    let a = new ChatNode({ dataDir: dirA, ...init })
    let b = new ChatNode({ dataDir: dirB, ...init })
    await a.start()
    await b.start()
    await a.createGroup('catchup')
    await a.createGroup('big')
    for (const topicId of ['catchup', 'big']) await b.joinGroup({ topicId, secret: a.secret(topicId) })
    const keysCatchup = deriveGroupKeys('catchup', Buffer.from(a.secret('catchup'), 'hex'))
    const keysBig = deriveGroupKeys('big', Buffer.from(a.secret('big'), 'hex'))
    await a.stop()
    await b.stop()

    const authors = Array.from({ length: AUTHORS }, () => ed25519Signer(randomBytes(32)))
    const storeA = new HistoryStore(join(dirA, HISTORY_DIR))
    const storeB = new HistoryStore(join(dirB, HISTORY_DIR))
    await storeA.open()
    await storeB.open()
    const t = Date.now()
    const common = Math.min(5000, MISSED)
    const seqsC = authors.map(() => 0n)
    const lamC = { v: 0n }
    await fill([storeA, storeB], keysCatchup.groupId, messages(keysCatchup, authors, seqsC, common, lamC))
    const missed: StorableMessage[] = []
    const keep = function * (source: Generator<StorableMessage>): Generator<StorableMessage> { for (const m of source) { missed.push(m); yield m } }
    const missedBytes = await fill([storeA], keysCatchup.groupId, keep(messages(keysCatchup, authors, seqsC, MISSED, lamC)))
    const seqsB = authors.map(() => 0n)
    const lamB = { v: 0n }
    const bigBytes = await fill([storeA, storeB], keysBig.groupId, messages(keysBig, authors, seqsB, MESSAGES, lamB))
    console.log(`filled stores in ${fmt(Date.now() - t)} ms: catchup ${fmt(common)} common + ${fmt(MISSED)} only at A (${kib(missedBytes)} of envelopes); big ${fmt(MESSAGES)} at both (${kib(bigBytes)}), ${AUTHORS} authors`)
    // one record only A holds, for the third figure
    const extra = storable(sealInOrder(keysBig, authors[0], { seq: seqsB[0] + 1n, lamport: lamB.v + 1n, timestamp: Date.now(), text: 'one more', name: 'author-0' }))
    await storeA.close()
    await storeB.close()

    // baseline: open and store the same records locally, in batches as sync does
    const local = new HistoryStore(join(root, 'local'))
    await local.open()
    const tl = process.hrtime.bigint()
    for (let i = 0; i < missed.length; i += 500) {
      const batch = missed.slice(i, i + 500)
      for (const m of batch) if (!open(keysCatchup, m.bytes).ok) throw new Error('a generated record does not open')
      await local.appendMany(keysCatchup.groupId, batch)
    }
    const localMs = Number(process.hrtime.bigint() - tl) / 1e6
    await local.close()

    a = new ChatNode({ dataDir: dirA, ...init })
    b = new ChatNode({ dataDir: dirB, ...init })
    await a.start()
    await b.start()
    const tcpPort = Number(a.addresses[0].split('/')[4])
    const px = await proxy(tcpPort)
    try {
      await b.dial(`/ip4/127.0.0.1/tcp/${px.port}/p2p/${a.peerId}`)
      while (b.groupPeers('big').length < 1 || b.groupPeers('catchup').length < 1) await new Promise(resolve => setTimeout(resolve, 20))
      // let identify and gossipsub's first exchanges pass
      await new Promise(resolve => setTimeout(resolve, 1500))

      const round = async (topicId: string): Promise<{ ms: number, wire: number, summary: Awaited<ReturnType<ChatNode['sync']>> }> => {
        px.counters.up = 0
        px.counters.down = 0
        const started = process.hrtime.bigint()
        const summary = await b.sync(topicId)
        const ms = Number(process.hrtime.bigint() - started) / 1e6
        return { ms, wire: px.counters.up + px.counters.down, summary }
      }

      const c = await round('catchup')
      console.log(`\ncatch-up, ${fmt(MISSED)} missed messages: ${c.ms.toFixed(0)} ms (${fmt(Math.round(c.summary.received / (c.ms / 1000)))} msg/s), received ${fmt(c.summary.received)}`)
      console.log(`  wire ${kib(c.wire)} (${(c.wire / c.summary.received).toFixed(0)} B/message; envelopes alone ${kib(missedBytes)}), sync stream payload ${kib(c.summary.bytesIn + c.summary.bytesOut)}`)

      const cold = await round('big')
      const warm = await round('big')
      console.log(`\nin sync at ${fmt(MESSAGES)} messages, one round:`)
      console.log(`  first (each side scans its index once): ${cold.ms.toFixed(0)} ms, wire ${fmt(cold.wire)} B, sync stream payload ${fmt(cold.summary.bytesIn + cold.summary.bytesOut)} B, received ${cold.summary.received}`)
      console.log(`  next: ${warm.ms.toFixed(1)} ms, wire ${fmt(warm.wire)} B, sync stream payload ${fmt(warm.summary.bytesIn + warm.summary.bytesOut)} B`)

      // one record only A holds (stored without gossip, as if the publish had been lost)
      await (a as unknown as { running: { store: HistoryStore } }).running.store.append(keysBig.groupId, extra)
      const one = await round('big')
      console.log(`  one message apart: ${one.ms.toFixed(1)} ms, wire ${fmt(one.wire)} B, sync stream payload ${fmt(one.summary.bytesIn + one.summary.bytesOut)} B, received ${one.summary.received}`)
      if (c.summary.received !== MISSED) throw new Error(`catch-up received ${c.summary.received} of ${MISSED}`)
      const idList = MESSAGES * 32
      const rows = [
        { figure: `catch-up, ${fmt(MISSED)} missed messages: time`, value: Math.round(c.ms), unit: 'ms', baseline: 'open + store the same records locally', baselineValue: Math.round(localMs) },
        { figure: `catch-up, ${fmt(MISSED)} missed messages: bytes on the wire`, value: Math.round(c.wire / 1024), unit: 'KiB', baseline: 'the envelopes alone', baselineValue: Math.round(missedBytes / 1024) },
        { figure: `in sync at ${fmt(MESSAGES)}: one round (first), bytes on the wire`, value: cold.wire, unit: 'B', baseline: 'every message id once (naive)', baselineValue: idList },
        { figure: `in sync at ${fmt(MESSAGES)}: one round (next), bytes on the wire`, value: warm.wire, unit: 'B', baseline: 'every message id once (naive)', baselineValue: idList },
        { figure: `in sync at ${fmt(MESSAGES)}: one message apart, bytes on the wire`, value: one.wire, unit: 'B', baseline: 'every message id once (naive)', baselineValue: idList }
      ]
      console.log(JSON.stringify({ bench: 'sync', rows }))
    } finally {
      for (const sock of px.sockets) sock.destroy()
      px.server.close()
      await b.stop()
      await a.stop()
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
