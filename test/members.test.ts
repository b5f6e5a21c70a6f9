import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { cliJson, runCli, startCli } from './cli-helpers.js'
import { meshGroup, startNodes, waitUntil } from './helpers.js'
import type { GroupMember } from '../src/index.js'

describe('members of a group', () => {
  it('lists who is on the topic and who wrote lately, with names, presence and connection; two members with one name differ by peer id', async (t) => {
    const [a, b, c] = await startNodes(t, 3)
    await a.setName('sam')
    await b.setName('sam')
    const { invite } = await a.createGroup('crew')
    await b.joinGroup({ invite })
    await c.joinGroup({ invite })
    await meshGroup([a, b, c], 'crew')
    await b.send('crew', 'hi from the other sam')
    await waitUntil('a to hold b\'s message', async () => (await a.history('crew')).messages.length === 1)
    const members = await a.members('crew')
    const self = members.find(m => m.self)
    assert.equal(self?.peerId, a.peerId)
    assert.equal(self.name, 'sam')
    const other = members.find(m => m.peerId === b.peerId)
    assert.deepEqual({ name: other?.name, online: other?.online, connection: other?.connection }, { name: 'sam', online: true, connection: 'direct' })
    assert.ok(other?.lastSeen != null)
    assert.ok(members.some(m => m.peerId === c.peerId && m.online && m.name === ''), 'c is on the topic, has written nothing')
    // b stops: still a member (it wrote lately), now offline
    const bId = b.peerId
    await b.stop()
    await waitUntil('a to see b gone', async () => (await a.members('crew')).find(m => m.peerId === bId)?.online === false)
    const gone = (await a.members('crew')).find(m => m.peerId === bId)
    assert.equal(gone?.connection, 'none')
    assert.equal(gone.name, 'sam')
  })

  it('`p2p-chat members` prints them, --json too; an unknown group is one clear line', async (t) => {
    const a = await startCli(t, { name: 'alice' })
    const b = await startCli(t, { name: 'bob' })
    const created = await cliJson<{ invite: string }>(['create', 'crew', '--data-dir', a.dataDir])
    await cliJson(['join', created.invite, '--data-dir', b.dataDir])
    await cliJson(['send', 'crew', 'hello', '--data-dir', b.dataDir])
    await waitUntil('a to list bob as a member', async () => (await cliJson<GroupMember[]>(['members', 'crew', '--data-dir', a.dataDir])).some(m => m.name === 'bob' && m.online))
    const human = await runCli(['members', 'crew', '--data-dir', a.dataDir])
    assert.equal(human.code, 0)
    assert.match(human.stdout, new RegExp(`^alice~${a.peerId.slice(-4)} +you `, 'm'))
    assert.match(human.stdout, new RegExp(`^bob~${b.peerId.slice(-4)} +online \\(direct\\) +${b.peerId}  last message `, 'm'))
    const unknown = await runCli(['members', 'nope', '--data-dir', a.dataDir])
    assert.equal(unknown.code, 1)
    assert.equal(unknown.stderr.split('\n').length, 2, unknown.stderr)
  })
})
