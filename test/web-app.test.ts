// The web page in a real browser (Debian's chromium through playwright-core):
// two nodes, two pages; create, invite, join, messages both ways, scrolling
// back through history, leave and rejoin, the main screens as screenshots
// (test-artifacts/web/), and the figures of the note.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ARTIFACTS, launch, openApp, screenshot, scrollToStart, seed, webNode } from './web-helpers.js'
import { waitUntil } from './helpers.js'
import type { Page } from 'playwright-core'

async function send (page: Page, text: string): Promise<void> {
  const box = page.getByLabel('Message', { exact: true })
  await box.click()
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (i > 0) await box.press('Shift+Enter')
    await box.pressSequentially(lines[i])
  }
  await box.press('Enter')
}

describe('web page', () => {
  it('two nodes, two pages: create, join by invite, messages both ways, 500 back, leave and rejoin', async (t) => {
    const [a, b] = await Promise.all([webNode(t, { name: 'alice' }), webNode(t, { name: 'bob' })])
    const browser = await launch(t)
    const pa = await openApp(t, browser, a, 'alice')
    const pb = await openApp(t, browser, b, 'bob', { dark: true })

    // the login token is gone from the address bar, the history and the page's storage
    for (const p of [pa, pb]) {
      assert.equal(new URL(p.page.url()).hash, '')
      const stored = await p.page.evaluate(() => JSON.stringify((globalThis as any).sessionStorage) + JSON.stringify((globalThis as any).localStorage))
      assert.doesNotMatch(stored, /login/)
      const [cookie] = await p.context.cookies()
      assert.equal(cookie.httpOnly, true)
      assert.equal(cookie.sameSite, 'Strict')
    }
    await screenshot(pa.page, '01-empty')

    // alice creates a group: its invite and QR code show at once
    await pa.page.getByRole('button', { name: 'New', exact: true }).click()
    await pa.page.getByLabel(/Topic id/).fill('team')
    await pa.page.getByLabel(/Name/).fill('The team')
    await pa.page.getByRole('button', { name: 'Create' }).click()
    const inviteBox = pa.page.getByLabel('Invite', { exact: true })
    await inviteBox.waitFor()
    await waitUntil('the invite text', async () => (await inviteBox.inputValue()).length > 0)
    const invite = await inviteBox.inputValue()
    assert.match(invite, /^p2pchat1/)
    await pa.page.getByRole('img', { name: /QR code of the invite/ }).waitFor()
    await screenshot(pa.page, '02-invite-qr')
    await pa.page.getByRole('button', { name: 'Copy invite' }).click()
    await pa.page.getByText('Copied to the clipboard').waitFor()
    await pa.page.keyboard.press('Escape')

    // bob joins by the invite
    await pb.page.getByRole('button', { name: 'Join', exact: true }).click()
    await pb.page.getByLabel(/^Invite/).fill(invite)
    await pb.page.getByRole('dialog').getByRole('button', { name: 'Join' }).click()
    await pb.page.getByRole('heading', { name: 'The team' }).waitFor()
    await waitUntil('both nodes to see each other on the group', () => a.node.groupPeers('team').length === 1 && b.node.groupPeers('team').length === 1)

    // messages both ways: Enter sends, Shift+Enter is a new line
    await send(pa.page, 'hello bob')
    await pb.page.locator('li.msg', { hasText: 'hello bob' }).waitFor()
    await send(pb.page, 'hi alice\nsecond line')
    const got = pa.page.locator('li.msg', { hasText: 'hi alice' })
    await got.waitFor()
    // its text as written, the line break kept (textContent: not the rendered text, which is empty while the list lays out)
    assert.equal(await got.locator('.text').textContent(), 'hi alice\nsecond line')
    assert.match(await got.locator('.meta').innerText(), new RegExp(`bob ~${b.node.peerId.slice(-4)}`))
    assert.equal(await pa.page.locator('li.msg.own', { hasText: 'hello bob' }).count(), 1, 'own messages are marked')
    await pa.page.getByRole('separator', { name: 'Today' }).first().waitFor()
    await screenshot(pa.page, '03-conversation')
    await screenshot(pb.page, '03-conversation-dark')

    // unread counts: a second group on alice's side, bob writes in team
    await pa.page.getByRole('button', { name: 'New', exact: true }).click()
    await pa.page.getByLabel(/Topic id/).fill('other')
    await pa.page.getByRole('button', { name: 'Create' }).click()
    await pa.page.getByRole('heading', { name: 'Invite to other' }).waitFor()
    await pa.page.keyboard.press('Escape')
    await pa.page.getByRole('heading', { name: 'other', exact: true }).waitFor()
    await send(pb.page, 'are you there?')
    await pa.page.getByRole('button', { name: /The team, 1 unread/ }).waitFor()
    await screenshot(pa.page, '04-unread')
    await pa.page.getByRole('button', { name: /The team/ }).click()
    await pa.page.locator('li.msg', { hasText: 'are you there?' }).waitFor()

    // members with presence, and the node's status
    await pa.page.getByRole('button', { name: 'Members' }).click()
    const member = pa.page.getByRole('dialog').locator('li', { hasText: `~${b.node.peerId.slice(-4)}` })
    await member.getByText('connected directly').waitFor()
    await screenshot(pa.page, '05-members')
    await pa.page.keyboard.press('Escape')
    await pa.page.getByRole('button', { name: /^Node status/ }).click()
    await pa.page.getByRole('heading', { name: /Connected peers \(1\)/ }).waitFor()
    await screenshot(pa.page, '06-status')
    await pa.page.keyboard.press('Escape')

    // 500 messages from alice's node: live on bob's page, then back through them from a reload
    await seed(a.node, 'team', 500, i => `bulk ${i}`)
    await pb.page.locator('li.msg', { hasText: 'bulk 499' }).waitFor({ timeout: 60_000 })
    await pb.page.reload() // the session survives a reload (the page key is in this tab's sessionStorage)
    await pb.page.getByRole('button', { name: /The team/ }).click()
    await pb.page.locator('li.msg', { hasText: 'bulk 499' }).waitFor()
    const initial = await pb.page.locator('li.msg').count()
    assert.ok(initial < 503, `the first screen loads one page, not all history (${initial})`)
    const shown = await scrollToStart(pb.page)
    assert.equal(shown, 503)
    await pb.page.locator('li.msg', { hasText: 'bulk 0' }).first().waitFor()
    assert.equal(await pb.page.locator('li.msg', { hasText: 'hello bob' }).count(), 1)
    await pb.page.locator('ol.messages').evaluate((el) => { el.scrollTop = 0 })
    await screenshot(pb.page, '07-history-start')

    // bob leaves, then rejoins with the same invite: the history is back, messages flow again
    await pb.page.getByRole('button', { name: 'Leave' }).click()
    await pb.page.getByRole('button', { name: 'Leave the group' }).click()
    await waitUntil('bob to have left', () => b.node.groups().length === 0)
    await pb.page.getByText('No groups yet').waitFor()
    await pb.page.getByRole('button', { name: 'Join', exact: true }).click()
    await pb.page.getByLabel(/^Invite/).fill(invite)
    await pb.page.getByRole('dialog').getByRole('button', { name: 'Join' }).click()
    await pb.page.getByRole('heading', { name: 'The team' }).waitFor()
    await pb.page.locator('li.msg', { hasText: 'bulk 499' }).waitFor()
    await waitUntil('the group mesh again', () => a.node.groupPeers('team').length === 1)
    await send(pb.page, 'back again')
    await pa.page.locator('li.msg', { hasText: 'back again' }).waitFor()
    await send(pa.page, 'welcome back')
    await pb.page.locator('li.msg', { hasText: 'welcome back' }).waitFor()

    // a narrow window: the group list, then the conversation with a way back
    await pb.page.setViewportSize({ width: 380, height: 720 })
    await pb.page.getByRole('button', { name: 'Back to the groups' }).click()
    await pb.page.getByRole('button', { name: /The team/ }).waitFor()
    await screenshot(pb.page, '08-narrow-list')
    await pb.page.getByRole('button', { name: /The team/ }).click()
    await pb.page.locator('li.msg', { hasText: 'welcome back' }).waitFor()
    await screenshot(pb.page, '09-narrow-conversation')

    // keyboard only: Tab reaches the group list and the composer
    const focused = async (): Promise<string> => pa.page.evaluate(() => {
      const el = (globalThis as any).document.activeElement
      return `${el?.tagName as string}:${((el?.getAttribute('aria-label') ?? el?.textContent ?? '') as string).slice(0, 60)}`
    })
    await pa.page.getByRole('button', { name: /^Node status/ }).focus()
    await pa.page.keyboard.press('Shift+Tab')
    assert.equal(await focused(), 'A:Skip to the message box', 'the first stop of Tab: a skip link')
    await pa.page.keyboard.press('Enter')
    assert.equal(await focused(), 'TEXTAREA:')
    await pa.page.keyboard.press('Shift+Tab')
    // the list itself, or (since messages have reply/react/edit/delete buttons) the last of those inside it
    const inList = await pa.page.evaluate(() => {
      const el = (globalThis as any).document.activeElement
      const list = el?.closest?.('ol')
      return list != null ? `${list.tagName as string}:${(list.getAttribute('aria-label') ?? '') as string}` : ''
    })
    assert.match(inList, /^OL:Messages in The team/, 'the message list (its messages\' actions) is reachable by keyboard')

    t.diagnostic(`screenshots in ${ARTIFACTS}`)
    assert.deepEqual([...pa.errors, ...pb.errors], [], 'no console errors on the pages')
  })

  it('calls from the page: an incoming call rings and is declined; a call placed from the members list is hung up', async (t) => {
    const [a, b] = await Promise.all([webNode(t, { name: 'alice' }), webNode(t, { name: 'bob' })])
    await a.node.createGroup('team')
    await b.node.joinGroup({ invite: a.node.invite('team') })
    await waitUntil('the group mesh', () => a.node.groupPeers('team').length === 1 && b.node.groupPeers('team').length === 1)
    await b.node.send('team', 'call me')
    const browser = await launch(t, { fakeMedia: true })
    const pa = await openApp(t, browser, a, 'alice')
    await pa.page.locator('li.msg', { hasText: 'call me' }).waitFor()

    // bob rings alice: the page shows it, alice rejects it from the page
    const ringing = b.node.calls.call(a.node.peerId, { input: 'none', output: 'none' })
    ringing.catch(() => undefined)
    const banner = pa.page.getByRole('alert').filter({ hasText: 'Incoming voice call from' })
    await banner.waitFor()
    assert.match(await banner.innerText(), new RegExp(`bob ~${b.node.peerId.slice(-4)}`))
    await screenshot(pa.page, '11-incoming-call')
    await banner.getByRole('button', { name: 'Decline' }).click()
    await assert.rejects(ringing, /declined|reject/i)
    await banner.waitFor({ state: 'detached' })

    // alice calls bob from the members list; it rings on bob's node, alice hangs up from the page
    const incoming = new Promise<void>(resolve => { b.node.once('call:incoming', () => { resolve() }) })
    await pa.page.getByRole('button', { name: 'Members' }).click()
    await pa.page.getByRole('button', { name: /^Voice call bob/ }).click()
    await incoming
    const outgoing = pa.page.getByRole('region', { name: /^Call with bob/ })
    await outgoing.getByRole('status').filter({ hasText: 'Calling' }).waitFor()
    await outgoing.getByRole('button', { name: 'Hang up' }).click()
    await waitUntil('the call to end on both nodes', () => a.node.calls.list().length === 0 && b.node.calls.list().length === 0)
    await outgoing.getByRole('status').filter({ hasText: 'Call cancelled' }).waitFor()
    assert.deepEqual(pa.errors, [], 'no console errors on the page')
  })

  it('figures: first screen with 1,000 messages of history; browser memory after scrolling back through 10,000', async (t) => {
    const w = await webNode(t, { name: 'carol', maxQueuedSends: 20_000 })
    await w.node.createGroup('thousand')
    await w.node.createGroup('big')
    await seed(w.node, 'thousand', 1000)
    await seed(w.node, 'big', 10_000)
    const browser = await launch(t)
    // page load to the first screen: a fresh browser context (cold cache) follows a login URL; the first group ('thousand') opens by itself
    const first = await openApp(t, browser, w, 'carol-first')
    await first.page.locator('li.msg', { hasText: 'message 999' }).waitFor()
    const sinceNavigation = await first.page.evaluate(() => Math.round((globalThis as any).performance.now() as number))
    const shownFirst = await first.page.locator('li.msg').count()
    t.diagnostic(`page load (navigation start) to the first screen of a group with 1,000 messages: ${sinceNavigation} ms (login, ${shownFirst} messages rendered of the first page)`)
    assert.deepEqual(first.errors, [])
    const app = await openApp(t, browser, w, 'carol')
    const { page } = app

    await page.getByRole('button', { name: /^big/ }).click()
    await page.locator('li.msg', { hasText: 'message 9999' }).waitFor()
    const t1 = Date.now()
    const shown = await scrollToStart(page)
    const scrollMs = Date.now() - t1
    assert.equal(shown, 10_000)
    await page.locator('li.msg', { hasText: 'message 0' }).first().waitFor()
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('HeapProfiler.collectGarbage')
    await cdp.send('Performance.enable')
    const { metrics } = await cdp.send('Performance.getMetrics')
    const metric = (name: string): number => metrics.find(m => m.name === name)?.value ?? NaN
    const mib = (n: number): string => (n / 1024 / 1024).toFixed(1)
    t.diagnostic(`scrolled back through 10,000 messages in ${scrollMs} ms; JSHeapUsedSize ${mib(metric('JSHeapUsedSize'))} MiB of ${mib(metric('JSHeapTotalSize'))} MiB, ${metric('Nodes')} DOM nodes`)
    await page.locator('ol.messages').evaluate((el) => { el.scrollTop = 0 })
    await screenshot(page, '10-ten-thousand-start')
    assert.deepEqual(app.errors, [], 'no console errors on the page')
  })
})
