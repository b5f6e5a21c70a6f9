// Calls from the web page with the browser's microphone and camera, through
// the node (src/web/call-media.ts, src/web/app/calls.js): two nodes, two
// pages of Debian's chromium with its fake devices (a beep every 500 ms, a
// test pattern); the media each node receives from the other, what the pages
// show and play, mute, camera off, hang up; the errors (declined, busy, no
// microphone); and the media socket against other origins. The in-call
// screens are saved in test-artifacts/web/.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import WebSocket from 'ws'
import { launch, openApp, screenshot, webNode } from './web-helpers.js'
import { waitUntil, defer } from './helpers.js'
import type { AppPage, WebNode } from './web-helpers.js'
import type { MediaLinkInfo } from '../src/web/call-media.js'
import { media } from '../src/calls/index.js'
import type { CallStats } from '../src/calls/index.js'
import type { CollectingSink } from '../src/calls/media/index.js'
import type { Page } from 'playwright-core'
import type { TestContext } from 'node:test'
import type { AddressInfo } from 'node:net'

interface Probe { gaps: unknown, playout?: { bufferedMs: number, underruns: number, droppedMs: number }, calls: number, sent: { audio: number, video: number }, received: { audio: number, video: number }, shown: number, sendOnsets: number[], playOnsets: number[] }

/** The page's call counters and sound onsets (the module instance the app uses: same URL, same module) */
async function probe (page: Page): Promise<Probe> {
  return page.evaluate(async () => {
    const url = '/app/calls.js'
    const m = await import(url) as { probe: Probe }
    return JSON.parse(JSON.stringify(m.probe)) as Probe
  })
}

/** The media links of a node, as its API lists them (bearer token, as a script would) */
async function links (w: WebNode): Promise<MediaLinkInfo[]> {
  const r = await fetch(`${w.url}/v1/calls/media`, { headers: { authorization: `Bearer ${w.info.token}` } })
  assert.equal(r.status, 200)
  return await r.json() as MediaLinkInfo[]
}

function stats (w: WebNode): CallStats | undefined {
  const [info] = w.node.calls.list()
  return info == null ? undefined : w.node.calls.get(info.callId)?.stats()
}

function received (s: CallStats | undefined, kind: 'audio' | 'video'): number {
  return s?.tracks.filter(t => t.direction === 'receive' && t.kind === kind).reduce((n, t) => n + t.frames, 0) ?? 0
}

/** Two nodes in one group, each with a page logged in; both names known to both pages */
async function pair (t: TestContext, fakeMedia = true): Promise<{ a: WebNode, b: WebNode, pa: AppPage, pb: AppPage }> {
  const [a, b] = await Promise.all([webNode(t, { name: 'alice' }), webNode(t, { name: 'bob' })])
  await a.node.createGroup('team')
  await b.node.joinGroup({ invite: a.node.invite('team') })
  await waitUntil('the group mesh', () => a.node.groupPeers('team').length === 1 && b.node.groupPeers('team').length === 1)
  await a.node.send('team', 'hello from alice')
  await b.node.send('team', 'hello from bob')
  const browser = await launch(t, { fakeMedia })
  const [pa, pb] = await Promise.all([openApp(t, browser, a, 'alice-call'), openApp(t, browser, b, 'bob-call', { dark: true })])
  for (const p of [pa, pb]) await p.page.locator('li.msg', { hasText: 'hello from bob' }).waitFor()
  return { a, b, pa, pb }
}

/** Place a call from the members list of the open group */
async function callFromMembers (page: Page, peer: string, video: boolean): Promise<void> {
  await page.getByRole('button', { name: 'Members' }).click()
  await page.getByRole('button', { name: new RegExp(`^${video ? 'Video' : 'Voice'} call ${peer}`) }).click()
}

/** For each onset heard at the receiver, the time since the latest onset the sender captured before it (ms), median */
function latency (sent: number[], played: number[], period = 500): { median: number, n: number } {
  const d: number[] = []
  for (const p of played) {
    const before = sent.filter(s => s <= p)
    if (before.length === 0) continue
    const x = p - before[before.length - 1]
    if (x < period - 20) d.push(x)
  }
  d.sort((x, y) => x - y)
  return { median: d.length > 0 ? Math.round(d[Math.floor(d.length / 2)]) : NaN, n: d.length }
}

