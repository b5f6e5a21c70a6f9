import { printable, time } from './output.js'
import type { SearchResult } from '../chat/search.js'

/**
 * Search results for people, newest first: group, time, author, the snippet
 * and where the message is in history (the history command that shows it
 * with what came before it; `/history` in the terminal has no cursor).
 */
export function formatSearchResults (results: SearchResult[], opts: { color?: boolean, terminal?: boolean } = {}): string {
  if (results.length === 0) return 'no messages found'
  return results.map(r => {
    const who = r.own ? `${printable(r.name)} (you)` : `${printable(r.name)}~${r.author.slice(-4)}`
    const text = printable(r.snippet) + (r.edited === true ? '  (edited)' : '')
    const head = `[${r.topicId}] ${time(r.timestamp)} <${who}> `
    const where = opts.terminal === true
      ? `  #${r.id.slice(0, 8)}, cursor ${r.cursor}`
      : `  p2p-chat history ${r.topicId} --before ${r.historyBefore} --limit 5`
    return `${head}${opts.color === true ? `\x1b[1m${text}\x1b[0m` : text}\n${where}`
  }).join('\n')
}
