import { createInterface, clearLine, cursorTo } from 'node:readline'
import { ChatError } from '../errors.js'
import { formatMessage, shortId } from './output.js'
import { formatStats } from './calls.js'
import type { ChatNode, ChatNodeEvents } from '../node.js'

const HELP = `commands:
  /create <topic-id>          create a group and print its invite
  /join <invite>              join by invite
  /join <topic-id> <secret>   join by topic id and secret
  /leave [topic-id]           leave a group (default: the current one)
  /switch <topic-id>          type into another group
  /groups                     list your groups
  /peers                      list connected peers
  /invite                     print the current group's invite
  /history [n]                show the last n messages (default 20)
  /name <name>                change your display name
  /dial <multiaddr>           connect to a peer
  /call <peer-or-name> [video]  call a member (microphone/speaker through sox)
  /accept                     accept the ringing call
  /reject                     refuse the ringing call
  /hangup                     end the call
  /help                       this help
  /quit                       stop the node and exit
anything else is sent to the current group`

export interface InteractiveOptions {
  onQuit: () => Promise<void>
  input?: NodeJS.ReadableStream
  output?: NodeJS.WritableStream & { isTTY?: boolean }
}

/** The interactive terminal of `p2p-chat start`: incoming lines never garble the line being typed. */
export async function runInteractive (node: ChatNode, opts: InteractiveOptions): Promise<void> {
  const output = opts.output ?? process.stdout
  const rl = createInterface({ input: opts.input ?? process.stdin, output, terminal: true, historySize: 200 })
  let current: string | undefined = node.groups()[0]?.topicId
  const setPrompt = (): void => { rl.setPrompt(current != null ? `[${current}] > ` : '> ') }

  /** print above the prompt, then redraw the prompt and whatever was being typed */
  const print = (text: string): void => {
    clearLine(output, 0)
    cursorTo(output, 0)
    output.write(text + '\n')
    rl.prompt(true)
  }

  /** what the terminal shows of the node's events; removed again on quit */
  const listeners: { [E in keyof ChatNodeEvents]?: (...args: ChatNodeEvents[E]) => void } = {
    message: (m) => { print(formatMessage(m, { showTopic: m.topicId !== current })) },
    'peer:connect': (p) => { print(`* peer connected ${shortId(p.peerId)}`) },
    'group:joined': (g) => { current ??= g.topicId; setPrompt() },
    'call:incoming': (c) => { print(`* incoming ${c.video ? 'video' : 'voice'} call from ${shortId(c.peerId)}: /accept or /reject`) },
    'call:connected': (c) => { print(`* call connected with ${shortId(c.peerId)}: /hangup to end it`) },
    'call:ended': (e) => { print(`* call with ${shortId(e.peerId)} ended: ${e.reason} (by ${e.by})${e.connected ? `\n  ${formatStats(e.stats)}` : ''}`) },
    'call:refused': (e) => { print(`* refused a call from ${shortId(e.peerId)}: ${e.reason}`) }
  }
  const each = (fn: (name: keyof ChatNodeEvents, listener: (...args: any[]) => void) => void): void => {
    for (const [name, listener] of Object.entries(listeners)) fn(name as keyof ChatNodeEvents, listener)
  }
  each((name, listener) => { node.on(name, listener) })

  const showHistory = async (n: number): Promise<void> => {
    if (current == null) { print('no current group'); return }
    const { messages } = await node.history(current, { limit: n })
    if (messages.length === 0) print(`no messages in ${current} yet`)
    for (const m of [...messages].reverse()) print(formatMessage(m))
  }

  const commands: Record<string, (args: string[]) => Promise<void>> = {
    help: async () => { print(HELP) },
    create: async ([topicId]) => {
      if (topicId == null) { print('usage: /create <topic-id>'); return }
      const g = await node.createGroup(topicId)
      current = g.topicId
      setPrompt()
      print(`created ${g.topicId}; invite (share it only with members):\n${g.invite}`)
    },
    join: async ([first, secret]) => {
      if (first == null) { print('usage: /join <invite> | /join <topic-id> <secret>'); return }
      const g = secret != null ? await node.joinGroup({ topicId: first, secret }) : await node.joinGroup({ invite: first })
      current = g.topicId
      setPrompt()
      print(`joined ${g.topicId}`)
      await showHistory(20)
    },
    leave: async ([topicId]) => {
      const t = topicId ?? current
      if (t == null) { print('usage: /leave <topic-id>'); return }
      await node.leaveGroup(t)
      if (current === t) current = node.groups()[0]?.topicId
      setPrompt()
      print(`left ${t}`)
    },
    switch: async ([topicId]) => {
      if (topicId == null) { print('usage: /switch <topic-id>'); return }
      node.group(topicId)
      current = topicId
      setPrompt()
      print(`now in ${topicId}`)
    },
    groups: async () => {
      const groups = node.groups()
      print(groups.length === 0 ? 'no groups yet: /create <topic-id> or /join <invite>' : groups.map(g => `${g.topicId === current ? '*' : ' '} ${g.topicId}  ${g.peers} peer(s)`).join('\n'))
    },
    peers: async () => {
      const peers = node.peers()
      print(peers.length === 0 ? 'no peers connected' : peers.map(p => `${p.peerId}  ${p.addrs.join(' ')}`).join('\n'))
    },
    invite: async () => {
      if (current == null) { print('no current group'); return }
      print(node.invite(current))
    },
    history: async ([n]) => { await showHistory(n != null && /^\d+$/.test(n) ? Math.min(Number(n), 1000) : 20) },
    name: async ([name]) => {
      if (name == null) { print(`you are ${node.name}`); return }
      print(`you are now ${await node.setName(name)}`)
    },
    call: async ([target, kind]) => {
      if (target == null) { print('usage: /call <peer-id-or-name> [video]'); return }
      const peerId = await node.resolvePeer(target)
      print(`* calling ${shortId(peerId)}…`)
      // the call runs on; its events report what happens
      node.call(peerId, { video: kind === 'video' }).catch(err => { print(`! call failed: ${(err as Error).message}`) })
    },
    accept: async () => { await node.answer({ timeout: 1 }) },
    reject: async () => { await node.reject() },
    hangup: async () => {
      const ended = await node.hangup()
      if (ended.length === 0) print('no call to hang up')
    },
    dial: async ([addr]) => {
      if (addr == null) { print('usage: /dial <multiaddr>'); return }
      const p = await node.dial(addr)
      print(`connected to ${shortId(p.peerId)}`)
    }
  }

  setPrompt()
  if (current == null) print('no groups yet: /create <topic-id> to start one, or /join <invite> to join one. /help lists commands.')
  else print(`in ${current}. /help lists commands.`)

  await new Promise<void>((resolve) => {
    let quitting = false
    const quit = async (): Promise<void> => {
      if (quitting) return
      quitting = true
      each((name, listener) => { node.off(name, listener) })
      await node.hangup().catch(() => {})
      rl.close()
      await opts.onQuit()
      resolve()
    }
    rl.on('SIGINT', () => { void quit() })
    rl.on('close', () => { void quit() })
    rl.on('line', (line) => {
      const text = line.trim()
      if (text === '') { rl.prompt(); return }
      // the typed line was echoed by readline; replace it with the sent message when it arrives
      void (async () => {
        try {
          if (text.startsWith('/')) {
            const [cmd, ...args] = text.slice(1).split(/\s+/)
            if (cmd === 'quit' || cmd === 'exit') { await quit(); return }
            const fn = commands[cmd]
            if (fn == null) print(`unknown command /${cmd}: /help lists commands`)
            else await fn(args)
          } else if (current == null) {
            print('not in a group: /create <topic-id> or /join <invite> first')
          } else {
            // the echoed input line gives way to the message itself, printed by the message event
            moveUp(output)
            await node.send(current, line)
          }
        } catch (err) {
          print(`! ${err instanceof ChatError ? err.message : (err as Error).message}`)
        }
      })()
    })
    rl.prompt()
  })
}

/** Remove the echoed input line (one row up) so the sent message replaces it */
function moveUp (output: NodeJS.WritableStream): void {
  output.write('\x1b[1A')
  clearLine(output, 0)
}
