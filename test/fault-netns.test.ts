/**
 * Bad networks: real CLI nodes, each in its own network namespace, joined by
 * veth pairs to a bridge in a hub namespace. Private test addresses
 * (10.231.0.0/24) exist only inside these namespaces: nothing leaves the
 * machine. Every byte between nodes goes through a relay in the hub that
 * delays it by 100 ms each way, and each node's interface drops 10 % of the
 * packets it sends (nftables). `tc netem` is what one would use, but this
 * kernel is built without sch_netem (CONFIG_NET_SCH_NETEM is not set), so
 * delay and loss are made by other means: nftables in each node's namespace
 * turns every connection to another node's address into one to the relay
 * (DNAT), and drops packets at random (numgen). Then one node is cut off
 * (its bridge port down) while both sides chat, and the partition heals.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { CLI } from './cli-helpers.js'
import { cannotNat, has, sh } from './netns-nat.js'
import { waitUntil, defer } from './helpers.js'
import { preparedDataDir, scale } from './fault-helpers.js'
import type { ChildProcess } from 'node:child_process'

const RELAY = fileURLToPath(new URL('./netns-relay.js', import.meta.url))
const SUBNET = '10.231.0'
const HUB_IP = `${SUBNET}.1`
const DELAY_MS = 100
const LOSS_PERCENT = 10

interface NsNode {
  i: number
  ns: string
  ip: string
  dataDir: string
  peerId: string
  proc?: ChildProcess
  /** ids of the messages this node announced on its JSON log (stored before it says so) */
  seen: Set<string>
}

/** Run the CLI inside a namespace and parse its --json output. */
async function cliIn (ns: string, args: string[]): Promise<any> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, CLI, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''; let err = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const [code] = await once(child, 'close')
  clearTimeout(timer)
  if (code !== 0) throw new Error(`p2p-chat ${args.join(' ')} in ${ns} exited ${code}: ${err}`)
  return JSON.parse(out)
}

