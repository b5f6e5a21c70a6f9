import { execFileSync } from 'node:child_process'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { DATA_DIR_ENV } from '../config.js'
import { InvalidInputError } from '../errors.js'
import { connect } from './commands.js'
import { act, EXIT, parseDuration, reportError, shortId } from './output.js'
import type { Command } from 'commander'
import type { ApiClient } from '../api/index.js'
import type { CallEnd, CallInfo, CallStats } from '../calls/index.js'

interface MediaOptions { input?: string, output?: string, json?: boolean, dataDir?: string, wait?: number }

/** A progress line of a call, as the node streams it (see api/routes.ts followCall) */
type CallProgress =
  | { event: 'ringing', peerId: string }
  | { event: 'connected', call: CallInfo }
  | { event: 'stats', callId: string, stats: CallStats }

function isCallProgress (p: unknown): p is CallProgress {
  return typeof p === 'object' && p != null && 'event' in p && typeof p.event === 'string'
}

/** Reasons for which a call counts as ended normally (exit 0) */
const NORMAL_ENDS = new Set(['hangup', 'completed'])

export function formatStats (s: CallStats): string {
  const kbit = (b: number): string => `${Math.round(b / 1000)} kbit/s`
  const ms = (v?: number): string => v == null ? '–' : `${v.toFixed(1)} ms`
  return `rtt ${ms(s.rttMs)}  one-way ${ms(s.oneWayDelayMs)}  jitter ${ms(s.jitterMs)}  lost ${s.framesLost}  dropped ${s.framesDropped}  in ${kbit(s.receiveBitrate)}  out ${kbit(s.sendBitrate)}`
}

/**
 * The node runs in another process: files are handed over as absolute paths,
 * and "-" (stdin / stdout) through a named pipe this command feeds or drains.
 */
function prepareMedia (opts: MediaOptions): { input?: string, output?: string, cleanup: () => void } {
  let dir: string | undefined
  const fifo = (name: string): string => {
    dir ??= mkdtempSync(join(tmpdir(), 'p2p-chat-call-'))
    const path = join(dir, name)
    try {
      execFileSync('mkfifo', ['-m', '600', path])
    } catch {
      throw new InvalidInputError('"-" needs mkfifo (coreutils) to hand stdin/stdout to the node: give a file instead')
    }
    return path
  }
  const media = (v: string | undefined): string | undefined => v == null || v === 'device' || v === 'none' || v === '-' ? v : resolve(v)
  let input = media(opts.input)
  let output = media(opts.output)
  if (input === '-') {
    input = fifo('in')
    process.stdin.pipe(createWriteStream(input))
  }
  if (output === '-') {
    output = fifo('out')
    createReadStream(output).pipe(process.stdout)
  }
  return { input, output, cleanup: () => { if (dir != null) rmSync(dir, { recursive: true, force: true }) } }
}

/** Follow a call's progress lines on stderr: connected, live stats (one line, rewritten on a terminal). */
function follower (opts: MediaOptions, onConnected: (callId: string) => void): (p: unknown) => void {
  const tty = process.stderr.isTTY && opts.json !== true
  return (p) => {
    if (!isCallProgress(p)) return
    if (p.event === 'ringing') process.stderr.write(`calling ${shortId(p.peerId)}… (Ctrl-C to cancel)\n`)
    else if (p.event === 'connected') {
      onConnected(p.call.callId)
      process.stderr.write(`connected to ${shortId(p.call.peerId)}${p.call.video ? ' (video)' : ''}: Ctrl-C to hang up\n`)
    } else if (p.event === 'stats' && tty) process.stderr.write(`\r\x1b[2K${formatStats(p.stats)}`)
  }
}

function report (opts: MediaOptions, end: CallEnd): number {
  if (process.stderr.isTTY && opts.json !== true) process.stderr.write('\n')
  if (opts.json === true) process.stdout.write(JSON.stringify(end, null, 2) + '\n')
  else process.stderr.write(`call ended: ${end.reason} (by ${end.by}${end.message != null ? `: ${end.message}` : ''}) after ${Math.round(end.stats.durationMs / 1000)} s\n${formatStats(end.stats)}\n`)
  return NORMAL_ENDS.has(end.reason) ? EXIT.OK : EXIT.ERROR
}

/**
 * Run a call to its end with Ctrl-C hanging up (or cancelling while it rings),
 * then exit: a named pipe the node never opened must not keep us alive.
 */
