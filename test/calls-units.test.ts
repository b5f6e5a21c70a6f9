/**
 * The pieces of a call in isolation, on in-memory stream pairs
 * (`streamPair` from @libp2p/utils) instead of real nodes: the track
 * receiver, the receive budget, the media pump with the send queue,
 * liveness, and signalling between two CallService ends whose libp2p
 * components are stubs wired to each other.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { streamPair } from '@libp2p/utils'
import { Admission } from '../src/calls/admission.js'
import { CallService } from '../src/calls/service.js'
import { Liveness } from '../src/calls/liveness.js'
import { MediaPump } from '../src/calls/media-pump.js'
import { Receivers } from '../src/calls/receivers.js'
import { SendQueue } from '../src/calls/send-queue.js'
import { TrackReceiver } from '../src/calls/track-receiver.js'
import { FrameDecoder, ProtocolViolation, decodeMessage, encodeMessage, nowMs } from '../src/calls/protocol.js'
import { callKey } from '../src/calls/membership.js'
import { CallRejectedError } from '../src/errors.js'
import { collectingSink, rawSource } from '../src/calls/media/index.js'
import type { CallEnd, CallServiceInit, CallRefusedEvent } from '../src/calls/index.js'
import type { DecodedMessage, TrackFormat } from '../src/calls/protocol.js'
import type { MediaSink, MediaSource, OutputPlan } from '../src/calls/media/index.js'
import type { PongSample } from '../src/calls/liveness.js'
import type { Call } from '../src/calls/session.js'
import type { Connection, PeerId, Stream, StreamHandler } from '@libp2p/interface'
import type { TestContext } from 'node:test'
import type { Uint8ArrayList } from 'uint8arraylist'
import { defer } from './helpers.js'

const audio = (track = 0): TrackFormat => ({ track, kind: 'audio', codec: 'raw' })
const video = (track = 0): TrackFormat => ({ track, kind: 'video', codec: 'raw' })
const frame = (seq: number, bytes = 10, captureMs = nowMs()): { seq: number, captureMs: number, arrivalMs: number, payload: Uint8Array } =>
  ({ seq, captureMs, arrivalMs: nowMs(), payload: new Uint8Array(bytes).fill(seq & 0xff) })

/** Resolves the first time `predicate` holds when `poke` is called (a callback the piece under test calls). */
function when (predicate: () => boolean): { poke: () => void, reached: Promise<void> } {
  let resolve: () => void = () => { /* replaced below */ }
  const reached = new Promise<void>(r => { resolve = r })
  return { poke: () => { if (predicate()) resolve() }, reached }
}

/** Every message arriving on `stream`, decoded, to `onMessage`. */
function readMessages (stream: Stream, onMessage: (m: DecodedMessage) => void): void {
  const decoder = new FrameDecoder()
  stream.addEventListener('message', (evt) => {
    for (const bytes of decoder.decode(evt.data)) onMessage(decodeMessage(bytes))
  })
}

/** A source of `count` frames of `bytes` bytes, as fast as it is read; records when it is closed. */
function countingSource (count: number, bytes: number, live: boolean): MediaSource & { closed: boolean } {
  const src = {
    format: { kind: 'video' as const, codec: 'raw' },
    live,
    closed: false,
    frames: async function * (signal: AbortSignal): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < count && !signal.aborted; i++) yield new Uint8Array(bytes).fill(i & 0xff)
    },
    close: () => { src.closed = true }
  }
  return src
}

