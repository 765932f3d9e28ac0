/* The room list (chat/rooms.html): its rows are re-fetched every few seconds while the
 * page is visible, and swapped in when they changed.
 */
(function () {
  "use strict";

  const POLL_MS = 5000;

  function startRoomList(list) {
    const url = list.dataset.partialUrl;
    let last = list.innerHTML;
    async function refresh() {
      if (document.hidden) return;
      try {
        const response = await fetch(url, { credentials: "same-origin" });
        if (!response.ok) return;
        const html = await response.text();
        if (html !== last) { list.innerHTML = html; last = html; }
      } catch (err) { /* offline: try again on the next tick */ }
    }
    setInterval(refresh, POLL_MS);
    document.addEventListener("visibilitychange", refresh);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const list = document.getElementById("room-list");
    if (list && list.dataset.partialUrl) startRoomList(list);
  });
})();
