import { ApiError, MessageNotFoundError } from '../errors.js'
import { exportBackup, importBackup } from '../backup/index.js'
import { clientGone, optBool, optInt, optMedia, optNumber, optString, optStringArray, readJson, reqPath, reqString, streamProgress } from './http.js'
import type { Call } from '../calls/index.js'
import type { ChatNode } from '../node.js'
import type { BrowserMediaLink, BrowserMediaLinks } from '../web/call-media.js'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { once } from 'node:events'
import { FileTooLargeError } from '../files/index.js'

export interface RouteContext {
  node: ChatNode
  req: IncomingMessage
  res: ServerResponse
  url: URL
  params: Record<string, string>
  /** stop the node (`p2p-chat stop`), when the server was given a way to */
  shutdown?: () => void
  /** the media sockets of calls from the web page (src/web/call-media.ts) */
  media?: BrowserMediaLinks
}

export interface RouteResult { status?: number, body?: unknown }

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  path: RegExp
  handler: (ctx: RouteContext) => Promise<RouteResult | undefined>
}

const TOPIC = '(?<topicId>[^/]+)'
/** a message's hex id, or a unique prefix of 8 or more hex characters */
const MESSAGE = '(?<id>[^/]+)'
const p = (path: string): RegExp => new RegExp(`^${path}$`)

/** a file announcement: its message id, or a prefix of 8 or more hex characters */
const FILE_ID = '(?<fileId>[^/]+)'
/** media types a file's content is served as (images a page may show); anything else is application/octet-stream */
const SAFE_MEDIA_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'text/plain'])

/** Files (src/files, docs/API.md "Files"): send, fetch with progress, read what is held */
const fileRoutes: Route[] = [
  {
    // the file itself is the body, streamed to the store (never held in memory): 413 past the node's largest file
    method: 'POST',
    path: p(`/v1/groups/${TOPIC}/files`),
    handler: async ({ node, req, res, params, url }) => {
      node.group(params.topicId) // 404 before the body is read
      const name = url.searchParams.get('name')
      if (name == null || name === '') throw new ApiError('"name" (the file name) is required, as ?name=', 'ERR_INVALID_INPUT')
      const declared = req.headers['content-length'] != null ? Number(req.headers['content-length']) : undefined
      const max = node.files.maxFileSize
      if (declared != null && declared > max) throw new FileTooLargeError(declared, max)
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
      if (type !== '' && !/^[\x21-\x7e]{1,127}$/.test(type)) throw new ApiError('Content-Type is not a media type', 'ERR_INVALID_INPUT')
      const mime = type === '' || type === 'application/octet-stream' ? undefined : type
      const replyTo = url.searchParams.get('replyTo') ?? undefined
      const signal = clientGone(req, res)
      const message = await node.sendFileStream(params.topicId, req as AsyncIterable<Uint8Array>, { name, caption: url.searchParams.get('caption') ?? undefined, mime, replyTo, size: declared, signal })
      return { status: 201, body: message }
    }
  },
  {
    // a file on this machine, read by the node itself (the CLI's send-file): progress while it is read
    method: 'POST',
    path: p(`/v1/groups/${TOPIC}/files/from-path`),
    handler: async ({ node, req, res, params }) => {
      const body = await readJson(req)
      const path = reqPath(body, 'path')
      const opts = { caption: optString(body, 'caption'), name: optString(body, 'name'), mime: optString(body, 'mime'), replyTo: optString(body, 'replyTo') }
      node.group(params.topicId)
      const signal = clientGone(req, res)
      await streamProgress(res, async (progress) => node.sendFile(params.topicId, path, { ...opts, signal, onProgress: bytes => { progress({ bytes }) } }))
      return undefined
    }
  },
  { method: 'GET', path: p('/v1/files'), handler: async ({ node }) => ({ body: node.files.fetching() }) },
  { method: 'GET', path: p(`/v1/files/${FILE_ID}`), handler: async ({ node, params }) => ({ body: await node.fileStatus(params.fileId) }) },
  {
    method: 'POST',
    path: p(`/v1/files/${FILE_ID}/fetch`),
    handler: async ({ node, req, res, params }) => {
      const body = await readJson(req)
      const out = body.out != null ? reqPath(body, 'out') : undefined
      const overwrite = optBool(body, 'overwrite')
      await node.fileStatus(params.fileId) // 404 / 400 before the stream starts
      const signal = clientGone(req, res)
      await streamProgress(res, async (progress) => node.getFile(params.fileId, { out, overwrite, signal, onProgress: p => { progress(p, p.state !== 'fetching') } }))
      return undefined
    }
  },
  {
    method: 'GET',
    path: p(`/v1/files/${FILE_ID}/content`),
    handler: async ({ node, req, res, params }) => {
      const signal = clientGone(req, res)
      const { file, content } = await node.fileContent(params.fileId, { signal })
      const safe = SAFE_MEDIA_TYPES.has(file.mime)
      res.writeHead(200, {
        'content-type': safe ? file.mime : 'application/octet-stream',
        'content-length': file.size,
        'content-disposition': `${safe ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(file.name)}`,
        'x-content-type-options': 'nosniff',
        'content-security-policy': 'sandbox',
        'cache-control': 'no-store'
      })
      try {
        for await (const piece of content) {
          if (!res.write(piece)) await once(res, 'drain', { signal })
        }
        res.end()
      } catch (err) {
        // the head is out: the connection is cut, the client sees a short body
        res.destroy(err instanceof Error ? err : new Error(String(err)))
      }
      return undefined
    }
  }
]

