import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, stat } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { deriveGroupKeys } from '../src/envelope/index.js'
import { runCli, startCli } from './cli-helpers.js'
import { waitUntil } from './helpers.js'
import type { TestContext } from 'node:test'

const DEBUG = 'p2p-chat:*,libp2p:*'

/** `p2p-chat start` with every debug log on; all it prints is kept. */
async function startLoud (t: TestContext, name: string): Promise<{ dataDir: string, output: () => string, ready: any }> {
  const node = await startCli(t, { name, env: { DEBUG, DEBUG_COLORS: '0' } })
  return { dataDir: node.dataDir, output: node.output, ready: node.events.find(e => e.event === 'ready') }
}

async function json (args: string[]): Promise<{ value: any, text: string }> {
  const r = await runCli([...args, '--json'])
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
  return { value: JSON.parse(r.stdout), text: r.stdout + r.stderr }
}

/** Every spelling of some secret bytes that could leak: hex (both cases), base64, base64url. */
function spellings (bytes: Uint8Array): string[] {
  const b = Buffer.from(bytes)
  return [b.toString('hex'), b.toString('hex').toUpperCase(), b.toString('base64').replace(/=+$/, ''), b.toString('base64url')]
}

describe('fault: secrets', () => {
  it('key, group and token files are 0600; no secret in any log (full debug) nor in --json output unless asked; the API on 127.0.0.1 only', async (t) => {
    const a = await startLoud(t, 'alice')
    const b = await startLoud(t, 'bob')
    const created = await json(['create', 'hush', '--data-dir', a.dataDir]) // prints the invite: that is what it is for
    const invite = created.value.invite as string
    const asked = await json(['invite', 'hush', '--secret', '--data-dir', a.dataDir])
    const secretHex = asked.value.secret as string
    assert.match(secretHex, /^[0-9a-f]{64}$/)

    // everything a user does, with --json
    const outputs: Array<{ what: string, text: string }> = []
    const run = async (what: string, args: string[]): Promise<any> => {
      const r = await json(args)
      outputs.push({ what, text: r.text })
      return r.value
    }
    await run('join', ['join', invite, '--data-dir', b.dataDir])
    // an invite carries the secret inside it, by design: the output holds the invite and nothing else
    const plainInvite = (await json(['invite', 'hush', '--data-dir', a.dataDir])).value
    assert.deepEqual(Object.keys(plainInvite).sort(), ['invite', 'topicId'])
    for (let i = 0; i < 2; i++) {
      await run('send', ['send', 'hush', `whisper ${i}`, '--data-dir', a.dataDir])
      await run('send', ['send', 'hush', `murmur ${i}`, '--data-dir', b.dataDir])
    }
    await waitUntil('b to hold every message', async () => (await json(['history', 'hush', '--data-dir', b.dataDir])).value.messages.length === 4)
    for (const dir of [a.dataDir, b.dataDir]) {
      await run('status', ['status', '--data-dir', dir])
      await run('groups', ['groups', '--data-dir', dir])
      await run('peers', ['peers', '--data-dir', dir])
      await run('history', ['history', 'hush', '--data-dir', dir])
      await run('sync', ['sync', 'hush', '--data-dir', dir])
    }
    await run('name', ['name', 'alice-2', '--data-dir', a.dataDir])

    // what must never show up: the group secret and its derived keys, the invite (it holds the secret), API tokens, identity keys
    const keys = deriveGroupKeys('hush', Buffer.from(secretHex, 'hex'))
    const forbidden: Array<[string, string]> = []
    for (const s of spellings(Buffer.from(secretHex, 'hex'))) forbidden.push(['group secret', s])
    for (const s of [...spellings(keys.macKey), ...spellings(keys.encKey)]) forbidden.push(['derived group key', s])
    forbidden.push(['invite', invite.slice(8, 60)])
    for (const dir of [a.dataDir, b.dataDir]) {
      const api = JSON.parse(await readFile(join(dir, 'api.json'), 'utf8'))
      forbidden.push(['API token', api.token])
      const key = privateKeyFromProtobuf(await readFile(join(dir, 'identity.key')))
      for (const s of spellings(key.raw.subarray(0, 32))) forbidden.push(['identity key', s])
    }
    const leaks: string[] = []
    const logs = [['alice log', a.output()], ['bob log', b.output()], ...outputs.map(o => [`${o.what} --json`, o.text])]
    for (const [where, text] of logs) {
      for (const [what, s] of forbidden) if (text.includes(s)) leaks.push(`${what} in ${where}`)
    }
    assert.deepEqual(leaks, [])
    assert.ok(a.output().includes('libp2p:') && a.output().includes('p2p-chat:'), 'the debug log really was on')

    // files: 0600, the data directory 0700
    for (const dir of [a.dataDir, b.dataDir]) {
      for (const f of ['identity.key', 'groups.json', 'api.json', 'profile.json']) {
        assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600, f)
      }
    }
    // the API answers on 127.0.0.1 and nowhere else (127.0.0.2 is loopback too, but another address)
    const api = JSON.parse(await readFile(join(a.dataDir, 'api.json'), 'utf8'))
    assert.match(api.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    const reach = async (host: string): Promise<string> => new Promise(resolve => {
      const s = connect(api.port, host)
      s.once('connect', () => { s.destroy(); resolve('connected') })
      s.once('error', (err: any) => { resolve(err.code) })
    })
    assert.equal(await reach('127.0.0.1'), 'connected')
    assert.equal(await reach('127.0.0.2'), 'ECONNREFUSED')
    t.diagnostic(`debug log bytes checked: ${a.output().length + b.output().length}; --json outputs checked: ${outputs.length}; secret spellings looked for: ${forbidden.length}; leaks: ${leaks.length}; files 0600: 8 of 8; API reachable only on 127.0.0.1`)
  })
})