describe('track receiver', () => {
  it('a lossless sink gets every frame at once, in order, then its end; a gap on the ordered stream counts as lost', async () => {
    const sink = collectingSink()
    const done = when(() => r.finished)
    const r: TrackReceiver = new TrackReceiver({ format: audio(), sink, playoutDelay: 60, onError: (err) => { assert.fail(err) }, onProgress: done.poke })
    assert.equal(r.live, false)
    for (const seq of [0, 1, 2, 4, 5]) r.push(frame(seq))
    assert.deepEqual(sink.frames.map(f => f.seq), [0, 1, 2, 4, 5], 'no playout delay for a lossless sink')
    assert.equal(r.ended, false)
    r.endOfTrack(7)
    assert.equal(r.ended, true)
    await done.reached
    assert.equal(sink.ended, true)
    assert.equal(r.jb.lost, 2, 'seq 3, and 6 before the end')
  })

  it('a live sink gets frames reordered within the playout delay', async () => {
    const sink = collectingSink({ live: true })
    // ends also when a frame is given up (a stall of the loaded machine longer than the delay), so that it fails, never hangs
    const played = when(() => sink.frames.length === 4 || r.jb.lost > 0)
    const r: TrackReceiver = new TrackReceiver({ format: audio(), sink, playoutDelay: 200, onError: (err) => { assert.fail(err) }, onProgress: played.poke })
    const t0 = nowMs()
    for (const seq of [0, 2, 1, 3]) r.push({ seq, captureMs: t0 + seq, arrivalMs: t0, payload: new Uint8Array(4) })
    await played.reached
    assert.deepEqual(sink.frames.map(f => f.seq), [0, 1, 2, 3])
    assert.equal(r.jb.lost, 0)
    await r.finalize()
  })

  it('waits for a slow sink: one write at a time, nothing dropped', async () => {
    let inFlight = 0; let most = 0; const written: number[] = []
    const sink: MediaSink = {
      live: false,
      write: async (_p, info) => {
        inFlight++; most = Math.max(most, inFlight)
        await new Promise(resolve => setImmediate(resolve))
        written.push(info.seq)
        inFlight--
      },
      end: async () => undefined,
      close: () => undefined
    }
    const done = when(() => r.finished)
    const r: TrackReceiver = new TrackReceiver({ format: audio(), sink, playoutDelay: 0, onError: (err) => { assert.fail(err) }, onProgress: done.poke })
    for (let seq = 0; seq < 50; seq++) r.push(frame(seq))
    r.endOfTrack(50)
    await done.reached
    assert.equal(most, 1)
    assert.deepEqual(written, Array.from({ length: 50 }, (_, i) => i))
  })

  it('a live sink plays each frame at capture time + transit + playout delay', async () => {
    const delay = 40
    const sink = collectingSink({ live: true })
    const played = when(() => sink.frames.length === 2)
    const r = new TrackReceiver({ format: audio(), sink, playoutDelay: delay, onError: (err) => { assert.fail(err) }, onProgress: played.poke })
    const t0 = nowMs()
    r.push({ seq: 0, captureMs: t0, arrivalMs: t0, payload: new Uint8Array(4) })
    r.push({ seq: 1, captureMs: t0 + 20, arrivalMs: t0, payload: new Uint8Array(4) })
    assert.equal(sink.frames.length, 0, 'held for the playout delay')
    await played.reached
    assert.ok(sink.writtenAt[0] - t0 >= delay - 1, `first played after ${sink.writtenAt[0] - t0} ms`)
    assert.ok(sink.writtenAt[1] - t0 >= delay + 20 - 1, `second played after ${sink.writtenAt[1] - t0} ms`)
    await r.finalize()
  })

  it('finalize writes out what a lossless sink still holds; a sink that never finishes is closed when the signal aborts', async () => {
    const sink = collectingSink()
    let blocked = true
    const held: MediaSink = { ...sink, write: async (p, info) => { if (blocked) await new Promise(() => { /* never: a stuck output */ }); await sink.write(p, info) } }
    const r = new TrackReceiver({ format: audio(), sink: held, playoutDelay: 0, onError: (err) => { assert.fail(err) }, onProgress: () => undefined })
    r.push(frame(0))
    let closed = false
    held.close = () => { closed = true }
    const controller = new AbortController()
    const finalized = r.finalize({ signal: controller.signal })
    controller.abort()
    await finalized
    assert.ok(closed, 'the stuck output was closed')

    blocked = false
    // a sink whose first write is slow: the rest waits in the buffer, and finalize writes it out
    const out = collectingSink()
    let slow = true
    const gated: MediaSink = { ...out, write: async (p, info) => { if (slow) { slow = false; await new Promise(resolve => setImmediate(resolve)) } await out.write(p, info) } }
    const r2 = new TrackReceiver({ format: audio(), sink: gated, playoutDelay: 0, onError: (err) => { assert.fail(err) }, onProgress: () => undefined })
    for (let seq = 0; seq < 5; seq++) r2.push(frame(seq))
    await r2.finalize({ signal: AbortSignal.timeout(5_000) })
    assert.deepEqual(out.frames.map(f => f.seq), [0, 1, 2, 3, 4])
    assert.equal(out.ended, true)
  })

  it('a failing sink is reported, not thrown', async () => {
    const failed = new Promise<Error>((resolve) => {
      const r = new TrackReceiver({
        format: audio(),
        sink: { live: false, write: () => { throw new Error('disk full') }, end: async () => undefined, close: () => undefined },
        playoutDelay: 0,
        onError: resolve,
        onProgress: () => undefined
      })
      r.push(frame(0))
    })
    assert.equal((await failed).message, 'disk full')
  })
})