describe('calls from the web page', () => {
  it('a video call between two pages: media both ways through both nodes, mute, camera off, duration, hang up', async (t) => {
    const { a, b, pa, pb } = await pair(t)
    const alice = `alice ~${a.node.peerId.slice(-4)}`
    const bob = `bob ~${b.node.peerId.slice(-4)}`

    // alice calls bob from the members list; bob's page rings, he accepts
    await callFromMembers(pa.page, 'bob', true)
    const panelA = pa.page.getByRole('region', { name: /^Call with bob/ })
    await panelA.getByRole('status').filter({ hasText: `Calling ${bob}` }).waitFor()
    const ring = pb.page.getByRole('alert').filter({ hasText: 'Incoming video call from' })
    await ring.waitFor()
    assert.match(await ring.innerText(), new RegExp(alice))
    await screenshot(pb.page, '12-call-ringing')
    await ring.getByRole('button', { name: 'Accept' }).click()
    const panelB = pb.page.getByRole('region', { name: /^Call with alice/ })
    await panelA.getByRole('status').filter({ hasText: `In a video call with ${bob}` }).waitFor()
    await panelB.getByRole('status').filter({ hasText: `In a video call with ${alice}` }).waitFor()
    await ring.waitFor({ state: 'detached' })

    // each node receives the other's audio and video (the call's own counters), and the audio is not silence
    await waitUntil('audio and video frames both ways', () =>
      received(stats(a), 'audio') > 100 && received(stats(b), 'audio') > 100 && received(stats(a), 'video') > 10 && received(stats(b), 'video') > 10, 20_000)
    // ...and so do the pages' media links (frames in from the page, frames out to it)
    const flowing = (l?: MediaLinkInfo): boolean => l != null && l.fromBrowser.audioFrames > 100 && l.fromBrowser.videoFrames > 10 && l.toBrowser.audioFrames > 100 && l.toBrowser.videoFrames > 10
    await waitUntil('media through both pages\' links', async () => flowing((await links(a))[0]) && flowing((await links(b))[0]))
    const [la] = await links(a)
    const [lb] = await links(b)
    assert.equal(la.callId, a.node.calls.list()[0].callId)
    assert.equal(lb.callId, b.node.calls.list()[0].callId)
    assert.ok(la.camera && lb.camera, 'both pages have a camera')
    t.diagnostic(`alice's link: ${JSON.stringify(la)}`)
    await waitUntil('the beeps to be heard on both nodes, both ways', async () => {
      const [x, y] = [(await links(a))[0], (await links(b))[0]]
      return [x.fromBrowser, x.toBrowser, y.fromBrowser, y.toBrowser].every(d => d.audioPeakDb != null && d.audioPeakDb > -30)
    }, 10_000)

    // the pages: the peer's pictures drawn, its beeps played (onsets of sound in the played audio), the duration counting
    await waitUntil('both pages to show video and play sound', async () => {
      const [x, y] = [await probe(pa.page), await probe(pb.page)]
      return x.shown > 10 && y.shown > 10 && x.playOnsets.length > 2 && y.playOnsets.length > 2
    }, 15_000)
    await panelA.getByRole('timer', { name: 'Call duration' }).filter({ hasText: /^00:0[3-9]|^00:[1-5]\d/ }).waitFor({ timeout: 15_000 })
    assert.match(await panelB.getByRole('timer', { name: 'Call duration' }).innerText(), /^\d\d:\d\d$/)
    const meter = await panelB.getByRole('meter', { name: `Audio level of ${alice}` }).count()
    assert.equal(meter, 1)
    await screenshot(pa.page, '13-in-call-video')
    await screenshot(pb.page, '13-in-call-video-dark')
    await pb.page.setViewportSize({ width: 380, height: 720 })
    await screenshot(pb.page, '13-in-call-video-narrow')
    await pb.page.setViewportSize({ width: 1100, height: 720 })

    // alice mutes: bob's node sends silence to bob's page; unmuted, the beeps are back
    await panelA.getByRole('button', { name: 'Mute' }).click()
    assert.equal(await panelA.getByRole('button', { name: 'Mute' }).getAttribute('aria-pressed'), 'true')
    await waitUntil('silence from alice', async () => (await links(b))[0].toBrowser.audioPeakDb == null, 10_000)
    await panelA.getByRole('button', { name: 'Mute' }).click()
    await waitUntil('alice heard again', async () => ((await links(b))[0].toBrowser.audioPeakDb ?? -Infinity) > -30, 10_000)

    // alice turns her camera off: bob's page says so; on again, her pictures are back
    await panelA.getByRole('button', { name: 'Camera off' }).click()
    await panelB.getByText(`No video from ${alice}`).waitFor({ timeout: 10_000 })
    await screenshot(pb.page, '14-in-call-peer-camera-off')
    await panelA.getByRole('button', { name: 'Camera off' }).click()
    await panelB.getByText(`No video from ${alice}`).waitFor({ state: 'detached', timeout: 10_000 })

    // the figures: audio latency capture (page) → node → node → played (page), both ways; frames a second; the node's CPU
    const cpu0 = process.cpuUsage()
    const wall0 = performance.now()
    const v0 = received(stats(a), 'video') + received(stats(b), 'video')
    const a0 = received(stats(a), 'audio') + received(stats(b), 'audio')
    const [ra0, rb0] = [await probe(pa.page), await probe(pb.page)]
    await new Promise(resolve => setTimeout(resolve, 5000))
    const [ra, rb] = [await probe(pa.page), await probe(pb.page)]
    const secs = (performance.now() - wall0) / 1000
    const cpu = process.cpuUsage(cpu0)
    const ab = latency(ra.sendOnsets, rb.playOnsets.filter(x => x > rb0.playOnsets.at(-1)!))
    const ba = latency(rb.sendOnsets, ra.playOnsets.filter(x => x > ra0.playOnsets.at(-1)!))
    const fps = (received(stats(a), 'video') + received(stats(b), 'video') - v0) / 2 / secs
    const aps = (received(stats(a), 'audio') + received(stats(b), 'audio') - a0) / 2 / secs
    const cpuPct = (cpu.user + cpu.system) / 1000 / (secs * 1000) * 100
    const s = stats(a)
    t.diagnostic(`audio latency page → node → node → page (median of beep onsets): alice→bob ${ab.median} ms (${ab.n}), bob→alice ${ba.median} ms (${ba.n}); ` +
      `delivered per node: ${aps.toFixed(1)} audio frames/s, ${fps.toFixed(1)} video frames/s; shown ${((ra.shown - ra0.shown) / secs).toFixed(1)} and ${((rb.shown - rb0.shown) / secs).toFixed(1)} pictures/s; ` +
      `node rtt ${s?.rttMs ?? '?'} ms, one-way ${s?.oneWayDelayMs ?? '?'} ms; page playout buffers ${JSON.stringify(ra.playout)} ${JSON.stringify(rb.playout)}, gaps ${JSON.stringify(ra.gaps)} ${JSON.stringify(rb.gaps)}; CPU of the test process (both nodes, both APIs): ${cpuPct.toFixed(0)} % of one core over ${secs.toFixed(1)} s`)
    assert.ok(ab.n > 0 && ba.n > 0, 'beeps were heard both ways')
    assert.ok(aps > 40, `audio flows at about 50 frames/s (${aps})`)

    // bob hangs up: it ends on both pages and both nodes
    await panelB.getByRole('button', { name: 'Hang up' }).click()
    await panelB.getByRole('status').filter({ hasText: 'Call ended: You hung up.' }).waitFor()
    await panelA.getByRole('status').filter({ hasText: `Call ended: ${bob} hung up.` }).waitFor()
    await waitUntil('the call to end on both nodes', () => a.node.calls.list().length === 0 && b.node.calls.list().length === 0)
    await waitUntil('the media links to close', async () => (await links(a)).length === 0 && (await links(b)).length === 0)
    await screenshot(pa.page, '15-call-ended')
    assert.deepEqual([...pa.errors, ...pb.errors], [], 'no console errors on the pages')
  })

  it('a voice call declined; a busy peer; a browser without a microphone, or refusing it, places no call', async (t) => {
    const { a, b, pa, pb } = await pair(t)
    const bob = `bob ~${b.node.peerId.slice(-4)}`

    // declined: alice's page says so
    await callFromMembers(pa.page, 'bob', false)
    const ring = pb.page.getByRole('alert').filter({ hasText: 'Incoming voice call from' })
    await ring.getByRole('button', { name: 'Decline' }).click()
    const panelA = pa.page.getByRole('region', { name: /^Call with bob/ })
    await panelA.getByRole('alert').filter({ hasText: `${bob} declined the call.` }).waitFor()
    assert.equal(await panelA.getByRole('status').innerText(), `The call to ${bob} did not go through.`)
    await waitUntil('no call left', () => a.node.calls.list().length === 0 && b.node.calls.list().length === 0)
    await panelA.getByRole('button', { name: 'Close' }).click()
    await panelA.waitFor({ state: 'detached' })

    // busy: bob's node is in a call with a third node; alice's call is refused
    const c = await webNode(t, { name: 'carol' })
    await c.node.joinGroup({ invite: a.node.invite('team') })
    await c.node.dial(b.node.addresses[0])
    await waitUntil('carol in the mesh', () => c.node.groupPeers('team').length >= 1 && b.node.groupPeers('team').includes(c.node.peerId))
    const answered = c.node.calls.answer({ input: 'none', output: 'none', timeout: 20_000 })
    answered.catch(() => undefined)
    const busyCall = await b.node.calls.call(c.node.peerId, { input: 'none', output: 'none' })
    await answered
    await callFromMembers(pa.page, 'bob', false)
    await panelA.getByRole('alert').filter({ hasText: `${bob} is busy in another call.` }).waitFor()
    await busyCall.hangup()
    await waitUntil('no call left', () => a.node.calls.list().length === 0 && b.node.calls.list().length === 0)

    // a browser that has no microphone (no fake devices), and one that has one but does not allow the page to use it:
    // a clear error, no call rings
    for (const [label, fakeMedia, expected] of [['no-mic', false, /^No microphone was found/], ['mic-refused', 'refused', /^The browser refused the microphone/]] as const) {
      const browser = await launch(t, { fakeMedia })
      const pc = await openApp(t, browser, a, `alice-${label}`)
      await pc.page.locator('li.msg', { hasText: 'hello from bob' }).waitFor()
      await callFromMembers(pc.page, 'bob', false)
      const error = pc.page.getByRole('region', { name: /^Call with bob/ }).getByRole('alert')
      await error.waitFor()
      t.diagnostic(`${label}: ${await error.innerText()}`)
      assert.match(await error.innerText(), expected)
      await screenshot(pc.page, `16-call-${label}`)
      assert.equal(b.node.calls.list().length, 0, 'nothing rang')
      assert.equal(a.node.calls.list().length, 0)
      assert.deepEqual(pc.errors, [], 'no console errors on the page')
    }
    assert.deepEqual([...pa.errors, ...pb.errors], [], 'no console errors on the pages')
  })

  it('a video call from a node without a page (the CLI\'s formats): the page plays its PCM, says it cannot show H.264; the node gets the page\'s PCM and JPEG', async (t) => {
    const { a, b, pa } = await pair(t)
    const bob = `bob ~${b.node.peerId.slice(-4)}`
    const sinks: Partial<Record<'audio' | 'video', CollectingSink>> = {}
    const calling = b.node.calls.call(a.node.peerId, {
      video: true,
      input: [await media.toneSource({ seconds: 30 }), await media.testPatternSource({ seconds: 30 })],
      output: (format) => (sinks[format.kind] = media.collectingSink({ live: true }))
    })
    calling.catch(() => undefined)
    const ring = pa.page.getByRole('alert').filter({ hasText: 'Incoming video call from' })
    await ring.getByRole('button', { name: 'Accept' }).click()
    const call = await calling
    const panel = pa.page.getByRole('region', { name: /^Call with bob/ })
    await panel.getByRole('status').filter({ hasText: `In a video call with ${bob}` }).waitFor()
    await panel.getByText(/H\.264 video .* which this page cannot show; its voice plays/).waitFor()
    await waitUntil('the page\'s audio and pictures at the node', () => (sinks.audio?.chunks.length ?? 0) > 50 && (sinks.video?.chunks.length ?? 0) > 5)
    assert.deepEqual(call.remoteFormats.map(f => `${f.kind}:${f.codec}`), ['audio:pcm_s16le', 'video:jpeg'])
    assert.ok(sinks.audio?.chunks.every(c => c.byteLength === 1920), '20 ms of 48 kHz s16le mono a frame')
    assert.ok(sinks.video?.chunks.every(c => c[0] === 0xff && c[1] === 0xd8), 'one JPEG picture a frame')
    await waitUntil('the tone at the page', async () => ((await links(a))[0]?.toBrowser.audioPeakDb ?? -Infinity) > -10 && (await probe(pa.page)).playOnsets.length > 0)
    await screenshot(pa.page, '17-in-call-with-a-cli-peer')
    await call.hangup()
    await panel.getByRole('status').filter({ hasText: `Call ended: ${bob} hung up.` }).waitFor()
    assert.deepEqual(pa.errors, [], 'no console errors on the page')
  })

  it('the media socket: the gate\'s rules (Origin, cookie with page key, bearer); a page of another origin cannot open it', async (t) => {
    const w = await webNode(t, { name: 'victim' })
    await w.node.createGroup('team')
    const browser = await launch(t, { fakeMedia: true })
    const app = await openApp(t, browser, w, 'media-victim')
    const port = w.info.port
    const mediaUrl = `ws://127.0.0.1:${port}/v1/calls/media`
    const [cookie] = await app.context.cookies()
    const key = await app.page.evaluate(() => (globalThis as any).sessionStorage.getItem('p2p-chat-page-key') as string)
    const own = `http://127.0.0.1:${port}`
    const attempt = async (headers: Record<string, string>, protocols: string[]): Promise<string> => {
      const ws = new WebSocket(mediaUrl, protocols, { headers })
      return new Promise(resolve => {
        ws.once('message', (data: Buffer) => { resolve(`open: ${data.toString('utf8').slice(0, 20)}`); ws.close() })
        ws.once('unexpected-response', (_req, res) => { resolve(`HTTP ${res.statusCode ?? 0}`); ws.terminate() })
        ws.once('error', (err) => { resolve(`error ${err.message}`) })
      })
    }
    const withCookie = { cookie: `${cookie.name}=${cookie.value}` }
    assert.match(await attempt({ ...withCookie, origin: own }, ['p2p-chat-media', `key.${key}`]), /^open: \{"type":"ready"/, 'the page\'s own origin, cookie and key')
    assert.match(await attempt({ authorization: `Bearer ${w.info.token}` }, ['p2p-chat-media']), /^open/, 'a bearer client')
    assert.equal(await attempt({ ...withCookie, origin: 'http://evil.example' }, ['p2p-chat-media', `key.${key}`]), 'HTTP 401', 'a foreign Origin, even with cookie and key')
    assert.equal(await attempt({ ...withCookie, origin: 'http://127.0.0.1:1' }, ['p2p-chat-media', `key.${key}`]), 'HTTP 401', 'another port of 127.0.0.1')
    assert.equal(await attempt({ ...withCookie, origin: own }, ['p2p-chat-media']), 'HTTP 401', 'the cookie without the page key')
    assert.equal(await attempt({ ...withCookie, origin: own }, ['p2p-chat-media', `key.${'f'.repeat(64)}`]), 'HTTP 401', 'a wrong page key')
    assert.equal(await attempt({ ...withCookie, origin: own, host: 'evil.example' }, ['p2p-chat-media', `key.${key}`]), 'HTTP 401', 'a foreign Host')
    assert.equal(await attempt({ origin: own }, ['p2p-chat-media', `key.${key}`]), 'HTTP 401', 'the key without the cookie')

    // a call request cannot use a link that does not exist, nor one in use
    const call = async (media: string): Promise<number> => (await fetch(`${w.url}/v1/calls`, { method: 'POST', headers: { authorization: `Bearer ${w.info.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ peer: w.node.peerId, media }) })).status
    assert.equal(await call('0'.repeat(32)), 404)
    assert.equal(await call('not-an-id'), 404)

    // a page on another port of 127.0.0.1 (the browser sends it the node's cookie: same site) tries the media socket
    const evil = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>evil</title>') })
    await new Promise<void>(resolve => evil.listen(0, '127.0.0.1', () => { resolve() }))
    defer(t, () => { evil.closeAllConnections(); evil.close() })
    const attacker = await app.context.newPage()
    await attacker.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`)
    const results = await attacker.evaluate(async ({ mediaUrl, key }) => {
      const open = async (protocols: string[]): Promise<string> => new Promise<string>((resolve) => {
        const ws = new WebSocket(mediaUrl, protocols)
        ws.onmessage = (e: { data: unknown }) => { resolve(`open, got ${String(e.data).slice(0, 40)}`); ws.close() }
        ws.onerror = () => { resolve('blocked') }
      })
      // the real page key (as if it had leaked): the Origin still keeps it out
      return { guessed: await open(['p2p-chat-media', `key.${'f'.repeat(64)}`]), leakedKey: await open(['p2p-chat-media', `key.${key}`]), none: await open(['p2p-chat-media']) }
    }, { mediaUrl, key })
    t.diagnostic(`media socket from another origin: ${JSON.stringify(results)}`)
    assert.deepEqual(results, { guessed: 'blocked', leakedKey: 'blocked', none: 'blocked' })
    await attacker.close()
    await waitUntil('every media link to close', async () => (await links(w)).length === 0)
    assert.deepEqual(app.errors, [], 'no console errors on the app page')
  })
})
