import { describe, it } from 'node:test'
import { connect } from 'node:net'
import { ApiServer } from '../src/api/index.js'
import { startNode, defer } from './helpers.js'
import { fuzzTargets, newSeed } from './fuzz-props.js'
import { scale } from './fault-helpers.js'

/** Cases per target: a short run here; scripts/fuzz.ts runs many more. */
const RUNS = scale(1_000, 20_000)
const API_RUNS = scale(300, 5_000)

describe('fuzz: every decoder and parser, property-based (fast-check)', () => {
  for (const target of fuzzTargets()) {
    it(target.name, async (t) => {
      const seed = newSeed()
      const started = Date.now()
      await target.run(RUNS, seed)
      t.diagnostic(`${RUNS} cases, seed ${seed}, ${Date.now() - started} ms: no throw escaped, no hang`)
    })
  }

  it('local API: random methods, paths and bodies never get a 500, never stop the node', async (t) => {
    const node = await startNode(t)
    await node.createGroup('fuzz-api')
    const api = new ApiServer(node)
    defer(t, async () => { await api.stop() })
    const info = await api.start()
    const statuses = new Map<number, number>()
    const target = fuzzTargets({ url: info.url, token: info.token, topicId: 'fuzz-api', statuses }).find(x => x.name.startsWith('local API')) as { run: (n: number, seed?: number) => Promise<void> }
    const seed = newSeed()
    const started = Date.now()
    await target.run(API_RUNS, seed)
    // requests fetch() cannot send: a raw socket. Found by this fuzzing: "//" was a 500, and as a
    // WebSocket upgrade an uncaught exception that stopped the node; a bad %-escape was a 500
    const raw = async (text: string): Promise<string> => new Promise(resolve => {
      const s = connect(Number(new URL(info.url).port), '127.0.0.1')
      let out = ''
      s.on('data', d => { out += d.toString('latin1') })
      s.on('close', () => { resolve(out.split('\r\n')[0]) })
      s.on('error', (err: any) => { resolve(`error ${err.code}`) })
      s.write(text)
    })
    const auth = `Authorization: Bearer ${info.token}\r\n`
    const host = `Host: ${new URL(info.url).host}\r\n`
    for (const [request, expected] of [
      // a foreign Host header (DNS rebinding): refused before anything else
      [`GET /v1/status HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`, /^HTTP\/1\.1 403 /],
      [`GET // HTTP/1.1\r\n${host}${auth}Connection: close\r\n\r\n`, /^HTTP\/1\.1 4\d\d /],
      [`GET //v1/status HTTP/1.1\r\n${host}${auth}Connection: close\r\n\r\n`, /^HTTP\/1\.1 [24]0\d /],
      [`GET /v1/groups/%E0%A4%A/messages HTTP/1.1\r\n${host}${auth}Connection: close\r\n\r\n`, /^HTTP\/1\.1 400 /],
      [`GET // HTTP/1.1\r\n${host}Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n`, /^HTTP\/1\.1 401 /],
      [`GET http://[ HTTP/1.1\r\n${host}${auth}Connection: close\r\n\r\n`, /^HTTP\/1\.1 4\d\d /],
      ['NONSENSE\r\n\r\n', /^HTTP\/1\.1 400 |^$/]
    ] as Array<[string, RegExp]>) {
      const status = await raw(request)
      if (!expected.test(status)) throw new Error(`${JSON.stringify(request.split('\r\n')[0])} answered ${JSON.stringify(status)}`)
    }
    // still up and answering
    const res = await fetch(`${info.url}/v1/status`, { headers: { authorization: `Bearer ${info.token}` } })
    if (res.status !== 200) throw new Error(`status after fuzzing: HTTP ${res.status}`)
    t.diagnostic(`${API_RUNS} requests, seed ${seed}, ${Date.now() - started} ms: no 500, no crash, still answering; answers: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, k]) => `${s}×${k}`).join(' ')}`)
  })
})
