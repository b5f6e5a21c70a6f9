import { createInterface, clearLine, cursorTo } from 'node:readline'
import { ChatError } from '../errors.js'
import { formatMembers, formatMessage, mentionsMe, printable, shortId } from './output.js'
import { formatSearchResults } from './search-output.js'
import { unreadText } from '../chat/unread.js'
import { formatStats } from './calls.js'
import { formatViewMessage } from './commands.js'
import type { ChatMessage, ChatNode, ChatNodeEvents } from '../node.js'
import { resolve as resolvePath } from 'node:path'
import { humanBytes } from './commands.js'
import type { FileInfo } from '../chat/index.js'

/** The line under a file message: what it is (an image's size in pixels) and how to get it */
export function fileLine (f: FileInfo, n: number): string {
  const image = f.mime.startsWith('image/')
  const dims = f.width != null && f.height != null ? `, ${f.width}x${f.height} px` : ''
  return `    ${image ? 'image' : 'file'} ${printable(f.name)}, ${humanBytes(f.size)}${dims}${f.mime !== '' ? ` (${printable(f.mime)})` : ''}: /get ${n} to save it`
}

export const HELP = `commands:
  /create <topic-id>          create a group and print its invite
  /join <invite>              join by invite
  /join <topic-id> <secret>   join by topic id and secret
  /leave [topic-id]           leave a group (default: the current one)
  /switch <topic-id>          type into another group
  /groups                     list your groups, with unread counts
  /peers                      list connected peers
  /members                    the current group's members: names, role, presence, connection
  /remove <member>            remove a member of the current group (admins; peer id, name or name~suffix)
  /invite                     print the current group's invite (revocable, one use, 24 h, in a group with a log)
  /history [n]                show the last n messages (default 20, at most 1000), numbered
  /reply <n> <text>           reply to message n (its number in /history, or an id prefix)
  /react <n> <emoji>          react to message n with an emoji
  /unreact <n> <emoji>        take your reaction back
  /edit <n> <text>            replace the text of your message n
  /delete <n>                 delete your message n: members see a tombstone
  /search <words>             find messages in your groups' history (all the words)
  /file <path> [caption]      send a file to the current group ("quote" a path with spaces)
  /get <n> [path]             fetch file n from the members that have it and save it (default: its name, here)
  /name [name]                show or change your display name
  /dial <multiaddr>           connect to a peer
  /call <peer-or-name> [video]  call a member (microphone/speaker through sox)
  /accept                     accept the ringing call
  /reject                     refuse the ringing call
  /hangup                     end the call
  /help                       this help
  /quit                       stop the node and exit (also: Ctrl-C twice, Ctrl-D)
anything else is sent to the current group; start a line with // to send one that begins with /`

/** A burst of messages older than what is on screen (sync catching up) is held this long, then shown in order */
const CATCH_UP_MS = 250
/** ... when it is older than this (clocks of members differ by a little; that is not a catch-up) */
const CATCH_UP_SKEW_MS = 3000
/** Names learnt from this many recent messages per group at start */
const NAME_WINDOW = 200
/** Messages shown are marked read this long after (one write for a burst) */
const MARK_READ_DELAY_MS = 500

export interface InteractiveOptions {
  /** resolves when the node is asked to stop from elsewhere (signal, `p2p-chat stop`): the terminal closes */
  stopRequested?: Promise<unknown>
  input?: NodeJS.ReadableStream
  output?: NodeJS.WritableStream & { isTTY?: boolean, columns?: number }
}

/** A command's wrong usage, said in the terminal's words */
class TerminalUsage extends Error {}

/** Errors in the terminal's own words: /commands, not CLI commands */
function terminalMessage (err: unknown): string {
  if (err instanceof TerminalUsage) return err.message
  if (err instanceof ChatError) {
    if (err.code === 'ERR_UNKNOWN_GROUP') return err.message.replace(/: create or join it first.*$/, ': /groups lists yours, /create or /join adds one')
    return err.message.replace(/"?p2p-chat groups"? lists yours/g, '/groups lists yours').replace(/"p2p-chat (\w+)[^"]*"/g, '/$1')
  }
  return err instanceof Error ? err.message : String(err)
}

/** The number of terminal rows `text` took, after `prompt`, in `columns` */
function rows (prompt: string, text: string, columns: number | undefined): number {
  if (columns == null || columns <= 0) return 1
  let chars = prompt.length
  for (const _ of text) chars++ // code points, as the terminal advances
  return Math.max(1, Math.ceil(chars / columns))
}

