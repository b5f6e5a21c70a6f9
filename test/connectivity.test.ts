import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { join } from 'node:path'
import { Backoff, MEMBER_TAG } from '../src/connectivity/index.js'
import { exportBackup, importBackup, openDataDirBackupHost } from '../src/backup/index.js'
import { deriveGroupKeys } from '../src/envelope/index.js'
import { createBaseLibp2p } from '../src/libp2p.js'
import { meshGroup, startNode, tempDir, waitUntil, defer } from './helpers.js'
import { allIds } from './fault-helpers.js'
import type { ChatNode } from '../src/index.js'

/** How many messages a node holds for a group (reads every page of history). */
async function held (node: ChatNode, topicId: string): Promise<number> {
  return (await allIds(node, topicId)).length
}

/** Has `node` tagged `peer` as a member (it proved membership in a sync session)? Members are kept and redialled. */
async function isMember (node: ChatNode, peer: string): Promise<boolean> {
  try {
    return (await node.libp2pNode.peerStore.get(peerIdFromString(peer))).tags.has(MEMBER_TAG)
  } catch {
    return false // not in the peer store
  }
}

function portOf (node: ChatNode): number {
  const addr = node.addresses.find(a => a.startsWith('/ip4/127.0.0.1/tcp/'))
  assert.ok(addr != null, 'a loopback TCP address')
  return Number(addr.split('/')[4])
}

describe('connectivity: members are found again', () => {
  it('backoff: doubles from min up to max, with jitter inside its bounds, and starts again after a reset', () => {
    const b = new Backoff({ min: 100, max: 1000, factor: 2, jitter: 0, random: () => 0.5 })
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => b.fail('p')), [100, 200, 400, 800, 1000, 1000])
    assert.equal(b.failuresOf('p'), 6)
    assert.equal(b.peek('q'), 100)
    b.reset('p')
    assert.equal(b.fail('p'), 100)
    const jittered = new Backoff({ min: 1000, max: 1000, jitter: 0.2, random: () => 0 })
    assert.equal(jittered.fail('x'), 800)
    const high = new Backoff({ min: 1000, max: 1000, jitter: 0.2, random: () => 0.999999 })
    assert.equal(high.fail('x'), 1000, 'never above max')
  })

  it('a member restarted with no mDNS and no bootstrap, on a new port, reconnects by itself and catches up 200 messages', async (t) => {
    const a = await startNode(t)
    const bDir = await tempDir(t)
    const b1 = await startNode(t, { dataDir: bDir })
    const { invite } = await a.createGroup('return')
    await b1.joinGroup({ invite })
    await meshGroup([a, b1], 'return')
    await a.send('return', 'before the restart')
    await waitUntil('b to hold the first message', async () => await held(b1, 'return') === 1)
    // members are kept only once proven by a sync session: wait for it, as a real restart comes much later
    await waitUntil('a and b to know each other as members', async () => await isMember(a, b1.peerId) && await isMember(b1, a.peerId))
    await b1.stop()
    for (let i = 0; i < 200; i++) await a.send('return', `while b was away ${i}`)
    const started = Date.now()
    // a new port (tcp/0): a cannot reach b where it was; b must dial out from its peer store
    const b2 = await startNode(t, { dataDir: bDir })
    await waitUntil('b to catch up 200 messages without any dial', async () => await held(b2, 'return') === 201, 30_000)
    t.diagnostic(`restart to caught up (201 messages): ${Date.now() - started} ms`)
    // and the restarted side reached a, not the other way round
    assert.ok(b2.peers().some(p => p.peerId === a.peerId))
  })

  it('the member that stayed reaches one restarted on a new port once it dials out: messages flow both ways', async (t) => {
    const aDir = await tempDir(t)
    const a1 = await startNode(t, { dataDir: aDir })
    const b = await startNode(t)
    const { invite } = await a1.createGroup('moved')
    await b.joinGroup({ invite })
    await meshGroup([a1, b], 'moved')
    await waitUntil('a and b to know each other as members', async () => await isMember(a1, b.peerId) && await isMember(b, a1.peerId))
    await a1.stop()
    await b.send('moved', 'sent while a was down')
    const a2 = await startNode(t, { dataDir: aDir })
    assert.notEqual(portOf(a2), 0)
    await waitUntil('a to get what b sent meanwhile', async () => await held(a2, 'moved') === 1, 30_000)
    await waitUntil('both to see each other on the topic again', () => a2.groupPeers('moved').includes(b.peerId) && b.groupPeers('moved').includes(a2.peerId))
    await a2.send('moved', 'back')
    await waitUntil('b to get the message from the moved node', async () => await held(b, 'moved') === 2)
  })

  it('never gives up: a member away for many more attempts than libp2p\'s reconnect queue makes is redialled when it returns', async (t) => {
    const fast = { backoff: { min: 20, max: 80, jitter: 0 }, networkCheckInterval: 0 }
    const a = await startNode(t, { redial: fast })
    const bDir = await tempDir(t)
    const b1 = await startNode(t, { dataDir: bDir, redial: fast })
    const port = portOf(b1)
    const { invite } = await a.createGroup('patience')
    await b1.joinGroup({ invite })
    await meshGroup([a, b1], 'patience')
    const bId = b1.peerId
    await waitUntil('a to know b as a member', async () => isMember(a, bId))
    await b1.stop()
    const redial = a.libp2pNode.services.redial
    // libp2p's reconnect queue made 12 attempts and then dropped the member for good
    await waitUntil('a to fail 30 redials of b', () => redial.list().some(r => r.target === bId && r.failures >= 30), 30_000).catch((err: unknown) => { t.diagnostic(JSON.stringify(redial.list())); throw err })
    await a.send('patience', 'still here')
    // b comes back where it was and dials nobody itself (no redial slots): only a's redialling can bring them together
    const b2 = await startNode(t, { dataDir: bDir, listen: [`/ip4/127.0.0.1/tcp/${port}`], redial: { ...fast, concurrency: 0 } })
    await waitUntil('b to get the message sent while it was away', async () => await held(b2, 'patience') === 1, 30_000)
    const entry = redial.list().find(r => r.target === b2.peerId)
    assert.ok(entry?.connected === true)
    assert.equal(entry.failures, 0)
  })
})

