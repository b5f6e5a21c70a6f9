// The local API against the browser's attackers: another origin on this
// machine (a page served by the test on another port of 127.0.0.1, the
// strongest case: same site, so SameSite cookies are sent), DNS rebinding
// (a foreign Host header), a reused login URL; and the bearer clients unchanged.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, request } from 'node:http'
import WebSocket from 'ws'
import { ApiClient } from '../src/api/index.js'
import { launch, loginUrl, openApp, webNode } from './web-helpers.js'
import type { AddressInfo } from 'node:net'
import type { IncomingHttpHeaders } from 'node:http'
import { defer } from './helpers.js'

/** A raw request with the headers given as they are (Host included) */
async function raw (port: number, path: string, headers: Record<string, string>, method = 'GET', body?: string): Promise<{ status: number, headers: IncomingHttpHeaders, body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, setHost: false }, (res) => {
      let data = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { data += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** A WebSocket upgrade with these headers: 'open' or how it was refused */
async function upgrade (url: string, headers: Record<string, string>, protocols?: string[]): Promise<string> {
  const ws = new WebSocket(url, protocols ?? [], { headers })
  return new Promise(resolve => {
    ws.once('open', () => { ws.close(); resolve('open') })
    ws.once('unexpected-response', (_req, res) => { resolve(`HTTP ${res.statusCode ?? 0}`); ws.terminate() })
    ws.once('error', (err) => { resolve(`error ${err.message}`) })
  })
}

describe('web page security', () => {
  it('Host, Origin, CSRF, login once; another origin can neither read nor send; bearer clients unchanged', async (t) => {
    const w = await webNode(t, { name: 'victim' })
    await w.node.createGroup('secret-group')
    await w.node.send('secret-group', 'the launch code is 1234')
    const port = w.info.port
    const bearer = { authorization: `Bearer ${w.info.token}` }

    // bearer clients: unchanged (the CLI's client, its event stream)
    const client = new ApiClient(w.node.dataDir)
    assert.equal((await client.groups()).length, 1)
    const events = await client.events()
    events.close()

    // DNS rebinding: a foreign Host header is refused, with or without the token, on HTTP and on the upgrade
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, `localhost.evil.example:${port}`]) {
      const r = await raw(port, '/v1/groups', { host, ...bearer })
      assert.equal(r.status, 403, host)
      assert.doesNotMatch(r.body, /secret-group/)
      assert.equal((await raw(port, '/', { host })).status, 403, `the page itself for ${host}`)
      assert.equal(await upgrade(`ws://127.0.0.1:${port}/v1/events`, { host, ...bearer }), 'HTTP 401')
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      assert.equal((await raw(port, '/v1/groups', { host, ...bearer })).status, 200, host)
    }
    // a bearer request from a foreign Origin is refused too (a page that somehow learnt the token)
    assert.equal((await raw(port, '/v1/groups', { host: `127.0.0.1:${port}`, origin: 'http://evil.example', ...bearer })).status, 403)
    assert.equal(await upgrade(`ws://127.0.0.1:${port}/v1/events`, { origin: 'http://evil.example', ...bearer }), 'HTTP 401')

    // the page: static files need no session, carry a strict CSP, no CORS
    const page = await raw(port, '/', { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` })
    assert.equal(page.status, 200)
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'.*frame-ancestors 'none'/)
    assert.equal(page.headers['access-control-allow-origin'], undefined)

    // the login URL works once
    const url = await loginUrl(w)
    assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/#login=[0-9a-f]{64}$`))
    const token = url.split('#login=')[1]
    const browser = await launch(t)
    const app = await openApp(t, browser, w, 'victim')
    const exchange = async (origin?: string): Promise<number> => (await raw(port, '/v1/web/session', { host: `127.0.0.1:${port}`, 'content-type': 'application/json', ...(origin != null ? { origin } : {}) }, 'POST', JSON.stringify({ login: token }))).status
    assert.equal(await exchange(`http://127.0.0.1:${port}`), 201, 'the first use of a login token')
    assert.equal(await exchange(`http://127.0.0.1:${port}`), 401, 'the second use of the same token')
    const other = (await loginUrl(w)).split('#login=')[1]
    assert.equal((await raw(port, '/v1/web/session', { host: `127.0.0.1:${port}`, origin: 'http://evil.example', 'content-type': 'application/json' }, 'POST', JSON.stringify({ login: other }))).status, 403, 'no exchange from another origin')
    // ...and the token of the page the test logged in with is spent too
    const pageToken = await app.page.evaluate(() => (globalThis as any).location.href as string)
    assert.doesNotMatch(pageToken, /login/)
    await app.page.getByRole('button', { name: /secret-group/ }).click()
    await app.page.locator('li.msg', { hasText: 'the launch code' }).waitFor()

    // the cookie alone is not enough: the page key must come with it (CSRF), and a foreign Origin never passes
    const [cookie] = await app.context.cookies()
    const withCookie = { host: `127.0.0.1:${port}`, cookie: `${cookie.name}=${cookie.value}` }
    assert.equal((await raw(port, '/v1/groups', withCookie)).status, 403)
    assert.equal((await raw(port, '/v1/groups', { ...withCookie, 'x-p2p-chat-key': 'f'.repeat(64) })).status, 403)
    assert.equal((await raw(port, '/v1/web/login', { ...withCookie }, 'POST')).status, 403, 'no login URLs for a cookie')

    // the attacker: a page on another port of 127.0.0.1 (same site: the SameSite=Strict cookie IS sent to the node)
    const seenCookies: string[] = []
    const evil = createServer((req, res) => {
      if (req.headers.cookie != null) seenCookies.push(req.headers.cookie)
      if (req.url === '/sink') { res.writeHead(204); res.end(); return }
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(`<!doctype html><title>evil</title>
<form id="f" method="POST" action="http://127.0.0.1:${port}/v1/groups" enctype="text/plain" target="sink"><input name='{"topicId":"evil-form","x":"' value='"}'></form>
<form id="g" method="POST" action="http://127.0.0.1:${port}/v1/groups/secret-group/messages" enctype="text/plain" target="sink"><input name='{"text":"forged by a form","x":"' value='"}'></form>
<iframe name="sink"></iframe>`)
    })
    await new Promise<void>(resolve => evil.listen(0, '127.0.0.1', () => { resolve() }))
    defer(t, () => { evil.closeAllConnections(); evil.close() })
    const evilPort = (evil.address() as AddressInfo).port
    const attacker = await app.context.newPage()
    await attacker.goto(`http://127.0.0.1:${evilPort}/`)
    const api = `http://127.0.0.1:${port}`
    const results = await attacker.evaluate(async ({ api, port }) => {
      const out: Record<string, string> = {}
      const document = (globalThis as any).document
      const attempt = async (name: string, fn: () => Promise<string>): Promise<void> => {
        try { out[name] = await fn() } catch (err) { out[name] = `blocked: ${(err as Error).name}` }
      }
      await attempt('read groups (cors, credentials)', async () => (await fetch(`${api}/v1/groups`, { credentials: 'include' })).text())
      await attempt('read history with a guessed key', async () => (await fetch(`${api}/v1/groups/secret-group/messages`, { credentials: 'include', headers: { 'x-p2p-chat-key': 'f'.repeat(64) } })).text())
      await attempt('create a group (no-cors POST)', async () => { const r = await fetch(`${api}/v1/groups`, { method: 'POST', mode: 'no-cors', credentials: 'include', body: '{"topicId":"evil-fetch"}' }); return `opaque ${r.type}` })
      await attempt('send a message (no-cors POST)', async () => { const r = await fetch(`${api}/v1/groups/secret-group/messages`, { method: 'POST', mode: 'no-cors', credentials: 'include', body: '{"text":"forged by fetch"}' }); return `opaque ${r.type}` })
      await attempt('log in with a guessed token', async () => (await fetch(`${api}/v1/web/session`, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: '0'.repeat(64) }) })).text())
      await attempt('websocket', async () => new Promise<string>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/events`, ['p2p-chat', `key.${'f'.repeat(64)}`])
        const got: string[] = []
        ws.onmessage = (e: { data: unknown }) => { got.push(typeof e.data === 'string' ? e.data : 'binary') }
        ws.onopen = () => { setTimeout(() => { resolve(`open, got ${got.join(' ')}`); ws.close() }, 500) }
        ws.onerror = () => { resolve(`blocked: ${got.length} frames`) }
      }))
      await attempt('websocket without key', async () => new Promise<string>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/events`)
        ws.onopen = () => { resolve('open'); ws.close() }
        ws.onerror = () => { resolve('blocked') }
      }))
        await attempt('frame the app', async () => new Promise<string>((resolve) => {
        const f = document.createElement('iframe')
        f.src = `${api}/`
        f.onload = () => { try { resolve(`loaded: ${f.contentDocument?.body?.innerText ?? 'unreadable'}`) } catch { resolve('loaded: unreadable') } }
        document.body.append(f)
        setTimeout(() => { resolve('no load') }, 2000)
      }))
      ;document.getElementById('f').submit()
      await new Promise(resolve => setTimeout(resolve, 500))
      ;document.getElementById('g').submit()
      await new Promise(resolve => setTimeout(resolve, 500))
      return out
    }, { api, port })
    t.diagnostic(`from http://127.0.0.1:${evilPort}: ${JSON.stringify(results)}`)
    for (const [what, result] of Object.entries(results)) {
      assert.doesNotMatch(result, /launch code|secret-group|"key"|hello|open, got \{/, `${what}: ${result}`)
      if (what.startsWith('websocket')) assert.match(result, /^blocked/, what)
      if (what.startsWith('read') || what.startsWith('log in')) assert.match(result, /^blocked/, what)
    }
    // nothing was created or sent: not by fetch, not by the forms
    assert.deepEqual(w.node.groups().map(g => g.topicId), ['secret-group'])
    const texts = (await w.node.history('secret-group')).messages.map(m => m.text)
    assert.deepEqual(texts, ['the launch code is 1234'])

    // the cookie leaks to the other port (cookies are per host, not per port): useless without the page key
    assert.ok(seenCookies.some(c => c.includes(cookie.name)), 'the browser sent the node\'s cookie to the other port (why the page key exists)')
    const stolen = seenCookies.find(c => c.includes(cookie.name)) ?? ''
    assert.equal((await raw(port, '/v1/groups', { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, cookie: stolen })).status, 403)
    assert.equal(await upgrade(`ws://127.0.0.1:${port}/v1/events`, { origin: `http://127.0.0.1:${port}`, cookie: stolen }, ['p2p-chat']), 'HTTP 401')

    // the app page saw no console error through all of this
    assert.deepEqual(app.errors, [])
  })
})
