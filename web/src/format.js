// The bytes of hybridcodec's native files, read as docs/FORMAT.md specifies
// them and as hybridcodec/native.py, container.py and codecs.py read them.
// Pure functions over Uint8Array: no DOM, so Node can run them too.
// Every reader throws an Error with a one-line message on damaged input.

const MAGIC = [0x89, 0x48, 0x43, 0x4f, 0x44, 0x45, 0x43, 0x0a]; // \x89HCODEC\n
const JPEG_APP_ID = [...'HYBRIDCODEC'].map((c) => c.charCodeAt(0)).concat([0]);
const AVIF_UUID = [0x68, 0x79, 0x62, 0x72, 0x69, 0x64, 0x63, 0x64, 0xec, 0x0d, 0x4a, 0x1f, 0x8e, 0x0a, 0x00, 0x01];
const JXL_SIGNATURE = [0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a];

export const CODECS = { 0: 'png', 1: 'jpeg', 2: 'webp', 3: 'avif', 4: 'jpegxl' };
// scale byte -> [numerator, denominator] of image side / coded side (scale.py)
export const SCALES = { 1: [1, 1], 2: [2, 1], 3: [4, 3] };
export const STRENGTHS = [0.0, 0.5, 1.0, 1.5]; // strength.STRENGTHS, code 0..3
export const MIME = { jpeg: 'image/jpeg', webp: 'image/webp', avif: 'image/avif', jpegxl: 'image/jxl' };

const startsWith = (data, bytes, at = 0) => bytes.every((b, i) => data[at + i] === b);
const ascii = (data, at, n) => String.fromCharCode(...data.subarray(at, at + n));
const be16 = (d, p) => (d[p] << 8) | d[p + 1];
const be32 = (d, p) => ((d[p] << 24) >>> 0) + (d[p + 1] << 16) + (d[p + 2] << 8) + d[p + 3];
const le16 = (d, p) => d[p] | (d[p + 1] << 8);
const le32 = (d, p) => (d[p] | (d[p + 1] << 8) | (d[p + 2] << 16) | (d[p + 3] << 24)) >>> 0;

