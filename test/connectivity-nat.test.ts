/**
 * Reaching members on other networks (issue 13), on real CLI processes in
 * network namespaces (test/netns-nat.ts): homes behind NATs that let no
 * connection in, a public relay, a public bootstrap/DHT node. Figures are
 * printed with t.diagnostic.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { decodeInvite } from '../src/groups/index.js'
import { waitUntil } from './helpers.js'
import {
  announcedAt, cannotNat, capture, cli, history, listenTcp, makeNatNet, natDrops, prepareNode, probeTcp, runNode, startNode, status,
  stopNode, waitForMessages, waitForReservation
} from './netns-nat.js'
import type { HistoryMessage, NatNet, NsNode, Place } from './netns-nat.js'
import type { TestContext } from 'node:test'

const reason = cannotNat()
const captureReason = reason ?? cannotNat(['tcpdump'])

/** generous bounds: a failure means "did not happen", not "was slow" */
const RESERVATION_MS = 60_000
const DELIVERY_MS = 60_000
const RELAY_RESTART_BOUND_MS = 60_000
const RENDEZVOUS_MS = 120_000

const ms = (x: number): string => `${Math.round(x)} ms`

function percentile (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)]
}

/** Send from `from`; resolves with the message once `to` (each of them) has announced it. */
async function sendAndDeliver (from: NsNode, to: NsNode[], topic: string, text: string, timeout = DELIVERY_MS): Promise<HistoryMessage> {
  const m = await cli<HistoryMessage>(from, ['send', topic, text])
  await Promise.all(to.map(async x => waitForMessages(x, [m.id], timeout)))
  return m
}

/** The member entry for `peer` in a node's status, if the field exists. */
async function memberConnection (node: NsNode, peer: NsNode): Promise<string | undefined> {
  const s = await status(node)
  return s.members?.find(m => m.peerId === peer.peerId)?.connection
}

/** Histories of a group at each node, as sorted id lists. */
async function historyIds (nodes: NsNode[], topic: string): Promise<string[][]> {
  return Promise.all(nodes.map(async x => (await history(x, topic)).map(m => m.id).sort()))
}

interface FirstRun {
  net: NatNet
  relay: NsNode
  a: NsNode
  b: NsNode
  topic: string
  /** from the spawn of A and B to B announcing A's first message */
  firstMessageMs: number
  /** ms from t0 to: both ready, both reserved (NAT), group created, B joined, first message at B */
  phases: Record<string, number>
  /** one-way latency of messages sent one at a time, both directions (sealed at the sender, by its timestamp, to announced by the receiver; one machine, one clock) */
  latencies: number[]
}

/**
 * A public relay; A and B behind NATs (homes) or both on the public bridge
 * (`nat: false`), both bootstrapped by the relay. A creates a group, B joins
 * from A's invite, a message each way, then `rounds` messages one at a time
 * alternately for latency.
 */
async function firstRun (t: TestContext, nat: boolean, rounds = 20): Promise<FirstRun> {
  const net = await makeNatNet(t, nat ? { publicHosts: ['relay'], homes: 2 } : { publicHosts: ['relay', 'a', 'b'], homes: 0 })
  const relay = await runNode(t, net, net.hosts.relay, { label: 'relay', args: ['--relay'] })
  const placeA: Place = nat ? net.homes[0] : net.hosts.a
  const placeB: Place = nat ? net.homes[1] : net.hosts.b
  const boot = ['--bootstrap', relay.multiaddr]
  const [a, b] = await Promise.all([prepareNode(t, placeA, { label: 'A', name: 'alice', args: boot }), prepareNode(t, placeB, { label: 'B', name: 'bob', args: boot })])
  const topic = `nat-${randomBytes(4).toString('hex')}`
  const t0 = Date.now()
  const phases: Record<string, number> = {}
  const mark = (what: string): void => { phases[what] = Date.now() - t0 }
  await Promise.all([startNode(net, a), startNode(net, b)])
  mark('ready')
  if (nat) {
    // an invite made before A holds a reservation could not reach it
    await Promise.all([waitForReservation(a, relay, RESERVATION_MS), waitForReservation(b, relay, RESERVATION_MS)])
    mark('reserved')
  }
  const created = await cli<{ invite: string }>(a, ['create', topic])
  mark('created')
  const invite = decodeInvite(created.invite)
  if (nat) {
    assert.ok(invite.addrs.some(x => x.endsWith(`/p2p/${relay.peerId}/p2p-circuit/p2p/${a.peerId}`)),
      `A's invite carries its relay address through ${relay.peerId}: ${invite.addrs.join(' ')}`)
  }
  await cli(b, ['join', created.invite])
  mark('joined')
  const first = await sendAndDeliver(a, [b], topic, 'hello from A')
  const firstMessageMs = (announcedAt(b, first.id) ?? Date.now()) - t0
  phases.delivered = firstMessageMs
  await sendAndDeliver(b, [a], topic, 'hello from B')
  const latencies: number[] = []
  for (let k = 0; k < rounds; k++) {
    const [from, to] = k % 2 === 0 ? [a, b] : [b, a]
    const m = await sendAndDeliver(from, [to], topic, `latency ${k}`)
    latencies.push(announcedAt(to, m.id)! - (m.timestamp as number))
  }
  return { net, relay, a, b, topic, firstMessageMs, phases, latencies }
}

