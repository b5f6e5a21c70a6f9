/**
 * The responding end of /p2p-chat/file/1.0.0: one stream, one file. The
 * first request must be OPEN with a proof of access (proof.ts) for a file
 * held here; anything else gets UNKNOWN, the same answer as for a file not
 * held, so a peer without access learns nothing (not even whether the file
 * is here). Then MANIFEST and CHUNKS requests are answered in order until
 * the requester closes its side. Every request costs a token of the peer's
 * bucket before it is decoded; requests are at most MAX_REQUEST_BYTES.
 */
import { FileChannel, END, MAX_RANGE, MAX_REQUEST_BYTES, REQUEST_BUFFER_BYTES, bytes } from './channel.js'
import { FileProtocolError } from './errors.js'
import { HASH_BYTES } from './manifest.js'
import { PROOF_BYTES, checkAccess } from './proof.js'
import { FileRequest, FileResponse } from './pb/file.js'
import type { FileStore, FileVersion } from './store.js'
import type { PeerRateLimiter } from '../rate-limit.js'
import type { PeerId, Stream } from '@libp2p/interface'

export interface ServeContext {
  local: PeerId
  remote: PeerId
  store: FileStore
  /** the file keys (groupFileKey) of those of `groupIds` this node is in now */
  groupKeys: (groupIds: ReadonlySet<string>) => Uint8Array[]
  /** requests per peer, taken before each is decoded */
  limiter: PeerRateLimiter
  timeout: number
  signal: AbortSignal
}

export interface ServeReport {
  status: 'served' | 'unknown'
  /** chunks sent */
  chunks: number
  /** bytes written (responses) */
  bytes: number
  hash?: string
}

class RateLimitedError extends Error {
  constructor () {
    super('too many file requests from this peer')
    this.name = 'RateLimitedError'
  }
}

/** The version OPEN names, if one held here admits the proof. */
async function admit (req: FileRequest, ctx: ServeContext): Promise<FileVersion | undefined> {
  if (req.manifest.byteLength !== HASH_BYTES || req.proof.byteLength !== PROOF_BYTES) throw new FileProtocolError('malformed OPEN')
  const t = { requester: ctx.remote.toMultihash().bytes, responder: ctx.local.toMultihash().bytes, manifest: req.manifest }
  let found: FileVersion | undefined
  for (const v of await ctx.store.byManifestHash(req.manifest)) {
    // a version whose manifest is not known yet holds nothing to serve
    if (v.manifest == null) continue
    if (checkAccess(ctx.groupKeys(v.groups), req.proof, { ...t, fileKey: v.ref.key }) && found == null) found = v
  }
  return found
}

/** Answer one file stream; throws FileProtocolError when the peer broke the protocol (the caller cuts it off). */
export async function serve (stream: Stream, ctx: ServeContext): Promise<ServeReport> {
  const peer = ctx.remote.toString()
  const ch = new FileChannel(stream, {
    maxDataLength: MAX_REQUEST_BYTES,
    maxBufferSize: REQUEST_BUFFER_BYTES,
    timeout: ctx.timeout,
    signal: ctx.signal,
    beforeDecode: () => { if (!ctx.limiter.take(peer)) throw new RateLimitedError() }
  })
  const report: ServeReport = { status: 'unknown', chunks: 0, bytes: 0 }
  try {
    const open = await ch.read(FileRequest)
    if (open === END) return report
    if (open.kind !== FileRequest.Kind.OPEN) throw new FileProtocolError('the first request must be OPEN')
    const version = await admit(open, ctx)
    const manifest = version?.manifest
    if (version == null || manifest == null) {
      await ch.write({ status: FileResponse.Status.UNKNOWN }, FileResponse)
      await ch.close()
      return report
    }
    report.status = 'served'
    report.hash = version.hashHex
    await ch.write({ status: FileResponse.Status.OK, chunks: version.chunks, have: bytes(version.held.bytes) }, FileResponse)
    while (true) {
      const req = await ch.read(FileRequest)
      if (req === END) break
      if (req.kind === FileRequest.Kind.MANIFEST) {
        await ch.write({ status: FileResponse.Status.OK, hashes: bytes(manifest) }, FileResponse)
        continue
      }
      if (req.kind !== FileRequest.Kind.CHUNKS) throw new FileProtocolError('OPEN twice')
      const { start, count } = req
      if (count < 1 || count > MAX_RANGE || start >= version.chunks || start + count > version.chunks) throw new FileProtocolError(`bad range ${start}+${count} of ${version.chunks} chunks`)
      // the next chunk is read from disk while this one is written to the stream
      let next = version.readChunk(start).catch(() => undefined)
      for (let i = start; i < start + count; i++) {
        const data = await next
        if (i + 1 < start + count) next = version.readChunk(i + 1).catch(() => undefined)
        if (data == null) {
          await ch.write({ status: FileResponse.Status.MISSING, index: i }, FileResponse)
          continue
        }
        await ch.write({ status: FileResponse.Status.OK, index: i, data: bytes(data) }, FileResponse)
        report.chunks++
      }
    }
    await ch.close()
    return report
  } catch (err: unknown) {
    ch.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  } finally {
    report.bytes = ch.bytesOut
  }
}
