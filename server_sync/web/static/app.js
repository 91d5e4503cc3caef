// Live updates for the pages that show answers (overview, site, sites, fleet): a Server-Sent
// Events stream (/live) says which of the person's sites got new answers or kiosk news; if one
// of them is on this page (body data-live-sites, "*" for all), the page fetches itself again and
// updates its parts marked data-live in place: the focused element and the live regions stay the
// same nodes, so a keyboard or screen-reader user is not thrown to the top of the page whenever a
// kiosk sends answers, and "today" is announced. Plain JS, no library, nothing loaded from elsewhere.
(function () {
  "use strict";
  var body = document.body;
  var wanted = (body.getAttribute("data-live-sites") || "").split(" ").filter(Boolean);
  if (!wanted.length || !window.EventSource) { return; }
  var state = document.getElementById("live-state");
  var busy = false, again = false, connected = false;
  // Pausing (WCAG 2.2.2): a toggle beside the live state stops the page changing by itself, on
  // every page until pressed again (localStorage); news that came meanwhile is fetched on resume.
  var toggle = document.getElementById("live-pause");
  var PAUSED = "kundpuls-live-paused", paused = false, missed = false;
  try { paused = window.localStorage.getItem(PAUSED) === "1"; } catch (err) { paused = false; }

  function mark(on) {
    connected = on;
    if (!state) { return; }
    var said = state.getAttribute(on ? "data-on" : "data-off");
    state.textContent = on && paused && toggle ? said + " (" + toggle.getAttribute("data-paused") + ")" : said;
  }

  if (toggle) {
    toggle.hidden = false;
    toggle.setAttribute("aria-pressed", String(paused));
    toggle.addEventListener("click", function () {
      paused = !paused;
      toggle.setAttribute("aria-pressed", String(paused));
      try { window.localStorage.setItem(PAUSED, paused ? "1" : "0"); } catch (err) { /* kept for this page only */ }
      mark(connected);
      if (!paused && missed) { missed = false; refresh(); }
    });
  }

  function concerns(sites) {
    if (wanted.indexOf("*") >= 0) { return true; }
    for (var i = 0; i < sites.length; i++) {
      if (wanted.indexOf(sites[i]) >= 0) { return true; }
    }
    return false;
  }

  // Whether `el` must stay the node it is while its page is updated: it holds the keyboard focus
  // (a replaced element takes the focus with it, to <body>), or it is or holds a live region (a
  // screen reader announces a change of a live region's text, not a new region).
  function kept(el) {
    return el.contains(document.activeElement) || el.matches("[aria-live]") || !!el.querySelector("[aria-live]");
  }

  // Makes `old` show what `next` (already imported) shows, touching only what changed: an equal
  // child stays, a changed text is changed in place, a kept element is patched inside, any other
  // changed element is replaced. Where the children differ in shape, they are all replaced.
  function patch(old, next) {
    Array.prototype.slice.call(old.attributes).forEach(function (a) {
      if (!next.hasAttribute(a.name)) { old.removeAttribute(a.name); }
    });
    Array.prototype.forEach.call(next.attributes, function (a) {
      if (old.getAttribute(a.name) !== a.value) { old.setAttribute(a.name, a.value); }
    });
    var a = Array.prototype.slice.call(old.childNodes), b = Array.prototype.slice.call(next.childNodes);
    var alike = a.length === b.length && a.every(function (n, i) { return n.nodeName === b[i].nodeName; });
    if (!alike) { old.replaceChildren.apply(old, b); return; }
    a.forEach(function (n, i) {
      if (n.isEqualNode(b[i])) { return; }
      if (n.nodeType === Node.TEXT_NODE) { n.data = b[i].data; }
      else if (n.nodeType === Node.ELEMENT_NODE && kept(n)) { patch(n, b[i]); }
      else { n.replaceWith(b[i]); }
    });
  }

  // What finds the focused element's counterpart if it was replaced after all: its id, else its
  // tag, link and text, else its place (child indices) in the live part.
  function keyOf(el, root) {
    var path = [];
    for (var e = el; e !== root; e = e.parentElement) {
      path.unshift(Array.prototype.indexOf.call(e.parentElement.children, e));
    }
    return {id: el.id, tag: el.tagName, href: el.getAttribute("href"), text: el.textContent.trim(), path: path};
  }

  function counterpart(key, root) {
    if (key.id && document.getElementById(key.id)) { return document.getElementById(key.id); }
    var same = Array.prototype.filter.call(root.querySelectorAll(key.tag), function (e) {
      return e.getAttribute("href") === key.href && e.textContent.trim() === key.text;
    });
    if (same.length) { return same[0]; }
    var e = root;
    for (var i = 0; e && i < key.path.length; i++) { e = e.children[key.path[i]]; }
    return e && e.tagName === key.tag ? e : root;
  }

  function update(old, next) {
    var focused = old.contains(document.activeElement) ? document.activeElement : null;
    var key = focused && keyOf(focused, old);
    // A table the reader opened stays open.
    old.querySelectorAll("details[open][id]").forEach(function (d) {
      var n = next.querySelector("#" + CSS.escape(d.id));
      if (n) { n.setAttribute("open", ""); }
    });
    patch(old, next);
    if (focused && !document.contains(focused)) {
      var target = counterpart(key, old);
      if (target === old && !old.hasAttribute("tabindex")) { old.setAttribute("tabindex", "-1"); }
      target.focus({preventScroll: true});
    }
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
          if (next) { update(old, document.importNode(next, true)); }
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
      if (!concerns(sites)) { return; }
      if (paused) { missed = true; } else { refresh(); }
    });
  });
})();

