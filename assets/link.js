/* CityBrain link to the server: a console must heal by itself after a brief outage (a restarted
 * writer answers 503, a replaced web worker drops a connection). Dash sends each callback once and
 * forgets it when it fails, so on a quiet night nothing would ever ask again and a wall would keep a
 * blank map. Here a callback request that fails with a network error or a 5xx/429 is sent again
 * after Retry-After or 1, 2, 4 s; after that Dash sees the failure (and the wall's banner says so). */
(function () {
  if (!window.fetch || window.fetch.__citybrainRetry) { return; }
  const plainFetch = window.fetch.bind(window);
  const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
  const DELAYS_MS = [1000, 2000, 4000];

  function isCallback(input) {
    const url = typeof input === 'string' ? input : (input && input.url) || '';
    return url.indexOf('_dash-update-component') !== -1;
  }

  function waitMs(response, attempt) {
    const header = response && response.headers && response.headers.get('Retry-After');
    const seconds = header ? parseFloat(header) : NaN;
    return Number.isFinite(seconds) ? Math.min(seconds * 1000, 10000) : DELAYS_MS[attempt];
  }

  function sleep(ms) { return new Promise(resolve => setTimeout(resolve, ms)); }

  async function fetchWithRetry(input, init) {
    if (!isCallback(input)) { return plainFetch(input, init); }
    for (let attempt = 0; ; attempt++) {
      let response = null;
      try {
        response = await plainFetch(input, init);
        if (!RETRY_STATUS.has(response.status) || attempt >= DELAYS_MS.length) { return response; }
      } catch (err) {
        if (attempt >= DELAYS_MS.length) { throw err; }
      }
      window.citybrainRetries = (window.citybrainRetries || 0) + 1;
      await sleep(waitMs(response, attempt));
    }
  }
  fetchWithRetry.__citybrainRetry = true;
  window.fetch = fetchWithRetry;
})();
