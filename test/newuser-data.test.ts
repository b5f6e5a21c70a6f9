/**
 * Issue 17 items 12 (dial), 13, 14, 15: dial failures in words, a missing
 * identity or groups file said loudly (a new identity over old history only
 * when asked), reading a left group's history again, and a plain backup in a
 * fresh directory reported per group, not per record.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { cliJson, runCli, startCli } from './cli-helpers.js'
import { tempDir } from './helpers.js'

const LISTEN = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

describe('new user: data directory, dial and backup messages (issue 17)', () => {
  it('dial: an unknown peer id and a refused address are one line each (12)', async (t) => {
    const [a, b] = await Promise.all([startCli(t), startCli(t)])
    const refused = `/ip4/127.0.0.1/tcp/1/p2p/${b.peerId}`
    const r1 = await runCli(['dial', refused, '--data-dir', a.dataDir])
    assert.equal(r1.stderr, `p2p-chat: ${refused}: connection refused (no node listens there now)\n`)
    assert.equal(r1.code, 1)
    const r2 = await runCli(['dial', b.peerId, '--data-dir', a.dataDir])
    assert.match(r2.stderr, new RegExp(`^p2p-chat: no known address for ${b.peerId}( \\(none found within \\d+ s\\))?: dial its full address \\(/ip4/…/tcp/…/p2p/${b.peerId}\\), which "p2p-chat status" on that node prints\\n$`))
    assert.equal(r2.code, 1)
  })

  it('a missing identity.key over existing history: refused unless --new-identity; a missing groups.json: warned (13)', async (t) => {
    const a = await startCli(t)
    await cliJson(['create', 'keep', '--data-dir', a.dataDir])
    await cliJson(['send', 'keep', 'remember me', '--data-dir', a.dataDir])
    assert.equal((await runCli(['stop', '--data-dir', a.dataDir])).code, 0)

    await rm(join(a.dataDir, 'identity.key'))
    const refused = await runCli(['start', '--headless', '--data-dir', a.dataDir, ...LISTEN])
    assert.equal(refused.stderr, `p2p-chat: ${join(a.dataDir, 'identity.key')} is missing, but ${join(a.dataDir, 'history')} holds history written as that identity: put the key back (or import a backup made with --include-identity), or start with --new-identity to go on as a new peer (your old messages will no longer be "you")\n`)
    assert.equal(refused.code, 1)
    assert.equal(refused.stdout, '')
    const fresh = await startCli(t, { dataDir: a.dataDir, args: ['--new-identity'] })
    assert.notEqual(fresh.peerId, a.peerId)
    assert.equal((await runCli(['stop', '--data-dir', a.dataDir])).code, 0)

    await rm(join(a.dataDir, 'groups.json'))
    const warned = await startCli(t, { dataDir: a.dataDir })
    assert.ok(warned.output().includes(`p2p-chat: warning: ${join(a.dataDir, 'groups.json')} is missing, but ${join(a.dataDir, 'history')} holds messages: the node starts with no groups`), warned.output())
  })

  it('after leave: history says how to read it again, and the printed rejoin command makes it readable (14)', async (t) => {
    const a = await startCli(t)
    await cliJson(['create', 'club', '--data-dir', a.dataDir])
    await cliJson(['send', 'club', 'kept on disk', '--data-dir', a.dataDir])
    const left = await cliJson(['leave', 'club', '--data-dir', a.dataDir])
    assert.match(left.rejoin, /^p2p-chat join club --secret [0-9a-f]{64}$/)
    const human = await runCli(['history', 'club', '--data-dir', a.dataDir])
    assert.equal(human.stderr, 'p2p-chat: unknown group "club": "p2p-chat groups" lists yours; the history of a group you left stays on disk but sealed: rejoin it with "p2p-chat join club --secret <secret>" (leave printed it) to read it\n')
    assert.equal(human.code, 1)
    const rejoin = (left.rejoin as string).split(' ').slice(1)
    assert.equal((await runCli([...rejoin, '--data-dir', a.dataDir])).code, 0)
    const page = await cliJson(['history', 'club', '--data-dir', a.dataDir])
    assert.deepEqual(page.messages.map((m: { text: string }) => m.text), ['kept on disk'])
  })

  it('a plain backup imported into a fresh directory: one line per group without a key, not one per record (15)', async (t) => {
    const a = await startCli(t)
    for (const g of ['alpha', 'beta']) {
      await cliJson(['create', g, '--data-dir', a.dataDir])
      for (let i = 0; i < 30; i++) await cliJson(['send', g, `${g} ${i}`, '--data-dir', a.dataDir])
    }
    const file = join(await tempDir(t), 'plain.jsonl')
    assert.equal((await runCli(['export', '--out', file, '--data-dir', a.dataDir])).code, 0)
    const fresh = await tempDir(t)
    const r = await runCli(['import', file, '--data-dir', fresh])
    assert.equal(r.code, 1)
    const lines = r.stderr.trim().split('\n')
    assert.deepEqual(lines, [
      `p2p-chat: ${file}: some records were rejected:`,
      '  no key for group "alpha" (its records were rejected): import a backup made with --include-secrets, or join the group first, then import again',
      '  no key for group "beta" (its records were rejected): import a backup made with --include-secrets, or join the group first, then import again'
    ])
  })
})

describe('new user: backup of the person (issue 17.16)', () => {
  it('export --include-identity: a restored machine is the same peer, its old messages still "you"; another identity is kept, with a warning', async (t) => {
    const a = await startCli(t, { name: 'anna' })
    await cliJson(['create', 'home', '--data-dir', a.dataDir])
    await cliJson(['send', 'home', 'written by anna', '--data-dir', a.dataDir])
    const file = join(await tempDir(t), 'me.backup')
    const exported = await runCli(['export', '--out', file, '--include-identity', '--include-secrets', '--passphrase', 'pw', '--data-dir', a.dataDir])
    assert.equal(exported.code, 0, exported.stderr)
    assert.match(exported.stdout, /\(encrypted, with the group secrets and your identity\)/)
    assert.equal(exported.stderr, `p2p-chat: warning: ${file} holds your identity key: with the passphrase, anyone can act as you. After restoring it, never run two nodes with this identity at once\n`)
    // a plain backup cannot hold it
    const plain = await runCli(['export', '--out', join(await tempDir(t), 'x'), '--include-identity', '--data-dir', a.dataDir])
    assert.equal(plain.code, 1)
    assert.match(plain.stderr, /^p2p-chat: a backup with your identity is always encrypted and needs a passphrase: give it with --passphrase/)
    assert.equal((await runCli(['stop', '--data-dir', a.dataDir])).code, 0)

    const restored = await tempDir(t)
    const imported = await runCli(['import', file, '--passphrase', 'pw', '--data-dir', restored])
    assert.equal(imported.code, 0, imported.stderr)
    assert.equal(imported.stderr, `p2p-chat: restored the identity ${a.peerId} into ${restored}: start the node there to be that peer again; never run two nodes with one identity at once (stop the old one for good)\n`)
    const again = await startCli(t, { dataDir: restored })
    assert.equal(again.peerId, a.peerId)
    const page = await cliJson(['history', 'home', '--data-dir', restored])
    assert.deepEqual(page.messages.map((m: { text: string, own: boolean, name: string }) => [m.text, m.own, m.name]), [['written by anna', true, 'anna']])
    const status = await cliJson(['status', '--data-dir', restored])
    assert.equal(status.name, 'anna')

    // a directory with another identity keeps it
    const other = await tempDir(t)
    const o = await startCli(t, { dataDir: other })
    assert.equal((await runCli(['stop', '--data-dir', o.dataDir])).code, 0)
    const kept = await runCli(['import', file, '--passphrase', 'pw', '--data-dir', other])
    assert.equal(kept.stderr, `p2p-chat: warning: the backup holds the identity ${a.peerId}, but ${other} has another one: kept it; to become ${a.peerId}, move identity.key away and import again with no node running\n`)
  })
})
