import { readFileSync, statSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { ApiClient, parseEvent } from '../api/index.js'
import { DEFAULT_SEND_RETRY_FOR } from '../api/client.js'
import { resolveDataDir, DATA_DIR_ENV } from '../config.js'
import { MAX_TEXT_BYTES } from '../envelope/index.js'
import { ChatError, InvalidInputError, InvalidInviteError, MessageTooLargeError, NodeNotRunningError, OverloadedError, TimeoutError, UnknownGroupError } from '../errors.js'
import { inviteAddrs as inviteAddrsOf, INVITE_PREFIX, TOKEN_INVITE_PREFIX } from '../groups/index.js'
import { act, EXIT, formatMembers, formatMessage, InterruptedError, parseDuration, parseWhole, UsageError } from './output.js'
import { progressBar } from './progress.js'
import cliProgress from 'cli-progress'
import { resolve as resolvePath } from 'node:path'
import type { GetFileResult } from '../node.js'
import type { FileProgress } from '../files/index.js'
import { unreadText } from '../chat/unread.js'
import { formatSearchResults } from './search-output.js'
import type { Command } from 'commander'
import type { ChatMessage, GroupInfo, HistoryResult, ViewResult } from '../node.js'
import type { ViewMessage } from '../chat/index.js'
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
  if ((arg === INVITE_PREFIX || arg === TOKEN_INVITE_PREFIX)) {
    throw new InvalidInviteError(`"${arg}" is only the start of an invite: copy the whole line "p2p-chat create" or "p2p-chat invite" printed`)
  }
}

