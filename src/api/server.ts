import { createServer } from 'node:http'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { WebSocketServer } from 'ws'
import { API_FILE, writeFileAtomic } from '../config.js'
import { ApiError, OverloadedError } from '../errors.js'
import { errorBody, sendJson } from './http.js'
import { routes } from './routes.js'
import { WebGate } from '../web/gate.js'
import { BrowserMediaLinks, MEDIA_PATH } from '../web/call-media.js'
import type { ChatNode, ChatNodeEvents } from '../node.js'
import type { Server, IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { WebSocket } from 'ws'

const log = logger('p2p-chat:api')

/** Where a running node's API is: written to <data-dir>/api.json (mode 0600) */
export interface ApiInfo {
  version: 1
  url: string
  port: number
  token: string
  pid: number
  peerId: string
}

export interface ApiServerInit {
  /** port on 127.0.0.1; 0 (default) lets the OS choose */
  port?: number
  /** POST /v1/shutdown (`p2p-chat stop`): called once the answer is sent; without it the endpoint answers 404 */
  onShutdown?: () => void
  /** sends (POST …/messages) being answered at once at most; past it, 429 before the body is read. Default 256 */
  maxInflightSends?: number
}

/** Sends the API answers at once at most: past it a send is refused (429) before its body is read, so that an overload costs no memory */
export const DEFAULT_MAX_INFLIGHT_SENDS = 256
const SEND_PATH = /^\/v1\/groups\/[^/]+\/messages$/

/** An event as the WebSocket stream sends it: `{ type, ...data }` */
export interface ApiEvent {
  /** one of ChatNodeEvents' names, or `hello` (sent first) */
  type: string
  [key: string]: unknown
}

const FORWARDED: Array<keyof ChatNodeEvents> = ['message', 'updated', 'synced', 'typing', 'peer:connect', 'peer:disconnect', 'group:joined', 'group:left',
  'call:outgoing', 'call:incoming', 'call:connected', 'call:ended', 'call:refused']

/**
 * The local API: HTTP + WebSocket on 127.0.0.1 only, every request carrying
 * the bearer token from api.json.
 */
export class ApiServer {
  private readonly node: ChatNode
  private readonly init: ApiServerInit
  private readonly token = randomBytes(32).toString('hex')
  private server?: Server
  private wss?: WebSocketServer
  private readonly sockets = new Map<WebSocket, string | undefined>()
  private readonly listeners: Array<[keyof ChatNodeEvents, (data: unknown) => void]> = []
  private info?: ApiInfo
  /** requests being answered: waited for on close so nothing acknowledged is cut */
  private inflight = 0
  private sendsInflight = 0
  private idle?: () => void
  /** Host/Origin checks, browser sessions and the web app (src/web) */
  private readonly web = new WebGate(() => this.info?.port ?? this.listening)
  /** calls with a page's microphone and camera: its media sockets (src/web/call-media.ts) */
  private media?: BrowserMediaLinks
  private listening?: number

  constructor (node: ChatNode, init: ApiServerInit = {}) {
    this.node = node
    this.init = init
  }

  get url (): string | undefined { return this.info?.url }

  get infoFile (): string { return join(this.node.dataDir, API_FILE) }

  async start (): Promise<ApiInfo> {
    if (this.info != null) return this.info
    const server = createServer((req, res) => { void this.handle(req, res) })
    server.headersTimeout = 10_000
    server.requestTimeout = 0
    const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })
    server.on('upgrade', (req, socket, head) => {
      // a throw here would be uncaught: a malformed URL ("//") from anyone on this machine would stop the node
      const url = requestUrl(req)
      // the event stream and the media sockets of calls from the page: the same gate for both
      if ((url?.pathname !== '/v1/events' && url?.pathname !== MEDIA_PATH) || !this.web.upgradeAllowed(req, this.authorized(req))) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\n\r\n')
        return
      }
      if (url.pathname === MEDIA_PATH) {
        if (this.media != null) this.media.handleUpgrade(req, socket, head, url)
        else socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\r\n')
        return
      }
      wss.handleUpgrade(req, socket, head, ws => {
        this.sockets.set(ws, url.searchParams.get('topic') ?? undefined)
        ws.on('close', () => this.sockets.delete(ws))
        ws.on('error', () => this.sockets.delete(ws))
        ws.send(JSON.stringify({ type: 'hello', peerId: this.node.peerId }))
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.init.port ?? 0, '127.0.0.1', () => resolve())
    })
    this.server = server
    this.wss = wss
    this.media = new BrowserMediaLinks()
    this.listening = (server.address() as AddressInfo).port
    for (const type of FORWARDED) {
      const fn = (data: unknown): void => { this.broadcast({ type, ...jsonForm(data) }) }
      this.node.on(type, fn)
      this.listeners.push([type, fn])
    }
    const port = (server.address() as AddressInfo).port
    this.info = { version: 1, url: `http://127.0.0.1:${port}`, port, token: this.token, pid: process.pid, peerId: this.node.peerId }
    await writeFileAtomic(this.infoFile, JSON.stringify(this.info, null, 2) + '\n', 0o600)
    log('API on %s', this.info.url)
    return this.info
  }

  /** Stop taking requests, wait for those under way, close every socket, remove api.json. Idempotent. */
  async stop (): Promise<void> {
    const server = this.server
    if (server == null) return
    this.server = undefined
    for (const [type, fn] of this.listeners) this.node.off(type, fn)
    this.listeners.length = 0
    for (const ws of this.sockets.keys()) ws.close(1001, 'node stopping')
    this.sockets.clear()
    this.wss?.close()
    this.media?.closeAll()
    this.media = undefined
    const closed = new Promise<void>(resolve => server.close(() => resolve()))
    server.closeIdleConnections()
    if (this.inflight > 0) await new Promise<void>(resolve => { this.idle = resolve })
    server.closeAllConnections()
    await closed
    await rm(this.infoFile, { force: true })
    this.info = undefined
  }

  /** Send an event to every WebSocket client (filtered by ?topic= when given). */
  broadcast (event: ApiEvent): void {
    const data = JSON.stringify(event)
    const topic = typeof event.topicId === 'string' ? event.topicId : undefined
    for (const [ws, filter] of this.sockets) {
      if (filter != null && topic != null && filter !== topic) continue
      if (ws.bufferedAmount > 8 * 1024 * 1024) continue // a stuck client loses events, the node does not grow
      ws.send(data)
    }
  }

  private authorized (req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? ''
    const m = /^Bearer ([0-9a-f]{64})$/.exec(header)
    if (m == null) return false
    return timingSafeEqual(Buffer.from(m[1]), Buffer.from(this.token))
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inflight++
    try {
      // Host, Origin, the web app's files and sessions; throws 401 when neither the bearer token nor a browser session is there
      if (!await this.web.admit(req, res, this.authorized(req))) return
      const url = requestUrl(req)
      if (url == null) throw new ApiError(`malformed request URL: ${JSON.stringify(req.url)}`, 'ERR_INVALID_INPUT')
      for (const route of routes) {
        if (route.method !== req.method) continue
        const m = route.path.exec(url.pathname)
        if (m == null) continue
        const params = (m.groups ?? {}) as Record<string, string>
        for (const k of Object.keys(params)) {
          try {
            params[k] = decodeURIComponent(params[k])
          } catch {
            throw new ApiError(`malformed percent-encoding in the path: ${params[k]}`, 'ERR_INVALID_INPUT')
          }
        }
        const isSend = req.method === 'POST' && SEND_PATH.test(url.pathname)
        if (isSend && this.sendsInflight >= (this.init.maxInflightSends ?? DEFAULT_MAX_INFLIGHT_SENDS)) {
          res.setHeader('connection', 'close') // its body is left unread
          throw new OverloadedError(`${this.sendsInflight} sends are being answered already: try again in 1 s`, 1000)
        }
        if (isSend) this.sendsInflight++
        try {
          const result = await route.handler({ node: this.node, req, res, url, params, shutdown: this.init.onShutdown, media: this.media })
          if (!res.headersSent) sendJson(res, result?.status ?? 200, result?.body)
        } finally {
          if (isSend) this.sendsInflight--
        }
        return
      }
      throw new ApiError(`no such endpoint: ${req.method} ${url.pathname}`, 'ERR_NOT_FOUND')
    } catch (err) {
      const { status, body } = errorBody(err)
      if (status >= 500) log.error('%s %s failed: %e', req.method, req.url, err)
      if (!res.headersSent) {
        if (status === 413) res.setHeader('connection', 'close')
        if (err instanceof OverloadedError) res.setHeader('retry-after', String(Math.ceil(err.retryAfterMs / 1000)))
        sendJson(res, status, body)
      } else {
        res.end()
      }
    } finally {
      if (--this.inflight === 0 && this.idle != null) { this.idle(); this.idle = undefined }
    }
  }
}

/** An event's data as sent: a Call as its JSON form (CallInfo), anything else as it is */
function jsonForm (data: unknown): object {
  if (typeof data === 'object' && data !== null && 'toJSON' in data && typeof data.toJSON === 'function') {
    return (data as { toJSON: () => object }).toJSON()
  }
  return data as object
}

/** The request's URL, or undefined when it does not parse (e.g. "//"). */
function requestUrl (req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'http://127.0.0.1')
  } catch {
    return undefined
  }
}
