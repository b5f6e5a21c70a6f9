import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ApiClient } from '../src/api/index.js'
import { CLI, cliJson, runCli, startCli } from './cli-helpers.js'
import { tempDir, waitUntil, defer } from './helpers.js'

async function pairInGroup (t: any): Promise<[Awaited<ReturnType<typeof startCli>>, Awaited<ReturnType<typeof startCli>>]> {
  const [a, b] = await Promise.all([startCli(t, { name: 'caller' }), startCli(t, { name: 'callee' })])
  const { invite } = await cliJson(['create', 'phone', '--data-dir', a.dataDir])
  await cliJson(['join', invite, '--data-dir', b.dataDir])
  await waitUntil('both in the group', async () =>
    (await new ApiClient(a.dataDir).groups())[0].peers >= 1 && (await new ApiClient(b.dataDir).groups())[0].peers >= 1)
  return [a, b]
}

describe('calls from the CLI', () => {
  it('call and answer with files: each side receives the other\'s bytes unchanged; a member is found by name', async (t) => {
    const [a, b] = await pairInGroup(t)
    const dir = await tempDir(t)
    const inA = join(dir, 'a.raw'); const inB = join(dir, 'b.raw')
    await writeFile(inA, randomBytes(96_000))
    await writeFile(inB, randomBytes(64_000))
    // the callee's name must be known from a message for "call callee" to resolve
    await cliJson(['send', 'phone', 'ring me', '--data-dir', b.dataDir])
    await waitUntil('a to see the callee\'s message', async () => (await new ApiClient(a.dataDir).history('phone')).messages.length === 1)

    const answering = runCli(['answer', '--input', inB, '--output', join(dir, 'b.out'), '--timeout', '30', '--json', '--data-dir', b.dataDir], { timeout: 60_000 })
    const calling = await runCli(['call', 'callee', '--input', inA, '--output', join(dir, 'a.out'), '--json', '--data-dir', a.dataDir], { timeout: 60_000 })
    const answered = await answering
    assert.equal(calling.code, 0, calling.stderr)
    assert.equal(answered.code, 0, answered.stderr)
    const endA = JSON.parse(calling.stdout); const endB = JSON.parse(answered.stdout)
    assert.equal(endA.reason, 'completed')
    assert.equal(endB.reason, 'completed')
    assert.equal(endA.peerId, b.peerId)
    assert.ok(endA.stats.framesSent > 0)
    assert.deepEqual(await readFile(join(dir, 'a.out')), await readFile(inB))
    assert.deepEqual(await readFile(join(dir, 'b.out')), await readFile(inA))
  })

  it('stdin and stdout through "-"; reject shows on both sides; a non-member is refused', async (t) => {
    const [a, b] = await pairInGroup(t)
    const payload = randomBytes(40_000)
    const dir = await tempDir(t)
    const reply = join(dir, 'reply.raw')
    await writeFile(reply, randomBytes(10_000))
    const answering = runCli(['answer', '--input', reply, '--output', join(dir, 'got.raw'), '--timeout', '30', '--data-dir', b.dataDir], { timeout: 60_000 })
    const child = spawn(process.execPath, [CLI, 'call', b.peerId, '--input', '-', '--output', '-', '--data-dir', a.dataDir], { stdio: ['pipe', 'pipe', 'pipe'] })
    defer(t, () => { child.kill('SIGKILL') })
    const chunks: Buffer[] = []
    child.stdout.on('data', d => chunks.push(d))
    child.stdin.end(payload)
    const [code] = await once(child, 'close')
    assert.equal(code, 0)
    assert.equal((await answering).code, 0)
    assert.deepEqual(Buffer.concat(chunks), await readFile(reply))
    assert.deepEqual(await readFile(join(dir, 'got.raw')), payload)

    // reject: the caller's command fails with the reason, the callee's reject reports it
    const calling = runCli(['call', b.peerId, '--input', reply, '--output', join(dir, 'x.raw'), '--data-dir', a.dataDir], { timeout: 60_000 })
    await waitUntil('the call to ring at b', async () => (await new ApiClient(b.dataDir).calls()).some(c => c.state === 'ringing'))
    const rejected = await runCli(['reject', '--reason', 'busy now', '--json', '--data-dir', b.dataDir])
    assert.equal(rejected.code, 0, rejected.stderr)
    assert.equal(JSON.parse(rejected.stdout).reason, 'rejected')
    const refused = await calling
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /reject/i)

    // a node sharing no group with b
    const stranger = await startCli(t, { name: 'stranger' })
    await cliJson(['dial', b.addresses[0], '--data-dir', stranger.dataDir])
    const nope = await runCli(['call', b.peerId, '--input', reply, '--output', join(dir, 'y.raw'), '--data-dir', stranger.dataDir], { timeout: 60_000 })
    assert.equal(nope.code, 1)
    assert.match(nope.stderr, /member|group/i)
    const noTimeout = await runCli(['answer', '--timeout', '1', '--data-dir', stranger.dataDir])
    assert.equal(noTimeout.code, 1)
    assert.match(noTimeout.stderr, /^p2p-chat: /)
  })
})