/** The interactive terminal of `p2p-chat start`: incoming lines never garble the line being typed. Resolves on /quit. */
export async function runInteractive (node: ChatNode, opts: InteractiveOptions = {}): Promise<void> {
  const output = opts.output ?? process.stdout
  const input = opts.input ?? process.stdin
  const rl = createInterface({ input, output, terminal: true, historySize: 200 })
  let current: string | undefined = node.groups()[0]?.topicId
  /** per group: who is typing (peer id → name), until their indicator expires or their message comes */
  const typists = new Map<string, Map<string, { name: string, timer: NodeJS.Timeout }>>()
  const typingNote = (): string => {
    const names = [...(current != null ? typists.get(current)?.values() ?? [] : [])].map(t => printable(t.name))
    return names.length === 0 ? '' : `(${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…) `
  }
  const prompt = (): string => current != null ? `[${current}] ${typingNote()}> ` : '> '
  const setPrompt = (): void => { rl.setPrompt(prompt()) }
  /** display names by peer id, learnt from messages */
  const names = new Map<string, string>()
  /** per group: the newest timestamp shown */
  const shown = new Map<string, number>()
  let catchUp: ChatMessage[] = []
  let catchUpTimer: NodeJS.Timeout | undefined
  /** messages /history showed with a number ([n]), for /reply, /react, /edit, /delete */
  const numbers = new Map<string, number>()
  const numbered = new Map<number, { topicId: string, id: string }>()
  const numberOf = (m: ChatMessage): number => {
    let n = numbers.get(m.id)
    if (n == null) {
      n = numbers.size + 1
      numbers.set(m.id, n)
      numbered.set(n, { topicId: m.topicId, id: m.id })
    }
    return n
  }
  const who = (peerId: string): string => {
    const name = names.get(peerId)
    return name != null ? `${name} (${shortId(peerId)})` : shortId(peerId)
  }

  /** print above the prompt, then redraw the prompt and whatever was being typed */
  const print = (text: string): void => {
    clearLine(output, 0)
    cursorTo(output, 0)
    output.write(text + '\n')
    rl.prompt(true)
  }

  /** per group: the newest cursor shown, to be marked read (the node keeps unread counts across restarts) */
  const toMark = new Map<string, string>()
  let markTimer: NodeJS.Timeout | undefined
  const markShown = async (): Promise<void> => {
    markTimer = undefined
    const marks = [...toMark]
    toMark.clear()
    for (const [topicId, cursor] of marks) await node.markRead(topicId, cursor).catch(() => { /* a group left meanwhile */ })
  }
  const shownRead = (topicId: string, cursor: string | undefined): void => {
    if (cursor == null || cursor <= (toMark.get(topicId) ?? '')) return
    toMark.set(topicId, cursor)
    markTimer ??= setTimeout(() => { void markShown() }, MARK_READ_DELAY_MS)
  }
  let lastBell = 0
  const stopTyping = (topicId: string, peerId: string): void => {
    const t = typists.get(topicId)?.get(peerId)
    if (t == null) return
    clearTimeout(t.timer)
    typists.get(topicId)?.delete(peerId)
    if (topicId === current) { setPrompt(); rl.prompt(true) }
  }

  const show = (m: ChatMessage): void => {
    if (m.timestamp > (shown.get(m.topicId) ?? 0)) shown.set(m.topicId, m.timestamp)
    stopTyping(m.topicId, m.author)
    // shown in the current group: read
    if (m.topicId === current) shownRead(m.topicId, m.cursor)
    print(formatMessage(m, { showTopic: m.topicId !== current, color: output.isTTY === true }))
    if (m.kind === 'file' && m.file != null) print(fileLine(m.file, numberOf(m)))
    // mentioned: the terminal's bell too (once a second at most)
    if (mentionsMe(m) && Date.now() - lastBell > 1000) { lastBell = Date.now(); output.write('\x07') }
  }

  const flushCatchUp = (): void => {
    catchUpTimer = undefined
    const batch = catchUp.sort((a, b) => a.timestamp - b.timestamp || a.lamport - b.lamport)
    catchUp = []
    if (batch.length === 0) return
    const groups = [...new Set(batch.map(m => m.topicId))].join(', ')
    print(`* caught up ${batch.length} earlier message(s) in ${groups}:`)
    for (const m of batch) show(m)
  }

  const onMessage = (m: ChatMessage): void => {
    if (!m.own) names.set(m.author, m.name)
    // older than what is on screen: a catch-up (sync) batch, shown together and in order
    if (m.timestamp < (shown.get(m.topicId) ?? 0) - CATCH_UP_SKEW_MS || catchUpTimer != null) {
      catchUp.push(m)
      catchUpTimer ??= setTimeout(flushCatchUp, CATCH_UP_MS)
      return
    }
    show(m)
  }

  /** what the terminal shows of the node's events; removed again on quit */
  const listeners: { [E in keyof ChatNodeEvents]?: (...args: ChatNodeEvents[E]) => void } = {
    message: onMessage,
    typing: (e) => {
      let group = typists.get(e.topicId)
      if (group == null) { group = new Map(); typists.set(e.topicId, group) }
      const before = group.get(e.peerId)
      if (before != null) clearTimeout(before.timer)
      const timer = setTimeout(() => { stopTyping(e.topicId, e.peerId) }, Math.max(0, e.expiresAt - Date.now()))
      timer.unref()
      group.set(e.peerId, { name: e.name, timer })
      if (e.topicId === current && before == null) { setPrompt(); rl.prompt(true) }
    },
    'peer:connect': (p) => { print(`* ${who(p.peerId)} connected`) },
    'peer:disconnect': (p) => { print(`* ${who(p.peerId)} disconnected`) },
    'group:joined': (g) => { current ??= g.topicId; setPrompt() },
    'call:incoming': (c) => { print(`* incoming ${c.video ? 'video' : 'voice'} call from ${who(c.peerId)}: /accept or /reject`) },
    'call:connected': (c) => { print(`* call connected with ${who(c.peerId)}: /hangup to end it`) },
    'call:ended': (e) => { print(`* call with ${who(e.peerId)} ended: ${e.reason} (by ${e.by})${e.connected ? `\n  ${formatStats(e.stats)}` : ''}`) },
    'call:refused': (e) => { print(`* refused a call from ${who(e.peerId)}: ${e.reason}`) }
  }
  const on = (name: keyof ChatNodeEvents, add: boolean): void => {
    const listener = listeners[name]
    if (listener == null) return
    if (add) node.on(name, listener)
    else node.off(name, listener)
  }
  const eventNames = Object.keys(listeners) as Array<keyof ChatNodeEvents>
  for (const name of eventNames) on(name, true)

  // names of members seen recently, so that peers show as names from the start
  for (const g of node.groups()) {
    try {
      for (const m of (await node.history(g.topicId, { limit: NAME_WINDOW })).messages) {
        if (!m.own && !names.has(m.author)) names.set(m.author, m.name)
        if (m.timestamp > (shown.get(m.topicId) ?? 0)) shown.set(m.topicId, m.timestamp)
      }
    } catch {
      // a group left meanwhile: nothing to learn from it
    }
  }

  const showHistory = async (n: number): Promise<void> => {
    if (current == null) { print('no current group: /create <topic-id> or /join <invite>'); return }
    // as members see it (src/chat/view.ts): edits applied, tombstones, reactions, quotes; numbered for /reply and the others
    const { messages } = await node.view(current, { limit: n })
    if (messages.length === 0) print(`no messages in ${current} yet`)
    for (const m of [...messages].reverse()) {
      print(formatViewMessage(m, { tag: `[${numberOf(m)}]`, color: output.isTTY === true }))
      const file = (m as { file?: FileInfo }).file
      if (m.kind === 'file' && file != null) print(fileLine(file, numberOf(m)))
    }
    // a reaction or an edit above the newest message shown is read too
    shownRead(current, (await node.history(current, { limit: 1 })).messages[0]?.cursor)
  }

  /** one argument exactly (topic ids have no spaces) */
  const one = (args: string[], usage: string): string => {
    if (args.length !== 1) throw new TerminalUsage(args.length === 0 ? `usage: ${usage}` : `usage: ${usage} (one word: topic ids have no spaces)`)
    return args[0]
  }
  const none = (args: string[], usage: string): void => {
    if (args.length > 0) throw new TerminalUsage(`usage: ${usage} (no arguments)`)
  }
  /** the message a command names: a number shown ([n]), or an id prefix (8 or more hex) in the current group */
  const messageRef = (arg: string | undefined, usage: string): { topicId: string, id: string } => {
    if (arg == null) throw new TerminalUsage(`usage: ${usage}`)
    if (/^\d{1,7}$/.test(arg)) {
      const found = numbered.get(Number(arg))
      if (found == null) throw new TerminalUsage(`no message [${arg}] shown yet: /history lists messages with their numbers`)
      return found
    }
    if (current == null) throw new TerminalUsage('no current group: /create <topic-id> or /join <invite>')
    return { topicId: current, id: arg }
  }

  const commands: Record<string, (args: string[]) => Promise<void>> = {
    help: async () => { print(HELP) },
    create: async (args) => {
      const topicId = one(args, '/create <topic-id>')
      const g = await node.createGroup(topicId)
      current = g.topicId
      setPrompt()
      print(`created ${g.topicId}; invite (share it only with members):\n${g.invite}`)
    },
    join: async (args) => {
      if (args.length === 0 || args.length > 2) throw new TerminalUsage('usage: /join <invite> | /join <topic-id> <secret>')
      const [first, secret] = args
      const g = secret != null ? await node.joinGroup({ topicId: first, secret }) : await node.joinGroup({ invite: first })
      current = g.topicId
      setPrompt()
      print(`joined ${g.topicId}${g.dialed > 0 ? ` (connected to the inviter)` : ''}`)
      await showHistory(20)
    },
    leave: async (args) => {
      if (args.length > 1) throw new TerminalUsage('usage: /leave [topic-id] (one word: topic ids have no spaces)')
      const t = args[0] ?? current
      if (t == null) throw new TerminalUsage('usage: /leave <topic-id>')
      await node.leaveGroup(t)
      if (current === t) current = node.groups()[0]?.topicId
      toMark.delete(t)
      setPrompt()
      print(`left ${t}`)
    },
    switch: async (args) => {
      const topicId = one(args, '/switch <topic-id>')
      node.group(topicId)
      current = topicId
      const u = await node.unread(topicId)
      setPrompt()
      print(`now in ${topicId}${u.unread > 0 ? ` (${unreadText(u)} unread${u.unreadMentions > 0 ? `, ${u.unreadMentions} mentioning you` : ''}: /history ${Math.min(u.unread, 1000)})` : ''}`)
    },
    groups: async (args) => {
      none(args, '/groups')
      const groups = await Promise.all(node.groups().map(async g => ({ ...g, ...await node.unread(g.topicId) })))
      print(groups.length === 0
        ? 'no groups yet: /create <topic-id> or /join <invite>'
        : groups.map(g => {
          const mentions = g.unreadMentions > 0 ? ` (${g.unreadMentions} mentioning you)` : ''
          return `${g.topicId === current ? '*' : ' '} ${g.topicId}  ${g.peers} peer(s)${g.unread > 0 ? `  ${unreadText(g)} unread${mentions}` : ''}`
        }).join('\n'))
    },
    peers: async (args) => {
      none(args, '/peers')
      const peers = node.peers()
      print(peers.length === 0 ? 'no peers connected' : peers.map(p => `${names.get(p.peerId) ?? '?'}  ${p.peerId}  ${p.addrs.join(' ')}`).join('\n'))
    },
    members: async (args) => {
      none(args, '/members')
      if (current == null) throw new TerminalUsage('no current group: /create <topic-id> or /join <invite>')
      print(formatMembers(await node.members(current)))
    },
    remove: async (args) => {
      const member = one(args, '/remove <member> (a peer id, a name, or name~suffix as /members shows it)')
      if (current == null) throw new TerminalUsage('no current group: /create <topic-id> or /join <invite>')
      const m = await node.removeMember(current, member)
      print(`removed ${member} from ${current}: ${m.members.length} member(s) left, a new key epoch follows`)
    },
    invite: async (args) => {
      none(args, '/invite')
      if (current == null) throw new TerminalUsage('no current group: /create <topic-id> or /join <invite>')
      print(node.membership(current).logged ? (await node.createInvite(current)).invite : node.invite(current))
    },
    history: async (args) => {
      if (args.length > 1 || (args[0] != null && !/^\d+$/.test(args[0]))) throw new TerminalUsage('usage: /history [n] (n: how many messages, a whole number, at most 1000)')
      const n = args[0] != null ? Number(args[0]) : 20
      if (n < 1 || n > 1000) throw new TerminalUsage('usage: /history [n] (n: 1 to 1000)')
      await showHistory(n)
    },
    search: async (args) => {
      if (args.length === 0) throw new TerminalUsage('usage: /search <words> (messages holding all of them, in any group)')
      // history stored before the index existed: indexed once, first
      await node.searchIndex({ onProgress: p => { if (p.done === 0 && p.total > 10_000) print(`* indexing ${p.total} messages of ${p.topicId} for search…`) } })
      print(formatSearchResults(await node.search(args.join(' '), { limit: 20 }), { terminal: true, color: output.isTTY === true }))
    },
    name: async (args) => {
      if (args.length === 0) { print(`you are ${node.name}`); return }
      print(`you are now ${await node.setName(args.join(' '))}`)
    },
    call: async (args) => {
      if (args.length === 0 || args.length > 2 || (args[1] != null && args[1] !== 'video')) throw new TerminalUsage('usage: /call <peer-id-or-name> [video]')
      const [target, kind] = args
      const peerId = await node.resolvePeer(target)
      print(`* calling ${who(peerId)}…`)
      // the call runs on; its events report what happens
      node.calls.call(peerId, { video: kind === 'video' }).catch((err: unknown) => { print(`! call failed: ${terminalMessage(err)}`) })
    },
    accept: async (args) => {
      none(args, '/accept')
      const ringing = node.calls.list().find(c => c.direction === 'inbound' && c.state === 'ringing')
      if (ringing == null) throw new TerminalUsage('no call is ringing')
      try {
        await node.calls.answer({ callId: ringing.callId })
      } catch (err) {
        // a call that could not be answered (no sox, a bad device) must not linger half-open
        await node.calls.reject(ringing.callId, 'the callee could not take the call').catch(() => node.calls.hangup(ringing.callId)).catch(() => [])
        throw err
      }
    },
    reject: async (args) => {
      none(args, '/reject')
      const ringing = node.calls.list().find(c => c.direction === 'inbound' && c.state === 'ringing')
      if (ringing == null) throw new TerminalUsage('no call is ringing')
      await node.calls.reject(ringing.callId)
    },
    hangup: async (args) => {
      none(args, '/hangup')
      const ended = await node.calls.hangup()
      if (ended.length === 0) print('no call to hang up')
    },
    reply: async (args) => {
      const { topicId, id } = messageRef(args[0], '/reply <n> <text>')
      if (args.length < 2) throw new TerminalUsage('usage: /reply <n> <text>')
      await node.reply(topicId, id, args.slice(1).join(' '))
    },
    react: async (args) => {
      if (args.length !== 2) throw new TerminalUsage('usage: /react <n> <emoji>')
      const { topicId, id } = messageRef(args[0], '/react <n> <emoji>')
      await node.react(topicId, id, args[1])
    },
    unreact: async (args) => {
      if (args.length !== 2) throw new TerminalUsage('usage: /unreact <n> <emoji>')
      const { topicId, id } = messageRef(args[0], '/unreact <n> <emoji>')
      await node.react(topicId, id, args[1], { remove: true })
    },
    edit: async (args) => {
      const { topicId, id } = messageRef(args[0], '/edit <n> <text>')
      if (args.length < 2) throw new TerminalUsage('usage: /edit <n> <text>')
      await node.edit(topicId, id, args.slice(1).join(' '))
    },
    delete: async (args) => {
      if (args.length !== 1) throw new TerminalUsage('usage: /delete <n>')
      const { topicId, id } = messageRef(args[0], '/delete <n>')
      await node.deleteMessage(topicId, id)
      print(`deleted [${args[0]}]: members see a tombstone instead`)
    },
    file: async (args) => {
      if (current == null) throw new TerminalUsage('no current group: /create <topic-id> or /join <invite>')
      const raw = args.join(' ')
      const quoted = /^"([^"]+)"\s*(.*)$/.exec(raw)
      const path = quoted != null ? quoted[1] : args[0]
      const caption = quoted != null ? quoted[2] : args.slice(1).join(' ')
      if (path == null || path === '') throw new TerminalUsage('usage: /file <path> [caption] ("quote" a path with spaces)')
      const topicId = current
      print(`* sending ${printable(path)}…`)
      // the announcement is printed by the message event once it is sent
      node.sendFile(topicId, resolvePath(path), caption !== '' ? { caption } : {}).catch((err: unknown) => { print(`! ${terminalMessage(err)}`) })
    },
    get: async (args) => {
      if (args.length < 1 || args.length > 2) throw new TerminalUsage('usage: /get <n> [path] (n: the file message\'s number, or an id prefix)')
      const ref = messageRef(args[0], '/get <n> [path]')
      const status = await node.fileStatus(ref.id)
      const out = resolvePath(args[1] ?? status.file.name)
      print(`* fetching ${printable(status.file.name)} (${humanBytes(status.file.size)})${status.held > 0 ? `, ${status.held} of ${status.chunks} chunks held already` : ''}…`)
      let reported = 0
      node.getFile(ref.id, {
        out,
        onProgress: p => {
          const pct = Math.floor(100 * p.held / Math.max(1, p.chunks))
          if (p.state === 'fetching' && pct >= reported + 25 && pct < 100) { reported = pct - (pct % 25); print(`* ${printable(p.name)}: ${pct}%`) }
        }
      }).then(r => {
        print(`* saved ${printable(r.name)} to ${printable(out)}${r.alreadyHeld ? '' : ` (${r.fetched} chunks from ${Object.keys(r.from).length} member(s))`}`)
      }, (err: unknown) => { print(`! ${terminalMessage(err)}`) })
    },
    dial: async (args) => {
      const addr = one(args, '/dial <multiaddr>')
      const p = await node.dial(addr)
      print(`connected to ${who(p.peerId)}`)
    }
  }

  setPrompt()
  if (current == null) print('no groups yet: /create <topic-id> to start one, or /join <invite> to join one. /help lists commands.')
  else print(`in ${current}. /help lists commands.`)

  await new Promise<void>((resolve) => {
    let quitting = false
    /** a Ctrl-C was pressed and nothing else since: the next one quits */
    let armed = false
    const quit = async (): Promise<void> => {
      if (quitting) return
      quitting = true
      for (const name of eventNames) on(name, false)
      if (catchUpTimer != null) clearTimeout(catchUpTimer)
      for (const group of typists.values()) for (const t of group.values()) clearTimeout(t.timer)
      if (markTimer != null) { clearTimeout(markTimer); await markShown() }
      input.off('keypress', onKeypress)
      await node.calls.hangup().catch(() => [])
      rl.close()
      resolve()
    }
    const onKeypress = (_s: unknown, key?: { name?: string, ctrl?: boolean }): void => {
      if (key?.ctrl !== true || key.name !== 'c') armed = false
      // typing a message (not a /command): the group sees it, at most once per 3 s (the node holds the rest back)
      const typed = rl.line
      if (current != null && !quitting && typed.trim() !== '' && (!typed.startsWith('/') || typed.startsWith('//')) && key?.name !== 'return') {
        try { node.typing(current) } catch { /* a group left meanwhile */ }
      }
    }
    input.on('keypress', onKeypress)
    void opts.stopRequested?.then(quit)
    rl.on('SIGINT', () => {
      if (armed) { void quit(); return }
      armed = true
      // first Ctrl-C: clear the line being typed (as shells do); the second one quits
      rl.write(null, { ctrl: true, name: 'u' })
      rl.write(null, { ctrl: true, name: 'k' })
      print('(Ctrl-C again to quit, or /quit)')
    })
    rl.on('close', () => { void quit() })
    rl.on('line', (line) => {
      armed = false
      const text = line.trim()
      if (text === '') { rl.prompt(); return }
      // the typed line was echoed by readline; replace it with the sent message when it arrives
      void (async () => {
        try {
          if (text.startsWith('/') && !text.startsWith('//')) {
            const [cmd, ...args] = text.slice(1).split(/\s+/)
            if (cmd === 'quit' || cmd === 'exit') { await quit(); return }
            const fn = Object.hasOwn(commands, cmd) ? commands[cmd] : undefined
            if (fn == null) print(`unknown command /${cmd}: /help lists commands (start the line with // to send it as text)`)
            else await fn(args)
          } else if (current == null) {
            print('not in a group: /create <topic-id> or /join <invite> first')
          } else {
            // "//x" sends "/x"
            const body = text.startsWith('//') ? line.replace(/^(\s*)\//, '$1') : line
            // the echoed input line (all the rows it wrapped onto) gives way to the message itself, printed by the message event
            moveUp(output, rows(prompt(), line, output.columns))
            await node.send(current, body)
          }
        } catch (err) {
          print(`! ${terminalMessage(err)}`)
        }
      })()
    })
    rl.prompt()
  })
}

/** Remove the echoed input line (`n` rows up) so the sent message replaces it */
function moveUp (output: NodeJS.WritableStream, n: number): void {
  for (let i = 0; i < n; i++) {
    output.write('\x1b[1A')
    clearLine(output, 0)
  }
}
