import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ApiError } from '../errors.js'
import { readJson, sendJson } from '../api/http.js'
import type { IncomingMessage, ServerResponse } from 'node:http'

/** How long a login URL of `p2p-chat open` can be used (once) */
export const LOGIN_TTL_MS = 5 * 60_000
/** A browser session unused this long is forgotten */
export const SESSION_IDLE_MS = 7 * 24 * 3600_000
/** Sessions kept at most (the oldest goes first) */
export const MAX_SESSIONS = 32
/** Login URLs waiting to be used, at most */
const MAX_LOGINS = 32
/** The header a cookie-authenticated request carries the session's page key in (CSRF defence) */
export const KEY_HEADER = 'x-p2p-chat-key'
/** The WebSocket subprotocol prefix that carries the page key (browsers cannot set headers on an upgrade) */
export const KEY_PROTOCOL_PREFIX = 'key.'

interface Session { id: string, key: string, lastUsed: number }

interface Asset { type: string, body: Buffer, csp?: string }

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8'
}

/** Vendored ES modules, served from node_modules under /vendor/ (no CDN, no build step) */
const VENDOR: Record<string, string> = {
  'preact.mjs': 'preact',
  'hooks.mjs': 'preact/hooks',
  'htm.mjs': 'htm',
  'qrcode.mjs': 'qrcode-generator'
}

/** src/web/app, from dist/src/web (built) or src/web (run from source) */
function appDir (): string {
  const here = fileURLToPath(new URL('.', import.meta.url))
  // the bundled CLI (dist/bundle/p2p-chat.mjs, scripts/bundle.ts)
  if (here.includes(join('dist', 'bundle'))) return join(here, '..', '..', 'src', 'web', 'app')
  return here.includes(join('dist', 'src', 'web')) ? join(here, '..', '..', '..', 'src', 'web', 'app') : join(here, 'app')
}

let assetCache: Map<string, Asset> | undefined

/** The files of the web app, read once: a fixed list, so no path from a request ever reaches the file system */
function assets (): Map<string, Asset> {
  if (assetCache != null) return assetCache
  const map = new Map<string, Asset>()
  const dir = appDir()
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)]
    if (type == null) continue
    map.set(`/app/${name}`, { type, body: readFileSync(join(dir, name)) })
  }
  for (const [name, specifier] of Object.entries(VENDOR)) {
    map.set(`/vendor/${name}`, { type: TYPES['.mjs'], body: readFileSync(fileURLToPath(import.meta.resolve(specifier))) })
  }
  const html = map.get('/app/index.html')
  if (html != null) {
    map.delete('/app/index.html')
    // the import map is the one inline script: allowed by its hash, nothing else inline runs
    const hashes = [...html.body.toString('utf8').matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)]
      .map(m => `'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`)
    const csp = [
      "default-src 'none'", `script-src 'self' ${hashes.join(' ')}`, "style-src 'self'", "img-src 'self' data: blob:",
      "connect-src 'self'", "media-src 'self' blob:", "manifest-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
    ].join('; ')
    map.set('/', { ...html, csp })
    map.set('/index.html', { ...html, csp })
  }
  assetCache = map
  return map
}

