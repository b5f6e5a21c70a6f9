/**
 * Issue 15: revocable invites (p2pchat2, /p2p-chat/join/1.0.0) on real
 * nodes on 127.0.0.1: one use, expiry (the code's and the log's), a removal
 * revoking invites not used yet, a joiner after a rotation reading the new
 * epoch, and the whole path through the CLI.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startNodes, waitUntil } from './helpers.js'
import { cliJson, runCli, startCli } from './cli-helpers.js'
import { decodeTokenInvite, encodeTokenInvite } from '../src/groups/index.js'
import type { ChatNode } from '../src/index.js'

/** the error's `reason`, or a failure naming what happened */
async function refusal (p: Promise<unknown>): Promise<{ name: string, reason: string, message: string }> {
  try {
    await p
  } catch (err: unknown) {
    const e = err as { name: string, reason?: string, message: string }
    return { name: e.name, reason: e.reason ?? '', message: e.message }
  }
  assert.fail('the join was not refused')
}

async function reads (node: ChatNode, topic: string, text: string): Promise<void> {
  await waitUntil(`${node.peerId.slice(-4)} to read "${text}"`, async () => {
    await node.sync(topic).catch(() => undefined)
    return (await node.history(topic)).messages.some(m => m.text === text)
  }, 30_000)
}

test('a one-use invite admits one joiner; the second use is refused with a clear error; the joiner chats', async (t) => {
  const topic = 'inv-once'
  const [a, b, c] = await startNodes(t, 3)
  const created = await a.createGroup(topic, { membership: true })
  assert.match(created.invite, /^p2pchat2/)
  assert.equal(created.uses, 1)
  // no secret in it: the code decodes to a token, not the group secret
  const code = decodeTokenInvite(created.invite)
  assert.equal(code.token.byteLength, 32)
  assert.ok(!created.invite.includes(a.secret(topic)))
  const joined = await b.joinGroup({ invite: created.invite })
  assert.equal(joined.topicId, topic)
  await waitUntil('A and B to list B as a member', () => [a, b].every(x => x.membership(topic).members.some(m => m.peerId === b.peerId)))
  await a.send(topic, 'welcome B')
  await reads(b, topic, 'welcome B')
  await b.send(topic, 'thanks A')
  await reads(a, topic, 'thanks A')
  const second = await refusal(c.joinGroup({ invite: created.invite }))
  assert.equal(second.name, 'InviteRefusedError')
  assert.equal(second.reason, 'used')
  assert.match(second.message, /used already/)
  assert.equal(c.groups().length, 0, 'C holds nothing of the group')
  assert.ok(!a.membership(topic).members.some(m => m.peerId === c.peerId))
})

test('an expired invite is refused: by the joiner from the code, and by the member from the log when the code lies', async (t) => {
  const topic = 'inv-expiry'
  const [a, b] = await startNodes(t, 2)
  await a.createGroup(topic, { membership: true })
  const inv = await a.createInvite(topic, { ttlMs: 1000 })
  await new Promise(resolve => setTimeout(resolve, 1300))
  const early = await refusal(b.joinGroup({ invite: inv.invite }))
  assert.equal(early.reason, 'expired')
  assert.match(early.message, /expired/)
  // the same token with a later expiry written into the code: the log's expiry decides
  const forged = encodeTokenInvite({ ...decodeTokenInvite(inv.invite), expires: Date.now() + 3_600_000 })
  const late = await refusal(b.joinGroup({ invite: forged }))
  assert.equal(late.reason, 'expired')
  // a token the log never held
  const unknown = encodeTokenInvite({ ...decodeTokenInvite(inv.invite), token: new Uint8Array(32).fill(7), expires: Date.now() + 3_600_000 })
  const none = await refusal(b.joinGroup({ invite: unknown }))
  assert.equal(none.reason, 'unknown')
  assert.equal(b.groups().length, 0)
})

test('a removal revokes invites not used yet; a member who joins after the rotation reads and writes the new epoch', async (t) => {
  const topic = 'inv-revoke'
  const [a, b, c, d] = await startNodes(t, 4)
  const { invite } = await a.createGroup(topic, { membership: true })
  await b.joinGroup({ invite })
  await waitUntil('A to list B', () => a.membership(topic).members.length === 2)
  const held = await a.createInvite(topic, { uses: 5 })
  await a.removeMember(topic, b.peerId)
  await waitUntil('A on epoch 1', () => a.sealingEpoch(topic) === 1)
  await a.send(topic, 'epoch one, before C and D')
  const revoked = await refusal(c.joinGroup({ invite: held.invite }))
  assert.equal(revoked.reason, 'revoked')
  assert.match(revoked.message, /revoked/)
  // B, removed, with a fresh invite: only an admin's add takes it back
  const fresh = await a.createInvite(topic, { uses: 2 })
  const removed = await refusal(b.leaveGroup(topic).then(async () => b.joinGroup({ invite: fresh.invite })))
  assert.equal(removed.reason, 'removed')
  await d.joinGroup({ invite: fresh.invite })
  await reads(d, topic, 'epoch one, before C and D')
  assert.ok(d.sealingEpoch(topic) >= 1, 'D seals with the new epoch')
  await d.send(topic, 'hello from D')
  await reads(a, topic, 'hello from D')
  await waitUntil('A and D agree on the members', () => a.membership(topic).members.length === 2 && d.membership(topic).members.length === 2 && a.membership(topic).epoch === d.membership(topic).epoch)
})