// The alert's close form: only the fields of the outcome chosen (an action's note, type, day or
// one already logged; why none was needed; a duplicate's alert), the others hidden and disabled, so a value typed and
// then left behind by another choice is not sent; the reason or the duplicate's id, when its outcome is
// chosen, required (data-needed). Without script every field shows and the
// server says which do not go together.
(function () {
  "use strict";
  var outcome = document.getElementById("f-outcome");
  if (!outcome) { return; }
  var fields = outcome.form.querySelectorAll("[data-outcome]");
  function show() {
    fields.forEach(function (field) {
      var off = field.getAttribute("data-outcome") !== outcome.value;
      field.hidden = off;
      field.querySelectorAll("input, select").forEach(function (el) {
        el.disabled = off;
        // The one field its outcome cannot do without: the browser says so before sending.
        if (el.hasAttribute("data-needed")) { el.required = !off; }
      });
    });
  }
  outcome.addEventListener("change", show);
  show();
})();

// The warning before the idle limit ends the session (WCAG 2.2.1): typing is no request, so a
// person writing a long comment was signed out without a word and lost it on sending. The page
// carries the seconds its session has left (body data-idle-seconds); a while before they run
// out the notice shows and takes the focus, its button counts as activity (POST /session, the
// page's CSRF token) and gives the focus back; past the limit the notice says the session ended.
(function () {
  "use strict";
  var left = parseFloat(document.body.getAttribute("data-idle-seconds"));
  var notice = document.getElementById("idle-notice");
  if (!notice || !(left >= 0)) { return; }
  var words = document.getElementById("idle-text"), stay = document.getElementById("idle-stay");
  var warning = words.textContent;
  var token = document.querySelector("input[name=csrf_token]");
  var lead = Math.min(120, left / 3);       // 2 minutes ahead, a third of a short limit
  var timers = [], back = null;
  // The session is one for every tab: a page loaded or "Stay" pressed in another tab moves its
  // idle clock on, which this tab's own count does not know (it warned, then said the session
  // had ended, while the person worked on in the other tab). Each tab shares when the session
  // ends as far as it knows, and reads it before warning or ending.
  var KEY = "kundpuls-idle-until";
  function sharedLeft() {
    var until = 0;
    try { until = parseFloat(window.localStorage.getItem(KEY)) || 0; } catch (e) { /* no storage: this tab alone */ }
    return (until - Date.now()) / 1000;
  }
  function share(seconds) {
    try {
      if (seconds > sharedLeft()) { window.localStorage.setItem(KEY, String(Date.now() + seconds * 1000)); }
    } catch (e) { /* no storage: this tab alone */ }
  }

  function schedule(seconds) {
    share(seconds);
    timers.forEach(clearTimeout);
    timers = [setTimeout(warn, Math.max(0, seconds - lead) * 1000), setTimeout(ended, seconds * 1000)];
  }
  function warn() {
    var s = sharedLeft();
    if (s > lead + 1) { schedule(s); return; }     // another tab was active meanwhile
    back = document.activeElement;
    notice.hidden = false;
    stay.focus();
  }
  function hide() {
    notice.hidden = true;
    words.textContent = warning;
    if (back && back !== document.body && document.contains(back)) { back.focus(); }
  }
  function unanswered() {
    words.textContent = notice.getAttribute("data-retry");
    stay.focus();
  }
  // `known`: the server said the session is over (the Stay button's answer), which no other tab's
  // clock can undo; the timer's end is checked against the tabs' shared one first.
  function ended(known) {
    var s = sharedLeft();
    if (known !== true && s > 1) { if (!notice.hidden) { hide(); } schedule(s); return; }    // another tab kept it
    if (known === true) {
      try { window.localStorage.removeItem(KEY); } catch (e) { /* no storage */ }
    }
    timers.forEach(clearTimeout);
    words.textContent = notice.getAttribute("data-ended");
    stay.hidden = true;
    notice.hidden = false;
  }
  stay.addEventListener("click", function () {
    var form = new URLSearchParams({csrf_token: token ? token.value : ""});
    fetch("/session", {method: "POST", body: form, credentials: "same-origin"})
      .then(function (r) {
        // Sent to the login page (the session is over) or refused its token (a new session in
        // another tab): ended. Any other failure (a 503 while the database is down) is no end:
        // the notice stays and says so; it said "signed out" while the session went on.
        if (r.redirected || r.status === 401 || r.status === 403) { ended(true); return; }
        if (!r.ok) { unanswered(); return; }
        return r.json().then(function (d) { hide(); schedule(d.seconds_left); });
      })
      .catch(unanswered);     // out of reach: the same
  });
  notice.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !stay.hidden) { hide(); }
  });
  window.addEventListener("storage", function (e) {    // another tab moved the clock on
    var s = sharedLeft();
    if (e.key !== KEY || stay.hidden || s <= lead) { return; }
    if (!notice.hidden) { hide(); }
    schedule(s);
  });
  var logout = document.querySelector("form[action='/logout']");
  if (logout) {
    logout.addEventListener("submit", function () {
      try { window.localStorage.removeItem(KEY); } catch (e) { /* no storage */ }
    });
  }
  schedule(left);
})();
