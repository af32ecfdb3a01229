"""Replay: a real file through the live path (Redis Streams -> the writer), paced and re-timed."""
import datetime as dt
import threading

import pandas as pd

from datasources.bus import RedisStreamBus
from datasources.mapping import Mapping
from datasources.replay import load_replay, replay
from tests.conftest import NYC, ROOT, run_cli


def test_pacing_follows_the_speed_and_retimes_to_the_wall_clock(nyc, shared_data):
    frame = load_replay(shared_data / "nyc-pm25-nyccas" / "pm25_hourly.parquet", "sensors",
                        Mapping.load(ROOT / "mappings" / "nyc_pm25.toml"), nyc).head(200)
    clock = [0.0]
    sent = []
    wall = dt.datetime(2026, 11, 22, 12, 0)
    count = replay(frame, "sensors", lambda feed, recs: sent.append((clock[0], recs)), speed=3600,
                   clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s), now=lambda: wall)
    assert count == 200 == sum(len(r) for _, r in sent)
    hours = (frame._order.max() - frame._order.min()).total_seconds() / 3600
    assert abs(clock[0] - hours) <= 1.01  # one data hour per wall second at 3600x
    first, last = sent[0][1][0], sent[-1][1][-1]
    assert first["observed_at"].startswith("2026-11-22T12:00:00")
    span = pd.Timestamp(last["observed_at"]) - pd.Timestamp(first["observed_at"])
    assert abs(span.total_seconds() - hours) < 1  # retimed: compressed by the speed


def test_replay_through_redis_lands_every_record(redis_server, store, nyc, shared_data, tmp_path):
    import redis

    redis_server = redis_server.rsplit("/", 1)[0] + "/4"  # a database of its own: a served console consumes db 0
    redis.Redis.from_url(redis_server).delete("citybrain:feed:sensors")  # a stream of its own for this test
    readings = pd.read_parquet(shared_data / "nyc-pm25-nyccas" / "pm25_hourly.parquet").head(3000)
    path = tmp_path / "part.parquet"
    readings.to_parquet(path)
    run = run_cli("simulate", "--replay", path, "--mapping", ROOT / "mappings" / "nyc_pm25.toml", "--feed", "sensors",
                  "--speed", "100000000", "--redis-url", redis_server, "--city", NYC)
    assert run.returncode == 0, run.stderr
    assert '"published": 3000' in run.stdout
    bus = RedisStreamBus(redis_server)
    stop = threading.Event()
    consumer = threading.Thread(target=bus.consume, args=(store, nyc, stop), daemon=True)
    consumer.start()
    expected = int(readings.pm25_ugm3.notna().sum())
    deadline = dt.datetime.now() + dt.timedelta(seconds=60)
    while dt.datetime.now() < deadline:
        if store.cursor().execute("select count(*) from readings").fetchall()[0][0] >= expected:
            break
        threading.Event().wait(0.2)
    stop.set()
    consumer.join(timeout=10)
    stored = store.cursor().execute("select count(*), max(observed_at) from readings").fetchall()[0]
    assert stored[0] == expected
    assert stored[1] > dt.datetime(2026, 1, 1)  # re-timed onto the wall clock
    quarantined = store.cursor().execute("select count(*) from quarantine").fetchall()[0][0]
    assert quarantined == len(readings) - expected  # missing values kept with a reason
