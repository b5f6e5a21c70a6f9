/* global AudioWorkletProcessor, registerProcessor, sampleRate -- the AudioWorklet's own scope */
// The audio of a call from the page, on the audio thread (AudioWorklet):
// 'p2p-capture' cuts the microphone into 20 ms frames of 16-bit PCM, mono (what
// the node sends as the call's audio track); 'p2p-playout' plays the peer's
// frames from a small buffer (it waits for `targetMs` before it starts and
// again after running dry, drops the oldest audio past `maxMs`, and when the
// buffer stayed above the target for a whole second, drops what it held too
// much: a burst of late frames does not leave the call delayed for good).
// Both report an "onset" (sound after silence) at once, for the latency figure,
// and a level (RMS, 0..1) about ten times a second.

const QUIET = 0.01
const LOUD = 0.05
/** blocks of 128 samples that must be quiet before a sound counts as an onset */
const QUIET_BLOCKS = 20

class Onsets {
  constructor () { this.quiet = 0 }
  /** true when this block is loud after enough quiet ones */
  block (rms) {
    if (rms < QUIET) { this.quiet++; return false }
    const onset = rms > LOUD && this.quiet >= QUIET_BLOCKS
    if (rms > LOUD) this.quiet = 0
    return onset
  }
}

function rmsOf (a, from = 0, to = a.length) {
  let s = 0
  for (let i = from; i < to; i++) s += a[i] * a[i]
  return to > from ? Math.sqrt(s / (to - from)) : 0
}

class Capture extends AudioWorkletProcessor {
  constructor (options) {
    super()
    this.frame = options.processorOptions.frameSamples
    this.buf = new Int16Array(this.frame)
    this.n = 0
    this.sum = 0
    this.onsets = new Onsets()
  }

  process (inputs) {
    const input = inputs[0]
    if (input == null || input.length === 0) return true
    const len = input[0].length
    const mono = new Float32Array(len)
    for (const ch of input) for (let i = 0; i < len; i++) mono[i] += ch[i] / input.length
    if (this.onsets.block(rmsOf(mono))) this.port.postMessage({ onset: true })
    for (let i = 0; i < len; i++) {
      const x = Math.max(-1, Math.min(1, mono[i]))
      this.sum += x * x
      this.buf[this.n++] = x < 0 ? Math.round(x * 0x8000) : Math.round(x * 0x7fff)
      if (this.n === this.frame) {
        const rms = Math.sqrt(this.sum / this.frame)
        this.port.postMessage({ pcm: this.buf.buffer, rms }, [this.buf.buffer])
        this.buf = new Int16Array(this.frame)
        this.n = 0
        this.sum = 0
      }
    }
    return true
  }
}

class Playout extends AudioWorkletProcessor {
  constructor (options) {
    super()
    const rate = sampleRate
    this.target = Math.round(rate * options.processorOptions.targetMs / 1000)
    this.max = Math.round(rate * options.processorOptions.maxMs / 1000)
    this.queue = []
    this.pos = 0
    this.buffered = 0
    this.playing = false
    this.underruns = 0
    this.dropped = 0
    this.sum = 0
    this.count = 0
    this.onsets = new Onsets()
    /** lowest fill of the buffer over the current window (samples), and the blocks in it */
    this.low = Infinity
    this.blocks = 0
    this.window = Math.round(rate / 128)
    this.port.onmessage = (e) => {
      const f = new Float32Array(e.data)
      this.queue.push(f)
      this.buffered += f.length
      while (this.buffered - this.pos > this.max && this.queue.length > 1) {
        const old = this.queue.shift()
        this.dropped += old.length - this.pos
        this.buffered -= old.length
        this.pos = 0
      }
    }
  }

  /** Drop `n` samples from the head of the buffer */
  skip (n) {
    this.dropped += n
    while (n > 0 && this.queue.length > 0) {
      const head = this.queue[0]
      const take = Math.min(n, head.length - this.pos)
      this.pos += take
      n -= take
      if (this.pos >= head.length) {
        this.queue.shift()
        this.buffered -= head.length
        this.pos = 0
      }
    }
  }

  process (_inputs, outputs) {
    const out = outputs[0][0]
    out.fill(0)
    if (!this.playing && this.buffered - this.pos >= this.target) this.playing = true
    if (this.playing) {
      let i = 0
      while (i < out.length) {
        const head = this.queue[0]
        if (head == null) { this.playing = false; this.underruns++; break }
        const take = Math.min(out.length - i, head.length - this.pos)
        out.set(head.subarray(this.pos, this.pos + take), i)
        i += take
        this.pos += take
        if (this.pos >= head.length) {
          this.queue.shift()
          this.buffered -= head.length
          this.pos = 0
        }
      }
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out)
    if (this.playing) this.low = Math.min(this.low, this.buffered - this.pos)
    else this.low = 0
    if (++this.blocks >= this.window) {
      if (this.low > this.target * 1.5 && this.low !== Infinity) this.skip(this.low - this.target)
      this.low = Infinity
      this.blocks = 0
    }
    const rms = rmsOf(out)
    if (this.onsets.block(rms)) this.port.postMessage({ onset: true })
    this.sum += rms * rms
    if (++this.count >= 40) {
      this.port.postMessage({ level: Math.sqrt(this.sum / this.count), bufferedMs: (this.buffered - this.pos) * 1000 / sampleRate, underruns: this.underruns, droppedMs: this.dropped * 1000 / sampleRate })
      this.sum = 0
      this.count = 0
    }
    return true
  }
}

registerProcessor('p2p-capture', Capture)
registerProcessor('p2p-playout', Playout)