/** The standard format of a file from its first bytes (codecs.sniff_native), or null. */
export function sniff(data) {
  if (startsWith(data, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (ascii(data, 0, 4) === 'RIFF' && ascii(data, 8, 4) === 'WEBP') return 'webp';
  if (ascii(data, 4, 4) === 'ftyp' && ['avif', 'avis'].includes(ascii(data, 8, 4))) return 'avif';
  if (startsWith(data, JXL_SIGNATURE) || startsWith(data, [0xff, 0x0a])) return 'jpegxl';
  return null;
}

/** (marker, body) of each JPEG marker segment before the first scan (native.jpeg_segments). */
function* jpegSegments(data) {
  let pos = 2;
  while (pos + 4 <= data.length && data[pos] === 0xff) {
    const marker = data[pos + 1];
    if (marker === 0xff) { pos += 1; continue; } // fill byte
    if (marker === 0xda) return; // start of scan
    const length = be16(data, pos + 2);
    if (length < 2) return;
    if (pos + 2 + length > data.length) throw new Error('truncated JPEG marker segment');
    yield [marker, data.subarray(pos + 4, pos + 2 + length)];
    pos += 2 + length;
  }
}

function* isoBoxes(data, start = 0) {
  let pos = start;
  while (pos + 8 <= data.length) {
    let size = be32(data, pos);
    const kind = ascii(data, pos + 4, 4);
    let header = 8;
    if (size === 1) {
      if (pos + 16 > data.length) throw new Error('truncated box');
      size = be32(data, pos + 8) * 2 ** 32 + be32(data, pos + 12);
      header = 16;
    } else if (size === 0) size = data.length - pos;
    if (size < header) throw new Error('bad box size');
    if (pos + size > data.length) throw new Error('truncated box');
    yield [kind, data.subarray(pos + header, pos + size)];
    pos += size;
  }
}

/** The hybridcodec header (a .hc file with an empty payload) inside a standard file, or null. */
export function findHeader(data, format) {
  if (format === 'jpeg') {
    for (const [marker, body] of jpegSegments(data)) {
      if (marker === 0xeb && startsWith(body, JPEG_APP_ID)) return body.subarray(JPEG_APP_ID.length);
    }
  } else if (format === 'webp') {
    let pos = 12;
    while (pos + 8 <= data.length) {
      const kind = ascii(data, pos, 4);
      const size = le32(data, pos + 4);
      if (pos + 8 + size > data.length) throw new Error('truncated RIFF chunk');
      if (kind === 'HYBC') return data.subarray(pos + 8, pos + 8 + size);
      pos += 8 + size + (size & 1);
    }
  } else if (format === 'avif') {
    for (const [kind, body] of isoBoxes(data)) {
      if (kind === 'uuid' && startsWith(body, AVIF_UUID)) return body.subarray(16);
    }
  } else if (format === 'jpegxl' && startsWith(data, JXL_SIGNATURE)) {
    for (const [kind, body] of isoBoxes(data)) if (kind === 'hybc') return body;
  }
  return null;
}

let crcTable = null;
/** zlib's CRC-32. */
export function crc32(data) {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** The fields of a .hc header (container.unpack, versions 1-4), checked as it checks them. */
export function parseHeader(data) {
  if (data.length < 9 || !startsWith(data, MAGIC)) throw new Error('not a hybridcodec header (wrong magic bytes)');
  const version = data[8];
  if (![1, 2, 3, 4].includes(version)) throw new Error(`unsupported .hc format version ${version}`);
  let pos = 9;
  const take = (n) => {
    if (pos + n > data.length) throw new Error('truncated header');
    const part = data.subarray(pos, pos + n);
    pos += n;
    return part;
  };
  const fixed = take(version === 1 ? 14 : 10);
  const [codecId, quality, scaleId] = fixed;
  const wide = version === 1;
  const width = wide ? le32(fixed, 3) : le16(fixed, 3);
  const height = wide ? le32(fixed, 7) : le16(fixed, 5);
  const [channels, bits, count] = fixed.subarray(wide ? 11 : 7);
  if (version >= 3) take(2); // encoder, effort: informational
  const models = [];
  for (let i = 0; i < count; i++) {
    const [role, nameLength] = take(2);
    take(nameLength);
    if (role > 1) throw new Error(`unknown model role ${role}`);
    models.push({ role: role === 0 ? 'pre' : 'post', sha256: hex(take(32)) });
  }
  let lengths;
  if (version === 1) {
    const raw = take(16);
    lengths = [0, 4, 8, 12].map((o) => le32(raw, o)).concat([0]);
  } else {
    const flags = take(1)[0];
    const known = version === 4 ? 4 : 3;
    if (flags >> known) throw new Error(`invalid header: unknown flags ${flags}`);
    lengths = [le32(take(4), 0)];
    for (let k = 0; k < 4; k++) lengths.push(k < known && flags & (1 << k) ? le32(take(4), 0) : 0);
  }
  const [payload, alpha, icc, metadata, strengths] = lengths.map((n) => take(n));
  const bodyEnd = pos;
  const crc = le32(take(4), 0);
  if (pos !== data.length) throw new Error(`${data.length - pos} unexpected bytes after the header`);
  if (crc32(data.subarray(0, bodyEnd)) !== crc) throw new Error('CRC mismatch: the header is corrupt');
  const codec = CODECS[codecId];
  const scale = SCALES[scaleId];
  if (!codec) throw new Error(`unknown codec id ${codecId}`);
  if (!scale || ![1, 2, 3, 4].includes(channels) || ![8, 16].includes(bits)) {
    throw new Error(`invalid header: channels=${channels}, scale=${scaleId}, bits=${bits}`);
  }
  if (width < 1 || height < 1 || width > 65535 || height > 65535) throw new Error(`invalid size ${width}x${height}`);
  if ([2, 4].includes(channels) !== alpha.length > 0) throw new Error('invalid header: alpha does not match channels');
  const post = models.find((m) => m.role === 'post') || null;
  if (strengths.length && post === null) throw new Error('invalid header: a strength part without a network');
  const header = { version, codec, quality, scaleId, scale, width, height, channels, models, post,
    payloadLength: payload.length, alpha, icc, metadata, strengths: null };
  if (strengths.length) header.strengths = unpackStrengths(strengths, width, height);
  return header;
}

/** Size of the codec's picture: ceil(side / factor), at least 1 (Scale.coded_size). */
export function codedSize(header) {
  const [n, d] = header.scale;
  const side = (s) => Math.max(1, Math.ceil((s * d) / n));
  return [side(header.width), side(header.height)];
}

/** {k, columns, rows, codes} of a strength part (strength.unpack). */
export function unpackStrengths(part, width, height) {
  const k = part[0];
  if (!(k >= 4 && k <= 16)) throw new Error('invalid strength part: tile size byte outside 4..16');
  const side = 2 ** k;
  const columns = Math.ceil(width / side);
  const rows = Math.ceil(height / side);
  if (part.length !== 1 + Math.ceil((rows * columns) / 4)) {
    throw new Error(`invalid strength part: ${part.length} bytes for ${rows * columns} tiles`);
  }
  const codes = new Uint8Array(rows * columns);
  for (let i = 0; i < codes.length; i++) codes[i] = (part[1 + (i >> 2)] >> (2 * (i % 4))) & 3;
  return { k, columns, rows, codes };
}

/**
 * strength.apply: floor(C + s (R - C) + 1/2), clipped, per sample, s the
 * strength of the pixel's tile. C, R: RGB bytes (3 a pixel) of width x height.
 * Exact as in numpy's float32: C and R are whole numbers, s a multiple of 1/2.
 */
export function applyStrengths(strengths, classical, restored, width, height) {
  const out = new Uint8Array(restored.length);
  const { k, columns, codes } = strengths;
  for (let y = 0; y < height; y++) {
    const row = (y >> k) * columns;
    for (let x = 0; x < width; x++) {
      const s = STRENGTHS[codes[row + (x >> k)]];
      for (let c = 0, i = (y * width + x) * 3; c < 3; c++, i++) {
        const v = Math.floor(classical[i] + s * (restored[i] - classical[i]) + 0.5);
        out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return out;
}

// JPEG's zigzag order: ZIGZAG[i] is the natural (row-major) index of the i-th coefficient in a DQT.
const ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
  13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39,
  46, 53, 60, 61, 54, 47, 55, 62, 63];
const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/** {luma, chroma, subsampling} of a JPEG's markers before its first scan (native.jpeg_tables), or null. */
export function jpegTables(data) {
  const tables = {};
  let components = null;
  for (const [marker, body] of jpegSegments(data)) {
    if (marker === 0xdb) {
      for (let p = 0; p < body.length;) {
        const wide = body[p] >> 4;
        const id = body[p] & 15;
        const table = new Array(64);
        for (let i = 0; i < 64; i++) table[ZIGZAG[i]] = wide ? be16(body, p + 1 + 2 * i) : body[p + 1 + i];
        tables[id] = table;
        p += 1 + 64 * (wide ? 2 : 1);
      }
    } else if (SOF.has(marker) && components === null) {
      components = [];
      for (let i = 0; i < body[5]; i++) {
        const at = 6 + 3 * i;
        components.push([body[at + 1] >> 4, body[at + 1] & 15, body[at + 2]]);
      }
    }
  }
  if (!components || !components.length) return null;
  const luma = components[0];
  const chroma = components[Math.min(1, components.length - 1)];
  if (!(luma[2] in tables) || !(chroma[2] in tables) || chroma[0] === 0 || chroma[1] === 0) return null;
  return { luma: tables[luma[2]], chroma: tables[chroma[2]],
    subsampling: [Math.floor(luma[0] / chroma[0]), Math.floor(luma[1] / chroma[1])] };
}

/** The `jpeg-tables` condition contract: 8 numbers (codecs.JPEG.table_features), or null. */
export function tableFeatures(data) {
  const tables = jpegTables(data);
  if (tables === null) return null;
  const features = [];
  for (const table of [tables.luma, tables.chroma]) {
    const sums = [0, 0, 0];
    const counts = [0, 0, 0];
    for (let u = 0; u < 8; u++) {
      for (let v = 0; v < 8; v++) {
        const group = u + v === 0 ? 0 : u + v <= 3 ? 1 : 2; // DC, the 9 lowest AC, the other 54
        sums[group] += Math.log2(Math.max(table[u * 8 + v], 1));
        counts[group] += 1;
      }
    }
    for (let g = 0; g < 3; g++) features.push(sums[g] / counts[g] / 8);
  }
  for (const h of tables.subsampling) features.push(Math.min(1, h - 1));
  return features;
}

/** A copy of a JPEG without its APP1 Exif segments, so that a browser decodes the stored pixels unturned. */
export function withoutJpegExif(data) {
  const parts = [data.subarray(0, 2)];
  let pos = 2;
  for (const [marker, body] of jpegSegments(data)) {
    const start = body.byteOffset - data.byteOffset - 4;
    const end = body.byteOffset - data.byteOffset + body.length;
    const exif = marker === 0xe1 && ascii(body, 0, 4) === 'Exif';
    if (!exif) parts.push(data.subarray(pos, end));
    else parts.push(data.subarray(pos, start));
    pos = end;
  }
  parts.push(data.subarray(pos));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