describe('receive budget', () => {
  const plan = (sinks: Record<number, MediaSink>): OutputPlan => ({ sinkFor: async (f) => sinks[f.track], close: () => undefined })

  it('drops the oldest live video first, then audio, to stay within maxBufferedBytes', async () => {
    // a long playout delay: everything pushed is still held
    const receivers = new Receivers({
      plan: plan({ 0: collectingSink({ live: true }), 1: collectingSink({ live: true }) }),
      stream: { pause: () => { assert.fail('a live sink never pauses the stream') }, resume: () => undefined },
      playoutDelay: 10_000,
      maxBufferedBytes: 1000,
      pauseBytes: 1000,
      onError: (err) => { assert.fail(err) },
      onProgress: () => undefined
    })
    await receivers.open([audio(0), video(1)])
    const [a, v] = [...receivers.values()]
    for (let seq = 0; seq < 4; seq++) receivers.frame(0, frame(seq, 100))
    for (let seq = 0; seq < 8; seq++) receivers.frame(1, frame(seq, 100))
    assert.equal(a.jb.dropped, 0)
    assert.equal(v.jb.dropped, 2, 'video went first')
    assert.equal(a.jb.bytes + v.jb.bytes, 1000)
    for (let seq = 8; seq < 16; seq++) receivers.frame(1, frame(seq, 200))
    assert.equal(v.jb.length, 3, 'video keeps its newest frames')
    assert.equal(a.jb.length, 4, 'audio is kept while there is video to drop')
    assert.ok(v.jb.bytes + a.jb.bytes <= 1000)
    for (let seq = 4; seq < 12; seq++) receivers.frame(0, frame(seq, 100))
    assert.equal(v.jb.length, 0)
    assert.deepEqual([a.jb.length, a.jb.dropped], [10, 2], 'then the oldest audio')
    await receivers.finalize()
  })

  it('pauses the stream while lossless sinks hold more than pauseBytes, resumes below a quarter', async () => {
    const events: string[] = []
    const gate: Array<() => void> = []
    const sink: MediaSink = { live: false, write: async () => { await new Promise<void>(resolve => gate.push(resolve)) }, end: async () => undefined, close: () => undefined }
    const resumed = when(() => events.at(-1) === 'resume')
    const receivers = new Receivers({
      plan: plan({ 0: sink }),
      stream: { pause: () => events.push('pause'), resume: () => { events.push('resume'); resumed.poke() } },
      playoutDelay: 0,
      maxBufferedBytes: 100,
      pauseBytes: 1000,
      onError: (err) => { assert.fail(err) },
      onProgress: () => undefined
    })
    await receivers.open([audio(0)])
    // the first frame goes to the (stuck) sink, the rest is held
    for (let seq = 0; seq < 12; seq++) receivers.frame(0, frame(seq, 100))
    assert.deepEqual(events, ['pause'])
    assert.equal(receivers.paused, true)
    assert.equal([...receivers.values()][0].jb.dropped, 0, 'lossless: nothing dropped')
    // let the sink drain
    const drain = (): void => { const next = gate.shift(); if (next != null) { next(); setImmediate(drain) } }
    drain()
    await resumed.reached
    assert.deepEqual(events, ['pause', 'resume'])
    assert.equal(receivers.paused, false)
    assert.throws(() => { receivers.frame(3, frame(0)) }, ProtocolViolation)
    receivers.endOfTrack(0, 12)
    assert.throws(() => { receivers.frame(0, frame(12)) }, ProtocolViolation)
    assert.throws(() => { receivers.endOfTrack(0, 12) }, ProtocolViolation)
    receivers.close()
  })
})

