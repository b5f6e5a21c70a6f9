/**
 * Membership benchmark (issue 15): `--members` in-process nodes (default 5)
 * over 127.0.0.1 in a group with a membership log. The admin removes one
 * member, `--rounds` times (a fresh group each round):
 *
 *   - time from removeMember() to every remaining online member sealing
 *     with the new epoch (its key opened from its box);
 *   - the envelope sizes of the remove op and the rotate op (each reaches
 *     every remaining member once by gossip, the rotate carries one box per
 *     remaining member), and of a text message for comparison;
 *   - the cost of the membership check at ingest (Membership.refuse, one
 *     decode for an op) beside open(), per message.
 *
 *   npx tsc -p tsconfig.json && P2P_CHAT_NO_PUBLIC_NETWORK=1 ./node_modules/.bin/node dist/scripts/bench-membership.js [--members 5] [--rounds 5]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ChatNode } from '../src/index.js'
import { open, peek, KIND_OP } from '../src/envelope/index.js'
import { decodeOp } from '../src/membership/op.js'
import type { GroupKeys, OpenedMessage } from '../src/envelope/index.js'
import type { MembershipState } from '../src/membership/log.js'

const { values } = parseArgs({ options: { members: { type: 'string', default: '5' }, rounds: { type: 'string', default: '5' } } })
const MEMBERS = Number(values.members)
const ROUNDS = Number(values.rounds)

interface Parts {
  store: { iterate: (gid: string) => AsyncIterable<{ bytes: Uint8Array }> }
  registry: { require: (t: string) => { keys: GroupKeys } }
  membership: { state: (g: unknown) => MembershipState, refuse: (g: unknown, m: OpenedMessage) => unknown }
}
const parts = (n: ChatNode): Parts => (n as unknown as { parts: () => Parts }).parts()

async function until (fn: () => boolean | Promise<boolean>, timeout = 60_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 2))
  }
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }

async function main (): Promise<void> {
  const dirs: string[] = []
  const nodes: ChatNode[] = []
  for (let i = 0; i < MEMBERS; i++) {
    const dataDir = await mkdtemp(join(tmpdir(), 'p2p-chat-bench-mem-'))
    dirs.push(dataDir)
    nodes.push(new ChatNode({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, inboundConnectionThreshold: 1000, name: `m${i}` }))
  }
  await Promise.all(nodes.map(async n => n.start()))
  const times: number[] = []
  const joins: number[] = []
  const sizes: { remove: number[], rotate: number[], text: number[], boxes: number[] } = { remove: [], rotate: [], text: [], boxes: [] }
  const check = { open: 0, refuse: 0, n: 0 }
  try {
    for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) await nodes[i].dial(nodes[j].addresses[0])
    const [a, ...rest] = nodes
    for (let round = 0; round < ROUNDS; round++) {
      const topic = `bench-mem-${round}`
      await a.createGroup(topic, { membership: true })
      // each joins with a revocable invite of its own: invite op, join request, add op, keys sealed to it
      for (const x of rest) {
        const { invite } = await a.createInvite(topic)
        const j0 = performance.now()
        await x.joinGroup({ invite })
        joins.push(performance.now() - j0)
      }
      await until(() => nodes.every(n => n.groupPeers(topic).length >= nodes.length - 1))
      const g = parts(a).registry.require(topic)
      await until(() => nodes.every(n => n.membership(topic).members.length === MEMBERS))
      // every member on the group's current epoch (0: adds make no new epoch), then the admin removes the last member
      await until(() => nodes.every(n => n.sealingEpoch(topic) === a.membership(topic).epoch && !Number.isNaN(n.sealingEpoch(topic))))
      const before = a.membership(topic).epoch
      const text = await a.send(topic, 'a text message of some forty characters.')
      const removed = rest[rest.length - 1]
      const remaining = nodes.filter(n => n !== removed)
      const t0 = performance.now()
      await a.removeMember(topic, removed.peerId)
      await until(() => remaining.every(n => n.sealingEpoch(topic) === before + 1))
      times.push(performance.now() - t0)
      // sizes: the remove and the rotate A wrote
      for await (const r of parts(a).store.iterate(g.keys.groupId)) {
        const p = peek(parts(a).registry.require(topic).keys, r.bytes)
        if (!p.ok) continue
        if (Buffer.from(p.message.id).toString('hex') === text.id) sizes.text.push(r.bytes.byteLength)
        if (p.message.envelope.kind !== KIND_OP || p.message.body.op == null) continue
        const op = decodeOp(p.message.body.op)
        if (op.type === 'remove') sizes.remove.push(r.bytes.byteLength)
        if (op.type === 'rotate' && op.epoch === before + 1) { sizes.rotate.push(r.bytes.byteLength); sizes.boxes.push(op.boxes.length) }
      }
      // the membership check beside open(), per message, on every record held
      const keys = parts(a).registry.require(topic).keys
      const held: Uint8Array[] = []
      for await (const r of parts(a).store.iterate(g.keys.groupId)) held.push(r.bytes)
      const reps = 2000
      const opened: OpenedMessage[] = []
      let s = performance.now()
      for (let k = 0; k < reps; k++) { const o = open(keys, held[k % held.length]); if (o.ok) opened.push(o.message) }
      check.open += performance.now() - s
      s = performance.now()
      for (const m of opened) parts(a).membership.refuse(parts(a).registry.require(topic), m)
      check.refuse += performance.now() - s
      check.n += opened.length
      process.stderr.write(`round ${round + 1}/${ROUNDS}: remove -> ${remaining.length} members on epoch ${before + 1} in ${times[times.length - 1].toFixed(1)} ms\n`)
    }
  } finally {
    await Promise.all(nodes.map(async n => n.stop()))
    await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
  }
  const remainingMembers = MEMBERS - 1
  const perMember = median(sizes.remove) + median(sizes.rotate)
  const rows = {
    members: MEMBERS,
    rounds: ROUNDS,
    joinByInviteMs: { median: Number(median(joins).toFixed(1)), max: Number(Math.max(...joins).toFixed(1)) },
    removeToNewEpochMs: { median: Number(median(times).toFixed(1)), max: Number(Math.max(...times).toFixed(1)), all: times.map(x => Number(x.toFixed(1))) },
    envelopeBytes: { remove: median(sizes.remove), rotate: median(sizes.rotate), rotateBoxes: median(sizes.boxes), text: median(sizes.text) },
    bytesPerRemainingMember: perMember,
    bytesAllRemaining: perMember * remainingMembers,
    checkPerMessageUs: { open: Number((check.open * 1000 / check.n).toFixed(2)), membershipRefuse: Number((check.refuse * 1000 / check.n).toFixed(2)) }
  }
  console.log(`members ${MEMBERS}, ${ROUNDS} rounds: remove -> all ${remainingMembers} remaining on the new epoch: median ${rows.removeToNewEpochMs.median} ms, max ${rows.removeToNewEpochMs.max} ms`)
  console.log(`envelopes: remove ${rows.envelopeBytes.remove} B, rotate ${rows.envelopeBytes.rotate} B (${rows.envelopeBytes.rotateBoxes} boxes), a text message ${rows.envelopeBytes.text} B`)
  console.log(`one removal per remaining member: ${perMember} B of envelopes (gossip framing aside); ${rows.bytesAllRemaining} B for all ${remainingMembers}`)
  console.log(`join by revocable invite (decode, dial, join request, add op, keys): median ${rows.joinByInviteMs.median} ms, max ${rows.joinByInviteMs.max} ms`)
  console.log(`per message: open() ${rows.checkPerMessageUs.open} µs, membership check ${rows.checkPerMessageUs.membershipRefuse} µs`)
  console.log(JSON.stringify({ bench: 'membership', rows }))
}

main().catch((err: unknown) => { console.error(err); process.exit(1) })
