/**
 * Backup benchmark: export and import rates and peak memory, beside raw
 * LevelDB batch-put and iterate rates measured in the same run.
 *
 *   npx tsc -p tsconfig.json
 *   ./node_modules/.bin/node dist/scripts/bench-backup.js --records 200000 [--encrypted] [--authors 4] [--threads N] [--keep]
 *   (--quick: 3,000 records, for the runner's smoke run; the last stdout line
 *   is the runner's {"bench":"backup","rows":[…]}, docs/BENCHMARKS.md)
 *
 * Generates N sealed records (a few authors, one group) directly into a data
 * directory, then runs each measured operation in its own child process (so
 * each peak RSS, `process.resourceUsage().maxRSS`, is that operation's alone,
 * as a user running `p2p-chat export` would see it):
 *   - baseline: the modules loaded, nothing done
 *   - raw LevelDB: batch put of the same history bytes into a fresh database, then iterate it
 *   - verifyRecord alone on a 20,000-record sample (the CPU cost of import)
 *   - export to a file, import of that file into a fresh data directory (every record verified)
 *   - with --encrypted, the same with includeSecrets and a passphrase
 * Import verifies on worker threads (importBackup's default for large
 * backups); --threads N sets their number (0: on the main thread).
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { Level } from 'level'
import { MAX_VERIFY_THREADS, PARALLEL_THRESHOLD, exportBackup, importBackup, openDataDirBackupHost, verifyRecord } from '../src/backup/index.js'
import { ed25519Signer, sealInOrder } from '../src/envelope/index.js'
import { GroupRegistry } from '../src/groups/index.js'
import { HistoryStore } from '../src/store/index.js'
import type { StorableMessage } from '../src/store/index.js'

const { values } = parseArgs({
  options: {
    records: { type: 'string' },
    // the benchmark runner's smoke run (scripts/bench.ts --quick): a few thousand records, well under 30 s
    quick: { type: 'boolean', default: false },
    authors: { type: 'string', default: '4' },
    encrypted: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    threads: { type: 'string' },
    // internal: run one measured operation in this (child) process
    child: { type: 'string' },
    src: { type: 'string' },
    dst: { type: 'string' },
    file: { type: 'string' }
  }
})
const BATCH = 1000
const TOPIC = 'bench'
const PASSPHRASE = 'bench passphrase'
const SAMPLE = 20_000
const DEFAULT_RECORDS = 100_000
const QUICK_RECORDS = 3000
const MiB = 1024 * 1024

interface ChildResult { seconds: number, count: number, maxRss: number, peakAnon?: number, note?: string }

/**
 * Anonymous resident memory (heap, buffers, native allocations) from
 * /proc/self/status. maxRSS also counts the pages of LevelDB's table files
 * that it maps into memory to read them (page cache, reclaimable), which
 * grows with the database read; RssAnon is the process's own memory.
 */
function anonRss (): number | undefined {
  try {
    const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
    return m == null ? undefined : Number(m[1]) * 1024
  } catch {
    return undefined
  }
}
let peakAnon = 0
function sampleAnon (): void { peakAnon = Math.max(peakAnon, anonRss() ?? 0) }

async function timed (fn: () => Promise<number | { count: number, note?: string }>): Promise<ChildResult> {
  const start = process.hrtime.bigint()
  const r = await fn()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const { count, note } = typeof r === 'number' ? { count: r, note: undefined } : r
  sampleAnon()
  return { seconds, count, note, maxRss: process.resourceUsage().maxRSS * 1024, peakAnon: peakAnon > 0 ? peakAnon : undefined }
}

