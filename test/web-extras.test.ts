// The web page's files, unread counts and read markers, mentions, typing,
// search and message marks, in a real browser (Debian's chromium through
// playwright-core): two nodes, two pages; screenshots in test-artifacts/web/.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { crc32, deflateSync } from 'node:zlib'
import { launch, openApp, screenshot, seed, webNode } from './web-helpers.js'
import { tempDir, waitUntil } from './helpers.js'
import type { Page } from 'playwright-core'
import type { WebNode } from './web-helpers.js'

/** A request to a node's API with its bearer token (as the CLI makes them) */
async function call (w: WebNode, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${w.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${w.info.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined
  })
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`)
  return res.headers.get('content-type')?.includes('json') === true ? res.json() : Buffer.from(await res.arrayBuffer())
}

async function unreadOf (w: WebNode, topicId: string): Promise<{ unread: number, unreadMentions: number }> {
  const groups = await call(w, 'GET', '/v1/groups') as Array<{ topicId: string, unread: number, unreadMentions: number }>
  const g = groups.find(x => x.topicId === topicId)
  assert.ok(g != null, `group ${topicId} listed`)
  return g
}

/** A real PNG of w×h pixels (a colour gradient) */
function png (w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length)
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td))
    return Buffer.concat([len, td, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2
  const rows = Buffer.alloc((w * 3 + 1) * h)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3
      rows[o] = x * 255 / w; rows[o + 1] = y * 255 / h; rows[o + 2] = 160
    }
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))])
}

async function send (page: Page, text: string): Promise<void> {
  const box = page.getByLabel('Message', { exact: true })
  await box.click()
  await box.pressSequentially(text)
  await box.press('Enter')
}

describe('web page: files, unread and read markers, typing, search, marks', () => {
  it('two nodes, two pages', async (t) => {
    const dirB = await tempDir(t)
    const [a, b0] = await Promise.all([
      webNode(t, { name: 'alice', files: { maxFileSize: 2 * 1024 * 1024 } }),
      webNode(t, { name: 'bob', dataDir: dirB })
    ])
    let b = b0
    await a.node.createGroup('team')
    await a.node.createGroup('other')
    await b.node.joinGroup({ invite: a.node.invite('team') })
    await b.node.joinGroup({ invite: a.node.invite('other') })
    await waitUntil('the group mesh', () => a.node.groupPeers('team').length === 1 && b.node.groupPeers('team').length === 1 &&
      a.node.groupPeers('other').length === 1 && b.node.groupPeers('other').length === 1)

    // bob has written in team: alice's node knows the name @bob stands for
    await b.node.send('team', 'bob was here')
    await waitUntil('alice to hold bob\'s message', async () => (await call(a, 'GET', '/v1/groups/team/messages?limit=1')).messages.length === 1)
    const browser = await launch(t)
    const pa = await openApp(t, browser, a, 'alice')
    const pb = await openApp(t, browser, b, 'bob', { dark: true })

    // unread counts are the node's: bob reads another group while alice writes in team
    await pb.page.getByRole('button', { name: /^other/ }).click()
    await pb.page.getByRole('heading', { name: 'other', exact: true }).waitFor()
    await a.node.send('team', 'first words')
    await pb.page.getByRole('button', { name: /^team, 1 unread/ }).waitFor()
    assert.equal((await unreadOf(b, 'team')).unread, 1)

    // files: alice sends a text file and a PNG from the composer's file button
    await pa.page.getByRole('button', { name: /^team/ }).click()
    await pa.page.locator('li.msg', { hasText: 'first words' }).waitFor()
    const notes = randomBytes(300_000)
    const image = png(160, 90)
    await pa.page.locator('#composer-file').setInputFiles([
      { name: 'notes.bin', mimeType: 'application/octet-stream', buffer: notes },
      { name: 'gradient.png', mimeType: 'image/png', buffer: image }
    ])
    await pa.page.locator('li.msg', { hasText: 'notes.bin' }).waitFor()
    await pa.page.locator('li.msg', { hasText: 'gradient.png' }).getByRole('img', { name: 'Preview of gradient.png' }).waitFor()
    // a file past the node's largest: a clear error with the limit, nothing sent
    await pa.page.locator('#composer-file').setInputFiles([{ name: 'big.bin', mimeType: 'application/octet-stream', buffer: randomBytes(3 * 1024 * 1024) }])
    const tooBig = pa.page.getByRole('alert').filter({ hasText: 'big.bin is too large' })
    await tooBig.waitFor()
    assert.match(await tooBig.innerText(), /3\.0 MiB.*up to 2\.0 MiB/)
    await screenshot(pa.page, '20-files-sent')
    await pa.page.getByRole('button', { name: 'Dismiss the error about big.bin' }).click()

    // unread counts rise on bob's list while he reads another group
    await pb.page.getByRole('button', { name: /^team, 3 unread/ }).waitFor()
    await send(pa.page, 'are you there @bob')
    await pb.page.getByRole('button', { name: /^team, 4 unread, 1 mentioning you/ }).waitFor()
    const counted = await unreadOf(b, 'team')
    assert.equal(counted.unread, 4)
    assert.equal(counted.unreadMentions, 1)
    await screenshot(pb.page, '21-unread-mentions-dark')

    // bob opens the group: the page marks it read on his node
    await pb.page.getByRole('button', { name: /^team/ }).click()
    const mention = pb.page.locator('li.msg.mention', { hasText: 'are you there @bob' })
    await mention.waitFor()
    await waitUntil('bob\'s node to count the group read', async () => (await unreadOf(b, 'team')).unread === 0)
    assert.equal((await unreadOf(b, 'team')).unreadMentions, 0)
    await pb.page.getByRole('button', { name: /^team, 1 peers online/ }).waitFor()

    // bob downloads the file (fetched from alice's node with progress, then saved): the bytes are alice's
    const fileMsg = pb.page.locator('li.msg', { hasText: 'notes.bin' })
    await fileMsg.getByText('293 KiB').waitFor()
    const downloading = pb.page.waitForEvent('download')
    await fileMsg.getByRole('button', { name: 'Download notes.bin' }).click()
    const download = await downloading
    assert.equal(download.suggestedFilename(), 'notes.bin')
    assert.deepEqual(await readFile(await download.path()), notes, 'the browser saved alice\'s bytes')
    const id = (await call(b, 'GET', '/v1/groups/team/messages?limit=10')).messages.find((m: any) => m.file?.name === 'notes.bin').id as string
    assert.deepEqual(await call(b, 'GET', `/v1/files/${id}/content`), notes, 'bob\'s node holds alice\'s bytes')
    // the image is small: fetched and previewed by itself
    const preview = pb.page.locator('li.msg', { hasText: 'gradient.png' }).getByRole('img', { name: 'Preview of gradient.png' })
    await preview.waitFor()
    await waitUntil('the preview to decode', async () => (await preview.evaluate((img: any) => img.naturalWidth as number)) === 160)
    await screenshot(pb.page, '22-file-received-dark')

    // typing: alice types, bob sees it; her message ends it
    const box = pa.page.getByLabel('Message', { exact: true })
    await box.click()
    // slowly, for longer than 3 s: the node tells the group at most every 3 s, counting the send just before
    await box.pressSequentially('a needle in the haystack', { delay: 160 })
    const typingLine = pb.page.locator('.typing')
    await typingLine.getByText(`alice ~${a.node.peerId.slice(-4)} is typing…`).waitFor()
    await screenshot(pb.page, '23-typing-dark')
    await box.press('Enter')
    await pb.page.locator('li.msg', { hasText: 'a needle in the haystack' }).waitFor()
    await waitUntil('the typing line to clear', async () => (await typingLine.innerText()).trim() === '')

    // search: the needle is far back in history (500 messages after it); a result jumps to it
    await seed(a.node, 'team', 500, i => `hay ${i}`)
    await waitUntil('bob to hold the hay', async () => (await call(b, 'GET', '/v1/groups/team/messages?limit=1')).messages[0]?.text === 'hay 499', 60_000)
    await pb.page.reload()
    await pb.page.getByRole('navigation', { name: 'Groups' }).waitFor()
    await pb.page.getByRole('button', { name: /^team/ }).click()
    await pb.page.locator('li.msg', { hasText: 'hay 499' }).waitFor()
    assert.equal(await pb.page.locator('li.msg', { hasText: 'needle' }).count(), 0, 'the needle is not on the first page')
    await pb.page.getByRole('searchbox', { name: 'Search messages' }).fill('Needle haystack')
    await pb.page.getByRole('searchbox', { name: 'Search messages' }).press('Enter')
    const result = pb.page.getByRole('dialog').getByRole('button', { name: /a needle in the haystack/ })
    await result.waitFor()
    await screenshot(pb.page, '24-search-dark')
    await result.click()
    const found = pb.page.locator('li.msg.found', { hasText: 'a needle in the haystack' })
    await found.waitFor()
    await waitUntil('the message jumped to in view', async () => {
      const list = await pb.page.locator('ol.messages').boundingBox()
      const box = await found.boundingBox()
      return list != null && box != null && box.y >= list.y && box.y + box.height <= list.y + list.height
    })
    assert.equal(await pb.page.evaluate(() => (globalThis as any).document.activeElement?.textContent?.includes('needle')), true, 'focus on the message found')
    await screenshot(pb.page, '25-search-jumped-dark')

    // message marks (a late, misordered message of an author who signed two versions; a kind this version does not know), as the node lists them
    await a.node.createGroup('marks')
    await a.node.send('marks', 'late and misordered')
    await a.node.send('marks', 'from the future')
    await pa.page.route(/\/v1\/groups\/marks\/(messages|view)\?/, async (route) => {
      const res = await route.fetch()
      const page = await res.json()
      const [newer, older] = page.messages
      Object.assign(older, { arrivedLate: (older.timestamp as number) + 3 * 3600_000, misordered: true, conflict: true })
      Object.assign(newer, { kind: 'unsupported', kindNumber: 42, text: '' })
      await route.fulfill({ response: res, json: page })
    })
    await pa.page.getByRole('button', { name: /^marks/ }).click()
    const marked = pa.page.locator('li.msg', { hasText: 'late and misordered' })
    await marked.getByText('⚠ conflict: this author signed two versions of a message').waitFor()
    await marked.getByText('misordered', { exact: true }).waitFor()
    await marked.getByText(/^arrived late, /).waitFor()
    await pa.page.locator('li.msg', { hasText: 'Unsupported message' }).getByText('kind 42').waitFor()
    await screenshot(pa.page, '26-marks')

    // the one console line allowed: chromium logs the 413 this test provoked (any 4xx answer is logged as a failed load)
    const provoked = /^alice: Failed to load resource: the server responded with a status of 413/
    assert.equal(pa.errors.filter(e => provoked.test(e)).length, 1)
    assert.deepEqual([...pa.errors.filter(e => !provoked.test(e)), ...pb.errors], [], 'no console errors on the pages')

    // the read marker is the node's: it survives bob's node restarting
    await waitUntil('bob\'s node to count the group read after the hay', async () => (await unreadOf(b, 'team')).unread === 0)
    await pb.context.close()
    await b.api.stop()
    await b.node.stop()
    b = await webNode(t, { name: 'bob', dataDir: dirB })
    const after = await unreadOf(b, 'team')
    assert.equal(after.unread, 0, 'still read after a restart')
    assert.equal(after.unreadMentions, 0)
  })
})
