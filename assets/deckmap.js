/* CityBrain map: deck.gl (the bundle shipped in pydeck's wheel, served by the app at
 * /vendor/deckgl.js) driven by Dash stores. Geometry is fetched once per URL and cached; updates
 * carry only values ({unit_id: {fill, label}}), merged into the cached features here.
 */
(function () {
  const geometryCache = new Map();   // url -> Promise<FeatureCollection>
  const decks = new Map();           // container id -> deck instance
  const pending = new Map();         // container id -> a spec waiting for its container or deck.gl

  function geometry(url) {
    if (!geometryCache.has(url)) {
      geometryCache.set(url, fetch(url, {credentials: 'same-origin'}).then(r => {
        if (!r.ok) { throw new Error('geometry ' + url + ': HTTP ' + r.status); }
        return r.json();
      }).catch(err => {
        geometryCache.delete(url);  // a failed fetch is not cached: the next render asks again
        throw err;
      }));
    }
    return geometryCache.get(url);
  }

  function withValues(collection, values, fallback) {
    return collection.features.map(f => {
      const v = values[f.properties.unit_id] || {};
      return {
        type: 'Feature', geometry: f.geometry,
        properties: Object.assign({}, f.properties, {
          _fill: v.fill || fallback, _label: v.label || '', _value: v.value,
        }),
      };
    });
  }

  function layers(spec, features) {
    const out = [];
    for (const layer of spec.deck.layers) {
      const copy = Object.assign({}, layer);
      if (copy.id === 'units') { copy.data = features; }
      if (copy.id === 'labels') { copy.data = spec.labels || []; }
      copy.updateTriggers = {getFillColor: spec.version, getText: spec.version};
      out.push(copy);
    }
    return out;
  }

  // Point overlays (overview toggles) and the wall's focus outline sit on top of the units' layers.
  function extraLayers(container) {
    const out = (container.__overlays || []).slice();
    if (container.__focusFeature) {
      out.push({'@@type': 'GeoJsonLayer', id: 'focus', data: [container.__focusFeature], stroked: true, filled: false,
                getLineColor: [255, 255, 255, 255], lineWidthMinPixels: container.__focusWidth || 5, pickable: false});
    }
    return out;
  }

  function redraw(container) {
    const deck = container.__deck;
    if (!deck || !container.__baseLayers) { return; }
    window.updateDeck({layers: container.__baseLayers.concat(extraLayers(container))}, deck);
  }

  function renderOverlays(overlays, containerId) {
    const container = document.getElementById(containerId);
    if (!container) { return window.dash_clientside.no_update; }
    container.__overlays = (overlays && overlays.layers) || [];
    container.dataset.overlays = ((overlays && overlays.ids) || []).join(',');
    redraw(container);
    return String((overlays && overlays.version) || 0) + ':' + container.dataset.overlays;
  }

  // Outline one unit of the geometry on screen (the wall's auto-focus); null clears it.
  function focusUnit(containerId, unitId, widthPx) {
    const container = document.getElementById(containerId);
    if (!container || !container.__geometryUrl) { return; }
    geometry(container.__geometryUrl).then(collection => {
      container.__focusFeature = unitId ? (collection.features.find(f => f.properties.unit_id === unitId) || null) : null;
      container.__focusWidth = widthPx;
      container.dataset.focus = container.__focusFeature ? unitId : '';
      redraw(container);
    });
  }

  function render(containerId, spec, clickStoreId, waited) {
    const container = document.getElementById(containerId);
    if (!spec) { return window.dash_clientside.no_update; }
    if (!container || !window.createDeck) {
      // the spec came before the container was on the page or before deck.gl finished loading:
      // draw it once both are there (a quiet city may send no other spec for hours)
      pending.set(containerId, spec);
      if ((waited || 0) < 300) {  // up to a minute; a page without this map stops asking
        setTimeout(() => {
          if (pending.get(containerId) !== spec) { return; }
          // through the public entry again: the wall fits a spec to its container once it is there
          window.dash_clientside.citybrain.renderMap(spec, containerId, clickStoreId, (waited || 0) + 1);
        }, 200);
      }
      return window.dash_clientside.no_update;
    }
    pending.delete(containerId);
    container.__spec = spec;
    geometry(spec.geometry_url).then(collection => {
      const features = withValues(collection, spec.values || {}, spec.fallback_fill || [90, 90, 90, 120]);
      const base = layers(spec, features);
      const json = Object.assign({}, spec.deck, {layers: base.concat(extraLayers(container))});
      let deck = decks.get(containerId);
      if (deck && (deck.__citybrainKey !== spec.geometry_url || container.__deck !== deck)) {
        deck.finalize(); decks.delete(containerId); deck = null;
        container.innerHTML = ''; container.__deck = null;
      }
      if (!deck) {
        deck = window.createDeck({
          container: container,
          jsonInput: json,
          tooltip: false,
        });
        // Clicks are read from the DOM and picked here (deck's own tap recogniser can miss
        // quick clicks); a press that moved more than a few pixels was a pan, not a click.
        if (!container.__clickBound) {
          container.__clickBound = true;
          let down = null;
          container.addEventListener('pointerdown', ev => { down = [ev.clientX, ev.clientY]; });
          container.addEventListener('click', ev => {
          if (!down || Math.hypot(ev.clientX - down[0], ev.clientY - down[1]) > 5 || !container.__deck) { return; }
          const rect = container.getBoundingClientRect();
          const picked = container.__deck.pickObject({x: ev.clientX - rect.left, y: ev.clientY - rect.top, layerIds: ['units']});
          const props = picked && picked.object && picked.object.properties;
          if (!props || !props.unit_id) { return; }
          window.dash_clientside.set_props(clickStoreId, {
            data: {unit_id: props.unit_id, level: container.dataset.level, at: Date.now()},
          });
          });
        }
        deck.__citybrainKey = spec.geometry_url;
        decks.set(containerId, deck);
        container.__deck = deck;  // lets browser tests project a place to a pixel
        container.dataset.deckReady = '1';
      } else {
        window.updateDeck({layers: json.layers}, deck);
      }
      container.__baseLayers = base;
      container.__geometryUrl = spec.geometry_url;
      container.dataset.version = String(spec.version);
      container.dataset.level = spec.level;
      delete container.dataset.error;
    }).catch(err => {
      container.dataset.error = String(err);
      console.warn('map:', err);
      // a quiet city may send no new spec for hours: draw this one again once the server is back
      setTimeout(() => { if (container.__spec === spec) { render(containerId, spec, clickStoreId); } }, 3000);
    });
    return String(spec.version);
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    citybrain: Object.assign({}, (window.dash_clientside || {}).citybrain, {
      renderMap: function (spec, containerId, clickStoreId, waited) { return render(containerId, spec, clickStoreId, waited); },
      renderOverlays: renderOverlays,
      focusUnit: focusUnit,
      navigateToUnit: function (click) {
        if (!click || !click.unit_id) { return window.dash_clientside.no_update; }
        // the overview's area mode picks the unit for a dispatch instead (assets/overview.js)
        if (window.citybrainAreaPick && window.citybrainAreaPick(click)) { return window.dash_clientside.no_update; }
        const lang = new URLSearchParams(window.location.search).get('lang');
        const q = lang ? ('?lang=' + encodeURIComponent(lang)) : '';
        // ids are data ("83 Queens", "a/b"): each segment encoded, "/" as %2F, as views/links.py unit_href does
        return '/unit/' + encodeURIComponent(click.level) + '/' + encodeURIComponent(click.unit_id) + q;
      },
    }),
  });
})();
