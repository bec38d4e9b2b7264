// Tell the server the browser's time zone (the "tz" cookie), the default of every page's
// times until the user picks one. When the page was drawn in another zone only because the
// cookie was missing or stale, draw it again once in the browser's zone.
(function () {
  "use strict";
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone) { return; }
  var match = document.cookie.match(/(?:^|;\s*)tz=([^;]*)/);
  var cookie = match ? decodeURIComponent(match[1]) : "";
  if (cookie === zone) { return; }
  document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
  var body = document.body;
  var drawnIn = body ? body.getAttribute("data-time-zone") : "";
  var source = body ? body.getAttribute("data-time-zone-source") : "";
  // A GET page drawn in the wrong zone is redrawn; a zone the user chose is left alone.
  if (source !== "user" && drawnIn !== zone && document.cookie.indexOf("tz=") !== -1) {
    window.location.reload();
  }
})();
