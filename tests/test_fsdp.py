"""FSDP (configs/accelerate/fsdp.yaml). Accelerate applies FSDP on GPUs only: on the CPU the same
launch runs DDP. What the project does under FSDP2 is checked here by telling Accelerate it runs
FSDP after it built its (gloo) state, which prepares the module with the same fully_shard calls
as on GPUs."""

from pathlib import Path

import pytest
from accelerate import Accelerator
from accelerate.utils import DistributedType

import hybrid.train
from hybrid.config import ConfigError
from hybrid.train import train


def test_fsdp_with_the_ema_is_an_error_before_anything_is_built(small_config, monkeypatch, tmp_path):
    """The EMA deep-copies the trained module, which FSDP refuses ("FSDP does not support
    deepcopy"): said at the start, not after the data is generated and embedded."""

    class UnderFSDP(Accelerator):
        distributed_type = DistributedType.FSDP  # as accelerate reports it on GPUs with fsdp.yaml

    monkeypatch.setattr(hybrid.train, "Accelerator", UnderFSDP)
    config = small_config("train.ema=0.999", f"train.data_dir={tmp_path / 'cache'}")
    with pytest.raises(ConfigError, match=r"train.ema=0.999: .* FSDP .* run FSDP with train.ema=0"):
        train(config)
    assert not Path(tmp_path / "cache").exists() and not Path(config.train.output_dir).exists()
