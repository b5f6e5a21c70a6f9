#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=8
// p2p-chat needs Node.js >= 22 (libp2p v3). The package depends on the npm
// package "node" (24.x): when started by an older Node, re-run on that one.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { constants } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import module, { createRequire } from 'node:module'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const major = Number(process.versions.node.split('.')[0])
/** modification time of a file, or undefined when there is none */
function mtimeMs (file) {
  try { return statSync(file).mtimeMs } catch { return undefined }
}
/** for tests: take the launcher path even on a new enough Node */
const FORCE = 'P2P_CHAT_FORCE_LAUNCHER'

/**
 * A node that runs for hours (`start`) keeps its memory bounded with a
 * young generation of at most 8 MiB per semi-space and two malloc arenas
 * (docs/BENCHMARKS.md, "Soak"). Both are read when the process starts: the
 * shebang sets them when the bin is run as a program (npx, a global
 * install); `node bin/p2p-chat.js start` gets them by re-executing itself
 * once. Flags and variables the user set win.
 */
const SEMI_SPACE_FLAG = '--max-semi-space-size=8'
function runtimeTuning () {
  if (process.argv[2] !== 'start') return undefined
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
  const semi = flags.some(f => f.startsWith('--max-semi-space-size')) ? [] : [SEMI_SPACE_FLAG]
  const arenas = process.env.MALLOC_ARENA_MAX != null ? {} : { MALLOC_ARENA_MAX: '2' }
  if (semi.length === 0 && Object.keys(arenas).length === 0) return undefined
  return { flags: semi, env: arenas }
}

/** The bundled runtime: the "node" package's binary, wherever npm put it (beside us, or hoisted above) */
function bundledNode () {
  const candidates = [join(root, 'node_modules', 'node', 'bin', 'node'), join(root, 'node_modules', '.bin', 'node')]
  try {
    const pkg = createRequire(join(root, 'package.json')).resolve('node/package.json')
    candidates.push(join(dirname(pkg), 'bin', 'node'))
  } catch {
    // "node" is not resolvable from here: the two places above are all there is
  }
  return candidates.find(p => existsSync(p) && p !== process.execPath)
}

/**
 * Is this process in the foreground process group of its terminal? Then a
 * Ctrl-C (SIGINT) or a hangup from the terminal reaches the child too, which
 * shares our process group: forwarding it would make it a second one.
 */
function terminalReachesChild () {
  try {
    // /proc/self/stat: "pid (comm) state ppid pgrp session tty_nr tpgid ..."
    const stat = readFileSync('/proc/self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const pgrp = Number(fields[2])
    const tpgid = Number(fields[5])
    return tpgid > 0 && tpgid === pgrp
  } catch {
    return process.stdin.isTTY === true
  }
}

if (major < 22 || process.env[FORCE] === '1') {
  const bundled = bundledNode()
  if (bundled == null) {
    process.stderr.write(`p2p-chat: Node.js 22 or newer is needed (this is ${process.version}); run "npm install" to get the bundled runtime (the "node" package)\n`)
    process.exit(1)
  }
  const tuning = runtimeTuning()
  const env = { ...process.env, ...tuning?.env }
  delete env[FORCE]
  const child = spawn(bundled, [...(tuning?.flags ?? []), ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit', env })
  // SIGTERM (kill <pid>) is meant for the program, and only we got it: pass it on.
  // SIGINT and SIGHUP from the terminal already reached the child (same process group): pass them on only when they cannot have.
  process.on('SIGTERM', () => { child.kill('SIGTERM') })
  for (const sig of ['SIGINT', 'SIGHUP']) {
    process.on(sig, () => { if (!terminalReachesChild()) child.kill(sig) })
  }
  child.on('error', (err) => {
    process.stderr.write(`p2p-chat: cannot run ${bundled}: ${err.message}\n`)
    process.exit(1)
  })
  // the child's exit code, or 128 + the signal's number when a signal ended it (as shells report it)
  child.on('exit', (code, signal) => process.exit(code ?? (signal != null ? 128 + (constants.signals[signal] ?? 0) : 1)))
} else {
  const tuning = runtimeTuning()
  // replace this process (same pid, same signals), not a child: Linux and macOS (Node >= 22.15)
  if (tuning != null && typeof process.execve === 'function' && process.platform !== 'win32') {
    process.execve(process.execPath, [process.execPath, ...tuning.flags, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { ...process.env, ...tuning.env })
  }
  const compiled = join(root, 'dist', 'src', 'cli', 'main.js')
  const bundle = join(root, 'dist', 'bundle', 'p2p-chat.mjs')
  const compiledAt = mtimeMs(compiled)
  const bundleAt = mtimeMs(bundle)
  if (compiledAt == null && bundleAt == null) {
    process.stderr.write('p2p-chat: not built yet: run "npm install" (or "npm run build")\n')
    process.exit(1)
  }
  // Node's on-disk cache of compiled code (Node >= 22.1): later starts skip most compilation
  try { module.enableCompileCache?.() } catch { /* no cache: slower, nothing else */ }
  // the single-file bundle (scripts/bundle.ts, run by "npm run build") starts faster; a tsc run after it
  // (compiled code newer than the bundle) means the bundle is stale: use the compiled files then
  const useBundle = bundleAt != null && (compiledAt == null || bundleAt >= compiledAt)
  const { main } = await import(useBundle ? '../dist/bundle/p2p-chat.mjs' : '../dist/src/cli/main.js')
  // exit with the command's code now: a handle left open (a named pipe nobody opened) must not keep the process alive
  process.exit(await main(process.argv))
}
