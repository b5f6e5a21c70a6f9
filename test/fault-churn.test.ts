import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ApiClient } from '../src/api/index.js'
import { startCli } from './cli-helpers.js'
import { waitUntil } from './helpers.js'
import { freePort, jitter, preparedDataDir, scale } from './fault-helpers.js'
import type { CliNode } from './cli-helpers.js'

async function ids (dataDir: string, topicId: string): Promise<Set<string>> {
  const client = new ApiClient(dataDir)
  const out = new Set<string>()
  let before: string | undefined
  do {
    const page = await client.history(topicId, { limit: 10_000, before })
    for (const m of page.messages) out.add(m.id)
    before = page.next
  } while (before != null)
  return out
}

describe('fault: churn', () => {
  it('nodes killed and restarted at random while members send: every node converges to the same full history', async (t) => {
    const n = scale(5, 8)
    const churnMs = scale(20_000, 60_000)
    const topic = 'churn'
    const members = await Promise.all(Array.from({ length: n }, async () => ({ ...await preparedDataDir(t), port: await freePort() })))
    const addr = (m: typeof members[number]): string => `/ip4/127.0.0.1/tcp/${m.port}/p2p/${m.peerId}`
    const args = (i: number): string[] => [
      '--listen', `/ip4/127.0.0.1/tcp/${members[i].port}`,
      ...members.filter((_, j) => j !== i).flatMap(m => ['--bootstrap', addr(m)])
    ]
    const start = async (i: number): Promise<CliNode> => startCli(t, { dataDir: members[i].dataDir, name: `m${i}`, args: args(i) })
    const nodes: Array<CliNode | undefined> = await Promise.all(members.map(async (_, i) => start(i)))

    const first = new ApiClient(members[0].dataDir)
    await first.createGroup(topic)
    const { secret } = await first.invite(topic, true)
    for (const m of members.slice(1)) await new ApiClient(m.dataDir).join({ topicId: topic, secret: secret as string })

    // several members send all along; a send to a node that is down just fails
    const acked = new Set<string>()
    let attempts = 0
    let running = true
    const senders = [0, 1, 2].map(async (i) => {
      for (let k = 0; running; k++) {
        attempts++
        try {
          acked.add((await new ApiClient(members[i].dataDir).send(topic, `m${i}-${k}`)).id)
        } catch { /* down: try again */ }
        await jitter(50, 250)
      }
    })

    // kill a random node (never more than two down), restart it a moment later
    let kills = 0
    const killer = (async () => {
      const until = Date.now() + churnMs
      const restarts: Array<Promise<void>> = []
      while (Date.now() < until) {
        await jitter(800, 2000)
        const up = nodes.map((x, i) => x != null ? i : -1).filter(i => i >= 0)
        if (up.length <= n - 2) continue
        const i = up[Math.floor(Math.random() * up.length)]
        const victim = nodes[i] as CliNode
        nodes[i] = undefined
        victim.proc.kill('SIGKILL')
        await victim.exited
        kills++
        restarts.push((async () => {
          await jitter(200, 1500)
          nodes[i] = await start(i)
        })())
      }
      await Promise.all(restarts)
    })()
    await killer
    running = false
    await Promise.all(senders)

    // every node up again: wait for one history everywhere, a superset of what was acknowledged
    const sizes: number[] = []
    const settle = Date.now()
    await waitUntil('every node to hold the same history, with every acknowledged message', async () => {
      const sets = await Promise.all(members.map(async m => ids(m.dataDir, topic)))
      sizes.splice(0, sizes.length, ...sets.map(s => s.size))
      const ref = sets[0]
      return [...acked].every(id => ref.has(id)) && sets.every(s => s.size === ref.size && [...s].every(id => ref.has(id)))
    }, scale(90_000, 180_000)).catch((err: unknown) => {
      t.diagnostic(`history sizes: ${sizes.join(', ')}; acknowledged: ${acked.size}`)
      throw err
    })
    const settled = Date.now() - settle
    const final = await ids(members[0].dataDir, topic)
    assert.ok(final.size >= acked.size)
    t.diagnostic(`nodes: ${n}, churn: ${churnMs / 1000} s, kills (SIGKILL) and restarts: ${kills}; sends tried: ${attempts}, acknowledged: ${acked.size}; converged ${settled} ms after the churn stopped: ${n} nodes at ${final.size} messages each; records lost: 0`)
  })
})
