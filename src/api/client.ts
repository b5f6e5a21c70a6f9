import { join } from 'node:path'
import WebSocket from 'ws'
import { API_FILE, readFileIfExists } from '../config.js'
import { randomUUID } from 'node:crypto'
import { ApiError, ChatError, errorName, NodeNotRunningError, OverloadedError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import type { ApiEvent, ApiInfo } from './server.js'
import type { ChatMessage, ConnectivityInfo, GroupInfo, GroupMember, HistoryResult, PeerInfo } from '../node.js'
import type { SyncProgress, SyncSummary } from '../sync/index.js'
import type { CallEnd, CallInfo, CallStats } from '../calls/index.js'
import type { BackupProgress, ExportSummary, ImportSummary } from '../backup/index.js'
import type { UnreadInfo } from '../chat/unread.js'
import type { SearchProgress, SearchResult } from '../chat/search.js'
import type { MembershipInfo } from '../membership/index.js'

export interface Status {
  peerId: string
  name: string
  addresses: string[]
  dataDir: string
  groups: number
  peers: number
  pid: number
  uptime: number
  /** how others reach this node, and how its members are connected (ChatNode.connectivity) */
  reachability: ConnectivityInfo['reachability']
  listenAddresses: string[]
  relayAddresses: string[]
  verifiedAddresses: string[]
  members: ConnectivityInfo['members']
  relay?: ConnectivityInfo['relay']
  rendezvous: ConnectivityInfo['rendezvous']
}

/** A progress line of POST /v1/calls and /v1/calls/answer (followCall in routes.ts) */
export type CallProgress =
  | { type: 'progress', event: 'ringing', peerId: string }
  | { type: 'progress', event: 'connected', call: CallInfo }
  | { type: 'progress', event: 'stats', callId: string, stats: CallStats }

/** The `error` of a failed answer, as errorBody (http.ts) writes it */
interface WireError { name?: unknown, code?: unknown, message?: unknown }

/** One NDJSON line of a long-running answer (streamProgress in http.ts) */
type StreamLine =
  | { type: 'progress' }
  | { type: 'result', result: unknown }
  | { type: 'error', error: WireError }

/** The node's error again, from the `error` of its answer (codes are the node's, ERR_INTERNAL included) */
function wireError (e: WireError, fallback: string): ChatError {
  return new ChatError(
    typeof e.name === 'string' ? e.name : 'ApiError',
    (typeof e.code === 'string' ? e.code : 'ERR_API') as ErrorCode,
    typeof e.message === 'string' ? e.message : fallback
  )
}

/** The `error` object of an answer's JSON body, if it has one */
function errorOf (json: unknown): WireError | undefined {
  if (typeof json !== 'object' || json === null || !('error' in json)) return undefined
  const e = json.error
  return typeof e === 'object' && e !== null ? e : undefined
}

/** ms a send keeps retrying while the node answers 429 */
export const DEFAULT_SEND_RETRY_FOR = 60_000

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

  async request<T> (method: string, path: string, body?: unknown, init: { signal?: AbortSignal, headers?: Record<string, string> } = {}): Promise<T> {
    const info = await this.load()
    let res: Response
    try {
      res = await fetch(info.url + path, {
        method,
        headers: { authorization: `Bearer ${info.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: init.signal
      })
    } catch (err: unknown) {
      if (errorName(err) === 'AbortError' || errorName(err) === 'TimeoutError') throw err
      // api.json left behind by a node that died, or the node is stopping
      throw new NodeNotRunningError(this.dataDir)
    }
    const text = await res.text()
    let json: unknown
    try { json = text === '' ? undefined : JSON.parse(text) } catch { json = undefined }
    if (!res.ok) {
      const e = errorOf(json)
      if (res.status === 429) {
        const seconds = Number(res.headers.get('retry-after'))
        throw new OverloadedError(typeof e?.message === 'string' ? e.message : 'the node is overloaded', Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000)
      }
      if (e != null) throw wireError(e, `HTTP ${res.status}`)
      throw new ApiError(`the node answered HTTP ${res.status}`)
    }
    return json as T
  }

  /** A long-running request answered as NDJSON progress lines and a result (see streamProgress). */
  // P only ties a caller's progress callback to the lines it gets: they are the node's, not checked here
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  async requestStream<T, P = unknown> (method: string, path: string, body: unknown, onProgress?: (p: P) => void, signal?: AbortSignal): Promise<T> {
    const info = await this.load()
    let res: Response
    try {
      res = await fetch(info.url + path, {
        method,
        headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
        signal
      })
    } catch (err: unknown) {
      if (signal?.aborted === true) throw err
      throw new NodeNotRunningError(this.dataDir)
    }
    if (!res.ok || res.body == null) {
      const json: unknown = await res.json().catch(() => undefined) // no JSON body: the status line says what happened
      throw wireError(errorOf(json) ?? {}, `the node answered HTTP ${res.status}`)
    }
    let buffered = ''
    const decoder = new TextDecoder()
    for await (const chunk of res.body) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true })
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        if (line.trim() === '') continue
        const msg = JSON.parse(line) as StreamLine
        if (msg.type === 'progress') onProgress?.(msg as P)
        else if (msg.type === 'result') return msg.result as T
        else if (msg.type === 'error') throw wireError(msg.error, 'the node reported an error')
      }
    }
    throw new ApiError('the node closed the answer early (did it stop?)')
  }

  async status (): Promise<Status> { return this.request('GET', '/v1/status') }
  async peers (): Promise<PeerInfo[]> { return this.request('GET', '/v1/peers') }
  async dial (address: string): Promise<PeerInfo> { return this.request('POST', '/v1/peers', { address }) }
  async setName (name: string): Promise<{ name: string }> { return this.request('PUT', '/v1/profile', { name }) }
  async groups (): Promise<Array<GroupInfo & UnreadInfo>> { return this.request('GET', '/v1/groups') }
  /** Mark a group read up to `cursor` (default: its newest message) */
  async markRead (topicId: string, cursor?: string): Promise<UnreadInfo> { return this.request('POST', `/v1/groups/${encodeURIComponent(topicId)}/read`, cursor != null ? { cursor } : {}) }
  /** Tell the group this user is typing (sent at most once per 3 s) */
  async typing (topicId: string): Promise<{ sent: boolean }> { return this.request('POST', `/v1/groups/${encodeURIComponent(topicId)}/typing`, {}) }
  async search (q: string, opts: { group?: string, limit?: number } = {}): Promise<{ query: string, results: SearchResult[] }> {
    const p = new URLSearchParams({ q })
    if (opts.group != null) p.set('group', opts.group)
    if (opts.limit != null) p.set('limit', String(opts.limit))
    return this.request('GET', `/v1/search?${p.toString()}`)
  }

  /** Build the search index of history stored before it existed (once; a no-op after), with progress */
  async searchIndex (group?: string, onProgress?: (p: SearchProgress) => void): Promise<{ groups: number, built: number }> {
    return this.requestStream('POST', '/v1/search/index', group != null ? { group } : {}, onProgress)
  }

  async createGroup (topicId: string, name?: string, managed?: boolean): Promise<GroupInfo & { invite: string, expires?: number, uses?: number }> { return this.request('POST', '/v1/groups', { topicId, name, ...(managed === true ? { managed } : {}) }) }
  /** issue 15: remove, promote or demote a member (admins only); `member`: peer id, unique name or name~suffix */
  async memberOp (topicId: string, member: string, op: 'remove' | 'promote' | 'demote' | 'add'): Promise<MembershipInfo> {
    return this.request('POST', `/v1/groups/${encodeURIComponent(topicId)}/members/${encodeURIComponent(member)}/${op}`, {})
  }
  async membership (topicId: string): Promise<MembershipInfo> { return this.request('GET', `/v1/groups/${encodeURIComponent(topicId)}/membership`) }
  async join (opts: { invite: string } | { topicId: string, secret: string }): Promise<GroupInfo & { dialed: number }> { return this.request('POST', '/v1/groups/join', opts) }
  async members (topicId: string): Promise<GroupMember[]> { return this.request('GET', `/v1/groups/${encodeURIComponent(topicId)}/members`) }
  async group (topicId: string): Promise<GroupInfo> { return this.request('GET', `/v1/groups/${encodeURIComponent(topicId)}`) }
  /** Ask the node to stop (as Ctrl-C would); it answers before it stops. */
  async shutdown (): Promise<{ stopping: true, pid: number }> { return this.request('POST', '/v1/shutdown', {}) }
  async leave (topicId: string): Promise<{ left: string }> { return this.request('DELETE', `/v1/groups/${encodeURIComponent(topicId)}`) }
  /** issue 15: a revocable invite (p2pchat2): `expiresIn` seconds (default 24 h), `uses` joins (default 1) */
  async createInvite (topicId: string, opts: { expiresIn?: number, uses?: number } = {}): Promise<{ topicId: string, invite: string, expires: number, uses: number }> {
    return this.request('POST', `/v1/groups/${encodeURIComponent(topicId)}/invites`, opts)
  }

  async invite (topicId: string, withSecret = false): Promise<{ topicId: string, invite: string, secret?: string }> {
    return this.request('GET', `/v1/groups/${encodeURIComponent(topicId)}/invite${withSecret ? '?secret=true' : ''}`)
  }

  /**
   * Send a message. While the node answers 429 (too many sends waiting), it
   * waits as Retry-After says (with jitter) and tries again, for up to
   * `retryFor` ms (default 60 s; 0: no retry). Every try carries the same
   * idempotency key (`idempotencyKey`, or one made for this call), so a retry
   * never stores the message twice.
   */
  async send (topicId: string, text: string, opts: { idempotencyKey?: string, retryFor?: number, signal?: AbortSignal } = {}): Promise<ChatMessage> {
    const key = opts.idempotencyKey ?? randomUUID()
    const deadline = Date.now() + (opts.retryFor ?? DEFAULT_SEND_RETRY_FOR)
    while (true) {
      try {
        return await this.request('POST', `/v1/groups/${encodeURIComponent(topicId)}/messages`, { text }, { signal: opts.signal, headers: { 'idempotency-key': key } })
      } catch (err) {
        if (!(err instanceof OverloadedError)) throw err
        const wait = Math.min(err.retryAfterMs, 10_000) * (0.75 + Math.random() * 0.5)
        if (Date.now() + wait > deadline) throw err
        await new Promise(resolve => setTimeout(resolve, wait))
        opts.signal?.throwIfAborted()
      }
    }
  }
  async history (topicId: string, query: { limit?: number, before?: string } = {}): Promise<HistoryResult> {
    const q = new URLSearchParams()
    if (query.limit != null) q.set('limit', String(query.limit))
    if (query.before != null) q.set('before', query.before)
    return this.request('GET', `/v1/groups/${encodeURIComponent(topicId)}/messages?${q.toString()}`)
  }

  async sync (topicId: string, onProgress?: (p: SyncProgress) => void): Promise<SyncSummary> {
    return this.requestStream('POST', `/v1/groups/${encodeURIComponent(topicId)}/sync`, {}, onProgress)
  }

  /** Ring a peer (id or member name); resolves with how the call ended. Abort `signal` to cancel while ringing. */
  async call (peer: string, opts: { video?: boolean, input?: string, output?: string }, onProgress?: (p: CallProgress) => void, signal?: AbortSignal): Promise<CallEnd> {
    return this.requestStream('POST', '/v1/calls', { peer, ...opts }, onProgress, signal)
  }

  /** Accept a ringing call (or wait for the next); resolves with how it ended. */
  async answer (opts: { callId?: string, input?: string, output?: string, timeout?: number }, onProgress?: (p: CallProgress) => void, signal?: AbortSignal): Promise<CallEnd> {
    return this.requestStream('POST', '/v1/calls/answer', opts, onProgress, signal)
  }

  async reject (callId?: string, reason?: string): Promise<CallEnd> { return this.request('POST', '/v1/calls/reject', { callId, reason }) }
  async hangup (callId?: string): Promise<CallEnd[]> { return this.request('POST', '/v1/calls/hangup', { callId }) }
  /** Write a backup of the node to `out` (an absolute path on this machine) */
  async exportBackup (opts: { out: string, topicIds?: string[], includeSecrets?: boolean, includeIdentity?: boolean, passphrase?: string, overwrite?: boolean }, onProgress?: (p: BackupProgress) => void, signal?: AbortSignal): Promise<ExportSummary & { file: string }> {
    return this.requestStream('POST', '/v1/backup/export', opts, onProgress, signal)
  }

  /** Import the backup at `file` (an absolute path on this machine) into the node */
  async importBackup (opts: { file: string, passphrase?: string }, onProgress?: (p: BackupProgress) => void, signal?: AbortSignal): Promise<ImportSummary> {
    return this.requestStream('POST', '/v1/backup/import', opts, onProgress, signal)
  }

  async calls (): Promise<CallInfo[]> { return this.request('GET', '/v1/calls') }

  /** Open the event stream; resolves once connected. */
  async events (opts: { topicId?: string } = {}): Promise<WebSocket> {
    const info = await this.load()
    const url = `${info.url.replace(/^http/, 'ws')}/v1/events${opts.topicId != null ? `?topic=${encodeURIComponent(opts.topicId)}` : ''}`
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${info.token}` } })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', () => reject(new NodeNotRunningError(this.dataDir)))
      ws.once('unexpected-response', (_req, res) => reject(new ApiError(`event stream refused: HTTP ${res.statusCode ?? 'without a status'}`)))
    })
    return ws
  }
}

export function parseEvent (data: WebSocket.RawData): ApiEvent | undefined {
  const text = Buffer.isBuffer(data) ? data.toString() : Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data).toString()
  try { return JSON.parse(text) as ApiEvent } catch { return undefined }
}
