/**
 * Issue 17 item 1: the Node-20 launcher (bin/p2p-chat.js re-running itself
 * on the bundled Node 24) and signals. Ctrl-C in a real terminal (tmux)
 * reaches launcher and child at once: one clean stop, exit 0, api.json
 * removed; an interrupted `watch` exits 130; a signal sent to the launcher
 * alone (a background job) is passed on exactly once. bash runs the command:
 * it waits for a foreground command that handled Ctrl-C itself, as a login shell does.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CLI, launcherNode, runCli, sq, startCli, tmuxFor } from './cli-helpers.js'
import { tempDir, waitUntil, defer } from './helpers.js'

const LISTEN = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

describe('launcher and signals (issue 17.1)', () => {
  it('Ctrl-C in a terminal: one clean stop through the launcher, exit 0, api.json removed; watch exits 130', async (t) => {
    const tmux = tmuxFor(t)
    if (tmux == null) { t.skip('tmux is not installed'); return }
    const { node, env } = launcherNode()
    const dir = await tempDir(t)
    const envs = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')
    const log = join(dir, 'out.log')
    const rc = join(dir, 'rc')
    const start = `${envs} ${sq(node)} ${sq(CLI)} start --headless --data-dir ${sq(dir)} ${LISTEN.join(' ')} > ${sq(log)} 2>&1; echo $? > ${sq(rc)}`
    tmux('new-session', '-d', '-s', 'node', '-x', '160', '-y', '20', `bash -c ${sq(start)}`)
    // whatever happens, the node goes away with the test
    defer(t, async () => {
      try {
        const info = JSON.parse(await readFile(join(dir, 'api.json'), 'utf8')) as { pid: number }
        process.kill(info.pid, 'SIGKILL')
      } catch { /* not this one */ }
    })
    const ready = await runCli(['wait-ready', '--timeout', '60s', '--data-dir', dir, '--json'], { timeout: 70_000 })
    assert.equal(ready.code, 0, ready.stderr)
    tmux('send-keys', '-t', 'node', 'C-c')
    await waitUntil('the launcher to exit', () => existsSync(rc), 30_000)
    const text = await readFile(log, 'utf8')
    assert.equal((await readFile(rc, 'utf8')).trim(), '0', text)
    assert.match(text, /stopping \(SIGINT\)/)
    assert.match(text, /stopped\n/)
    assert.doesNotMatch(text, /forced exit/)
    assert.equal(existsSync(join(dir, 'api.json')), false)

    // watch through the launcher, interrupted by Ctrl-C: 130
    const a = await startCli(t)
    const rc2 = join(dir, 'rc2')
    const watch = `${envs} ${sq(node)} ${sq(CLI)} watch --data-dir ${sq(a.dataDir)}; echo $? > ${sq(rc2)}`
    tmux('new-session', '-d', '-s', 'watch', '-x', '160', '-y', '20', `bash -c ${sq(watch)}`)
    await waitUntil('watch to connect', () => tmux('capture-pane', '-p', '-t', 'watch').includes('watching every group'), 30_000)
    tmux('send-keys', '-t', 'watch', 'C-c')
    await waitUntil('watch to exit', () => existsSync(rc2), 30_000)
    assert.equal((await readFile(rc2, 'utf8')).trim(), '130')
  })

  it('SIGINT or SIGTERM sent to the launcher alone (a background job) is passed on once: clean stop, exit 0', async (t) => {
    const { node, env } = launcherNode()
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const dir = await tempDir(t)
      const proc = spawn(node, [CLI, 'start', '--headless', '--data-dir', dir, ...LISTEN], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, detached: true })
      defer(t, () => { try { process.kill(-(proc.pid ?? 0), 'SIGKILL') } catch { /* already gone */ } })
      let output = ''
      proc.stdout.setEncoding('utf8').on('data', (d: string) => { output += d })
      proc.stderr.setEncoding('utf8').on('data', (d: string) => { output += d })
      const exited = once(proc, 'exit')
      const ready = await runCli(['wait-ready', '--timeout', '60s', '--data-dir', dir], { timeout: 70_000 })
      assert.equal(ready.code, 0, ready.stderr)
      proc.kill(sig)
      const [code] = await exited as [number | null]
      assert.equal(code, 0, output)
      assert.match(output, new RegExp(`stopping \\(${sig}\\)`))
      assert.doesNotMatch(output, /forced exit/)
      assert.equal(existsSync(join(dir, 'api.json')), false)
    }
  })

  it('a started node runs with the memory settings of the soak (issue 20): 8 MiB semi-spaces, two malloc arenas, in the same process', async (t) => {
    // startCli runs `node bin/p2p-chat.js start`: the bin re-executes itself once, keeping its pid
    const a = await startCli(t)
    const pid = a.proc.pid
    assert.ok(pid != null)
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')
    assert.ok(cmdline.includes('--max-semi-space-size=8'), cmdline.join(' '))
    const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0')
    assert.ok(environ.includes('MALLOC_ARENA_MAX=2'), 'MALLOC_ARENA_MAX=2 in its environment')
    // a value the user chose wins
    const b = await startCli(t, { env: { MALLOC_ARENA_MAX: '4' } })
    const env2 = (await readFile(`/proc/${b.proc.pid ?? 0}/environ`, 'utf8')).split('\0')
    assert.ok(env2.includes('MALLOC_ARENA_MAX=4'))
  })
})
