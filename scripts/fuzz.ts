/**
 * The long fuzz run: every target of test/fuzz-props.ts with many cases,
 * the local API against a real node. Prints each target's cases, seed and
 * time; exits non-zero on the first counterexample (fast-check prints the
 * seed and path to replay it).
 *
 *   node dist/scripts/fuzz.js [--runs N] [--api-runs N] [--seed S] [--only substring]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ApiServer } from '../src/api/index.js'
import { ChatNode } from '../src/index.js'
import { fuzzTargets, newSeed } from '../test/fuzz-props.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '50000' },
    'api-runs': { type: 'string', default: '5000' },
    seed: { type: 'string' },
    only: { type: 'string' }
  }
})

async function main (): Promise<number> {
  const runs = Number(values.runs)
  const apiRuns = Number(values['api-runs'])
  const dataDir = await mkdtemp(join(tmpdir(), 'p2p-chat-fuzz-'))
  const node = new ChatNode({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
  let api: ApiServer | undefined
  let failed = 0
  try {
    await node.start()
    await node.createGroup('fuzz-api')
    api = new ApiServer(node)
    const info = await api.start()
    const statuses = new Map<number, number>()
    for (const target of fuzzTargets({ url: info.url, token: info.token, topicId: 'fuzz-api', statuses })) {
      if (values.only != null && !target.name.includes(values.only)) continue
      const n = target.name.startsWith('local API') ? apiRuns : runs
      const seed = values.seed != null ? Number(values.seed) : newSeed()
      const started = Date.now()
      try {
        await target.run(n, seed)
        process.stdout.write(`ok    ${target.name}: ${n} cases, seed ${seed}, ${Date.now() - started} ms\n`)
      } catch (err: any) {
        failed++
        process.stdout.write(`FAIL  ${target.name}: seed ${seed}\n${err.message}\n`)
      }
    }
    if (statuses.size > 0) process.stdout.write(`API answers: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, k]) => `${s}×${k}`).join(' ')}\n`)
    const res = await fetch(`${info.url}/v1/status`, { headers: { authorization: `Bearer ${info.token}` } })
    if (res.status !== 200) {
      failed++
      process.stdout.write(`FAIL  the node no longer answers after fuzzing: HTTP ${res.status}\n`)
    }
  } finally {
    await api?.stop()
    await node.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
  process.stdout.write(failed === 0 ? 'fuzz: every target passed\n' : `fuzz: ${failed} target(s) failed\n`)
  return failed === 0 ? 0 : 1
}

process.exitCode = await main()
