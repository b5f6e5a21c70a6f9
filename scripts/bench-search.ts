/**
 * Search benchmark (issue 18): the LevelDB inverted index of src/chat/search.ts
 * over a history of `--messages` (default 100,000) sealed messages of 10
 * authors, words drawn from a 20,000-word vocabulary with a Zipf-like
 * frequency (a few words everywhere, most rare), 6 to 20 words a message.
 *
 *   1. the history is stored as a node without the index had stored it, then
 *      backfilled (SearchIndex.ensure): time, and the history on disk before
 *      and after (after a close, which turns the log into tables);
 *   2. `--queries` (default 300) queries, a third each of a rare word, a
 *      common word and two words: latency p50 / p99 (limit 20 results);
 *   3. the write path: 10,000 more messages appended in batches with their
 *      index entries, beside the same appends without.
 *
 * Baselines, measured in the same run: for a query, reading and decrypting
 * every message and matching its text (what a search without an index does;
 * a few runs); for the backfill, reading and decrypting alone; for the disk,
 * the history without the index. The last stdout line is the runner's
 * {"bench":"search","rows":[…]}.
 *
 *   npx tsc -p tsconfig.json && ./node_modules/.bin/node dist/scripts/bench-search.js [--quick] [--messages N] [--queries N]
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { Level } from 'level'
import { deriveGroupKeys, ed25519Signer, peek, sealInOrder } from '../src/envelope/index.js'
import { HistoryStore } from '../src/store/index.js'
import { SearchIndex, indexFields, searchTerms } from '../src/chat/search.js'
import type { Group } from '../src/groups/index.js'
import type { OpenedMessage, Signer } from '../src/envelope/index.js'
import type { StorableMessage } from '../src/store/index.js'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    messages: { type: 'string' },
    queries: { type: 'string' }
  }
})
const MESSAGES = Number(values.messages ?? (values.quick ? 10_000 : 100_000))
const QUERIES = Number(values.queries ?? (values.quick ? 60 : 300))
const APPENDED = values.quick ? 2000 : 10_000
const VOCABULARY = 20_000
const AUTHORS = 10

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]

/** deterministic pseudo-random numbers (mulberry32), so that every run searches the same history */
function rng (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const random = rng(18)

/** pronounceable made-up words, the first ones short (frequent words are short) */
const vocabulary: string[] = []
const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'to', 've', 'zi', 'po', 'da', 'fe', 'gu', 'hi', 'jo', 'bu']
for (let i = 0; vocabulary.length < VOCABULARY; i++) {
  let n = i
  let w = ''
  do { w += syllables[n % syllables.length]; n = Math.floor(n / syllables.length) } while (n > 0)
  vocabulary.push(w)
}
/** Zipf-like: the word of rank r is drawn with weight 1 / (r + 1) */
const cumulative: number[] = []
let sum = 0
for (let r = 0; r < VOCABULARY; r++) { sum += 1 / (r + 1); cumulative.push(sum) }
function word (): string {
  const x = random() * sum
  let lo = 0
  let hi = VOCABULARY - 1
  while (lo < hi) { const mid = (lo + hi) >> 1; if (cumulative[mid] < x) lo = mid + 1; else hi = mid }
  return vocabulary[lo]
}
const text = (): string => Array.from({ length: 6 + Math.floor(random() * 15) }, word).join(' ')

const storable = (m: OpenedMessage): StorableMessage => ({ id: m.id, bytes: m.bytes, author: m.envelope.author, seq: m.envelope.seq, lamport: m.envelope.lamport, timestamp: m.envelope.timestamp })

async function dirBytes (dir: string): Promise<number> {
  let total = 0
  for (const f of await readdir(dir)) total += (await stat(join(dir, f))).size
  return total
}

async function reopen (dir: string): Promise<void> {
  const s = new HistoryStore(dir)
  await s.open()
  await s.close()
}

