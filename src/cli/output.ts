import { CommanderError } from 'commander'
import { ChatError, NodeNotRunningError } from '../errors.js'
import type { Command } from 'commander'
import type { ChatMessage, GroupMember } from '../node.js'

/** Exit codes, documented in `p2p-chat --help` and the README */
export const EXIT = {
  OK: 0,
  /** the command failed: bad input, unknown group, refused by the node */
  ERROR: 1,
  /** no node is running for the data directory */
  NOT_RUNNING: 2,
  /** wrong usage: unknown command or option, missing argument, bad option value */
  USAGE: 64,
  /** interrupted by Ctrl-C (or SIGTERM) */
  INTERRUPTED: 130
} as const

export const EXIT_CODES_HELP = `
Exit codes:
  0    success; "start" after a clean stop (Ctrl-C, SIGTERM, /quit, "p2p-chat stop")
  1    the command failed (bad input, unknown group, error reported by the node)
  2    no node is running for the data directory (start one with "p2p-chat start")
  64   wrong usage (unknown command or option, missing argument, bad option value)
  130  interrupted (Ctrl-C) before the command was done (watch, export, import, sync, call)
  128+N  the launcher's child was killed by signal N`

/** Wrong usage found by our own checks (a bad option value): one line, exit 64 */
export class UsageError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** Ctrl-C (or SIGTERM) interrupted the command: exit 130 */
export class InterruptedError extends Error {
  constructor (message = 'interrupted') {
    super(message)
    this.name = 'AbortError'
  }
}

function errorName (err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined
}

