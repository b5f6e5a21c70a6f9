import { join } from 'node:path'
import WebSocket from 'ws'
import { API_FILE, readFileIfExists } from '../config.js'
import { ApiError, ChatError, NodeNotRunningError } from '../errors.js'
import type { ApiEvent, ApiInfo } from './server.js'
import type { ChatMessage, GroupInfo, HistoryResult, PeerInfo } from '../node.js'

export interface Status {
  peerId: string
  name: string
  addresses: string[]
  dataDir: string
  groups: number
  peers: number
  pid: number
  uptime: number
}

/** A client of a running node's local API, found through <data-dir>/api.json. */
export class ApiClient {
  readonly dataDir: string
  private info?: ApiInfo

  constructor (dataDir: string) {
    this.dataDir = dataDir
  }

  private async load (): Promise<ApiInfo> {
    if (this.info != null) return this.info
    const raw = await readFileIfExists(join(this.dataDir, API_FILE))
    if (raw == null) throw new NodeNotRunningError(this.dataDir)
    try {
      this.info = JSON.parse(raw.toString('utf8')) as ApiInfo
    } catch {
      throw new NodeNotRunningError(this.dataDir)
    }
    return this.info
  }

  /** Is a node answering for this data directory? */
  async running (): Promise<boolean> {
    try { await this.status(); return true } catch (err) { if (err instanceof NodeNotRunningError) return false; throw err }
  }

  async request<T> (method: string, path: string, body?: unknown, init: { signal?: AbortSignal } = {}): Promise<T> {
    const info = await this.load()
    let res: Response
    try {
      res = await fetch(info.url + path, {
        method,
        headers: { authorization: `Bearer ${info.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: init.signal
      })
    } catch (err: any) {
      if (err?.name === 'AbortError' || err?.name === 'TimeoutError') throw err
      // api.json left behind by a node that died, or the node is stopping
      throw new NodeNotRunningError(this.dataDir)
    }
    const text = await res.text()
    let json: any
    try { json = text === '' ? undefined : JSON.parse(text) } catch { json = undefined }
    if (!res.ok) {
      const e = json?.error
      if (e != null) throw new ChatError(e.name ?? 'ApiError', e.code ?? 'ERR_API', e.message ?? `HTTP ${res.status}`, res.status)
      throw new ApiError(`the node answered HTTP ${res.status}`, res.status)
    }
    return json as T
  }

  async status (): Promise<Status> { return this.request('GET', '/v1/status') }
  async peers (): Promise<PeerInfo[]> { return this.request('GET', '/v1/peers') }
  async dial (address: string): Promise<PeerInfo> { return this.request('POST', '/v1/peers', { address }) }
  async setName (name: string): Promise<{ name: string }> { return this.request('PUT', '/v1/profile', { name }) }
  async groups (): Promise<GroupInfo[]> { return this.request('GET', '/v1/groups') }
  async createGroup (topicId: string, name?: string): Promise<GroupInfo & { invite: string }> { return this.request('POST', '/v1/groups', { topicId, name }) }
  async join (opts: { invite: string } | { topicId: string, secret: string }): Promise<GroupInfo & { dialed: number }> { return this.request('POST', '/v1/groups/join', opts) }
  async leave (topicId: string): Promise<{ left: string }> { return this.request('DELETE', `/v1/groups/${encodeURIComponent(topicId)}`) }
  async invite (topicId: string, withSecret = false): Promise<{ topicId: string, invite: string, secret?: string }> {
    return this.request('GET', `/v1/groups/${encodeURIComponent(topicId)}/invite${withSecret ? '?secret=true' : ''}`)
  }

  async send (topicId: string, text: string): Promise<ChatMessage> { return this.request('POST', `/v1/groups/${encodeURIComponent(topicId)}/messages`, { text }) }
  async history (topicId: string, query: { limit?: number, before?: string } = {}): Promise<HistoryResult> {
    const q = new URLSearchParams()
    if (query.limit != null) q.set('limit', String(query.limit))
    if (query.before != null) q.set('before', query.before)
    return this.request('GET', `/v1/groups/${encodeURIComponent(topicId)}/messages?${q.toString()}`)
  }

  /** Open the event stream; resolves once connected. */
  async events (opts: { topicId?: string } = {}): Promise<WebSocket> {
    const info = await this.load()
    const url = `${info.url.replace(/^http/, 'ws')}/v1/events${opts.topicId != null ? `?topic=${encodeURIComponent(opts.topicId)}` : ''}`
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${info.token}` } })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', () => reject(new NodeNotRunningError(this.dataDir)))
      ws.once('unexpected-response', (_req, res) => reject(new ApiError(`event stream refused: HTTP ${res.statusCode}`, res.statusCode ?? 500)))
    })
    return ws
  }
}

export function parseEvent (data: WebSocket.RawData): ApiEvent | undefined {
  try { return JSON.parse(data.toString()) as ApiEvent } catch { return undefined }
}
