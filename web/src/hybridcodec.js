// hybridcodec in the page: restores the images a page marks with
// `data-hybridcodec`, when they are native JPEG, WebP or AVIF files with a
// hybridcodec header (docs/FORMAT.md), as `hybridcodec decompress` does.
//
//   <script type="module" src="hybridcodec.js"></script>
//   <img src="photo.jpg" data-hybridcodec>
//
// The browser decodes the standard file; the network the header names runs in
// onnxruntime-web (WebAssembly; WebGPU only where the script tag asks with
// `data-webgpu` and the browser has it); the per-tile strengths are applied;
// the result replaces the image's source (a PNG blob). Networks come only from
// the folder `data-models` names (default `models/` beside the page, same
// origin), through its `index.json`, and each is checked against its SHA-256
// before it runs. onnxruntime-web's files come from `data-ort` (default `ort/`).
// Anything else (no header, no WebAssembly, a cross-origin image without CORS,
// a truncated file, an unknown network, a hash mismatch, a CSP without
// 'wasm-unsafe-eval') leaves the plain image and logs exactly one console line.
// docs/WEB.md has the details and the measurements.

import { applyStrengths, codedSize, crc32, findHeader, MIME, parseHeader, sniff, tableFeatures, withoutJpegExif } from './format.js';

const PREFIX = 'hybridcodec:';
// coding.TILE and OVERLAP: the same tiles as the Python runtime, so that
// large images cost bounded memory and meet the same pixels.
const TILE = 768;
const OVERLAP = 32;
const MAX_PIXELS = 2 ** 26; // container.DEFAULT_MAX_PIXELS

const script = typeof document !== 'undefined' ? [...document.scripts].find((s) => s.src === import.meta.url) : null;

/** Settings from the script tag's data attributes, resolved against the page. */
export const config = {
  models: new URL(script?.dataset.models || 'models/', document.baseURI).href,
  ort: new URL(script?.dataset.ort || 'ort/', document.baseURI).href,
  threads: Number(script?.dataset.threads || Math.min(4, navigator.hardwareConcurrency || 1)),
  webgpu: script ? script.hasAttribute('data-webgpu') : false,
};

class Plain extends Error {} // a reason to leave the plain image, said in one line

function sameOrigin(url, what) {
  if (new URL(url, document.baseURI).origin !== location.origin) {
    throw new Plain(`${what} ${url} is not on this page's origin: nothing is fetched from elsewhere`);
  }
  return url;
}