function equal (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

function header (req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

function refuse (res: ServerResponse, status: number, code: string, message: string): void {
  if (!res.headersSent) sendJson(res, status, { error: { name: status === 401 ? 'UnauthorizedError' : 'ForbiddenError', code, message } })
}

/**
 * The browser's side of the local API (docs/API.md, "The web page"):
 * Host and Origin checks on every request (DNS rebinding, other origins),
 * the one-time login URLs of `p2p-chat open`, session cookies with a page
 * key (CSRF), and the static files of the app. Bearer-token clients pass
 * through unchanged once Host (and Origin, when they send one) are right.
 */
export class WebGate {
  private readonly port: () => number | undefined
  private readonly logins = new Map<string, number>()
  private readonly sessions = new Map<string, Session>()

  constructor (port: () => number | undefined) {
    this.port = port
  }

  /** The names this API answers to: loopback only, with its port */
  private hosts (): string[] {
    const port = this.port()
    return port == null ? [] : [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]
  }

  hostAllowed (req: IncomingMessage): boolean {
    const host = header(req, 'host')?.toLowerCase()
    return host != null && this.hosts().includes(host)
  }

  /** An Origin header, when sent, must be this API's own */
  private originOk (req: IncomingMessage, required: boolean): boolean {
    const origin = header(req, 'origin')
    if (origin == null) return !required
    return this.hosts().some(h => origin.toLowerCase() === `http://${h}`)
  }

  /** A browser's fetch metadata, when sent, must say the request comes from this origin (or the user typed it) */
  private fetchSiteOk (req: IncomingMessage): boolean {
    const site = header(req, 'sec-fetch-site')
    return site == null || site === 'same-origin' || site === 'none'
  }

  private cookieName (): string {
    return `p2p-chat-${this.port() ?? 0}`
  }

  private session (req: IncomingMessage): Session | undefined {
    const cookies = header(req, 'cookie')
    if (cookies == null) return undefined
    const name = this.cookieName()
    for (const part of cookies.split(';')) {
      const i = part.indexOf('=')
      if (i < 0 || part.slice(0, i).trim() !== name) continue
      const id = part.slice(i + 1).trim()
      const s = /^[0-9a-f]{64}$/.test(id) ? this.sessions.get(id) : undefined
      if (s == null) continue
      if (Date.now() - s.lastUsed > SESSION_IDLE_MS) { this.sessions.delete(id); continue }
      return s
    }
    return undefined
  }

  /** A cookie-authenticated request carrying the session's page key */
  private cookieAuthorized (req: IncomingMessage, key: string | undefined): boolean {
    const s = this.session(req)
    if (s == null || key == null || !equal(key, s.key)) return false
    s.lastUsed = Date.now()
    return true
  }

  /** A new one-time login URL (`POST /v1/web/login`, bearer only) */
  newLogin (): { url: string, expiresAt: number } {
    const now = Date.now()
    for (const [t, exp] of this.logins) if (exp < now) this.logins.delete(t)
    while (this.logins.size >= MAX_LOGINS) this.logins.delete(this.logins.keys().next().value as string)
    const token = randomBytes(32).toString('hex')
    const expiresAt = now + LOGIN_TTL_MS
    this.logins.set(token, expiresAt)
    // the token is in the fragment: never sent to the server in the page's GET, nor in a Referer
    return { url: `http://127.0.0.1:${this.port() ?? 0}/#login=${token}`, expiresAt }
  }

  /**
   * May this WebSocket upgrade go on? Host always; bearer clients with no or
   * our Origin; browsers with our Origin, the session cookie and the page key
   * as a subprotocol.
   */
  upgradeAllowed (req: IncomingMessage, bearer: boolean): boolean {
    if (!this.hostAllowed(req)) return false
    if (bearer) return this.originOk(req, false)
    if (!this.originOk(req, true)) return false
    const offered = (header(req, 'sec-websocket-protocol') ?? '').split(',').map(s => s.trim())
    const key = offered.find(p => p.startsWith(KEY_PROTOCOL_PREFIX))?.slice(KEY_PROTOCOL_PREFIX.length)
    return this.cookieAuthorized(req, key)
  }

  /**
   * Everything before the API's routes: refuses (403) a foreign Host or
   * Origin, serves the app's files and the session endpoints, and lets in a
   * request with the bearer token or with the session cookie and its page
   * key. Resolves true when the routes should answer it (it is authorized),
   * false when it was answered here. Throws ApiError (401) when unauthorized.
   */
  async admit (req: IncomingMessage, res: ServerResponse, bearer: boolean): Promise<boolean> {
    if (!this.hostAllowed(req)) {
      refuse(res, 403, 'ERR_FORBIDDEN', 'the Host header must name this API on a loopback address (127.0.0.1, localhost or [::1] with its port)')
      return false
    }
    if (!this.originOk(req, false)) {
      refuse(res, 403, 'ERR_FORBIDDEN', 'requests from other origins are refused')
      return false
    }
    const path = (req.url ?? '/').split('?')[0]
    if (!path.startsWith('/v1/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        refuse(res, 405, 'ERR_INVALID_INPUT', 'the web app is read with GET')
        return false
      }
      const asset = assets().get(path)
      if (asset == null) {
        refuse(res, 404, 'ERR_NOT_FOUND', `no such page: ${path}`)
        return false
      }
      res.writeHead(200, {
        'content-type': asset.type,
        'content-length': asset.body.byteLength,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'x-frame-options': 'DENY',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-resource-policy': 'same-origin',
        ...(asset.csp != null ? { 'content-security-policy': asset.csp } : {})
      })
      res.end(req.method === 'HEAD' ? undefined : asset.body)
      return false
    }
    if (path === '/v1/web/session') return this.sessionEndpoint(req, res)
    if (bearer) {
      if (path === '/v1/web/login' && req.method === 'POST') {
        sendJson(res, 201, this.newLogin())
        return false
      }
      return true
    }
    if (header(req, 'cookie') != null && this.session(req) != null) {
      // a browser: same origin only, the page key in a header (a form or a cross-origin page cannot set one)
      const stateChanging = req.method !== 'GET' && req.method !== 'HEAD'
      if (!this.fetchSiteOk(req) || !this.originOk(req, stateChanging)) {
        refuse(res, 403, 'ERR_FORBIDDEN', 'requests from other origins are refused')
        return false
      }
      if (!this.cookieAuthorized(req, header(req, KEY_HEADER))) {
        refuse(res, 403, 'ERR_FORBIDDEN', `a request with the session cookie must carry the page key in ${KEY_HEADER}`)
        return false
      }
      if (path === '/v1/web/login') {
        refuse(res, 403, 'ERR_FORBIDDEN', 'login URLs are made with the bearer token (p2p-chat open)')
        return false
      }
      return true
    }
    throw new ApiError('missing or wrong bearer token (see api.json in the data directory)', 'ERR_UNAUTHORIZED')
  }

  /** POST: exchange a login token for a session; GET: is the session (cookie + key) valid; DELETE: log out */
  private async sessionEndpoint (req: IncomingMessage, res: ServerResponse): Promise<false> {
    if (!this.fetchSiteOk(req) || !this.originOk(req, req.method !== 'GET')) {
      refuse(res, 403, 'ERR_FORBIDDEN', 'requests from other origins are refused')
      return false
    }
    if (req.method === 'POST') {
      const body = await readJson(req, 4096)
      const login = typeof body.login === 'string' ? body.login : ''
      const exp = /^[0-9a-f]{64}$/.test(login) ? this.logins.get(login) : undefined
      if (exp == null || exp < Date.now()) {
        refuse(res, 401, 'ERR_UNAUTHORIZED', 'this login link was used already or has expired: run "p2p-chat open" again')
        return false
      }
      this.logins.delete(login)
      while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string)
      const s: Session = { id: randomBytes(32).toString('hex'), key: randomBytes(32).toString('hex'), lastUsed: Date.now() }
      this.sessions.set(s.id, s)
      res.setHeader('set-cookie', `${this.cookieName()}=${s.id}; HttpOnly; SameSite=Strict; Path=/`)
      sendJson(res, 201, { key: s.key, keyHeader: KEY_HEADER })
      return false
    }
    if (req.method === 'GET') {
      const ok = this.cookieAuthorized(req, header(req, KEY_HEADER))
      if (!ok) refuse(res, 401, 'ERR_UNAUTHORIZED', 'no session: run "p2p-chat open" for a login link')
      else sendJson(res, 200, { session: true })
      return false
    }
    if (req.method === 'DELETE') {
      const s = this.session(req)
      if (s != null && this.cookieAuthorized(req, header(req, KEY_HEADER))) this.sessions.delete(s.id)
      res.setHeader('set-cookie', `${this.cookieName()}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`)
      sendJson(res, 200, { session: false })
      return false
    }
    refuse(res, 404, 'ERR_NOT_FOUND', `no such endpoint: ${req.method ?? ''} /v1/web/session`)
    return false
  }
}
