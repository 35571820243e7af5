// AWS Signature Version 4 for API Gateway (execute-api) with WebCrypto: the canonical request, string to sign and
// signing key exactly as botocore's SigV4Auth builds them (botocore/auth.py), so the browser signs what the
// Python SDK would. Runs in the page and under Node 20+ (globalThis.crypto.subtle) for the tests.
"use strict";
(function (root) {
  const encoder = new TextEncoder();

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function sha256Hex(data) {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    return hex(await root.crypto.subtle.digest("SHA-256", bytes));
  }

  async function hmac(key, message) {
    const raw = typeof key === "string" ? encoder.encode(key) : key;
    const cryptoKey = await root.crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    return new Uint8Array(await root.crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(message)));
  }

  // Python's urllib.parse.quote(s, safe="/~"): everything but unreserved characters and "/" is percent-encoded.
  function quotePath(path) {
    return Array.from(encoder.encode(path), (b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9_.\-~/]/.test(c) ? c : "%" + b.toString(16).toUpperCase().padStart(2, "0");
    }).join("");
  }

  // botocore.utils.normalize_url_path: drop empty and "." segments, resolve "..", keep a trailing slash.
  function normalizePath(path) {
    if (!path) return "/";
    const out = [];
    for (const part of path.split("/")) {
      if (!part || part === ".") continue;
      if (part === "..") out.pop();
      else out.push(part);
    }
    const joined = "/" + out.join("/");
    return path.endsWith("/") && joined !== "/" ? joined + "/" : joined;
  }

  function canonicalQuery(search) {
    if (!search) return "";
    const pairs = search.split("&").map((pair) => {
      const at = pair.indexOf("=");
      return at < 0 ? [pair, ""] : [pair.slice(0, at), pair.slice(at + 1)];
    });
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    return pairs.map(([k, v]) => `${k}=${v}`).join("&");
  }

  function amzDate(date) {
    return date.toISOString().replace(/[:-]|\.\d{3}/g, "");
  }

  const UNSIGNED = new Set(["authorization", "expect", "transfer-encoding", "user-agent", "x-amzn-trace-id"]);

  /**
   * Sign one request. Returns the headers to add: x-amz-date, authorization and (with a session token)
   * x-amz-security-token. `headers` are the ones the request will carry (host is taken from the URL, as the
   * browser sets it); `body` is a string or Uint8Array.
   */
  async function signRequest({ method, url, headers = {}, body = "", credentials, region, service = "execute-api", date = new Date() }) {
    if (!credentials || !credentials.accessKeyId || !credentials.secretAccessKey) {
      throw new Error("AWS access key id and secret access key are required to sign the request");
    }
    if (!region) throw new Error("an AWS region is required to sign the request");
    const target = new URL(url);
    const timestamp = amzDate(date);
    const day = timestamp.slice(0, 8);
    const added = { "x-amz-date": timestamp };
    if (credentials.sessionToken) added["x-amz-security-token"] = credentials.sessionToken;

    const signed = new Map();
    for (const [name, value] of Object.entries({ ...headers, ...added })) {
      const key = name.toLowerCase();
      if (UNSIGNED.has(key)) continue;
      const trimmed = String(value).split(/\s+/).filter(Boolean).join(" ");
      signed.set(key, signed.has(key) ? signed.get(key) + "," + trimmed : trimmed);
    }
    if (!signed.has("host")) signed.set("host", target.host);
    const names = Array.from(signed.keys()).sort();
    const signedHeaders = names.join(";");
    const bodyBytes = typeof body === "string" ? encoder.encode(body) : body || new Uint8Array();
    const canonicalRequest = [
      method.toUpperCase(),
      quotePath(normalizePath(target.pathname)),
      canonicalQuery(target.search.slice(1)),
      names.map((n) => `${n}:${signed.get(n)}`).join("\n") + "\n",
      signedHeaders,
      await sha256Hex(bodyBytes),
    ].join("\n");
    const scope = `${day}/${region}/${service}/aws4_request`;
    const stringToSign = ["AWS4-HMAC-SHA256", timestamp, scope, await sha256Hex(canonicalRequest)].join("\n");
    let key = await hmac("AWS4" + credentials.secretAccessKey, day);
    key = await hmac(key, region);
    key = await hmac(key, service);
    key = await hmac(key, "aws4_request");
    const signature = hex(await hmac(key, stringToSign));
    added.authorization =
      `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, ` +
      `SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return added;
  }

  const api = { signRequest, canonicalQuery, normalizePath, quotePath };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.SigV4 = api;
})(globalThis);
