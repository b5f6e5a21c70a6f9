/**
 * Issue 17 items 7, 8, 9: the interactive terminal in a real terminal (tmux).
 * Slash-command mistakes say so instead of doing something else, `//` sends
 * a literal slash, errors point at /commands, peers show by name and their
 * disconnects are announced, /groups counts unread messages, multi-line
 * messages and long lines display cleanly, a sync catch-up shows in order
 * under a marker, a failed /accept leaves no call behind, and Ctrl-C clears
 * the line first and quits on the second press.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ApiClient } from '../src/api/index.js'
import { CLI, cliJson, runCli, sq, startCli, tmuxFor } from './cli-helpers.js'
import { tempDir, waitUntil, defer } from './helpers.js'

describe('interactive terminal (issue 17)', () => {
  it('commands, names, unread counts, //, catch-up order, multi-line, long lines, failed /accept, Ctrl-C twice', async (t) => {
    const tmux = tmuxFor(t)
    if (tmux == null) { t.skip('tmux is not installed'); return }
    const dir = await tempDir(t)
    const rc = join(dir, 'rc')
    // no sox for this node (PATH without it): /accept fails as on a machine without it
    const cmd = `PATH=${sq(join(dir, 'no-tools'))} ${sq(process.execPath)} ${sq(CLI)} start --data-dir ${sq(dir)} --listen /ip4/127.0.0.1/tcp/0 --no-mdns --name tina; echo $? > ${sq(rc)}`
    tmux('new-session', '-d', '-s', 'chat', '-x', '120', '-y', '50', `bash -c ${sq(cmd)}`)
    defer(t, async () => {
      try { process.kill((JSON.parse(await readFile(join(dir, 'api.json'), 'utf8')) as { pid: number }).pid, 'SIGKILL') } catch { /* not this one */ }
    })
    const screen = (): string => tmux('capture-pane', '-p', '-J', '-t', 'chat', '-S', '-200')
    const lines = (): string[] => screen().split('\n').map(l => l.trimEnd()).filter(l => l !== '')
    const type = (text: string): void => { tmux('send-keys', '-t', 'chat', '-l', text); tmux('send-keys', '-t', 'chat', 'Enter') }
    const see = async (what: string | RegExp): Promise<void> => {
      await waitUntil(`the terminal to show ${String(what)}`, () => typeof what === 'string' ? screen().includes(what) : what.test(screen()), 20_000)
        .catch((err: unknown) => { throw new Error(`${err instanceof Error ? err.message : String(err)}; screen:\n${screen()}`) })
    }
    const ready = await runCli(['wait-ready', '--data-dir', dir])
    assert.equal(ready.code, 0, ready.stderr)
    await see('/help lists commands')
    const tina = new ApiClient(dir)

    // 9: mistakes are said, not guessed at
    type('/create bad topic')
    await see('usage: /create <topic-id> (one word: topic ids have no spaces)')
    assert.deepEqual(await tina.groups(), [])
    type('/create lounge')
    await see('[lounge] >')
    type('/history abc')
    await see('usage: /history [n] (n: how many messages, a whole number, at most 1000)')
    type('/accept')
    await see('! no call is ringing')
    type('/switch nope')
    await see('! unknown group "nope": /groups lists yours, /create or /join adds one')
    type('/frob')
    await see('unknown command /frob: /help lists commands (start the line with // to send it as text)')

    // 8: otto joins; once a message carries his name, peers show by name
    const otto = await startCli(t, { name: 'otto' })
    const { invite } = await tina.invite('lounge')
    const joined = await cliJson(['join', invite, '--data-dir', otto.dataDir])
    assert.equal(joined.membersReached, 1)
    await cliJson(['send', 'lounge', 'first line\nsecond line', '--data-dir', otto.dataDir])
    // 7: a multi-line message: the continuation is marked and indented under the text
    await see(/\d\d:\d\d <otto(~\w{4})?> first line\n +\| second line/)

    // 9: // sends a literal slash
    type('//slash is text')
    await waitUntil('otto to receive "/slash is text"', async () => (await cliJson(['history', 'lounge', '--data-dir', otto.dataDir])).messages.some((m: { text: string }) => m.text === '/slash is text'))

    // 7: a long line wrapped on screen leaves no echo behind
    const long = 'L'.repeat(200)
    type(long)
    await waitUntil('the long line to be sent', async () => (await tina.history('lounge', { limit: 1 })).messages[0]?.text === long)
    await see(`<tina (you)> ${'L'.repeat(20)}`)
    assert.ok(!lines().some(l => l.startsWith('[lounge] > L')), `the echoed long line is gone; screen:\n${screen()}`)

    // 8: unread counts in /groups (what was shown in lounge is marked read half a second after it was shown)
    await waitUntil('what lounge showed to be marked read', async () => (await tina.groups()).find(g => g.topicId === 'lounge')?.unread === 0)
    type('/create den')
    await see('[den] >')
    await cliJson(['send', 'lounge', 'while you were away', '--data-dir', otto.dataDir])
    await see(/\[lounge\] <otto(~\w{4})?> while you were away/)
    type('/groups')
    await see(/ {2}lounge {2}1 peer\(s\) {2}1 unread/)
    type('/switch lounge')
    await see('now in lounge (1 unread: /history 1)')

    // 8: the disconnect is announced, by name
    await runCli(['stop', '--data-dir', otto.dataDir])
    await see(/\* otto \(12D3Ko…\w{6}\) disconnected/)

    // 7: messages caught up by sync come in order under one marker
    const late = await startCli(t, { name: 'lea' })
    const { secret } = await tina.invite('lounge', true)
    await cliJson(['join', 'lounge', '--secret', secret ?? '', '--data-dir', late.dataDir])
    for (const text of ['lea 1', 'lea 2', 'lea 3']) await cliJson(['send', 'lounge', text, '--data-dir', late.dataDir])
    const lastOld = (await cliJson(['history', 'lounge', '--limit', '1', '--data-dir', late.dataDir])).messages[0].timestamp as number
    // what tina shows must be newer than lea's messages by more than a clock difference
    await waitUntil('3 s to pass', () => Date.now() > lastOld + 3100, 10_000)
    type('newest line')
    await see('<tina (you)> newest line')
    await cliJson(['dial', (await tina.status()).addresses[0], '--data-dir', late.dataDir])
    await see(/\* caught up 3 earlier message\(s\) in lounge:\n.*<lea(~\w{4})?> lea 1\n.*<lea(~\w{4})?> lea 2\n.*<lea(~\w{4})?> lea 3/)

    // 9: a failed /accept (no sox) leaves no call that cannot be ended
    {
      const media = join(late.dataDir, 'in.raw')
      await writeFile(media, Buffer.alloc(1000))
      const caller = runCli(['call', (await tina.status()).peerId, '--input', media, '--output', 'none', '--data-dir', late.dataDir], { timeout: 60_000 })
      await see(/\* incoming voice call from lea/)
      type('/accept')
      await see(/! rec is not installed/)
      const ended = await caller
      assert.notEqual(ended.code, 0)
      assert.deepEqual(await tina.calls(), [])
    }

    // 9: Ctrl-C clears the draft, the second one quits (exit 0, api.json removed)
    tmux('send-keys', '-t', 'chat', '-l', 'a draft')
    await see('[lounge] > a draft')
    tmux('send-keys', '-t', 'chat', 'C-c')
    await see('(Ctrl-C again to quit, or /quit)')
    assert.ok(!lines().at(-1)?.includes('a draft'), screen())
    assert.ok(existsSync(join(dir, 'api.json')), 'still running after one Ctrl-C')
    tmux('send-keys', '-t', 'chat', 'C-c')
    await waitUntil('the node to exit', () => existsSync(rc), 20_000)
    assert.equal((await readFile(rc, 'utf8')).trim(), '0')
    assert.equal(existsSync(join(dir, 'api.json')), false)
  })
})
