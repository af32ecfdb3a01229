/* CityBrain overview: an alert's "acknowledge" button asks the server through one store (the
 * server checks the caller's role and scope; this only says which alert was pressed). */
(function () {
  document.addEventListener('click', function (ev) {
    const button = ev.target.closest && ev.target.closest('.ack-button[data-alert]');
    if (!button || !window.dash_clientside || !window.dash_clientside.set_props) { return; }
    button.disabled = true;
    window.dash_clientside.set_props('overview-ack-request', {
      data: {alert_id: parseInt(button.dataset.alert, 10), at: Date.now()},
    });
  });
})();
