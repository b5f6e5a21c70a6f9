import cliProgress from 'cli-progress'

export interface Progress {
  update: (done: number, total?: number) => void
  stop: () => void
}

/** A progress bar on stderr when it is a terminal (and output is not --json); silent otherwise. */
export function progressBar (label: string, opts: { json?: boolean } = {}): Progress {
  if (opts.json === true || !process.stderr.isTTY) return { update: () => {}, stop: () => {} }
  const bar = new cliProgress.SingleBar({
    format: `${label} [{bar}] {percentage}% | {value}/{total} records | {eta_formatted} left`,
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true
  }, cliProgress.Presets.shades_classic)
  let started = false
  return {
    update: (done, total) => {
      const t = Math.max(total ?? done, done, 1)
      if (!started) { bar.start(t, done); started = true } else { bar.setTotal(t); bar.update(done) }
    },
    stop: () => { if (started) bar.stop() }
  }
}
