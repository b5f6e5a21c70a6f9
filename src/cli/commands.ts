import { ApiClient, parseEvent } from '../api/index.js'
import { resolveDataDir, DATA_DIR_ENV } from '../config.js'
import { InvalidInputError } from '../errors.js'
import { EXIT, formatMessage } from './output.js'
import { progressBar } from './progress.js'
import type { Command } from 'commander'
import type { ChatMessage } from '../node.js'

interface CommonOptions { dataDir?: string, json?: boolean }

export function clientFor (opts: CommonOptions): ApiClient {
  return new ApiClient(resolveDataDir(opts.dataDir))
}

export function out (opts: CommonOptions, json: unknown, text: () => string): void {
  process.stdout.write(opts.json === true ? JSON.stringify(json, null, 2) + '\n' : text() + '\n')
}

/** Add the options every client command has */
export function common (cmd: Command): Command {
  return cmd
    .option('-d, --data-dir <dir>', `data directory of the node to talk to (default: $${DATA_DIR_ENV} or ~/.p2p-chat)`)
    .option('--json', 'machine-readable JSON output')
}

async function readStdin (): Promise<string> {
  if (process.stdin.isTTY === true) throw new InvalidInputError('no message text: give it as an argument or pipe it on stdin')
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').replace(/\n$/, '')
}

function parseLimit (v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidInputError(`--limit must be a whole number, not "${v}"`)
  return Number(v)
}

