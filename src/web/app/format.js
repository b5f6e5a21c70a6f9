// Names, times and days as the page shows them; total: a value it cannot show is shown as such.

/** The end of a peer id: who a self-chosen name really is */
export const suffix = (peerId) => typeof peerId === 'string' ? peerId.slice(-4) : '????'

export const shortId = (peerId) => peerId.length > 16 ? `${peerId.slice(0, 6)}…${peerId.slice(-6)}` : peerId

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' })
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' })

const valid = (ms) => Number.isFinite(ms) && Math.abs(ms) <= 8.64e15

export const timeOf = (ms) => valid(ms) ? timeFormat.format(ms) : '(bad time)'
export const fullTime = (ms) => valid(ms) ? fullFormat.format(ms) : '(bad time)'
export const isoTime = (ms) => valid(ms) ? new Date(ms).toISOString() : undefined

/** A local calendar day, as a key for day separators */
export const dayKey = (ms) => {
  if (!valid(ms)) return 'bad'
  const d = new Date(ms)
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`
}

export const dayLabel = (ms) => {
  if (!valid(ms)) return 'Unknown day'
  const today = dayKey(Date.now())
  if (dayKey(ms) === today) return 'Today'
  if (dayKey(ms) === dayKey(Date.now() - 86_400_000)) return 'Yesterday'
  return dayFormat.format(ms)
}

export const ago = (ms) => {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.round(s / 60)} min ago`
  return `${Math.round(s / 3600)} h ago`
}
