/**
 * A small internet in network namespaces, for tests of real CLI nodes behind
 * NATs (test/connectivity-nat.test.ts):
 *
 *   "internet" namespace: bridge br0, 10.233.0.0/24 (no address of its own)
 *     ├─ public host i:  eth0 10.233.0.(10+i)               e.g. the relay, a DHT node
 *     └─ home n router:  wan 10.233.0.(100+n) ── lan 192.168.n.1/24
 *                                                  └─ home n host: eth0 192.168.n.2, default via .1
 *
 * Each router masquerades what leaves by its wan port (nftables, postrouting)
 * and forwards from wan only packets of connections its LAN opened (ct state
 * established,related); anything new from the public side is dropped, as is
 * anything new addressed to the router itself. Every public host and router
 * has a route to every home's LAN through that home's router: a packet from
 * outside reaches the router, so it is the NAT's policy (not a missing route)
 * that keeps inbound connections out. Private test addresses exist only
 * inside these namespaces; nothing leaves the machine.
 *
 * Nodes run as `ip netns exec <ns> node bin/p2p-chat.js start --headless
 * --json --no-mdns --no-public-network` (and P2P_CHAT_NO_PUBLIC_NETWORK=1),
 * subcommands with `--json` in the same namespace (the local API is on that
 * namespace's 127.0.0.1). `NAT_DEBUG=<dir>` keeps every node's stderr there
 * (with DEBUG=p2p-chat:*,libp2p:circuit-relay* unless DEBUG is set).
 * Everything is stopped and deleted when the test ends, pass or fail.
 */
import { execFile, execFileSync, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { CLI } from './cli-helpers.js'
import { tempDir, waitUntil, defer } from './helpers.js'
import { preparedDataDir } from './fault-helpers.js'
import type { ChildProcess } from 'node:child_process'
import type { TestContext } from 'node:test'

export const PUBLIC_SUBNET = '10.233.0'
/** the port every node listens on in its namespace (one node per namespace) */
export const NODE_PORT = 4747

export function sh (cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] })
}

export function has (tool: string): boolean {
  try { sh('sh', ['-c', `command -v ${tool}`]); return true } catch { return false }
}

/** Why this harness cannot run here (tools missing, not root, no namespaces), or undefined when it can. */
export function cannotNat (tools: string[] = []): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  for (const [tool, pkg] of [['ip', 'iproute2'], ['nft', 'nftables'], ...tools.map(x => [x, x])]) {
    if (!has(tool)) return `${tool} is not installed (apt-get install ${pkg})`
  }
  const probe = `p2pnat-probe-${process.pid}`
  try {
    sh('ip', ['netns', 'add', probe])
    sh('ip', ['netns', 'del', probe])
  } catch (err: any) {
    return `cannot create a network namespace: ${String(err.stderr ?? err.message).trim()}`
  }
  return undefined
}

/** Environment of every node and subcommand: never the public bootstrap list */
export const NODE_ENV: NodeJS.ProcessEnv = { P2P_CHAT_NO_PUBLIC_NETWORK: '1' }

export interface Place {
  /** namespace name */
  ns: string
  /** the address a node there listens on */
  ip: string
  label: string
}

export interface Home extends Place {
  n: number
  router: string
  /** the router's address on the public bridge: what the internet sees of this home */
  publicIp: string
}

export interface NatNet {
  /** unique to this net: in namespace and log file names */
  tag: string
  internet: string
  /** public hosts by label */
  hosts: Record<string, Place>
  homes: Home[]
  /** every node started on this net (stopped at the end) */
  nodes: NsNode[]
  /** processes to end before the namespaces go */
  procs: Set<ChildProcess>
}

let nets = 0

/**
 * Build the net: the bridge, `publicHosts` (labels) on it, `homes` NATed
 * homes. Deleted (after every process on it is stopped) when the test ends.
 */
