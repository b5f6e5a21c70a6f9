import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { ApiServer } from '../api/index.js'
import { API_FILE, GROUPS_FILE, HISTORY_DIR, IDENTITY_FILE, PROFILE_FILE, NO_PUBLIC_NETWORK_ENV, PUBLIC_BOOTSTRAP } from '../config.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { DataDirError, ListenError } from '../errors.js'
import { ChatNode } from '../node.js'
import { dataDirOf } from './commands.js'
import { reclaimAfterStart } from './footprint.js'
import { runInteractive } from './interactive.js'
import { EXIT, formatMessage, shortId, UsageError } from './output.js'

export interface StartOptions {
  dataDir?: string
  listen?: string[]
  bootstrap?: string[]
  name?: string
  mdns?: boolean
  headless?: boolean
  apiPort?: number
  newIdentity?: boolean
  json?: boolean
  /** false with --no-public-network */
  publicNetwork?: boolean
  relay?: boolean
  relayAllow?: string[]
  /** headless log: 'live' (default) one line per live message and one per sync session; 'all' also one per message sync brought */
  logMessages?: 'live' | 'all'
  /** --max-file-size: largest file sent or fetched, bytes */
  maxFileSize?: number
  /** --auto-fetch: fetch announced files up to this many bytes as they arrive */
  autoFetch?: number
}

/** Is the public network on: not turned off by --no-public-network nor by the environment? */
export function publicNetworkOf (opts: StartOptions): boolean {
  return opts.publicNetwork !== false && process.env[NO_PUBLIC_NETWORK_ENV] !== '1'
}

/** --listen / --bootstrap values, checked before anything starts: one line, exit 64 */
function checkAddresses (flag: string, values: string[] | undefined, needPeer: boolean): void {
  for (const v of values ?? []) {
    try {
      multiaddr(v)
    } catch {
      throw new UsageError(`${flag} "${v}" is not a multiaddr: give one like ${needPeer ? '/ip4/192.0.2.7/tcp/4747/p2p/12D3KooW…' : '/ip4/0.0.0.0/tcp/4747'}`)
    }
    if (needPeer && !v.includes('/p2p/')) throw new UsageError(`${flag} "${v}" has no /p2p/<peer-id>: add the peer id of the node to connect to`)
  }
}

/** pid in api.json, when that process still runs */
function runningPid (dataDir: string): number | undefined {
  try {
    const info = JSON.parse(readFileSync(join(dataDir, API_FILE), 'utf8')) as { pid?: unknown }
    if (typeof info.pid !== 'number' || info.pid === process.pid) return undefined
    process.kill(info.pid, 0)
    return info.pid
  } catch {
    return undefined
  }
}

function alreadyRunning (dataDir: string, pid: number | undefined): DataDirError {
  return new DataDirError(`a node is already running on ${dataDir}${pid != null ? ` (pid ${pid})` : ''}: stop it with "p2p-chat stop --data-dir ${dataDir}", or give this one another --data-dir`)
}

/** Bytes of LevelDB tables and logs in the history directory: 0 when no message was ever stored */
function historyBytes (dataDir: string): number {
  let total = 0
  try {
    for (const f of readdirSync(join(dataDir, HISTORY_DIR))) {
      if (f.endsWith('.ldb') || f.endsWith('.log') || f.endsWith('.sst')) total += statSync(join(dataDir, HISTORY_DIR, f)).size
    }
  } catch {
    return 0 // no history yet
  }
  return total
}

/** What can be known before the node opens anything: wrong usage and a data directory in use or inconsistent */
function preflight (dataDir: string, opts: StartOptions): void {
  checkAddresses('--listen', opts.listen, false)
  checkAddresses('--bootstrap', opts.bootstrap, true)
  if (opts.relayAllow != null && opts.relay !== true) throw new UsageError('--relay-allow goes with --relay')
  for (const id of opts.relayAllow ?? []) {
    try {
      peerIdFromString(id)
    } catch {
      throw new UsageError(`--relay-allow "${id}" is not a peer id (12D3KooW…)`)
    }
  }
  const pid = runningPid(dataDir)
  if (pid != null) throw alreadyRunning(dataDir, pid)
  const held = historyBytes(dataDir)
  if (held > 0 && !existsSync(join(dataDir, GROUPS_FILE))) {
    process.stderr.write(`p2p-chat: warning: ${join(dataDir, GROUPS_FILE)} is missing, but ${join(dataDir, HISTORY_DIR)} holds messages: the node starts with no groups, and their history stays unreadable until you rejoin them (their invites, or "p2p-chat import" of a backup made with --include-secrets)\n`)
  }
  // a node ran here (it wrote profile.json) with an identity that is gone; a directory that only
  // received an import never had one, and starting there makes the first one
  if (opts.newIdentity !== true && held > 0 && !existsSync(join(dataDir, IDENTITY_FILE)) && existsSync(join(dataDir, PROFILE_FILE))) {
    throw new DataDirError(`${join(dataDir, IDENTITY_FILE)} is missing, but ${join(dataDir, HISTORY_DIR)} holds history written as that identity: put the key back (or import a backup made with --include-identity), or start with --new-identity to go on as a new peer (your old messages will no longer be "you")`)
  }
}

