// The page's side of issue 15 in a real browser (Debian's chromium through
// playwright-core): a managed group made on the page, its revocable invite
// (terms, a new one), a joiner admitted by it, roles in Members, and the
// admin removing a member from there; the second use of a one-use invite
// fails for the joiner's page with the node's clear message.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { launch, openApp, screenshot, webNode } from './web-helpers.js'
import { waitUntil } from './helpers.js'

describe('web page: membership (issue 15)', () => {
  it('create managed, revocable invite, join, roles, promote, remove; a used invite is refused on the page', async (t) => {
    const [a, b, c] = await Promise.all([webNode(t, { name: 'alice' }), webNode(t, { name: 'bob' }), webNode(t, { name: 'carol' })])
    const browser = await launch(t)
    const pa = await openApp(t, browser, a, 'alice')
    const pb = await openApp(t, browser, b, 'bob')
    const pc = await openApp(t, browser, c, 'carol')

    await pa.page.getByRole('button', { name: 'New', exact: true }).click()
    await pa.page.getByLabel(/Topic id/).fill('crew')
    await pa.page.getByLabel(/Managed/).check()
    await pa.page.getByRole('button', { name: 'Create' }).click()
    const inviteBox = pa.page.getByLabel('Invite', { exact: true })
    await waitUntil('the invite text', async () => (await inviteBox.inputValue()).length > 0)
    const first = await inviteBox.inputValue()
    assert.match(first, /^p2pchat2/)
    await pa.page.getByText(/admits one person/).waitFor()
    // a new invite with other terms replaces it
    await pa.page.getByLabel('Uses').selectOption('5')
    await pa.page.getByRole('button', { name: 'New invite' }).click()
    await pa.page.getByText(/admits 5 people/).waitFor()
    assert.notEqual(await inviteBox.inputValue(), first)
    await screenshot(pa.page, 'm1-revocable-invite')
    await pa.page.keyboard.press('Escape')

    // bob joins with the first (one-use) invite; carol's page then gets the node's refusal
    await pb.page.getByRole('button', { name: 'Join', exact: true }).click()
    await pb.page.getByLabel(/^Invite/).fill(first)
    await pb.page.getByRole('dialog').getByRole('button', { name: 'Join' }).click()
    await pb.page.getByRole('heading', { name: 'crew' }).waitFor()
    await pc.page.getByRole('button', { name: 'Join', exact: true }).click()
    await pc.page.getByLabel(/^Invite/).fill(first)
    await pc.page.getByRole('dialog').getByRole('button', { name: 'Join' }).click()
    await pc.page.getByText(/used already/).waitFor()
    assert.equal(c.node.groups().length, 0)
    await screenshot(pc.page, 'm2-invite-used')

    // alice's Members: bob as a member; she makes him an admin, then removes him
    await waitUntil('alice to list bob', () => a.node.membership('crew').members.length === 2)
    await pa.page.getByRole('button', { name: 'Members' }).click()
    const dialog = pa.page.getByRole('dialog')
    const bob = dialog.locator('li', { hasText: b.node.peerId.slice(-4) })
    await bob.getByText('member', { exact: true }).waitFor()
    await dialog.locator('li', { hasText: '(you)' }).getByText('admin', { exact: true }).waitFor()
    await bob.getByRole('button', { name: /Make .* an admin/ }).click()
    await bob.getByText('admin', { exact: true }).waitFor()
    await screenshot(pa.page, 'm3-members-roles')
    await bob.getByRole('button', { name: /Remove .* from the group/ }).click()
    await bob.getByText('removed', { exact: true }).waitFor()
    await dialog.getByText(/Key epoch 1/).waitFor()
    // a group op is no message: nothing unread on alice's side (bob wrote nothing)
    assert.equal((await a.node.unread('crew')).unread, 0)
    assert.equal(a.node.membership('crew').removed.length, 1)
    await waitUntil('alice on epoch 1', () => a.node.sealingEpoch('crew') === 1)
    // bob's page: a member (not an admin) of a group with a log cannot invite
    await waitUntil('bob to learn of his removal', () => b.node.membership('crew').removed.length === 1)
    await pb.page.getByRole('button', { name: 'Invite' }).click()
    await pb.page.getByText(/Only an admin of this group can invite/).waitFor()
    // carol's refused join is a 403 the browser logs as a failed load: expected, nothing else is
    assert.deepEqual([...pa.errors, ...pb.errors, ...pc.errors].filter(e => !/Failed to load resource: the server responded with a status of 403/.test(e)), [])
  })
})
