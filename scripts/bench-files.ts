/**
 * File transfer benchmark (issue 18, item 2): how fast a member fetches a
 * file over /p2p-chat/file/1.0.0, beside a bare libp2p stream carrying the
 * same number of bytes between two createBaseLibp2p nodes (same transports,
 * Noise, yamux), measured in the same run, in the same process, turn about.
 *
 *   fetch      B.getFile(id): OPEN, manifest, every chunk asked, checked (SHA-256) and
 *              stored, then the whole content decrypted and checked against its hash
 *   bare       one stream, the same bytes written as fast as yamux takes them, read and dropped
 *   send-file  A.sendFile(path): read, hash, cut, encrypt, store (beside a plain copy of the file)
 *   get --out  writing the held file out (decrypt, check) beside the same plain copy
 *
 * Both nodes of each pair share this process (2 cores here): every figure
 * includes both ends' work.
 *
 *   npx tsc -p tsconfig.json && ./node_modules/.bin/node dist/scripts/bench-files.js [--quick] [--size 100] [--runs 3]
 *
 * `--size` is in MiB (default 100, quick 20). The last stdout line is the
 * runner's {"bench":"files","rows":[…]}.
 */
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { ChatNode } from '../src/index.js'
import { createBaseLibp2p } from '../src/libp2p.js'
import type { BaseLibp2p } from '../src/libp2p.js'
import type { Stream } from '@libp2p/interface'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    size: { type: 'string' },
    runs: { type: 'string' }
  }
})
const MiB = 1024 * 1024
const SIZE = Number(values.size ?? (values.quick ? 20 : 100)) * MiB
const RUNS = Number(values.runs ?? (values.quick ? 1 : 3))
const BARE_PROTOCOL = '/p2p-chat-bench/bare/1.0.0'
const PIECE = 256 * 1024

const log = (s: string): void => { process.stderr.write(s + '\n') }
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const mibps = (bytes: number, ms: number): number => bytes / MiB / (ms / 1000)

async function bareNode (): Promise<BaseLibp2p> {
  return createBaseLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
}

/** The server writes `SIZE` bytes on every stream and closes it */
async function serveBare (node: BaseLibp2p, data: Buffer): Promise<void> {
  await node.handle(BARE_PROTOCOL, async (stream: Stream) => {
    for (let at = 0; at < data.byteLength; at += PIECE) {
      if (!stream.send(data.subarray(at, Math.min(at + PIECE, data.byteLength)))) await once(stream, 'drain')
    }
    await stream.close()
  })
}

