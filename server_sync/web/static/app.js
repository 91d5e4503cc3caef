// Live updates for the pages that show answers (overview, site, sites, fleet): a Server-Sent
// Events stream (/live) says which of the person's sites got new answers or kiosk news; if one
// of them is on this page (body data-live-sites, "*" for all), the page fetches itself again and
// swaps in its parts marked data-live. Plain JS, no library, nothing loaded from elsewhere.
(function () {
  "use strict";
  var body = document.body;
  var wanted = (body.getAttribute("data-live-sites") || "").split(" ").filter(Boolean);
  if (!wanted.length || !window.EventSource) { return; }
  var state = document.getElementById("live-state");
  var busy = false, again = false;

  function mark(on) {
    if (state) { state.textContent = state.getAttribute(on ? "data-on" : "data-off"); }
  }

  function concerns(sites) {
    if (wanted.indexOf("*") >= 0) { return true; }
    for (var i = 0; i < sites.length; i++) {
      if (wanted.indexOf(sites[i]) >= 0) { return true; }
    }
    return false;
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, {headers: {"X-Kundpuls-Live": "1"}, credentials: "same-origin"})
      .then(function (r) {
        if (r.redirected || !r.ok) { window.location.reload(); return null; }
        return r.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (old) {
          var next = old.id && fresh.getElementById(old.id);
          if (next) { old.replaceWith(document.importNode(next, true)); }
        });
        body.setAttribute("data-live-updated", String(Date.now()));
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  var source = new EventSource("/live");
  source.addEventListener("hello", function () { mark(true); });
  source.onerror = function () { mark(false); };
  // The session ended (logout elsewhere, idle expiry): stop, and let the next click sign in again.
  source.addEventListener("ended", function () { source.close(); mark(false); });
  ["answers", "fleet"].forEach(function (name) {
    source.addEventListener(name, function (e) {
      var sites = [];
      try { sites = JSON.parse(e.data).sites || []; } catch (err) { sites = []; }
      if (concerns(sites)) { refresh(); }
    });
  });
})();