describe('media pump and send queue', () => {
  it('a source that is not live is read only as fast as the stream takes it: every frame arrives, in order, then its end', async (t: TestContext) => {
    const [out, inb] = await streamPair({ delay: 2, capacity: 2 })
    defer(t, () => { out.abort(new Error('test over')); inb.abort(new Error('test over')) })
    const seqs: number[] = []
    let endOfTrack: number | undefined
    const arrived = when(() => endOfTrack != null)
    readMessages(inb, (m) => {
      if (m.type === 'frame') seqs.push(m.frame.seq)
      if (m.type === 'endOfTrack') { endOfTrack = m.endOfTrack.frames; arrived.poke() }
    })
    let drops = 0
    let mostQueued = 0
    const queue: SendQueue = new SendQueue(out, {
      maxBytes: 32 * 1024,
      onSent: () => { mostQueued = Math.max(mostQueued, queue.queuedBytes) },
      onDrop: () => { drops++ },
      onError: (err) => { assert.fail(err) }
    })
    const source = countingSource(200, 4096, false)
    const sent = new Promise<number>((resolve) => {
      const pump = new MediaPump([source], { queue, onError: (m) => { assert.fail(m) }, onTrackSent: resolve })
      assert.deepEqual(pump.formats, [{ kind: 'video', codec: 'raw', track: 0 }])
      pump.start()
    })
    assert.equal(await sent, 0)
    await arrived.reached
    assert.equal(drops, 0)
    assert.equal(endOfTrack, 200)
    assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => i))
    assert.ok(mostQueued <= 32 * 1024 + 4200, `queue held up to ${mostQueued} bytes`)
    assert.ok(source.closed)
  })

  it('a live source is never slowed down: the queue drops its oldest frames while the stream is backed up', async (t: TestContext) => {
    const [out, inb] = await streamPair({ delay: 20, capacity: 1 })
    defer(t, () => { out.abort(new Error('test over')); inb.abort(new Error('test over')) })
    const seqs: number[] = []
    let endOfTrack: number | undefined
    const arrived = when(() => endOfTrack != null)
    readMessages(inb, (m) => {
      if (m.type === 'frame') seqs.push(m.frame.seq)
      if (m.type === 'endOfTrack') { endOfTrack = m.endOfTrack.frames; arrived.poke() }
    })
    let drops = 0
    const queue = new SendQueue(out, { maxBytes: 16 * 1024, onSent: () => undefined, onDrop: () => { drops++ }, onError: (err) => { assert.fail(err) } })
    const pump = new MediaPump([countingSource(300, 4096, true)], { queue, onError: (m) => { assert.fail(m) }, onTrackSent: () => undefined })
    pump.start()
    await arrived.reached
    assert.equal(endOfTrack, 300, 'the end of track counts every frame captured')
    assert.ok(drops > 0, 'frames were dropped')
    assert.equal(seqs.length + drops, 300)
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'order is kept')
  })

  it('stop ends the reading and closes the source without an error', async (t: TestContext) => {
    const [out, inb] = await streamPair()
    defer(t, () => { out.abort(new Error('test over')); inb.abort(new Error('test over')) })
    const first = when(() => true)
    readMessages(inb, (m) => { if (m.type === 'frame') first.poke() })
    const queue = new SendQueue(out, { onSent: () => undefined, onDrop: () => undefined, onError: (err) => { assert.fail(err) } })
    const endless = await rawSource((async function * () { while (true) yield new Uint8Array(1920) })(), { kind: 'audio', frameMs: 5 })
    const pump = new MediaPump([endless], { queue, onError: (m) => { assert.fail(m) }, onTrackSent: () => { assert.fail('an endless source never ends') } })
    pump.start()
    await first.reached
    pump.stop()
    assert.equal(pump.done, false)
  })

  it('control messages overtake queued media; flushed() and room() honour an abort signal', async () => {
    // a stream that takes one message, then needs a drain that comes when the test says
    const sent: string[] = []
    const decoder = new FrameDecoder()
    let drain: () => void = () => { /* replaced by each onDrain */ }
    const stalled = {
      send: (bytes: Uint8ArrayList) => {
        for (const m of decoder.decode(bytes)) sent.push(decodeMessage(m).type)
        return false
      },
      onDrain: async (options?: { signal?: AbortSignal }) => new Promise<void>((resolve, reject) => {
        drain = resolve
        options?.signal?.addEventListener('abort', () => { reject(new Error('closed')) }, { once: true })
      })
    }
    const queue = new SendQueue(stalled as unknown as Stream, { maxBytes: 8 * 1024, onSent: () => undefined, onDrop: () => undefined, onError: (err) => { assert.fail(err) } })
    for (let seq = 0; seq < 20; seq++) queue.sendOrdered({ bytes: encodeMessage({ frame: { track: 0, seq, captureMs: 1, payload: new Uint8Array(1000) } }), droppable: false })
    queue.sendUrgent(encodeMessage({ ping: { id: 1, sentMs: 1 } }))
    assert.deepEqual(sent, ['frame'])
    await assert.rejects(queue.flushed({ signal: AbortSignal.timeout(20) }), { name: 'TimeoutError' })
    await assert.rejects(queue.room({ signal: AbortSignal.abort() }), { name: 'AbortError' })
    const room = queue.room()
    drain()
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(sent, ['frame', 'ping'], 'the ping went next')
    // only frames are left, one per drain
    while (sent.length < 21) { drain(); await new Promise(resolve => setImmediate(resolve)) }
    await room
    await queue.flushed()
    assert.equal(queue.queuedBytes, 0)
    queue.close()
  })
})

