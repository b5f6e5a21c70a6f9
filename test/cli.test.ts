import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ApiClient } from '../src/api/index.js'
import { CLI, cliJson, runCli, startCli } from './cli-helpers.js'
import { tempDir, waitUntil, defer } from './helpers.js'

async function groupPeers (dataDir: string, topicId: string): Promise<number> {
  const groups = await new ApiClient(dataDir).groups()
  return groups.find(g => g.topicId === topicId)?.peers ?? 0
}

describe('p2p-chat CLI', () => {
  it('three headless nodes: create, invite, join, send; history --json and watch --json on the others show it', async (t) => {
    const [a, b, c] = await Promise.all([startCli(t, { name: 'alice' }), startCli(t, { name: 'bob' }), startCli(t, { name: 'carol' })])
    const created = await cliJson(['create', 'team-alpha', '--data-dir', a.dataDir])
    assert.match(created.invite, /^p2pchat1/)
    const invite = (await cliJson(['invite', 'team-alpha', '--data-dir', a.dataDir])).invite
    const joinedB = await cliJson(['join', invite, '--data-dir', b.dataDir])
    assert.equal(joinedB.topicId, 'team-alpha')
    assert.equal(joinedB.dialed, 1)
    // c joins by topic id and secret, then dials a
    const { secret } = await cliJson(['invite', 'team-alpha', '--secret', '--data-dir', a.dataDir])
    await cliJson(['join', 'team-alpha', '--secret', secret, '--data-dir', c.dataDir])
    await cliJson(['dial', a.addresses[0], '--data-dir', c.dataDir])
    await waitUntil('everyone to see the others in team-alpha', async () =>
      (await groupPeers(a.dataDir, 'team-alpha')) >= 2 && (await groupPeers(b.dataDir, 'team-alpha')) >= 1 && (await groupPeers(c.dataDir, 'team-alpha')) >= 1)

    const watch = spawn(process.execPath, [CLI, 'watch', 'team-alpha', '--json', '--count', '2', '--data-dir', c.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] })
    defer(t, () => { watch.kill('SIGKILL') })
    let watched = ''
    let watchErr = ''
    watch.stdout.setEncoding('utf8').on('data', (d: string) => { watched += d })
    watch.stderr.setEncoding('utf8').on('data', (d: string) => { watchErr += d })
    await waitUntil('watch to connect', () => watchErr.includes('watching team-alpha'))
    const sent = await cliJson(['send', 'team-alpha', 'hello from alice', '--data-dir', a.dataDir])
    const sent2 = await cliJson(['send', 'team-alpha', '--data-dir', a.dataDir], { input: 'piped line\n' })
    assert.equal(sent2.text, 'piped line')

    await waitUntil('b to hold both messages', async () => (await cliJson(['history', 'team-alpha', '--data-dir', b.dataDir])).messages.length === 2)
    const hist = await cliJson(['history', 'team-alpha', '--limit', '1', '--data-dir', b.dataDir])
    assert.equal(hist.messages[0].text, 'piped line')
    assert.equal(hist.messages[0].name, 'alice')
    const older = await cliJson(['history', 'team-alpha', '--limit', '1', '--before', hist.next, '--data-dir', b.dataDir])
    assert.equal(older.messages[0].id, sent.id)

    await waitUntil('watch on c to print both messages', () => watched.trim().split('\n').length >= 2)
    const [code] = watch.exitCode != null ? [watch.exitCode] : await once(watch, 'exit')
    assert.equal(code, 0)
    const lines = watched.trim().split('\n').map(l => JSON.parse(l))
    assert.deepEqual(lines.map(m => m.text), ['hello from alice', 'piped line'])
    assert.equal(lines[0].author, a.peerId)

    const human = await runCli(['history', 'team-alpha', '--data-dir', c.dataDir])
    assert.equal(human.code, 0)
    assert.match(human.stdout, /<alice~\w{4}> hello from alice\n.*<alice~\w{4}> piped line/)
    const left = await runCli(['leave', 'team-alpha', '--data-dir', c.dataDir])
    assert.equal(left.code, 0)
    assert.deepEqual(await cliJson(['groups', '--data-dir', c.dataDir]), [])
  })

  it('says when no node is running, with exit code 2', async (t) => {
    const dir = await tempDir(t)
    const r = await runCli(['status', '--data-dir', dir])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /no p2p-chat node is running for .*p2p-chat start/)
    assert.equal(r.stderr.trim().split('\n').length, 1)
  })

  it('gives one clear line and a non-zero exit for bad input and bad usage; --help on every command', async (t) => {
    const a = await startCli(t)
    const unknown = await runCli(['send', 'nope', 'hi', '--data-dir', a.dataDir])
    assert.equal(unknown.code, 1)
    assert.equal(unknown.stderr, 'p2p-chat: unknown group "nope": create or join it first (p2p-chat groups lists yours)\n')
    const badInvite = await runCli(['join', 'garbage', '--data-dir', a.dataDir])
    assert.equal(badInvite.code, 1)
    assert.match(badInvite.stderr, /^p2p-chat: invalid invite: /)
    const usage = await runCli(['history'])
    assert.equal(usage.code, 64)
    const limit = await runCli(['history', 'x', '--limit', 'ten', '--data-dir', a.dataDir])
    assert.equal(limit.code, 64)
    assert.equal(limit.stderr, 'p2p-chat: --limit must be a whole number, not "ten"\n')
    const help = await runCli(['--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /Exit codes:[\s\S]*2 {4}no node is running/)
    for (const cmd of ['start', 'stop', 'wait-ready', 'status', 'peers', 'create', 'invite', 'join', 'leave', 'groups', 'send', 'history', 'watch', 'dial', 'name', 'sync', 'export', 'import', 'call', 'answer', 'reject', 'hangup', 'calls']) {
      const r = await runCli([cmd, '--help'])
      assert.equal(r.code, 0, cmd)
      assert.match(r.stdout, new RegExp(`Usage: p2p-chat ${cmd}`), cmd)
    }
    assert.equal((await stat(join(a.dataDir, 'api.json'))).mode & 0o777, 0o600)
    // a listen address in use: one line naming it, exit 64 (choose another --listen), and the data directory is left usable
    const dir = await tempDir(t)
    const busy = a.addresses[0].replace(/\/p2p\/.*$/, '')
    const clash = await runCli(['start', '--headless', '--no-mdns', '--data-dir', dir, '--listen', busy])
    assert.equal(clash.code, 64)
    assert.equal(clash.stdout, '', 'a failed start prints no stopping/stopped')
    assert.equal(clash.stderr, `p2p-chat: cannot listen on ${busy}: address already in use (choose others with --listen, e.g. /ip4/0.0.0.0/tcp/0)\n`)
    const b = await startCli(t, { dataDir: dir })
    assert.ok(b.peerId.length > 0)
  })

  it('API: 401 without token, 400 for bad JSON, 404 for an unknown group, 413 for a 10 MB body; the node stays up', async (t) => {
    const a = await startCli(t)
    const info = JSON.parse(await readFile(join(a.dataDir, 'api.json'), 'utf8'))
    assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    const auth = { authorization: `Bearer ${info.token}` }
    assert.equal((await fetch(`${info.url}/v1/status`)).status, 401)
    assert.equal((await fetch(`${info.url}/v1/status`, { headers: { authorization: 'Bearer ' + '0'.repeat(64) } })).status, 401)
    const bad = await fetch(`${info.url}/v1/groups`, { method: 'POST', headers: auth, body: '{"topicId": ' })
    assert.equal(bad.status, 400)
    assert.equal(((await bad.json()) as any).error.code, 'ERR_INVALID_INPUT')
    const wrongType = await fetch(`${info.url}/v1/groups`, { method: 'POST', headers: auth, body: '[1,2]' })
    assert.equal(wrongType.status, 400)
    const missing = await fetch(`${info.url}/v1/groups/nope/messages`, { method: 'POST', headers: auth, body: '{"text":"hi"}' })
    assert.equal(missing.status, 404)
    assert.equal(((await missing.json()) as any).error.code, 'ERR_UNKNOWN_GROUP')
    assert.equal((await fetch(`${info.url}/v1/nowhere`, { headers: auth })).status, 404)
    const big = await fetch(`${info.url}/v1/groups`, { method: 'POST', headers: auth, body: 'x'.repeat(10 * 1024 * 1024) }).catch((err: unknown) => err)
    // the server answers 413 and closes; a client still sending may see the reset instead
    if (big instanceof Error) assert.match(String(big.cause instanceof Error ? big.cause : big), /ECONNRESET|EPIPE|other side closed|SocketError/)
    else assert.equal((big as Response).status, 413)
    const status = await fetch(`${info.url}/v1/status`, { headers: auth })
    assert.equal(status.status, 200)
    assert.equal(((await status.json()) as any).peerId, a.peerId)
    const ws = await fetch(`${info.url}/v1/events`)
    assert.equal(ws.status, 401)
  })

  it('SIGTERM during steady sending: clean exit, every acknowledged message in history after restart', async (t) => {
    const a = await startCli(t)
    const client = new ApiClient(a.dataDir)
    await client.createGroup('steady')
    const acked: string[] = []
    let stop = false
    const sender = async (n: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        try {
          acked.push((await client.send('steady', `s${n}-${i}`)).id)
        } catch {
          return // the node is going away: what was not acknowledged may be lost
        }
      }
    }
    const senders = [0, 1, 2, 3].map(sender)
    await waitUntil('200 acknowledged sends', () => acked.length >= 200)
    a.proc.kill('SIGTERM')
    const code = await a.exited
    stop = true
    await Promise.all(senders)
    assert.equal(code, 0)
    await waitUntil('api.json removed', async () => { try { await stat(join(a.dataDir, 'api.json')); return false } catch { return true } })

    const again = await startCli(t, { dataDir: a.dataDir })
    assert.equal(again.peerId, a.peerId)
    const stored = new Set<string>()
    let before: string | undefined
    do {
      const page = await new ApiClient(a.dataDir).history('steady', { limit: 1000, before })
      for (const m of page.messages) stored.add(m.id)
      before = page.next
    } while (before != null)
    const lost = acked.filter(id => !stored.has(id))
    t.diagnostic(`acknowledged ${acked.length}, stored ${stored.size}, lost ${lost.length}`)
    assert.equal(lost.length, 0)
  })

  it('interactive terminal in tmux: sends a typed line, shows an incoming one without garbling the typed line', async (t) => {
    try { execFileSync('tmux', ['-V']) } catch { t.skip('tmux is not installed'); return }
    const dir = await tempDir(t)
    const sock = `p2pchat-test-${process.pid}`
    const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', sock, ...args], { encoding: 'utf8' })
    defer(t, () => { try { tmux('kill-server') } catch { /* already gone */ } })
    const cmd = `${process.execPath} ${CLI} start --data-dir ${dir} --listen /ip4/127.0.0.1/tcp/0 --no-mdns --name tina`
    tmux('new-session', '-d', '-s', 'chat', '-x', '160', '-y', '40', cmd)
    const screen = (): string => tmux('capture-pane', '-p', '-t', 'chat')
    await waitUntil('the interactive node to be ready', async () => { try { await stat(join(dir, 'api.json')); return screen().includes('/create') } catch { return false } })
    assert.match(screen(), /no groups yet: \/create <topic-id>/)

    tmux('send-keys', '-t', 'chat', '/create lounge', 'Enter')
    await waitUntil('the group to be created', () => screen().includes('[lounge] >'))
    const invite = (await new ApiClient(dir).invite('lounge')).invite
    const other = await startCli(t, { name: 'otto' })
    await cliJson(['join', invite, '--data-dir', other.dataDir])
    await waitUntil('otto to see tina in lounge', async () => (await groupPeers(other.dataDir, 'lounge')) >= 1 && (await groupPeers(dir, 'lounge')) >= 1)

    tmux('send-keys', '-t', 'chat', '-l', 'hello from the terminal')
    tmux('send-keys', '-t', 'chat', 'Enter')
    await waitUntil('otto to receive the typed line', async () => (await cliJson(['history', 'lounge', '--data-dir', other.dataDir])).messages.some((m: any) => m.text === 'hello from the terminal' && m.name === 'tina'))

    tmux('send-keys', '-t', 'chat', '-l', 'half typed')
    await waitUntil('the half-typed line on screen', () => screen().includes('half typed'))
    await cliJson(['send', 'lounge', 'hi tina', '--data-dir', other.dataDir])
    await waitUntil('the incoming line on screen', () => /<otto(~\w{4})?> hi tina/.test(screen()))
    const lines = screen().split('\n').filter(l => l.trim() !== '')
    const last = lines[lines.length - 1]
    assert.equal(last.trimEnd(), '[lounge] > half typed', `screen:\n${screen()}`)
    assert.ok(lines.some(l => /^\d\d:\d\d <otto(~\w{4})?> hi tina$/.test(l.trimEnd())), screen())
    assert.ok(lines.some(l => /<tina \(you\)> hello from the terminal/.test(l)), screen())
    tmux('send-keys', '-t', 'chat', 'C-u')
    tmux('send-keys', '-t', 'chat', '/quit', 'Enter')
    await waitUntil('the node to exit and remove api.json', async () => { try { await stat(join(dir, 'api.json')); return false } catch { return true } })
  })

  it('sync: a late joiner catches up, and `p2p-chat sync` reconciles on demand with a summary', async (t) => {
    const [a, b] = await Promise.all([startCli(t, { name: 'ann' }), startCli(t, { name: 'ben' })])
    await cliJson(['create', 'archive', '--data-dir', a.dataDir])
    const client = new ApiClient(a.dataDir)
    for (let i = 0; i < 60; i++) await client.send('archive', `old-${i}`)
    const { invite } = await cliJson(['invite', 'archive', '--data-dir', a.dataDir])
    await cliJson(['join', invite, '--data-dir', b.dataDir])
    await waitUntil('ben to catch up on 60 old messages', async () => (await cliJson(['history', 'archive', '--limit', '100', '--data-dir', b.dataDir])).messages.length === 60)
    const summary = await cliJson(['sync', 'archive', '--data-dir', b.dataDir])
    assert.equal(summary.peers, 1)
    assert.equal(summary.failed, 0)
    assert.equal(typeof summary.received, 'number')
    const human = await runCli(['sync', 'archive', '--data-dir', b.dataDir])
    assert.equal(human.code, 0)
    assert.match(human.stdout, /^synced archive with 1 peer\(s\): 0 received, 0 sent/)
    const unknown = await runCli(['sync', 'nope', '--data-dir', b.dataDir])
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /unknown group "nope"/)
  })
})
