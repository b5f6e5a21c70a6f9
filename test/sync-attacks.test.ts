import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { Auth, AuthReply, Frame, Hello, MAX_INBOUND_PER_PEER, SYNC_PROTOCOL, proof, syncKey } from '../src/sync/index.js'
import { startNode } from './helpers.js'
import { holdAll, keysOf, rawNode, sendMany, syncOf, waitFor } from './sync-helpers.js'
import type { ChatNode } from '../src/index.js'
import type { BaseLibp2p } from '../src/libp2p.js'
import type { Stream } from '@libp2p/interface'
import type { TestContext } from 'node:test'

/**
 * Attacks on history sync by strangers and by a member (issue 14, items 5
 * and 6; docs/PROTOCOL.md "Who sync serves, and for how long"), each on
 * real nodes over 127.0.0.1, each shown to fail.
 */

/** A stranger: a plain libp2p node that answers the sync protocol by never saying anything. */
async function staller (t: TestContext, wireTopic?: string): Promise<BaseLibp2p> {
  const node = await rawNode(t)
  await node.handle(SYNC_PROTOCOL, async (stream: Stream) => {
    await new Promise(resolve => { stream.addEventListener('close', resolve) })
  })
  if (wireTopic != null) node.services.pubsub.subscribe(wireTopic)
  return node
}

/** How many peers `node` knows subscribed to the wire topic (also before it joined the group), at gossipsub's 'subscription-change'. */
async function seesSubscribers (node: ChatNode, wireTopic: string, n: number): Promise<void> {
  const pubsub = node.libp2pNode.services.pubsub
  await waitFor(`${n} subscribers of the topic`, [[pubsub, 'subscription-change']], () => pubsub.getSubscribers(wireTopic).length >= n)
}

/** ms from joining a group whose members are all connected already until the node holds `n` records. */
async function catchUp (node: ChatNode, topicId: string, secret: string, n: number): Promise<number> {
  const started = Date.now()
  await node.joinGroup({ topicId, secret })
  await holdAll(`${node.name} to catch up`, [node], topicId, n, 60_000)
  return Date.now() - started
}

