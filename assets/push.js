/* CityBrain server push: the data version arrives on /events (server-sent events) and is written to
 * the shell's `data-version` store; while the stream is live the shell's `version-poll` is switched
 * off (the wall's faster poll follows it: callbacks/wall.py). When the stream fails or the server
 * refuses it (503: too many streams in that process), the polls come back and a new stream is tried
 * later. Views follow the store, so each refreshes at most once per version. */
(function () {
  if (!window.EventSource) { return; }
  let source = null;
  let live = false;
  let lastVersion = null;
  let retryMs = 5000;

  function setProps(id, props) {  // ids of the shell: present on every page
    if (window.dash_clientside && window.dash_clientside.set_props) { window.dash_clientside.set_props(id, props); }
  }

  function setPolling(on) { setProps('version-poll', {disabled: !on}); }

  function connect() {
    source = new EventSource('/events');
    source.onmessage = function (ev) {
      const version = Number(ev.data);
      if (!live) { live = true; retryMs = 5000; setPolling(false); }
      window.citybrainPush = {live: true, version: version, at: Date.now()};
      if (version !== lastVersion) {
        lastVersion = version;
        setProps('data-version', {data: version});
      }
    };
    source.onerror = function () {
      if (live) { live = false; setPolling(true); }
      window.citybrainPush = {live: false, at: Date.now()};
      if (source.readyState === EventSource.CLOSED) {  // refused: try again later, poll meanwhile
        source = null;
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 60000);
      }
    };
  }

  // Dash renders the layout after this script runs: start once the shell is on the page.
  (function start() {
    if (document.getElementById('header-title') && window.dash_clientside && window.dash_clientside.set_props) {
      connect();
      return;
    }
    setTimeout(start, 100);
  })();
})();