/** "one use, expires in 24 h (2026-12-03 15:00 UTC)" */
function inviteTerms (uses: number, expires: number): string {
  const left = expires - Date.now()
  // a few seconds have passed since it was made: 59 min 58 s left reads "1 h"
  const span = left >= 86_340_000 ? `${Math.round(left / 86_400_000)} d` : left >= 3_540_000 ? `${Math.round(left / 3_600_000)} h` : left >= 59_000 ? `${Math.round(left / 60_000)} min` : `${Math.max(0, Math.round(left / 1000))} s`
  return `${uses === 1 ? 'one use' : `${uses} uses`}, expires in ${span} (${new Date(expires).toISOString().slice(0, 16).replace('T', ' ')} UTC)`
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

/** The API path of a group */
function groupPath (topicId: string): string {
  return `/v1/groups/${encodeURIComponent(topicId)}`
}

/** A reply, reaction, edit or delete: retried while the node answers 429, with one idempotency key (as ApiClient.send) */
async function sendAct (client: ApiClient, method: string, path: string, body: unknown): Promise<ChatMessage> {
  const key = randomUUID()
  const deadline = Date.now() + DEFAULT_SEND_RETRY_FOR
  while (true) {
    try {
      return await client.request<ChatMessage>(method, path, body, { headers: { 'idempotency-key': key } })
    } catch (err) {
      if (!(err instanceof OverloadedError)) throw err
      const wait = Math.min(err.retryAfterMs, 10_000) * (0.75 + Math.random() * 0.5)
      if (Date.now() + wait > deadline) throw err
      await new Promise(resolve => setTimeout(resolve, wait))
    }
  }
}

/** A page of the folded history (GET …/view) */
async function viewPage (client: ApiClient, topicId: string, query: { limit?: number, before?: string }): Promise<ViewResult> {
  const q = new URLSearchParams()
  if (query.limit != null) q.set('limit', String(query.limit))
  if (query.before != null) q.set('before', query.before)
  return client.request('GET', `${groupPath(topicId)}/view?${q.toString()}`)
}

/**
 * A message as the folded history shows it (src/chat/view.ts): `tag` first
 * (default #<its id's first 8 hex>, what reply, react, edit and delete
 * take), the quote of the message it replies to, its latest text marked
 * "(edited)", its reactions counted; a deleted one as a tombstone.
 */
export function formatViewMessage (m: ViewMessage, opts: { tag?: string, showTopic?: boolean, color?: boolean, self?: string } = {}): string {
  const tag = `${opts.tag ?? `#${m.id.slice(0, 8)}`} `
  const { replyTo: _r, file, mentions, ...rest } = m
  let shown: ChatMessage
  if (m.deleted) {
    shown = { ...rest, kind: 'text', text: '(message deleted)' }
  } else {
    const q = m.quote
    const quote = q == null
      ? ''
      : q.missing === true
        ? `(reply to #${q.id.slice(0, 8)}, not held here) `
        : q.deleted === true
          ? '(reply to a deleted message) '
          : `(reply to ${q.name ?? '?'}~${(q.author ?? '').slice(-4)}: "${q.text ?? ''}") `
    const reactions = m.reactions.length > 0 ? `  [${m.reactions.map(r => `${r.emoji} ${r.count}${r.mine ? ' (you)' : ''}`).join(', ')}]` : ''
    shown = { ...rest, ...(file != null ? { file } : {}), ...(mentions != null ? { mentions } : {}), text: `${quote}${m.text}${m.edited ? ' (edited)' : ''}${reactions}` }
  }
  const lines = formatMessage(shown, opts).split('\n')
  return [tag + lines[0], ...lines.slice(1).map(l => ' '.repeat(tag.length) + l)].join('\n')
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
    .option('--name <name>', 'display name of the group')
    .option('--managed', 'give the group a membership log from the start: you are its admin, invites are revocable (one use, 24 h; "p2p-chat invite" makes more) and "p2p-chat remove" removes a member (a new key epoch on each removal)'),
  async (topicId: string, opts: CommonOptions & { name?: string, managed?: boolean }) => {
    const g = await (await connect(opts)).createGroup(topicId, opts.name, opts.managed === true)
    out(opts, g, () => g.expires != null
      ? `created ${g.topicId} (managed: you are its admin)\ninvite (${inviteTerms(g.uses ?? 1, g.expires)}; it holds no secret):\n${g.invite}`
      : `created ${g.topicId}\ninvite (share it only with members, it holds the secret):\n${g.invite}`)
    return EXIT.OK
  })

  // issue 15: the membership log (a legacy group gets one at its admin's first use)
  for (const [op, what] of [['remove', 'remove a member (admins only): it can read nothing written after, its messages are refused, the others go on in a new key epoch, and every invite not used yet is revoked'], ['add', 'add a node that joined with the group secret (--legacy-secret) and published its key (admins only); revocable invites add their joiners themselves'], ['promote', 'make a member an admin (admins only)'], ['demote', 'take a member\'s admin role (admins only; never the last admin\'s)']] as const) {
    act(common(program.command(op).argument('<topic-id>').argument('<member>', 'a peer id, a name only one member has, or name~suffix as "members" shows it').description(what)),
      async (topicId: string, member: string, opts: CommonOptions) => {
        const m = await (await connect(opts)).memberOp(topicId, member, op)
        const admins = m.members.filter(x => x.role === 'admin').length
        out(opts, m, () => `${op === 'remove' ? 'removed' : op === 'promote' ? 'promoted' : op === 'add' ? 'added' : 'demoted'} ${member} in ${topicId}: ${m.members.length} member(s), ${admins} admin(s)${op === 'remove' ? ', a new key epoch follows' : ''}`)
        return EXIT.OK
      })
  }

  act(common(program.command('invite').argument('<topic-id>').description('print an invite for a group. In a group with a membership log (create --managed, or after --expires/--uses) a revocable one (p2pchat2): no secret in it, it admits --uses joiners until --expires, and a removal revokes it; otherwise the group secret\'s (p2pchat1), which cannot be taken back'))
    .option('--expires <duration>', 'a revocable invite that expires after this long (90s, 30m, 1h, 7d; at most 30 days; default 24h); gives a legacy group a membership log (its admin only)', parseDuration('--expires', '90s, 30m, 1h or 7d'))
    .option('--uses <n>', 'a revocable invite that admits this many joiners (default 1)', parseWhole('--uses', 1, 1000))
    .option('--legacy-secret', 'print the invite that holds the group secret (p2pchat1) even in a group with a log: whoever has it reads every message of epoch 0, and it cannot be revoked')
    .option('--secret', 'the secret-holding invite, and the secret alone, for "join <topic-id> --secret"'),
  async (topicId: string, opts: CommonOptions & { secret?: boolean, expires?: number, uses?: number, legacySecret?: boolean }) => {
    const client = await connect(opts)
    const revocable = opts.secret !== true && opts.legacySecret !== true && (opts.expires != null || opts.uses != null || (await client.membership(topicId)).logged)
    if (revocable) {
      const inv = await client.createInvite(topicId, { ...(opts.expires != null ? { expiresIn: opts.expires / 1000 } : {}), ...(opts.uses != null ? { uses: opts.uses } : {}) })
      out(opts, inv, () => `${inv.invite}\n(${inviteTerms(inv.uses, inv.expires)}; a removal from ${topicId} revokes it)`)
      return EXIT.OK
    }
    if ((opts.expires != null || opts.uses != null)) throw new UsageError('--expires and --uses make a revocable invite: not with --legacy-secret or --secret')
    const inv = await client.invite(topicId, opts.secret === true)
    out(opts, inv, () => inv.secret != null ? `${inv.invite}\nsecret: ${inv.secret}` : inv.invite)
    return EXIT.OK
  })

  act(common(program.command('join').argument('<invite-or-topic-id>', 'an invite (p2pchat1… or p2pchat2…), or a topic id with --secret').description('join a group by invite, or by topic id and secret; says whether a member was reached. A revocable invite (p2pchat2) is shown to the members it names: one of them must be online to add you'))
    .option('--secret <secret>', 'group secret (64 hex characters) when joining by topic id'),
  async (arg: string, opts: CommonOptions & { secret?: string }) => {
    const client = await connect(opts)
    let inviteAddrs = 0
    if (opts.secret == null) {
      checkInvite(arg)
      inviteAddrs = inviteAddrsOf(arg).length
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
      const managed = (await client.membership(topicId)).logged
      const r = await client.leave(topicId)
      const rejoin = `p2p-chat join ${topicId} --secret ${secret ?? ''}`
      // a group with a log: leaving starts a new key epoch without this node; the secret alone reads what was before
      const back = managed ? `\nIt has a membership log: to be a member again, ask an admin for an invite (the secret alone reads only what was sealed with the first key epoch).` : ''
      out(opts, { ...r, rejoin, ...(managed ? { managed } : {}) }, () => `left ${topicId}. Its history stays on disk, sealed with the group's secret, which this node no longer holds: to read it again, rejoin with\n  ${rejoin}${back}`)
      return EXIT.OK
    })

  act(common(program.command('members').argument('<topic-id>').description('list a group\'s members: who is on it now and who wrote lately, with names (name~end of peer id), role, presence and connection')),
    async (topicId: string, opts: CommonOptions) => {
      const members = await (await connect(opts)).members(topicId)
      out(opts, members, () => formatMembers(members))
      return EXIT.OK
    })

  act(common(program.command('groups').description('list the groups this node is in, with their unread messages')),
    async (opts: CommonOptions) => {
      const groups = await (await connect(opts)).groups()
      const unread = (g: typeof groups[number]): string => g.unread > 0 ? `  ${unreadText(g)} unread${g.unreadMentions > 0 ? ` (${g.unreadMentions} mention${g.unreadMentions > 1 ? 's' : ''} of you)` : ''}` : ''
      out(opts, groups, () => groups.length === 0 ? 'no groups yet: "p2p-chat create <topic-id>" or "p2p-chat join <invite>"' : groups.map(g => `${g.topicId}${g.name != null ? ` (${g.name})` : ''}  ${g.peers} peer(s)${unread(g)}`).join('\n'))
      return EXIT.OK
    })

  act(common(program.command('read').argument('<topic-id>').description('mark a group read: its unread count goes to 0 (kept across restarts)'))
    .option('--cursor <cursor>', 'mark read only up to this message (a cursor from history or search)'),
  async (topicId: string, opts: CommonOptions & { cursor?: string }) => {
    const u = await (await connect(opts)).markRead(topicId, opts.cursor)
    out(opts, { topicId, ...u }, () => `${topicId}: ${u.unread > 0 ? `${unreadText(u)} unread left` : 'all read'}`)
    return EXIT.OK
  })

  act(common(program.command('search').argument('<text...>', 'words to find (all of them, in any order; case and accents do not matter)').description('search the decrypted history of your groups: newest matches first, each with the command that shows it in history'))
    .option('--group <topic-id>', 'search this group only')
    .option('--limit <n>', 'results at most (1-500)', parseWhole('--limit', 1, 500), 20),
  async (words: string[], opts: CommonOptions & { group?: string, limit: number }) => {
    const client = await connect(opts)
    // history stored before the index existed is indexed once, first
    const bar = progressBar('indexing history for search', opts)
    try {
      await client.searchIndex(opts.group, p => { bar.update(p.done, p.total) })
    } finally {
      bar.stop()
    }
    const r = await client.search(words.join(' '), { group: opts.group, limit: opts.limit })
    out(opts, r, () => formatSearchResults(r.results, { color: process.stdout.isTTY }))
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

  act(common(program.command('reply')
    .argument('<topic-id>', 'the group')
    .argument('<message-id>', 'the message replied to: its id, or its first 8 or more hex characters ("history" shows them as #1a2b3c4d)')
    .argument('[text]', `reply text (at most ${MAX_TEXT_BYTES} bytes); read from stdin when omitted`)
    .description('reply to a message: the reply quotes it')),
  async (topicId: string, id: string, text: string | undefined, opts: CommonOptions) => {
    const client = await connect(opts)
    const body = text ?? await readStdin()
    const size = Buffer.byteLength(body)
    if (size > MAX_TEXT_BYTES) throw new MessageTooLargeError(size, MAX_TEXT_BYTES)
    const m = await sendAct(client, 'POST', `${groupPath(topicId)}/messages`, { text: body, replyTo: id })
    out(opts, m, () => `replied ${m.id.slice(0, 12)} to #${(m.replyTo ?? '').slice(0, 8)} in ${topicId}`)
    return EXIT.OK
  })

  act(common(program.command('react')
    .argument('<topic-id>', 'the group')
    .argument('<message-id>', 'the message: its id, or its first 8 or more hex characters')
    .argument('<emoji>', 'one emoji, e.g. 👍')
    .description('react to a message with an emoji; --remove takes your reaction back'))
    .option('--remove', 'take back your reaction with this emoji'),
  async (topicId: string, id: string, emoji: string, opts: CommonOptions & { remove?: boolean }) => {
    const client = await connect(opts)
    const m = await sendAct(client, 'POST', `${groupPath(topicId)}/messages/${encodeURIComponent(id)}/reactions`, { emoji, remove: opts.remove === true })
    out(opts, m, () => `${opts.remove === true ? 'took back' : 'reacted'} ${m.emoji ?? emoji} ${opts.remove === true ? 'from' : 'to'} #${(m.target ?? '').slice(0, 8)} in ${topicId}`)
    return EXIT.OK
  })

  act(common(program.command('edit')
    .argument('<topic-id>', 'the group')
    .argument('<message-id>', 'your message: its id, or its first 8 or more hex characters')
    .argument('[text]', `the new text (at most ${MAX_TEXT_BYTES} bytes); read from stdin when omitted`)
    .description('replace the text of one of your messages: every member shows the new text, marked edited (the earlier versions stay in history)')),
  async (topicId: string, id: string, text: string | undefined, opts: CommonOptions) => {
    const client = await connect(opts)
    const body = text ?? await readStdin()
    const size = Buffer.byteLength(body)
    if (size > MAX_TEXT_BYTES) throw new MessageTooLargeError(size, MAX_TEXT_BYTES)
    const m = await sendAct(client, 'PATCH', `${groupPath(topicId)}/messages/${encodeURIComponent(id)}`, { text: body })
    out(opts, m, () => `edited #${(m.target ?? '').slice(0, 8)} in ${topicId}`)
    return EXIT.OK
  })

  act(common(program.command('delete')
    .argument('<topic-id>', 'the group')
    .argument('<message-id>', 'your message: its id, or its first 8 or more hex characters')
    .description('delete one of your messages: every member shows a tombstone instead and drops its text (only its author can: deletes by group admins are not wired to roles yet, issue 15)')),
  async (topicId: string, id: string, opts: CommonOptions) => {
    const client = await connect(opts)
    const m = await sendAct(client, 'DELETE', `${groupPath(topicId)}/messages/${encodeURIComponent(id)}`, undefined)
    out(opts, m, () => `deleted #${(m.target ?? '').slice(0, 8)} in ${topicId}`)
    return EXIT.OK
  })

  act(common(program.command('history').argument('<topic-id>').description('print a group\'s history as members see it, newest page first: edits applied (marked edited), deletes as tombstones, reactions counted, replies quoted, ids to reply, react, edit or delete (of a group you left: rejoin it first, as "leave" said)'))
    .option('--limit <n>', 'messages per page (1-10000)', parseWhole('--limit', 1, 10_000), 50)
    .option('--before <cursor>', 'print the page before this cursor (from the previous page\'s "next")')
    .option('--no-mark-read', 'leave the group\'s unread count as it is (the newest page marks the group read up to its newest message)')
    .option('--raw', 'every record as stored, nothing folded: reactions, edits and deletes as lines of their own (--limit counts records)'),
  async (topicId: string, opts: CommonOptions & { limit: number, before?: string, markRead: boolean, raw?: boolean }) => {
    let page: HistoryResult | ViewResult
    const client = await connect(opts)
    try {
      // folded (src/chat/view.ts): --limit counts the messages shown
      page = opts.raw === true ? await client.history(topicId, { limit: opts.limit, before: opts.before }) : await viewPage(client, topicId, { limit: opts.limit, before: opts.before })
    } catch (err) {
      if (err instanceof ChatError && err.code === 'ERR_UNKNOWN_GROUP') {
        throw new UnknownGroupError(topicId, `unknown group "${topicId}": "p2p-chat groups" lists yours; the history of a group you left stays on disk but sealed: rejoin it with "p2p-chat join ${topicId} --secret <secret>" (leave printed it) to read it`)
      }
      throw err
    }
    // the newest page was read: the marker moves up to its newest message (never back)
    // folded, the newest message shown may have reactions or edits above it: the newest record counts
    const newest = opts.raw === true || opts.before != null || !opts.markRead ? page.messages[0]?.cursor : (await client.history(topicId, { limit: 1 })).messages[0]?.cursor
    if (opts.before == null && opts.markRead && newest != null) await client.markRead(topicId, newest)
    out(opts, page, () => {
      const lines = opts.raw === true
        ? [...page.messages].reverse().map(m => formatMessage(m, { color: process.stdout.isTTY }))
        : [...(page as ViewResult).messages].reverse().map(m => formatViewMessage(m, { color: process.stdout.isTTY }))
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
        process.stdout.write((opts.json === true ? JSON.stringify(m) : formatMessage(m, { showTopic: topicId == null, color: process.stdout.isTTY })) + '\n')
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

/** A size option: bytes, or with K, M, G (powers of 1024; KiB, MB … alike) */
export function parseSize (flag: string): (v: string) => number {
  return (v: string) => {
    const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(v.trim())
    if (m == null) throw new UsageError(`${flag} must be a size like 100M, 2G, 500K or a number of bytes, not "${v}"`)
    const n = Math.floor(Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] === '' ? ' ' : m[2]).toLowerCase()))
    if (!Number.isSafeInteger(n)) throw new UsageError(`${flag} is too large: "${v}"`)
    return n
  }
}

/** Bytes for people: 512 B, 1.5 KiB, 50.0 MiB */
export function humanBytes (n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let u = 0
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++ }
  return `${v.toFixed(1)} ${units[u]}`
}

/** A byte progress bar on stderr when it is a terminal (and output is not --json); silent otherwise */
function bytesBar (label: string, opts: { json?: boolean }): { update: (done: number, total: number) => void, stop: () => void } {
  if (opts.json === true || !process.stderr.isTTY) return { update: () => {}, stop: () => {} }
  const bar = new cliProgress.SingleBar({
    format: `${label} [{bar}] {percentage}% | {have} of {size} | {eta_formatted} left`,
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true
  }, cliProgress.Presets.shades_classic)
  let started = false
  return {
    update: (done, total) => {
      const t = Math.max(total, done, 1)
      const payload = { have: humanBytes(done), size: humanBytes(t) }
      if (!started) { bar.start(t, done, payload); started = true } else { bar.setTotal(t); bar.update(done, payload) }
    },
    stop: () => { if (started) bar.stop() }
  }
}

/** `send-file` and `get`: files in a group (docs/PROTOCOL.md, "Files") */
export function registerFileCommands (program: Command): void {
  act(common(program.command('send-file')
    .argument('<topic-id>', 'the group to send to')
    .argument('<file>', 'the file (the node reads it: it runs on this machine)')
    .description('send a file to a group: it is encrypted and kept by your node under its hash, and members fetch it from any member that has it ("p2p-chat get")'))
    .option('--caption <text>', `a caption sent with it (at most ${MAX_TEXT_BYTES} bytes)`)
    .option('--name <name>', 'the file name shown to members (default: the file\'s own)'),
  async (topicId: string, file: string, opts: CommonOptions & { caption?: string, name?: string }) => {
    const path = resolvePath(file)
    let size: number
    try {
      const st = statSync(path)
      if (!st.isFile()) throw new InvalidInputError(`${file} is not a file`)
      size = st.size
    } catch (err) {
      if (err instanceof InvalidInputError) throw err
      throw new InvalidInputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
    }
    const client = await connect(opts)
    const bar = bytesBar(`send ${file}`, opts)
    try {
      const m = await client.requestStream<ChatMessage, { bytes: number }>('POST', `/v1/groups/${encodeURIComponent(topicId)}/files/from-path`, { path, caption: opts.caption, name: opts.name }, p => { bar.update(p.bytes, size) })
      bar.stop()
      const dims = m.file?.width != null && m.file.height != null ? `, ${m.file.width}x${m.file.height}` : ''
      out(opts, m, () => `sent ${m.file?.name ?? file} (${humanBytes(m.file?.size ?? size)}${dims}) to ${topicId} as ${m.id.slice(0, 12)}: members fetch it with "p2p-chat get ${m.id.slice(0, 12)} --out FILE"`)
      return EXIT.OK
    } finally {
      bar.stop()
    }
  })

  act(common(program.command('get')
    .argument('<message-id>', 'the file message\'s id, or its first 8 or more hex characters')
    .description('fetch a file sent to one of your groups from the members that have it (resumed where an earlier get stopped), checked chunk by chunk, and write it out'))
    .requiredOption('-o, --out <file>', 'where to write the file')
    .option('--force', 'replace --out when it exists'),
  async (id: string, opts: CommonOptions & { out: string, force?: boolean }) => {
    const path = resolvePath(opts.out)
    if (opts.force !== true) {
      let exists = true
      try { statSync(path) } catch { exists = false }
      if (exists) throw new InvalidInputError(`${opts.out} exists already: give another --out, or --force to replace it`)
    }
    const client = await connect(opts)
    const bar = bytesBar(`get ${id.slice(0, 12)}`, opts)
    const controller = new AbortController()
    const interrupt = (): void => { controller.abort(new InterruptedError()) }
    process.once('SIGINT', interrupt)
    process.once('SIGTERM', interrupt)
    try {
      const r = await client.requestStream<GetFileResult, FileProgress>('POST', `/v1/files/${encodeURIComponent(id)}/fetch`, { out: path, overwrite: opts.force === true }, p => { bar.update(p.bytes, p.size) }, controller.signal)
      bar.stop()
      const peers = Object.keys(r.from).length
      out(opts, r, () => `${r.name} (${humanBytes(r.size)}${r.file.width != null && r.file.height != null ? `, ${r.file.width}x${r.file.height}` : ''}) written to ${path}${r.alreadyHeld ? ', held already' : `: fetched ${r.fetched} of ${r.chunks} chunks from ${peers} member(s) in ${(r.ms / 1000).toFixed(1)} s`}${Object.keys(r.refused).length > 0 ? ` (refused bad data from ${Object.keys(r.refused).join(', ')})` : ''}`)
      return EXIT.OK
    } catch (err) {
      if (controller.signal.aborted) throw new InterruptedError()
      throw err
    } finally {
      process.off('SIGINT', interrupt)
      process.off('SIGTERM', interrupt)
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