export async function makeNatNet (t: TestContext, opts: { publicHosts: string[], homes: number }): Promise<NatNet> {
  const tag = `${process.pid % 100_000}${String.fromCharCode(97 + (nets++ % 26))}`
  const made: string[] = []
  const net: NatNet = { tag, internet: `p2pnat-i${tag}`, hosts: {}, homes: [], nodes: [], procs: new Set() }
  defer(t, async () => {
    await Promise.all([...net.procs].map(async p => stopProc(p)))
    for (const ns of made.reverse()) {
      try { sh('ip', ['netns', 'del', ns]) } catch { /* already gone */ }
    }
  })
  const addNs = (ns: string): void => {
    sh('ip', ['netns', 'add', ns]); made.push(ns)
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  }
  let ports = 0
  /** a veth from `ns` (named `dev`) to a port of the bridge */
  const plug = (ns: string, dev: string, addr: string): void => {
    const port = `p${ports++}`
    sh('ip', ['link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', net.internet])
    sh('ip', ['-n', net.internet, 'link', 'set', port, 'master', 'br0', 'up'])
    sh('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev])
    sh('ip', ['-n', ns, 'link', 'set', dev, 'up'])
  }

  addNs(net.internet)
  sh('ip', ['-n', net.internet, 'link', 'add', 'br0', 'type', 'bridge'])
  sh('ip', ['-n', net.internet, 'link', 'set', 'br0', 'up'])

  opts.publicHosts.forEach((label, i) => {
    const ns = `p2pnat-${label}${tag}`
    addNs(ns)
    const ip = `${PUBLIC_SUBNET}.${10 + i}`
    plug(ns, 'eth0', ip)
    net.hosts[label] = { ns, ip, label }
  })

  for (let n = 1; n <= opts.homes; n++) {
    const router = `p2pnat-r${n}-${tag}`
    const ns = `p2pnat-h${n}-${tag}`
    addNs(router); addNs(ns)
    const publicIp = `${PUBLIC_SUBNET}.${100 + n}`
    plug(router, 'wan', publicIp)
    sh('ip', ['link', 'add', 'lan', 'netns', router, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
    sh('ip', ['-n', router, 'addr', 'add', `192.168.${n}.1/24`, 'dev', 'lan'])
    sh('ip', ['-n', router, 'link', 'set', 'lan', 'up'])
    const ip = `192.168.${n}.2`
    sh('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0'])
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up'])
    sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', `192.168.${n}.1`])
    sh('ip', ['netns', 'exec', router, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'])
    sh('ip', ['netns', 'exec', router, 'nft', '-f', '-'], `table ip p2pnat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" oifname "wan" accept
    iifname "wan" counter drop comment "new from outside"
  }
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iifname { "lo", "lan" } accept
    iifname "wan" counter drop comment "new from outside"
  }
}
`)
    net.homes.push({ n, router, ns, ip, publicIp, label: `home${n}` })
  }
  // routes to every LAN through its router, from every public host and every other router
  for (const home of net.homes) {
    for (const from of [...Object.values(net.hosts).map(h => h.ns), ...net.homes.filter(h => h !== home).map(h => h.router)]) {
      sh('ip', ['-n', from, 'route', 'add', `192.168.${home.n}.0/24`, 'via', home.publicIp])
    }
  }
  return net
}

/** Packets from the public side the router dropped so far (forwarded to its LAN, and to itself). */
export function natDrops (home: Home): { forward: number, input: number } {
  const count = (chain: string): number => {
    const m = /counter packets (\d+)/.exec(sh('ip', ['netns', 'exec', home.router, 'nft', 'list', 'chain', 'ip', 'p2pnat', chain]))
    return Number(m?.[1] ?? NaN)
  }
  return { forward: count('forward'), input: count('input') }
}

async function stopProc (p: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.exitCode != null || p.signalCode != null) return
  const exited = once(p, 'exit')
  p.kill(signal)
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

/** Spawn a program in a namespace; ended when the net is torn down. */
export function spawnIn (net: NatNet, ns: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  net.procs.add(p)
  p.once('exit', () => net.procs.delete(p))
  return p
}

// ---------------------------------------------------------------------------
// TCP probes with node's net module, run inside a namespace

/** 'connected', 'timeout', 'refused', 'unreachable', or another error code */
export type ProbeResult = string

/** Try to open a TCP connection from `ns` to host:port: what happened. */
export async function probeTcp (ns: string, host: string, port: number, timeout = 3000): Promise<ProbeResult> {
  const script = `const s = require('node:net').connect({ host: ${JSON.stringify(host)}, port: ${port} });
const t = setTimeout(() => { console.log('timeout'); process.exit(0) }, ${timeout});
s.on('connect', () => { clearTimeout(t); s.end('probe from ' + process.argv[1]); console.log('connected') });
s.on('close', () => process.exit(0));
s.on('error', e => { clearTimeout(t); console.log(e.code === 'ECONNREFUSED' ? 'refused' : (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') ? 'unreachable' : e.code); process.exit(0) })`
  const { stdout } = await promisify(execFile)('ip', ['netns', 'exec', ns, process.execPath, '-e', script, ns], { encoding: 'utf8' })
  return stdout.trim()
}

export interface TcpListener {
  /** remote addresses of the connections accepted so far */
  accepted: string[]
  close: () => Promise<void>
}

/** A TCP server in `ns` on host:port that records who connected. */
export async function listenTcp (net: NatNet, ns: string, host: string, port: number): Promise<TcpListener> {
  const script = `const srv = require('node:net').createServer(s => { console.log('accepted ' + s.remoteAddress); s.resume(); s.on('error', () => {}) });
srv.listen(${port}, ${JSON.stringify(host)}, () => console.log('listening'))`
  const p = spawnIn(net, ns, process.execPath, ['-e', script])
  const accepted: string[] = []
  let ready!: () => void
  const listening = new Promise<void>(resolve => { ready = resolve })
  createInterface({ input: p.stdout! }).on('line', line => {
    if (line === 'listening') ready()
    else if (line.startsWith('accepted ')) accepted.push(line.slice('accepted '.length))
  })
  let err = ''
  p.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d })
  await Promise.race([listening, once(p, 'exit').then(() => { throw new Error(`listener in ${ns} exited: ${err}`) })])
  return { accepted, close: async () => stopProc(p) }
}

// ---------------------------------------------------------------------------
// CLI nodes in namespaces

export interface NsNode {
  label: string
  place: Place
  dataDir: string
  peerId: string
  /** the --listen address(es) */
  listen: string[]
  /** /ip4/<ip>/tcp/<port>/p2p/<peer id> of its listen address */
  multiaddr: string
  /** the start arguments after the fixed ones (what restart() uses again) */
  args: string[]
  proc?: ChildProcess
  /** JSON log lines of the current run */
  events: any[]
  /** environment added for this node's runs */
  env: NodeJS.ProcessEnv
  /** stdout and stderr of every run, as they came */
  log: string[]
  output: () => string
  /** wait for a log line of the current run matching */
  waitFor: (match: (e: any) => boolean, timeout?: number) => Promise<any>
  /** ms since the epoch when the current run was spawned, and when it said ready */
  startedAt: number
  readyAt: number
}

export interface StartOpts {
  label?: string
  /** extra start arguments (--relay, --bootstrap ...) */
  args?: string[]
  name?: string
  env?: NodeJS.ProcessEnv
  dataDir?: string
  port?: number
}

/**
 * A data directory with an identity made in advance, so the node's peer id
 * and multiaddr are known before it starts (e.g. the relay's, for the others'
 * --bootstrap). Start it with startNode(net, node).
 */
export async function prepareNode (t: TestContext, place: Place, opts: StartOpts = {}): Promise<NsNode> {
  const { dataDir, peerId } = opts.dataDir != null ? { dataDir: opts.dataDir, peerId: '' } : await preparedDataDir(t)
  const port = opts.port ?? NODE_PORT
  const listen = [`/ip4/${place.ip}/tcp/${port}`]
  const args = [...(opts.name != null ? ['--name', opts.name] : []), ...(opts.args ?? [])]
  const log: string[] = []
  return {
    label: opts.label ?? place.label,
    place,
    dataDir,
    peerId,
    listen,
    multiaddr: `${listen[0]}/p2p/${peerId}`,
    args,
    events: [],
    env: opts.env ?? {},
    log,
    output: () => log.join(''),
    waitFor: async () => { throw new Error('not started') },
    startedAt: 0,
    readyAt: 0
  }
}

/** Start (or restart) a prepared node; resolves when it logs ready. */
export async function startNode (net: NatNet, node: NsNode, opts: { args?: string[], readyTimeout?: number } = {}): Promise<NsNode> {
  if (opts.args != null) node.args = opts.args
  const out = node.log
  const extraEnv = node.env
  const args = ['start', '--headless', '--json', '--log-messages', 'all', '--no-mdns', '--no-public-network', '--data-dir', node.dataDir,
    ...node.listen.flatMap(l => ['--listen', l]), ...node.args]
  const debugDir = process.env.NAT_DEBUG
  const env: NodeJS.ProcessEnv = { ...NODE_ENV, ...extraEnv }
  if (debugDir != null && process.env.DEBUG == null && extraEnv.DEBUG == null) env.DEBUG = 'p2p-chat:*,libp2p:circuit-relay*'
  node.startedAt = Date.now()
  const proc = spawnIn(net, node.place.ns, process.execPath, [CLI, ...args], env)
  if (!net.nodes.includes(node)) net.nodes.push(node)
  node.proc = proc
  const events: any[] = []
  node.events = events
  const waiters = new Set<() => void>()
  let stderr = ''
  out.push(`--- ${new Date().toISOString()} ip netns exec ${node.place.ns} p2p-chat ${args.join(' ')}\n`)
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-20_000); out.push(d) })
  const debugLog = debugDir != null ? createWriteStream(join(debugDir, `${net.tag}-${node.label}.log`), { flags: 'a' }) : undefined
  if (debugLog != null) proc.stderr!.pipe(debugLog)
  createInterface({ input: proc.stdout! }).on('line', line => {
    out.push(line + '\n')
    debugLog?.write(`${new Date().toISOString()} stdout ${line}\n`)
    try { events.push({ ...JSON.parse(line), at: Date.now() }) } catch { events.push({ raw: line, at: Date.now() }) }
    for (const w of waiters) w()
  })
  const exited = once(proc, 'exit').then(([code]) => code as number | null)
  node.waitFor = async (match, timeout = 20_000) => {
    const found = events.find(match)
    if (found != null) return found
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`${node.label}: timed out waiting for a log line; stderr: ${stderr.slice(-4000)}`)) }, timeout)
      const check = (): void => {
        const e = events.find(match)
        if (e != null) { clearTimeout(timer); waiters.delete(check); resolve(e) }
      }
      waiters.add(check)
      void exited.then(code => { if (waiters.has(check)) { clearTimeout(timer); waiters.delete(check); reject(new Error(`${node.label} exited with ${code}: ${stderr.slice(-4000)}`)) } })
    })
  }
  const ready = await node.waitFor(e => e.event === 'ready', opts.readyTimeout ?? 30_000)
  node.readyAt = ready.at
  if (node.peerId === '') { node.peerId = ready.peerId; node.multiaddr = `${node.listen[0]}/p2p/${ready.peerId}` }
  if (ready.peerId !== node.peerId) throw new Error(`${node.label} started as ${ready.peerId}, expected ${node.peerId}`)
  return node
}