/** Map any error to one line on stderr and an exit code. */
export function reportError (err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.OK
    // `p2p-chat` with no command: help on stderr, and it is wrong usage
    return EXIT.USAGE // commander already printed its one line (see configureCommand)
  }
  if (err instanceof UsageError) {
    process.stderr.write(`p2p-chat: ${err.message}\n`)
    return EXIT.USAGE
  }
  if (err instanceof NodeNotRunningError) {
    process.stderr.write(`p2p-chat: ${err.message}\n`)
    return EXIT.NOT_RUNNING
  }
  if (err instanceof ChatError) {
    process.stderr.write(`p2p-chat: ${err.message}\n`)
    return EXIT.ERROR
  }
  if (errorName(err) === 'AbortError') return EXIT.INTERRUPTED
  const message = err instanceof Error ? err.message : String(err)
  process.stderr.write(`p2p-chat: unexpected error: ${message}\n`)
  if (process.env.DEBUG != null && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`)
  return EXIT.ERROR
}

/** Exit codes returned by actions, per program (commander drops an action's return value) */
const results = new WeakMap<Command, number>()

function root (cmd: Command): Command {
  let c = cmd
  while (c.parent != null) c = c.parent
  return c
}

/**
 * Set a command's action: it returns its exit code (anything but a number: 0) instead
 * of setting process.exitCode; main() reads it with exitCodeOf().
 */
export function act (cmd: Command, fn: (...args: never[]) => Promise<unknown>): Command {
  // commander passes the declared arguments, then the options, then the command
  const run = fn as (...args: unknown[]) => Promise<unknown>
  return cmd.action(async (...args: unknown[]) => {
    const code = await run(...args)
    results.set(root(cmd), typeof code === 'number' ? code : EXIT.OK)
  })
}

export function exitCodeOf (program: Command): number {
  return results.get(program) ?? EXIT.OK
}

/**
 * Commander's own errors as one line: `p2p-chat: <what> (see "p2p-chat <cmd> --help")`.
 * Applied to every command of the program.
 */
export function configureCommand (cmd: Command): void {
  const path: string[] = []
  for (let c: Command | null = cmd; c != null; c = c.parent) path.unshift(c.name())
  const helpHint = `(see "${path.join(' ')} --help")`
  cmd.configureOutput({
    outputError: (str, write) => {
      const text = str.trim().replace(/^error: /, '').split('\n')[0]
      write(`p2p-chat: ${text} ${helpHint}\n`)
    }
  })
  cmd.exitOverride()
  for (const sub of cmd.commands) configureCommand(sub)
}

/**
 * Text as it may reach a terminal: control characters (ANSI escapes, carriage
 * returns, backspaces, bidi overrides) become visible escapes, so that no
 * message can move the cursor, recolour the screen or fake another line.
 */
export function printable (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, c => `\\u{${c.charCodeAt(0).toString(16)}}`)
}

/** A time for people; total: a time it cannot show is shown as such, never thrown */
export function time (ms: number): string {
  const d = new Date(ms)
  if (!Number.isFinite(d.getTime())) return '(bad time)'
  const today = new Date()
  const hhmm = d.toTimeString().slice(0, 5)
  return d.toDateString() === today.toDateString() ? hhmm : `${d.toISOString().slice(0, 10)} ${hhmm}`
}

/**
 * One message: time, [group], author name, text; the continuation lines of
 * a multi-line message are indented under the text, so each line still
 * shows whose it is.
 */
export function formatMessage (m: ChatMessage, opts: { showTopic?: boolean, color?: boolean, self?: string } = {}): string {
  const topic = opts.showTopic === true ? `[${m.topicId}] ` : ''
  const line = formatLines(m, topic)
  // a message that mentions this node: marked in words, and highlighted on a terminal (bold, reversed)
  if (!mentionsMe(m, opts.self) || opts.color !== true) return line
  return line.split('\n').map(l => `\x1b[1;7m${l}\x1b[0m`).join('\n')
}

/** Is this node (`self`, its peer id, when the message does not say `mentionsMe`) among the members a message mentions? */
export function mentionsMe (m: ChatMessage, self?: string): boolean {
  return m.mentionsMe === true || (self != null && !m.own && m.mentions?.includes(self) === true)
}

function formatLines (m: ChatMessage, topic: string): string {
  // a name is self-chosen: the end of the peer id says who it really is
  const who = m.own ? `${printable(m.name)} (you)` : `${printable(m.name)}~${m.author.slice(-4)}`
  const head = `${time(m.timestamp)} ${topic}<${who}> `
  const [first, ...rest] = (contentLine(m) + marks(m)).split(/\r?\n/).map(printable)
  if (rest.length === 0) return head + first
  const pad = ' '.repeat(Math.max(0, head.length - 2)) + '| '
  return [head + first, ...rest.map(l => pad + l)].join('\n')
}

/** What a message says, by kind (one line for those that are not text) */
function contentLine (m: ChatMessage): string {
  const ref = (id?: string): string => id != null ? `#${id.slice(0, 8)}` : ''
  switch (m.kind) {
    case 'text': return m.replyTo != null ? `(reply to ${ref(m.replyTo)}) ${m.text}` : m.text
    case 'reaction': return `${m.remove === true ? 'took back' : 'reacted'} ${m.emoji ?? ''} ${m.remove === true ? 'from' : 'to'} ${ref(m.target)}`
    case 'edit': return `(edit of ${ref(m.target)}) ${m.text}`
    case 'delete': return `(deleted ${ref(m.target)})`
    case 'file': return `sent a file: ${m.file?.name ?? '?'} (${m.file?.size ?? 0} bytes)${m.text !== '' ? ` ${m.text}` : ''}`
    default: return `[unsupported message, kind ${m.kindNumber}]`
  }
}

/** The warnings a message carries: arrived late, misordered, from an author who equivocated */
function marks (m: ChatMessage): string {
  const out: string[] = []
  if (m.arrivedLate != null) out.push(`arrived late, at ${time(m.arrivedLate)}`)
  if (m.misordered === true) out.push('misordered: its place in history is its author\'s claim')
  if (m.conflict === true) out.push('its author signed two versions of a message')
  if (m.mentionsMe === true) out.push('mentions you')
  return out.length > 0 ? `  [${out.join('; ')}]` : ''
}

export function shortId (peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 6)}…${peerId.slice(-6)}` : peerId
}

/** A duration option: "30s", "500ms", "2m", or plain seconds ("30") */
export function parseDuration (flag: string, examples = '30s, 500ms or 2m'): (v: string) => number {
  return (v: string) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim())
    if (m == null) throw new UsageError(`${flag} must be a duration like ${examples}, not "${v}"`)
    const n = Number(m[1])
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 's'] ?? 1000
    const ms = n * unit
    if (!(ms > 0)) throw new UsageError(`${flag} must be longer than 0, not "${v}"`)
    return ms
  }
}

/** A whole number option within [min, max] */
export function parseWhole (flag: string, min = 0, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v: string) => {
    if (!/^\d+$/.test(v.trim())) throw new UsageError(`${flag} must be a whole number, not "${v}"`)
    const n = Number(v)
    if (n < min || n > max) throw new UsageError(`${flag} must be between ${min} and ${max}, not ${v}`)
    return n
  }
}

/** `members` for people: name (with the end of the peer id), presence, connection, last message */
export function formatMembers (members: GroupMember[]): string {
  if (members.length === 0) return 'no members known yet'
  return members.map(m => {
    const who = `${printable(m.name === '' ? '?' : m.name)}~${m.peerId.slice(-4)}`
    const state = m.self ? 'you' : m.online ? `online (${m.connection})` : `offline${m.connection !== 'none' ? ` (${m.connection})` : ''}`
    const seen = m.lastSeen != null ? `  last message ${time(m.lastSeen)}` : ''
    const role = m.role != null ? `${m.role.padEnd(8)} ` : ''
    return `${who.padEnd(24)} ${role}${state.padEnd(18)} ${m.peerId}${seen}`
  }).join('\n')
}
