-- Where a joint dispatch order came from (DESIGN §3: cases, an alert, a map area): the alert it
-- was launched from (its state follows the order: dispatched, closed on verification, acknowledged
-- again on cancellation) and the map area ("district:110105", or "box:minlon,minlat,maxlon,maxlat").
alter table dispatch_orders add column if not exists alert_id bigint;
alter table dispatch_orders add column if not exists area varchar;
