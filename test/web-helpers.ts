// Helpers of the browser tests (test/web-*.test.ts): nodes with their API, and
// Debian's chromium driven by playwright-core. Everything started here is
// stopped by t.after, pass or fail.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { ApiServer } from '../src/api/index.js'
import { startNode } from './helpers.js'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import type { ChatNode, ChatNodeInit } from '../src/index.js'
import type { ApiInfo } from '../src/api/index.js'
import type { TestContext } from 'node:test'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Where the screenshots go (ignored by git) */
export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'web')

export interface WebNode { node: ChatNode, api: ApiServer, info: ApiInfo, url: string }

/** A node on 127.0.0.1 with its local API (and so the web page); both stopped when the test ends */
export async function webNode (t: TestContext, init: Partial<ChatNodeInit> = {}): Promise<WebNode> {
  const node = await startNode(t, init)
  const api = new ApiServer(node)
  t.after(async () => { await api.stop() })
  const info = await api.start()
  return { node, api, info, url: info.url }
}

/** A one-time login URL, as `p2p-chat open` gets it */
export async function loginUrl (w: WebNode): Promise<string> {
  const res = await fetch(`${w.url}/v1/web/login`, { method: 'POST', headers: { authorization: `Bearer ${w.info.token}` } })
  if (res.status !== 201) throw new Error(`login URL: HTTP ${res.status}`)
  return ((await res.json()) as { url: string }).url
}

const closing = new WeakMap<Browser, Array<() => Promise<void>>>()

/** chromium's stand-ins for a microphone (a beep every 500 ms) and a camera (a test pattern) */
const FAKE_DEVICES = '--use-fake-device-for-media-stream'
/** ...and every page's request for them granted without asking */
const GRANT_MEDIA = '--use-fake-ui-for-media-stream'

/**
 * Debian's chromium, headless, with a fresh profile (playwright makes a temp
 * --user-data-dir); closed when the test ends. `fakeMedia`: a fake
 * microphone and camera (calls from the page), granted to every page, or
 * 'refused' (there, but the pages are not allowed them); without it the
 * browser has none.
 */
export async function launch (t: TestContext, opts: { fakeMedia?: boolean | 'refused' } = {}): Promise<Browser> {
  const media = opts.fakeMedia === true ? [FAKE_DEVICES, GRANT_MEDIA] : opts.fakeMedia === 'refused' ? [FAKE_DEVICES] : []
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', ...media]
  })
  const hooks: Array<() => Promise<void>> = []
  closing.set(browser, hooks)
  // t.after hooks run in the order they were added: the pages' hooks run here, before the browser goes
  t.after(async () => {
    for (const hook of hooks) await hook().catch(() => undefined)
    await browser.close()
  })
  return browser
}

/** Console errors and page errors of a page: the tests expect none on the app's pages */
export function watchConsole (page: Page, label: string): string[] {
  const errors: string[] = []
  page.on('console', m => { if (m.type() === 'error') errors.push(`${label}: ${m.text()}`) })
  page.on('pageerror', e => { errors.push(`${label}: uncaught ${e.message}`) })
  return errors
}

export interface AppPage { context: BrowserContext, page: Page, errors: string[] }

/** A new browser context (own cookies) logged into the node's page through a fresh login URL */
export async function openApp (_t: TestContext, browser: Browser, w: WebNode, label: string, opts: { width?: number, height?: number, dark?: boolean } = {}): Promise<AppPage> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1100, height: opts.height ?? 720 }, colorScheme: opts.dark === true ? 'dark' : 'light' })
  const page = await context.newPage()
  closing.get(browser)?.push(async () => {
    // the last screen of every page, for a failure's post-mortem
    await screenshot(page, `last-${label}`).catch(() => undefined)
    await context.close()
  })
  const errors = watchConsole(page, label)
  await page.goto(await loginUrl(w))
  await page.getByRole('navigation', { name: 'Groups' }).waitFor()
  return { context, page, errors }
}

export async function screenshot (page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true })
  const path = join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path })
  return path
}

/** Send `n` messages from a node, a few hundred at a time (the outbox writes them in group commits) */
export async function seed (node: ChatNode, topicId: string, n: number, text = (i: number) => `message ${i}`): Promise<void> {
  for (let i = 0; i < n; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, n - i) }, async (_, j) => node.send(topicId, text(i + j))))
  }
}

/** Scroll the conversation to its top until the start of history shows; resolves the messages shown */
export async function scrollToStart (page: Page): Promise<number> {
  const list = page.locator('ol.messages')
  const edge = page.locator('.history-edge')
  for (let i = 0; i < 1000; i++) {
    if ((await edge.textContent()) === 'Start of the conversation') break
    const before = await page.locator('li.msg').count()
    await list.evaluate((el) => { el.scrollTop = 0 })
    await page.waitForFunction((n) => {
      const doc = (globalThis as any).document
      return doc.querySelectorAll('li.msg').length > n || doc.querySelector('.history-edge')?.textContent === 'Start of the conversation'
    }, before)
  }
  return page.locator('li.msg').count()
}