async function fetchBytes(url, what) {
  let response;
  try {
    response = await fetch(url, { credentials: 'same-origin' });
  } catch (error) {
    throw new Plain(`cannot read ${what} (a cross-origin image without CORS?): ${error.message}`);
  }
  if (!response.ok) throw new Plain(`cannot fetch ${what}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

let ortPromise = null;
/** onnxruntime-web, imported once from `config.ort`. */
function loadOrt() {
  if (ortPromise === null) {
    ortPromise = (async () => {
      if (typeof WebAssembly !== 'object' || typeof WebAssembly.instantiate !== 'function') {
        throw new Plain('this browser has no WebAssembly');
      }
      try { // the smallest module: a policy that forbids WebAssembly says so here, before onnxruntime-web logs its own lines
        await WebAssembly.compile(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
      } catch (error) {
        throw new Plain(`WebAssembly may not run in this page (a Content-Security-Policy without 'wasm-unsafe-eval'?): ${error.message}`);
      }
      const gpu = config.webgpu && Boolean(await navigator.gpu?.requestAdapter().catch(() => null));
      const ort = await import(sameOrigin(config.ort, 'onnxruntime-web') + (gpu ? 'ort.webgpu.min.mjs' : 'ort.wasm.min.mjs'));
      ort.env.wasm.wasmPaths = config.ort;
      // threads need cross-origin isolation (COOP/COEP headers); without it one thread
      ort.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.max(1, config.threads) : 1;
      ort.env.logLevel = 'error';
      return { ort, providers: gpu ? ['webgpu', 'wasm'] : ['wasm'] };
    })();
  }
  return ortPromise;
}

let indexPromise = null;
function loadIndex() {
  if (indexPromise === null) {
    indexPromise = (async () => {
      const url = sameOrigin(new URL('index.json', config.models).href, 'the network index');
      const bytes = await fetchBytes(url, 'the network index');
      return JSON.parse(new TextDecoder().decode(bytes)).networks;
    })();
  }
  return indexPromise;
}

const hexOf = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');

const sessions = new Map(); // model hash -> Promise of {session, entry}
/** The checked session of the network whose header hash is `sha256`. */
function network(sha256) {
  if (!sessions.has(sha256)) {
    sessions.set(sha256, (async () => {
      const entry = (await loadIndex())[sha256];
      if (!entry) throw new Plain(`the header names network ${sha256.slice(0, 16)}..., which ${config.models}index.json lacks`);
      if (!/^[A-Za-z0-9._-]+\.onnx$/.test(entry.file)) throw new Plain(`bad network file name in the index: ${entry.file}`);
      const bytes = await fetchBytes(sameOrigin(new URL(entry.file, config.models).href, 'network'), entry.file);
      if (!crypto.subtle) throw new Plain('no WebCrypto (not a secure context): networks cannot be checked');
      const digest = hexOf(await crypto.subtle.digest('SHA-256', bytes));
      if (digest !== entry.onnx_sha256) throw new Plain(`network ${entry.file} does not match its SHA-256: not run`);
      const { ort, providers } = await loadOrt();
      let session;
      try {
        session = await ort.InferenceSession.create(bytes, { executionProviders: providers, graphOptimizationLevel: 'all' });
      } catch (error) {
        throw new Plain(`onnxruntime-web cannot run ${entry.file} (a Content-Security-Policy without 'wasm-unsafe-eval'?): ${error.message || error}`);
      }
      return { ort, session, entry };
    })());
  }
  return sessions.get(sha256);
}

/**
 * RGB bytes (3 a pixel) of a standard file as the browser decodes it, as
 * Python reads it: the stored samples, no colour conversion (an ICC profile
 * is not applied) and no EXIF turn (createImageBitmap turns a JPEG by its
 * EXIF orientation, and no option stops it any more: the Exif segment is
 * left out). A hybridcodec file's pixels are coded upright
 * (images.stored_orientation), so decompress does not turn them either.
 */
export async function decodePixels(bytes, format, expected = null) {
  let bitmap;
  try {
    if (format === 'jpeg') bytes = withoutJpegExif(bytes);
    bitmap = await createImageBitmap(new Blob([bytes], { type: MIME[format] }),
      { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (error) {
    throw new Plain(`the browser cannot decode this ${format} file: ${error.message}`);
  }
  const { width, height } = bitmap;
  if (expected && (width !== expected[0] || height !== expected[1])) { // before any copy of a size the header did not bound
    bitmap.close();
    throw new Plain(`the file decodes to ${width}x${height}, its header says ${expected[0]}x${expected[1]}`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = context.getImageData(0, 0, width, height).data;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2];
  }
  return { rgb, width, height };
}

function crop(rgb, width, x0, y0, x1, y1) {
  const w = x1 - x0;
  const out = new Uint8Array(w * (y1 - y0) * 3);
  for (let y = y0; y < y1; y++) out.set(rgb.subarray((y * width + x0) * 3, (y * width + x1) * 3), (y - y0) * w * 3);
  return out;
}

const rint = (v) => { // numpy's rint: halves to even
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/** One network run on an RGB picture: coding._to_float, the session, coding._to_uint8. */
async function runOnce(net, rgb, width, height, condition) {
  const { ort, session } = net;
  const input = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) input[i] = rgb[i] / 255;
  const feeds = {
    [session.inputNames[0]]: new ort.Tensor('float32', input, [1, height, width, 3]),
    [session.inputNames[1]]: new ort.Tensor('float32', Float32Array.from(condition), [1, condition.length]),
  };
  const output = (await session.run(feeds))[session.outputNames[0]];
  const [, outH, outW] = output.dims;
  const data = output.data;
  const out = new Uint8Array(outH * outW * 3);
  for (let i = 0; i < out.length; i++) {
    const v = rint(Math.fround(data[i] * 255));
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  output.dispose?.();
  return { rgb: out, width: outW, height: outH };
}

/** coding.run_tiled: the network tile by tile, each with OVERLAP pixels of context. */
async function runTiled(net, rgb, width, height, up, condition) {
  if (height <= TILE + 2 * OVERLAP && width <= TILE + 2 * OVERLAP) {
    return (await runOnce(net, rgb, width, height, condition)).rgb;
  }
  const outW = width * up;
  const out = new Uint8Array(outW * height * up * 3);
  for (let y = 0; y < height; y += TILE) {
    for (let x = 0; x < width; x += TILE) {
      const y0 = Math.max(0, y - OVERLAP); const x0 = Math.max(0, x - OVERLAP);
      const y1 = Math.min(height, y + TILE + OVERLAP); const x1 = Math.min(width, x + TILE + OVERLAP);
      const part = await runOnce(net, crop(rgb, width, x0, y0, x1, y1), x1 - x0, y1 - y0, condition);
      const oy = (y - y0) * up; const ox = (x - x0) * up;
      const th = Math.min(height, y + TILE) * up - y * up; const tw = Math.min(width, x + TILE) * up - x * up;
      for (let r = 0; r < th; r++) {
        const from = ((oy + r) * part.width + ox) * 3;
        out.set(part.rgb.subarray(from, from + tw * 3), ((y * up + r) * outW + x * up) * 3);
      }
    }
  }
  return out;
}

let queue = Promise.resolve(); // one network run at a time: the WebAssembly backend is one machine

/**
 * The restored RGB pixels of a native file's bytes, or a Plain error saying
 * why not. Also returns what the browser decoded and the network's time.
 */
export async function restoreBytes(bytes) {
  const format = sniff(bytes);
  if (format === null) throw new Plain('not a JPEG, WebP, AVIF or JPEG XL file');
  let raw;
  try {
    raw = findHeader(bytes, format);
  } catch (error) {
    throw new Plain(`damaged or truncated ${format} file: ${error.message}`);
  }
  if (raw === null) throw new Plain('no hybridcodec header: shown as it is');
  let header;
  try {
    header = parseHeader(raw);
  } catch (error) {
    throw new Plain(`damaged hybridcodec header: ${error.message}`);
  }
  if (header.codec !== format) throw new Plain(`header says ${header.codec} but the file is ${format}`);
  if (header.payloadLength !== 0) throw new Plain('damaged header: a native header has no payload');
  if (format === 'jpeg' && !(bytes[bytes.length - 2] === 0xff && bytes[bytes.length - 1] === 0xd9)) {
    throw new Plain('truncated JPEG file (no end-of-image marker)');
  }
  if (format === 'webp' && bytes.length < 8 + ((bytes[4] | bytes[5] << 8 | bytes[6] << 16 | bytes[7] << 24) >>> 0)) {
    throw new Plain('truncated WebP file');
  }
  if (header.post === null) throw new Plain('the header names no restoration network');
  if (header.width * header.height > MAX_PIXELS) throw new Plain(`${header.width}x${header.height} is over decompress's default limit of 2^26 pixels`);
  if (header.channels === 2 || header.channels === 4) throw new Plain('images with alpha are not restored in the page yet');
  if (header.scaleId === 3) throw new Plain('scale 4/3 files are not restored in the page yet');
  const [codedW, codedH] = codedSize(header);
  // first: no network is fetched for a file this browser cannot show
  const decoded = await decodePixels(bytes, format, [codedW, codedH]);
  const net = await network(header.post.sha256);
  const up = header.scale[0] / header.scale[1];
  if (net.entry.scale !== up) throw new Plain(`network ${net.entry.file} is for scale ${net.entry.scale}, the file for ${up}`);
  if (header.strengths && up !== 1) throw new Plain('strengths at scale 2 are not applied in the page yet');
  let condition;
  if (net.entry.condition === 'quality') condition = [header.quality / 100];
  else if (net.entry.condition === 'jpeg-tables' && format === 'jpeg') condition = tableFeatures(bytes);
  if (!condition) throw new Plain(`network ${net.entry.file} has a condition contract this page cannot meet: ${net.entry.condition}`);
  const started = performance.now();
  const run = queue.then(() => runTiled(net, decoded.rgb, codedW, codedH, up, condition));
  queue = run.catch(() => {});
  let restored = await run;
  const ms = performance.now() - started;
  const { width, height } = header;
  if (up !== 1) restored = crop(restored, codedW * up, 0, 0, width, height);
  if (header.strengths) restored = applyStrengths(header.strengths, decoded.rgb, restored, width, height);
  if (header.channels === 1) { // pipeline.join_image: the rounded mean of the three channels
    for (let i = 0; i < restored.length; i += 3) restored[i] = restored[i + 1] = restored[i + 2] = Math.floor((restored[i] + restored[i + 1] + restored[i + 2] + 1) / 3);
  }
  return { rgb: restored, width, height, decoded, ms, network: net.entry.name, icc: header.icc };
}

/**
 * An RGB picture as a PNG blob; with ``icc`` (the ICC profile the header
 * carries, the input's), tagged with it, as decompress's PNG is, so the
 * browser colour-manages the restored image as a viewer does that PNG.
 * Untagged, browsers show it as sRGB.
 */
async function pngBlob(rgb, width, height, icc) {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d');
  const image = context.createImageData(width, height);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    image.data[i] = rgb[j]; image.data[i + 1] = rgb[j + 1]; image.data[i + 2] = rgb[j + 2]; image.data[i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  const png = await canvas.convertToBlob({ type: 'image/png' });
  return icc && icc.length ? withIccProfile(new Uint8Array(await png.arrayBuffer()), icc) : png;
}

const IHDR_END = 8 + 4 + 4 + 13 + 4; // the signature, then IHDR's length, type, 13 bytes and CRC

/** ``png`` with an iCCP chunk (PNG 1.2, 11.3.3.3) holding ``icc`` right after its IHDR. */
async function withIccProfile(png, icc) {
  const stream = new Blob([icc]).stream().pipeThrough(new CompressionStream('deflate')); // zlib, as iCCP wants
  const deflated = new Uint8Array(await new Response(stream).arrayBuffer());
  const name = new TextEncoder().encode('ICC Profile');
  // type, name, its NUL, compression method 0, the profile: what the CRC covers
  const body = new Uint8Array(4 + name.length + 2 + deflated.length);
  body.set(new TextEncoder().encode('iCCP'));
  body.set(name, 4);
  body.set(deflated, 4 + name.length + 2);
  const chunk = new Uint8Array(4 + body.length + 4);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, body.length - 4);
  chunk.set(body, 4);
  view.setUint32(4 + body.length, crc32(body));
  return new Blob([png.subarray(0, IHDR_END), chunk, png.subarray(IHDR_END)], { type: 'image/png' });
}

function finish(img, detail) {
  img.dataset.hybridcodecState = detail.restored ? 'restored' : 'plain';
  img.dispatchEvent(new CustomEvent('hybridcodec', { detail }));
  return detail;
}

/**
 * Restore one <img>: its source's bytes are fetched (from the HTTP cache,
 * mostly), restored, and painted in its place. Resolves to {restored, ...};
 * never rejects: a failure leaves the plain image and logs one line.
 */
export async function restoreImage(img) {
  const src = img.currentSrc || img.src;
  try {
    const bytes = await fetchBytes(src, 'the image');
    const result = await restoreBytes(bytes);
    const url = URL.createObjectURL(await pngBlob(result.rgb, result.width, result.height, result.icc));
    img.removeAttribute('srcset'); // else the browser would keep choosing the plain file
    img.src = url; // not awaited: a lazy image out of view loads when it comes into view
    return finish(img, { restored: true, src, ms: result.ms, network: result.network });
  } catch (error) {
    const reason = error instanceof Plain ? error.message : `unexpected error: ${error?.message || error}`;
    console.warn(`${PREFIX} ${src}: ${reason.split('\n')[0]}`);
    return finish(img, { restored: false, src, reason });
  }
}

/** Restore every <img data-hybridcodec> of the page (the script tag does this once the page is parsed). */
export function restoreAll(root = document) {
  return Promise.all([...root.querySelectorAll('img[data-hybridcodec]')]
    .filter((img) => !img.dataset.hybridcodecState)
    .map((img) => { img.dataset.hybridcodecState = 'working'; return restoreImage(img); }));
}

if (script && !script.hasAttribute('data-manual')) restoreAll();
