/**
 * Issue 18, for the note: what the message kinds cost on history reads and
 * on ingest. One node, no network: a group of N messages (default 10,000),
 * 20% of them reactions and edits (12% reactions by "members", 8% edits),
 * 10% of the texts replies, 1% of the texts deleted. In the same run:
 *
 * - history (raw, every record) vs view (folded, src/chat/view.ts): the whole
 *   group in one page, the newest page of 50, and a page of 50 deep in
 *   history (before the 80% mark: the fold reads everything above it);
 * - the pure fold alone (foldView on messages already read);
 * - ingest (ChatNode.ingest, what gossip and sync call) of the same records
 *   into a fresh node, vs as many plain texts.
 *
 *   npx tsc -p tsconfig.json && P2P_CHAT_NO_PUBLIC_NETWORK=1 node dist/scripts/bench-kinds.js [N] [rounds]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChatNode } from '../src/node.js'
import { foldView, toChatMessage } from '../src/chat/index.js'
import { peek } from '../src/envelope/index.js'
import { median, msSince, nowNs } from './bench-common.js'
import { storeOf } from './bench-local.js'
import type { ChatMessage } from '../src/chat/index.js'
import type { Group } from '../src/groups/index.js'

const N = Number(process.argv[2] ?? 10_000)
const ROUNDS = Number(process.argv[3] ?? 5)
/** fresh nodes per ingest variant (each takes in every record) */
const INGEST_ROUNDS = 3
const TOPIC = 'bench-kinds'
const EMOJIS = ['👍', '❤️', '😂', '🎉', '👀']

/** The node's Group of a topic (a bench reaches into the node; the API has no use for it) */
function groupOf (node: ChatNode, topicId: string): Group {
  return (node as unknown as { running: { registry: { require: (t: string) => Group } } }).running.registry.require(topicId)
}

async function startNode (dirs: string[]): Promise<ChatNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-kinds-'))
  dirs.push(dataDir)
  const node = new ChatNode({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, name: 'bench', maxQueuedSends: 100_000 })
  await node.start()
  return node
}

async function time (fn: () => Promise<unknown>): Promise<number> {
  const start = nowNs()
  await fn()
  return msSince(start)
}

async function rounds (fn: () => Promise<unknown>): Promise<number> {
  await fn() // warm-up
  const out: number[] = []
  for (let i = 0; i < ROUNDS; i++) out.push(await time(fn))
  return median(out)
}