/** One measured operation; prints its result as JSON on stdout. */
async function child (op: string): Promise<void> {
  const src = values.src as string
  const dst = values.dst as string
  const file = values.file as string
  const results: Record<string, ChildResult> = {}
  const sampler = setInterval(sampleAnon, 20)
  sampleAnon()
  if (op === 'baseline') {
    results.baseline = await timed(async () => 0)
  } else if (op === 'raw') {
    const source = new Level<string, Uint8Array>(join(src, 'history'), { keyEncoding: 'utf8', valueEncoding: 'view' })
    const raw = new Level<string, Uint8Array>(dst, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await source.open()
    await raw.open()
    // read first (untimed), then time only the batch building and writing
    let putSeconds = 0
    let n = 0
    let batch = raw.batch()
    for await (const [k, v] of source.iterator({ gt: 'h!', lt: 'h!~' })) {
      const t0 = process.hrtime.bigint()
      batch.put(k, v)
      if (++n % BATCH === 0) { await batch.write(); batch = raw.batch() }
      putSeconds += Number(process.hrtime.bigint() - t0) / 1e9
    }
    const t0 = process.hrtime.bigint()
    await batch.write()
    putSeconds += Number(process.hrtime.bigint() - t0) / 1e9
    await source.close()
    sampleAnon()
    results.put = { seconds: putSeconds, count: n, maxRss: process.resourceUsage().maxRSS * 1024, peakAnon, note: `${BATCH} per batch` }
    results.iterate = await timed(async () => {
      let m = 0
      for await (const [, v] of raw.iterator()) if (v.byteLength > 0) m++
      return m
    })
    await raw.close()
  } else if (op === 'verify') {
    const host = await openDataDirBackupHost(src)
    const group = host.groups()[0]
    const sample: Uint8Array[] = []
    for await (const r of host.records(group)) { sample.push(r); if (sample.length === SAMPLE) break }
    await host.close()
    results.verify = await timed(async () => {
      for (const r of sample) if (!verifyRecord(group.keys, r).ok) throw new Error('the sample does not verify')
      return sample.length
    })
  } else if (op === 'export' || op === 'export-encrypted') {
    const encrypted = op === 'export-encrypted'
    results[op] = await timed(async () => {
      const host = await openDataDirBackupHost(src)
      try {
        const s = await exportBackup(host, file, encrypted ? { includeSecrets: true, passphrase: PASSPHRASE, overwrite: true } : { overwrite: true })
        return { count: s.records, note: `${(s.bytes / MiB).toFixed(1)} MiB file` }
      } finally {
        await host.close()
      }
    })
  } else if (op === 'import' || op === 'import-encrypted') {
    const encrypted = op === 'import-encrypted'
    results[op] = await timed(async () => {
      const host = await openDataDirBackupHost(dst, { create: true })
      try {
        const verifyThreads = values.threads != null ? Number(values.threads) : undefined
        const s = await importBackup(host, file, { passphrase: encrypted ? PASSPHRASE : undefined, verifyThreads })
        if (!s.complete || s.rejected !== 0) throw new Error(`import: ${JSON.stringify(s)}`)
        return s.imported
      } finally {
        await host.close()
      }
    })
  } else {
    throw new Error(`unknown child operation ${op}`)
  }
  clearInterval(sampler)
  process.stdout.write(JSON.stringify(results) + '\n')
}

const run = promisify(execFile)

async function inChild (op: string, args: Record<string, string>): Promise<Record<string, ChildResult>> {
  const argv = [fileURLToPath(import.meta.url), '--child', op]
  if (values.threads != null) argv.push('--threads', values.threads)
  for (const [k, v] of Object.entries(args)) argv.push(`--${k}`, v)
  const { stdout } = await run(process.execPath, argv, { maxBuffer: 1024 * 1024 })
  return JSON.parse(stdout.trim().split('\n').at(-1) as string)
}

async function main (): Promise<void> {
  const N = Number(values.records ?? (values.quick ? QUICK_RECORDS : DEFAULT_RECORDS))
  const AUTHORS = Number(values.authors)
  if (!Number.isSafeInteger(N) || N < 1 || !Number.isSafeInteger(AUTHORS) || AUTHORS < 1) {
    console.error('usage: bench-backup [--records N | --quick] [--authors N] [--encrypted] [--threads N] [--keep]')
    process.exit(2)
  }
  const root = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-backup-'))
  const log = (s: string): void => { process.stderr.write(s + '\n') }
  try {
    const src = join(root, 'src')
    const secret = new Uint8Array(randomBytes(32))
    const authors = Array.from({ length: AUTHORS }, () => ed25519Signer(randomBytes(32)))
    let envelopeBytes = 0
    log(`bench-backup: ${N} records, ${AUTHORS} authors, in ${root}`)

    const genStart = process.hrtime.bigint()
    await mkdir(src, { recursive: true })
    const [group] = await new GroupRegistry(src).add(TOPIC, secret)
    const store = new HistoryStore(join(src, 'history'))
    await store.open()
    const seqs = authors.map(() => 0n)
    let batch: StorableMessage[] = []
    for (let i = 0; i < N; i++) {
      const a = i % AUTHORS
      const msg = sealInOrder(group.keys, authors[a], { seq: ++seqs[a], lamport: BigInt(i + 1), timestamp: 1_700_000_000_000 + i, text: `message number ${i} of the benchmark, about as long as a chat line`, name: `author-${a}` })
      envelopeBytes += msg.bytes.byteLength
      const e = msg.envelope
      batch.push({ id: msg.id, bytes: msg.bytes, author: e.author, seq: e.seq, lamport: e.lamport, timestamp: e.timestamp })
      if (batch.length === BATCH) { await store.appendMany(group.keys.groupId, batch); batch = [] }
    }
    await store.appendMany(group.keys.groupId, batch)
    await store.close()
    const genSeconds = Number(process.hrtime.bigint() - genStart) / 1e9
    log(`  generated in ${genSeconds.toFixed(1)} s`)

    const rows: Array<[string, ChildResult]> = []
    const add = (label: string, r: ChildResult): void => {
      rows.push([label, r])
      log(`  ${label}: ${r.seconds.toFixed(1)} s`)
    }
    const threads = values.threads != null ? Number(values.threads) : N >= PARALLEL_THRESHOLD ? Math.min(availableParallelism(), MAX_VERIFY_THREADS) : 0
    const baseline = (await inChild('baseline', {})).baseline
    add('baseline (modules loaded, nothing done)', baseline)
    const raw = await inChild('raw', { src, dst: join(root, 'raw') })
    add('raw level: batch put', raw.put)
    add('raw level: iterate', raw.iterate)
    const verify = (await inChild('verify', { src })).verify
    add(`verifyRecord alone, one thread (${Math.min(SAMPLE, N)} sample)`, verify)
    const plainFile = join(root, 'backup.jsonl')
    const exported = (await inChild('export', { src, file: plainFile }))['export']
    add('export (plain)', exported)
    // a plain backup has no secrets: the target has joined the group
    const dstPlain = join(root, 'dst-plain')
    await mkdir(dstPlain, { recursive: true })
    await new GroupRegistry(dstPlain).add(TOPIC, secret)
    const imported = (await inChild('import', { dst: dstPlain, file: plainFile }))['import']
    add(`import (plain, verified, ${threads} threads)`, imported)
    let encrypted: { exported: ChildResult, imported: ChildResult } | undefined
    if (values.encrypted) {
      const encFile = join(root, 'backup.enc')
      encrypted = {
        exported: (await inChild('export-encrypted', { src, file: encFile }))['export-encrypted'],
        imported: (await inChild('import-encrypted', { dst: join(root, 'dst-enc'), file: encFile }))['import-encrypted']
      }
      add('export (encrypted, with secrets)', encrypted.exported)
      add(`import (encrypted, verified, ${threads} threads)`, encrypted.imported)
    }
    const fileSize = (await stat(plainFile)).size

    const pad = (s: string, n: number): string => s.padEnd(n)
    const lpad = (s: string, n: number): string => s.padStart(n)
    console.log(`\nbench-backup: ${N} records, ${AUTHORS} authors, mean envelope ${Math.round(envelopeBytes / N)} B, plain backup ${(fileSize / MiB).toFixed(1)} MiB, node ${process.version}`)
    console.log(`generate (seal + appendMany, not measured for memory): ${genSeconds.toFixed(1)} s, ${Math.round(N / genSeconds).toLocaleString('en-US')} records/s`)
    console.log(`${pad('operation (own process)', 46)}${lpad('seconds', 9)}${lpad('records/s', 12)}${lpad('peak RSS', 11)}${lpad('peak anon', 11)}  note`)
    for (const [label, r] of rows) {
      const rate = r.count > 0 ? Math.round(r.count / r.seconds).toLocaleString('en-US') : '-'
      console.log(`${pad(label, 46)}${lpad(r.seconds.toFixed(2), 9)}${lpad(rate, 12)}${lpad((r.maxRss / MiB).toFixed(0) + ' MiB', 11)}${lpad(r.peakAnon != null ? (r.peakAnon / MiB).toFixed(0) + ' MiB' : '-', 11)}  ${r.note ?? ''}`)
    }
    console.log(JSON.stringify({ records: N, authors: AUTHORS, generateSeconds: genSeconds, results: rows.map(([label, r]) => ({ label, ...r, rate: r.count / r.seconds, maxRssMiB: Math.round(r.maxRss / MiB), peakAnonMiB: r.peakAnon != null ? Math.round(r.peakAnon / MiB) : undefined })) }))
    console.log('peak RSS: process.resourceUsage().maxRSS, which includes the LevelDB table files mapped to read them; peak anon: RssAnon sampled every 20 ms (heap, buffers, native memory)')

    // last line: the rows of the benchmark runner's table (docs/BENCHMARKS.md, "Contract for scripts 5-7")
    const rate = (r: ChildResult): number => r.count / r.seconds
    const mib = (bytes: number): number => Math.round(bytes / MiB)
    const n = N.toLocaleString('en-US')
    const memory = (label: string, r: ChildResult): object => ({
      figure: `${label}: peak RSS`, value: mib(r.maxRss), unit: 'MiB', baseline: 'modules loaded, nothing done', baselineValue: mib(baseline.maxRss), ratio: r.maxRss / baseline.maxRss,
      note: `peak anonymous RSS ${r.peakAnon != null ? mib(r.peakAnon) : '?'} MiB (baseline ${baseline.peakAnon != null ? mib(baseline.peakAnon) : '?'}); maxRSS also counts the LevelDB files mapped to read them`
    })
    const benchRows: object[] = [
      { figure: `export, ${n} records`, value: rate(exported), unit: 'rec/s', baseline: 'raw level iterate, same records', baselineValue: rate(raw.iterate), ratio: rate(raw.iterate) / rate(exported), note: `${(fileSize / MiB).toFixed(1)} MiB file` },
      { figure: `import with verification, ${n} records, ${threads} threads`, value: rate(imported), unit: 'rec/s', baseline: 'raw level batch put, same bytes', baselineValue: rate(raw.put), ratio: rate(raw.put) / rate(imported) },
      { figure: `import with verification, ${threads} threads`, value: rate(imported), unit: 'rec/s', baseline: 'verifyRecord alone, one thread', baselineValue: rate(verify), ratio: rate(verify) / rate(imported) },
      memory(`export, ${n} records`, exported),
      memory(`import, ${n} records`, imported)
    ]
    if (encrypted != null) {
      benchRows.push(
        { figure: `export encrypted with secrets, ${n} records`, value: rate(encrypted.exported), unit: 'rec/s', baseline: 'plain export', baselineValue: rate(exported), ratio: rate(exported) / rate(encrypted.exported), note: 'includes scrypt (N=2^17, 128 MiB)' },
        { figure: `import encrypted with secrets, ${n} records`, value: rate(encrypted.imported), unit: 'rec/s', baseline: 'plain import', baselineValue: rate(imported), ratio: rate(imported) / rate(encrypted.imported) },
        memory(`import encrypted, ${n} records`, encrypted.imported)
      )
    }
    console.log(JSON.stringify({ bench: 'backup', rows: benchRows }))
  } finally {
    if (values.keep) log(`kept ${root}`)
    else await rm(root, { recursive: true, force: true })
  }
}

if (values.child != null) await child(values.child)
else await main()
