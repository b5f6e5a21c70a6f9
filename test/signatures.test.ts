import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ed25519Signer, SignatureThread } from '../src/envelope/index.js'
import { packBatch, verifyBatch } from '../src/envelope/signature-batch.js'
import { defer, tempDir, waitUntil } from './helpers.js'
import type { SignatureCheck } from '../src/envelope/signature-batch.js'

/** `n` checks by a few authors, every third one with a flipped bit in what was signed */
function checks (n: number): Array<SignatureCheck & { expected: boolean }> {
  const signers = [0, 1, 2].map(() => ed25519Signer(randomBytes(32)))
  return Array.from({ length: n }, (_, i) => {
    const s = signers[i % signers.length]
    const data = new Uint8Array(randomBytes(40 + (i % 300)))
    const signature = s.sign(data)
    const bad = i % 3 === 2
    const signed = bad ? Uint8Array.from(data, (b, k) => (k === 0 ? b ^ 1 : b)) : data
    return { publicKey: s.publicKey, data: signed, signature, expected: !bad }
  })
}

describe('signatures on a worker thread', () => {
  it('packed batches: valid, forged, malformed and cut short', () => {
    const list = checks(30)
    assert.deepEqual([...verifyBatch(list.length, packBatch(list))], list.map(c => (c.expected ? 1 : 0)))
    const good = list[0]
    const malformed = [{ ...good, publicKey: good.publicKey.subarray(0, 31) }, { ...good, signature: new Uint8Array(63) }, good]
    assert.deepEqual([...verifyBatch(3, packBatch(malformed))], [0, 0, 1])
    const packed = packBatch([good, good])
    assert.deepEqual([...verifyBatch(2, packed.subarray(0, packed.byteLength - 1))], [1, 0], 'the record cut short is invalid')
    assert.deepEqual([...verifyBatch(3, packed)], [1, 1, 0], 'a record that is not there is invalid')
  })

  it('answers in order, in batches, on one thread that stops when idle and starts again', async (t) => {
    const thread = new SignatureThread({ idleMs: 200, maxBatch: 64 })
    defer(t, async () => { await thread.close() })
    const list = checks(500)
    await thread.warm()
    assert.equal(thread.running, true)
    const answers = await Promise.all(list.map(async c => thread.verify(c.publicKey, c.data, c.signature)))
    assert.deepEqual(answers, list.map(c => c.expected))
    assert.equal(thread.pending, 0)
    assert.equal(thread.counts.offloaded, 500)
    assert.ok(thread.counts.batches >= 500 / 64 && thread.counts.batches < 100, `${thread.counts.batches} batches`)
    assert.equal(thread.counts.starts, 1)
    await waitUntil('the idle thread to stop', () => !thread.running, 5000)
    assert.equal(await thread.verify(list[0].publicKey, list[0].data, list[0].signature), true)
    assert.equal(thread.counts.starts, 2, 'started again when needed')
  })

  it('nothing waits for the thread to start: checked here, in order, until it is online', async (t) => {
    const thread = new SignatureThread({ idleMs: 200 })
    defer(t, async () => { await thread.close() })
    const list = checks(40)
    // the first check starts the thread and is answered without it, and so are those while it starts
    const early = await Promise.all(list.map(async c => thread.verify(c.publicKey, c.data, c.signature)))
    assert.deepEqual(early, list.map(c => c.expected))
    assert.equal(thread.counts.whileStarting, 40)
    assert.equal(thread.counts.offloaded, 0)
    assert.equal(thread.counts.starts, 1)
    assert.equal(thread.pending, 0, 'nothing handed over while it starts')
    await waitUntil('the thread to be online and take checks', async () => {
      await thread.verify(list[0].publicKey, list[0].data, list[0].signature)
      return thread.counts.offloaded > 0
    }, 5000)
    assert.equal(thread.counts.starts, 1, 'started once')
    // online and left without work: it stops after idleMs all the same
    await waitUntil('the idle thread to stop', () => !thread.running, 5000)
  })

  it('the bundled worker (dist/bundle/signature-worker.js, beside the bundle that starts it) answers the same', async (t) => {
    const thread = new SignatureThread({ workerUrl: new URL('../bundle/signature-worker.js', import.meta.url) })
    defer(t, async () => { await thread.close() })
    const list = checks(50)
    await thread.warm()
    assert.deepEqual(await Promise.all(list.map(async c => thread.verify(c.publicKey, c.data, c.signature))), list.map(c => c.expected))
    assert.equal(thread.counts.offloaded, 50, 'on the thread, not inline')
  })

  it('a thread that cannot start, dies or never answers: what it held is verified here, in order, and so is everything after', async (t) => {
    const dir = await tempDir(t)
    const missing = new SignatureThread({ workerUrl: pathToFileURL(join(dir, 'no-such-worker.js')) })
    defer(t, async () => { await missing.close() })
    const list = checks(60)
    await missing.warm()
    assert.deepEqual(await Promise.all(list.map(async c => missing.verify(c.publicKey, c.data, c.signature))), list.map(c => c.expected))
    assert.equal(missing.counts.offloaded, 0)
    assert.equal(missing.counts.inline, 60)

    const dying = join(dir, 'dying-worker.mjs')
    await writeFile(dying, "import { parentPort } from 'node:worker_threads'\nparentPort.on('message', () => process.exit(3))\n")
    const thread = new SignatureThread({ workerUrl: pathToFileURL(dying), maxBatch: 10 })
    defer(t, async () => { await thread.close() })
    await thread.warm()
    assert.deepEqual(await Promise.all(list.map(async c => thread.verify(c.publicKey, c.data, c.signature))), list.map(c => c.expected))
    assert.equal(thread.counts.inline, 60)
    assert.equal(await thread.verify(list[1].publicKey, list[1].data, list[1].signature), true, 'and after')

    const silent = join(dir, 'silent-worker.mjs')
    await writeFile(silent, "import { parentPort } from 'node:worker_threads'\nparentPort.on('message', () => {})\n")
    const hung = new SignatureThread({ workerUrl: pathToFileURL(silent), answerTimeoutMs: 300 })
    defer(t, async () => { await hung.close() })
    await hung.warm()
    assert.deepEqual(await Promise.all(list.slice(0, 9).map(async c => hung.verify(c.publicKey, c.data, c.signature))), list.slice(0, 9).map(c => c.expected), 'a thread that never answers: verified here after the timeout')
    assert.equal(hung.counts.inline, 9)
  })

  it('closing answers what was handed over, here', async () => {
    const thread = new SignatureThread()
    const list = checks(40)
    await thread.warm()
    const answers = Promise.all(list.map(async c => thread.verify(c.publicKey, c.data, c.signature)))
    await thread.close()
    assert.deepEqual(await answers, list.map(c => c.expected))
    assert.equal(thread.pending, 0)
    assert.equal(await thread.verify(list[0].publicKey, list[0].data, list[0].signature), true, 'a closed thread verifies inline')
  })
})
