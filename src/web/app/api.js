// The page's side of the local API: the login exchange, requests carrying the
// page key (CSRF defence, docs/API.md "The web page"), NDJSON streams and the
// event WebSocket.

const KEY_STORE = 'p2p-chat-page-key'
let key = ''
let keyHeader = 'x-p2p-chat-key'

export class ApiFailure extends Error {
  constructor (message, code, status) {
    super(message)
    this.code = code
    this.status = status
  }
}

/**
 * Log in: a one-time token in the fragment (#login=…, from `p2p-chat open`) is
 * taken out of the address bar and the history at once, then exchanged for
 * the session cookie (HttpOnly) and this tab's page key. The page key lives in
 * this tab's sessionStorage (per origin: no other port of 127.0.0.1 can read
 * it, unlike the cookie), so a reload stays logged in. Resolves
 * { ok: true } or { ok: false, reason }.
 */
export async function login () {
  const m = /^#login=([0-9a-f]{64})$/.exec(location.hash)
  if (m != null) {
    history.replaceState(null, '', location.pathname)
    const r = await fetch('/v1/web/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ login: m[1] })
    })
    const json = await r.json().catch(() => ({}))
    if (!r.ok) return { ok: false, reason: json.error?.message ?? `the node answered HTTP ${r.status}` }
    key = json.key
    keyHeader = json.keyHeader ?? keyHeader
    sessionStorage.setItem(KEY_STORE, key)
    return { ok: true }
  }
  const stored = sessionStorage.getItem(KEY_STORE)
  if (stored == null) return { ok: false, reason: 'no session' }
  key = stored
  const r = await fetch('/v1/web/session', { headers: { [keyHeader]: key } })
  const json = await r.json().catch(() => ({}))
  if (json.session === true) return { ok: true }
  sessionStorage.removeItem(KEY_STORE)
  return { ok: false, reason: 'the session ended (the node restarted, or you logged out)' }
}

export async function logout () {
  await fetch('/v1/web/session', { method: 'DELETE', headers: { [keyHeader]: key } }).catch(() => undefined)
  sessionStorage.removeItem(KEY_STORE)
  key = ''
}

/** The page key header, for requests made outside api() (uploads, file content) */
export function pageHeaders () { return { [keyHeader]: key } }

function headers (body) {
  return { [keyHeader]: key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }
}

async function failure (r) {
  const json = await r.json().catch(() => undefined)
  const e = json?.error
  return new ApiFailure(e?.message ?? `the node answered HTTP ${r.status}`, e?.code ?? 'ERR_API', r.status)
}

/** One request; resolves the JSON answer, throws ApiFailure with the node's message */
export async function api (method, path, body, extra = {}) {
  let r
  try {
    r = await fetch(path, { method, headers: { ...headers(body), ...extra }, body: body !== undefined ? JSON.stringify(body) : undefined })
  } catch {
    throw new ApiFailure('the node does not answer (is it still running?)', 'ERR_NODE_NOT_RUNNING', 0)
  }
  if (!r.ok) throw await failure(r)
  const text = await r.text()
  return text === '' ? undefined : JSON.parse(text)
}

/** A long-running request (sync, calls): progress lines, then the result; abort `signal` to cancel it */
export async function stream (method, path, body, onProgress, signal) {
  const r = await fetch(path, { method, headers: headers(body ?? {}), body: JSON.stringify(body ?? {}), signal })
  if (!r.ok || r.body == null) throw await failure(r)
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffered = ''
  while (true) {
    const { value, done } = await reader.read()
    if (done) break
    buffered += value
    let nl
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      if (line.trim() === '') continue
      const msg = JSON.parse(line)
      if (msg.type === 'progress') onProgress?.(msg)
      else if (msg.type === 'result') return msg.result
      else if (msg.type === 'error') throw new ApiFailure(msg.error?.message ?? 'the node reported an error', msg.error?.code ?? 'ERR_API', 200)
    }
  }
  throw new ApiFailure('the node closed the answer early (did it stop?)', 'ERR_API', 0)
}

/** A WebSocket to the node with the page key as a subprotocol after `protocol` (the calls' media sockets) */
export function socket (path, protocol) {
  return new WebSocket(`ws://${location.host}${path}`, [protocol, `key.${key}`])
}

/**
 * The node's events, reconnecting with backoff. The page key travels as a
 * WebSocket subprotocol (a browser cannot set headers on an upgrade); the
 * node also checks the Origin and the cookie.
 */
export function events (onEvent, onState) {
  let ws
  let delay = 500
  let stopped = false
  let timer
  const open = () => {
    ws = new WebSocket(`ws://${location.host}/v1/events`, ['p2p-chat', `key.${key}`])
    ws.onopen = () => { delay = 500; onState(true) }
    ws.onmessage = (e) => {
      let ev
      try { ev = JSON.parse(e.data) } catch { return }
      onEvent(ev)
    }
    ws.onclose = () => {
      onState(false)
      if (stopped) return
      timer = setTimeout(open, delay)
      delay = Math.min(delay * 2, 10_000)
    }
  }
  open()
  return () => { stopped = true; clearTimeout(timer); ws?.close() }
}