const phaseText = (phases: Record<string, number>): string => Object.entries(phases).map(([k, v]) => `${k} ${ms(v)}`).join(', ')

/** what the NATed run measured, for the direct baseline's report */
let relayed: { firstMessageMs: number, phases: Record<string, number>, latencies: number[] } | undefined

describe('connectivity across NATs (network namespaces)', { concurrency: false }, () => {
  it('the harness: a host behind NAT reaches the public side, nothing from outside reaches it', { skip: reason ?? false }, async (t) => {
    const net = await makeNatNet(t, { publicHosts: ['pub'], homes: 2 })
    const pub = net.hosts.pub
    const [home1, home2] = net.homes

    // outbound through the NAT: connected, seen from the router's public address (masquerade)
    const onPublic = await listenTcp(net, pub.ns, pub.ip, 7001)
    assert.equal(await probeTcp(home1.ns, pub.ip, 7001), 'connected')
    assert.equal(await probeTcp(home2.ns, pub.ip, 7001), 'connected')
    await waitUntil('the public listener to log both connections', () => onPublic.accepted.length === 2)
    assert.deepEqual([...onPublic.accepted].sort(), [home1.publicIp, home2.publicIp].sort(), 'the public host sees the routers, not the private addresses')

    // inbound: a listener on home 1's host, reachable on its LAN (the router itself), from nowhere else
    const inHome = await listenTcp(net, home1.ns, '0.0.0.0', 7002)
    assert.equal(await probeTcp(home1.router, home1.ip, 7002), 'connected', 'control: the listener answers on its LAN')
    await waitUntil('the home listener to log the control connection', () => inHome.accepted.length === 1)
    const outside = await Promise.all([
      probeTcp(pub.ns, home1.ip, 7002), // routed to the router, which forwards nothing new from outside
      probeTcp(pub.ns, home1.publicIp, 7002), // the router's own address: no port forward
      probeTcp(home2.ns, home1.ip, 7002), // the other home, through both NATs
      probeTcp(home2.ns, home1.publicIp, 7002)
    ])
    assert.deepEqual(outside, ['timeout', 'timeout', 'timeout', 'timeout'], 'no new connection gets in from outside')
    const drops = natDrops(home1)
    assert.ok(drops.forward >= 2 && drops.input >= 2, `home 1's router dropped them (forward ${drops.forward}, input ${drops.input} packets)`)
    assert.equal(inHome.accepted.length, 1, 'only the LAN connection was accepted')
    // and a public host is reachable from the public side
    assert.equal(await probeTcp(home1.router, pub.ip, 7001), 'connected')
    t.diagnostic(`public ${pub.ip}; home1 ${home1.ip} behind ${home1.publicIp}, home2 ${home2.ip} behind ${home2.publicIp}; inbound probes: ${outside.join(', ')}; dropped by home 1's router: ${JSON.stringify(natDrops(home1))} packets`)
  })

  it('a: two NATed nodes, a public relay: join from an invite, chat both ways, sync after one was offline', { skip: reason ?? false }, async (t) => {
    const run = await firstRun(t, true)
    const { net, a, b, topic } = run
    relayed = { firstMessageMs: run.firstMessageMs, phases: run.phases, latencies: run.latencies }
    const [sa, sb] = await Promise.all([status(a), status(b)])
    const connA = sa.members?.find(m => m.peerId === b.peerId)?.connection
    const connB = sb.members?.find(m => m.peerId === a.peerId)?.connection
    t.diagnostic(`status: A reachability ${sa.reachability}, relay addresses ${JSON.stringify(sa.relayAddresses)}, B seen as ${connA}; B reachability ${sb.reachability}, A seen as ${connB}`)
    assert.notEqual(sa.reachability, 'public', 'A is behind a NAT')
    assert.notEqual(sb.reachability, 'public', 'B is behind a NAT')
    assert.ok(connA === 'relayed' || connA === 'direct', `A shows B connected (${connA})`)
    assert.ok(connB === 'relayed' || connB === 'direct', `B shows A connected (${connB})`)

    // B offline; A sends 20; B back (same data dir, same flags): sync catches it up
    await stopNode(b)
    const offline: string[] = []
    for (let k = 0; k < 20; k++) offline.push((await cli<HistoryMessage>(a, ['send', topic, `while B was away ${k}`])).id)
    const back = Date.now()
    await startNode(net, b)
    await waitForMessages(b, offline, DELIVERY_MS)
    const caughtUp = Date.now() - back
    const [ha, hb] = await historyIds([a, b], topic)
    assert.deepEqual(hb, ha, 'B holds exactly what A holds')
    assert.equal(ha.length, 2 + 20 + 20)
    t.diagnostic(`relayed: start to first message ${ms(run.firstMessageMs)} (${phaseText(run.phases)}); latency p50 ${ms(percentile(run.latencies, 50))}, p99 ${ms(percentile(run.latencies, 99))} (${run.latencies.length} messages); B restarted and caught up 20 messages in ${ms(caughtUp)} (spawn to last announced)`)
  })

  it('baseline: the same two nodes on the public bridge, connected directly', { skip: reason ?? false }, async (t) => {
    const run = await firstRun(t, false)
    const conn = await memberConnection(run.a, run.b)
    assert.equal(conn, 'direct', 'A shows B directly connected')
    t.diagnostic(`direct: start to first message ${ms(run.firstMessageMs)} (${phaseText(run.phases)}); latency p50 ${ms(percentile(run.latencies, 50))}, p99 ${ms(percentile(run.latencies, 99))} (${run.latencies.length} messages)`)
    if (relayed != null) {
      t.diagnostic(`relayed (test a): start to first message ${ms(relayed.firstMessageMs)} (${phaseText(relayed.phases)}); latency p50 ${ms(percentile(relayed.latencies, 50))}, p99 ${ms(percentile(relayed.latencies, 99))}`)
    }
  })

  it('b: the relay restarts in the middle: new reservations, chat again within a bound, nothing lost', { skip: reason ?? false }, async (t) => {
    const { net, relay, a, b, topic } = await firstRun(t, true, 0)
    await stopNode(relay)
    const down = Date.now()
    // while the relay is down both sides write; nothing can be delivered now
    const during: string[] = []
    for (let k = 0; k < 5; k++) {
      during.push((await cli<HistoryMessage>(a, ['send', topic, `A while the relay was down ${k}`])).id)
      during.push((await cli<HistoryMessage>(b, ['send', topic, `B while the relay was down ${k}`])).id)
    }
    const downFor = Date.now() - down
    const up = Date.now()
    await startNode(net, relay)
    await Promise.all([waitForReservation(a, relay, RELAY_RESTART_BOUND_MS), waitForReservation(b, relay, RELAY_RESTART_BOUND_MS)])
    const reserved = Date.now() - up
    // chatting again: a message each way delivered, and the gap filled by sync
    const budget = (): number => Math.max(1, RELAY_RESTART_BOUND_MS - (Date.now() - up))
    await Promise.all([sendAndDeliver(a, [b], topic, 'A after the relay came back', budget()), sendAndDeliver(b, [a], topic, 'B after the relay came back', budget())])
    const chatting = Date.now() - up
    await Promise.all([waitForMessages(a, during, budget()), waitForMessages(b, during, budget())])
    const filled = Date.now() - up
    t.diagnostic(`relay down ${ms(downFor)}; after it restarted: both reservations in ${ms(reserved)}, a message each way in ${ms(chatting)}, the ${during.length} messages written meanwhile on both in ${ms(filled)} (bound ${ms(RELAY_RESTART_BOUND_MS)})`)
    assert.ok(filled <= RELAY_RESTART_BOUND_MS)
    const [ha, hb] = await historyIds([a, b], topic)
    assert.deepEqual(hb, ha, 'nothing lost: the same history on both')
    assert.equal(ha.length, 2 + 10 + 2)
  })

  it('c: members sharing only the group secret, both NATed, one common bootstrap node: they find each other (DHT rendezvous) and chat', { skip: reason ?? false }, async (t) => {
    const net = await makeNatNet(t, { publicHosts: ['boot'], homes: 2 })
    const boot = await runNode(t, net, net.hosts.boot, { label: 'boot', args: ['--relay'] })
    const args = ['--bootstrap', boot.multiaddr]
    const [a, b] = await Promise.all([runNode(t, net, net.homes[0], { label: 'A', name: 'alice', args }), runNode(t, net, net.homes[1], { label: 'B', name: 'bob', args })])
    const topic = `dht-${randomBytes(4).toString('hex')}`
    await cli(a, ['create', topic])
    const { secret } = await cli<{ secret: string }>(a, ['invite', topic, '--secret'])
    const met = (x: NsNode, y: NsNode): boolean => x.events.some(e => e.event === 'peer:connect' && e.peerId === y.peerId)
    assert.ok(!met(a, b) && !met(b, a), 'A and B have not met before B joins')
    const t0 = Date.now()
    await cli(b, ['join', topic, '--secret', secret])
    // found: each connected to the other (a log line), then a message each way
    await Promise.all([
      a.waitFor(e => e.event === 'peer:connect' && e.peerId === b.peerId, RENDEZVOUS_MS),
      b.waitFor(e => e.event === 'peer:connect' && e.peerId === a.peerId, RENDEZVOUS_MS)
    ])
    const found = Date.now() - t0
    const budget = (): number => Math.max(1, RENDEZVOUS_MS - (Date.now() - t0))
    await sendAndDeliver(a, [b], topic, 'found you, B', budget())
    await sendAndDeliver(b, [a], topic, 'found you, A', budget())
    const chatted = Date.now() - t0
    const conn = await memberConnection(a, b)
    t.diagnostic(`rendezvous by secret: connected ${ms(found)} after B joined, a message each way ${ms(chatted)} after (A sees B as ${conn})`)
    const [ha, hb] = await historyIds([a, b], topic)
    assert.deepEqual(hb, ha)
  })

  it('d: the relay, a non-member, sees no topic id, no secret, no plaintext', { skip: captureReason ?? false }, async (t) => {
    const net = await makeNatNet(t, { publicHosts: ['relay'], homes: 2 })
    const cap = await capture(t, net, net.hosts.relay.ns)
    // the relay's own log, with what its gossipsub and relay server do
    const relay = await runNode(t, net, net.hosts.relay, { label: 'relay', args: ['--relay'], env: { DEBUG: 'p2p-chat:*,libp2p:circuit-relay*,libp2p:gossipsub*,libp2p:kad-dht*' } })
    const args = ['--bootstrap', relay.multiaddr]
    const [a, b] = await Promise.all([runNode(t, net, net.homes[0], { label: 'A', args }), runNode(t, net, net.homes[1], { label: 'B', args })])
    await Promise.all([waitForReservation(a, relay, RESERVATION_MS), waitForReservation(b, relay, RESERVATION_MS)])
    const topic = `private-topic-${randomBytes(6).toString('hex')}`
    const created = await cli<{ invite: string }>(a, ['create', topic])
    const { secret } = await cli<{ secret: string }>(a, ['invite', topic, '--secret'])
    await cli(b, ['join', created.invite])
    const texts: string[] = []
    for (let k = 0; k < 5; k++) {
      for (const [from, to] of [[a, b], [b, a]]) {
        const text = `plaintext ${from.label} ${k} ${randomBytes(8).toString('hex')}`
        texts.push(text)
        await sendAndDeliver(from, [to], topic, text)
      }
    }
    const conn = await memberConnection(a, b)
    const relayGroups = await cli<unknown[]>(relay, ['groups'])
    const { raw, flows, packets } = await cap.stop()

    // the capture saw the relayed traffic: the connections from both routers, with payload, and the cleartext protocol negotiation
    const fromHome = (h: { publicIp: string }): number => [...flows].filter(([k]) => k.startsWith(`${h.publicIp}:`)).reduce((n, [, v]) => n + v.length, 0)
    const bytesA = fromHome(net.homes[0]); const bytesB = fromHome(net.homes[1])
    t.diagnostic(`capture: ${packets} TCP packets, ${flows.size} flow directions, ${bytesA} payload bytes from A's router, ${bytesB} from B's; A sees B as ${conn}`)
    assert.ok(bytesA > 0 && bytesB > 0, 'the capture holds both homes\' traffic')
    assert.ok(raw.includes('/noise'), 'control: the capture shows cleartext where there is some (multistream-select before Noise)')

    const needles: Array<[string, Buffer]> = [
      ['topic id', Buffer.from(topic)],
      ['secret (hex)', Buffer.from(secret.toLowerCase())],
      ['secret (HEX)', Buffer.from(secret.toUpperCase())],
      ['secret (raw)', Buffer.from(secret, 'hex')],
      ['invite', Buffer.from(created.invite)],
      ...texts.map((x, i): [string, Buffer] => [`message ${i}`, Buffer.from(x)])
    ]
    const relayLog = Buffer.from(relay.output())
    for (const [what, needle] of needles) {
      assert.ok(!raw.includes(needle), `the ${what} is not in the captured packets`)
      for (const [flow, bytes] of flows) assert.ok(!bytes.includes(needle), `the ${what} is not in the TCP stream ${flow}`)
      assert.ok(!relayLog.includes(needle), `the ${what} is not in the relay's own log`)
    }
    assert.deepEqual(relayGroups, [], 'the relay is in no group')
  })
})
