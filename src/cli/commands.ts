import { readFileSync, statSync } from 'node:fs'
import { ApiClient, parseEvent } from '../api/index.js'
import { resolveDataDir, DATA_DIR_ENV } from '../config.js'
import { MAX_TEXT_BYTES } from '../envelope/index.js'
import { ChatError, InvalidInputError, InvalidInviteError, MessageTooLargeError, NodeNotRunningError, TimeoutError, UnknownGroupError } from '../errors.js'
import { decodeInvite, INVITE_PREFIX } from '../groups/index.js'
import { act, EXIT, formatMembers, formatMessage, InterruptedError, parseDuration, parseWhole, UsageError } from './output.js'
import { progressBar } from './progress.js'
import type { Command } from 'commander'
import type { ChatMessage, GroupInfo, HistoryResult } from '../node.js'
import type { Status } from '../api/index.js'

export interface CommonOptions { dataDir?: string, json?: boolean, wait?: number }

/** How long `join` waits for a member of the group to answer on its topic */
export const JOIN_MEMBER_WAIT_MS = 5000
/** How often a wait for the node polls its api.json and API */
const WAIT_POLL_MS = 50

/** The data directory of the options: a path that exists must be a directory (else wrong usage, exit 64). */
export function dataDirOf (opts: { dataDir?: string }): string {
  const dir = resolveDataDir(opts.dataDir)
  try {
    if (!statSync(dir).isDirectory()) throw new UsageError(`--data-dir ${dir} is a file, not a directory: give a directory (it is created when missing)`)
  } catch (err) {
    if (err instanceof UsageError) throw err
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOTDIR') throw new UsageError(`--data-dir ${dir} is inside a file, not a directory: give a directory (it is created when missing)`)
    // ENOENT: no node ever ran there, which the command reports
  }
  return dir
}

/** A client for the node of the options' data directory (without waiting for it; see connect). */
export function clientFor (opts: CommonOptions): ApiClient {
  return new ApiClient(dataDirOf(opts))
}

/**
 * Wait until the node of `dataDir` answers, up to `ms`: a node started a
 * moment ago (`start … &`) needs a few seconds before its API is up.
 */
export async function waitReady (dataDir: string, ms: number, signal?: AbortSignal): Promise<Status> {
  const deadline = Date.now() + ms
  while (true) {
    // a fresh client each time: api.json may be rewritten by the node that starts
    try {
      return await new ApiClient(dataDir).status()
    } catch (err) {
      if (!(err instanceof NodeNotRunningError)) throw err
    }
    if (Date.now() >= deadline) throw new NodeNotRunningError(dataDir, `no p2p-chat node answered for ${dataDir} within ${formatMs(ms)}: is "p2p-chat start --data-dir ${dataDir}" running? (its log says why it stopped)`)
    if (signal?.aborted === true) throw new InterruptedError()
    await new Promise(resolve => setTimeout(resolve, WAIT_POLL_MS))
  }
}

/** The client for the command, after waiting `--wait` for the node when given. */
export async function connect (opts: CommonOptions): Promise<ApiClient> {
  const dataDir = dataDirOf(opts)
  if (opts.wait != null) await waitReady(dataDir, opts.wait)
  return new ApiClient(dataDir)
}

export function formatMs (ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
}

export function out (opts: CommonOptions, json: unknown, text: () => string): void {
  process.stdout.write(opts.json === true ? JSON.stringify(json, null, 2) + '\n' : text() + '\n')
}

/** Add the options every client command has */
export function common (cmd: Command): Command {
  return cmd
    .option('-d, --data-dir <dir>', `data directory of the node to talk to (default: $${DATA_DIR_ENV} or ~/.p2p-chat)`)
    .option('--json', 'machine-readable JSON output')
    .option('--wait <duration>', 'wait up to this long (30s, 500ms, 2m) for the node to be ready, e.g. right after "start &"', parseDuration('--wait'))
}

/** Read the message text from stdin, at most one byte past the message limit. */
async function readStdin (): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('no message text: give it as an argument or pipe it on stdin')
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk))
    chunks.push(b)
    size += b.byteLength
    if (size > MAX_TEXT_BYTES + 1) {
      process.stdin.destroy()
      throw new InvalidInputError(`the message on stdin is longer than ${MAX_TEXT_BYTES} bytes, the limit of one message`)
    }
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\n$/, '')
}

/** Catch what the node would only say in less helpful words */
function checkInvite (arg: string): void {
  if (arg.startsWith(INVITE_PREFIX) && arg.length === INVITE_PREFIX.length) {
    throw new InvalidInviteError(`"${arg}" is only the start of an invite: copy the whole line "p2p-chat create" or "p2p-chat invite" printed`)
  }
}

