/* A chat room's composer: the text box (Enter sends, Shift+Enter is a new line; it grows
 * with its text, up to 120px), sending a text message through the API, and the "+" menu
 * (红包, …).
 *
 * RPChat.startComposer({url, onSent(message), onError(text)}) is called by chat-room.js
 * when the room starts: `url` is the room's messages API, onSent draws the message the
 * server stored, onError shows why it was refused.
 */
(function () {
  "use strict";

  const RP = window.RP;

  function startComposer(options) {
    const form = document.getElementById("composer");
    const input = document.getElementById("composer-text");
    const sendButton = document.getElementById("composer-send");
    const plus = document.getElementById("composer-plus");
    const menu = document.getElementById("plus-menu");
    let sending = false;

    function updateComposer() {
      const empty = !input.value.trim();
      form.classList.toggle("composer-empty", empty);
      input.style.height = "auto";
      input.style.height = Math.min(input.scrollHeight, 120) + "px";
    }

    async function send() {
      const text = input.value.trim();
      if (!text || sending) return;
      sending = true;
      sendButton.disabled = true;
      const res = await RP.api(options.url, { body: { text } });
      sending = false;
      sendButton.disabled = false;
      if (res.ok) {
        input.value = "";
        updateComposer();
        options.onSent(res.data);
      } else {
        options.onError(res.data && (res.data.fields && res.data.fields.text || res.data.message));
      }
      input.focus();
    }

    function setMenu(open) {
      menu.hidden = !open;
      plus.setAttribute("aria-expanded", String(open));
      if (open) {
        const first = menu.querySelector("[role=menuitem]");
        if (first) first.focus();
      }
    }

    form.addEventListener("submit", (e) => { e.preventDefault(); send(); });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        send();
      }
    });
    input.addEventListener("input", updateComposer);
    updateComposer();

    plus.addEventListener("click", () => setMenu(menu.hidden));
    menu.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { setMenu(false); plus.focus(); }
    });
    document.addEventListener("click", (e) => {
      if (!menu.hidden && !menu.contains(e.target) && e.target !== plus) setMenu(false);
    });
  }

  window.RPChat.startComposer = startComposer;
})();