describe('connectivity: rendezvous by group secret', () => {
  it('two members that share only the secret, both knowing only a common DHT node, find each other and chat', async (t) => {
    const hub = await startNode(t, { relay: {} })
    const hubAddr = `${hub.addresses.find(a => a.startsWith('/ip4/127.0.0.1/'))}`
    const quick = { rendezvous: { interval: 1000, firstDelay: 200 }, bootstrap: [hubAddr] }
    const a = await startNode(t, quick)
    const b = await startNode(t, quick)
    const { topicId } = await a.createGroup('meet-here')
    const secret = a.secret(topicId)
    const started = Date.now()
    // no invite, no addresses: the topic id and the secret only
    await b.joinGroup({ topicId, secret })
    await waitUntil('a and b to find each other through the DHT', () => a.groupPeers(topicId).includes(b.peerId) && b.groupPeers(topicId).includes(a.peerId), 60_000)
    t.diagnostic(`found each other through the DHT rendezvous in ${Date.now() - started} ms`)
    // the hub, a DHT node that is not a member, holds no group and is not on the topic
    assert.deepEqual(hub.groups(), [])
    await a.send(topicId, 'found you')
    await waitUntil('b to get the message', async () => await held(b, topicId) === 1)
    const round = b.libp2pNode.services.rendezvous.list().find(r => r.topicId === topicId)
    assert.ok(round != null && round.found >= 1, JSON.stringify(round))
  })
})

