import { ApiError } from '../errors.js'
import { exportBackup, importBackup } from '../backup/index.js'
import { clientGone, optBool, optInt, optMedia, optString, optStringArray, readJson, reqPath, reqString, streamProgress } from './http.js'
import type { Call } from '../calls/index.js'
import type { ChatNode } from '../node.js'
import type { IncomingMessage, ServerResponse } from 'node:http'

export interface RouteContext {
  node: ChatNode
  req: IncomingMessage
  res: ServerResponse
  url: URL
  params: Record<string, string>
  /** stop the node (`p2p-chat stop`), when the server was given a way to */
  shutdown?: () => void
}

export interface RouteResult { status?: number, body?: unknown }

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: RegExp
  handler: (ctx: RouteContext) => Promise<RouteResult | undefined>
}

const TOPIC = '(?<topicId>[^/]+)'
const p = (path: string): RegExp => new RegExp(`^${path}$`)

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
  { method: 'GET', path: p('/v1/groups'), handler: async ({ node }) => ({ body: node.groups() }) },
  {
    method: 'POST',
    path: p('/v1/groups'),
    handler: async ({ node, req }) => {
      const body = await readJson(req)
      return { status: 201, body: await node.createGroup(reqString(body, 'topicId'), { name: optString(body, 'name') }) }
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
  { method: 'GET', path: p(`/v1/groups/${TOPIC}`), handler: async ({ node, params }) => ({ body: node.group(params.topicId) }) },
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
  {
    method: 'POST',
    path: p(`/v1/groups/${TOPIC}/messages`),
    handler: async ({ node, req, params }) => {
      const text = (await readJson(req)).text
      if (typeof text !== 'string') throw new ApiError('"text" is required and must be a string', 'ERR_INVALID_INPUT')
      const header = req.headers['idempotency-key']
      const idempotencyKey = Array.isArray(header) ? header[0] : header
      if (idempotencyKey == null) return { status: 201, body: await node.send(params.topicId, text) }
      const { message, repeated } = await node.sendIdempotent(params.topicId, text, idempotencyKey)
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
    method: 'POST',
    path: p(`/v1/groups/${TOPIC}/sync`),
    handler: async ({ node, req, res, params }) => {
      node.group(params.topicId) // 404 before the stream starts
      const signal = clientGone(req, res)
      await streamProgress(res, async (progress) => node.sync(params.topicId, { signal, onProgress: progress }))
      return undefined
    }
  },
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
  {
    method: 'POST',
    path: p('/v1/calls'),
    handler: async ({ node, req, res }) => {
      const body = await readJson(req)
      const peerId = await node.resolvePeer(reqString(body, 'peer'))
      const opts = { video: optBool(body, 'video') ?? false, input: optMedia(body, 'input'), output: optMedia(body, 'output') }
      const signal = clientGone(req, res)
      await streamProgress(res, async (progress) => {
        progress({ event: 'ringing', peerId }, true)
        return followCall(await node.calls.call(peerId, { ...opts, signal }), progress)
      })
      return undefined
    }
  },
  {
    method: 'POST',
    path: p('/v1/calls/answer'),
    handler: async ({ node, req, res }) => {
      const body = await readJson(req)
      const timeout = body.timeout
      if (timeout != null && (typeof timeout !== 'number' || timeout <= 0)) throw new ApiError('"timeout" must be a positive number of seconds', 'ERR_INVALID_INPUT')
      const opts = { callId: optString(body, 'callId'), input: optMedia(body, 'input'), output: optMedia(body, 'output'), timeout: timeout != null ? timeout * 1000 : undefined }
      const signal = clientGone(req, res)
      await streamProgress(res, async (progress) => followCall(await node.calls.answer({ ...opts, signal }), progress))
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
