/**
 * Disk faults: a data directory on a small tmpfs made for the test (mounted
 * and unmounted here), filled up or remounted read-only. Root can write
 * through file modes, so only a read-only mount or a full file system really
 * refuses a write.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, open as openFile, rm, rmdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApiClient } from '../src/api/index.js'
import { ChatNode, ChatError, DataDirError } from '../src/index.js'
import { deriveGroupKeys } from '../src/envelope/index.js'
import { runCli, startCli } from './cli-helpers.js'
import { auditStore } from './fault-helpers.js'
import type { TestContext } from 'node:test'
import { defer } from './helpers.js'

function canMount (): string | undefined {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux'
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root'
  return undefined
}

/** A tmpfs of `size` mounted for this test; unmounted (and its mount point removed) when the test ends. */
async function tmpfs (t: TestContext, size: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'p2p-chat-disk-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir])
  defer(t, async () => {
    // lazily: a node process still being stopped by a later hook may hold files; the memory goes when it exits
    execFileSync('umount', ['-l', dir])
    await rmdir(dir)
  })
  return dir
}

/** Fill a file system up: one file that grows until the disk is full. Returns its path. */
async function fill (dir: string, name = 'filler'): Promise<string> {
  const path = join(dir, name)
  const f = await openFile(path, 'w')
  const chunk = Buffer.alloc(64 * 1024, 1)
  try {
    while (true) await f.write(chunk)
  } catch (err: any) {
    if (err.code !== 'ENOSPC') throw err
    // the last bytes too
    for (let n = 4096; n >= 1; n = Math.floor(n / 2)) {
      try { while (true) await f.write(chunk.subarray(0, n)) } catch { /* next size down */ }
    }
  } finally {
    await f.close()
  }
  return path
}

async function historyIds (dataDir: string, topicId: string): Promise<Set<string>> {
  const page = await new ApiClient(dataDir).history(topicId, { limit: 10_000 })
  return new Set(page.messages.map(m => m.id))
}

describe('fault: disk', () => {
  const reason = canMount()

  it('a full disk: a typed DataDirError on write and at start, one line from the CLI, nothing stored before is lost', { skip: reason ?? false }, async (t) => {
    const mnt = await tmpfs(t, '16m')
    const dataDir = join(mnt, 'node')
    const node = await startCli(t, { dataDir })
    const client = new ApiClient(dataDir)
    await client.createGroup('full')
    const { secret } = await client.invite('full', true)
    const acked = new Set<string>()
    for (let i = 0; i < 50; i++) acked.add((await client.send('full', `before the disk filled ${i}`)).id)

    const filler = await fill(mnt)
    // writes fail now: the API answers with a typed error, the CLI with one line and exit code 1
    let apiError: ChatError | undefined
    let sentWhileFull = 0
    for (let i = 0; i < 2000 && apiError == null; i++) {
      try {
        acked.add((await client.send('full', `${'x'.repeat(2000)} ${i}`)).id)
        sentWhileFull++
      } catch (err) {
        apiError = err as ChatError
      }
    }
    assert.ok(apiError != null, 'a write failed')
    assert.equal(apiError.code, 'ERR_DISK_FULL')
    assert.equal(apiError.name, 'DiskFullError')
    assert.match(apiError.message, /history database.*the disk is full/i)
    // a failed append gives back what it had taken (the journal cuts its torn frame off): full again, and a
    // message bigger than a page, so that it cannot fit in what is left of the last pages of the files
    const filler2 = await fill(mnt, 'filler-2')
    const cli = await runCli(['send', 'full', `${'z'.repeat(4000)} one more`, '--data-dir', dataDir])
    assert.equal(cli.code, 1)
    assert.match(cli.stderr, /^p2p-chat: cannot write to the history database at .*\n$/)
    assert.equal(cli.stderr.split('\n').length, 2, 'one line')
    // the node itself is still up and reads its history
    assert.equal((await client.status()).peerId, node.peerId)
    const held = await historyIds(dataDir, 'full')
    assert.deepEqual([...acked].filter(id => !held.has(id)), [])
    node.proc.kill('SIGTERM')
    await node.exited

    // starting on the full disk: one clear line, a non-zero exit
    const start = await runCli(['start', '--headless', '--json', '--no-mdns', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0'], { timeout: 30_000 })
    assert.notEqual(start.code, 0)
    assert.match(start.stderr, /^p2p-chat: .*(space|ENOSPC)/i)
    assert.equal(start.stderr.trim().split('\n').length, 1, `one line: ${start.stderr}`)
    // and a node in a program gets a typed error
    const inProcess = new ChatNode({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    await assert.rejects(inProcess.start(), (err: any) => err instanceof DataDirError && err.code === 'ERR_DATA_DIR')

    // room again: everything acknowledged is there, every record verifies
    await rm(filler)
    await rm(filler2)
    const audit = await auditStore(join(dataDir, 'history'), deriveGroupKeys('full', Buffer.from(secret as string, 'hex')))
    assert.equal(audit.bad, 0)
    assert.deepEqual([...acked].filter(id => !audit.ids.has(id)), [])
    const again = await startCli(t, { dataDir })
    const after = await historyIds(dataDir, 'full')
    assert.deepEqual([...acked].filter(id => !after.has(id)), [])
    await new ApiClient(dataDir).send('full', 'the disk has room again')
    assert.ok(again.peerId === node.peerId)
    t.diagnostic(`acknowledged: ${acked.size} (${sentWhileFull} after the filler, until the disk was full); API error: ${apiError.code} "${apiError.message}"; CLI: "${cli.stderr.trim()}"; start: "${start.stderr.trim()}"; records: ${audit.records}, failing verification: ${audit.bad}, records lost: 0`)
  })

  it('a read-only data directory: a typed DataDirError at start, one line from the CLI; the history is intact once writable', { skip: reason ?? false }, async (t) => {
    const mnt = await tmpfs(t, '16m')
    const dataDir = join(mnt, 'node')
    const node = await startCli(t, { dataDir })
    const client = new ApiClient(dataDir)
    await client.createGroup('frozen')
    const sent = new Set<string>()
    for (let i = 0; i < 20; i++) sent.add((await client.send('frozen', `kept ${i}`)).id)
    node.proc.kill('SIGTERM')
    await node.exited

    execFileSync('mount', ['-o', 'remount,ro', mnt])
    const start = await runCli(['start', '--headless', '--json', '--no-mdns', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0'], { timeout: 30_000 })
    assert.notEqual(start.code, 0)
    assert.match(start.stderr, /^p2p-chat: data directory .* is not usable \(EROFS\)/)
    assert.equal(start.stderr.trim().split('\n').length, 1, `one line: ${start.stderr}`)
    const inProcess = new ChatNode({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    await assert.rejects(inProcess.start(), (err: any) => err instanceof DataDirError && /EROFS/.test(err.message))

    execFileSync('mount', ['-o', 'remount,rw', mnt])
    await startCli(t, { dataDir })
    const held = await historyIds(dataDir, 'frozen')
    assert.deepEqual([...sent].filter(id => !held.has(id)), [])
    t.diagnostic(`read-only start: "${start.stderr.trim()}" (exit ${start.code}); after remounting read-write: ${held.size} of ${sent.size} messages, records lost: 0`)
  })
})
