import pytest

from hybrid.config import ConfigError, from_yaml, load_config, to_yaml


def test_defaults_presets_and_overrides():
    config = load_config(["reasoner.T=3", "backbone=tiny_gpt2", "task.size=4"])
    assert config.reasoner.T == 3
    assert config.backbone.path == "tiny:gpt2"
    assert config.task.name == "sudoku" and config.task.size == 4


@pytest.mark.parametrize("override, key", [
    ("reasoner.depth=3", "depth"),
    ("train.stpes=10", "stpes"),
    ("task.sizes=4", "sizes"),
])
def test_unknown_key_is_an_error_naming_it(override, key):
    with pytest.raises(ConfigError, match=key):
        load_config([override])


def test_bad_values_and_presets_are_clear_errors():
    with pytest.raises(ConfigError, match="reasoner.T"):
        load_config(["reasoner.T=three"])
    with pytest.raises(ConfigError, match="no backbone preset 'nope'"):
        load_config(["backbone=nope"])
    with pytest.raises(ConfigError, match="unknown task 'chess'"):
        load_config(["task=chess"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(["reasoner.T"])
    with pytest.raises(ConfigError, match="mixer"):
        load_config(["reasoner.mixer=conv"])


def test_saved_config_round_trips(tmp_path):
    config = load_config(["reasoner.n=5", "task.givens=8"])
    (tmp_path / "config.yaml").write_text(to_yaml(config))
    assert from_yaml(tmp_path / "config.yaml") == config
