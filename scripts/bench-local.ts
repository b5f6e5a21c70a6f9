/**
 * Single-machine scenarios of the benchmark runner (scripts/bench.ts):
 *   3. seal and open beside the node:crypto primitives they use
 *   4. HistoryStore append and ordered reads beside raw `level`
 *   8. start-up time and footprint of `p2p-chat start` beside a bare `node`
 * Each returns table rows; baselines are measured in the same run, interleaved.
 */
import { spawn } from 'node:child_process'
import { createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, createSecretKey, randomBytes, randomFillSync, sign, verify } from 'node:crypto'
import { once } from 'node:events'
import { statSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Level } from 'level'
import { HISTORY_DIR } from '../src/config.js'
import { Envelope, Signed, deriveGroupKeys, ed25519Signer, open, sealInOrder } from '../src/envelope/index.js'
import { GroupRegistry } from '../src/groups/index.js'
import { loadOrCreateIdentity } from '../src/identity.js'
import { HistoryStore, Journal, keys as storeKeys } from '../src/store/index.js'
import { TEXT_BYTES, benchName, median, msSince, nowNs, sleep } from './bench-common.js'
import type { GroupKeys, OpenedMessage, Signer } from '../src/envelope/index.js'
import type { StorableMessage } from '../src/store/index.js'
import type { ChatNode } from '../src/node.js'

export interface Row {
  /** scenario label, e.g. "1 latency" */
  scenario: string
  figure: string
  value: number
  unit: string
  baseline: string
  baselineValue: number
  /** cost of the figure relative to its baseline: 1 = same, above 1 = the chat path costs more */
  ratio: number
  note?: string
}

/** A running node's history store (a benchmark reaches into the node; the API has no use for it) */
export function storeOf (node: ChatNode): HistoryStore {
  return (node as unknown as { running: { store: HistoryStore } }).running.store
}