/** How the join went, as the member-reached summary (also in --json) */
interface JoinReport { membersReached: number, warning?: string }

/** After a join: wait a little for a member to answer on the group's topic, and say honestly what happened. */
async function joinReport (client: ApiClient, g: GroupInfo & { dialed: number }, inviteAddrs: number): Promise<JoinReport> {
  const connected = g.dialed > 0 || (await client.peers()).length > 0
  let peers = g.peers
  if (peers === 0 && connected) {
    const deadline = Date.now() + JOIN_MEMBER_WAIT_MS
    while (peers === 0 && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 100))
      peers = (await client.group(g.topicId)).peers
    }
  }
  if (peers > 0) return { membersReached: peers }
  if (inviteAddrs > 0 && g.dialed === 0) {
    return { membersReached: 0, warning: `the inviter is not reachable now (none of its ${inviteAddrs} address(es) answered): messages arrive once a member of ${g.topicId} connects` }
  }
  if (connected) {
    return { membersReached: 0, warning: `connected to ${g.dialed > 0 ? 'the inviter' : 'other peers'}, but none of them is in ${g.topicId} with this secret: the secret is probably wrong (check the invite), or the group was left` }
  }
  return { membersReached: 0, warning: `no member of ${g.topicId} is connected yet: "p2p-chat dial <address>" one, or wait for one to connect` }
}

/** `status` for people: who we are, how we are reached, and how each member is connected */
function formatStatus (s: Status): string {
  const members = s.members.length === 0
    ? ['  (none known yet)']
    : s.members.map(m => `  ${m.peerId}  ${m.connection}${m.connection === 'none' && m.failures > 0 ? ` (${m.failures} failed redials)` : ''}${m.groups.length > 0 ? `  in ${m.groups.join(', ')}` : ''}`)
  return [
    `peer id       ${s.peerId}`,
    `name          ${s.name}`,
    `data dir      ${s.dataDir}`,
    `pid           ${s.pid}`,
    `groups        ${s.groups}`,
    `peers         ${s.peers}`,
    `reachability  ${s.reachability}${s.relay != null ? ` (serving as a relay: ${s.relay.reservations} reservations)` : ''}`,
    'addresses',
    ...s.listenAddresses.map(a => `  ${a}`),
    'relay addresses',
    ...(s.relayAddresses.length > 0 ? s.relayAddresses.map(a => `  ${a}`) : ['  (none: no relay reservation)']),
    'members',
    ...members
  ].join('\n')
}