/** One bare transfer: ms from opening the stream to its last byte */
async function bareRun (client: BaseLibp2p, server: BaseLibp2p): Promise<number> {
  const t = performance.now()
  const stream = await client.dialProtocol(server.getMultiaddrs()[0], BARE_PROTOCOL)
  let got = 0
  for await (const chunk of stream) got += chunk.byteLength
  if (got !== SIZE) throw new Error(`bare stream: got ${got} of ${SIZE} bytes`)
  return performance.now() - t
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-files-'))
  const nodes: ChatNode[] = []
  const bare: BaseLibp2p[] = []
  try {
    const data = randomBytes(SIZE)
    const src = join(dir, 'src.bin')

    // the baseline pair
    const [bs, bc] = await Promise.all([bareNode(), bareNode()])
    bare.push(bs, bc)
    await serveBare(bs, data)
    await bc.dial(bs.getMultiaddrs()[0])

    // the chat pair
    for (const name of ['a', 'b']) {
      const n = new ChatNode({ dataDir: join(dir, name), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, name, sync: { interval: 0 } })
      await n.start()
      nodes.push(n)
    }
    const [a, b] = nodes
    await a.createGroup('bench-files')
    await b.joinGroup({ invite: a.invite('bench-files') })
    const deadline = Date.now() + 20_000
    while (a.groupPeers('bench-files').length === 0 || b.groupPeers('bench-files').length === 0) {
      if (Date.now() > deadline) throw new Error('the two nodes did not meet on the group')
      await new Promise(resolve => setTimeout(resolve, 50))
    }

    const bareMs: number[] = []
    const fetchMs: number[] = []
    const sendMs: number[] = []
    const outMs: number[] = []
    const copyMs: number[] = []
    // a warm-up of each, not counted
    await bareRun(bc, bs)
    for (let run = 0; run <= RUNS; run++) {
      const warm = run === 0
      // another content each run (b would hold the last one already)
      data.writeUInt32BE(run, 0)
      await writeFile(src, data)
      const hash = createHash('sha256').update(data).digest('hex')
      let t = performance.now()
      await copyFile(src, join(dir, `copy-${run}.bin`))
      const copy = performance.now() - t
      await rm(join(dir, `copy-${run}.bin`))
      t = performance.now()
      const sent = await a.sendFile('bench-files', src, { name: `src-${run}.bin` })
      const send = performance.now() - t
      // the announcement reaches b first
      const wait = Date.now() + 10_000
      while (!(await b.history('bench-files', { limit: 5 })).messages.some(m => m.id === sent.id)) {
        if (Date.now() > wait) throw new Error('b did not get the announcement')
        await new Promise(resolve => setTimeout(resolve, 10))
      }
      t = performance.now()
      let verifyAt = 0
      const r = await b.getFile(sent.id, { onProgress: p => { if (p.state === 'verifying' && verifyAt === 0) verifyAt = performance.now() } })
      const fetch = performance.now() - t
      const verify = verifyAt > 0 ? performance.now() - verifyAt : 0
      if (r.fetched !== r.chunks) throw new Error(`fetched ${r.fetched} of ${r.chunks} chunks`)
      t = performance.now()
      await b.getFile(sent.id, { out: join(dir, `out-${run}.bin`) })
      const out = performance.now() - t
      if (createHash('sha256').update(await readFile(join(dir, `out-${run}.bin`))).digest('hex') !== hash) throw new Error('the file written out differs')
      await rm(join(dir, `out-${run}.bin`))
      const bareOne = await bareRun(bc, bs)
      log(`run ${run}${warm ? ' (warm-up)' : ''}: fetch ${mibps(SIZE, fetch).toFixed(1)} MiB/s, bare stream ${mibps(SIZE, bareOne).toFixed(1)} MiB/s, send-file ${mibps(SIZE, send).toFixed(1)} MiB/s, get --out ${mibps(SIZE, out).toFixed(1)} MiB/s, plain copy ${mibps(SIZE, copy).toFixed(1)} MiB/s (${r.chunks} chunks of ${r.size / r.chunks / 1024 | 0} KiB; of the fetch, ${verify.toFixed(0)} of ${fetch.toFixed(0)} ms checking the content)`)
      if (warm) continue
      fetchMs.push(fetch); bareMs.push(bareOne); sendMs.push(send); outMs.push(out); copyMs.push(copy)
    }
    const fetch = mibps(SIZE, median(fetchMs))
    const base = mibps(SIZE, median(bareMs))
    const copy = mibps(SIZE, median(copyMs))
    const send = mibps(SIZE, median(sendMs))
    const out = mibps(SIZE, median(outMs))
    const note = `${SIZE / MiB} MiB, median of ${RUNS}; both ends in one process`
    const rows = [
      { figure: `file fetch (getFile, ${SIZE / MiB} MiB, checked and stored)`, value: fetch, unit: 'MiB/s', baseline: 'bare libp2p stream, same bytes, same run', baselineValue: base, ratio: base / fetch, note },
      { figure: 'send-file (read, hash, encrypt, store)', value: send, unit: 'MiB/s', baseline: 'plain file copy', baselineValue: copy, ratio: copy / send },
      { figure: 'get --out (decrypt, check, write)', value: out, unit: 'MiB/s', baseline: 'plain file copy', baselineValue: copy, ratio: copy / out }
    ]
    console.log(`files: fetch ${fetch.toFixed(1)} MiB/s beside a bare stream's ${base.toFixed(1)} MiB/s (${(fetch / base * 100).toFixed(0)} %); send-file ${send.toFixed(1)} MiB/s, get --out ${out.toFixed(1)} MiB/s, plain copy ${copy.toFixed(1)} MiB/s`)
    console.log(JSON.stringify({ bench: 'files', rows }))
  } finally {
    for (const n of nodes) await n.stop().catch(() => {})
    for (const n of bare) await Promise.resolve(n.stop()).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