describe('fault: bad networks', () => {
  // the bad-network test needs ip (iproute2) and nft (nftables), as the NAT harness does
  const reason = cannotNat()
  it(`nodes in namespaces, ${DELAY_MS} ms delay and ${LOSS_PERCENT} % loss, a partition that heals: every node converges`, { skip: reason ?? false, timeout: scale(300_000, 1_800_000) }, async (t) => {
    const n = scale(3, 5)
    const perPhase = scale(3, 10)
    // PARTITION_MS sets the outage: the long variant (npm run test:long) cuts a node off for 10 minutes,
    // past the five minutes after which libp2p's reconnect queue used to give a member up for good
    const partitionMs = Number(process.env.PARTITION_MS ?? scale(15_000, 600_000))
    const tag = String(process.pid % 100_000)
    const hub = `p2pt-h${tag}`
    const nodes: NsNode[] = []
    let relay: ChildProcess | undefined
    const made: string[] = []
    // one cleanup, in order: processes, then namespaces (their links and bridge go with them)
    defer(t, async () => {
      const procs = [relay, ...nodes.map(x => x.proc)].filter((p): p is ChildProcess => p != null && p.exitCode == null && p.signalCode == null)
      await Promise.all(procs.map(async p => {
        const exited = once(p, 'exit')
        p.kill('SIGTERM')
        const timer = setTimeout(() => p.kill('SIGKILL'), 5_000)
        await exited
        clearTimeout(timer)
      }))
      for (const ns of made.reverse()) {
        try { sh('ip', ['netns', 'del', ns]) } catch { /* already gone */ }
      }
    })

    // the hub: a bridge with the relay's address
    sh('ip', ['netns', 'add', hub]); made.push(hub)
    sh('ip', ['-n', hub, 'link', 'set', 'lo', 'up'])
    sh('ip', ['-n', hub, 'link', 'add', 'br0', 'type', 'bridge'])
    sh('ip', ['-n', hub, 'addr', 'add', `${HUB_IP}/24`, 'dev', 'br0'])
    sh('ip', ['-n', hub, 'link', 'set', 'br0', 'up'])
    const lossy = has('nft')
    for (let i = 1; i <= n; i++) {
      const ns = `p2pt-n${i}-${tag}`
      sh('ip', ['netns', 'add', ns]); made.push(ns)
      sh('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', `port${i}`, 'netns', hub])
      sh('ip', ['-n', hub, 'link', 'set', `port${i}`, 'master', 'br0', 'up'])
      const ip = `${SUBNET}.${10 + i}`
      sh('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0'])
      sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up'])
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
      nodes.push({ i, ns, ip, ...await preparedDataDir(t), seen: new Set() })
    }
    if (lossy) {
      for (const x of nodes) {
        // a connection to another node's address is taken to the relay instead (DNAT: the node never
        // knows), and 10 % of the packets out of the node are lost
        const redirects = nodes.filter(y => y !== x).map(y => `    ip daddr ${y.ip} tcp dport 4747 dnat ip to ${HUB_IP}:${7000 + y.i}`).join('\n')
        sh('ip', ['netns', 'exec', x.ns, 'nft', '-f', '-'], `table ip p2pt {
  chain nat-out {
    type nat hook output priority -100; policy accept;
${redirects}
  }
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "eth0" numgen random mod 100 < ${LOSS_PERCENT} drop
  }
}
`)
      }
    }
    if (!lossy) t.diagnostic('nft is not installed: packet loss is not applied, and only the first connections are delayed (apt-get install nftables)')

    // the relay: node i is reached at HUB_IP:7000+i, every byte 100 ms late
    relay = spawn('ip', ['netns', 'exec', hub, process.execPath, RELAY, String(DELAY_MS), ...nodes.map(x => `${HUB_IP}:${7000 + x.i}=${x.ip}:4747`)], { stdio: ['pipe', 'pipe', 'inherit'] })
    await once(createInterface({ input: relay.stdout! }), 'line')

    // with nftables a node's own address leads through the relay; without, only the relay's does
    const viaRelay = (x: NsNode): string => lossy ? `/ip4/${x.ip}/tcp/4747/p2p/${x.peerId}` : `/ip4/${HUB_IP}/tcp/${7000 + x.i}/p2p/${x.peerId}`
    await Promise.all(nodes.map(async (x) => {
      const args = ['start', '--headless', '--json', '--log-messages', 'all', '--no-mdns', '--data-dir', x.dataDir, '--name', `ns${x.i}`, '--listen', `/ip4/${x.ip}/tcp/4747`,
        ...nodes.filter(y => y !== x).flatMap(y => ['--bootstrap', viaRelay(y)])]
      const proc = spawn('ip', ['netns', 'exec', x.ns, process.execPath, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env.NETNS_DEBUG != null ? { ...process.env, DEBUG: 'p2p-chat:*,libp2p:connection-manager*,libp2p:connection-monitor*,libp2p:dialer*' } : process.env })
      x.proc = proc
      let stderr = ''
      proc.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
      // NETNS_DEBUG=<dir>: run the nodes with DEBUG set (see the spawn env) and keep their logs there
      if (process.env.NETNS_DEBUG != null) proc.stderr.pipe(createWriteStream(`${process.env.NETNS_DEBUG}/node${x.i}.log`))
      let ready!: () => void
      const isReady = new Promise<void>(resolve => { ready = resolve })
      createInterface({ input: proc.stdout }).on('line', line => {
        let e: any
        try { e = JSON.parse(line) } catch { return }
        if (e.event === 'ready') ready()
        if (e.event === 'message') x.seen.add(e.message.id)
      })
      await Promise.race([isReady, once(proc, 'exit').then(([code]) => { throw new Error(`node ${x.i} exited ${code}: ${stderr}`) })])
    }))

    const topic = 'lossy-net'
    await cliIn(nodes[0].ns, ['create', topic, '--data-dir', nodes[0].dataDir])
    const { secret } = await cliIn(nodes[0].ns, ['invite', topic, '--secret', '--data-dir', nodes[0].dataDir])
    await Promise.all(nodes.slice(1).map(async x => cliIn(x.ns, ['join', topic, '--secret', secret, '--data-dir', x.dataDir])))

    const sent = new Set<string>()
    const sendFrom = async (xs: NsNode[], phase: string): Promise<void> => {
      await Promise.all(xs.map(async (x) => {
        for (let k = 0; k < perPhase; k++) sent.add((await cliIn(x.ns, ['send', topic, `${phase} ${x.i}-${k}`, '--data-dir', x.dataDir])).id)
      }))
    }
    const converged = (): boolean => nodes.every(x => [...sent].every(id => x.seen.has(id)))
    const progress = (): string => nodes.map(x => `ns${x.i}: ${[...sent].filter(id => x.seen.has(id)).length}/${sent.size}`).join(', ')

    // 1: everyone connected through the slow, lossy network
    await sendFrom(nodes, 'before')
    const t1 = Date.now()
    await waitUntil('every node to hold every message', converged, 90_000).catch((err: unknown) => { t.diagnostic(progress()); throw err })
    const before = Date.now() - t1

    // 2: the last node cut off while both sides chat
    const cut = nodes[n - 1]
    sh('ip', ['-n', hub, 'link', 'set', `port${cut.i}`, 'down'])
    const partitionStart = Date.now()
    await sendFrom(nodes, 'during')
    // the partition lasts a while: long enough for connections to be declared dead
    await new Promise(resolve => setTimeout(resolve, Math.max(0, partitionMs - (Date.now() - partitionStart))))
    const isolatedOnly = [...sent].filter(id => cut.seen.has(id) && !nodes[0].seen.has(id)).length

    // 3: heal
    sh('ip', ['-n', hub, 'link', 'set', `port${cut.i}`, 'up'])
    const t3 = Date.now()
    // convergence within a minute of the heal, whatever the outage: nobody was given up on
    await waitUntil('every node to converge after the partition heals', converged, scale(120_000, 60_000)).catch((err: unknown) => { t.diagnostic(progress()); throw err })
    const heal = Date.now() - t3

    // the histories, read back: the same set everywhere
    const histories = await Promise.all(nodes.map(async x => new Set<string>((await cliIn(x.ns, ['history', topic, '--limit', '10000', '--data-dir', x.dataDir])).messages.map((m: any) => m.id))))
    for (const h of histories) assert.deepEqual([...h].sort(), [...sent].sort())
    t.diagnostic(`nodes: ${n} in namespaces; delay ${DELAY_MS} ms each way (relay), loss ${lossy ? LOSS_PERCENT : 0} % of packets out of each node (nftables); messages sent: ${sent.size}, delivered: ${sent.size} at each node; converged in ${before} ms before the partition`)
    t.diagnostic(`partition: node ${cut.i} cut off for ${Math.round(partitionMs / 1000)} s (${isolatedOnly} messages held only on its side when the partition ended); healed and converged in ${heal} ms; records lost: 0`)
  })
})
