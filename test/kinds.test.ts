/**
 * Issue 18 item 1 (and its part of item 5): replies, reactions, edits and
 * deletes end to end, on real nodes: the same final view everywhere, also
 * when the reaction, edit or delete reaches a node before its message
 * (crafted gossip order, and sync after a partition); edits and deletes by
 * another member rejected everywhere; backup and restore; the CLI; a kind of
 * a later version shown as "unsupported message".
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { meshGroup, startNode, startNodes, tempDir, waitUntil } from './helpers.js'
import { cliJson, runCli, startCli } from './cli-helpers.js'
import { craft, startHostile } from './hostile.js'
import { launch, openApp, screenshot, webNode } from './web-helpers.js'
import { ApiClient } from '../src/api/index.js'
import { exportBackup, importBackup } from '../src/backup/index.js'
import { Body, deriveGroupKeys, ed25519Signer, peek } from '../src/envelope/index.js'
import { foldView } from '../src/chat/index.js'
import { runInteractive } from '../src/cli/interactive.js'
import { MessageNotFoundError, NotYourMessageError, InvalidInputError } from '../src/errors.js'
import type { ChatMessage, ViewMessage } from '../src/chat/index.js'
import type { ChatNode, MessageUpdate } from '../src/node.js'
import type { GroupKeys } from '../src/envelope/index.js'
import type { Hostile } from './hostile.js'
import type { TestContext } from 'node:test'

/** What every member must agree on (not `own`, `mine`: those are each node's own) */
function shape (m: ViewMessage): unknown {
  return {
    id: m.id,
    author: m.author,
    kind: m.kind,
    text: m.text,
    edited: m.edited,
    versions: m.versions.map(v => [v.id, v.text]),
    deleted: m.deleted,
    reactions: m.reactions.map(r => [r.emoji, r.count, r.by]),
    quote: m.quote == null ? undefined : [m.quote.id, m.quote.text ?? null, m.quote.deleted === true]
  }
}

async function viewOf (node: ChatNode, topicId: string): Promise<unknown[]> {
  return (await node.view(topicId, { limit: 1000 })).messages.map(shape)
}

/** The view as a set: a node that never held a deleted message places its tombstone just before its author's next message */
async function viewSet (node: ChatNode, topicId: string): Promise<unknown[]> {
  return (await viewOf(node, topicId)).sort((a, b) => ((a as { id: string }).id < (b as { id: string }).id ? -1 : 1))
}

async function raw (node: ChatNode, topicId: string): Promise<ChatMessage[]> {
  return (await node.history(topicId, { limit: 1000 })).messages
}

function keysOf (node: ChatNode, topicId: string): GroupKeys {
  return deriveGroupKeys(topicId, Buffer.from(node.secret(topicId), 'hex'))
}

/** Every stored sealed envelope of a group, by message id */
async function sealedOf (node: ChatNode, topicId: string): Promise<Map<string, Uint8Array>> {
  const host = node.backupHost()
  const group = host.groups().find(g => g.topicId === topicId)
  assert.ok(group != null)
  const out = new Map<string, Uint8Array>()
  for await (const bytes of host.records(group)) {
    const p = peek(group.keys, bytes)
    assert.ok(p.ok)
    out.set(Buffer.from(p.message.id).toString('hex'), bytes)
  }
  return out
}

/** A Body of any kind, encoded (craft's `plain`) */
function body (f: Partial<Body>): Uint8Array {
  return Body.encode({ text: '', name: 'mallory', replyTo: new Uint8Array(0), target: new Uint8Array(0), emoji: '', remove: false, mentions: [], ...f })
}

async function hostileOn (t: TestContext, keys: GroupKeys, nodes: ChatNode[]): Promise<Hostile> {
  const m = await startHostile(t, keys)
  for (const n of nodes) await m.dial(n.addresses[0])
  await waitUntil('the hostile member to be on the topic', () => nodes.every(n => n.isGroupPeer(m.peerId)) && m.node.services.pubsub.getSubscribers(keys.wireTopic).length >= nodes.length)
  return m
}

