"""FSDP (configs/accelerate/fsdp.yaml). Accelerate applies FSDP on GPUs only: on the CPU the same
launch runs DDP. What the project does under FSDP2 is checked here by telling Accelerate it runs
FSDP after it built its (gloo) state, which prepares the module with the same fully_shard calls
as on GPUs."""

import json
import signal
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator, FullyShardedDataParallelPlugin, debug_launcher
from accelerate.state import AcceleratorState, PartialState
from accelerate.utils import DistributedType, merge_fsdp_weights
from safetensors.torch import load_file, save_file
from torch.distributed.fsdp import FSDPModule

import hybrid.launch
import hybrid.train
from eval.__main__ import evaluate_run
from hybrid.config import ConfigError
from hybrid.train import train


# FSDP2 (fully_shard, fsdp_version=2) came to Accelerate in 1.6; pyproject's floor is 1.1
needs_fsdp2 = pytest.mark.skipif(not hasattr(Accelerator, "is_fsdp2"), reason="FSDP2 needs accelerate >= 1.6")


class FSDP2(Accelerator):
    """An Accelerator that runs FSDP2 as configs/accelerate/fsdp.yaml asks on GPUs: Accelerate 1.16
    selects FSDP only for GPU-like devices, so it is set here once the gloo state is built (both
    shared states: a later AcceleratorState() copies the partial one's again)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PartialState._shared_state["distributed_type"] = DistributedType.FSDP
        AcceleratorState._shared_state["distributed_type"] = DistributedType.FSDP
        AcceleratorState._shared_state["fsdp_plugin"] = FullyShardedDataParallelPlugin(
            fsdp_version=2, auto_wrap_policy="transformer_based_wrap", state_dict_type="SHARDED_STATE_DICT")


def test_fsdp_with_the_ema_is_an_error_before_anything_is_built(small_config, monkeypatch, tmp_path):
    """The EMA deep-copies the trained module, which FSDP refuses ("FSDP does not support
    deepcopy"): said at the start, not after the data is generated and embedded."""

    class UnderFSDP(Accelerator):
        distributed_type = DistributedType.FSDP  # as accelerate reports it on GPUs with fsdp.yaml

    monkeypatch.setattr(hybrid.launch, "Accelerator", UnderFSDP)
    config = small_config("train.ema=0.999", f"train.data_dir={tmp_path / 'cache'}")
    with pytest.raises(ConfigError, match=r"train.ema=0.999: .* FSDP .* run FSDP with train.ema=0"):
        train(config)
    assert not Path(tmp_path / "cache").exists() and not Path(config.train.output_dir).exists()


def train_under_fsdp2(config, report: str):
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # one stuck in a collective dies (test_distributed.end_if_stuck)
    signal.alarm(300)
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(1)
    hybrid.launch.Accelerator = FSDP2  # in this forked process only
    real, seen = hybrid.train.supervise, []

    def supervise(model, *args):
        units = sum(isinstance(m, FSDPModule) for m in model.modules())  # the whole, embeddings, 2 layers
        seen.append((type(next(model.parameters())).__name__, units))
        return real(model, *args)

    hybrid.train.supervise = supervise
    results = train(config)
    if AcceleratorState().process_index == 0:
        Path(report).write_text(json.dumps({"sharded": seen, "results": results}))


@needs_fsdp2
def test_fsdp2_trains_evaluates_and_writes_final_weights_whole(small_config, tmp_path):
    """Under FSDP2 (two CPU processes) the final evaluation runs the LoRA backbone outside forward
    (it failed on weights still sharded: "got mixed torch.Tensor and DTensor"), and final/ gets
    every weight whole (it failed writing shards): those of the sharded end checkpoint, which
    evaluate as the run did."""
    overrides = ("backbone.lora.rank=4", "train.ema=0", "train.steps=2", "train.checkpoint_every=0",
                 f"train.data_dir={tmp_path / 'cache'}")
    report = tmp_path / "fsdp.json"
    config = small_config(*overrides, f"train.output_dir={tmp_path / 'fsdp'}")
    debug_launcher(train_under_fsdp2, args=(config, str(report)), num_processes=2)
    fsdp = json.loads(report.read_text())
    assert fsdp["sharded"] == [["DTensor", 4]] * 2 and fsdp["results"]["num_processes"] == 2
    assert (tmp_path / "fsdp" / "checkpoints" / "step_00000002" / "pytorch_model_fsdp_0").is_dir()  # sharded

    # final/ holds the trained weights whole: those of the sharded end checkpoint, merged
    run = tmp_path / "fsdp"
    merge_fsdp_weights(str(run / "checkpoints" / "step_00000002" / "pytorch_model_fsdp_0"), str(tmp_path / "merged"))
    final, merged = load_file(run / "final" / "model.safetensors"), load_file(tmp_path / "merged" / "model.safetensors")
    assert final.keys() == merged.keys() and all(torch.equal(final[k], merged[k]) for k in final)
    assert any("lora_" in k for k in final)
    report = evaluate_run(run, out=tmp_path / "eval")  # final/, read back in one process
    assert report["cell_curve"] == pytest.approx(fsdp["results"]["test"]["cell_curve"])


def test_a_sharded_checkpoint_read_for_its_weights_says_how_to_merge_them(tmp_path):
    from hybrid.checkpoint import CheckpointError, read_weights

    folder = tmp_path / "step_00000002"
    (folder / "pytorch_model_fsdp_0").mkdir(parents=True)
    with pytest.raises(CheckpointError, match=r"FSDP's shards .* accelerate merge-weights .*pytorch_model_fsdp_0 "):
        read_weights(folder)
    save_file({"w": torch.ones(2)}, folder / "model.safetensors")  # what the merge it names writes there
    state, source = read_weights(folder)
    assert source == "step_00000002/model.safetensors" and torch.equal(state["w"], torch.ones(2))


@needs_fsdp2
def test_fsdp_wraps_the_lora_backbone_layer_by_layer(tiny_backbone):
    """fsdp.yaml's TRANSFORMER_BASED_WRAP finds the layer classes in the prepared module's
    `_no_split_modules`, which transformers models have and the hybrid takes from its backbone;
    without them only the whole module is one FSDP unit. (SIZE_BASED_WRAP cannot work: it also
    picks the ModuleList holding the layers, which fully_shard refuses.)"""
    from accelerate.utils.fsdp_utils import fsdp2_prepare_auto_wrap_policy

    from hybrid.backbone import FrozenBackbone
    from hybrid.config import LoraConfig, load_config
    from hybrid.lora import LoraHybrid, add_lora

    backbone = add_lora(FrozenBackbone(load_config([f"backbone.path={tiny_backbone('bert')}"]).backbone), LoraConfig())
    model = LoraHybrid(backbone, torch.nn.Linear(2, 2))
    plugin = FullyShardedDataParallelPlugin(fsdp_version=2, auto_wrap_policy="transformer_based_wrap")
    wraps = fsdp2_prepare_auto_wrap_policy(plugin, model)
    assert sorted(type(m).__name__ for m in model.modules() if wraps(m)) == ["BertEmbeddings", "BertLayer", "BertLayer"]