describe('connectivity: circuit relay', () => {
  it('two nodes that cannot be dialled directly meet through a relay: reservations, an invite with relay addresses, messages both ways, status says relayed', async (t) => {
    const relay = await startNode(t, { relay: {} })
    const relayAddr = `${relay.addresses.find(a => a.startsWith('/ip4/127.0.0.1/'))}`
    // no direct listen address at all: reachable only through the relay
    const hidden = { listen: [], bootstrap: [relayAddr] }
    const a = await startNode(t, hidden)
    const b = await startNode(t, hidden)
    await waitUntil('both to hold a reservation on the relay', () => a.connectivity().relayAddresses.length > 0 && b.connectivity().relayAddresses.length > 0, 30_000)
    assert.equal(a.connectivity().reachability, 'behind-nat')
    assert.ok(relay.connectivity().relay?.reservations === 2)
    const { invite } = await a.createGroup('through')
    assert.ok(a.invite('through').length > 0)
    const joined = await b.joinGroup({ invite })
    assert.equal(joined.dialed, 1, 'the invite carried a relay address that works')
    await waitUntil('a and b to see each other on the topic', () => a.groupPeers('through').includes(b.peerId) && b.groupPeers('through').includes(a.peerId), 30_000)
    await a.send('through', 'via the relay')
    await b.send('through', 'and back')
    await waitUntil('both to hold both messages', async () => await held(a, 'through') === 2 && await held(b, 'through') === 2)
    const member = a.connectivity().members.find(m => m.peerId === b.peerId)
    assert.equal(member?.connection, 'relayed')
    // the relay is no member: it holds no group and saw only Noise-encrypted streams
    assert.deepEqual(relay.groups(), [])
  })

  it('a node started while its relay is down starts anyway, and reserves once the relay is up', async (t) => {
    const relayDir = await tempDir(t)
    const relay1 = await startNode(t, { dataDir: relayDir, relay: {} })
    const port = portOf(relay1)
    const relayAddr = `${relay1.addresses.find(a => a.startsWith('/ip4/127.0.0.1/'))}`
    await relay1.stop()
    // js-libp2p's start() fails when a relay in the listen addresses is down: ours is no listen address
    const a = await startNode(t, { listen: [], bootstrap: [relayAddr], redial: { backoff: { min: 100, max: 500 }, networkCheckInterval: 0 } })
    assert.equal(a.connectivity().relayAddresses.length, 0)
    const relay2 = await startNode(t, { dataDir: relayDir, relay: {}, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    await waitUntil('a to reserve on the relay once it is up', () => a.connectivity().relayAddresses.length > 0 && relay2.connectivity().relay?.reservations === 1, 30_000)
  })

  it('the relay restarts: both nodes reserve again by themselves and chat again, and sync fills what was sent meanwhile', async (t) => {
    const relayDir = await tempDir(t)
    const relay1 = await startNode(t, { dataDir: relayDir, relay: {} })
    const port = portOf(relay1)
    const relayAddr = `${relay1.addresses.find(a => a.startsWith('/ip4/127.0.0.1/'))}`
    const quick = { listen: [], bootstrap: [relayAddr], redial: { backoff: { min: 100, max: 1000 }, networkCheckInterval: 0 } }
    const a = await startNode(t, quick)
    const b = await startNode(t, quick)
    await waitUntil('both to hold a reservation', () => a.connectivity().relayAddresses.length > 0 && b.connectivity().relayAddresses.length > 0, 30_000)
    const { invite } = await a.createGroup('restart')
    await b.joinGroup({ invite })
    await waitUntil('a and b to see each other', () => a.groupPeers('restart').includes(b.peerId) && b.groupPeers('restart').includes(a.peerId), 30_000)
    await a.send('restart', 'before')
    await waitUntil('b to have the first message', async () => await held(b, 'restart') === 1)
    await relay1.stop()
    await waitUntil('the relayed link to drop', () => a.connectivity().members.every(m => m.connection === 'none'), 30_000)
    await a.send('restart', 'while the relay was down')
    const restarted = Date.now()
    const relay2 = await startNode(t, { dataDir: relayDir, relay: {}, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    await waitUntil('both to reserve again on the restarted relay', () => relay2.connectivity().relay?.reservations === 2, 60_000)
    await waitUntil('b to get what a sent while the relay was down (sync)', async () => await held(b, 'restart') === 2, 60_000)
    t.diagnostic(`relay restart to chatting again: ${Date.now() - restarted} ms`)
    await b.send('restart', 'after')
    await waitUntil('a to get the message sent after the restart', async () => await held(a, 'restart') === 3)
  })
})

describe('connectivity: who is kept and redialled', () => {
  it('only peers that proved membership (a sync session) are tagged as members; a stranger on the wire topic is not', async (t) => {
    const a = await startNode(t)
    const b = await startNode(t)
    const { invite } = await a.createGroup('proof')
    const keys = deriveGroupKeys('proof', Buffer.from(a.secret('proof'), 'hex'))
    const sessions: Array<{ peer: string, status: string }> = []
    a.libp2pNode.services.sync.on('session', r => sessions.push({ peer: r.peer, status: r.status }))
    // a stranger that saw the wire topic: subscribes and connects, holds no secret
    const stranger = await createBaseLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    defer(t, async () => { await stranger.stop() })
    stranger.services.pubsub.subscribe(keys.wireTopic)
    await stranger.dial(multiaddr(a.addresses[0]))
    await b.joinGroup({ invite })
    await waitUntil('a to see both on the topic', () => a.isGroupPeer(b.peerId) && a.isGroupPeer(stranger.peerId))
    await waitUntil('a to have held a session with b', () => sessions.some(s => s.peer === b.peerId && (s.status === 'synced' || s.status === 'in-sync')), 30_000)
    await waitUntil('b to be tagged', async () => isMember(a, b.peerId))
    assert.equal(await isMember(a, stranger.peerId.toString()), false, 'the stranger is not kept nor redialled')
  })
})

describe('connectivity: a restored machine', () => {
  it('restored from an identity backup on a fresh machine, the node is the same peer and reaches its members by itself', async (t) => {
    const a = await startNode(t)
    const b = await startNode(t)
    const { invite } = await a.createGroup('home')
    await b.joinGroup({ invite })
    await meshGroup([a, b], 'home')
    await waitUntil('a to know b as a member', async () => isMember(a, b.peerId))
    const dir = await tempDir(t)
    const file = join(dir, 'me.backup')
    await exportBackup(a.backupHost(), file, { includeSecrets: true, includeIdentity: true, passphrase: 'a long passphrase here' })
    const who = a.peerId
    await a.stop()
    await b.send('home', 'sent while the machine was being replaced')
    // a fresh machine: nothing but the backup
    const fresh = join(dir, 'fresh')
    const host = await openDataDirBackupHost(fresh, { create: true })
    const summary = await importBackup(host, file, { passphrase: 'a long passphrase here' })
    await host.close()
    assert.equal(summary.identity, 'restored')
    const restored = await startNode(t, { dataDir: fresh })
    assert.equal(restored.peerId, who)
    await waitUntil('the restored node to reach b and catch up, with no address given', async () => await held(restored, 'home') === 1, 30_000)
  })
})