describe('history sync under attack', () => {
  it('strangers holding sync streams open take no session slot: a member still syncs, the stallers are cut off', async (t) => {
    const HANDSHAKE_TIMEOUT = 10_000
    const victim = await startNode(t, { sync: { handshakeTimeout: HANDSHAKE_TIMEOUT, auto: false } })
    await victim.createGroup('slots')
    await sendMany(victim, 'slots', 20, 'v')
    const stalled: string[] = []
    syncOf(victim).on('penalized', p => { if (p.reason === 'stalled before proving membership') stalled.push(p.peer) })

    // 4 strangers × 4 streams = every one of the 16 inbound slots of old: a hello, then silence
    const strangers = await Promise.all(Array.from({ length: 4 }, async () => rawNode(t)))
    const streams: Stream[] = []
    for (const s of strangers) {
      await s.dial(multiaddr(victim.addresses[0]))
      for (let i = 0; i < MAX_INBOUND_PER_PEER; i++) {
        const stream = await s.dialProtocol(multiaddr(victim.addresses[0]), SYNC_PROTOCOL)
        const pb = pbStream(stream)
        await pb.write({ nonce: Uint8Array.from(randomBytes(32)) }, Hello)
        await pb.read(Hello) // the victim answered: it holds this handshake now
        streams.push(stream)
      }
    }
    const admission = (syncOf(victim) as unknown as { admission: { pendingHandshakes: number, inbound: number } }).admission
    assert.equal(admission.pendingHandshakes, 16)
    const heldSince = Date.now()

    // a member arrives and syncs while all 16 are held
    const member = await startNode(t, { sync: { auto: false } })
    await member.joinGroup({ topicId: 'slots', secret: victim.secret('slots') })
    await member.dial(victim.addresses[0])
    await seesSubscribers(member, keysOf(victim, 'slots').wireTopic, 1)
    const summary = await member.sync('slots')
    assert.deepEqual({ peers: summary.peers, received: summary.received, failed: summary.failed }, { peers: 1, received: 20, failed: 0 })
    assert.ok(Date.now() - heldSince < HANDSHAKE_TIMEOUT, 'the strangers still held their streams')
    assert.equal(admission.pendingHandshakes, 16)

    // the handshake deadline ends their streams, and cuts them off
    await waitFor('every staller cut off', [[syncOf(victim), 'penalized']], () => strangers.every(s => stalled.includes(s.peerId.toString())), HANDSHAKE_TIMEOUT + 10_000)
    await waitFor('their streams closed', streams.map(s => [s, 'close']), () => streams.every(s => s.status !== 'open'))
    assert.equal(admission.pendingHandshakes, 0)
    t.diagnostic(`16 stalled handshakes held: a member synced 20 of 20 meanwhile; stallers cut off after ${Date.now() - heldSince} ms`)
  })

  it('slow strangers subscribed to the group\'s topic do not slow a member\'s catch-up', async (t) => {
    const SYBILS = 12
    const MESSAGES = 300
    const honest = await startNode(t)
    await honest.createGroup('sybils')
    await sendMany(honest, 'sybils', MESSAGES, 'h')
    const secret = honest.secret('sybils')
    const { wireTopic } = keysOf(honest, 'sybils')

    // the figure to compare with: a newcomer that knows only the honest member
    const alone = await startNode(t)
    await alone.dial(honest.addresses[0])
    await seesSubscribers(alone, wireTopic, 1)
    const baseline = await catchUp(alone, 'sybils', secret, MESSAGES)

    // a newcomer that met the sybils first: they are ahead of the member in every list
    const newcomer = await startNode(t)
    const sybils = await Promise.all(Array.from({ length: SYBILS }, async () => staller(t, wireTopic)))
    for (const s of sybils) await s.dial(multiaddr(newcomer.addresses[0]))
    await seesSubscribers(newcomer, wireTopic, SYBILS)
    await newcomer.dial(honest.addresses[0])
    await seesSubscribers(newcomer, wireTopic, SYBILS + 1)
    const cutOff = new Set<string>()
    syncOf(newcomer).on('penalized', p => cutOff.add(p.peer))
    const attacked = await catchUp(newcomer, 'sybils', secret, MESSAGES)
    t.diagnostic(`catch-up of ${MESSAGES} messages: ${baseline} ms alone, ${attacked} ms with ${SYBILS} stalling subscribers ahead of the member`)
    assert.ok(attacked <= 2 * baseline + 1_000, `${attacked} ms against ${baseline} ms`)

    // and each of them is cut off once its handshake deadline passes
    await waitFor('every sybil cut off', [[syncOf(newcomer), 'penalized']], () => sybils.every(s => cutOff.has(s.peerId.toString())), 30_000)
    assert.equal(cutOff.has(honest.libp2pNode.peerId.toString()), false)
  })

  it('a member claiming far more than it holds and answering slowly does not stop the others from serving the range', async (t) => {
    const MESSAGES = 300
    const READ_TIMEOUT = 30_000
    const honest = await startNode(t)
    await honest.createGroup('liar')
    await sendMany(honest, 'liar', MESSAGES, 'h')
    const keys = keysOf(honest, 'liar')
    const author = (honest as unknown as { running: { signer: { publicKey: Uint8Array } } }).running.signer.publicKey

    // the liar holds the key, claims seqs 1 .. 2^64-1 of the honest author, reads the pulls and never answers them
    const liar = await rawNode(t)
    let pulled!: () => void
    const firstPull = new Promise<void>(resolve => { pulled = resolve })
    await liar.handle(SYNC_PROTOCOL, async (stream, connection) => {
      const signal = AbortSignal.timeout(120_000)
      const pb = pbStream(stream, { maxDataLength: 4 * 1024 * 1024 })
      const hello = await pb.read(Hello, { signal })
      const nonce = randomBytes(32)
      await pb.write({ nonce: Uint8Array.from(nonce) }, Hello, { signal })
      await pb.read(Auth, { signal })
      const tr = { initiator: connection.remotePeer.toMultihash().bytes, responder: liar.peerId.toMultihash().bytes, initiatorNonce: hello.nonce, responderNonce: nonce }
      const summary = { authors: [{ author: Uint8Array.from(author), ranges: [1n, 2n ** 64n - 1n], truncated: false, head: new Uint8Array(0) }], truncated: false, head: new Uint8Array(0) }
      await pb.write({ status: AuthReply.Status.OK, proof: Uint8Array.from(proof(syncKey(keys.macKey), 'responder', tr)), inSync: false, summary }, AuthReply, { signal })
      await pb.read(Frame, { signal }) // the newcomer's summary
      await pb.read(Frame, { signal }) // its first pull
      pulled()
      await new Promise(resolve => { stream.addEventListener('close', resolve) })
    })
    liar.services.pubsub.subscribe(keys.wireTopic)

    const newcomer = await startNode(t, { sync: { readTimeout: READ_TIMEOUT } })
    await newcomer.joinGroup({ topicId: 'liar', secret: honest.secret('liar') })
    await liar.dial(multiaddr(newcomer.addresses[0]))
    await seesSubscribers(newcomer, keys.wireTopic, 1)
    // the session with the liar claims the range first
    const withLiar = newcomer.sync('liar')
    withLiar.catch((err: unknown) => { t.diagnostic(`sync with the liar: ${String(err)}`) })
    await firstPull
    const started = Date.now()
    await newcomer.dial(honest.addresses[0])
    await holdAll('the newcomer to get the history from the honest member', [newcomer], 'liar', MESSAGES, READ_TIMEOUT)
    const ms = Date.now() - started
    t.diagnostic(`catch-up of ${MESSAGES} messages with a liar holding the claim: ${ms} ms (the liar answers nothing; its read deadline is ${READ_TIMEOUT} ms)`)
    assert.ok(ms < READ_TIMEOUT / 3, `${ms} ms`)
  })
})