describe('message kinds: replies, reactions, edits, deletes (issue 18)', () => {
  it('reply, react, edit, delete across three nodes: every node shows the same final state; refused locally where not allowed', async (t) => {
    const [a, b, c] = await startNodes(t, 3)
    const { invite } = await a.createGroup('kinds')
    await b.joinGroup({ invite })
    await c.joinGroup({ invite })
    await meshGroup([a, b, c], 'kinds')
    const updates: MessageUpdate[] = []
    c.on('updated', u => updates.push(u))
    const shownAtC: ChatMessage[] = []
    c.on('message', m => shownAtC.push(m))

    const hello = await a.send('kinds', 'hello all')
    const secret = await a.send('kinds', 'my secret, oops')
    await waitUntil('b and c to hold both', async () => (await raw(b, 'kinds')).length === 2 && (await raw(c, 'kinds')).length === 2)
    // an id prefix is enough
    const reply = await b.reply('kinds', hello.id.slice(0, 10), 'hi a')
    assert.equal(reply.replyTo, hello.id)
    await c.react('kinds', hello.id, '👍')
    await b.react('kinds', hello.id, '👍')
    await b.react('kinds', hello.id, '🎉')
    await b.react('kinds', hello.id, '🎉', { remove: true })
    await a.edit('kinds', hello.id, 'hello everyone')
    await a.deleteMessage('kinds', secret.id)

    await waitUntil('the three views to agree', async () => {
      const [va, vb, vc] = await Promise.all([viewOf(a, 'kinds'), viewOf(b, 'kinds'), viewOf(c, 'kinds')])
      return va.length === 3 && isDeepStrictEqual(va, vb) && isDeepStrictEqual(va, vc) && (va[2] as { text: string, reactions: unknown[] }).text === 'hello everyone' && (va[2] as { reactions: unknown[] }).reactions.length === 1
    })
    const view = (await a.view('kinds', { limit: 10 })).messages
    assert.deepEqual(view.map(m => m.id), [reply.id, secret.id, hello.id], 'newest first')
    const [r, s, h] = view
    assert.equal(h.text, 'hello everyone')
    assert.equal(h.edited, true)
    assert.deepEqual(h.versions.map(v => v.text), ['hello all'])
    assert.deepEqual(h.reactions.map(x => [x.emoji, x.count, [...x.by].sort()]), [['👍', 2, [b.peerId, c.peerId].sort()]])
    assert.equal(s.deleted, true)
    assert.equal(s.text, '')
    assert.deepEqual(r.quote, { id: hello.id, author: a.peerId, name: h.name, kind: 'text', text: 'hello everyone' })
    // the deleted text is gone from every store: no record of it, no text of it, in raw history anywhere
    for (const n of [a, b, c]) {
      await waitUntil('the original to be dropped', async () => !(await raw(n, 'kinds')).some(m => m.id === secret.id))
      assert.ok(!(await raw(n, 'kinds')).some(m => m.text.includes('secret')))
      assert.ok(!(await sealedOf(n, 'kinds')).has(secret.id))
    }
    // live: c was told each change of hello's view, the last with the edit and both reactions
    await waitUntil('c to be told the edit', () => updates.some(u => u.id === hello.id && u.message.edited))
    await waitUntil('c to be told the delete', () => updates.some(u => u.id === secret.id && u.message.deleted))
    assert.equal(c.listenerCount('updated'), 1)
    assert.ok(shownAtC.some(m => m.kind === 'reaction' && m.target === hello.id))

    // refused locally: another member's message, a deleted one, an act as target, bad ids
    await assert.rejects(b.edit('kinds', hello.id, 'mine now'), NotYourMessageError)
    await assert.rejects(b.deleteMessage('kinds', hello.id), (err: Error) => err instanceof NotYourMessageError && /only its author can delete it .*issue 15/.test(err.message))
    await assert.rejects(a.edit('kinds', secret.id, 'back'), MessageNotFoundError)
    await assert.rejects(c.react('kinds', secret.id, '👍'), MessageNotFoundError)
    await assert.rejects(a.react('kinds', reply.id, 'two words'), InvalidInputError)
    await assert.rejects(a.react('kinds', hello.id.slice(0, 6), '👍'), InvalidInputError)
    await assert.rejects(a.react('kinds', 'ffffffffffff', '👍'), MessageNotFoundError)
    const reaction = (await raw(a, 'kinds')).find(m => m.kind === 'reaction')
    assert.ok(reaction != null)
    await assert.rejects(a.edit('kinds', reaction.id, 'x'), InvalidInputError)
    // one message as the view shows it
    assert.deepEqual(shape((await a.viewMessage('kinds', hello.id)) as ViewMessage), shape(h))
  })

  it('an edit or delete of another member\'s message (validly signed) is rejected everywhere', async (t) => {
    const [a, b, c] = await startNodes(t, 3)
    const { invite } = await a.createGroup('forge')
    await b.joinGroup({ invite })
    await c.joinGroup({ invite })
    await meshGroup([a, b, c], 'forge')
    const original = await a.send('forge', 'the true text')
    await waitUntil('all to hold it', async () => (await raw(b, 'forge')).length === 1 && (await raw(c, 'forge')).length === 1)
    const keys = keysOf(a, 'forge')
    const m = await hostileOn(t, keys, [a, b, c])
    const mallory = ed25519Signer(randomBytes(32))
    const target = Buffer.from(original.id, 'hex')
    const now = BigInt(Date.now())
    const lamport = BigInt(original.lamport + 10)
    const edit = craft(keys, mallory, { seq: 1n, lamport, timestamp: now, kind: 3, plain: body({ text: 'forged text', target }) })
    const editId = peek(keys, edit)
    assert.ok(editId.ok)
    const del = craft(keys, mallory, { seq: 2n, lamport: lamport + 1n, timestamp: now, kind: 4, prev: editId.message.id, plain: body({ target }) })
    await m.node.services.pubsub.publish(keys.wireTopic, edit)
    await m.node.services.pubsub.publish(keys.wireTopic, del)
    for (const n of [a, b, c]) {
      await waitUntil('the forgeries to be stored (they are valid messages)', async () => (await raw(n, 'forge')).length === 3)
      const v = await n.view('forge')
      assert.equal(v.messages.length, 1)
      assert.equal(v.messages[0].text, 'the true text')
      assert.equal(v.messages[0].edited, false)
      assert.equal(v.messages[0].deleted, false)
      assert.equal(v.rejected, 2, 'the edit and the delete are refused')
      // and the original stays in the store
      assert.ok((await sealedOf(n, 'forge')).has(original.id))
    }
  })

  it('a forged delete and a successor naming another member\'s message cannot keep that message out', async (t) => {
    const [a, c] = await startNodes(t, 2)
    await a.createGroup('suppress')
    await c.joinGroup({ topicId: 'suppress', secret: a.secret('suppress') })
    const target = await a.send('suppress', 'you will not silence me')
    const keys = keysOf(a, 'suppress')
    const m = await hostileOn(t, keys, [c])
    const mallory = ed25519Signer(randomBytes(32))
    const now = BigInt(Date.now())
    const first = craft(keys, mallory, { seq: 1n, lamport: 1n, timestamp: now, text: 'hi' })
    const firstId = peek(keys, first)
    assert.ok(firstId.ok)
    const del = craft(keys, mallory, { seq: 2n, lamport: 5n, timestamp: now, kind: 4, prev: firstId.message.id, plain: body({ target: Buffer.from(target.id, 'hex') }) })
    // seq 4 whose prev is a's message: "that was my seq 3, and I deleted it"
    const successor = craft(keys, mallory, { seq: 4n, lamport: 6n, timestamp: now, text: 'nothing to see', prev: Buffer.from(target.id, 'hex') })
    for (const bytes of [first, del, successor]) await m.node.services.pubsub.publish(keys.wireTopic, bytes)
    await waitUntil('c to store the three', async () => (await raw(c, 'suppress')).length === 3)
    // the forgery worked this far: c took a's message as mallory's, deleted
    await waitUntil('c to hold a tombstone for it', async () => (await c.view('suppress')).messages.some(x => x.id === target.id && x.deleted))
    const sealed = (await sealedOf(a, 'suppress')).get(target.id)
    assert.ok(sealed != null)
    await m.node.services.pubsub.publish(keys.wireTopic, sealed)
    await waitUntil('c to store the real message', async () => (await raw(c, 'suppress')).some(x => x.id === target.id))
    const shown = (await c.view('suppress')).messages.find(x => x.id === target.id)
    assert.equal(shown?.text, 'you will not silence me')
    assert.equal(shown.deleted, false)
  })

  it('reactions, edits and deletes that reach a node before their message (crafted gossip order) end in the same view', async (t) => {
    const [a, b, c] = await startNodes(t, 3)
    const { invite } = await a.createGroup('order')
    await b.joinGroup({ invite })
    await meshGroup([a, b], 'order')
    // c is in the group but reaches no one: only what the hostile relay gives it, in its order
    await c.joinGroup({ topicId: 'order', secret: a.secret('order') })
    // c has seen both members write before (as any member that was there)
    const earlier = [await a.send('order', 'a was here'), await b.send('order', 'b was here')]
    const original = await a.send('order', 'the original')
    const doomed = await a.send('order', 'to be deleted')
    await waitUntil('b to hold all four', async () => (await raw(b, 'order')).length === 4)
    const doomedBytes = (await sealedOf(a, 'order')).get(doomed.id)
    assert.ok(doomedBytes != null)
    const reaction = await b.react('order', original.id, '❤️')
    const edit = await a.edit('order', original.id, 'the original, edited')
    const reply = await b.reply('order', original.id, 'a reply')
    const del = await a.deleteMessage('order', doomed.id)
    await waitUntil('b to show the final state', async () => isDeepStrictEqual(await viewOf(b, 'order'), await viewOf(a, 'order')) && (await b.view('order')).messages.some(x => x.deleted))
    const sealed = new Map([...await sealedOf(a, 'order'), ...await sealedOf(b, 'order'), [doomed.id, doomedBytes]])

    const m = await hostileOn(t, keysOf(a, 'order'), [c])
    const shown: ChatMessage[] = []
    c.on('message', x => shown.push(x))
    const updates: MessageUpdate[] = []
    c.on('updated', u => updates.push(u))
    const rejected: string[] = []
    c.on('rejected', r => rejected.push(r.reason))
    const relay = async (ids: string[]): Promise<void> => {
      for (const id of ids) {
        const bytes = sealed.get(id)
        assert.ok(bytes != null, id)
        await m.node.services.pubsub.publish(keysOf(a, 'order').wireTopic, bytes)
      }
      await waitUntil(`c to store ${ids.length} relayed`, async () => {
        const held = new Set((await raw(c, 'order')).map(x => x.id))
        return ids.every(id => held.has(id) || id === doomed.id)
      }).catch(async (err: unknown) => {
        throw new Error(`${String(err)}: c holds ${JSON.stringify((await raw(c, 'order')).map(x => [x.kind, x.id.slice(0, 8)]))}, relayed ${JSON.stringify(ids.map(x => x.slice(0, 8)))}, rejected ${JSON.stringify(rejected)}`)
      })
    }
    await relay(earlier.map(x => x.id))
    // every act first, then the messages they act on
    await relay([del.id, edit.id, reaction.id])
    await relay([reply.id])
    // the delete names the message, the edit's prev says it is a's seq 2: c takes it as held and dropped before it comes
    await waitUntil('c to show the tombstone', async () => (await c.view('order')).messages.some(x => x.id === doomed.id && x.deleted))
    const early = (await c.view('order')).messages
    assert.deepEqual(early.map(x => [x.id, x.deleted]).slice(0, 2), [[reply.id, false], [doomed.id, true]], 'the reply, and the tombstone just before a\'s next message')
    assert.deepEqual(early[0].quote, { id: original.id, missing: true })
    await relay([doomed.id, original.id])
    await waitUntil('c to show what a and b show', async () => isDeepStrictEqual(await viewOf(c, 'order'), await viewOf(a, 'order')))
    const final = (await c.view('order')).messages
    assert.equal(final.find(x => x.id === original.id)?.text, 'the original, edited')
    assert.equal(final.find(x => x.id === doomed.id)?.deleted, true)
    // the deleted message was never shown at c, and is not kept
    assert.ok(!shown.some(x => x.text === 'to be deleted'))
    await waitUntil('c to drop it', async () => !(await sealedOf(c, 'order')).has(doomed.id))
    // told live once the held acts applied
    await waitUntil('c to be told the original\'s view', () => updates.some(u => u.id === original.id && u.message.edited && u.message.reactions.length === 1))
  })

  it('after a partition, sync delivers reactions and edits by others before the message: the same view, and the deleted one is never fetched', async (t) => {
    const [a, b] = await startNodes(t, 2)
    const dirC = await tempDir(t)
    const c1 = await startNode(t, { dataDir: dirC })
    const { invite } = await a.createGroup('part')
    await b.joinGroup({ invite })
    await c1.joinGroup({ invite })
    await meshGroup([a, b, c1], 'part')
    await a.send('part', 'before the partition')
    await waitUntil('c to hold it', async () => (await raw(c1, 'part')).length === 1)
    await c1.stop()

    const original = await a.send('part', 'written while c was away')
    await waitUntil('b to hold it', async () => (await raw(b, 'part')).length === 2)
    await b.react('part', original.id, '❤️')
    const answer = await b.reply('part', original.id, 'b answers')
    await a.edit('part', original.id, 'written while c was away (edited)')
    const doomed = await a.send('part', 'gone before c is back')
    await waitUntil('b to hold it', async () => (await raw(b, 'part')).some(x => x.id === doomed.id))
    await a.deleteMessage('part', doomed.id)
    await b.edit('part', answer.id, 'b answers (edited)')
    await waitUntil('a and b to agree', async () => isDeepStrictEqual(await viewOf(a, 'part'), await viewOf(b, 'part')) && (await viewOf(b, 'part')).some(x => (x as { deleted: boolean }).deleted))

    const c = await startNode(t, { dataDir: dirC })
    await c.dial(a.addresses[0])
    await c.dial(b.addresses[0])
    await waitUntil('c to show what a and b show', async () => isDeepStrictEqual(await viewSet(c, 'part'), await viewSet(a, 'part')), 60_000)
    const atC = await c.view('part')
    assert.equal(atC.messages.find(x => x.id === doomed.id)?.deleted, true, 'a tombstone, though c never held it')
    assert.equal(atC.messages.find(x => x.id === original.id)?.text, 'written while c was away (edited)')
    assert.ok(!(await raw(c, 'part')).some(x => x.id === doomed.id || x.text.includes('gone before')))
    // its id and seq are held: sync asks for nothing more
    const again = await c.sync('part')
    assert.equal(again.received, 0)
    assert.equal(again.failed, 0)
  })

  it('backup and restore keep reactions, edits and deletes; an old backup with the deleted message is dropped on import', async (t) => {
    const [a, b] = await startNodes(t, 2)
    const { invite } = await a.createGroup('kept')
    await b.joinGroup({ invite })
    await meshGroup([a, b], 'kept')
    const original = await a.send('kept', 'keep me')
    const doomed = await a.send('kept', 'delete me')
    await waitUntil('b to hold both', async () => (await raw(b, 'kept')).length === 2)
    await b.react('kept', original.id, '👍')
    await b.reply('kept', original.id, 'kept too')
    await a.edit('kept', original.id, 'keep me (edited)')
    await waitUntil('a to hold b\'s', async () => (await raw(a, 'kept')).length === 5)
    const dir = await tempDir(t)
    const before = join(dir, 'before.backup')
    await exportBackup(a.backupHost(), before, { includeSecrets: true, passphrase: 'kinds' })
    await a.deleteMessage('kept', doomed.id)
    const after = join(dir, 'after.backup')
    const exported = await exportBackup(a.backupHost(), after, { includeSecrets: true, passphrase: 'kinds' })
    assert.equal(exported.records, 5, 'the deleted message is not in a backup made after the delete')

    const d = await startNode(t)
    await importBackup(d.backupHost(), after, { passphrase: 'kinds' })
    await waitUntil('d to show what a shows', async () => isDeepStrictEqual(await viewSet(d, 'kept'), await viewSet(a, 'kept')))
    assert.equal((await d.view('kept')).messages.find(x => x.id === doomed.id)?.deleted, true)

    const e = await startNode(t)
    await importBackup(e.backupHost(), before, { passphrase: 'kinds' })
    assert.equal((await e.view('kept')).messages.find(x => x.id === doomed.id)?.text, 'delete me')
    await importBackup(e.backupHost(), after, { passphrase: 'kinds' })
    await waitUntil('e to drop the deleted message', async () => !(await raw(e, 'kept')).some(x => x.id === doomed.id))
    assert.ok(isDeepStrictEqual(await viewOf(e, 'kept'), await viewOf(a, 'kept')), 'e held it: the tombstone in its own place')
  })

  it('terminal: /history numbers the messages; /reply, /react, /unreact, /edit, /delete take a number or an id prefix', async (t) => {
    const [a, b] = await startNodes(t, 2)
    const { invite } = await a.createGroup('term')
    await b.joinGroup({ invite })
    await meshGroup([a, b], 'term')
    const hello = await a.send('term', 'hello from a')
    const mine = await b.send('term', 'b says hi')
    await waitUntil('b to hold both', async () => (await raw(b, 'term')).length === 2)
    const input = new PassThrough()
    const output = Object.assign(new PassThrough(), { isTTY: false, columns: 160 })
    let screen = ''
    output.setEncoding('utf8').on('data', (d: string) => { screen += d })
    const done = runInteractive(b, { input, output })
    const see = async (what: string | RegExp): Promise<void> => {
      await waitUntil(`the terminal to show ${String(what)}`, () => typeof what === 'string' ? screen.includes(what) : what.test(screen))
        .catch((err: unknown) => { throw new Error(`${String(err)}; screen:\n${screen}`) })
    }
    const helloAt = async (): Promise<ViewMessage | undefined> => (await a.view('term')).messages.find(x => x.id === hello.id)
    await see('/help lists commands')
    input.write('/history\n')
    await see(/\[1\] \S+ <\S+~\w{4}> hello from a\n/)
    await see(/\[2\] \S+ <\S+ \(you\)> b says hi\n/)
    input.write('/react 1 👍\n')
    await waitUntil('a to count the reaction', async () => (await helloAt())?.reactions[0]?.count === 1)
    input.write('/reply 1 hi back\n')
    await waitUntil('a to show the reply', async () => (await a.view('term')).messages.some(x => x.quote?.id === hello.id && x.text === 'hi back'))
    input.write('/edit 2 b says hello\n')
    await waitUntil('a to show the edit', async () => (await a.view('term')).messages.some(x => x.id === mine.id && x.edited && x.text === 'b says hello'))
    input.write('/edit 1 not mine\n')
    await see(/! message [0-9a-f]{12} was written by \S+: only its author can edit it/)
    input.write(`/unreact ${hello.id.slice(0, 8)} 👍\n`)
    await waitUntil('a to count none', async () => (await helloAt())?.reactions.length === 0)
    input.write('/delete 2\n')
    await see('deleted [2]: members see a tombstone instead')
    await waitUntil('a to show the tombstone', async () => (await a.view('term')).messages.some(x => x.id === mine.id && x.deleted))
    input.write('/react 99 👍\n')
    await see('no message [99] shown yet')
    const mark = screen.length
    input.write('/history\n')
    await waitUntil('the history again', () => /\(message deleted\)[\s\S]*\(reply to \S+~\w{4}: "hello from a"\) hi back/.test(screen.slice(mark)))
    input.write('/quit\n')
    await done
  })

  it('web page: reply, react, edit and delete buttons; edited, tombstones and reactions shown, live', async (t) => {
    const [a, b] = await Promise.all([webNode(t, { name: 'alice' }), webNode(t, { name: 'bob' })])
    const { invite } = await a.node.createGroup('page')
    await b.node.joinGroup({ invite })
    await meshGroup([a.node, b.node], 'page')
    const hello = await a.node.send('page', 'hello from alice')
    const doomed = await a.node.send('page', 'alice takes this back')
    await waitUntil('b to hold both', async () => (await raw(b.node, 'page')).length === 2)
    const browser = await launch(t)
    const { page, errors } = await openApp(t, browser, b, 'kinds-bob')
    await page.getByRole('button', { name: /^page/ }).click()
    const row = (text: string) => page.locator('li.msg', { hasText: text })
    await row('hello from alice').waitFor()

    // react from the page: a chip, counted at alice too
    await row('hello from alice').getByRole('button', { name: 'React' }).click()
    await row('hello from alice').getByRole('button', { name: 'React with 👍' }).click()
    await row('hello from alice').getByRole('button', { name: /👍 1/ }).waitFor()
    await waitUntil('alice to count it', async () => (await a.node.view('page')).messages.find(x => x.id === hello.id)?.reactions[0]?.count === 1)
    // reply from the page: the composer says to what, the reply quotes it
    await row('hello from alice').getByRole('button', { name: 'Reply' }).click()
    await page.getByText('Replying to').waitFor()
    await page.getByLabel('Message', { exact: true }).fill('hi alice')
    await page.getByLabel('Message', { exact: true }).press('Enter')
    await row('hi alice').locator('.quote', { hasText: 'hello from alice' }).waitFor()
    await waitUntil('alice to see the reply', async () => (await a.node.view('page')).messages.some(x => x.text === 'hi alice' && x.quote?.id === hello.id))
    // alice edits and deletes: the page follows live
    await a.node.edit('page', hello.id, 'hello from alice, edited')
    await a.node.deleteMessage('page', doomed.id)
    await row('hello from alice, edited').locator('.edited').waitFor()
    await page.locator('li.msg', { hasText: 'Message deleted' }).waitFor()
    assert.equal(await row('alice takes this back').count(), 0)
    // bob edits and deletes his own from the page (the browser's prompt and confirm)
    page.on('dialog', d => { void (d.type() === 'prompt' ? d.accept('hi alice (edited)') : d.accept()) })
    await row('hi alice').getByRole('button', { name: 'Edit' }).click()
    await row('hi alice (edited)').locator('.edited').waitFor()
    assert.equal(await page.locator(`li.msg[data-id="${hello.id}"]`).getByRole('button', { name: 'Edit' }).count(), 0, 'no Edit on another member\'s message')
    await screenshot(page, 'kinds-page')
    await row('hi alice (edited)').getByRole('button', { name: 'Delete' }).click()
    await waitUntil('two tombstones', async () => (await page.locator('li.msg', { hasText: 'Message deleted' }).count()) === 2)
    await waitUntil('alice to show it deleted', async () => (await a.node.view('page')).messages.filter(x => x.deleted).length === 2)
    assert.deepEqual(errors, [])
  })

  it('the fold is pure: any order of the same messages gives the same view', () => {
    const base = { topicId: 't', name: 'x', own: false, version: 2, kindNumber: 1, timestamp: 1 }
    const msg = (id: string, lamport: number, author: string, f: Partial<ChatMessage>): ChatMessage => ({ ...base, id, lamport, seq: lamport, author, text: '', kind: 'text', cursor: lamport.toString(16).padStart(16, '0') + id, ...f })
    const all = [
      msg('01', 1, 'A', { text: 'one' }),
      msg('02', 2, 'B', { kind: 'reaction', kindNumber: 2, target: '01', emoji: '👍' }),
      msg('03', 3, 'A', { kind: 'edit', kindNumber: 3, target: '01', text: 'one!' }),
      msg('04', 4, 'B', { kind: 'edit', kindNumber: 3, target: '01', text: 'B was here' }),
      msg('05', 5, 'B', { kind: 'reaction', kindNumber: 2, target: '01', emoji: '👍', remove: true }),
      msg('06', 6, 'C', { kind: 'reaction', kindNumber: 2, target: '01', emoji: '👍' }),
      msg('07', 7, 'B', { text: 'two', replyTo: '01' }),
      msg('08', 8, 'B', { kind: 'delete', kindNumber: 4, target: '07' }),
      msg('00', 0, 'C', { kind: 'reaction', kindNumber: 2, target: '01', emoji: '🐢' }),
      msg('09', 9, 'C', { kind: 'reaction', kindNumber: 2, target: 'ff', emoji: '❓' })
    ]
    const first = foldView(all)
    for (let i = 0; i < 20; i++) {
      const shuffled = [...all].sort(() => Math.random() - 0.5)
      assert.deepEqual(foldView(shuffled), first)
    }
    assert.deepEqual(first.messages.map(m => [m.id, m.text, m.edited, m.deleted, m.reactions.map(r => [r.emoji, r.by])]), [
      ['01', 'one!', true, false, [['👍', ['C']]]],
      ['07', '', false, true, []]
    ])
    assert.deepEqual(first.rejected.map(r => [r.id, r.reason]), [['00', 'before its target'], ['04', 'not the author']])
    assert.deepEqual(first.waiting.map(m => m.id), ['09'])
    assert.deepEqual(first.droppable, ['07'])
  })

  it('CLI: reply, react, edit, delete, history (folded and --raw) with --json; errors in one line; a kind of a later version is "unsupported message"', async (t) => {
    const [alice, bob] = await Promise.all([startCli(t, { name: 'alice' }), startCli(t, { name: 'bob' })])
    const { invite } = await cliJson(['create', 'cli-kinds', '--data-dir', alice.dataDir])
    await cliJson(['join', invite, '--data-dir', bob.dataDir])
    await waitUntil('both to be on the topic', async () => (await new ApiClient(bob.dataDir).group('cli-kinds')).peers >= 1)
    const sent = await cliJson(['send', 'cli-kinds', 'hello bob', '--data-dir', alice.dataDir])
    const gone = await cliJson(['send', 'cli-kinds', 'this goes away', '--data-dir', alice.dataDir])
    await waitUntil('bob to hold them', async () => (await cliJson(['history', 'cli-kinds', '--data-dir', bob.dataDir])).messages.length === 2)
    const prefix = sent.id.slice(0, 8)

    const reply = await cliJson(['reply', 'cli-kinds', prefix, 'hi alice', '--data-dir', bob.dataDir])
    assert.equal(reply.kind, 'text')
    assert.equal(reply.replyTo, sent.id)
    const reacted = await cliJson(['react', 'cli-kinds', prefix, '👍', '--data-dir', bob.dataDir])
    assert.deepEqual([reacted.kind, reacted.emoji, reacted.target, reacted.remove], ['reaction', '👍', sent.id, false])
    await cliJson(['react', 'cli-kinds', prefix, '🎉', '--data-dir', bob.dataDir])
    const unreacted = await cliJson(['react', 'cli-kinds', prefix, '🎉', '--remove', '--data-dir', bob.dataDir])
    assert.equal(unreacted.remove, true)
    const edited = await cliJson(['edit', 'cli-kinds', prefix, '--data-dir', alice.dataDir], { input: 'hello bob, edited\n' })
    assert.deepEqual([edited.kind, edited.text, edited.target], ['edit', 'hello bob, edited', sent.id])
    const deleted = await cliJson(['delete', 'cli-kinds', gone.id, '--data-dir', alice.dataDir])
    assert.deepEqual([deleted.kind, deleted.target], ['delete', gone.id])

    // the other's message: refused, one line, exit 1
    const notMine = await runCli(['edit', 'cli-kinds', prefix, 'mine', '--data-dir', bob.dataDir])
    assert.equal(notMine.code, 1)
    assert.match(notMine.stderr, /^p2p-chat: message [0-9a-f]{12} was written by alice~\w{4}: only its author can edit it/)
    assert.equal(notMine.stderr.trim().split('\n').length, 1)
    assert.equal((await runCli(['delete', 'cli-kinds', prefix, '--data-dir', bob.dataDir])).code, 1)
    const short = await runCli(['react', 'cli-kinds', 'abc', '👍', '--data-dir', bob.dataDir])
    assert.equal(short.code, 1)
    assert.match(short.stderr, /first 8 or more hex characters/)

    await waitUntil('bob to see the final state', async () => {
      const v = await cliJson(['history', 'cli-kinds', '--data-dir', bob.dataDir])
      return v.messages.length === 3 && v.messages.some((m: ViewMessage) => m.deleted) && v.messages.some((m: ViewMessage) => m.edited)
    })
    const folded = await cliJson(['history', 'cli-kinds', '--data-dir', bob.dataDir])
    const hello = folded.messages.find((m: ViewMessage) => m.id === sent.id)
    assert.equal(hello.text, 'hello bob, edited')
    assert.deepEqual(hello.reactions.map((r: { emoji: string, count: number }) => [r.emoji, r.count]), [['👍', 1]])
    assert.equal(hello.reactions[0].mine, true)
    const human = await runCli(['history', 'cli-kinds', '--data-dir', bob.dataDir])
    assert.equal(human.code, 0)
    assert.match(human.stdout, new RegExp(`#${prefix} \\S+ <alice~\\w{4}> hello bob, edited \\(edited\\) {2}\\[👍 1 \\(you\\)\\]`))
    assert.match(human.stdout, /<alice~\w{4}> \(message deleted\)/)
    assert.match(human.stdout, /<bob \(you\)> \(reply to alice~\w{4}: "hello bob, edited"\) hi alice/)
    assert.doesNotMatch(human.stdout, /this goes away/)
    await waitUntil('bob to drop the deleted message', async () => {
      const rawPage = await cliJson(['history', 'cli-kinds', '--raw', '--data-dir', bob.dataDir])
      return isDeepStrictEqual(rawPage.messages.map((m: ChatMessage) => m.kind).sort(), ['delete', 'edit', 'reaction', 'reaction', 'reaction', 'text', 'text'])
    })
    const rawHuman = await runCli(['history', 'cli-kinds', '--raw', '--data-dir', bob.dataDir])
    assert.match(rawHuman.stdout, /\(edit of #[0-9a-f]{8}\) hello bob, edited/)

    // a kind of a later version: kept, shown as such, never a failure
    const { secret } = await cliJson(['invite', 'cli-kinds', '--secret', '--data-dir', alice.dataDir])
    const keys = deriveGroupKeys('cli-kinds', Buffer.from(secret, 'hex'))
    const m = await startHostile(t, keys)
    await m.dial(alice.addresses[0])
    await waitUntil('the member to be on the topic', () => m.node.services.pubsub.getSubscribers(keys.wireTopic).length >= 1)
    const future = craft(keys, ed25519Signer(randomBytes(32)), { seq: 1n, lamport: 100n, timestamp: BigInt(Date.now()), kind: 77, text: 'a poll, say' })
    await m.node.services.pubsub.publish(keys.wireTopic, future)
    await waitUntil('alice to store it', async () => (await cliJson(['history', 'cli-kinds', '--raw', '--data-dir', alice.dataDir])).messages.some((x: ChatMessage) => x.kindNumber === 77))
    const withFuture = await runCli(['history', 'cli-kinds', '--data-dir', alice.dataDir])
    assert.equal(withFuture.code, 0)
    assert.match(withFuture.stdout, /\[unsupported message, kind 77\]/)
    const api = new ApiClient(alice.dataDir)
    const viewed = await api.request<{ messages: ViewMessage[] }>('GET', '/v1/groups/cli-kinds/view')
    const unsupported = viewed.messages.find(x => x.kindNumber === 77)
    assert.equal(unsupported?.kind, 'unsupported')
    // and one can react to it
    const onFuture = await api.request<ChatMessage>('POST', `/v1/groups/cli-kinds/messages/${unsupported.id}/reactions`, { emoji: '👀' })
    assert.equal(onFuture.target, unsupported.id)
    // the API's single-message view and its errors
    const one = await api.request<ViewMessage>('GET', `/v1/groups/cli-kinds/messages/${prefix}`)
    assert.equal(one.text, 'hello bob, edited')
    await assert.rejects(api.request('PATCH', `/v1/groups/cli-kinds/messages/${'0'.repeat(16)}`, { text: 'x' }), (err: Error & { code?: string }) => err.code === 'ERR_MESSAGE_NOT_FOUND')
    await assert.rejects(new ApiClient(bob.dataDir).request('DELETE', `/v1/groups/cli-kinds/messages/${prefix}`), (err: Error & { code?: string }) => err.code === 'ERR_NOT_YOUR_MESSAGE')
  })
})
