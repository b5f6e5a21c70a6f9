// A QR code as SVG elements (qrcode-generator, served from node_modules by the node: no CDN)
import { h } from 'preact'
import htm from 'htm'
import qrcode from 'qrcode-generator'

const html = htm.bind(h)

export function QrCode ({ text, label }) {
  let qr
  try {
    qr = qrcode(0, 'M')
    qr.addData(text, 'Byte')
    qr.make()
  } catch {
    return html`<p>The invite is too long for a QR code: copy it instead.</p>`
  }
  const n = qr.getModuleCount()
  const margin = 4
  const size = n + margin * 2
  let d = ''
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) if (qr.isDark(y, x)) d += `M${x + margin} ${y + margin}h1v1h-1z`
  }
  return html`<svg class="qr" role="img" aria-label=${label} viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges">
    <rect width=${size} height=${size} fill="#fff"/>
    <path d=${d} fill="#000"/>
  </svg>`
}
