/* Shared page helpers: the API client (session + CSRF), money formatting, idempotency keys,
 * a modal's keyboard behaviour (RP.trapKeys). */
(function () {
  "use strict";

  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  /** Call the JSON API. Resolves to {ok, status, data}; never throws on an HTTP error. */
  async function api(path, options) {
    const opts = options || {};
    const headers = { Accept: "application/json" };
    const method = opts.method || (opts.body ? "POST" : "GET");
    if (method !== "GET") headers["X-CSRFToken"] = cookie("csrftoken");
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        credentials: "same-origin",
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      });
    } catch (err) {
      return { ok: false, status: 0, data: { code: "network", message: gettext("网络不可用，请稍后再试") } };
    }
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (err) { data = null; }
    }
    return { ok: response.ok, status: response.status, data };
  }

  /** Integer fen → "12.30" (yuan with two decimals). Money never becomes a float here. */
  function yuan(fen) {
    const negative = fen < 0;
    const abs = Math.abs(fen);
    const text = Math.floor(abs / 100) + "." + String(abs % 100).padStart(2, "0");
    return negative ? "-" + text : text;
  }

  /** "12.3" / "12.30" / "12" → 1230 fen, or null when it is not a money amount. */
  function parseFen(text) {
    const value = String(text || "").trim();
    const match = value.match(/^(\d{1,7})(?:\.(\d{0,2}))?$/);
    if (!match) return null;
    return parseInt(match[1], 10) * 100 + parseInt((match[2] || "").padEnd(2, "0") || "0", 10);
  }

  // Django's JavaScript catalog (jsi18n) defines window.gettext for the active language.
  function gettext(text) {
    return typeof window.gettext === "function" ? window.gettext(text) : text;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    }[c]));
  }

  function focusables(root) {
    return Array.from(root.querySelectorAll(
      'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])'
    )).filter((el) => el.offsetParent !== null || el === document.activeElement);
  }

  /** Keep Tab inside `root`; Escape calls `onEscape` (unless a PIN pad sits on top).
   * Returns the function that lets go of the keyboard again. */
  function trapKeys(root, onEscape) {
    function onKey(event) {
      if (document.querySelector(".pinpad")) return; // the PIN pad has the keyboard
      if (event.key === "Escape") { event.preventDefault(); onEscape(); return; }
      if (event.key !== "Tab") return;
      const items = focusables(root);
      if (!items.length) return;
      const first = items[0], last = items[items.length - 1];
      if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last.focus(); }
      else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
    }
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }

  // A <select data-autosubmit> submits its form on change (the language switch, the year
  // on 我的红包). Wired here rather than in an onchange attribute: the Content-Security-
  // Policy allows no inline script, event handlers included.
  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target instanceof HTMLSelectElement && target.dataset.autosubmit !== undefined && target.form) {
      target.form.submit();
    }
  });

  window.RP = { api, yuan, parseFen, newKey, cookie, gettext, escapeHtml, trapKeys };
})();