describe('liveness', () => {
  /** A liveness end over a stream pair; the other end answers its pings unless `answer` is false. */
  async function pair (t: TestContext, init: { interval?: number, idleTimeout?: number, answer?: boolean } = {}): Promise<{ a: Liveness, samples: PongSample[], pongs: (n: number) => Promise<void>, idle: Promise<number> }> {
    const [sa, sb] = await streamPair()
    defer(t, () => { sa.abort(new Error('test over')); sb.abort(new Error('test over')) })
    const samples: PongSample[] = []
    const waiting: Array<{ n: number, resolve: () => void }> = []
    let onIdle: (quiet: number) => void = () => { /* replaced below */ }
    const idle = new Promise<number>(resolve => { onIdle = resolve })
    const a: Liveness = new Liveness({
      interval: init.interval ?? 20,
      idleTimeout: init.idleTimeout ?? 1000,
      send: (msg) => sa.send(encodeMessage(msg)),
      onPong: (s) => {
        samples.push(s)
        for (const w of waiting.filter(w => samples.length >= w.n)) w.resolve()
      },
      onIdle: (quiet) => { onIdle(quiet) }
    })
    const b = new Liveness({ interval: 1000, idleTimeout: 1000, send: (msg) => sb.send(encodeMessage(msg)), onPong: () => undefined, onIdle: () => undefined })
    readMessages(sa, (m) => {
      a.heard()
      if (m.type === 'pong') a.onPong(m.pong, nowMs())
    })
    readMessages(sb, (m) => {
      if (m.type === 'ping' && init.answer !== false) b.onPing(m.ping, nowMs())
    })
    defer(t, () => { a.stop() })
    const pongs = async (n: number): Promise<void> => {
      if (samples.length >= n) return
      await new Promise<void>(resolve => waiting.push({ n, resolve }))
    }
    return { a, samples, pongs, idle }
  }

  it('a ping is answered: round-trip time and clock offset from the four times', async (t) => {
    const { a, samples, pongs } = await pair(t)
    a.ping()
    await pongs(1)
    const s = samples[0]
    assert.ok(s.sentMs <= s.peerReceivedMs && s.peerReceivedMs <= s.peerSentMs && s.peerSentMs <= s.arrivalMs, JSON.stringify(s))
    const rtt = (s.arrivalMs - s.sentMs) - (s.peerSentMs - s.peerReceivedMs)
    assert.ok(rtt >= 0 && rtt < 1000, `rtt ${rtt}`)
    // an answer to no ping of ours is ignored
    a.onPong({ id: 99, pingSentMs: 0, receivedMs: 0, sentMs: 0 }, nowMs())
    assert.equal(samples.length, 1)
  })

  it('nothing heard for idleTimeout: idle, with how long it was quiet', async (t) => {
    const { a, idle, samples } = await pair(t, { interval: 10, idleTimeout: 100, answer: false })
    const started = nowMs()
    a.start()
    const quiet = await idle
    assert.ok(quiet > 100, `quiet ${quiet} ms`)
    assert.ok(nowMs() - started >= 100)
    assert.equal(samples.length, 0)
  })

  it('a peer that answers is never idle; an excused silence is not either', async (t) => {
    const { a, pongs, idle } = await pair(t, { interval: 10, idleTimeout: 150 })
    let excusedIdle = false
    let ticks = 0
    const excused = new Liveness({ interval: 10, idleTimeout: 50, send: () => { ticks++ }, onPong: () => undefined, onIdle: () => { excusedIdle = true }, excused: () => true })
    excused.start()
    defer(t, () => { excused.stop() })
    let wasIdle = false
    void idle.then(() => { wasIdle = true })
    a.start()
    // 40 answered pings: at least 400 ms, over two idle timeouts
    await pongs(40)
    assert.ok(ticks >= 10, `${ticks} ticks`)
    assert.ok(a.quietFor() < 150)
    assert.equal(wasIdle, false, 'answered: never idle')
    assert.equal(excusedIdle, false, 'excused: never idle')
  })
})

