import type { ChatMessage } from '../node.js'

/** Exit codes, documented in `p2p-chat --help` */
export const EXIT = {
  OK: 0,
  /** the command failed: bad input, unknown group, refused by the node */
  ERROR: 1,
  /** no node is running for the data directory */
  NOT_RUNNING: 2,
  /** wrong usage: unknown command or option, missing argument */
  USAGE: 64,
  /** interrupted by Ctrl-C */
  INTERRUPTED: 130
} as const

export const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    the command failed (bad input, unknown group, error reported by the node)
  2    no node is running for the data directory (start one with "p2p-chat start")
  64   wrong usage (unknown command or option, missing argument)
  130  interrupted (Ctrl-C)`

export function time (ms: number): string {
  const d = new Date(ms)
  const today = new Date()
  const hhmm = d.toTimeString().slice(0, 5)
  return d.toDateString() === today.toDateString() ? hhmm : `${d.toISOString().slice(0, 10)} ${hhmm}`
}

/** One message as a line: time, [group], author name, text */
export function formatMessage (m: ChatMessage, opts: { showTopic?: boolean } = {}): string {
  const topic = opts.showTopic === true ? `[${m.topicId}] ` : ''
  const who = m.own ? `${m.name} (you)` : m.name
  return `${time(m.timestamp)} ${topic}<${who}> ${m.text}`
}

export function shortId (peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 6)}…${peerId.slice(-6)}` : peerId
}
