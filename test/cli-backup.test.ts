import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { access, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cliJson, runCli, startCli } from './cli-helpers.js'
import { tempDir, waitUntil } from './helpers.js'
import type { CliNode } from './cli-helpers.js'

const PASS = 'correct horse battery staple'
const withPass = (passphrase: string): NodeJS.ProcessEnv => ({ P2P_CHAT_PASSPHRASE: passphrase })

async function historyIds (dataDir: string, topicId: string): Promise<string[]> {
  const h = await cliJson(['history', topicId, '--limit', '1000', '--data-dir', dataDir])
  return h.messages.map((m: any) => m.id)
}

async function stop (node: CliNode): Promise<void> {
  node.proc.kill('SIGTERM')
  assert.equal(await node.exited, 0)
}

const exists = async (path: string): Promise<boolean> => access(path).then(() => true, () => false)

describe('p2p-chat export / import', () => {
  it('export on a running node, import on a fresh data directory: same history, the group restored, chatting goes on', async (t) => {
    const dir = await tempDir(t)
    const [a, b] = await Promise.all([startCli(t, { name: 'alice' }), startCli(t, { name: 'bob' })])
    const { invite } = await cliJson(['create', 'team', '--data-dir', a.dataDir])
    await cliJson(['join', invite, '--data-dir', b.dataDir])
    await waitUntil('a and b to meet in the group', async () => (await cliJson(['groups', '--data-dir', a.dataDir]))[0].peers >= 1)
    for (let i = 0; i < 3; i++) await cliJson(['send', 'team', `from alice ${i}`, '--data-dir', a.dataDir])
    for (let i = 0; i < 2; i++) await cliJson(['send', 'team', `from bob ${i}`, '--data-dir', b.dataDir])
    await waitUntil('a to hold all five', async () => (await historyIds(a.dataDir, 'team')).length === 5)
    const aIds = await historyIds(a.dataDir, 'team')

    // secrets without a passphrase, and no terminal to ask on: refused, nothing written
    const file = join(dir, 'team.backup')
    const noPass = await runCli(['export', '--out', file, '--include-secrets', '--data-dir', a.dataDir])
    assert.equal(noPass.code, 1)
    assert.match(noPass.stderr, /^p2p-chat: a backup with group secrets is always encrypted and needs a passphrase: give it with --passphrase, in \$P2P_CHAT_PASSPHRASE/)
    assert.equal(await exists(file), false)

    // through the running node's API
    const exported = await runCli(['export', '--out', file, '--include-secrets', '--json', '--data-dir', a.dataDir], { env: withPass(PASS) })
    assert.equal(exported.code, 0, exported.stderr)
    const summary = JSON.parse(exported.stdout)
    assert.equal(summary.records, 5)
    assert.deepEqual(summary.groups, ['team'])
    assert.equal(summary.encrypted, true)
    assert.equal(summary.includesSecrets, true)
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    const { secret } = await cliJson(['invite', 'team', '--secret', '--data-dir', a.dataDir])
    const raw = await readFile(file)
    assert.equal(raw.includes(secret), false, 'the secret is not in the file in the clear')
    assert.equal(raw.includes('team'), false, 'nor the topic id')

    const again = await runCli(['export', '--out', file, '--include-secrets', '--data-dir', a.dataDir], { env: withPass(PASS) })
    assert.equal(again.code, 1)
    assert.match(again.stderr, /already exists: choose another file, or overwrite it \(--force\)/)

    // a fresh machine: no node running on c's data directory, import straight into it
    const c = join(dir, 'c-home')
    const wrong = await runCli(['import', file, '--data-dir', c], { env: withPass('not it') })
    assert.equal(wrong.code, 1)
    assert.match(wrong.stderr, /^p2p-chat: wrong passphrase/)
    const imported = await runCli(['import', file, '--json', '--data-dir', c], { env: withPass(PASS) })
    assert.equal(imported.code, 0, imported.stderr)
    const is = JSON.parse(imported.stdout)
    assert.deepEqual([is.imported, is.duplicates, is.rejected, is.groupsRestored, is.complete], [5, 0, 0, 1, true])
    const twice = await runCli(['import', file, '--data-dir', c], { env: withPass(PASS) })
    assert.equal(twice.code, 0, twice.stderr)
    assert.equal(twice.stdout, 'imported 0 new records, 5 already held, 0 rejected\n')

    // c starts on what it restored: same history, same group, and it keeps chatting
    const cNode = await startCli(t, { dataDir: c, name: 'carol' })
    assert.deepEqual(await historyIds(c, 'team'), aIds)
    await cliJson(['dial', a.addresses[0], '--data-dir', c])
    await waitUntil('c to meet a in the group', async () => (await cliJson(['groups', '--data-dir', c]))[0].peers >= 1)
    const sent = await cliJson(['send', 'team', 'carol is back', '--data-dir', c])
    await waitUntil('a to receive c\'s message', async () => (await historyIds(a.dataDir, 'team')).includes(sent.id))
    assert.equal(cNode.peerId !== a.peerId, true)

    // offline export of b's data directory once b has stopped
    await waitUntil('b to receive c\'s message', async () => (await historyIds(b.dataDir, 'team')).includes(sent.id))
    await stop(b)
    const bFile = join(dir, 'b.backup')
    const offline = await cliJson(['export', 'team', '--out', bFile, '--data-dir', b.dataDir])
    assert.equal(offline.records, 6) // b got carol's message too
    assert.equal(offline.encrypted, false)
  })

  it('a tampered backup imported into a running node: the record is named and rejected, the rest kept, exit 1; not JSON and unknown versions are refused', async (t) => {
    const dir = await tempDir(t)
    const a = await startCli(t, { name: 'alice' })
    await cliJson(['create', 'team', '--data-dir', a.dataDir])
    for (let i = 0; i < 4; i++) await cliJson(['send', 'team', `message ${i}`, '--data-dir', a.dataDir])
    const file = join(dir, 'plain.backup')
    assert.equal((await cliJson(['export', '--out', file, '--data-dir', a.dataDir])).records, 4)

    const b = await startCli(t, { name: 'bob' })
    const { secret } = await cliJson(['invite', 'team', '--secret', '--data-dir', a.dataDir])
    await cliJson(['join', 'team', '--secret', secret, '--data-dir', b.dataDir])
    await cliJson(['send', 'team', 'bob was here first', '--data-dir', b.dataDir])
    const before = await historyIds(b.dataDir, 'team')

    // flip one character in the middle of record 1's envelope (line 3)
    const lines = (await readFile(file, 'utf8')).split('\n')
    const rec = JSON.parse(lines[2]) as { envelope: string }
    const mid = Math.floor(rec.envelope.length / 2)
    rec.envelope = rec.envelope.slice(0, mid) + (rec.envelope[mid] === 'A' ? 'B' : 'A') + rec.envelope.slice(mid + 1)
    lines[2] = JSON.stringify(rec)
    const tampered = join(dir, 'tampered.backup')
    await writeFile(tampered, lines.join('\n'))

    const r = await runCli(['import', tampered, '--json', '--data-dir', b.dataDir])
    assert.equal(r.code, 1)
    const s = JSON.parse(r.stdout)
    assert.deepEqual([s.imported, s.rejected, s.complete], [3, 1, true])
    assert.equal(s.errors[0].index, 1)
    assert.match(r.stderr, /some records were rejected:\n {2}record 1 \(line 3\) of group "team": /)
    const after = await historyIds(b.dataDir, 'team')
    assert.equal(after.length, before.length + 3)
    assert.ok(before.every(id => after.includes(id)), 'b\'s own history is kept')

    // the whole file again: only the record that was tampered with is new
    const whole = await runCli(['import', file, '--data-dir', b.dataDir])
    assert.equal(whole.code, 0, whole.stderr)
    assert.equal(whole.stdout, 'imported 1 new record, 3 already held, 0 rejected\n')

    const notJson = join(dir, 'not.json')
    await writeFile(notJson, 'hello, world\n')
    const nj = await runCli(['import', notJson, '--data-dir', b.dataDir])
    assert.equal(nj.code, 1)
    assert.equal(nj.stderr, 'p2p-chat: line 1 is not JSON: this is not a p2p-chat backup, or it is damaged\n')
    const future = join(dir, 'future.backup')
    await writeFile(future, lines.map((l, i) => i === 0 ? JSON.stringify({ ...JSON.parse(l), version: 99 }) : l).join('\n'))
    const fv = await runCli(['import', future, '--data-dir', b.dataDir])
    assert.equal(fv.code, 1)
    assert.match(fv.stderr, /version 99/)
    const missing = await runCli(['import', join(dir, 'nope.backup'), '--data-dir', b.dataDir])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /cannot read the backup .*nope\.backup: no such file/)
    assert.equal((await historyIds(b.dataDir, 'team')).length, before.length + 4)
  })
})