/** ratio as cost: lower-is-better figures divide, higher-is-better ones invert */
export function costRatio (value: number, baseline: number, better: 'lower' | 'higher'): number {
  if (!Number.isFinite(value) || !Number.isFinite(baseline) || value === 0 || baseline === 0) {
    if (value === baseline) return 1
    return better === 'lower' ? (baseline === 0 ? Infinity : value / baseline) : (value === 0 ? Infinity : baseline / value)
  }
  return better === 'lower' ? value / baseline : baseline / value
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const CLI = join(ROOT, 'bin', 'p2p-chat.js')

// ---------------------------------------------------------------------------
// 3. seal and open
// ---------------------------------------------------------------------------

/** Operations per second of `fn`, run for about `ms` milliseconds. */
function opsPerSecond (fn: () => unknown, ms: number): number {
  const start = nowNs()
  const limit = BigInt(Math.round(ms * 1e6))
  let n = 0
  let elapsed: bigint
  do {
    for (let i = 0; i < 32; i++) fn()
    n += 32
    elapsed = nowNs() - start
  } while (elapsed < limit)
  return n / (Number(elapsed) / 1e9)
}

export function sampleText (bytes = TEXT_BYTES): string {
  const head = 'bench|0|0|0|'
  return head + '.'.repeat(Math.max(0, bytes - head.length))
}

export function benchMessage (keys: GroupKeys, signer: Signer, seq: number, text = sampleText()): OpenedMessage {
  return sealInOrder(keys, signer, { seq: BigInt(seq), lamport: BigInt(seq), timestamp: Date.now(), text, name: benchName(0) })
}

export interface SealOpenResult { rows: Row[], perOpMicros: Record<string, number>, sizes: Record<string, number> }

export async function sealOpenScenario (quick: boolean): Promise<SealOpenResult> {
  const keys = deriveGroupKeys('bench', randomBytes(32))
  const seed = randomBytes(32)
  const signer = ed25519Signer(seed)
  const text = sampleText()
  const sample = benchMessage(keys, signer, 1000, text)
  const envelopeBytes = sample.bytes.byteLength
  // envelope version 2 (see src/envelope/seal.ts): the padded plaintext is the ciphertext less its tag
  const outer = Envelope.decode(sample.bytes)
  const plainBytes = outer.ciphertext.byteLength - 16
  const signedBytes = Signed.encode({ author: sample.envelope.author as Uint8Array<ArrayBuffer>, seq: sample.envelope.seq, lamport: sample.envelope.lamport, timestamp: sample.envelope.timestamp, kind: sample.envelope.kind, prev: sample.envelope.prev as Uint8Array<ArrayBuffer>, parents: [], body: sample.body }).byteLength
  // what seal and open feed each primitive, byte for byte
  const macInput = randomBytes(envelopeBytes - 34)
  const signedInput = randomBytes('p2p-chat/envelope-signature/2\n'.length + keys.wireTopic.length + 4 + signedBytes)
  const aad = randomBytes(keys.wireTopic.length + 5)
  const plain = randomBytes(plainBytes)
  const signedId = randomBytes(signedBytes)
  const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' })
  const publicKey = createPublicKey(privateKey)
  const signature = sign(null, signedInput, privateKey)
  // the primitives as cheaply as node:crypto offers them: keys as KeyObjects made once, nonces cut from a random pool
  const encKey = createSecretKey(keys.encKey)
  const macKey = createSecretKey(keys.macKey)
  const pool = Buffer.alloc(12 * 1024)
  let poolOffset = pool.byteLength
  const nonceFromPool = (): Buffer => {
    if (poolOffset === pool.byteLength) { randomFillSync(pool); poolOffset = 0 }
    poolOffset += 12
    return pool.subarray(poolOffset - 12, poolOffset)
  }
  const nonce = randomBytes(12)
  const enc = createCipheriv('chacha20-poly1305', encKey, nonce, { authTagLength: 16 })
  enc.setAAD(aad, { plaintextLength: plain.byteLength })
  const ciphertext = Buffer.concat([enc.update(plain), enc.final()])
  const tag = enc.getAuthTag()

  let seq = 1
  const ops: Record<string, () => unknown> = {
    seal: () => benchMessage(keys, signer, seq++, text),
    open: () => { if (!open(keys, sample.bytes).ok) throw new Error('open failed') },
    'random nonce (12 B, pooled)': nonceFromPool,
    'ChaCha20-Poly1305 encrypt': () => {
      const c = createCipheriv('chacha20-poly1305', encKey, nonce, { authTagLength: 16 })
      c.setAAD(aad, { plaintextLength: plain.byteLength })
      return [c.update(plain), c.final(), c.getAuthTag()]
    },
    'ChaCha20-Poly1305 decrypt': () => {
      const d = createDecipheriv('chacha20-poly1305', encKey, nonce, { authTagLength: 16 })
      d.setAAD(aad, { plaintextLength: ciphertext.byteLength })
      d.setAuthTag(tag)
      return [d.update(ciphertext), d.final()]
    },
    'Ed25519 sign': () => sign(null, signedInput, privateKey),
    'Ed25519 verify': () => { if (!verify(null, signedInput, publicKey, signature)) throw new Error('verify failed') },
    'HMAC-SHA256': () => createHmac('sha256', macKey).update(macInput).digest(),
    'SHA-256 (message id)': () => createHash('sha256').update(signedId).digest()
  }
  const rounds = quick ? 3 : 7
  const slice = quick ? 60 : 250
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(ops).map(k => [k, []]))
  for (const fn of Object.values(ops)) opsPerSecond(fn, 20) // warm up
  // interleaved rounds: a noisy neighbour hits figure and baseline alike
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(ops)) samples[name].push(opsPerSecond(fn, slice))
  }
  const perOpMicros = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, 1e6 / median(v)]))
  const sealParts = ['random nonce (12 B, pooled)', 'ChaCha20-Poly1305 encrypt', 'Ed25519 sign', 'HMAC-SHA256', 'SHA-256 (message id)']
  const openParts = ['HMAC-SHA256', 'Ed25519 verify', 'ChaCha20-Poly1305 decrypt', 'SHA-256 (message id)']
  const sum = (parts: string[]): number => parts.reduce((s, p) => s + perOpMicros[p], 0)
  const sealRate = 1e6 / perOpMicros.seal
  const openRate = 1e6 / perOpMicros.open
  const sealBase = 1e6 / sum(sealParts)
  const openBase = 1e6 / sum(openParts)
  const rows: Row[] = [
    { scenario: '3 seal/open', figure: `seal (${envelopeBytes} B envelope), one core`, value: sealRate, unit: 'msg/s', baseline: 'its primitives: nonce+ChaCha+sign+HMAC+SHA-256', baselineValue: sealBase, ratio: costRatio(sealRate, sealBase, 'higher') },
    { scenario: '3 seal/open', figure: 'open (verify all, decrypt), one core', value: openRate, unit: 'msg/s', baseline: 'its primitives: HMAC+verify+ChaCha+SHA-256', baselineValue: openBase, ratio: costRatio(openRate, openBase, 'higher') }
  ]
  return { rows, perOpMicros, sizes: { envelopeBytes, plainBytes, signedBytes, macInput: macInput.byteLength, signedInput: signedInput.byteLength } }
}