// ---- signalling between two services over stream pairs ------------------------

interface Net {
  handlers: Map<string, StreamHandler>
}

/** A CallService whose registrar and connection manager are stubs: dialling opens a stream pair to the other service's handler. */
async function service (t: TestContext, net: Net, init: CallServiceInit = {}): Promise<CallService & { id: PeerId }> {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const registrar = {
    handle: async (_protocol: string, handler: StreamHandler) => { net.handlers.set(peerId.toString(), handler) },
    unhandle: async () => { net.handlers.delete(peerId.toString()) }
  }
  const connectionManager = {
    // no connection is open before a call here: streams come from openStream
    getConnections: () => [],
    openStream: async (peer: PeerId) => {
      const handler = net.handlers.get(peer.toString())
      if (handler == null) throw new Error(`${peer.toString()} does not handle calls`)
      const [outbound, inbound] = await streamPair()
      await handler(inbound, { remotePeer: peerId } as unknown as Connection)
      return outbound
    }
  }
  const svc = new CallService({ peerId, registrar, connectionManager } as any, { pingInterval: 50, idleTimeout: 2000, closeTimeout: 500, ...init })
  await svc.start()
  defer(t, async () => { await svc.stop() })
  return Object.assign(svc, { id: peerId })
}

async function services (t: TestContext, n: number, init: CallServiceInit = {}): Promise<Array<CallService & { id: PeerId }>> {
  const net: Net = { handlers: new Map() }
  const out: Array<CallService & { id: PeerId }> = []
  for (let i = 0; i < n; i++) out.push(await service(t, net, init))
  return out
}

const bytesOf = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)
const ended = async (svc: CallService): Promise<CallEnd> => (await once(svc, 'call:ended', { signal: AbortSignal.timeout(10_000) }) as [CallEnd])[0]