export function registerClientCommands (program: Command): void {
  act(common(program.command('status').description('show the running node: peer id, name, addresses, counts')),
    async (opts: CommonOptions) => {
      const s = await (await connect(opts)).status()
      out(opts, s, () => formatStatus(s))
      return EXIT.OK
    })

  act(program.command('wait-ready')
    .description('wait until the node of the data directory answers (after "start &"), then print its status')
    .option('-d, --data-dir <dir>', `data directory of the node (default: $${DATA_DIR_ENV} or ~/.p2p-chat)`)
    .option('--timeout <duration>', 'give up after this long (exit 2)', parseDuration('--timeout'), 30_000)
    .option('--json', 'print the status as JSON'),
  async (opts: CommonOptions & { timeout: number }) => {
    const s = await waitReady(dataDirOf(opts), opts.timeout)
    out(opts, s, () => `ready: ${s.name} (${s.peerId}), pid ${s.pid}`)
    return EXIT.OK
  })

  act(program.command('stop')
    .description('stop the node of the data directory (as Ctrl-C in its terminal would) and wait until it has exited')
    .option('-d, --data-dir <dir>', `data directory of the node (default: $${DATA_DIR_ENV} or ~/.p2p-chat)`)
    .option('--timeout <duration>', 'give up waiting for it to exit after this long (exit 1)', parseDuration('--timeout'), 30_000)
    .option('--json', 'print { stopped, pid } as JSON'),
  async (opts: CommonOptions & { timeout: number }) => {
    const dataDir = dataDirOf(opts)
    const { pid } = await new ApiClient(dataDir).shutdown()
    const deadline = Date.now() + opts.timeout
    while (alive(pid)) {
      if (Date.now() >= deadline) throw new TimeoutError(`the node (pid ${pid}) is still stopping after ${formatMs(opts.timeout)}: "kill ${pid}" stops it the same way`)
      await new Promise(resolve => setTimeout(resolve, WAIT_POLL_MS))
    }
    out(opts, { stopped: true, pid, dataDir }, () => `stopped the node of ${dataDir} (pid ${pid})`)
    return EXIT.OK
  })

  act(common(program.command('peers').description('list connected peers')),
    async (opts: CommonOptions) => {
      const peers = await (await connect(opts)).peers()
      out(opts, peers, () => peers.length === 0 ? 'no peers connected' : peers.map(p => `${p.peerId}  ${p.addrs.join(' ')}`).join('\n'))
      return EXIT.OK
    })

  act(common(program.command('dial').argument('<multiaddr>', 'address with /p2p/<peer-id>, or a peer id the node knows').description('connect to a peer')),
    async (addr: string, opts: CommonOptions) => {
      const client = await connect(opts)
      const self = (await client.status()).peerId
      if (addr === self || addr.endsWith(`/p2p/${self}`)) throw new InvalidInputError('that is this node\'s own peer id: dial another node (its "p2p-chat status" shows its addresses)')
      const peer = await client.dial(addr)
      out(opts, peer, () => `connected to ${peer.peerId}`)
      return EXIT.OK
    })

  act(common(program.command('create').argument('<topic-id>', 'group id: 1-64 letters, digits, ".", "_", "-"').description('create a group with a new secret and print its invite'))
    .option('--name <name>', 'display name of the group'),
  async (topicId: string, opts: CommonOptions & { name?: string }) => {
    const g = await (await connect(opts)).createGroup(topicId, opts.name)
    out(opts, g, () => `created ${g.topicId}\ninvite (share it only with members, it holds the secret):\n${g.invite}`)
    return EXIT.OK
  })

  act(common(program.command('invite').argument('<topic-id>').description('print an invite for a group (topic id, secret, this node\'s addresses)'))
    .option('--secret', 'also print the secret alone, for "join <topic-id> --secret"'),
  async (topicId: string, opts: CommonOptions & { secret?: boolean }) => {
    const inv = await (await connect(opts)).invite(topicId, opts.secret === true)
    out(opts, inv, () => inv.secret != null ? `${inv.invite}\nsecret: ${inv.secret}` : inv.invite)
    return EXIT.OK
  })

  act(common(program.command('join').argument('<invite-or-topic-id>', 'an invite (p2pchat1…), or a topic id with --secret').description('join a group by invite, or by topic id and secret; says whether a member was reached'))
    .option('--secret <secret>', 'group secret (64 hex characters) when joining by topic id'),
  async (arg: string, opts: CommonOptions & { secret?: string }) => {
    const client = await connect(opts)
    let inviteAddrs = 0
    if (opts.secret == null) {
      checkInvite(arg)
      inviteAddrs = decodeInvite(arg).addrs.length
    }
    const g = opts.secret != null ? await client.join({ topicId: arg, secret: opts.secret }) : await client.join({ invite: arg })
    const report = await joinReport(client, g, inviteAddrs)
    out(opts, { ...g, ...report }, () => `joined ${g.topicId}${report.membersReached > 0 ? `: ${report.membersReached} member(s) reached` : ''}`)
    if (report.warning != null) process.stderr.write(`p2p-chat: warning: ${report.warning}\n`)
    return EXIT.OK
  })

  act(common(program.command('leave').argument('<topic-id>').description('leave a group: its history stays on disk, sealed with the group\'s secret; leave prints how to rejoin to read it again')),
    async (topicId: string, opts: CommonOptions) => {
      const client = await connect(opts)
      // the secret is forgotten on leaving: say how to come back while it is still known
      const { secret } = await client.invite(topicId, true)
      const r = await client.leave(topicId)
      const rejoin = `p2p-chat join ${topicId} --secret ${secret ?? ''}`
      out(opts, { ...r, rejoin }, () => `left ${topicId}. Its history stays on disk, sealed with the group's secret, which this node no longer holds: to read it again, rejoin with\n  ${rejoin}`)
      return EXIT.OK
    })

  act(common(program.command('members').argument('<topic-id>').description('list a group\'s members: who is on it now and who wrote lately, with names, presence and connection')),
    async (topicId: string, opts: CommonOptions) => {
      const members = await (await connect(opts)).members(topicId)
      out(opts, members, () => formatMembers(members))
      return EXIT.OK
    })

  act(common(program.command('groups').description('list the groups this node is in')),
    async (opts: CommonOptions) => {
      const groups = await (await connect(opts)).groups()
      out(opts, groups, () => groups.length === 0 ? 'no groups yet: "p2p-chat create <topic-id>" or "p2p-chat join <invite>"' : groups.map(g => `${g.topicId}${g.name != null ? ` (${g.name})` : ''}  ${g.peers} peer(s)`).join('\n'))
      return EXIT.OK
    })

  act(common(program.command('send')
    .argument('<topic-id>', 'the group to send to (its id, as "p2p-chat groups" lists it)')
    .argument('[text]', `message text (at most ${MAX_TEXT_BYTES} bytes); read from stdin when omitted`)
    .description('send a message to a group; retried while the node is overloaded (429), never stored twice'))
    .option('--id <key>', 'idempotency key (1-128 printable characters): sending again with the same key, after a timeout or a crash, returns the message stored the first time instead of a second copy'),
  async (topicId: string, text: string | undefined, opts: CommonOptions & { id?: string }) => {
    const client = await connect(opts)
    const body = text ?? await readStdin()
    const size = Buffer.byteLength(body)
    if (size > MAX_TEXT_BYTES) throw new MessageTooLargeError(size, MAX_TEXT_BYTES)
    const m = await client.send(topicId, body, opts.id != null ? { idempotencyKey: opts.id } : {})
    out(opts, m, () => `sent ${m.id.slice(0, 12)} to ${topicId}`)
    return EXIT.OK
  })

  act(common(program.command('history').argument('<topic-id>').description('print a group\'s history, newest page first (of a group you left: rejoin it first, as "leave" said)'))
    .option('--limit <n>', 'messages per page (1-10000)', parseWhole('--limit', 1, 10_000), 50)
    .option('--before <cursor>', 'print the page before this cursor (from the previous page\'s "next")'),
  async (topicId: string, opts: CommonOptions & { limit: number, before?: string }) => {
    let page: HistoryResult
    try {
      page = await (await connect(opts)).history(topicId, { limit: opts.limit, before: opts.before })
    } catch (err) {
      if (err instanceof ChatError && err.code === 'ERR_UNKNOWN_GROUP') {
        throw new UnknownGroupError(topicId, `unknown group "${topicId}": "p2p-chat groups" lists yours; the history of a group you left stays on disk but sealed: rejoin it with "p2p-chat join ${topicId} --secret <secret>" (leave printed it) to read it`)
      }
      throw err
    }
    out(opts, page, () => {
      const lines = [...page.messages].reverse().map(m => formatMessage(m))
      if (lines.length === 0) lines.push('no messages')
      if (page.next != null) lines.push(`(older: --before ${page.next})`)
      return lines.join('\n')
    })
    return EXIT.OK
  })

  act(common(program.command('watch').argument('[topic-id]', 'only this group').description('print messages as they arrive, until Ctrl-C (exit 130) or --count'))
    .option('--count <n>', 'exit after n messages (exit 0)', parseWhole('--count', 1)),
  async (topicId: string | undefined, opts: CommonOptions & { count?: number }) => {
    const ws = await (await connect(opts)).events({ topicId })
    let seen = 0
    return new Promise<number>((resolve) => {
      let code: number = EXIT.OK
      const stop = (): void => { code = EXIT.INTERRUPTED; ws.close() }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      ws.on('close', () => {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        resolve(code)
      })
      process.stderr.write(`watching ${topicId ?? 'every group'} (Ctrl-C to stop)\n`)
      ws.on('message', data => {
        const event = parseEvent(data)
        if (event?.type !== 'message') return
        const m = event as unknown as ChatMessage
        if (topicId != null && m.topicId !== topicId) return
        process.stdout.write((opts.json === true ? JSON.stringify(m) : formatMessage(m, { showTopic: topicId == null })) + '\n')
        if (opts.count != null && ++seen >= opts.count) ws.close()
      })
    })
  })

  act(common(program.command('name').argument('<name>').description('change your display name')),
    async (name: string, opts: CommonOptions) => {
      const r = await (await connect(opts)).setName(name)
      out(opts, r, () => `you are now ${r.name}`)
      return EXIT.OK
    })

  act(common(program.command('sync').argument('<topic-id>').description('reconcile a group\'s history with every connected member now, both ways')),
    async (topicId: string, opts: CommonOptions) => {
      const client = await connect(opts)
      const bar = progressBar(`sync ${topicId}`, opts)
      const perPeer = new Map<string, { done: number, total: number }>()
      try {
        const summary = await client.sync(topicId, p => {
          perPeer.set(p.peer, { done: p.received + p.sent, total: p.expected + p.toSend })
          let done = 0; let total = 0
          for (const v of perPeer.values()) { done += v.done; total += v.total }
          bar.update(done, total)
        })
        bar.stop()
        out(opts, summary, () => summary.peers === 0
          ? `no member of ${topicId} is connected: nothing to sync with`
          : `synced ${topicId} with ${summary.peers} peer(s): ${summary.received} received, ${summary.sent} sent${summary.failed > 0 ? `, ${summary.failed} session(s) failed` : ''}`)
        return EXIT.OK
      } finally {
        bar.stop()
      }
    })
}

/** Is process `pid` still there? An exited process its parent has not reaped yet (a zombie) is not. */
function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    // "pid (comm) S ...": Z and X are exited processes (Linux)
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))
  } catch {
    return true // no /proc: kill(pid, 0) is all we know
  }
}