// ---------------------------------------------------------------------------
// 4. store
// ---------------------------------------------------------------------------

/** Sealed messages from a few authors, as a group's history would hold them */
export function makeSigners (authors = 4): Signer[] {
  return Array.from({ length: authors }, () => ed25519Signer(randomBytes(32)))
}

/** Records `offset` .. `offset + count - 1` of a history written round-robin by `signers` */
export function makeRecords (keys: GroupKeys, signers: Signer[], count: number, offset = 0): StorableMessage[] {
  const text = sampleText()
  const out: StorableMessage[] = []
  for (let j = 0; j < count; j++) {
    const i = offset + j
    const a = i % signers.length
    const m = sealInOrder(keys, signers[a], { seq: BigInt(Math.floor(i / signers.length) + 1), lamport: BigInt(i + 1), timestamp: Date.now(), text, name: benchName(a) })
    out.push({ id: m.id, bytes: m.bytes, author: m.envelope.author, seq: m.envelope.seq, lamport: m.envelope.lamport, timestamp: m.envelope.timestamp })
  }
  return out
}

function rawKey (groupId: string, m: StorableMessage): string {
  return storeKeys.historyKey(groupId, storeKeys.sortKey(m.lamport, m.timestamp, Buffer.from(m.id).toString('hex')))
}

export interface StoreResult { rows: Row[], records: number, details: Record<string, number> }