test('CLI: create --managed, invite --uses 1 --expires 1h, join, the second join fails with one line and a non-zero exit', async (t) => {
  const [a, b, c] = await Promise.all([startCli(t, { name: 'ana' }), startCli(t, { name: 'bea' }), startCli(t, { name: 'cai' })])
  const created = await cliJson<{ invite: string, expires: number, uses: number }>(['create', 'inv-cli', '--managed', '--data-dir', a.dataDir])
  assert.match(created.invite, /^p2pchat2/)
  const human = await runCli(['invite', 'inv-cli', '--uses', '1', '--expires', '1h', '--data-dir', a.dataDir])
  assert.equal(human.code, 0, human.stderr)
  const [code, terms] = human.stdout.trim().split('\n')
  assert.match(code, /^p2pchat2[A-Za-z0-9_-]+$/)
  assert.match(terms, /one use, expires in 1 h/)
  const joined = await runCli(['join', code, '--data-dir', b.dataDir])
  assert.equal(joined.code, 0, joined.stderr)
  assert.match(joined.stdout, /joined inv-cli/)
  const again = await runCli(['join', code, '--data-dir', c.dataDir])
  assert.notEqual(again.code, 0)
  assert.match(again.stderr, /used already/)
  assert.equal(again.stderr.trim().split('\n').length, 1, `one line: ${again.stderr}`)
  const members = await cliJson<Array<{ peerId: string, role?: string, name: string }>>(['members', 'inv-cli', '--data-dir', a.dataDir])
  assert.ok(members.some(m => m.peerId === b.peerId && m.role === 'member'), JSON.stringify(members))
  await cliJson(['send', 'inv-cli', 'hello bea', '--data-dir', a.dataDir])
  await waitUntil('B to read it', async () => (await cliJson<{ messages: Array<{ text: string }> }>(['history', 'inv-cli', '--data-dir', b.dataDir])).messages.some(m => m.text === 'hello bea'), 30_000)
  // bad input: a duration that is none, uses out of range, a legacy group's invite still the secret one
  const badExpiry = await runCli(['invite', 'inv-cli', '--expires', 'soon', '--data-dir', a.dataDir])
  assert.notEqual(badExpiry.code, 0)
  assert.match(badExpiry.stderr, /--expires must be a duration/)
  const tooLong = await runCli(['invite', 'inv-cli', '--expires', '90d', '--data-dir', a.dataDir])
  assert.notEqual(tooLong.code, 0)
  assert.match(tooLong.stderr, /30 days/)
  const notAdmin = await runCli(['invite', 'inv-cli', '--data-dir', b.dataDir])
  assert.notEqual(notAdmin.code, 0)
  assert.match(notAdmin.stderr, /only an admin/)
  const legacy = await runCli(['invite', 'inv-cli', '--legacy-secret', '--data-dir', a.dataDir])
  assert.equal(legacy.code, 0, legacy.stderr)
  assert.match(legacy.stdout, /^p2pchat1/)
})

test('a node that joined with the secret\'s invite and was added in epoch 1 asks a member for the keys and reads the new epochs', async (t) => {
  const topic = 'inv-legacy-late'
  const [a, b, c] = await startNodes(t, 3)
  const { invite } = await a.createGroup(topic, { membership: true })
  await b.joinGroup({ invite })
  await waitUntil('A to list B', () => a.membership(topic).members.length === 2)
  await a.removeMember(topic, b.peerId)
  await waitUntil('A on epoch 1', () => a.sealingEpoch(topic) === 1)
  await a.send(topic, 'sealed in epoch one')
  // C holds epoch 0's secret only; it publishes its key, A adds it: the add and the next rotate are sealed with epochs C never had
  await c.joinGroup({ invite: a.invite(topic) })
  await waitUntil('C\'s key to reach A', async () => {
    await a.sync(topic).catch(() => undefined)
    return (a as unknown as { parts: () => { membership: { state: (g: unknown) => { keys: Map<string, string> } }, registry: { require: (t: string) => unknown } } }).parts().membership.state((a as unknown as { parts: () => { registry: { require: (t: string) => unknown } } }).parts().registry.require(topic)).keys.size >= 3
  })
  await a.addMember(topic, c.peerId)
  await waitUntil('A on epoch 2 (C has a box)', () => a.sealingEpoch(topic) === 2)
  await a.send(topic, 'sealed in epoch two')
  await reads(c, topic, 'sealed in epoch two')
  await reads(c, topic, 'sealed in epoch one')
  await waitUntil('C to seal with epoch 2', () => c.sealingEpoch(topic) === 2)
  await c.send(topic, 'C in epoch two')
  await reads(a, topic, 'C in epoch two')
  // B, removed, asks the same way and gets nothing
  const bKeys = b.sealingEpoch(topic)
  assert.ok(bKeys <= 1)
})
