/**
 * Build step after tsc (`npm run build`, `prepare`, `pretest`): bundles the
 * compiled CLI (dist/src/cli/main.js and everything it imports, packages
 * included) into one ES module, dist/bundle/p2p-chat.mjs, with a source map
 * that leads back to the TypeScript sources (through tsc's own maps).
 *
 * Why: start-up. Unbundled, `p2p-chat start` resolves, reads and compiles
 * about 700 files before the node can start (issue 16); one file is resolved
 * once and compiled in one go (and cached: bin/p2p-chat.js turns on Node's
 * compile cache). bin/p2p-chat.js loads the bundle when it is present and not
 * older than the tsc output, else dist/src/cli/main.js.
 *
 * Kept out of the bundle, loaded from node_modules as usual:
 * - classic-level (a native addon: node-gyp-build finds its prebuilt binary
 *   beside its own files) and the optional native helpers of ws;
 * Beside the bundle:
 * - the backup verification worker (src/backup/verify-pool.ts starts
 *   `./verify-worker.js` next to itself as a worker thread): bundled to
 *   dist/bundle/verify-worker.js.
 * The web app's files (src/web/app) are read from the package at run time,
 * as when unbundled.
 *
 *   node dist/scripts/bundle.js
 */
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { builtinModules } from 'node:module'
import { build } from 'esbuild'
import type { Plugin } from 'esbuild'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const OUT = join(ROOT, 'dist', 'bundle')

/**
 * Bundled CommonJS packages call `require` for Node's built-ins, which an ES
 * module does not have: give the bundle one.
 */
const banner = "import { createRequire as __p2pChatCreateRequire } from 'node:module'; const require = __p2pChatCreateRequire(import.meta.url);"

/**
 * Node's built-in modules through `require`, not `import`: an ES import of a
 * built-in makes Node build its ES module facade, which reads every export,
 * and some exports are lazy getters (node:http's WebSocket loads all of
 * undici, about 75 ms). `require` reads an export only when the code uses it.
 */
const builtinsByRequire: Plugin = {
  name: 'builtins-by-require',
  setup (b) {
    const names = new Set(builtinModules)
    b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, args => {
      const bare = args.path.replace(/^node:/, '')
      if (!names.has(bare) && !args.path.startsWith('node:')) return undefined
      // the require() in the stand-in below: Node's own module
      if (args.namespace === 'builtin-by-require') return { path: args.path, external: true }
      return { path: args.path.startsWith('node:') ? args.path : `node:${bare}`, namespace: 'builtin-by-require' }
    })
    b.onLoad({ filter: /.*/, namespace: 'builtin-by-require' }, args => ({
      contents: `module.exports = require(${JSON.stringify(args.path)})`,
      loader: 'js'
    }))
  }
}

/**
 * A package that reads its own package.json through `createRequire(import.meta.url)`
 * would read ours from inside the bundle: give it its own, inlined.
 * (@achingbrain/ssdp, under @libp2p/upnp-nat, puts its name and version in its SSDP headers.)
 */
const ownPackageJson: Plugin = {
  name: 'own-package-json',
  setup (b) {
    b.onLoad({ filter: /[\\/]@achingbrain[\\/]ssdp[\\/]dist[\\/]src[\\/]ssdp\.js$/ }, async args => {
      const source = await readFile(args.path, 'utf8')
      const pkg = JSON.parse(await readFile(join(args.path, '..', '..', '..', 'package.json'), 'utf8')) as { name: string, version: string }
      const call = "req('../../package.json')"
      if (!source.includes(call)) throw new Error(`${args.path}: no ${call} any more: check scripts/bundle.ts`)
      return { contents: source.replace(call, JSON.stringify({ name: pkg.name, version: pkg.version })), loader: 'js' }
    })
  }
}

async function main (): Promise<void> {
  const started = process.hrtime.bigint()
  const entries = {
    'p2p-chat': join(ROOT, 'dist', 'src', 'cli', 'main.js'),
    'verify-worker': join(ROOT, 'dist', 'src', 'backup', 'verify-worker.js'),
    'signature-worker': join(ROOT, 'dist', 'src', 'envelope', 'signature-worker.js')
  }
  for (const file of Object.values(entries)) await stat(file) // run tsc first: a clear error, not esbuild's
  const common = {
    bundle: true,
    platform: 'node' as const,
    format: 'esm' as const,
    target: 'node22',
    sourcemap: 'linked' as const,
    // classic-level: native addon; bufferutil/utf-8-validate: optional native helpers ws looks for
    external: ['classic-level', 'bufferutil', 'utf-8-validate'],
    banner: { js: banner },
    plugins: [builtinsByRequire, ownPackageJson],
    logLevel: 'warning' as const,
    legalComments: 'none' as const,
    minifyWhitespace: true,
    minifySyntax: true
  }
  await Promise.all([
    build({ ...common, entryPoints: { 'p2p-chat': entries['p2p-chat'] }, outdir: OUT, outExtension: { '.js': '.mjs' } }),
    // the workers keep the names verify-pool.ts and signatures.ts ask for, next to the bundle that contains them
    build({ ...common, entryPoints: { 'verify-worker': entries['verify-worker'] }, outdir: OUT }),
    build({ ...common, entryPoints: { 'signature-worker': entries['signature-worker'] }, outdir: OUT })
  ])
  const size = (await stat(join(OUT, 'p2p-chat.mjs'))).size
  process.stderr.write(`bundle: dist/bundle/p2p-chat.mjs (${(size / 1024 / 1024).toFixed(1)} MiB), verify-worker.js and signature-worker.js in ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(0)} ms\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`bundle: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