export async function storeScenario (quick: boolean): Promise<StoreResult> {
  const count = quick ? 5_000 : 100_000
  const singles = quick ? 1_000 : 10_000
  const batchSize = 1000
  const page = 1000
  const keys = deriveGroupKeys('bench', randomBytes(32))
  const gid = keys.groupId
  const records = makeRecords(keys, makeSigners(), count)
  const base = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-store-'))
  const store = new HistoryStore(join(base, 'store'))
  const raw = new Level<string, Uint8Array>(join(base, 'raw'), { keyEncoding: 'utf8', valueEncoding: 'view' })
  const storeOne = new HistoryStore(join(base, 'store-one'))
  const rawOne = new Level<string, Uint8Array>(join(base, 'raw-one'), { keyEncoding: 'utf8', valueEncoding: 'view' })
  const d: Record<string, number> = {}
  try {
    await Promise.all([store.open(), raw.open(), storeOne.open(), rawOne.open()])
    // batch writes, interleaved batch by batch so both see the same machine
    let storeMs = 0
    let rawMs = 0
    for (let i = 0; i < count; i += batchSize) {
      const chunk = records.slice(i, i + batchSize)
      let t = nowNs()
      await store.appendMany(gid, chunk)
      storeMs += msSince(t)
      t = nowNs()
      const b = raw.batch()
      for (const m of chunk) b.put(rawKey(gid, m), m.bytes)
      await b.write()
      rawMs += msSince(t)
    }
    d.appendManyPerS = count / (storeMs / 1000)
    d.rawBatchPerS = count / (rawMs / 1000)
    // one record per call, awaited, as gossip ingest stores them (with the group's seq index
    // built, as a running node builds it when it subscribes)
    await storeOne.seqIndex(gid)
    storeMs = 0
    rawMs = 0
    for (let i = 0; i < singles; i++) {
      const m = records[i]
      let t = nowNs()
      await storeOne.append(gid, m)
      storeMs += msSince(t)
      t = nowNs()
      await rawOne.put(rawKey(gid, m), m.bytes)
      rawMs += msSince(t)
    }
    d.appendOnePerS = singles / (storeMs / 1000)
    d.rawPutOnePerS = singles / (rawMs / 1000)
    // the history journal (src/store/journal.ts): one record appended synchronously, as a claim does it, beside
    // the awaited LevelDB put it lets gossip skip
    const journal = new Journal(join(base, 'journal'))
    try {
      const t = nowNs()
      for (let i = 0; i < singles; i++) journal.settled(journal.append([{ groupId: gid, msg: records[i] }]), 1, true)
      d.journalOnePerS = singles / (msSince(t) / 1000)
    } finally {
      journal.close()
    }
    // ordered reads: whole history oldest first; pages newest first
    const range = storeKeys.historyRange(gid)
    const reps = quick ? 1 : 3
    const iterS: number[] = []; const iterR: number[] = []; const pageS: number[] = []; const pageR: number[] = []
    for (let r = 0; r < reps; r++) {
      let t = nowNs(); let n = 0
      for await (const rec of store.iterate(gid)) { if (rec.bytes.byteLength > 0) n++ }
      iterS.push(n / (msSince(t) / 1000))
      if (n !== count) throw new Error(`store iterate read ${n} of ${count}`)
      t = nowNs(); n = 0
      for await (const [, v] of raw.iterator({ gt: range.gt, lt: range.lt })) { if (v.byteLength > 0) n++ }
      iterR.push(n / (msSince(t) / 1000))
      t = nowNs(); n = 0
      let before: string | undefined
      do {
        const p = await store.history(gid, { limit: page, before })
        n += p.records.length
        before = p.next
      } while (before != null)
      pageS.push(n / (msSince(t) / 1000))
      t = nowNs(); n = 0
      let lt = range.lt
      while (true) {
        let last: string | undefined
        let got = 0
        for await (const [k, v] of raw.iterator({ gt: range.gt, lt, reverse: true, limit: page })) { last = k; got++; if (v.byteLength > 0) n++ }
        if (last == null || got < page) break
        lt = last
      }
      pageR.push(n / (msSince(t) / 1000))
    }
    d.iteratePerS = median(iterS); d.rawIteratePerS = median(iterR)
    d.historyPagesPerS = median(pageS); d.rawPagesPerS = median(pageR)
  } finally {
    await Promise.allSettled([store.close(), raw.close(), storeOne.close(), rawOne.close()])
    await rm(base, { recursive: true, force: true })
  }
  const S = '4 store'
  const rows: Row[] = [
    { scenario: S, figure: `appendMany, batches of ${batchSize} (${count.toLocaleString('en-US')} records)`, value: d.appendManyPerS, unit: 'rec/s', baseline: 'level batch put, same bytes', baselineValue: d.rawBatchPerS, ratio: costRatio(d.appendManyPerS, d.rawBatchPerS, 'higher') },
    { scenario: S, figure: 'append, one per call (ingest path)', value: d.appendOnePerS, unit: 'rec/s', baseline: 'level put, one per call', baselineValue: d.rawPutOnePerS, ratio: costRatio(d.appendOnePerS, d.rawPutOnePerS, 'higher') },
    { scenario: S, figure: 'history journal append, one record (synchronous, before the LevelDB batch)', value: d.journalOnePerS, unit: 'rec/s', baseline: 'level put, one per call', baselineValue: d.rawPutOnePerS, ratio: costRatio(d.journalOnePerS, d.rawPutOnePerS, 'higher') },
    { scenario: S, figure: 'iterate, oldest first', value: d.iteratePerS, unit: 'rec/s', baseline: 'level iterator', baselineValue: d.rawIteratePerS, ratio: costRatio(d.iteratePerS, d.rawIteratePerS, 'higher') },
    { scenario: S, figure: `history pages of ${page}, newest first`, value: d.historyPagesPerS, unit: 'rec/s', baseline: 'level reverse iterator pages', baselineValue: d.rawPagesPerS, ratio: costRatio(d.historyPagesPerS, d.rawPagesPerS, 'higher') }
  ]
  return { rows, records: count, details: d }
}

// ---------------------------------------------------------------------------
// 8. start-up and footprint
// ---------------------------------------------------------------------------

async function vmRssKiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  if (m == null) throw new Error(`no VmRSS for ${pid}`)
  return Number(m[1])
}