export function registerClientCommands (program: Command): void {
  common(program.command('status').description('show the running node: peer id, name, addresses, counts'))
    .action(async (opts: CommonOptions) => {
      const s = await clientFor(opts).status()
      out(opts, s, () => [`peer id    ${s.peerId}`, `name       ${s.name}`, `data dir   ${s.dataDir}`, `groups     ${s.groups}`, `peers      ${s.peers}`, 'addresses', ...s.addresses.map(a => `  ${a}`)].join('\n'))
    })

  common(program.command('peers').description('list connected peers'))
    .action(async (opts: CommonOptions) => {
      const peers = await clientFor(opts).peers()
      out(opts, peers, () => peers.length === 0 ? 'no peers connected' : peers.map(p => `${p.peerId}  ${p.addrs.join(' ')}`).join('\n'))
    })

  common(program.command('dial').argument('<multiaddr>', 'address with /p2p/<peer-id>, or a peer id the node knows').description('connect to a peer'))
    .action(async (addr: string, opts: CommonOptions) => {
      const peer = await clientFor(opts).dial(addr)
      out(opts, peer, () => `connected to ${peer.peerId}`)
    })

  common(program.command('create').argument('<topic-id>', 'group id: 1-64 letters, digits, ".", "_", "-"').description('create a group with a new secret and print its invite'))
    .option('--name <name>', 'display name of the group')
    .action(async (topicId: string, opts: CommonOptions & { name?: string }) => {
      const g = await clientFor(opts).createGroup(topicId, opts.name)
      out(opts, g, () => `created ${g.topicId}\ninvite (share it only with members, it holds the secret):\n${g.invite}`)
    })

  common(program.command('invite').argument('<topic-id>').description('print an invite for a group (topic id, secret, this node\'s addresses)'))
    .option('--secret', 'also print the secret alone, for "join <topic-id> --secret"')
    .action(async (topicId: string, opts: CommonOptions & { secret?: boolean }) => {
      const inv = await clientFor(opts).invite(topicId, opts.secret === true)
      out(opts, inv, () => inv.secret != null ? `${inv.invite}\nsecret: ${inv.secret}` : inv.invite)
    })

  common(program.command('join').argument('<invite-or-topic-id>', 'an invite (p2pchat1…), or a topic id with --secret').description('join a group by invite, or by topic id and secret'))
    .option('--secret <secret>', 'group secret (64 hex characters) when joining by topic id')
    .action(async (arg: string, opts: CommonOptions & { secret?: string }) => {
      const client = clientFor(opts)
      const g = opts.secret != null ? await client.join({ topicId: arg, secret: opts.secret }) : await client.join({ invite: arg })
      out(opts, g, () => `joined ${g.topicId}${g.dialed > 0 ? ` (connected to ${g.dialed} of the inviter's addresses)` : ''}`)
    })

  common(program.command('leave').argument('<topic-id>').description('leave a group (its history stays on disk)'))
    .action(async (topicId: string, opts: CommonOptions) => {
      const r = await clientFor(opts).leave(topicId)
      out(opts, r, () => `left ${topicId}`)
    })

  common(program.command('groups').description('list the groups this node is in'))
    .action(async (opts: CommonOptions) => {
      const groups = await clientFor(opts).groups()
      out(opts, groups, () => groups.length === 0 ? 'no groups yet: "p2p-chat create <topic-id>" or "p2p-chat join <invite>"' : groups.map(g => `${g.topicId}${g.name != null ? ` (${g.name})` : ''}  ${g.peers} peer(s)`).join('\n'))
    })

  common(program.command('send').argument('<topic-id>').argument('[text]', 'message text; read from stdin when omitted').description('send a message to a group'))
    .action(async (topicId: string, text: string | undefined, opts: CommonOptions) => {
      const m = await clientFor(opts).send(topicId, text ?? await readStdin())
      out(opts, m, () => `sent ${m.id.slice(0, 12)} to ${topicId}`)
    })

  common(program.command('history').argument('<topic-id>').description('print a group\'s history, newest page first'))
    .option('--limit <n>', 'messages per page (1-10000)', parseLimit, 50)
    .option('--before <cursor>', 'print the page before this cursor (from the previous page\'s "next")')
    .action(async (topicId: string, opts: CommonOptions & { limit: number, before?: string }) => {
      const page = await clientFor(opts).history(topicId, { limit: opts.limit, before: opts.before })
      out(opts, page, () => {
        const lines = [...page.messages].reverse().map(m => formatMessage(m))
        if (lines.length === 0) lines.push('no messages')
        if (page.next != null) lines.push(`(older: --before ${page.next})`)
        return lines.join('\n')
      })
    })

  common(program.command('watch').argument('[topic-id]', 'only this group').description('print messages as they arrive, until Ctrl-C'))
    .option('--count <n>', 'exit after n messages', parseLimit)
    .action(async (topicId: string | undefined, opts: CommonOptions & { count?: number }) => {
      const ws = await clientFor(opts).events({ topicId })
      let seen = 0
      await new Promise<void>((resolve) => {
        const stop = (): void => { ws.close(); resolve() }
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
        ws.on('close', () => {
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          resolve()
        })
        process.stderr.write(`watching ${topicId ?? 'every group'} (Ctrl-C to stop)\n`)
        ws.on('message', data => {
          const event = parseEvent(data)
          if (event?.type !== 'message') return
          const m = event as unknown as ChatMessage
          if (topicId != null && m.topicId !== topicId) return
          process.stdout.write((opts.json === true ? JSON.stringify(m) : formatMessage(m, { showTopic: topicId == null })) + '\n')
          if (opts.count != null && ++seen >= opts.count) stop()
        })
      })
      process.exitCode = EXIT.OK
    })

  common(program.command('name').argument('<name>').description('change your display name'))
    .action(async (name: string, opts: CommonOptions) => {
      const r = await clientFor(opts).setName(name)
      out(opts, r, () => `you are now ${r.name}`)
    })

  common(program.command('sync').argument('<topic-id>').description('reconcile a group\'s history with every connected member now, both ways'))
    .action(async (topicId: string, opts: CommonOptions) => {
      const bar = progressBar(`sync ${topicId}`, opts)
      const perPeer = new Map<string, { done: number, total: number }>()
      try {
        const summary = await clientFor(opts).sync(topicId, p => {
          perPeer.set(p.peer, { done: p.received + p.sent, total: p.expected + p.toSend })
          let done = 0; let total = 0
          for (const v of perPeer.values()) { done += v.done; total += v.total }
          bar.update(done, total)
        })
        bar.stop()
        out(opts, summary, () => summary.peers === 0
          ? `no member of ${topicId} is connected: nothing to sync with`
          : `synced ${topicId} with ${summary.peers} peer(s): ${summary.received} received, ${summary.sent} sent${summary.failed > 0 ? `, ${summary.failed} session(s) failed` : ''}`)
      } finally {
        bar.stop()
      }
    })
}
