from settings import ROOT, SETTINGS, Settings, settings_table_markdown


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    assert settings_table_markdown() in readme, "regenerate the README settings table: python -c 'import settings; print(settings.settings_table_markdown())'"


def test_environment_then_overrides():
    settings = Settings.load(env={"PORT": "9001", "CITYBRAIN_SIMULATE": "no"}, data_dir="/tmp/x")
    assert settings.port == 9001 and settings.simulate is False and str(settings.data_dir) == "/tmp/x"
    assert Settings.load(env={"PORT": "9001"}, port=7000).port == 7000
    assert {s.name for s in SETTINGS} >= {"city", "data_dir", "port", "redis_url"}