interface Spawned { readyMs: number, rssKiB: number }

/**
 * Spawn a process, wait for the stdout line `isReady` accepts, read its RSS
 * after `idleMs`, then stop it with SIGTERM (SIGKILL after 10 s).
 */
async function spawnUntilReady (args: string[], isReady: (line: string) => boolean, idleMs: number, command = process.execPath): Promise<Spawned> {
  const t = nowNs()
  // as a program (command = the bin): its shebang finds `node` on PATH, this Node's directory first, as npx's PATH has it
  const env = command === process.execPath ? process.env : { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` }
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
  let stderr = ''
  proc.stderr.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-4000) })
  const exited = once(proc, 'exit')
  try {
    const readyMs = await new Promise<number>((resolve, reject) => {
      const rl = createInterface({ input: proc.stdout })
      const timer = setTimeout(() => reject(new Error(`not ready after 60 s: ${stderr}`)), 60_000)
      rl.on('line', line => { if (isReady(line)) { clearTimeout(timer); resolve(msSince(t)) } })
      void exited.then(([code]) => { clearTimeout(timer); reject(new Error(`exited with ${code} before ready: ${stderr}`)) })
    })
    await sleep(idleMs)
    const rssKiB = await vmRssKiB(proc.pid!)
    return { readyMs, rssKiB }
  } finally {
    if (proc.exitCode == null && proc.signalCode == null) {
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
  }
}

async function timeToExit (args: string[]): Promise<number> {
  const t = nowNs()
  const proc = spawn(process.execPath, args, { stdio: 'ignore' })
  await once(proc, 'exit')
  return msSince(t)
}

const startArgs = (dataDir: string): string[] => [CLI, 'start', '--headless', '--json', '--no-mdns', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0']
const isReadyLine = (line: string): boolean => { try { return JSON.parse(line).event === 'ready' } catch { return false } }

/** Fill a data directory with `count` sealed messages of one group (4 authors), written by appendMany. */
async function populate (dataDir: string, count: number, log: (s: string) => void): Promise<number> {
  const t = nowNs()
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  await loadOrCreateIdentity(dataDir)
  const registry = new GroupRegistry(dataDir)
  await registry.load()
  const [group] = await registry.add('bench', randomBytes(32))
  const store = new HistoryStore(join(dataDir, HISTORY_DIR))
  await store.open()
  try {
    const chunk = 5000
    const signers = makeSigners()
    for (let i = 0; i < count; i += chunk) {
      await store.appendMany(group.keys.groupId, makeRecords(group.keys, signers, Math.min(chunk, count - i), i))
      if ((i / chunk) % 40 === 0) log(`  populate: ${i.toLocaleString('en-US')} of ${count.toLocaleString('en-US')}`)
    }
  } finally {
    await store.close()
  }
  return msSince(t)
}

export interface StartupResult { rows: Row[], details: Record<string, number | number[]> }

/** Does bin/p2p-chat.js run the bundle (dist/bundle/p2p-chat.mjs present and not older than the tsc output)? The same test as the launcher's. */
function bundleInUse (): boolean {
  const mtime = (f: string): number | undefined => { try { return statSync(join(ROOT, f)).mtimeMs } catch { return undefined } }
  const bundle = mtime('dist/bundle/p2p-chat.mjs')
  const compiled = mtime('dist/src/cli/main.js')
  return bundle != null && (compiled == null || bundle >= compiled)
}

export async function startupScenario (quick: boolean, stored: number, log: (s: string) => void): Promise<StartupResult> {
  const runs = quick ? 2 : 7
  // a tsc run after the bundle (another build in the same checkout) makes the launcher fall back to dist/src: say so in the row
  const bundled = bundleInUse()
  if (!bundled) log('  the CLI bundle is missing or older than dist/src (tsc ran after it): measuring the unbundled CLI')
  const idleMs = quick ? 500 : 3000
  const base = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-startup-'))
  const d: Record<string, number | number[]> = {}
  try {
    const dataDir = join(base, 'node')
    // first start creates the identity and the database: reported, not in the median
    const first = await spawnUntilReady(startArgs(dataDir), isReadyLine, 0)
    d.firstStartMs = first.readyMs
    const ready: number[] = []; const rss: number[] = []; const bare: number[] = []; const bareRss: number[] = []
    const asProgram: number[] = []; const asProgramRss: number[] = []
    for (let r = 0; r < runs; r++) {
      // `node bin/p2p-chat.js start`: the bin re-executes itself once for the memory flags (issue 20)
      const s = await spawnUntilReady(startArgs(dataDir), isReadyLine, idleMs)
      ready.push(s.readyMs); rss.push(s.rssKiB)
      // the bin as a program (npx, a global install): the shebang sets them, no second start of Node
      const p = await spawnUntilReady(startArgs(dataDir).slice(1), isReadyLine, idleMs, CLI)
      asProgram.push(p.readyMs); asProgramRss.push(p.rssKiB)
      bare.push(await timeToExit(['-e', '0']))
      const b = await spawnUntilReady(['-e', 'process.stdout.write("ready\\n"); setInterval(() => {}, 1000)'], l => l === 'ready', idleMs)
      bareRss.push(b.rssKiB)
    }
    d.readyMs = ready; d.nodeExitMs = bare; d.rssKiB = rss; d.bareRssKiB = bareRss; d.asProgramMs = asProgram; d.asProgramRssKiB = asProgramRss
    const still = bundleInUse()
    d.bundled = bundled && still ? 1 : 0
    const how = bundled && still ? '' : (bundled || still ? ' (bundle for some runs only: a build ran meanwhile)' : ' (unbundled CLI: no fresh dist/bundle)')
    const rows: Row[] = [
      { scenario: '8 start-up', figure: `start --headless to API ready (median of ${runs})${how}`, value: median(ready), unit: 'ms', baseline: 'node -e 0, spawn to exit', baselineValue: median(bare), ratio: costRatio(median(ready), median(bare), 'lower') },
      { scenario: '8 start-up', figure: `idle RSS, empty history${how}`, value: median(rss) / 1024, unit: 'MiB', baseline: 'idle bare node process', baselineValue: median(bareRss) / 1024, ratio: costRatio(median(rss), median(bareRss), 'lower') },
      { scenario: '8 start-up', figure: `the bin run as a program (as npx runs it: no re-exec), to API ready (median of ${runs})${how}`, value: median(asProgram), unit: 'ms', baseline: 'node -e 0, spawn to exit', baselineValue: median(bare), ratio: costRatio(median(asProgram), median(bare), 'lower') },
      { scenario: '8 start-up', figure: `the bin run as a program, idle RSS, empty history${how}`, value: median(asProgramRss) / 1024, unit: 'MiB', baseline: 'idle bare node process', baselineValue: median(bareRss) / 1024, ratio: costRatio(median(asProgramRss), median(bareRss), 'lower') }
    ]
    if (stored > 0) {
      const big = join(base, 'big')
      log(`  populating a data directory with ${stored.toLocaleString('en-US')} messages (seal + appendMany)`)
      d.populateMs = await populate(big, stored, log)
      const bigRuns = quick ? 1 : 3
      const bigReady: number[] = []; const bigRss: number[] = []
      await spawnUntilReady(startArgs(big), isReadyLine, 0) // warm the page cache
      for (let r = 0; r < bigRuns; r++) {
        const s = await spawnUntilReady(startArgs(big), isReadyLine, idleMs)
        bigReady.push(s.readyMs); bigRss.push(s.rssKiB)
      }
      d.storedReadyMs = bigReady; d.storedRssKiB = bigRss
      const label = stored >= 1e6 ? `${stored / 1e6}M` : stored.toLocaleString('en-US')
      rows.push(
        { scenario: '8 start-up', figure: `start to API ready, ${label} messages stored`, value: median(bigReady), unit: 'ms', baseline: 'start, empty history', baselineValue: median(ready), ratio: costRatio(median(bigReady), median(ready), 'lower') },
        { scenario: '8 start-up', figure: `idle RSS, ${label} messages stored`, value: median(bigRss) / 1024, unit: 'MiB', baseline: 'idle RSS, empty history', baselineValue: median(rss) / 1024, ratio: costRatio(median(bigRss), median(rss), 'lower') }
      )
    }
    return { rows, details: d }
  } finally {
    await rm(base, { recursive: true, force: true })
  }
}
