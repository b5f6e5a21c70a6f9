#!/usr/bin/env node
// p2p-chat needs Node.js >= 22 (libp2p v3). The package brings Node 24 as a
// dependency: when started by an older Node, re-run on the bundled one.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const major = Number(process.versions.node.split('.')[0])

if (major < 22) {
  const bundled = [join(root, 'node_modules', 'node', 'bin', 'node'), join(root, 'node_modules', '.bin', 'node')].find(p => existsSync(p))
  if (bundled == null) {
    process.stderr.write(`p2p-chat: Node.js 22 or newer is needed (this is ${process.version}); run "npm install" to get the bundled runtime\n`)
    process.exit(1)
  }
  const child = spawn(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig))
  child.on('exit', (code, signal) => process.exit(code ?? (signal != null ? 128 : 1)))
} else {
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) {
    process.stderr.write('p2p-chat: not built yet: run "npm install" (or "npm run build")\n')
    process.exit(1)
  }
  const { main } = await import('../dist/src/cli/main.js')
  process.exitCode = await main(process.argv)
}