/** prepareNode + startNode */
export async function runNode (t: TestContext, net: NatNet, place: Place, opts: StartOpts = {}): Promise<NsNode> {
  return startNode(net, await prepareNode(t, place, opts))
}

/** Stop a node (SIGTERM, SIGKILL after 10 s) and wait until it has exited. */
export async function stopNode (node: NsNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (node.proc != null) await stopProc(node.proc, signal)
}

/** Run a subcommand of the CLI against a node (in its namespace), parse its --json output. */
export async function cli<T = any> (node: NsNode, args: string[], opts: { timeout?: number } = {}): Promise<T> {
  const child = spawn('ip', ['netns', 'exec', node.place.ns, process.execPath, CLI, ...args, '--data-dir', node.dataDir, '--json'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...NODE_ENV } })
  let out = ''; let err = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout ?? 30_000)
  const [code] = await once(child, 'close')
  clearTimeout(timer)
  if (code !== 0) throw new Error(`${node.label}: p2p-chat ${args.join(' ')} exited ${code}: ${err}${out}`)
  return JSON.parse(out) as T
}

/** connection: 'direct' | 'relayed' | 'none' (what the node says; kept a string to show anything else it says) */
export interface MemberStatus { peerId: string, connection: string }
export interface NodeStatus {
  peerId: string
  addresses: string[]
  reachability?: string
  relayAddresses?: string[]
  members?: MemberStatus[]
  [k: string]: unknown
}