async function main (): Promise<void> {
  const dirs: string[] = []
  const a = await startNode(dirs)
  try {
    await a.createGroup(TOPIC)
    // fill: in batches, so that the group commit writes many at once
    const texts: string[] = []
    let acts = 0
    let deletes = 0
    // N records in all, the deletes among them
    const n = N - Math.floor(N / 100 * 0.8)
    const fillStart = nowNs()
    const BATCH = 256
    for (let i = 0; i < n;) {
      const jobs: Array<Promise<ChatMessage>> = []
      for (let j = 0; j < BATCH && i < n; j++, i++) {
        const r = (i * 7919) % 100
        const recent = texts.length > 0 ? texts[texts.length - 1 - ((i * 31) % Math.min(texts.length, 200))] : undefined
        if (recent != null && r < 12) {
          jobs.push(a.react(TOPIC, recent, EMOJIS[i % EMOJIS.length], { remove: i % 9 === 0 }))
          acts++
        } else if (recent != null && r < 20) {
          jobs.push(a.edit(TOPIC, recent, `edited text ${i} `.padEnd(100, '.')))
          acts++
        } else if (recent != null && r < 28) {
          jobs.push(a.reply(TOPIC, recent, `a reply ${i} `.padEnd(100, '.')))
        } else {
          jobs.push(a.send(TOPIC, `message ${i} `.padEnd(128, '.')))
        }
      }
      for (const m of await Promise.all(jobs)) if (m.kind === 'text') texts.push(m.id)
    }
    // 1% of the texts deleted (each delete is a record too: the group stays at N records)
    for (let k = 0; k * 100 < texts.length && deletes < N / 100; k++) {
      await a.deleteMessage(TOPIC, texts[k * 100])
      deletes++
    }
    const fillMs = msSince(fillStart)
    // let the deletes' background work (dropping the originals) finish
    await new Promise(resolve => setTimeout(resolve, 500))
    const raw = await a.history(TOPIC, { limit: 10_000 })
    const records = raw.messages.length
    const view = await a.view(TOPIC, { limit: 10_000 })
    const deep = (await a.view(TOPIC, { limit: 10_000 })).messages[Math.floor(view.messages.length * 0.8)]?.cursor

    const group = groupOf(a, TOPIC)
    const self = (a as unknown as { running: { signer: { publicKey: Uint8Array } } }).running.signer.publicKey
    const peekRead = async (limit: number): Promise<ChatMessage[]> => {
      const page = await storeOf(a).history(group.keys.groupId, { limit })
      return page.records.flatMap(r => { const p = peek(group.keys, r.bytes); return p.ok ? [toChatMessage(group, p.message, self)] : [] })
    }
    const results = {
      records,
      shown: view.messages.length,
      acts,
      deletes,
      fillMs: Math.round(fillMs),
      rawAllMs: await rounds(async () => a.history(TOPIC, { limit: 10_000 })),
      viewAllMs: await rounds(async () => a.view(TOPIC, { limit: 10_000 })),
      rawPageMs: await rounds(async () => a.history(TOPIC, { limit: 50 })),
      viewPageMs: await rounds(async () => a.view(TOPIC, { limit: 50 })),
      rawDeepPageMs: await rounds(async () => a.history(TOPIC, { limit: 50, before: deep })),
      // what view reads, without the fold: the records, peeked (no signature check) and made messages
      peekAllMs: await rounds(async () => peekRead(10_000)),
      peekPageMs: await rounds(async () => peekRead(Math.round(50 * records / view.messages.length))),
      viewDeepPageMs: await rounds(async () => a.view(TOPIC, { limit: 50, before: deep })),
      foldOnlyMs: await rounds(async () => foldView(raw.messages)),
      ingestKindsMs: 0,
      ingestKindsQuietMs: 0,
      ingestTextsMs: 0
    }

    // ingest: the same sealed records into a fresh node (gossip's path), vs as many texts
    const host = a.backupHost()
    const bg = host.groups()[0]
    const sealed: Uint8Array[] = []
    for await (const bytes of host.records(bg)) sealed.push(bytes)
    const textsNode = await startNode(dirs)
    await textsNode.createGroup('plain')
    const plain: Uint8Array[] = []
    for (let i = 0; i < sealed.length;) {
      const jobs: Array<Promise<ChatMessage>> = []
      for (let j = 0; j < BATCH && i < sealed.length; j++, i++) jobs.push(textsNode.send('plain', `message ${i} `.padEnd(128, '.')))
      await Promise.all(jobs)
    }
    const ph = textsNode.backupHost()
    for await (const bytes of ph.records(ph.groups()[0])) plain.push(bytes)
    const ingestAll = async (node: ChatNode, group: Group, list: Uint8Array[]): Promise<number> => time(async () => {
      for (let i = 0; i < list.length; i += 64) await Promise.all(list.slice(i, i + 64).map(async b => node.ingest(group, b, 'bench', 'sync')))
    })
    /** a fresh node takes the records in; `live`: a listener on `updated` (as with the API running: live updates are worked out too) */
    const ingestFresh = async (topicId: string, secret: string, list: Uint8Array[], live: boolean): Promise<number> => {
      const node = await startNode(dirs)
      try {
        await node.joinGroup({ topicId, secret })
        if (live) node.on('updated', () => {})
        return await ingestAll(node, groupOf(node, topicId), list)
      } finally {
        await node.stop()
      }
    }
    const kinds: number[] = []
    const plainMs: number[] = []
    const quiet: number[] = []
    for (let r = 0; r < INGEST_ROUNDS; r++) {
      plainMs.push(await ingestFresh('plain', textsNode.secret('plain'), plain, true))
      kinds.push(await ingestFresh(TOPIC, a.secret(TOPIC), sealed, true))
      quiet.push(await ingestFresh(TOPIC, a.secret(TOPIC), sealed, false))
    }
    results.ingestKindsMs = median(kinds)
    results.ingestTextsMs = median(plainMs)
    results.ingestKindsQuietMs = median(quiet)
    await textsNode.stop()

    const f = (ms: number): string => ms.toFixed(1).padStart(9)
    const rows = [
      ['whole group, one page', results.rawAllMs, results.viewAllMs, results.peekAllMs],
      ['newest page of 50', results.rawPageMs, results.viewPageMs, results.peekPageMs],
      ['page of 50 at 80% depth', results.rawDeepPageMs, results.viewDeepPageMs, NaN]
    ]
    process.stdout.write(`history of ${records} records (${acts} reactions and edits, ${deletes} deletes; ${results.shown} messages shown), median of ${ROUNDS} rounds\n`)
    process.stdout.write('raw: GET …/messages (open(): signature checked again); view: GET …/view (peek, decoded records kept, fold); peek: the records view reads, peeked, no fold\n')
    process.stdout.write(`${'read'.padEnd(26)} ${'raw ms'.padStart(9)} ${'view ms'.padStart(9)} ${'peek ms'.padStart(9)}  view/raw\n`)
    for (const [what, r, v, pk] of rows) process.stdout.write(`${String(what).padEnd(26)} ${f(Number(r))} ${f(Number(v))} ${Number.isNaN(Number(pk)) ? '        -' : f(Number(pk))}  ${(Number(v) / Number(r)).toFixed(2)}x\n`)
    process.stdout.write(`fold alone (foldView, ${records} messages read already): ${results.foldOnlyMs.toFixed(1)} ms\n`)
    process.stdout.write(`ingest into a fresh node (median of ${INGEST_ROUNDS}): the ${sealed.length} records ${results.ingestKindsMs.toFixed(0)} ms (${results.ingestKindsQuietMs.toFixed(0)} ms with nobody listening to updated); ${plain.length} plain texts ${results.ingestTextsMs.toFixed(0)} ms: ${(results.ingestKindsMs / results.ingestTextsMs).toFixed(2)}x\n`)
    process.stdout.write(JSON.stringify({ bench: 'kinds', ...results }) + '\n')
  } finally {
    await a.stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`); process.exit(1) })
