from eval.tasks import make_task
from hybrid.config import load_config
from hybrid.data import build_splits


def test_saved_splits_are_reused_until_the_generator_version_changes(tmp_path):
    config = load_config(["task.size=4", "task.train_size=8", "task.test_size=4"]).task
    task = make_task(config)
    first = build_splits(task, config, seed=0, data_dir=tmp_path)
    assert build_splits(task, config, seed=0, data_dir=tmp_path)["train"]["question"] == first["train"]["question"]
    assert len(list((tmp_path / "datasets").iterdir())) == 1

    task.version += 1  # a changed renderer or slot encoding: the old puzzles must not be reused
    build_splits(task, config, seed=0, data_dir=tmp_path)
    assert len(list((tmp_path / "datasets").iterdir())) == 2
