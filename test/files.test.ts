import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { PassThrough } from 'node:stream'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { exportBackup, importBackup } from '../src/backup/index.js'
import { ApiServer } from '../src/api/index.js'
import { deriveGroupKeys } from '../src/envelope/index.js'
import {
  ChunkSet, FILE_PROTOCOL, FileRequest, FileResponse, ManifestBuilder, accessProof, chooseChunkSize, chunkCount, chunkMatches, decryptChunk,
  encryptChunk, groupFileKey, imageInfo, manifestProblem, mediaType
} from '../src/files/index.js'
import { createBaseLibp2p } from '../src/libp2p.js'
import { runInteractive } from '../src/cli/interactive.js'
import { cliJson, runCli, startCli } from './cli-helpers.js'
import { meshGroup, nextMessage, startNode, startNodes, tempDir, waitUntil, defer } from './helpers.js'
import { startHostile } from './hostile.js'
import type { ChatNode } from '../src/index.js'
import type { Stream } from '@libp2p/interface'
import type { TestContext } from 'node:test'

const MiB = 1024 * 1024

/** A file of random bytes; its SHA-256 */
async function randomFile (dir: string, name: string, size: number, head?: Uint8Array): Promise<{ path: string, hash: string }> {
  const data = randomBytes(size)
  if (head != null) data.set(head)
  const path = join(dir, name)
  await writeFile(path, data)
  return { path, hash: createHash('sha256').update(data).digest('hex') }
}