/** Every endpoint of the local API: see docs/API.md */
export const routes: Route[] = [
  {
    method: 'GET',
    path: p('/v1/status'),
    handler: async ({ node }) => ({
      body: {
        peerId: node.peerId,
        name: node.name,
        addresses: node.addresses,
        dataDir: node.dataDir,
        groups: node.groups().length,
        peers: node.peers().length,
        pid: process.pid,
        uptime: Math.round(process.uptime()),
        ingest: node.ingestCounts(),
        ...node.connectivity()
      }
    })
  },
  {
    method: 'POST',
    path: p('/v1/shutdown'),
    handler: async ({ res, shutdown }) => {
      if (shutdown == null) throw new ApiError('this node cannot be stopped through its API', 'ERR_NOT_FOUND')
      // stop once the answer is out: stopping waits for the requests under way, this one included
      res.once('finish', shutdown)
      return { status: 202, body: { stopping: true, pid: process.pid } }
    }
  },
  { method: 'GET', path: p('/v1/peers'), handler: async ({ node }) => ({ body: node.peers() }) },
  {
    method: 'POST',
    path: p('/v1/peers'),
    handler: async ({ node, req }) => ({ body: await node.dial(reqString(await readJson(req), 'address')) })
  },
  {
    method: 'PUT',
    path: p('/v1/profile'),
    handler: async ({ node, req }) => ({ body: { name: await node.setName(reqString(await readJson(req), 'name')) } })
  },
  { method: 'GET', path: p('/v1/groups'), handler: async ({ node }) => ({ body: await Promise.all(node.groups().map(async g => ({ ...g, ...await node.unread(g.topicId) }))) }) },
  {
    method: 'POST',
    path: p('/v1/groups'),
    handler: async ({ node, req }) => {
      const body = await readJson(req)
      return { status: 201, body: await node.createGroup(reqString(body, 'topicId'), { name: optString(body, 'name'), membership: optBool(body, 'managed') === true }) }
    }
  },
  {
    method: 'POST',
    path: p('/v1/groups/join'),
    handler: async ({ node, req }) => {
      const body = await readJson(req)
      const invite = optString(body, 'invite')
      if (invite != null) return { body: await node.joinGroup({ invite }) }
      return { body: await node.joinGroup({ topicId: reqString(body, 'topicId'), secret: reqString(body, 'secret'), name: optString(body, 'name') }) }
    }
  },
  { method: 'GET', path: p(`/v1/groups/${TOPIC}`), handler: async ({ node, params }) => ({ body: { ...node.group(params.topicId), ...await node.unread(params.topicId) } }) },
  {
    method: 'POST',
    path: p(`/v1/groups/${TOPIC}/read`),
    handler: async ({ node, req, params }) => ({ body: await node.markRead(params.topicId, optString(await readJson(req), 'cursor')) })
  },
  {
    method: 'POST',
    path: p(`/v1/groups/${TOPIC}/typing`),
    handler: async ({ node, params }) => ({ body: { sent: node.typing(params.topicId) } })
  },
  {
    method: 'GET',
    path: p('/v1/search'),
    handler: async ({ node, url }) => {
      const q = url.searchParams.get('q') ?? ''
      const topicId = url.searchParams.get('group') ?? undefined
      return { body: { query: q, results: await node.search(q, { topicId, limit: optInt(url.searchParams.get('limit'), 'limit') }) } }
    }
  },
  {
    method: 'POST',
    path: p('/v1/search/index'),
    handler: async ({ node, req, res }) => {
      const topicId = optString(await readJson(req), 'group')
      if (topicId != null) node.group(topicId) // 404 before the stream starts
      await streamProgress(res, async (progress) => node.searchIndex({ topicId, onProgress: p => { progress(p, p.done === 0 || p.done === p.total) } }))
      return undefined
    }
  },
  {
    method: 'DELETE',
    path: p(`/v1/groups/${TOPIC}`),
    handler: async ({ node, params }) => { await node.leaveGroup(params.topicId); return { status: 200, body: { left: params.topicId } } }
  },
  {
    method: 'GET',
    path: p(`/v1/groups/${TOPIC}/invite`),
    handler: async ({ node, params, url }) => {
      const body: Record<string, string> = { topicId: params.topicId, invite: node.invite(params.topicId) }
      if (url.searchParams.get('secret') === 'true') body.secret = node.secret(params.topicId)
      return { body }
    }
  },
  // issue 15: a revocable invite (admins; a legacy group gets its membership log first)
  {
    method: 'POST',
    path: p(`/v1/groups/${TOPIC}/invites`),
    handler: async ({ node, params, req }) => {
      const body = await readJson(req)
      const expiresIn = optNumber(body, 'expiresIn')
      const uses = optNumber(body, 'uses')
      return { status: 201, body: await node.createInvite(params.topicId, { ...(expiresIn != null ? { ttlMs: expiresIn * 1000 } : {}), ...(uses != null ? { uses } : {}) }) }
    }
  },
  {
    method: 'GET',
    path: p(`/v1/groups/${TOPIC}/peers`),
    handler: async ({ node, params }) => ({ body: node.groupPeers(params.topicId) })
  },
  {
    method: 'GET',
    path: p(`/v1/groups/${TOPIC}/members`),
    handler: async ({ node, params }) => ({ body: await node.members(params.topicId) })
  },
  // issue 15: the membership log (admins only: remove, promote, demote); :peer is a peer id, a unique name or name~suffix
  {
    method: 'GET',
    path: p(`/v1/groups/${TOPIC}/membership`),
    handler: async ({ node, params }) => ({ body: node.membership(params.topicId) })
  },
  {
    method: 'POST',
    path: p(`/v1/groups/${TOPIC}/members/(?<peer>[^/]+)/(?<op>remove|promote|demote|add)`),
    handler: async ({ node, params }) => {
      const { topicId, peer, op } = params
      const body = op === 'remove' ? await node.removeMember(topicId, peer) : op === 'promote' ? await node.promote(topicId, peer) : op === 'add' ? await node.addMember(topicId, peer) : await node.demote(topicId, peer)
      return { body }
    }
  },
  {
    method: 'POST',
    path: p(`/v1/groups/${TOPIC}/messages`),
    handler: async ({ node, req, params }) => {
      const body = await readJson(req)
      const text = body.text
      if (typeof text !== 'string') throw new ApiError('"text" is required and must be a string', 'ERR_INVALID_INPUT')
      const mentions = optBool(body, 'mentions')
      const header = req.headers['idempotency-key']
      const idempotencyKey = Array.isArray(header) ? header[0] : header
      // a reply (src/chat/view.ts): 201 also for a repeat of an Idempotency-Key
      const replyTo = optString(body, 'replyTo')
      if (replyTo != null) return { status: 201, body: await node.reply(params.topicId, replyTo, text, { mentions, ...keyed(idempotencyKey) }) }
      if (idempotencyKey == null) return { status: 201, body: await node.send(params.topicId, text, { mentions }) }
      const { message, repeated } = await node.sendIdempotent(params.topicId, text, idempotencyKey, { mentions })
      // 200: a repeat of a send already stored (nothing new was sent); 201: stored now
      return { status: repeated ? 200 : 201, body: message }
    }
  },
  {
    method: 'GET',
    path: p(`/v1/groups/${TOPIC}/messages`),
    handler: async ({ node, params, url }) => ({
      body: await node.history(params.topicId, {
        limit: optInt(url.searchParams.get('limit'), 'limit'),
        before: url.searchParams.get('before') ?? undefined
      })
    })
  },
  {
    method: 'GET',
    path: p(`/v1/groups/${TOPIC}/view`),
    handler: async ({ node, params, url }) => ({
      body: await node.view(params.topicId, {
        limit: optInt(url.searchParams.get('limit'), 'limit'),
        before: url.searchParams.get('before') ?? undefined
      })
    })
  },
  {
    method: 'GET',
    path: p(`/v1/groups/${TOPIC}/messages/${MESSAGE}`),
    handler: async ({ node, params }) => {
      const m = await node.viewMessage(params.topicId, params.id)
      if (m == null) throw new MessageNotFoundError(`${params.id} in ${params.topicId} is a reaction, an edit or a delete, not a message: GET …/messages lists every record`)
      return { body: m }
    }
  },
  {
    method: 'POST',
    path: p(`/v1/groups/${TOPIC}/messages/${MESSAGE}/reactions`),
    handler: async ({ node, req, params }) => {
      const body = await readJson(req)
      return { status: 201, body: await node.react(params.topicId, params.id, reqString(body, 'emoji'), { remove: optBool(body, 'remove'), ...keyed(headerKey(req)) }) }
    }
  },
  {
    method: 'PATCH',
    path: p(`/v1/groups/${TOPIC}/messages/${MESSAGE}`),
    handler: async ({ node, req, params }) => {
      const body = await readJson(req)
      const text = body.text
      if (typeof text !== 'string') throw new ApiError('"text" is required and must be a string', 'ERR_INVALID_INPUT')
      return { status: 201, body: await node.edit(params.topicId, params.id, text, { mentions: optBool(body, 'mentions'), ...keyed(headerKey(req)) }) }
    }
  },
  {
    method: 'DELETE',
    path: p(`/v1/groups/${TOPIC}/messages/${MESSAGE}`),
    handler: async ({ node, req, params }) => ({ status: 201, body: await node.deleteMessage(params.topicId, params.id, keyed(headerKey(req))) })
  },
  {
    method: 'POST',
    path: p(`/v1/groups/${TOPIC}/sync`),
    handler: async ({ node, req, res, params }) => {
      node.group(params.topicId) // 404 before the stream starts
      const signal = clientGone(req, res)
      await streamProgress(res, async (progress) => node.sync(params.topicId, { signal, onProgress: progress }))
      return undefined
    }
  },
  ...fileRoutes,
  {
    method: 'POST',
    path: p('/v1/backup/export'),
    handler: async ({ node, req, res }) => {
      const body = await readJson(req)
      const out = reqPath(body, 'out')
      const opts = { topicIds: optStringArray(body, 'topicIds'), includeSecrets: optBool(body, 'includeSecrets'), includeIdentity: optBool(body, 'includeIdentity'), passphrase: optString(body, 'passphrase'), overwrite: optBool(body, 'overwrite') }
      const signal = clientGone(req, res)
      await streamProgress(res, async (progress) => ({
        file: out,
        ...await exportBackup(node.backupHost(), out, { ...opts, signal, onProgress: p => { progress(p) } })
      }))
      return undefined
    }
  },
  {
    method: 'POST',
    path: p('/v1/backup/import'),
    handler: async ({ node, req, res }) => {
      const body = await readJson(req)
      const file = reqPath(body, 'file')
      const passphrase = optString(body, 'passphrase')
      const signal = clientGone(req, res)
      await streamProgress(res, async (progress) => importBackup(node.backupHost(), file, { passphrase, signal, onProgress: p => { progress(p) } }))
      return undefined
    }
  },
  { method: 'GET', path: p('/v1/calls'), handler: async ({ node }) => ({ body: node.calls.list() }) },
  { method: 'GET', path: p('/v1/calls/media'), handler: async ({ media }) => ({ body: media?.list() ?? [] }) },
  {
    method: 'POST',
    path: p('/v1/calls'),
    handler: async ({ node, req, res, media }) => {
      const body = await readJson(req)
      const peerId = await node.resolvePeer(reqString(body, 'peer'))
      const video = optBool(body, 'video') ?? false
      const link = mediaLink(body, media)
      const opts = link != null
        ? { video, input: link.sources(video), output: link.sinks() }
        : { video, input: optMedia(body, 'input'), output: optMedia(body, 'output') }
      const gone = clientGone(req, res)
      const signal = link != null ? AbortSignal.any([gone, link.signal]) : gone
      await streamProgress(res, async (progress) => {
        progress({ event: 'ringing', peerId }, true)
        return withLink(link, async () => node.calls.call(peerId, { ...opts, signal }), progress)
      })
      return undefined
    }
  },
  {
    method: 'POST',
    path: p('/v1/calls/answer'),
    handler: async ({ node, req, res, media }) => {
      const body = await readJson(req)
      const timeout = body.timeout
      if (timeout != null && (typeof timeout !== 'number' || timeout <= 0)) throw new ApiError('"timeout" must be a positive number of seconds', 'ERR_INVALID_INPUT')
      const callId = optString(body, 'callId')
      const link = mediaLink(body, media)
      // the page sends its camera only on a video call
      const io = link != null
        ? { input: link.sources(callId != null ? (node.calls.get(callId)?.video ?? false) : link.camera), output: link.sinks() }
        : { input: optMedia(body, 'input'), output: optMedia(body, 'output') }
      const opts = { callId, ...io, timeout: timeout != null ? timeout * 1000 : undefined }
      const gone = clientGone(req, res)
      const signal = link != null ? AbortSignal.any([gone, link.signal]) : gone
      await streamProgress(res, async (progress) => withLink(link, async () => node.calls.answer({ ...opts, signal }), progress))
      return undefined
    }
  },
  {
    method: 'POST',
    path: p('/v1/calls/reject'),
    handler: async ({ node, req }) => {
      const body = await readJson(req)
      return { body: await node.calls.reject(optString(body, 'callId'), optString(body, 'reason')) }
    }
  },
  {
    method: 'POST',
    path: p('/v1/calls/hangup'),
    handler: async ({ node, req }) => ({ body: await node.calls.hangup(optString(await readJson(req), 'callId')) })
  }
]

