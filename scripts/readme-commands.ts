/**
 * The README's command table, the interactive terminal's commands and the
 * exit codes, generated from the commander definitions (src/cli), so that
 * the README cannot drift from `--help`.
 *
 *   npm run readme            rewrite README.md between the markers
 *   npm run readme -- --check exit 1 when README.md is not up to date
 *
 * test/newuser-readme.test.ts runs the check in `npm test` (CI).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { buildProgram } from '../src/cli/main.js'
import { HELP } from '../src/cli/interactive.js'
import { EXIT_CODES_HELP } from '../src/cli/output.js'
import type { Command, Option } from 'commander'

/** Options every client command has: listed once under the table */
const COMMON = new Set(['--data-dir', '--json', '--wait', '--help'])

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')

function usageOf (cmd: Command): string {
  const args = cmd.registeredArguments.map(a => {
    const name = a.name() + (a.variadic ? '...' : '')
    return a.required ? `<${name}>` : `[${name}]`
  })
  return [cmd.name(), ...args].join(' ')
}

function optionText (o: Option): string {
  const flags = o.flags.replace(/^-\w, /, '')
  return o.mandatory ? flags : `[${flags}]`
}

/** The markdown table of every command: usage, options, description */
export function commandTable (program: Command = buildProgram()): string {
  const rows = ['| command | options | what it does |', '|---|---|---|']
  for (const cmd of program.commands) {
    const opts = cmd.options.filter(o => o.long == null || !COMMON.has(o.long) || cmd.name() === 'start').map(optionText)
    const common = cmd.options.filter(o => o.long != null && COMMON.has(o.long) && cmd.name() !== 'start').map(o => o.long)
    const note = common.length > 0 && common.length < 3 ? ` (${common.join(', ')})` : ''
    rows.push(`| \`${cell(usageOf(cmd))}\` | ${opts.map(o => `\`${cell(o)}\``).join(' ')}${cell(note)} | ${cell(cmd.description())} |`)
  }
  return rows.join('\n')
}

/** The terminal's /commands as a table, from its /help text */
export function terminalTable (): string {
  const rows = ['| in the terminal | what it does |', '|---|---|']
  const lines = HELP.split('\n').filter(l => /^ {2}\//.test(l))
  for (const l of lines) {
    const m = /^ {2}(\S.*?)\s{2,}(\S.*)$/.exec(l)
    if (m != null) rows.push(`| \`${cell(m[1])}\` | ${cell(m[2])} |`)
  }
  const tail = HELP.split('\n').filter(l => !/^ {2}/.test(l) && !/^commands:/.test(l)).join(' ')
  return `${rows.join('\n')}\n\n${tail[0].toUpperCase()}${tail.slice(1)}.`
}

export function exitCodeTable (): string {
  const rows = ['| exit code | meaning |', '|---|---|']
  for (const l of EXIT_CODES_HELP.split('\n')) {
    const m = /^ {2}(\S+)\s+(\S.*)$/.exec(l)
    if (m != null) rows.push(`| ${cell(m[1])} | ${cell(m[2])} |`)
  }
  return rows.join('\n')
}

export const BLOCKS: Record<string, () => string> = {
  commands: () => commandTable(),
  terminal: terminalTable,
  'exit-codes': exitCodeTable
}

/** README text with every generated block replaced */
export function render (readme: string): string {
  let out = readme
  for (const [name, make] of Object.entries(BLOCKS)) {
    const begin = `<!-- generated:${name} (npm run readme) -->`
    const end = `<!-- /generated:${name} -->`
    const i = out.indexOf(begin)
    const j = out.indexOf(end)
    if (i < 0 || j < i) throw new Error(`README.md has no ${begin} … ${end} block`)
    out = `${out.slice(0, i + begin.length)}\n${make()}\n${out.slice(j)}`
  }
  return out
}

export const README = fileURLToPath(new URL('../../README.md', import.meta.url))

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const current = readFileSync(README, 'utf8')
  const wanted = render(current)
  if (process.argv.includes('--check')) {
    if (current !== wanted) {
      process.stderr.write('README.md is out of date with the commander definitions: run "npm run readme"\n')
      process.exitCode = 1
    }
  } else if (current !== wanted) {
    writeFileSync(README, wanted)
    process.stdout.write('README.md updated\n')
  }
}
