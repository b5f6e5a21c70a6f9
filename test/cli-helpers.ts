import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { tempDir } from './helpers.js'
import type { ChildProcess } from 'node:child_process'
import type { TestContext } from 'node:test'

/** bin/p2p-chat.js of this checkout (tests run from dist/test) */
export const CLI = fileURLToPath(new URL('../../bin/p2p-chat.js', import.meta.url))

export interface RunResult { code: number | null, stdout: string, stderr: string }

/** Run the CLI as a user would; resolves when it exits. */
export async function runCli (args: string[], opts: { input?: string, env?: NodeJS.ProcessEnv, timeout?: number } = {}): Promise<RunResult> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''; let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  // a command may exit before reading all of its input (a message over the limit)
  child.stdin.on('error', () => {})
  child.stdin.end(opts.input ?? '')
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout ?? 30_000)
  const [code] = await once(child, 'close') as [number | null]
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/** Run the CLI and parse its --json output; fails with its stderr when it exits non-zero. */
export async function cliJson<T = any> (args: string[], opts: { input?: string } = {}): Promise<T> {
  const r = await runCli([...args, '--json'], opts)
  if (r.code !== 0) throw new Error(`p2p-chat ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

export interface CliNode {
  proc: ChildProcess
  dataDir: string
  peerId: string
  addresses: string[]
  /** JSON log lines printed so far */
  events: any[]
  /** resolves with the exit code */
  exited: Promise<number | null>
  /** everything it printed so far, stdout and stderr interleaved as they came */
  output: () => string
  /** wait for a log line matching */
  waitFor: (match: (e: any) => boolean, timeout?: number) => Promise<any>
}

/** Spawn `p2p-chat start --headless --json` on 127.0.0.1; killed when the test ends, pass or fail. */
export async function startCli (t: TestContext, opts: { dataDir?: string, name?: string, args?: string[], env?: NodeJS.ProcessEnv } = {}): Promise<CliNode> {
  const dataDir = opts.dataDir ?? await tempDir(t)
  const args = ['start', '--headless', '--json', '--log-messages', 'all', '--no-mdns', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', ...(opts.name != null ? ['--name', opts.name] : []), ...(opts.args ?? [])]
  // tests stay off the public network (no public bootstrap peers, no UPnP) unless they say otherwise
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { P2P_CHAT_NO_PUBLIC_NETWORK: '1', ...process.env, ...opts.env } })
  const events: any[] = []
  const output: string[] = []
  const waiters = new Set<() => void>()
  let stderr = ''
  proc.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; output.push(d) })
  createInterface({ input: proc.stdout }).on('line', line => {
    output.push(line + '\n')
    try { events.push(JSON.parse(line)) } catch { events.push({ raw: line }) }
    for (const w of waiters) w()
  })
  const exited = once(proc, 'exit').then(([code]) => code as number | null)
  t.after(async () => {
    if (proc.exitCode == null && proc.signalCode == null) {
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
  })
  const waitFor = async (match: (e: any) => boolean, timeout = 20_000): Promise<any> => {
    const found = events.find(match)
    if (found != null) return found
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out waiting for a log line; stderr: ${stderr}`)) }, timeout)
      const check = (): void => {
        const e = events.find(match)
        if (e != null) { clearTimeout(timer); waiters.delete(check); resolve(e) }
      }
      waiters.add(check)
      void exited.then(code => { if (waiters.has(check)) { clearTimeout(timer); waiters.delete(check); reject(new Error(`node exited with ${code}: ${stderr}`)) } })
    })
  }
  const ready = await waitFor(e => e.event === 'ready')
  return { proc, dataDir, peerId: ready.peerId, addresses: ready.addresses, events, exited, waitFor, output: () => output.join('') }
}

/** tmux on a private server socket; every session killed when the test ends. Undefined when tmux is missing. */
export function tmuxFor (t: TestContext): ((...args: string[]) => string) | undefined {
  try { execFileSync('tmux', ['-V']) } catch { return undefined }
  const sock = `p2pchat-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', sock, ...args], { encoding: 'utf8' })
  t.after(() => { try { execFileSync('tmux', ['-L', sock, 'kill-server'], { stdio: 'ignore' }) } catch { /* already gone */ } })
  return tmux
}

/**
 * A Node older than 22 on PATH (outside node_modules), to run bin/p2p-chat.js
 * through its launcher as a user with the system Node would; else this Node
 * with P2P_CHAT_FORCE_LAUNCHER=1, which takes the same path.
 */
export function launcherNode (): { node: string, env: Record<string, string> } {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir === '' || dir.includes('node_modules')) continue
    const candidate = join(dir, 'node')
    if (!existsSync(candidate)) continue
    try {
      const v = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()
      if (Number(v.split('.')[0]) < 22) return { node: candidate, env: {} }
    } catch { /* not this one */ }
    break
  }
  return { node: process.execPath, env: { P2P_CHAT_FORCE_LAUNCHER: '1' } }
}

/** Quote for sh */
export function sq (s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}
