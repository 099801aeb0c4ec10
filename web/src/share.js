// The playground state in the URL fragment: JSON, deflate-raw (CompressionStream), base64url.
// The fragment never leaves the browser, so a shared link sends nothing to any server.

const PREFIX = 's=';
/** Compressed states larger than this are not put in the URL (browsers and chat tools choke). */
export const MAX_FRAGMENT_BYTES = 1024 * 1024;

async function pipe(bytes, stream) {
  const out = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

export function toBase64Url(bytes) {
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64Url(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** State object → fragment (without `#`). */
export async function encodeState(state) {
  const json = new TextEncoder().encode(JSON.stringify(state));
  const deflated = await pipe(json, new CompressionStream('deflate-raw'));
  return PREFIX + toBase64Url(deflated);
}

/** Fragment (with or without `#`) → state object, or null when there is none. Throws on a corrupt one. */
export async function decodeState(fragment) {
  const text = fragment.replace(/^#/, '');
  if (!text.startsWith(PREFIX)) return null;
  const bytes = fromBase64Url(text.slice(PREFIX.length));
  const inflated = await pipe(bytes, new DecompressionStream('deflate-raw'));
  return JSON.parse(new TextDecoder().decode(inflated));
}
