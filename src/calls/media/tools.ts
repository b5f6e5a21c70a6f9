/**
 * External media tools (sox, ffmpeg): finding them on PATH, spawning them,
 * turning their failures into typed errors that name the Debian package.
 */
import { spawn } from 'node:child_process'
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { logger } from '@libp2p/logger'
import { MediaError, MediaToolMissingError } from '../../errors.js'
import type { ChildProcess } from 'node:child_process'

const log = logger('p2p-chat:calls:media')

/** tool -> Debian package that ships it */
export const TOOL_PACKAGES: Record<string, string> = {
  rec: 'sox',
  play: 'sox',
  sox: 'sox',
  ffmpeg: 'ffmpeg',
  ffplay: 'ffmpeg'
}

/** Absolute path of an executable on PATH, or undefined. */
export async function findExecutable (name: string, path = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      await access(candidate, constants.X_OK)
      return candidate
    } catch {
      // not there, or not executable: try the next directory
    }
  }
  return undefined
}

/** Throws MediaToolMissingError naming the Debian package when `tool` is not on PATH. */
export async function requireTool (tool: string): Promise<string> {
  const found = await findExecutable(tool)
  if (found == null) throw new MediaToolMissingError(tool, TOOL_PACKAGES[tool] ?? tool)
  return found
}

export interface ToolProcess {
  child: ChildProcess
  /** resolves when the process exits with 0 or was killed by us; rejects with MediaError otherwise */
  exited: Promise<void>
  /** the last lines it wrote to stderr */
  stderr: () => string
  kill: () => void
}

/** Spawn a media tool with piped stdio; its stderr tail goes into the error when it fails. */
export function runTool (path: string, args: string[], stdio: { stdin: boolean, stdout: boolean }): ToolProcess {
  const tool = path.split('/').pop() ?? path
  const child = spawn(path, args, { stdio: [stdio.stdin ? 'pipe' : 'ignore', stdio.stdout ? 'pipe' : 'ignore', 'pipe'] })
  let tail = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (d: string) => { tail = (tail + d).slice(-2000) })
  let killed = false
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') reject(new MediaToolMissingError(tool, TOOL_PACKAGES[tool] ?? tool))
      else reject(new MediaError(`${tool} failed to start: ${err.message}`, { cause: err }))
    })
    child.once('close', (code, signal) => {
      if (code === 0 || killed) resolve()
      else reject(new MediaError(`${tool} exited with ${code ?? signal}: ${tail.trim().split('\n').slice(-3).join(' | ')}`))
    })
  })
  // the failure is reported through `exited` to whoever awaits it; this only keeps it from being unhandled
  exited.catch((err: unknown) => { log('%s: %e', tool, err) })
  // a child that died must not crash us with EPIPE on its stdin (its exit is reported by `exited`)
  child.stdin?.on('error', (err) => { log.trace('%s stdin: %e', tool, err) })
  return {
    child,
    exited,
    stderr: () => tail,
    kill: () => {
      if (child.exitCode != null || child.signalCode != null) return
      killed = true
      child.kill('SIGTERM')
    }
  }
}
