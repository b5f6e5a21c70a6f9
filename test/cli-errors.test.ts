/**
 * Issue 17 items 3, 6, 10, 11, 12: `stop` and `wait-ready`/`--wait`, join
 * saying whether a member was reached, and every bad option or error as its
 * exact one line and exit code (64 for wrong usage).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CLI, cliJson, runCli, startCli } from './cli-helpers.js'
import { tempDir, defer } from './helpers.js'

const LISTEN = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

describe('new user: errors that tell the truth (issue 17)', () => {
  it('start: bad options are one line and exit 64, before anything starts (11)', async (t) => {
    const dir = await tempDir(t)
    const cases: Array<[string[], string]> = [
      [['--api-port', 'abc'], 'p2p-chat: --api-port must be a whole number, not "abc"\n'],
      [['--api-port', '70000'], 'p2p-chat: --api-port must be between 0 and 65535, not 70000\n'],
      [['--listen', 'garbage'], 'p2p-chat: --listen "garbage" is not a multiaddr: give one like /ip4/0.0.0.0/tcp/4747\n'],
      [['--bootstrap', 'garbage'], 'p2p-chat: --bootstrap "garbage" is not a multiaddr: give one like /ip4/192.0.2.7/tcp/4747/p2p/12D3KooW…\n'],
      [['--bootstrap', '/ip4/127.0.0.1/tcp/4747'], 'p2p-chat: --bootstrap "/ip4/127.0.0.1/tcp/4747" has no /p2p/<peer-id>: add the peer id of the node to connect to\n'],
      [['--frobnicate'], 'p2p-chat: unknown option \'--frobnicate\' (see "p2p-chat start --help")\n']
    ]
    for (const [args, line] of cases) {
      const r = await runCli(['start', '--headless', '--data-dir', dir, ...LISTEN, ...args])
      assert.equal(r.stderr, line, args.join(' '))
      assert.equal(r.code, 64, args.join(' '))
      assert.equal(r.stdout, '', 'no stopping/stopped after a failed start')
    }
    // the API port in use
    const a = await startCli(t)
    const { port } = JSON.parse(await readFile(join(a.dataDir, 'api.json'), 'utf8')) as { port: number }
    const busy = await runCli(['start', '--headless', '--data-dir', dir, ...LISTEN, '--api-port', String(port)])
    assert.equal(busy.stderr, `p2p-chat: --api-port ${port}: 127.0.0.1:${port} is already in use: choose another port, or leave --api-port out for any free one\n`)
    assert.equal(busy.code, 64)
    assert.equal(busy.stdout, '')
    assert.equal(existsSync(join(dir, 'api.json')), false)
  })

  it('usage and data directory errors: exact lines and codes (12)', async (t) => {
    const a = await startCli(t)
    const file = join(await tempDir(t), 'a-file')
    await writeFile(file, 'x')
    const none = await runCli([])
    assert.equal(none.code, 64)
    assert.match(none.stderr, /^Usage: p2p-chat/)
    const cases: Array<[string[], number, string]> = [
      [['history', 'x', '--limit', 'abc', '--data-dir', a.dataDir], 64, 'p2p-chat: --limit must be a whole number, not "abc"\n'],
      [['history', 'x', '--limit', '0', '--data-dir', a.dataDir], 64, 'p2p-chat: --limit must be between 1 and 10000, not 0\n'],
      [['status', '--wait', 'soon', '--data-dir', a.dataDir], 64, 'p2p-chat: --wait must be a duration like 30s, 500ms or 2m, not "soon"\n'],
      [['status', '--data-dir', file], 64, `p2p-chat: --data-dir ${file} is a file, not a directory: give a directory (it is created when missing)\n`],
      [['status', '--data-dir', join(file, 'sub')], 64, `p2p-chat: --data-dir ${join(file, 'sub')} is inside a file, not a directory: give a directory (it is created when missing)\n`],
      [['start', '--headless', '--data-dir', file, ...LISTEN], 64, `p2p-chat: --data-dir ${file} is a file, not a directory: give a directory (it is created when missing)\n`],
      [['join', 'p2pchat1', '--data-dir', a.dataDir], 1, 'p2p-chat: invalid invite: "p2pchat1" is only the start of an invite: copy the whole line "p2p-chat create" or "p2p-chat invite" printed\n'],
      [['dial', a.peerId, '--data-dir', a.dataDir], 1, 'p2p-chat: that is this node\'s own peer id: dial another node (its "p2p-chat status" shows its addresses)\n'],
      [['dial', a.addresses[0], '--data-dir', a.dataDir], 1, 'p2p-chat: that is this node\'s own peer id: dial another node (its "p2p-chat status" shows its addresses)\n'],
      [['start', '--headless', '--data-dir', a.dataDir, ...LISTEN], 1, `p2p-chat: a node is already running on ${a.dataDir} (pid ${a.proc.pid ?? 0}): stop it with "p2p-chat stop --data-dir ${a.dataDir}", or give this one another --data-dir\n`]
    ]
    for (const [args, code, line] of cases) {
      const r = await runCli(args)
      assert.equal(r.stderr, line, args.join(' '))
      assert.equal(r.code, code, args.join(' '))
    }
    // 10 MB on stdin: the message limit, not the API's body limit
    await cliJson(['create', 'big', '--data-dir', a.dataDir])
    const big = await runCli(['send', 'big', '--data-dir', a.dataDir], { input: 'x'.repeat(10 * 1024 * 1024) })
    assert.equal(big.stderr, 'p2p-chat: the message on stdin is longer than 4096 bytes, the limit of one message\n')
    assert.equal(big.code, 1)
    const long = await runCli(['send', 'big', 'y'.repeat(5000), '--data-dir', a.dataDir])
    assert.equal(long.stderr, 'p2p-chat: message is 5000 bytes, the limit is 4096\n')
    assert.equal(long.code, 1)
  })

  it('stop: through the API, waits until the node has exited; wait-ready and --wait right after start & (3, 6)', async (t) => {
    const dir = await tempDir(t)
    const early = await runCli(['status', '--data-dir', dir])
    assert.equal(early.code, 2)
    assert.equal(early.stderr, `p2p-chat: no p2p-chat node is running for ${dir}: start one with "p2p-chat start --data-dir ${dir}" (right after "start &", add --wait 30s)\n`)
    const notYet = await runCli(['wait-ready', '--timeout', '300ms', '--data-dir', dir])
    assert.equal(notYet.code, 2)
    assert.equal(notYet.stderr, `p2p-chat: no p2p-chat node answered for ${dir} within 300 ms: is "p2p-chat start --data-dir ${dir}" running? (its log says why it stopped)\n`)

    const proc = spawn(process.execPath, [CLI, 'start', '--headless', '--json', '--data-dir', dir, ...LISTEN], { stdio: ['ignore', 'pipe', 'pipe'] })
    defer(t, () => { if (proc.exitCode == null) proc.kill('SIGKILL') })
    let log = ''
    proc.stdout.setEncoding('utf8').on('data', (d: string) => { log += d })
    const exited = once(proc, 'exit')
    // no waiting of our own: the command waits for the node
    const created = await cliJson(['create', 'early', '--wait', '30s', '--data-dir', dir])
    assert.match(created.invite, /^p2pchat1/)
    const ready = await cliJson(['wait-ready', '--data-dir', dir])
    assert.equal(ready.pid, proc.pid)

    const stop = await runCli(['stop', '--data-dir', dir])
    assert.equal(stop.stderr, '')
    assert.equal(stop.stdout, `stopped the node of ${dir} (pid ${proc.pid ?? 0})\n`)
    assert.equal(stop.code, 0)
    // stop returned after the process was gone
    assert.ok(proc.exitCode != null || proc.signalCode != null || (await Promise.race([exited.then(() => true), new Promise(resolve => setImmediate(() => resolve(false)))])), 'the node has exited')
    const [code] = await exited as [number | null]
    assert.equal(code, 0)
    assert.match(log, /"event":"stopping","reason":"p2p-chat stop"/)
    assert.equal(existsSync(join(dir, 'api.json')), false)
    const again = await runCli(['stop', '--data-dir', dir])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /^p2p-chat: no p2p-chat node is running for /)
  })

  it('join says whether a member was reached: yes; wrong secret; inviter offline (10)', async (t) => {
    const [a, b, c] = await Promise.all([startCli(t, { name: 'ann' }), startCli(t, { name: 'bo' }), startCli(t, { name: 'cy' })])
    const { invite } = await cliJson(['create', 'ops', '--data-dir', a.dataDir])
    const ok = await runCli(['join', invite, '--data-dir', b.dataDir])
    assert.equal(ok.stdout, 'joined ops: 1 member(s) reached\n')
    assert.equal(ok.stderr, '')
    assert.equal(ok.code, 0)

    // c knows the topic id but not the secret: connected to a, who is not on c's topic
    await cliJson(['dial', a.addresses[0], '--data-dir', c.dataDir])
    const wrong = await runCli(['join', 'ops', '--secret', randomBytes(32).toString('hex'), '--data-dir', c.dataDir, '--json'])
    assert.equal(wrong.code, 0)
    assert.equal(JSON.parse(wrong.stdout).membersReached, 0)
    assert.equal(wrong.stderr, 'p2p-chat: warning: connected to other peers, but none of them is in ops with this secret: the secret is probably wrong (check the invite), or the group was left\n')

    // the inviter is gone
    const { invite: invite2 } = await cliJson(['create', 'gone', '--data-dir', a.dataDir])
    const stopped = await runCli(['stop', '--data-dir', a.dataDir])
    assert.equal(stopped.code, 0)
    const offline = await runCli(['join', invite2, '--data-dir', c.dataDir])
    assert.equal(offline.stdout, 'joined gone\n')
    assert.match(offline.stderr, /^p2p-chat: warning: the inviter is not reachable now \(none of its \d+ address\(es\) answered\): messages arrive once a member of gone connects\n$/)
  })
})
