/**
 * What kind of file: the media type from the first bytes (PNG, JPEG, GIF,
 * WebP, PDF) or the name, and the pixel size of PNG, JPEG and GIF images
 * read from their headers (pure, no decoding). See FileRef.width/height.
 */

export interface ImageInfo {
  mime: string
  width: number
  height: number
}

/** Bytes from the start of a file that imageInfo looks at, at most (a JPEG's EXIF block can be 64 KiB) */
export const IMAGE_HEAD_BYTES = 256 * 1024

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

function startsWith (b: Uint8Array, sig: number[], at = 0): boolean {
  if (b.byteLength < at + sig.length) return false
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false
  return true
}

const u16be = (b: Uint8Array, at: number): number => (b[at] << 8) | b[at + 1]
const u16le = (b: Uint8Array, at: number): number => b[at] | (b[at + 1] << 8)
const u32be = (b: Uint8Array, at: number): number => ((b[at] << 24) >>> 0) + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3])

/** PNG, JPEG or GIF: media type and dimensions from the header; undefined for anything else or a header cut short. */
export function imageInfo (head: Uint8Array): ImageInfo | undefined {
  // PNG: signature, then the IHDR chunk: length, "IHDR", width, height (big-endian)
  if (startsWith(head, PNG)) {
    if (head.byteLength < 24 || !startsWith(head, [0x49, 0x48, 0x44, 0x52], 12)) return undefined
    return { mime: 'image/png', width: u32be(head, 16), height: u32be(head, 20) }
  }
  // GIF87a / GIF89a: logical screen width, height (little-endian)
  if (startsWith(head, [0x47, 0x49, 0x46, 0x38]) && (head[4] === 0x37 || head[4] === 0x39) && head[5] === 0x61) {
    if (head.byteLength < 10) return undefined
    return { mime: 'image/gif', width: u16le(head, 6), height: u16le(head, 8) }
  }
  if (startsWith(head, [0xff, 0xd8])) return jpeg(head)
  return undefined
}

/** JPEG: walk the segments to the first start-of-frame (SOF0..SOF15 but DHT, JPG, DAC): height, width. */
function jpeg (b: Uint8Array): ImageInfo | undefined {
  let at = 2
  while (at + 4 <= b.byteLength) {
    if (b[at] !== 0xff) return undefined
    const marker = b[at + 1]
    // fill bytes
    if (marker === 0xff) { at++; continue }
    // markers without a length
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { at += 2; continue }
    // end of image, or the scan began before any frame header
    if (marker === 0xd9 || marker === 0xda) return undefined
    const length = u16be(b, at + 2)
    if (length < 2) return undefined
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (at + 9 > b.byteLength) return undefined
      return { mime: 'image/jpeg', height: u16be(b, at + 5), width: u16be(b, at + 7) }
    }
    at += 2 + length
  }
  return undefined
}

const BY_EXTENSION: Record<string, string> = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', svg: 'image/svg+xml',
  pdf: 'application/pdf', txt: 'text/plain', md: 'text/markdown', json: 'application/json', csv: 'text/csv', html: 'text/html',
  zip: 'application/zip', gz: 'application/gzip', tar: 'application/x-tar', mp3: 'audio/mpeg', ogg: 'audio/ogg', wav: 'audio/wav',
  mp4: 'video/mp4', webm: 'video/webm', mov: 'video/quicktime'
}

/** The media type of a file: an image's from its header, else by its name's extension, else "" (unknown). */
export function mediaType (name: string, head: Uint8Array): string {
  const image = imageInfo(head)
  if (image != null) return image.mime
  if (startsWith(head, [0x52, 0x49, 0x46, 0x46]) && startsWith(head, [0x57, 0x45, 0x42, 0x50], 8)) return 'image/webp'
  if (startsWith(head, [0x25, 0x50, 0x44, 0x46, 0x2d])) return 'application/pdf'
  const dot = name.lastIndexOf('.')
  return dot > 0 ? BY_EXTENSION[name.slice(dot + 1).toLowerCase()] ?? '' : ''
}
