/* CityBrain wall (/wall): fits the server's map spec to this screen (view and label size scale
 * with the viewport, so 4K looks like 1080p, only sharper) and shows a banner when the server's
 * heartbeat stops (no successful update for 3 poll intervals: never show stale numbers silently).
 */
(function () {
  const beat = {seen: 0, pollMs: 2000, text: ''};

  // The wall's map is the overview's (callbacks/map.py -> citybrain.renderMap); on the wall the
  // spec is fitted first: the view to the wall's own map size, labels to the viewport height.
  function fitSpec(spec, container) {
    const frame = container.closest('.wall-map-fit');
    const w = container.clientWidth || 1000;
    const h = container.clientHeight || 700;
    const deck = Object.assign({}, spec.deck);
    const bounds = JSON.parse(frame.dataset.bounds || 'null');
    if (bounds) {
      const [minx, miny, maxx, maxy] = bounds;
      const lat = (miny + maxy) / 2;
      const dx = Math.max(maxx - minx, 1e-4);
      const dy = Math.max((maxy - miny) / Math.cos(lat * Math.PI / 180), 1e-4);
      // deck.gl's web-mercator world is 512 px wide at zoom 0; leave a small margin
      const zoom = Math.min(Math.log2(w * 360 / (512 * dx)), Math.log2(h * 360 / (512 * dy))) - 0.12;
      deck.initialViewState = Object.assign({}, deck.initialViewState,
        {longitude: (minx + maxx) / 2, latitude: lat, zoom: zoom});
    }
    // a wall is watched, not handled: no pan/zoom, no hover highlight
    deck.views = (deck.views || []).map(v => Object.assign({}, v, {controller: false}));
    const labelPx = Math.round(window.innerHeight * parseFloat(frame.dataset.labelVh || '2') / 100);
    const labels = spreadLabels(spec.labels || [], deck.initialViewState, labelPx);
    deck.layers = (deck.layers || []).map(layer => {
      const copy = Object.assign({}, layer, {autoHighlight: false});
      if (copy.id === 'labels') {
        Object.assign(copy, {getSize: labelPx, outlineWidth: 4, fontWeight: 700, getPixelOffset: '@@=offset'});
      }
      if (copy.id === 'units') { copy.lineWidthMinPixels = Math.max(1, Math.round(window.innerHeight / 900)); }
      return copy;
    });
    return Object.assign({}, spec, {deck: deck, labels: labels});
  }

  // Large labels of small neighbouring units (Beijing's Dongcheng and Xicheng) would overlap:
  // place them greedily, nudging a label up or down until its box is free.
  function spreadLabels(labels, view, px) {
    const scale = 512 * Math.pow(2, view.zoom || 0);
    const project = ([lon, lat]) => {
      const phi = lat * Math.PI / 180;
      return [scale * (lon + 180) / 360, scale * (1 - Math.log(Math.tan(Math.PI / 4 + phi / 2)) / Math.PI) / 2];
    };
    const placed = [];
    const h = px * 1.3;
    return labels.map(label => {
      const [x, y] = project(label.position);
      const w = Array.from(label.text || '').reduce((a, c) => a + (c.charCodeAt(0) > 0x2e80 ? 1.05 : 0.66), 0) * px + px * 1.2;
      let offset = [0, 0];
      for (const dy of [0, h, -h, 2 * h, -2 * h]) {
        const box = [x - w / 2, y + dy - h / 2, x + w / 2, y + dy + h / 2];
        const clash = placed.some(b => box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3]);
        if (!clash) { offset = [0, dy]; placed.push(box); break; }
      }
      return Object.assign({}, label, {offset: offset});
    });
  }

  function wrapRenderMap() {
    const ns = (window.dash_clientside || {}).citybrain;
    if (!ns || !ns.renderMap || ns.renderMap.__wall) { return; }
    const original = ns.renderMap;
    const wrapped = function (spec, containerId, clickStoreId, waited) {
      const container = document.getElementById(containerId);
      const onWall = spec && container && container.closest('.wall-map-fit');
      return original(onWall ? fitSpec(spec, container) : spec, containerId, clickStoreId, waited);
    };
    wrapped.__wall = true;
    ns.renderMap = wrapped;
  }

  function heartbeat(data) {
    if (!data) { return window.dash_clientside.no_update; }
    beat.seen = Date.now();
    beat.pollMs = data.poll_ms || beat.pollMs;
    beat.text = data.offline_text || beat.text;
    check();
    return data.at_ms;
  }

  function check() {
    const banner = document.getElementById('wall-offline');
    if (!banner) { return; }
    const stale = beat.seen > 0 && Date.now() - beat.seen > 3 * beat.pollMs;
    const state = stale ? 'offline' : 'online';
    if (banner.dataset.state !== state) {
      banner.dataset.state = state;
      banner.textContent = stale ? beat.text : '';
      const page = banner.closest('.page');
      if (page) { page.classList.toggle('wall-stale', stale); }
    }
  }

  setInterval(check, 500);

  // Auto-focus: outline each district with a live anomaly in turn and say why, no hover needed.
  const FOCUS_MS = 6000;
  const focusState = {units: [], index: -1, label: '', none: ''};

  function showFocus() {
    const caption = document.getElementById('wall-focus-caption');
    const ns = (window.dash_clientside || {}).citybrain;
    if (!caption || !ns || !ns.focusUnit) { return; }
    const units = focusState.units;
    if (!units.length) {
      caption.textContent = focusState.none;
      caption.dataset.unit = '';
      ns.focusUnit('map-container', null);
      return;
    }
    focusState.index = (focusState.index + 1) % units.length;
    const unit = units[focusState.index];
    caption.textContent = focusState.label + ' ' + (focusState.index + 1) + '/' + units.length + ' · ' + unit.text;
    caption.dataset.unit = unit.unit_id;
    ns.focusUnit('map-container', unit.unit_id, Math.max(4, Math.round(window.innerHeight / 200)));
  }

  function focus(data) {
    if (!data) { return window.dash_clientside.no_update; }
    const same = JSON.stringify(data.units) === JSON.stringify(focusState.units);
    focusState.units = data.units || [];
    focusState.label = data.label || '';
    focusState.none = data.none || '';
    if (!same) { focusState.index = -1; showFocus(); }
    return focusState.units.length;
  }

  setInterval(showFocus, FOCUS_MS);

  window.dash_clientside = Object.assign({}, window.dash_clientside, {wall: {heartbeat: heartbeat, focus: focus}});
  wrapRenderMap();
})();