export async function status (node: NsNode): Promise<NodeStatus> {
  return cli<NodeStatus>(node, ['status'])
}

/** The node's relay addresses (/.../p2p/<relay>/p2p-circuit/p2p/<self>) from status --json; from its addresses when the field is missing. */
export async function relayAddressesOf (node: NsNode): Promise<string[]> {
  const s = await status(node)
  return s.relayAddresses ?? s.addresses.filter(a => a.includes('/p2p-circuit'))
}

/** Poll status until the node holds a reservation on `relay` (a relay address through it). */
export async function waitForReservation (node: NsNode, relay: NsNode, timeout = 60_000): Promise<string[]> {
  let addrs: string[] = []
  await waitUntil(`${node.label} to hold a reservation on ${relay.label}`, async () => {
    addrs = (await relayAddressesOf(node)).filter(a => a.includes(`/p2p/${relay.peerId}/p2p-circuit`))
    if (addrs.length === 0) await new Promise(resolve => setTimeout(resolve, 250))
    return addrs.length > 0
  }, timeout)
  return addrs
}

export interface HistoryMessage { id: string, text: string, [k: string]: unknown }

/** Every message of a group at a node (one page of up to 10000). */
export async function history (node: NsNode, topicId: string): Promise<HistoryMessage[]> {
  return (await cli<{ messages: HistoryMessage[] }>(node, ['history', topicId, '--limit', '10000'])).messages
}

