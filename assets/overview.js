/* CityBrain overview: an alert's buttons and the map's area picking tell the server what was pressed
 * or picked through one store each (the server checks the caller's role and scope, and reads the
 * cases itself; this only says which alert or which area). */
(function () {
  function setProps(id, data) {
    if (window.dash_clientside && window.dash_clientside.set_props) { window.dash_clientside.set_props(id, {data: data}); }
  }

  document.addEventListener('click', function (ev) {
    const dispatch = ev.target.closest && ev.target.closest('.alert-dispatch[data-alert]');
    if (dispatch) {
      setProps('dispatch-origin', {kind: 'alert', alert_id: parseInt(dispatch.dataset.alert, 10), at: Date.now()});
      return;
    }
    const button = ev.target.closest && ev.target.closest('.ack-button[data-alert]');
    if (button) {
      button.disabled = true;
      setProps('overview-ack-request', {alert_id: parseInt(button.dataset.alert, 10), at: Date.now()});
      return;
    }
    const toggle = ev.target.closest && ev.target.closest('#overview-area-mode');
    if (toggle) { setAreaMode(toggle.getAttribute('aria-pressed') !== 'true'); }
  });

  // Area mode: a click on a district picks it (deckmap.js asks `areaPick` before navigating), a
  // drag draws a box (the map does not pan meanwhile).
  function mapContainer() { return document.querySelector('.overview .deck-map'); }

  function setAreaMode(on) {
    const toggle = document.getElementById('overview-area-mode');
    const container = mapContainer();
    if (!toggle || !container) { return; }
    toggle.setAttribute('aria-pressed', on ? 'true' : 'false');
    toggle.classList.toggle('active', on);
    container.dataset.pick = on ? 'area' : '';
    const hint = document.getElementById('overview-area-hint');
    if (hint) { hint.textContent = on ? (toggle.title || '') : ''; }
    if (container.__deck) { container.__deck.setProps({controller: {dragPan: !on, doubleClickZoom: !on}}); }
    if (!on) { clearBox(container); }
  }

  function clearBox(container) {
    const box = container.querySelector('.area-box');
    if (box) { box.remove(); }
  }

  let drag = null;
  document.addEventListener('pointerdown', function (ev) {
    const container = mapContainer();
    if (!container || container.dataset.pick !== 'area' || !container.contains(ev.target)) { return; }
    const rect = container.getBoundingClientRect();
    drag = {container: container, x0: ev.clientX - rect.left, y0: ev.clientY - rect.top, rect: rect};
  }, true);
  document.addEventListener('pointermove', function (ev) {
    if (!drag) { return; }
    const x = ev.clientX - drag.rect.left, y = ev.clientY - drag.rect.top;
    if (Math.hypot(x - drag.x0, y - drag.y0) < 6 && !drag.box) { return; }
    if (!drag.box) {
      clearBox(drag.container);
      drag.box = document.createElement('div');
      drag.box.className = 'area-box';
      drag.container.appendChild(drag.box);
    }
    Object.assign(drag.box.style, {left: Math.min(x, drag.x0) + 'px', top: Math.min(y, drag.y0) + 'px',
                                   width: Math.abs(x - drag.x0) + 'px', height: Math.abs(y - drag.y0) + 'px'});
    drag.x1 = x; drag.y1 = y;
  }, true);
  document.addEventListener('pointerup', function () {
    const done = drag;
    drag = null;
    if (!done || !done.box || !done.container.__deck) { return; }
    const viewport = done.container.__deck.getViewports()[0];
    const a = viewport.unproject([done.x0, done.y0]), b = viewport.unproject([done.x1, done.y1]);
    done.container.dataset.areaBox = [a[0], a[1], b[0], b[1]].map(v => v.toFixed(5)).join(',');
    setProps('dispatch-origin', {kind: 'box', bbox: [a[0], b[1], b[0], a[1]], at: Date.now()});
  }, true);

  window.citybrainAreaPick = function (click) {
    const container = mapContainer();
    if (!container || container.dataset.pick !== 'area' || !click || !click.unit_id) { return false; }
    clearBox(container);
    setProps('dispatch-origin', {kind: 'unit', level: click.level, unit_id: click.unit_id, at: Date.now()});
    if (window.dash_clientside.citybrain && window.dash_clientside.citybrain.focusUnit) {
      window.dash_clientside.citybrain.focusUnit(container.id, click.unit_id, 4);
    }
    return true;
  };
})();