async function main (): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-search-'))
  const secret = new Uint8Array(randomBytes(32))
  const group: Group = { topicId: 'bench', secret, keys: deriveGroupKeys('bench', secret), joinedAt: Date.now() }
  const gid = group.keys.groupId
  const authors: Signer[] = Array.from({ length: AUTHORS }, () => ed25519Signer(randomBytes(32)))
  const self = ed25519Signer(randomBytes(32))
  const seqs = authors.map(() => 0n)
  let lamport = 0n
  const next = (): OpenedMessage => {
    const k = Number(lamport % BigInt(AUTHORS))
    lamport++
    return sealInOrder(group.keys, authors[k], { seq: ++seqs[k], lamport, timestamp: 1_750_000_000_000 + Number(lamport), text: text(), name: `author-${k}` })
  }
  try {
    // 1. history without the index, as an older node stored it
    const dir = join(root, 'history')
    let store = new HistoryStore(dir)
    await store.open()
    let t = performance.now()
    let batch: StorableMessage[] = []
    for (let i = 0; i < MESSAGES; i++) {
      batch.push(storable(next()))
      if (batch.length === 2000) { await store.appendMany(gid, batch); batch = [] }
    }
    if (batch.length > 0) await store.appendMany(gid, batch)
    await store.close()
    // once more open and closed: the write-ahead log becomes a table, as on a node's next start
    await reopen(dir)
    const bytesBefore = await dirBytes(dir)
    console.log(`stored ${fmt(MESSAGES)} messages in ${fmt(performance.now() - t)} ms: ${(bytesBefore / 1048576).toFixed(1)} MiB on disk`)

    store = new HistoryStore(dir)
    await store.open()
    // the backfill's baseline: read and decrypt every record
    t = performance.now()
    let opened = 0
    for await (const r of store.iterate(gid)) if (peek(group.keys, r.bytes).ok) opened++
    const readMs = performance.now() - t
    const index = new SearchIndex(store, self.publicKey)
    t = performance.now()
    let reports = 0
    await index.ensure(group, () => { reports++ })
    const backfillMs = performance.now() - t
    await store.close()
    await reopen(dir)
    const bytesAfter = await dirBytes(dir)
    console.log(`backfill: ${fmt(backfillMs)} ms (${reports} progress reports; reading and decrypting alone ${fmt(readMs)} ms for ${fmt(opened)}); on disk ${(bytesAfter / 1048576).toFixed(1)} MiB with the index (${(bytesBefore / 1048576).toFixed(1)} MiB without)`)
    // LevelDB compacts the fresh tables in the background for a while: done here at once, so that queries meet the steady state
    t = performance.now()
    const raw = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await raw.open()
    // classic-level has it; level's types do not say so
    await (raw as unknown as { compactRange: (start: string, end: string) => Promise<void> }).compactRange('!', '~')
    await raw.close()
    const bytesCompacted = await dirBytes(dir)
    console.log(`compacted in ${fmt(performance.now() - t)} ms: ${(bytesCompacted / 1048576).toFixed(1)} MiB`)

    // 2. queries
    store = new HistoryStore(dir)
    await store.open()
    const reader = new SearchIndex(store, self.publicKey)
    const queries: Array<{ q: string, kind: string }> = []
    for (let i = 0; i < QUERIES; i++) {
      const kind = ['rare', 'common', 'two words'][i % 3]
      const rare = vocabulary[2000 + Math.floor(random() * (VOCABULARY - 2000))]
      const common = vocabulary[Math.floor(random() * 50)]
      queries.push({ kind, q: kind === 'rare' ? rare : kind === 'common' ? common : `${vocabulary[Math.floor(random() * 500)]} ${vocabulary[500 + Math.floor(random() * 3000)]}` })
    }
    await reader.search(group, queries[0].q) // warm the caches once
    const latency: number[] = []
    const byKind = new Map<string, number[]>()
    let hits = 0
    for (const { q, kind } of queries) {
      t = performance.now()
      const r = await reader.search(group, q, { limit: 20 })
      const ms = performance.now() - t
      latency.push(ms)
      byKind.set(kind, [...(byKind.get(kind) ?? []), ms])
      hits += r.length
    }
    latency.sort((a, b) => a - b)
    const p50 = percentile(latency, 0.5)
    const p99 = percentile(latency, 0.99)
    console.log(`${QUERIES} queries at ${fmt(MESSAGES)}: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${latency[latency.length - 1].toFixed(1)} ms; ${fmt(hits)} results`)
    for (const [kind, l] of byKind) { l.sort((a, b) => a - b); console.log(`  ${kind}: p50 ${percentile(l, 0.5).toFixed(2)} ms, p99 ${percentile(l, 0.99).toFixed(2)} ms`) }
    // baseline: no index, read, decrypt and match everything (a rare word: every record must be looked at anyway)
    const scans: number[] = []
    for (let i = 0; i < (values.quick ? 2 : 3); i++) {
      const terms = searchTerms(queries[(i * 3) % queries.length].q)
      t = performance.now()
      let found = 0
      for await (const r of store.iterate(gid)) {
        const p = peek(group.keys, r.bytes)
        if (!p.ok) continue
        const have = new Set(searchTerms(p.message.body.text))
        if (terms.every(x => have.has(x))) found++
      }
      scans.push(performance.now() - t)
      if (found < 0) console.log(found)
    }
    scans.sort((a, b) => a - b)
    const scanMs = percentile(scans, 0.5)
    console.log(`no index (scan and decrypt all): ${fmt(scanMs)} ms a query`)
    const heap = process.memoryUsage()
    console.log(`heap ${(heap.heapUsed / 1048576).toFixed(0)} MiB, rss ${(heap.rss / 1048576).toFixed(0)} MiB (the index lives on disk)`)

    // 3. the write path: appends with their index entries beside appends without
    const appendRun = async (withIndex: boolean): Promise<number> => {
      const s = new HistoryStore(join(root, `append-${withIndex ? 'index' : 'plain'}`))
      await s.open()
      const msgs = Array.from({ length: APPENDED }, next)
      const begin = performance.now()
      for (let i = 0; i < msgs.length; i += 256) {
        await s.appendMany(gid, msgs.slice(i, i + 256).map(m => withIndex ? { ...storable(m), ...indexFields(group, m) } : storable(m)))
      }
      const ms = performance.now() - begin
      await s.close()
      return ms
    }
    const plainMs = await appendRun(false)
    const indexedMs = await appendRun(true)
    console.log(`appending ${fmt(APPENDED)} messages in batches of 256: ${fmt(indexedMs)} ms with the index, ${fmt(plainMs)} ms without`)
    await store.close()

    const rows = [
      { figure: `search at ${fmt(MESSAGES)} messages: query p50 (${QUERIES} queries, 20 results)`, value: Number(p50.toFixed(2)), unit: 'ms', baseline: 'no index: read, decrypt and match every message', baselineValue: Math.round(scanMs) },
      { figure: `search at ${fmt(MESSAGES)} messages: query p99`, value: Number(p99.toFixed(2)), unit: 'ms', baseline: 'no index: read, decrypt and match every message', baselineValue: Math.round(scanMs) },
      { figure: `search index backfill of ${fmt(MESSAGES)} messages`, value: Math.round(backfillMs), unit: 'ms', baseline: 'reading and decrypting them alone', baselineValue: Math.round(readMs) },
      { figure: `history on disk at ${fmt(MESSAGES)} with the search index (compacted)`, value: Number((bytesCompacted / 1048576).toFixed(1)), unit: 'MiB', baseline: 'without the index', baselineValue: Number((bytesBefore / 1048576).toFixed(1)) },
      { figure: `writing ${fmt(APPENDED)} messages with their index entries`, value: Math.round(indexedMs), unit: 'ms', baseline: 'the same writes without', baselineValue: Math.round(plainMs) }
    ]
    console.log(JSON.stringify({ bench: 'search', rows }))
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