/** Errors of starting as one line each: usage errors exit 64 */
function startError (err: unknown, dataDir: string, opts: StartOptions): unknown {
  if (err instanceof ListenError) return new UsageError(err.message)
  const e = err as NodeJS.ErrnoException
  if (e?.code === 'EADDRINUSE' && opts.apiPort != null) return new UsageError(`--api-port ${opts.apiPort}: 127.0.0.1:${opts.apiPort} is already in use: choose another port, or leave --api-port out for any free one`)
  if (e?.code === 'EACCES' && opts.apiPort != null) return new UsageError(`--api-port ${opts.apiPort}: permission denied: choose a port above 1023`)
  if (err instanceof DataDirError && /\block\b/i.test(err.message)) return alreadyRunning(dataDir, runningPid(dataDir))
  return err
}

/**
 * `p2p-chat start`: node + local API, then the interactive terminal or
 * headless log lines until Ctrl-C, SIGTERM, /quit or `p2p-chat stop`.
 * Returns the exit code: 0 after a clean stop.
 */
export async function runStart (opts: StartOptions): Promise<number> {
  const dataDir = dataDirOf(opts)
  preflight(dataDir, opts)
  const interactive = opts.headless !== true && process.stdin.isTTY && process.stdout.isTTY
  const publicNetwork = publicNetworkOf(opts)
  const node = new ChatNode({
    dataDir,
    listen: opts.listen,
    bootstrap: opts.bootstrap ?? (publicNetwork ? PUBLIC_BOOTSTRAP : undefined),
    name: opts.name,
    mdns: opts.mdns,
    publicNetwork,
    ...(opts.relay === true ? { relay: { allow: opts.relayAllow } } : {}),
    files: { ...(opts.maxFileSize != null ? { maxFileSize: opts.maxFileSize } : {}), ...(opts.autoFetch != null ? { autoFetchMaxSize: opts.autoFetch } : {}) }
  })
  let started = false
  let stopping: Promise<void> | undefined
  let stopRequested: (why: string) => void = () => {}
  const requested = new Promise<string>(resolve => { stopRequested = resolve })
  const api = new ApiServer(node, { port: opts.apiPort, onShutdown: () => { stopRequested('p2p-chat stop') } })
  const log = (text: string, fields: Record<string, unknown>): void => {
    if (interactive) return
    process.stdout.write(opts.json === true ? JSON.stringify({ time: new Date().toISOString(), ...fields }) + '\n' : `${new Date().toISOString()} ${text}\n`)
  }

  const shutdown = async (why: string): Promise<void> => {
    stopping ??= (async () => {
      if (started) log(`stopping (${why})`, { event: 'stopping', reason: why })
      await api.stop()
      await node.stop()
      if (started) log('stopped', { event: 'stopped' })
    })()
    return stopping
  }
  let forced: (code: number) => void = () => {}
  const forcedExit = new Promise<number>(resolve => { forced = resolve })
  let signals = 0
  const onSignal = (sig: NodeJS.Signals): void => {
    if (++signals > 1) {
      process.stderr.write('p2p-chat: forced exit (a second signal while stopping)\n')
      forced(EXIT.ERROR)
      return
    }
    stopRequested(sig)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  try {
    try {
      await node.start()
      await api.start()
    } catch (err) {
      await shutdown('error').catch(() => {})
      throw startError(err, dataDir, opts)
    }
    started = true
    if (signals > 0) stopRequested('SIGINT') // a Ctrl-C while starting
    const info = { url: api.url ?? '' }
    // live messages one line each; what sync caught up, one line per session (a long catch-up is not a million lines)
    const everyMessage = opts.logMessages === 'all'
    node.on('message', (m, origin) => { if (everyMessage || origin.via !== 'sync') log(formatMessage(m, { showTopic: true }), { event: 'message', message: m, via: origin.via }) })
    node.on('synced', e => { log(`synced ${e.topicId} with ${shortId(e.peer)}: ${e.received} received, ${e.sent} sent in ${e.ms} ms`, { event: 'synced', ...e }) })
    node.on('peer:connect', p => { log(`peer connected ${p.peerId}`, { event: 'peer:connect', peerId: p.peerId }) })
    node.on('peer:disconnect', p => { log(`peer disconnected ${p.peerId}`, { event: 'peer:disconnect', peerId: p.peerId }) })
    node.on('group:joined', g => { log(`joined ${g.topicId}`, { event: 'group:joined', topicId: g.topicId }) })
    node.on('group:left', g => { log(`left ${g.topicId}`, { event: 'group:left', topicId: g.topicId }) })
    log(`ready: peer ${node.peerId} (${node.name}), api ${info.url}, listening on ${node.addresses.join(' ')}`,
      { event: 'ready', peerId: node.peerId, name: node.name, api: info.url, addresses: node.addresses, dataDir, pid: process.pid })
    // what start-up used and no longer needs, given back once (src/cli/footprint.ts)
    reclaimAfterStart()
    if (interactive) {
      process.stdout.write(`p2p-chat: you are ${node.name} (${shortId(node.peerId)})\nlistening on:\n${node.addresses.map(a => `  ${a}`).join('\n')}\n`)
      void runInteractive(node, { stopRequested: requested }).then(() => { stopRequested('quit') })
    }
    const why = await requested
    return await Promise.race([shutdown(why).then(() => EXIT.OK), forcedExit])
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
