/**
 * Live call statistics: round-trip time and clock offset from ping/pong
 * (NTP style), one-way delay, interarrival jitter (RFC 3550 §6.4.1),
 * frames lost and bitrate. Pure: the caller passes the clock.
 */

export interface TrackStats {
  track: number
  kind: 'audio' | 'video'
  direction: 'send' | 'receive'
  frames: number
  bytes: number
  /** receive: sequence numbers that never arrived; send: 0 */
  lost: number
  /** frames dropped by policy on this side (sender queue or receiver buffer full) */
  dropped: number
  /** receive: RFC 3550 interarrival jitter, ms */
  jitterMs?: number
}

export interface CallStats {
  /** ms since the call connected (0 while ringing) */
  durationMs: number
  /** smoothed round-trip time, ms (RFC 6298 weights) */
  rttMs?: number
  /** lowest round-trip time seen, ms */
  minRttMs?: number
  /** estimated peer clock − local clock, ms (from the ping with the lowest RTT) */
  clockOffsetMs?: number
  /** mean one-way delay of received frames, capture to arrival, corrected by the clock offset, ms */
  oneWayDelayMs?: number
  /** highest receive jitter over the tracks, ms */
  jitterMs: number
  framesSent: number
  framesReceived: number
  /** frames the peer captured that never arrived here */
  framesLost: number
  /** frames dropped by this side's backpressure policy (sender queue + receiver buffer) */
  framesDropped: number
  bytesSent: number
  bytesReceived: number
  /** bit/s over the last stats interval while the call runs; over the whole call in the final stats */
  sendBitrate: number
  receiveBitrate: number
  tracks: TrackStats[]
}

interface ReceiveTrack extends TrackStats {
  lastTransit?: number
  jitter: number
}

export class StatsTracker {
  private connectedAt?: number
  private endedAt?: number
  private srtt?: number
  private minRtt?: number
  private offset?: number
  private owdSum = 0
  private owdCount = 0
  private readonly sendTracks = new Map<number, TrackStats>()
  private readonly recvTracks = new Map<number, ReceiveTrack>()
  private readonly window = { at: 0, sent: 0, received: 0, sendRate: 0, receiveRate: 0 }
  bytesSent = 0
  bytesReceived = 0
  /** frames dropped by the send queue (live sources) */
  sendDropped = 0

  connected (now: number): void {
    this.connectedAt = now
    this.window.at = now
  }

  ended (now: number): void {
    this.endedAt ??= now
  }

  addSendTrack (track: number, kind: 'audio' | 'video'): void {
    this.sendTracks.set(track, { track, kind, direction: 'send', frames: 0, bytes: 0, lost: 0, dropped: 0 })
  }

  addReceiveTrack (track: number, kind: 'audio' | 'video'): void {
    this.recvTracks.set(track, { track, kind, direction: 'receive', frames: 0, bytes: 0, lost: 0, dropped: 0, jitter: 0 })
  }

  /** A message of `bytes` (framing included) went into the stream. */
  sent (bytes: number, frame?: { track: number, payloadBytes: number }): void {
    this.bytesSent += bytes
    this.window.sent += bytes
    if (frame != null) {
      const t = this.sendTracks.get(frame.track)
      if (t != null) { t.frames++; t.bytes += frame.payloadBytes }
    }
  }

  sendDrop (track: number): void {
    this.sendDropped++
    const t = this.sendTracks.get(track)
    if (t != null) t.dropped++
  }

  /** Any message of `bytes` arrived. */
  received (bytes: number): void {
    this.bytesReceived += bytes
    this.window.received += bytes
  }

  /** A frame arrived: update jitter (RFC 3550) and one-way delay. */
  frame (track: number, captureMs: number, arrivalMs: number, payloadBytes: number): void {
    const t = this.recvTracks.get(track)
    if (t == null) return
    t.frames++
    t.bytes += payloadBytes
    const transit = arrivalMs - captureMs
    if (t.lastTransit != null) {
      const d = Math.abs(transit - t.lastTransit)
      t.jitter += (d - t.jitter) / 16
    }
    t.lastTransit = transit
    this.owdSum += transit + (this.offset ?? 0)
    this.owdCount++
  }

  /** Frames lost / dropped on a receive track, read from its jitter buffer. */
  receiveLoss (track: number, lost: number, dropped: number): void {
    const t = this.recvTracks.get(track)
    if (t == null) return
    t.lost = lost
    t.dropped = dropped
  }

  /**
   * A pong: t1 our ping time, t2 peer's receive time, t3 peer's send time,
   * t4 arrival. RTT excludes the peer's processing time.
   */
  pong (t1: number, t2: number, t3: number, t4: number): void {
    const rtt = Math.max(0, (t4 - t1) - (t3 - t2))
    this.srtt = this.srtt == null ? rtt : this.srtt + (rtt - this.srtt) / 8
    if (this.minRtt == null || rtt <= this.minRtt) {
      this.minRtt = rtt
      this.offset = ((t2 - t1) + (t3 - t4)) / 2
    }
  }

  /** Roll the bitrate window (called once per stats interval). */
  tick (now: number): void {
    const dt = (now - this.window.at) / 1000
    if (dt <= 0) return
    this.window.sendRate = Math.round(this.window.sent * 8 / dt)
    this.window.receiveRate = Math.round(this.window.received * 8 / dt)
    this.window.sent = 0
    this.window.received = 0
    this.window.at = now
  }

  snapshot (now: number, final = false): CallStats {
    const end = this.endedAt ?? now
    const durationMs = this.connectedAt == null ? 0 : Math.max(0, end - this.connectedAt)
    const tracks: TrackStats[] = []
    let framesSent = 0; let framesReceived = 0; let framesLost = 0; let recvDropped = 0; let jitter = 0
    for (const t of this.sendTracks.values()) {
      framesSent += t.frames
      tracks.push({ ...t })
    }
    for (const t of this.recvTracks.values()) {
      framesReceived += t.frames
      framesLost += t.lost
      recvDropped += t.dropped
      jitter = Math.max(jitter, t.jitter)
      tracks.push({ track: t.track, kind: t.kind, direction: t.direction, frames: t.frames, bytes: t.bytes, lost: t.lost, dropped: t.dropped, jitterMs: round(t.jitter) })
    }
    const secs = durationMs / 1000
    const stats: CallStats = {
      durationMs: Math.round(durationMs),
      jitterMs: round(jitter),
      framesSent,
      framesReceived,
      framesLost,
      framesDropped: this.sendDropped + recvDropped,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      sendBitrate: final ? (secs > 0 ? Math.round(this.bytesSent * 8 / secs) : 0) : this.window.sendRate,
      receiveBitrate: final ? (secs > 0 ? Math.round(this.bytesReceived * 8 / secs) : 0) : this.window.receiveRate,
      tracks
    }
    if (this.srtt != null) stats.rttMs = round(this.srtt)
    if (this.minRtt != null) stats.minRttMs = round(this.minRtt)
    if (this.offset != null) stats.clockOffsetMs = round(this.offset)
    if (this.owdCount > 0) stats.oneWayDelayMs = round(this.owdSum / this.owdCount)
    return stats
  }
}

function round (n: number): number {
  return Math.round(n * 1000) / 1000
}