/** Wait until the node's JSON log has announced every one of `ids` (message events of its current run). */
export async function waitForMessages (node: NsNode, ids: Iterable<string>, timeout = 60_000): Promise<void> {
  const want = new Set(ids)
  await node.waitFor(() => {
    const seen = new Set(node.events.filter(e => e.event === 'message').map(e => e.message.id))
    return [...want].every(id => seen.has(id))
  }, timeout).catch(async (err: unknown) => {
    const seen = new Set(node.events.filter(e => e.event === 'message').map(e => e.message.id))
    throw new Error(`${node.label} announced ${[...want].filter(id => seen.has(id)).length}/${want.size} messages: ${(err as Error).message}`)
  })
}

/** When (ms since the epoch) the node announced message `id`, or undefined. */
export function announcedAt (node: NsNode, id: string): number | undefined {
  return node.events.find(e => e.event === 'message' && e.message.id === id)?.at
}

// ---------------------------------------------------------------------------
// Packet capture (tcpdump) in a namespace

export interface Capture {
  /** stop capturing; the pcap file's bytes and the TCP payload of each direction of each flow, in capture order */
  stop: () => Promise<{ raw: Buffer, flows: Map<string, Buffer>, packets: number }>
}

/** Capture every TCP packet on `dev` in `ns` (tcpdump -w, full packets), ended with the net. */
export async function capture (t: TestContext, net: NatNet, ns: string, dev = 'eth0'): Promise<Capture> {
  const file = join(await tempDir(t, 'p2p-chat-pcap-'), 'capture.pcap')
  const p = spawnIn(net, ns, 'tcpdump', ['-i', dev, '-n', '-s', '0', '-U', '-Z', 'root', '-w', file, 'tcp'])
  let err = ''
  await new Promise<void>((resolve, reject) => {
    p.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; if (err.includes('listening on')) resolve() })
    p.once('exit', code => { reject(new Error(`tcpdump in ${ns} exited ${code}: ${err}`)) })
  })
  return {
    stop: async () => {
      await stopProc(p, 'SIGINT')
      const raw = await readFile(file)
      const { flows, packets } = tcpFlows(raw)
      return { raw, flows, packets }
    }
  }
}

/** TCP payloads of a pcap (Ethernet, IPv4), concatenated per direction of each flow ("src:port>dst:port"). */
export function tcpFlows (pcap: Buffer): { flows: Map<string, Buffer>, packets: number } {
  const parts = new Map<string, Buffer[]>()
  const le = pcap.readUInt32LE(0) === 0xa1b2c3d4 || pcap.readUInt32LE(0) === 0xa1b23c4d
  const u32 = (o: number): number => le ? pcap.readUInt32LE(o) : pcap.readUInt32BE(o)
  const link = u32(20)
  let off = 24
  let packets = 0
  while (off + 16 <= pcap.length) {
    const len = u32(off + 8)
    const frame = pcap.subarray(off + 16, off + 16 + len)
    off += 16 + len
    const ip = link === 1 ? 14 : link === 113 ? 16 : 0
    if (link === 1 && frame.readUInt16BE(12) !== 0x0800) continue
    if ((frame[ip] >> 4) !== 4 || frame[ip + 9] !== 6) continue
    const ihl = (frame[ip] & 0xf) * 4
    const total = frame.readUInt16BE(ip + 2)
    const tcp = ip + ihl
    const doff = (frame[tcp + 12] >> 4) * 4
    const payload = frame.subarray(tcp + doff, ip + total)
    packets++
    if (payload.length === 0) continue
    const addr = (o: number): string => [...frame.subarray(o, o + 4)].join('.')
    const key = `${addr(ip + 12)}:${frame.readUInt16BE(tcp)}>${addr(ip + 16)}:${frame.readUInt16BE(tcp + 2)}`
    let list = parts.get(key)
    if (list == null) parts.set(key, list = [])
    list.push(Buffer.from(payload))
  }
  return { flows: new Map([...parts].map(([k, v]) => [k, Buffer.concat(v)])), packets }
}
