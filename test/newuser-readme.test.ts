/**
 * Issue 17 items 2, 4, 5, 6, 17: the README's scripted example run as
 * written (extracted from README.md), the README's command, terminal and
 * exit-code tables generated from the commander definitions, and the
 * package facts the README states (runtime dependency, name, command).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { symlink } from 'node:fs/promises'
import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { render, README } from '../scripts/readme-commands.js'
import { CLI } from './cli-helpers.js'
import { tempDir, defer } from './helpers.js'
import type { TestContext } from 'node:test'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const readme = (): string => readFileSync(README, 'utf8')
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string, bin: Record<string, string>, engines: { node: string }, dependencies: Record<string, string>, devDependencies: Record<string, string>
}

/** A directory with the `p2p-chat` command in it, as `npm install -g .` makes one */
async function commandDir (t: TestContext): Promise<string> {
  const dir = await tempDir(t)
  await symlink(CLI, join(dir, 'p2p-chat'))
  return dir
}

/** Run a script with bash, the p2p-chat command on PATH; its process group is killed when the test ends */
async function runScript (t: TestContext, script: string): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const bin = await commandDir(t)
  const proc = spawn('bash', ['-c', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, P2P_CHAT_NO_PUBLIC_NETWORK: '1' } })
  // the nodes it starts share its process group: gone with the test, pass or fail
  defer(t, () => { try { process.kill(-(proc.pid ?? 0), 'SIGKILL') } catch { /* already gone */ } })
  let stdout = ''; let stderr = ''
  proc.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  proc.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  // 'exit', not 'close': the nodes the script starts in the background keep its output open
  const [code] = await once(proc, 'exit') as [number | null]
  return { code, stdout, stderr }
}

/** The sh block right after the <!-- readme-script --> marker */
function readmeScript (): string {
  const text = readme()
  const at = text.indexOf('<!-- readme-script -->')
  assert.ok(at >= 0, 'README.md has a <!-- readme-script --> block')
  const m = /```sh\n([\s\S]*?)```/.exec(text.slice(at))
  assert.ok(m != null)
  return m[1]
}

describe('README (issue 17)', () => {
  it('the scripted example works as written: nodes ready, invite passed on, message read, nodes stopped (6)', async (t) => {
    try { execFileSync('jq', ['--version']) } catch { t.skip('jq is not installed'); return }
    const script = readmeScript()
    assert.match(script, /set -euo pipefail/)
    assert.match(script, /wait-ready/)
    // the one change: its data directories go to a fresh temp directory instead of /tmp
    // (and, as in every test, no public bootstrap peers: $P2P_CHAT_NO_PUBLIC_NETWORK)
    const tmp = await tempDir(t)
    const run = script.replaceAll('/tmp/', `${tmp}/`)
    const { code, stdout, stderr } = await runScript(t, run)
    assert.equal(code, 0, `stdout:\n${stdout}\nstderr:\n${stderr}`)
    // the history page is the one JSON document on stdout (the nodes' log lines are text)
    const json = /^\{\n[\s\S]*?^\}$/m.exec(stdout)
    assert.ok(json != null, stdout)
    const page = JSON.parse(json[0]) as { messages: Array<{ text: string, name: string }> }
    assert.deepEqual(page.messages.map(m => [m.name, m.text]), [['alice', 'hello']])
    assert.match(stdout, /stopped the node of .*alice/)
    assert.match(stdout, /stopped the node of .*bob/)
  })

  it('the scripted example fails loudly when a step fails: no empty invite passed on (6)', async (t) => {
    const script = readmeScript()
    const tmp = await tempDir(t)
    // as if alice's node never came up: the script stops at the first command that needs it
    const broken = script.replaceAll('/tmp/', `${tmp}/`).split('\n').filter(l => !l.includes(`start --headless --data-dir ${tmp}/alice`) && !l.includes(`wait-ready --data-dir ${tmp}/alice`)).join('\n')
    const { code, stderr } = await runScript(t, broken)
    assert.notEqual(code, 0)
    assert.match(stderr, /no p2p-chat node is running for .*alice/)
    assert.doesNotMatch(stderr, /invalid invite/)
  })

  it('the command, terminal and exit-code tables are generated from the commander definitions (17)', () => {
    const text = readme()
    assert.equal(render(text), text, 'README.md is out of date: run "npm run readme"')
    for (const needle of ['--api-port', 'create <topic-id>` | `[--name <name>]', '--encrypt', '--passphrase', '--force', 'reject [call-id]` | `[--reason <text>]', 'hangup [call-id]', 'none', 'device', 'wait-ready', '`stop`']) {
      assert.ok(text.includes(needle), needle)
    }
  })

  it('package: the runtime is a real dependency, the name is free on npm, the command is p2p-chat; EBADENGINE warnings are few (2, 4, 5)', (t) => {
    assert.ok(pkg.dependencies.node != null, 'node is a dependency')
    assert.equal(pkg.devDependencies.node, undefined, 'node is not (only) a devDependency')
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> }
    assert.notEqual(lock.packages['node_modules/node']?.dev, true, 'npm install --omit=dev keeps the runtime')
    // checked with "npm view libp2p-group-chat" (E404); "p2p-chat" is an unrelated package
    assert.notEqual(pkg.name, 'p2p-chat')
    assert.equal(pkg.bin['p2p-chat'], 'bin/p2p-chat.js')
    assert.ok(readme().includes(`npm install -g`) && readme().includes(pkg.name))

    // the packages npm warns about on Node 20 (EBADENGINE): their engines.node excludes 20.x
    const semver = createRequire(join(ROOT, 'package.json'))('semver') as { satisfies: (v: string, r: string) => boolean }
    const refusing: string[] = []
    const walk = (dir: string): void => {
      let names: string[]
      try { names = readdirSync(dir) } catch { return }
      for (const name of names) {
        if (name.startsWith('.')) continue
        if (name.startsWith('@')) { walk(join(dir, name)); continue }
        const path = join(dir, name)
        try {
          const p = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as { name: string, version: string, engines?: { node?: string } }
          const range = p.engines?.node
          if (typeof range === 'string' && !semver.satisfies('20.20.0', range)) refusing.push(`${p.name}@${p.version} (${range})`)
        } catch { /* not this one */ }
        walk(join(path, 'node_modules'))
      }
    }
    walk(join(ROOT, 'node_modules'))
    if (!semver.satisfies('20.20.0', pkg.engines.node)) refusing.unshift(`${pkg.name} (${pkg.engines.node})`)
    t.diagnostic(`EBADENGINE on Node 20 for: ${refusing.join(', ')}`)
    // the README says: this package and two or three of libp2p's dependencies
    assert.ok(refusing.length <= 5, refusing.join(', '))
  })
})