async function runCall (opts: MediaOptions, start: (client: ApiClient, media: { input?: string, output?: string }, onProgress: (p: unknown) => void, signal: AbortSignal) => Promise<CallEnd>): Promise<number> {
  const client = await connect(opts)
  const media = prepareMedia(opts)
  const ac = new AbortController()
  let callId: string | undefined
  const onSigint = (): void => {
    if (callId != null) void client.hangup(callId).catch(() => ac.abort())
    else ac.abort()
  }
  process.on('SIGINT', onSigint)
  process.on('SIGTERM', onSigint)
  let code: number
  try {
    const end = await start(client, media, follower(opts, id => { callId = id }), ac.signal)
    code = report(opts, end)
  } catch (err) {
    if (ac.signal.aborted) {
      process.stderr.write('call cancelled\n')
      code = EXIT.INTERRUPTED
    } else {
      code = reportError(err)
    }
  } finally {
    process.off('SIGINT', onSigint)
    process.off('SIGTERM', onSigint)
    media.cleanup()
  }
  // bin/p2p-chat.js exits with this code: a named pipe the node never opened does not keep the process alive
  return code
}

export function registerCallCommands (program: Command): void {
  const common = (cmd: Command, json: string): Command => cmd
    .option('-d, --data-dir <dir>', `data directory of the node to talk to (default: $${DATA_DIR_ENV} or ~/.p2p-chat)`)
    .option('--json', json)
    .option('--wait <duration>', 'wait up to this long (30s, 500ms, 2m) for the node to be ready, e.g. right after "start &"', parseDuration('--wait'))
  const media = (cmd: Command): Command => cmd
    .option('--input <file|-|device|none>', 'what to send: a file (or "-" for stdin), bytes unchanged, the call ending when both sides are done; "device" the microphone/camera (default); "none" nothing')
    .option('--output <file|-|device|none>', 'where what the peer sends goes: a file (or "-" for stdout); "device" the speaker/screen (default); "none" nowhere')
  const endedJson = 'print how the call ended (reason, statistics) as JSON'

  act(media(common(program.command('call')
    .argument('<peer>', 'peer id, or the name of a member of one of your groups')
    .description('call a member of one of your groups (voice; --video for video) over a direct libp2p stream')
    .option('--video', 'a video call (camera through ffmpeg)'), endedJson)),
  async (peer: string, opts: MediaOptions & { video?: boolean }) =>
    runCall(opts, async (client, m, onProgress, signal) => client.call(peer, { video: opts.video === true, ...m }, onProgress, signal)))

  act(media(common(program.command('answer')
    .description('wait for the next incoming call (or take one ringing now) and accept it')
    .option('--timeout <duration>', 'give up after this long without a call (30s, 2m; plain numbers are seconds)', parseDuration('--timeout')), endedJson)),
  async (opts: MediaOptions & { timeout?: number }) =>
    runCall(opts, async (client, m, onProgress, signal) => client.answer({ ...m, timeout: opts.timeout != null ? opts.timeout / 1000 : undefined }, onProgress, signal)))

  act(common(program.command('reject')
    .argument('[call-id]', 'the call to refuse (default: the oldest ringing one)')
    .description('refuse a ringing call')
    .option('--reason <text>', 'told to the caller'), 'print the refused call (peer, reason) as JSON'),
  async (callId: string | undefined, opts: MediaOptions & { reason?: string }) => {
    const end = await (await connect(opts)).reject(callId, opts.reason)
    process.stdout.write(opts.json === true ? JSON.stringify(end, null, 2) + '\n' : `rejected the call from ${end.peerId}\n`)
    return EXIT.OK
  })

  act(common(program.command('hangup')
    .argument('[call-id]', 'the call to end (default: every call)')
    .description('end a call'), 'print how each ended call ended as a JSON list'),
  async (callId: string | undefined, opts: MediaOptions) => {
    const ends = await (await connect(opts)).hangup(callId)
    process.stdout.write(opts.json === true ? JSON.stringify(ends, null, 2) + '\n' : ends.length === 0 ? 'no call to hang up\n' : ends.map(e => `hung up on ${e.peerId}\n`).join(''))
    return EXIT.OK
  })

  act(common(program.command('calls').description('list calls ringing or connected'), 'print the calls (id, direction, state, peer) as a JSON list'),
    async (opts: MediaOptions) => {
      const calls = await (await connect(opts)).calls()
      process.stdout.write(opts.json === true ? JSON.stringify(calls, null, 2) + '\n' : calls.length === 0 ? 'no calls\n' : calls.map(c => `${c.callId}  ${c.direction}  ${c.state}  ${c.video ? 'video' : 'voice'}  ${c.peerId}\n`).join(''))
      return EXIT.OK
    })
}