describe('signalling between two services on stream pairs', () => {
  it('offer, ring, answer: media both ways, byte for byte; both done ends it as completed', async (t) => {
    const [a, b] = await services(t, 2)
    const inA = bytesOf(50_000, 1); const inB = bytesOf(30_000, 2)
    const sinkA = collectingSink(); const sinkB = collectingSink()
    const incoming = once(b, 'call:incoming') as Promise<[Call]>
    const endedA = ended(a); const endedB = ended(b)
    const [callA, callB] = await Promise.all([
      a.call(b.id, { input: (async function * () { yield inA })(), output: sinkA, frameBytes: 4096, frameMs: 0 }),
      b.answer({ input: (async function * () { yield inB })(), output: sinkB, frameBytes: 4096, frameMs: 0, timeout: 5_000 })
    ])
    const [ringing] = await incoming
    assert.equal(ringing, callB)
    assert.equal(callA.id, callB.id)
    assert.equal(callA.direction, 'outbound'); assert.equal(callB.direction, 'inbound')
    assert.equal(callB.peerId, a.id.toString())
    const [endA, endB] = await Promise.all([endedA, endedB])
    assert.deepEqual([endA.reason, endB.reason], ['completed', 'completed'])
    assert.ok(Buffer.from(sinkB.bytes()).equals(Buffer.from(inA)), 'B got what A sent')
    assert.ok(Buffer.from(sinkA.bytes()).equals(Buffer.from(inB)), 'A got what B sent')
    assert.equal(endA.stats.framesReceived, Math.ceil(inB.length / 4096))
    assert.ok(endA.stats.rttMs != null, 'pings measured the round trip')
    assert.deepEqual(a.list(), []); assert.deepEqual(b.list(), [])
  })

  it('admission: a caller without a shared call key is refused as not a member; with one it rings', async (t) => {
    const shared = callKey(new Uint8Array(32).fill(1)); const other = callKey(new Uint8Array(32).fill(2))
    const net: Net = { handlers: new Map() }
    const b = await service(t, net, { callKeys: () => [shared] })
    const stranger = await service(t, net, { callKeys: () => [other] })
    const member = await service(t, net, { callKeys: () => [other, shared] })
    const refused = once(b, 'call:refused') as Promise<[CallRefusedEvent]>
    await assert.rejects(stranger.call(b.id, { input: 'none', output: 'none' }), (err: unknown) => {
      assert.ok(err instanceof CallRejectedError)
      assert.equal(err.reason, 'not-a-member')
      return true
    })
    const [r] = await refused
    assert.equal(r.peerId, stranger.id.toString())
    const [call] = await Promise.all([member.call(b.id, { input: 'none', output: 'none' }), b.answer({ input: 'none', output: 'none', timeout: 5_000 })])
    assert.equal(call.state, 'connected')
    await call.hangup()
  })

  it('an unanswered ring never makes the callee busy: a second caller rings too, answering one refuses the other busy', async (t) => {
    const [a, b, c] = await services(t, 3, { ringCooldown: 0 })
    const fromA = once(b, 'call:incoming') as Promise<[Call]>
    const placedA = a.call(b.id, { input: 'none', output: 'none' })
    const [ringingA] = await fromA
    // c's call rings as well
    const fromC = once(b, 'call:incoming') as Promise<[Call]>
    const placedC = c.call(b.id, { input: 'none', output: 'none' })
    const [ringingC] = await fromC
    assert.deepEqual(b.list().map(i => [i.peerId, i.state]), [[a.id.toString(), 'ringing'], [c.id.toString(), 'ringing']])
    // a ring holds no call slot
    assert.equal(ringingA.engaged, false)
    // answering c takes the one slot: a's ring is refused busy
    const endedA = once(ringingA, 'ended') as Promise<[CallEnd]>
    await b.answer({ callId: ringingC.id, input: 'none', output: 'none' })
    await placedC
    await assert.rejects(placedA, { code: 'ERR_CALL_REJECTED', reason: 'busy', message: /took another call/ })
    assert.equal((await endedA)[0].reason, 'busy')
    // while connected, new callers are busy, and b cannot answer another
    await assert.rejects(a.call(b.id, { input: 'none', output: 'none' }), { code: 'ERR_CALL_REJECTED', reason: 'busy' })
    await assert.rejects(b.answer({ timeout: 50 }), { code: 'ERR_CALL_FAILED', reason: 'busy' })
    await b.hangup()
  })

  it('rejected with a reason; cancelled by the caller; no answer within the ring timeout', async (t) => {
    const [a, b] = await services(t, 2, { ringTimeout: 300, ringCooldown: 0 })
    const ringing = once(b, 'call:incoming') as Promise<[Call]>
    const placed = a.call(b.id, { input: 'none', output: 'none' })
    const [inbound] = await ringing
    const endedB = ended(b)
    await inbound.reject('not now')
    await assert.rejects(placed, { code: 'ERR_CALL_REJECTED', reason: 'rejected', message: /not now/ })
    assert.deepEqual([(await endedB).reason, inbound.state], ['rejected', 'ended'])

    // the caller cancels while it rings: the callee sees 'cancelled' by the remote
    const controller = new AbortController()
    b.once('call:incoming', () => { controller.abort() })
    const cancelledAtB = ended(b)
    await assert.rejects(a.call(b.id, { input: 'none', output: 'none', signal: controller.signal }), { code: 'ERR_CALL_FAILED', reason: 'cancelled' })
    const cancelled = await cancelledAtB
    assert.deepEqual([cancelled.reason, cancelled.by], ['cancelled', 'remote'])

    // nobody answers: both sides end with 'no-answer' after the ring timeout
    const unansweredAtB = ended(b)
    const started = Date.now()
    await assert.rejects(a.call(b.id, { input: 'none', output: 'none' }), { reason: 'no-answer' })
    assert.ok(Date.now() - started >= 250)
    assert.equal((await unansweredAtB).reason, 'no-answer')
  })

  it('ring cooldown: a caller whose ring went unanswered is refused busy until it expires; others are not', async () => {
    const self = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const [m, x] = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')]).then(keys => keys.map(k => peerIdFromPrivateKey(k)))
    const admission = new Admission({ self, maxCalls: 1, maxRinging: 2, attemptsPerMinute: 30, ringCooldown: 30_000 })
    const fake = (peer: PeerId, id: string, engaged = false): Call => ({ id, peerId: peer.toString(), remotePeer: peer, engaged }) as unknown as Call
    const none = new Map<string, Call>()
    const t0 = 1_000_000
    assert.deepEqual(admission.slot(fake(m, '1'), none, t0), { ok: true })
    admission.cooldown(m, t0)
    const refused = admission.slot(fake(m, '2'), none, t0 + 1000)
    assert.ok(!refused.ok && refused.reason === 'busy' && /try again in 29 s/.test(refused.message), JSON.stringify(refused))
    assert.deepEqual(admission.slot(fake(x, '3'), none, t0 + 1000), { ok: true }, 'another peer rings')
    assert.deepEqual(admission.slot(fake(m, '4'), none, t0 + 30_000), { ok: true }, 'after the cooldown')
    // rings do not take the slot; answered or placed calls do; too many rings are busy
    const ringingTwo = new Map([['a', fake(x, 'a')], ['b', fake(x, 'b')]])
    assert.equal(admission.canCall(ringingTwo), true)
    assert.deepEqual(admission.slot(fake(m, '5'), ringingTwo, t0 + 60_000), { ok: false, reason: 'busy', message: 'too many calls are ringing at the peer' })
    const inCall = new Map([['a', fake(x, 'a', true)]])
    assert.equal(admission.canCall(inCall), false)
    assert.equal(admission.slot(fake(m, '6'), inCall, t0 + 60_000).ok, false)
  })

  it('a hangup mid-call reaches the other side; a reset stream ends the call as lost', async (t) => {
    const [a, b] = await services(t, 2)
    const endless = (): AsyncGenerator<Uint8Array> => (async function * () { while (true) yield new Uint8Array(1920) })()
    const heard = when(() => true)
    const sinkB: MediaSink = { live: true, write: () => { heard.poke() }, end: async () => undefined, close: () => undefined }
    const [callA] = await Promise.all([a.call(b.id, { input: endless(), output: 'none', frameMs: 5 }), b.answer({ input: 'none', output: sinkB, timeout: 5_000 })])
    await heard.reached
    const atB = ended(b)
    const [endA] = await a.hangup(callA.id)
    assert.deepEqual([endA.reason, endA.by], ['hangup', 'local'])
    const endB = await atB
    assert.deepEqual([endB.reason, endB.by, endB.connected], ['hangup', 'remote', true])
    assert.ok(endB.stats.framesReceived > 0)

    // the callee's side of the stream is reset without a hangup
    const incoming = once(b, 'call:incoming') as Promise<[Call]>
    const placed = a.call(b.id, { input: 'none', output: 'none' })
    const [ringingB] = await incoming
    await b.answer({ callId: ringingB.id, input: 'none', output: 'none' })
    const callA2 = await placed
    const inboundStream = (ringingB as unknown as { stream: Stream }).stream
    const lost = once(callA2, 'ended') as Promise<[CallEnd]>
    inboundStream.abort(new Error('cable cut'))
    const [end] = await lost
    assert.deepEqual([end.reason, end.by], ['connection-lost', 'network'])
  })
})
