// The chat page: keeps the conversation in memory, streams answers from v1/chat/completions (SSE), and builds every
// piece of model output with textContent (never innerHTML), so nothing the model says can become markup.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  // Secrets live in their input fields only (this page's memory): never in any Web Storage, where every script of
  // the origin, a browser extension or anyone at the unlocked machine could read them. Reloading forgets them.
  const SECRET_FIELDS = ["api-key", "access-key-id", "secret-access-key", "session-token"];
  // What is remembered for the tab (not secret): how to call the API and the generation settings.
  const KEPT_FIELDS = ["auth-mode", "region", "system", "temperature", "max-tokens"];
  // The API's base is the folder this page is served from: /prod/ behind API Gateway, / under make dev.
  const base = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
  const completionsUrl = new URL(base + "v1/chat/completions", location.origin).toString();
  const regionFromHost = (location.hostname.match(/\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/) || [])[1] || "";

  let history = [];
  let controller = null;

  function restoreFields() {
    // Earlier versions kept credentials in sessionStorage: drop whatever they left.
    for (const id of SECRET_FIELDS) store.removeItem("llmchat:" + id);
    for (const id of KEPT_FIELDS) {
      const saved = store.getItem("llmchat:" + id);
      if (saved !== null) $(id).value = saved;
      $(id).addEventListener("change", () => store.setItem("llmchat:" + id, $(id).value));
    }
    for (const id of ["access-key-id", "session-token"]) $(id).addEventListener("input", showKeyAdvice);
    if (store.getItem("llmchat:auth-mode") === null) {
      $("auth-mode").value = location.hostname.endsWith(".amazonaws.com") ? "iam" : "none";
    }
    if (!$("region").value) $("region").value = regionFromHost;
    $("auth-mode").addEventListener("change", showAuthFields);
    showAuthFields();
  }

  // Long-term IAM user keys start with AKIA, temporary ones (STS: SSO, assumed roles, get-session-token) with ASIA
  // and come with a session token (IAM User Guide, "Understanding unique ID prefixes"). Temporary ones expire by
  // themselves if this tab leaks them: recommend them.
  function showKeyAdvice() {
    const longTerm = /^AKIA/.test($("access-key-id").value.trim()) && !$("session-token").value.trim();
    $("key-advice").hidden = !longTerm;
  }

  function showAuthFields() {
    for (const block of document.querySelectorAll("[data-mode]")) {
      block.hidden = block.dataset.mode !== $("auth-mode").value;
    }
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Text between ``` fences becomes <pre><code>; everything else paragraphs. Only textContent is ever set.
  function renderContent(container, text) {
    container.replaceChildren();
    const parts = text.split(/^```/m);
    parts.forEach((part, i) => {
      if (i % 2 === 1) {
        const newline = part.indexOf("\n");
        const language = newline < 0 ? "" : part.slice(0, newline).trim();
        const code = element("code", null, newline < 0 ? "" : part.slice(newline + 1).replace(/\n$/, ""));
        if (/^[\w+-]{1,20}$/.test(language)) code.dataset.language = language;
        const pre = element("pre");
        pre.appendChild(code);
        container.appendChild(pre);
      } else if (part.trim()) {
        container.appendChild(element("p", null, part.replace(/^\n+|\n+$/g, "")));
      }
    });
  }

  function addMessage(role, text) {
    const box = element("section", "message " + role);
    box.appendChild(element("div", "role", role));
    const body = element("div", "content");
    box.appendChild(body);
    renderContent(body, text);
    $("log").appendChild(box);
    box.scrollIntoView({ block: "end" });
    return { box, body };
  }

  function showError(box, text) {
    box.appendChild(element("div", "error", text));
    box.scrollIntoView({ block: "end" });
  }

  function requestBody() {
    const messages = [];
    const system = $("system").value.trim();
    if (system) messages.push({ role: "system", content: system });
    const body = { messages: messages.concat(history), stream: true };
    const temperature = $("temperature").value;
    const maxTokens = $("max-tokens").value;
    if (temperature !== "") body.temperature = Number(temperature);
    if (maxTokens !== "") body.max_tokens = Number(maxTokens);
    return JSON.stringify(body);
  }

  async function authHeaders(body) {
    const mode = $("auth-mode").value;
    if (mode === "api_key") {
      if (!$("api-key").value) throw new Error("Enter the API key in Settings (the stack's ApiKeyCommand prints it).");
      return { "x-api-key": $("api-key").value };
    }
    if (mode === "iam") {
      if (!window.isSecureContext || !window.crypto || !window.crypto.subtle) {
        throw new Error("IAM signing needs WebCrypto, which browsers offer on https:// pages only.");
      }
      return window.SigV4.signRequest({
        method: "POST",
        url: completionsUrl,
        headers: { "content-type": "application/json" },
        body,
        region: $("region").value.trim(),
        credentials: {
          accessKeyId: $("access-key-id").value.trim(),
          secretAccessKey: $("secret-access-key").value.trim(),
          sessionToken: $("session-token").value.trim(),
        },
      });
    }
    return {};
  }

  async function errorText(response) {
    const raw = await response.text();
    let message = raw.trim() || response.statusText;
    let code = null;
    try {
      const parsed = JSON.parse(raw);
      if (parsed && parsed.error && parsed.error.message) message = parsed.error.message;
      else if (parsed && parsed.message) message = parsed.message;
      if (parsed && parsed.error && typeof parsed.error.code === "string") code = parsed.error.code;
    } catch (_) {
      // not JSON: show the text as it came
    }
    // Outside the active hours the message names the next start; a retry countdown would only mislead.
    if (code === "outside_active_hours") return `Outside active hours: ${message}`;
    const retry = response.headers.get("retry-after");
    return `HTTP ${response.status}: ${message}` + (retry ? ` (retry after ${retry} s)` : "");
  }

  // Server-sent events: blank-line separated blocks of "data:" lines (https://html.spec.whatwg.org/#event-stream).
  // Comment lines (":" first) go to onComment: the API sends ": waking the model (n s)" while a scaled-to-zero
  // model starts (docs/wake-up.md).
  async function* sseData(response, onComment = () => {}) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
      buffer = done ? "" : blocks.pop();
      for (const block of blocks) {
        const lines = block.split(/\r\n|\n|\r/);
        lines.filter((line) => line.startsWith(":")).forEach((line) => onComment(line.slice(1).trim()));
        const data = lines
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""))
          .join("\n");
        if (data) yield data;
      }
      if (done) return;
    }
  }

  async function send(text) {
    history.push({ role: "user", content: text });
    addMessage("user", text);
    const answer = addMessage("assistant", "");
    answer.box.classList.add("pending");
    let content = "";
    controller = new AbortController();
    setBusy(true);
    try {
      const body = requestBody();
      const headers = { "content-type": "application/json", ...(await authHeaders(body)) };
      const response = await fetch(completionsUrl, { method: "POST", headers, body, signal: controller.signal });
      if (!response.ok) throw new Error(await errorText(response));
      const waking = (note) => {
        if (!content && note.startsWith("waking the model")) answer.body.textContent = `${note}…`;
      };
      for await (const data of sseData(response, waking)) {
        if (data === "[DONE]") break;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(`stream error: ${chunk.error.message || JSON.stringify(chunk.error)}`);
        const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (delta && delta.content) {
          content += delta.content;
          renderContent(answer.body, content);
        }
      }
      history.push({ role: "assistant", content });
    } catch (err) {
      // A failed turn leaves the conversation as it was before the question, so it can be asked again.
      history.pop();
      const message = err.name === "AbortError" ? "Stopped." : err.message;
      showError(answer.box, message);
      answer.box.classList.add("failed");
    } finally {
      answer.box.classList.remove("pending");
      controller = null;
      setBusy(false);
    }
  }

  function setBusy(busy) {
    $("send").disabled = busy;
    $("stop").disabled = !busy;
  }

  restoreFields();
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("prompt").value.trim();
    if (!text || controller) return;
    $("prompt").value = "";
    send(text);
  });
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => controller && controller.abort());
  $("reset").addEventListener("click", () => {
    if (controller) controller.abort();
    history = [];
    $("log").replaceChildren();
  });
  $("forget").addEventListener("click", () => {
    for (const id of SECRET_FIELDS) {
      store.removeItem("llmchat:" + id);
      $(id).value = "";
    }
    store.removeItem("llmchat:region");
    $("region").value = regionFromHost;
    showKeyAdvice();
  });
})();
