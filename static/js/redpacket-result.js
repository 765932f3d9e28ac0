/* The result page, live (SPEC §4): the viewer's "入账中…" turns into "已存入零钱…" when
 * their share is credited (wallet.credited for this packet), and the summary, list and
 * buttons follow others' opens (packet.claimed / packet.finished / packet.expired on the
 * room socket notices.js holds for this page) — without a reload.
 *
 * Nothing is decided here: the page asks the server for itself again and swaps in its
 * [data-live-part] sections, so the rules stay in rules.py / the template. After every
 * (re)connect it does the same, catching up with whatever happened meanwhile.
 */
(function () {
  "use strict";

  const RP = window.RP;
  const head = document.querySelector("[data-result-live]");
  if (!head || !RP || !RP.live) return;
  const packetId = Number(head.dataset.packetId);

  let timer = null;
  let busy = false;
  let again = false;

  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const response = await fetch(location.pathname + location.search, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      if (response.ok) {
        const doc = new DOMParser().parseFromString(await response.text(), "text/html");
        const names = new Set();
        for (const el of document.querySelectorAll("[data-live-part]")) names.add(el.dataset.livePart);
        for (const el of doc.querySelectorAll("[data-live-part]")) names.add(el.dataset.livePart);
        for (const name of names) {
          const old = document.querySelector(`[data-live-part="${name}"]`);
          const fresh = doc.querySelector(`[data-live-part="${name}"]`);
          if (old && fresh) old.replaceWith(document.importNode(fresh, true));
          else if (old) old.remove();
          else if (fresh && name === "buttons") head.append(document.importNode(fresh, true));
        }
      }
    } catch (err) {
      console.error("result refresh failed", err);
    }
    busy = false;
    if (again) { again = false; refresh(); }
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 100);
  }

  const ours = (event) => Number(event.packet_id) === packetId;
  for (const type of ["packet.claimed", "packet.finished", "packet.expired", "wallet.credited"]) {
    RP.live.on(type, (event) => { if (ours(event)) soon(); });
  }
  RP.live.on("socket.open", soon);
})();