async function fileHash (path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** A group of `nodes`, all connected, the first its creator */
async function group (nodes: ChatNode[], topicId: string): Promise<void> {
  const [first, ...rest] = nodes
  await first.createGroup(topicId)
  const invite = first.invite(topicId)
  for (const n of rest) await n.joinGroup({ invite })
  await meshGroup(nodes, topicId)
}

/** What the sender's store holds of a file: the FileRef fields the test needs (manifest, key) and the manifest */
async function stored (node: ChatNode, hash: string): Promise<{ dir: string, manifestHash: Buffer, key: Buffer, manifest: Buffer, chunkSize: number, size: number }> {
  const base = join(node.dataDir, 'files', hash)
  const [m] = await readdir(base)
  const dir = join(base, m)
  const ref = JSON.parse(await readFile(join(dir, 'ref.json'), 'utf8'))
  return { dir, manifestHash: Buffer.from(ref.manifest, 'hex'), key: Buffer.from(ref.key, 'hex'), manifest: await readFile(join(dir, 'manifest')), chunkSize: ref.chunkSize, size: Number(ref.size) }
}

/** A bare libp2p node (no chat, no group) */
async function bareNode (t: TestContext): Promise<Awaited<ReturnType<typeof createBaseLibp2p>>> {
  const node = await createBaseLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
  defer(t, async () => { await node.stop() })
  return node
}

describe('files: pure parts', () => {
  it('chunks, nonces, manifest, chunk sets and image headers', () => {
    const key = randomBytes(32)
    const plain = randomBytes(1000)
    const sealed = encryptChunk(key, 7, plain)
    assert.equal(sealed.byteLength, 1016)
    assert.deepEqual(decryptChunk(key, 7, sealed), plain)
    // another index is another nonce: the tag fails
    assert.throws(() => decryptChunk(key, 8, sealed))
    assert.equal(chooseChunkSize(100 * MiB), 256 * 1024)
    assert.equal(chooseChunkSize(2 ** 40), 4 * MiB)
    assert.equal(chunkCount(50 * MiB, 256 * 1024), 200)
    const b = new ManifestBuilder()
    const h0 = b.add(sealed)
    const { manifest, hash } = b.finish()
    assert.equal(manifestProblem(manifest, hash, 1000, 4096), undefined)
    assert.equal(manifestProblem(manifest, randomBytes(32), 1000, 4096), 'manifest does not match its hash')
    assert.ok(chunkMatches(manifest, 0, sealed))
    assert.ok(!chunkMatches(manifest, 0, Buffer.concat([sealed.subarray(0, 10), Buffer.from([sealed[10] ^ 1]), sealed.subarray(11)])))
    assert.equal(h0.byteLength, 32)
    const set = new ChunkSet(10)
    set.add(0); set.add(9); set.add(9)
    assert.equal(set.count, 2)
    assert.deepEqual([...set.bytes], [0x01, 0x02])
    assert.ok(ChunkSet.parse(10, Uint8Array.of(0xff, 0x03))?.complete)
    assert.equal(ChunkSet.parse(10, Uint8Array.of(0xff, 0x07)), undefined, 'bits past the end')
    assert.equal(ChunkSet.parse(10, Uint8Array.of(0xff)), undefined, 'too short')
    // PNG: 640 x 480; GIF: 3 x 2; JPEG with an APP0 segment before SOF0: 1920 x 1080
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000280000001e008060000', 'hex')
    assert.deepEqual(imageInfo(png), { mime: 'image/png', width: 640, height: 480 })
    assert.deepEqual(imageInfo(Buffer.from('GIF89a\x03\x00\x02\x00', 'latin1')), { mime: 'image/gif', width: 3, height: 2 })
    const jpeg = Buffer.from('ffd8ffe000104a46494600010100000100010000ffc0001108043807800301', 'hex')
    assert.deepEqual(imageInfo(jpeg), { mime: 'image/jpeg', width: 1920, height: 1080 })
    assert.equal(imageInfo(Buffer.from('not an image')), undefined)
    assert.equal(mediaType('notes.txt', Buffer.from('hello')), 'text/plain')
    assert.equal(mediaType('x', png), 'image/png')
  })
})

describe('files between nodes', () => {
  it('a 50 MiB file sent in a 3-node group: both receivers hold a byte-identical copy, under its hash', async (t) => {
    const dir = await tempDir(t)
    const [a, b, c] = await startNodes(t, 3)
    await group([a, b, c], 'files')
    const src = await randomFile(dir, 'big.bin', 50 * MiB)
    const seenB = nextMessage(b, m => m.kind === 'file')
    const seenC = nextMessage(c, m => m.kind === 'file')
    const sent = await a.sendFile('files', src.path, { caption: 'fifty mebibytes' })
    assert.equal(sent.kind, 'file')
    assert.equal(sent.text, 'fifty mebibytes')
    assert.equal(sent.file?.name, 'big.bin')
    assert.equal(sent.file?.size, 50 * MiB)
    assert.equal(sent.file?.hash, src.hash)
    assert.equal((sent.file as any).key, undefined, 'the key stays in the node')
    const [mb, mc] = await Promise.all([seenB, seenC])
    assert.equal(mb.id, sent.id)
    assert.equal(mc.file?.hash, src.hash)
    const started = Date.now()
    const progress: number[] = []
    const [rb, rc] = await Promise.all([
      b.getFile(sent.id, { out: join(dir, 'b.bin'), onProgress: p => progress.push(p.held) }),
      c.getFile(sent.id.slice(0, 8), { out: join(dir, 'c.bin') })
    ])
    const ms = Date.now() - started
    t.diagnostic(`two receivers fetched 50 MiB each in ${ms} ms; b from ${JSON.stringify(rb.from)}, c from ${JSON.stringify(rc.from)}`)
    assert.equal(rb.state, 'complete')
    assert.equal(rb.held, rb.chunks)
    assert.equal(await fileHash(join(dir, 'b.bin')), src.hash)
    assert.equal(await fileHash(join(dir, 'c.bin')), src.hash)
    assert.ok(progress.length > 10, 'progress was reported')
    // kept in the data directory under the file's hash, as ciphertext
    for (const n of [b, c]) {
      const held = await stored(n, src.hash)
      assert.equal((await stat(join(held.dir, 'chunks'))).size, 50 * MiB + 200 * 16)
      assert.equal((await readFile(join(held.dir, 'chunks'))).subarray(0, 64).equals((await readFile(src.path)).subarray(0, 64)), false)
      assert.ok((await stat(join(held.dir, 'complete'))).isFile())
    }
    // asking again fetches nothing
    const again = await b.getFile(sent.id)
    assert.equal(again.alreadyHeld, true)
    assert.equal(again.fetched, 0)
    const status = await c.fileStatus(sent.id)
    assert.equal(status.complete, true)
  })

  it('the sender stops mid-transfer: the rest comes from the other member that holds it', async (t) => {
    const dir = await tempDir(t)
    const [a, b] = await startNodes(t, 2)
    // one source at a time: the sender first (it announced the file), then whoever else holds it
    const c = await startNode(t, { files: { maxSources: 1 } })
    await group([a, b, c], 'relay-files')
    const [idA, idB] = [a.peerId, b.peerId]
    const src = await randomFile(dir, 'video.bin', 50 * MiB)
    const seen = nextMessage(c, m => m.kind === 'file')
    const sent = await a.sendFile('relay-files', src.path)
    await waitUntil('b to see the file', async () => (await b.history('relay-files')).messages.some(m => m.id === sent.id))
    await b.getFile(sent.id)
    await seen
    let killedAt = -1
    const result = await c.getFile(sent.id, {
      out: join(dir, 'c.bin'),
      onProgress: p => {
        if (killedAt < 0 && p.fetched >= p.chunks * 0.3) {
          killedAt = p.fetched
          // the sender goes away at once (its connections cut), then stops
          for (const conn of a.libp2pNode.getConnections()) conn.abort(new Error('sender killed'))
          void a.stop()
        }
      }
    })
    t.diagnostic(`killed the sender after ${killedAt} chunks; fetched from ${JSON.stringify(result.from)}`)
    assert.ok(killedAt > 0)
    assert.ok((result.from[idA] ?? 0) >= killedAt - 1, 'the first part came from the sender')
    assert.ok((result.from[idB] ?? 0) > 0, 'the rest came from the other member')
    assert.equal(result.fetched, result.chunks)
    assert.equal(await fileHash(join(dir, 'c.bin')), src.hash)
  })

  it('an interrupted fetch resumes after a restart: only the missing chunks are fetched', async (t) => {
    const dir = await tempDir(t)
    const [a, b] = await startNodes(t, 2)
    await group([a, b], 'resume')
    const src = await randomFile(dir, 'resume.bin', 20 * MiB)
    const seen = nextMessage(b, m => m.kind === 'file')
    const sent = await a.sendFile('resume', src.path)
    await seen
    const ac = new AbortController()
    let heldAtAbort = 0
    await assert.rejects(b.getFile(sent.id, {
      signal: ac.signal,
      onProgress: p => { if (!ac.signal.aborted && p.held >= p.chunks * 0.4) { heldAtAbort = p.held; ac.abort(new Error('interrupted')) } }
    }), /interrupted/)
    assert.ok(heldAtAbort > 0)
    await b.stop()
    const b2 = await startNode(t, { dataDir: b.dataDir })
    await b2.dial(a.addresses[0])
    await waitUntil('the restarted node to see the sender on the group', () => b2.groupPeers('resume').length > 0)
    const before = await b2.fileStatus(sent.id)
    assert.ok(before.held >= heldAtAbort, `${before.held} chunks held after the restart`)
    assert.ok(!before.complete)
    const r = await b2.getFile(sent.id, { out: join(dir, 'b.bin') })
    t.diagnostic(`held ${before.held} of ${r.chunks} chunks after the restart, fetched ${r.fetched}`)
    assert.equal(r.fetched, r.chunks - before.held)
    assert.equal(await fileHash(join(dir, 'b.bin')), src.hash)
  })

  it('a chunk tampered with by a hostile member is refused, its peer cut off, and the chunk fetched from another', async (t) => {
    const dir = await tempDir(t)
    const [a, b] = await startNodes(t, 2)
    await group([a, b], 'tamper')
    const src = await randomFile(dir, 'target.bin', 40 * MiB)
    const seen = nextMessage(b, m => m.kind === 'file')
    const sent = await a.sendFile('tamper', src.path)
    await seen
    const held = await stored(a, src.hash)
    const n = chunkCount(held.size, held.chunkSize)
    // a member gone bad: it has the group's keys and the manifest, and answers every chunk with junk of the right length
    const hostile = await startHostile(t, deriveGroupKeys('tamper', Buffer.from(a.secret('tamper'), 'hex')))
    let asked = 0
    await hostile.node.handle(FILE_PROTOCOL, async (stream: Stream) => {
      const pb = pbStream(stream, { maxDataLength: 1024 })
      try {
        await pb.read(FileRequest)
        await pb.write({ status: FileResponse.Status.OK, chunks: n, have: ChunkSet.full(n).bytes as Uint8Array<ArrayBuffer> }, FileResponse)
        while (true) {
          const req = await pb.read(FileRequest)
          if (req.kind === FileRequest.Kind.MANIFEST) { await pb.write({ hashes: Uint8Array.from(held.manifest) }, FileResponse); continue }
          for (let i = req.start; i < req.start + req.count; i++) {
            asked++
            const length = (i < n - 1 ? held.chunkSize : held.size - (n - 1) * held.chunkSize) + 16
            await pb.write({ index: i, data: Uint8Array.from(randomBytes(length)) }, FileResponse)
          }
        }
      } catch {
        stream.abort(new Error('done'))
      }
    }, { runOnLimitedConnection: true })
    await hostile.dial(b.addresses[0])
    await waitUntil('b to see the hostile member on the group', () => b.groupPeers('tamper').includes(hostile.peerId.toString()))
    const penalized = new Promise<{ peer: string, reason: string }>(resolve => { b.files.once('penalized', resolve) })
    // the honest holder away first: the hostile member is the only one to ask (with both, a fast honest holder can serve
    // every chunk before the hostile one is asked); it comes back while b still waits for a holder
    const aDir = a.dataDir
    await a.stop()
    const fetching = b.getFile(sent.id, { out: join(dir, 'b.bin') })
    await waitUntil('b to ask the hostile member for chunks', () => asked > 0)
    const a2 = await startNode(t, { dataDir: aDir })
    await b.dial(a2.addresses[0])
    const r = await fetching
    t.diagnostic(`the hostile peer was asked for ${asked} chunks; refused: ${JSON.stringify(r.refused)}; fetched from ${JSON.stringify(r.from)}`)
    assert.ok(asked > 0, 'the hostile peer was asked for chunks')
    assert.match(r.refused[hostile.peerId.toString()] ?? '', /does not match the manifest/)
    assert.equal((await penalized).peer, hostile.peerId.toString())
    assert.ok(b.files.penalizedUntil(hostile.peerId.toString()) != null)
    assert.equal(r.from[hostile.peerId.toString()] ?? 0, 0, 'no chunk of the hostile peer was kept')
    assert.equal(r.from[a2.peerId], r.chunks)
    assert.equal(await fileHash(join(dir, 'b.bin')), src.hash)
  })

  it('a non-member cannot fetch a file, even with its hash and its manifest hash', async (t) => {
    const dir = await tempDir(t)
    const [a] = await startNodes(t, 1)
    await a.createGroup('secret-files')
    const src = await randomFile(dir, 'private.bin', 3 * MiB)
    const sent = await a.sendFile('secret-files', src.path)
    const held = await stored(a, src.hash)
    const outsider = await bareNode(t)
    const ma = multiaddr(a.addresses[0])
    await outsider.dial(ma)
    const ids = { requester: outsider.peerId.toMultihash().bytes, responder: a.libp2pNode.peerId.toMultihash().bytes }
    /** OPEN, then ask for chunk 0 whatever the answer: what comes back */
    const attempt = async (manifest: Uint8Array, proof: Uint8Array): Promise<{ status?: FileResponse.Status, chunk?: Uint8Array, error?: string }> => {
      const stream = await outsider.dialProtocol(ma, FILE_PROTOCOL)
      const pb = pbStream(stream, { maxDataLength: 4 * MiB })
      try {
        await pb.write({ kind: FileRequest.Kind.OPEN, manifest: Uint8Array.from(manifest), proof: Uint8Array.from(proof) }, FileRequest)
        const opened = await pb.read(FileResponse, { signal: AbortSignal.timeout(5000) })
        await pb.write({ kind: FileRequest.Kind.CHUNKS, start: 0, count: 1 }, FileRequest)
        const chunk = await pb.read(FileResponse, { signal: AbortSignal.timeout(5000) }).then(r => r.data, () => undefined)
        return { status: opened.status, chunk }
      } catch (err: any) {
        return { error: err.name }
      } finally {
        stream.abort(new Error('done'))
      }
    }
    const UNKNOWN = FileResponse.Status.UNKNOWN
    // the plain file's hash, as a name: nothing
    assert.deepEqual(await attempt(Buffer.from(src.hash, 'hex'), randomBytes(32)), { status: UNKNOWN, chunk: undefined })
    // the manifest hash without a proof
    assert.deepEqual(await attempt(held.manifestHash, randomBytes(32)), { status: UNKNOWN, chunk: undefined })
    // the file's key, but not the group's: a member of another group, or someone the FileRef leaked to
    const otherGroup = groupFileKey(deriveGroupKeys('secret-files', randomBytes(32)).macKey)
    assert.deepEqual(await attempt(held.manifestHash, accessProof(otherGroup, { ...ids, manifest: held.manifestHash, fileKey: held.key })), { status: UNKNOWN, chunk: undefined })
    // the group's key, but not the file's (a member who never saw the announcement, guessing)
    const groupKey = groupFileKey(deriveGroupKeys('secret-files', Buffer.from(a.secret('secret-files'), 'hex')).macKey)
    assert.deepEqual(await attempt(held.manifestHash, accessProof(groupKey, { ...ids, manifest: held.manifestHash, fileKey: randomBytes(32) })), { status: UNKNOWN, chunk: undefined })
    // a proof made for another responder does not work here
    assert.deepEqual(await attempt(held.manifestHash, accessProof(groupKey, { ...ids, responder: outsider.peerId.toMultihash().bytes, manifest: held.manifestHash, fileKey: held.key })), { status: UNKNOWN, chunk: undefined })
    // the control: with both keys (what reading the announcement gives) the same request is served
    const ok = await attempt(held.manifestHash, accessProof(groupKey, { ...ids, manifest: held.manifestHash, fileKey: held.key }))
    assert.equal(ok.status, FileResponse.Status.OK)
    assert.ok(ok.chunk != null && chunkMatches(held.manifest, 0, ok.chunk))
    // and chunks asked for without OPEN: the stream is cut, the peer cut off
    const stream = await outsider.dialProtocol(ma, FILE_PROTOCOL)
    const pb = pbStream(stream)
    await pb.write({ kind: FileRequest.Kind.CHUNKS, start: 0, count: 1 }, FileRequest)
    await assert.rejects(pb.read(FileResponse, { signal: AbortSignal.timeout(5000) }))
    await waitUntil('the outsider to be cut off', () => a.files.penalizedUntil(outsider.peerId.toString()) != null)

    // a member's requests past its budget (500 a second, a burst of 1,000) reset the stream before they are decoded
    const greedy = await bareNode(t)
    await greedy.dial(ma)
    const g = { requester: greedy.peerId.toMultihash().bytes, responder: ids.responder }
    const flood = await greedy.dialProtocol(ma, FILE_PROTOCOL)
    const fpb = pbStream(flood, { maxDataLength: 4 * MiB, maxBufferSize: 64 * MiB })
    await fpb.write({ kind: FileRequest.Kind.OPEN, manifest: Uint8Array.from(held.manifestHash), proof: Uint8Array.from(accessProof(groupKey, { ...g, manifest: held.manifestHash, fileKey: held.key })) }, FileRequest)
    assert.equal((await fpb.read(FileResponse)).status, FileResponse.Status.OK)
    const REQUESTS = 2500
    const one = FileRequest.encode({ kind: FileRequest.Kind.MANIFEST })
    flood.send(Buffer.concat(Array.from({ length: REQUESTS }, () => Buffer.from([one.byteLength, ...one]))))
    let answered = 0
    try {
      while (answered < REQUESTS) { await fpb.read(FileResponse, { signal: AbortSignal.timeout(10_000) }); answered++ }
    } catch { /* the stream was reset */ }
    t.diagnostic(`${answered} of ${REQUESTS} requests answered before the reset`)
    assert.ok(answered >= 1000 && answered < REQUESTS, `${answered} answered`)
    assert.equal(sent.file?.hash, src.hash)
  })

  it('file announcements survive a backup and restore; the restored node fetches the content from a member', async (t) => {
    const dir = await tempDir(t)
    const [a, d] = await startNodes(t, 2)
    await a.createGroup('keep')
    // a PNG header (800 x 600) on random bytes: the announcement carries the dimensions
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000320000002580806000000', 'hex')
    const src = await randomFile(dir, 'photo.png', 2 * MiB, png)
    const sent = await a.sendFile('keep', src.path, { caption: 'the view' })
    assert.deepEqual({ mime: sent.file?.mime, width: sent.file?.width, height: sent.file?.height }, { mime: 'image/png', width: 800, height: 600 })
    await a.send('keep', 'and a text')
    const backup = join(dir, 'a.backup')
    await exportBackup(a.backupHost(), backup, { includeSecrets: true, passphrase: 'correct horse battery staple' })
    await importBackup(d.backupHost(), backup, { passphrase: 'correct horse battery staple' })
    const restored = (await d.history('keep')).messages.find(m => m.id === sent.id)
    assert.ok(restored != null)
    assert.equal(restored.kind, 'file')
    assert.equal(restored.text, 'the view')
    assert.deepEqual(restored.file, sent.file)
    // the backup holds the announcement, not the content: it is fetched from a member again
    const before = await d.fileStatus(sent.id.slice(0, 10))
    assert.equal(before.held, 0)
    await d.dial(a.addresses[0])
    await waitUntil('d and a to see each other on the group', () => d.groupPeers('keep').length > 0 && a.groupPeers('keep').length > 0)
    const r = await d.getFile(sent.id.slice(0, 10), { out: join(dir, 'd.png') })
    assert.equal(r.fetched, r.chunks)
    assert.equal(await fileHash(join(dir, 'd.png')), src.hash)
  })
})

describe('files: API', () => {
  it('upload (streamed, 413 past the limit), status, content, fetch with progress', async (t) => {
    const dir = await tempDir(t)
    const [a, b] = await startNodes(t, 2, { files: { maxFileSize: 8 * MiB } })
    await group([a, b], 'api-files')
    const apis = [new ApiServer(a), new ApiServer(b)]
    defer(t, async () => { for (const api of apis) await api.stop() })
    const [ia, ib] = await Promise.all(apis.map(async api => api.start()))
    const call = async (info: typeof ia, method: string, path: string, body?: any, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(info.url + path, { method, body, headers: { authorization: `Bearer ${info.token}`, ...headers }, duplex: 'half' })
    const src = await randomFile(dir, 'upload.bin', 5 * MiB)
    const data = await readFile(src.path)
    // a body streamed in pieces, no Content-Length
    const pieces = async function * (buf: Buffer): AsyncGenerator<Uint8Array> { for (let at = 0; at < buf.byteLength; at += 100_000) yield buf.subarray(at, at + 100_000) }
    const up = await call(ia, 'POST', '/v1/groups/api-files/files?name=upload.bin&caption=by%20API', ReadableStream.from(pieces(data)) as any, { 'content-type': 'application/octet-stream' })
    assert.equal(up.status, 201)
    const m: any = await up.json()
    assert.equal(m.kind, 'file')
    assert.equal(m.text, 'by API')
    assert.equal(m.file.hash, src.hash)
    // too large: refused on its Content-Length before the body is read, or once the bytes read pass the limit
    const big = randomBytes(9 * MiB)
    const declared = await call(ia, 'POST', '/v1/groups/api-files/files?name=big.bin', big)
    assert.equal(declared.status, 413)
    assert.equal(((await declared.json()) as any).error.code, 'ERR_BODY_TOO_LARGE')
    const streamed = await call(ia, 'POST', '/v1/groups/api-files/files?name=big.bin', ReadableStream.from(pieces(big)) as any)
    assert.equal(streamed.status, 413)
    assert.equal(await readdir(join(a.dataDir, 'files', 'tmp')).then(l => l.length, () => 0), 0, 'nothing of it kept')
    // the sender holds it: status, content
    const st: any = await (await call(ia, 'GET', `/v1/files/${m.id.slice(0, 8)}`)).json()
    assert.equal(st.complete, true)
    const content = await call(ia, 'GET', `/v1/files/${m.id}/content`)
    assert.equal(content.status, 200)
    assert.equal(content.headers.get('content-type'), 'application/octet-stream')
    assert.match(content.headers.get('content-disposition') ?? '', /attachment; filename\*=UTF-8''upload\.bin/)
    assert.ok(Buffer.from(await content.arrayBuffer()).equals(data))
    // the other member: not held yet (404), fetched with progress lines, then served
    await waitUntil('b to see the announcement', async () => (await b.history('api-files')).messages.some(x => x.id === m.id))
    assert.equal((await call(ib, 'GET', `/v1/files/${m.id}/content`)).status, 404)
    const res = await call(ib, 'POST', `/v1/files/${m.id}/fetch`, JSON.stringify({}), { 'content-type': 'application/json' })
    assert.equal(res.status, 200)
    const lines = (await res.text()).trim().split('\n').map(l => JSON.parse(l))
    const result = lines[lines.length - 1]
    assert.equal(result.type, 'result')
    assert.equal(result.result.state, 'complete')
    assert.equal(result.result.fetched, result.result.chunks)
    assert.ok(lines.some(l => l.type === 'progress' && l.state === 'fetching'))
    assert.ok(Buffer.from(await (await call(ib, 'GET', `/v1/files/${m.id}/content`)).arrayBuffer()).equals(data))
    // not a file: 404; not an id: 400
    const text = await a.send('api-files', 'just text')
    assert.equal((await call(ia, 'GET', `/v1/files/${text.id}`)).status, 404)
    assert.equal((await call(ia, 'GET', '/v1/files/xyz')).status, 400)
  })
})

describe('files: CLI', () => {
  it('the terminal: /file sends, images show name, size and dimensions, /get saves', async (t) => {
    const dir = await tempDir(t)
    const [a, b] = await startNodes(t, 2)
    await group([a, b], 'pics')
    const input = new PassThrough()
    const output = Object.assign(new PassThrough(), { isTTY: true, columns: 160 })
    let screen = ''
    output.setEncoding('utf8').on('data', (d: string) => { screen += d })
    const done = runInteractive(b, { input, output })
    await waitUntil('the terminal to start', () => screen.includes('/help lists commands'))
    const gif = Buffer.from('GIF89a\x40\x01\xf0\x00', 'latin1')
    const mine = await randomFile(dir, 'mine.gif', 4096, gif)
    const arrived = nextMessage(a, m => m.kind === 'file')
    input.write(`/file ${mine.path} my own picture\n`)
    const m = await arrived
    assert.equal(m.text, 'my own picture')
    await waitUntil('the terminal to show the image line', () => /image mine\.gif, 4\.0 KiB, 320x240 px \(image\/gif\): \/get \d+ to save it/.test(screen))
    // a member's PNG: shown with its dimensions, saved with /get <n> <path>
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000780000004380806000000', 'hex')
    const theirs = await randomFile(dir, 'theirs.png', 3 * MiB, png)
    await a.sendFile('pics', theirs.path)
    await waitUntil('the terminal to show the other image', () => /image theirs\.png, 3\.0 MiB, 1920x1080 px \(image\/png\): \/get (\d+) to save it/.test(screen))
    const n = /image theirs\.png.*\/get (\d+) to save it/.exec(screen)?.[1]
    input.write(`/get ${n} ${join(dir, 'saved.png')}\n`)
    await waitUntil('the terminal to say it saved the file', () => screen.includes(`* saved theirs.png to ${join(dir, 'saved.png')}`))
    assert.equal(await fileHash(join(dir, 'saved.png')), theirs.hash)
    input.write('/quit\n')
    await done
  })


  it('send-file and get end to end; a CLI sender killed (SIGKILL) mid-transfer, the rest from the other member', async (t) => {
    const dir = await tempDir(t)
    const [a, b] = await Promise.all([startCli(t, { name: 'alice' }), startCli(t, { name: 'bob' })])
    const created = await cliJson(['create', 'cli-files', '--data-dir', a.dataDir])
    await cliJson(['join', created.invite, '--data-dir', b.dataDir])
    const src = await randomFile(dir, 'report.bin', 50 * MiB)
    const sent = await cliJson(['send-file', 'cli-files', src.path, '--caption', 'from the terminal', '--data-dir', a.dataDir])
    assert.equal(sent.kind, 'file')
    assert.equal(sent.file.hash, src.hash)
    assert.equal(sent.text, 'from the terminal')
    await waitUntil('b to hold the announcement', async () => (await cliJson(['history', 'cli-files', '--data-dir', b.dataDir])).messages.some((m: any) => m.id === sent.id))
    const got = await cliJson(['get', sent.id.slice(0, 8), '--out', join(dir, 'b.bin'), '--data-dir', b.dataDir])
    assert.equal(got.path, join(dir, 'b.bin'))
    assert.equal(got.state, 'complete')
    assert.equal(await fileHash(join(dir, 'b.bin')), src.hash)
    // people's output, and the errors
    const human = await runCli(['get', sent.id, '--out', join(dir, 'b2.bin'), '--data-dir', b.dataDir])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /report\.bin .*50\.0 MiB.* held already/)
    const exists = await runCli(['get', sent.id, '--out', join(dir, 'b.bin'), '--data-dir', b.dataDir])
    assert.equal(exists.code, 1)
    assert.match(exists.stderr, /exists/)
    const short = await runCli(['get', 'abc', '--out', join(dir, 'x'), '--data-dir', b.dataDir])
    assert.equal(short.code, 1)
    assert.match(short.stderr, /first 8 or more hex characters/)
    // a node started with a lower limit refuses larger files, before reading them
    const small = await startCli(t, { args: ['--max-file-size', '1M'] })
    await cliJson(['create', 'small', '--data-dir', small.dataDir])
    const tooBig = await runCli(['send-file', 'small', src.path, '--data-dir', small.dataDir])
    assert.equal(tooBig.code, 1)
    assert.match(tooBig.stderr, /the file is 52428800 bytes: this node takes files up to 1048576 bytes \(start --max-file-size\)/)
    const badSize = await runCli(['start', '--max-file-size', 'lots', '--data-dir', small.dataDir])
    assert.equal(badSize.code, 64)

    // c (in this process, one source at a time: the sender first) fetches; the CLI sender is SIGKILLed at 30 %
    const c = await startNode(t, { files: { maxSources: 1 } })
    await c.joinGroup({ invite: created.invite })
    await c.dial(b.addresses[0])
    await waitUntil('c to hold the announcement (sync)', async () => (await c.history('cli-files')).messages.some(m => m.id === sent.id))
    await waitUntil('c to see both on the group', () => c.groupPeers('cli-files').length >= 2)
    let killedAt = -1
    const r = await c.getFile(sent.id, {
      out: join(dir, 'c.bin'),
      onProgress: p => { if (killedAt < 0 && p.fetched >= p.chunks * 0.3) { killedAt = p.fetched; a.proc.kill('SIGKILL') } }
    })
    t.diagnostic(`SIGKILLed the sender after ${killedAt} chunks; fetched from ${JSON.stringify(r.from)}`)
    assert.equal(await a.exited, null)
    assert.ok((r.from[a.peerId] ?? 0) > 0)
    assert.ok((r.from[b.peerId] ?? 0) > 0)
    assert.equal(await fileHash(join(dir, 'c.bin')), src.hash)
  })
})