/** The request's Idempotency-Key header, if any */
function headerKey (req: IncomingMessage): string | undefined {
  const header = req.headers['idempotency-key']
  return Array.isArray(header) ? header[0] : header
}

/** SendOptions with the key when there is one */
function keyed (idempotencyKey: string | undefined): { idempotencyKey?: string } {
  return idempotencyKey != null ? { idempotencyKey } : {}
}

/** The page's media link a call request names (`media`), reserved for it; instead of `input` / `output`. */
function mediaLink (body: Record<string, unknown>, media: BrowserMediaLinks | undefined): BrowserMediaLink | undefined {
  const id = optString(body, 'media')
  if (id == null) return undefined
  if (body.input != null || body.output != null) throw new ApiError('"media" (a page\'s media link) replaces "input" and "output": give one or the other', 'ERR_INVALID_INPUT')
  if (media == null) throw new ApiError('this API has no media links', 'ERR_NOT_FOUND')
  return media.take(id)
}

/** Place or answer a call, with the page's media link bound to it once connected (or closed if it never connects). */
async function withLink (link: BrowserMediaLink | undefined, start: () => Promise<Call>, progress: (p: object, always?: boolean) => void): Promise<unknown> {
  let call: Call
  try {
    call = await start()
  } catch (err) {
    link?.close(1000, 'no call')
    throw err
  }
  link?.bind(call)
  return followCall(call, progress)
}

/** Report a connected call's progress (connected, stats each second) until it ends; resolves with how it ended. */
async function followCall (call: Call, progress: (p: object, always?: boolean) => void): Promise<unknown> {
  progress({ event: 'connected', call: call.info() }, true)
  const onStats = (stats: unknown): void => { progress({ event: 'stats', callId: call.id, stats }, true) }
  call.on('stats', onStats)
  try {
    return await call.ended
  } finally {
    call.off('stats', onStats)
  }
}
