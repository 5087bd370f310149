"""LoRA on the backbone (`backbone.lora.rank=8`): a little of the backbone trains, by `peft`.

The frozen base weights stay untouched; peft adds low-rank weights to a few projections
(peft's default for the architecture, or `backbone.lora.target_modules`). Those change the
token states after every optimizer step, so the cache is off and the backbone runs inside the
trained module: `LoraHybrid` takes token ids, runs the backbone with gradient, then the hybrid.
Accelerate prepares that whole module, so under DDP the LoRA weights are all-reduced like the
rest. Checkpoints hold only trainable weights: `trainable_state_only` drops the frozen base
weights from every state dict of the backbone and fills them back in from the loaded backbone
when a checkpoint is read, so a save/load round trip is exact and a few MB in size.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn

from hybrid.backbone import DTYPES, FrozenBackbone
from hybrid.config import ConfigError, LoraConfig, first_line


def add_lora(backbone: FrozenBackbone, lora: LoraConfig) -> FrozenBackbone:
    """Wrap the backbone's transformer with peft LoRA weights (the only trainable ones in it)."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    if not isinstance(backbone, FrozenBackbone):
        raise ConfigError(f"backbone.lora needs a transformer backbone; {backbone.config.path!r} has no weights to adapt")
    if backbone.has_lora:
        return backbone
    # peft only fails when no name matches at all: with [query, vaule] it would silently adapt
    # the queries alone, so each name must match a module (peft's rule for a list: the module's
    # full name, or its name ending in "." + the target).
    names = [name for name, _ in backbone.model.named_modules()]
    unmatched = [t for t in lora.target_modules or [] if not any(n == t or n.endswith("." + t) for n in names)]
    if unmatched:
        raise ConfigError(f"backbone.lora.target_modules={lora.target_modules}: {', '.join(unmatched)} "
                          f"{'matches' if len(unmatched) == 1 else 'match'} no module of this backbone. "
                          f"Linear layers in this backbone: {linear_layers(backbone.model)}")
    settings = PeftLoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                              target_modules=list(lora.target_modules) if lora.target_modules else None)
    try:
        backbone.model = get_peft_model(backbone.model, settings)
    except ValueError as err:  # unknown architecture, or a module type peft cannot adapt
        if lora.target_modules is None:  # peft has no default for this architecture (DistilBERT, ModernBERT, Phi-3...)
            raise ConfigError(f"backbone.lora: peft has no default target modules for this backbone "
                              f"({backbone.text_config.model_type}); name its attention projections with "
                              f"backbone.lora.target_modules=[...]. Linear layers in this backbone: "
                              f"{linear_layers(backbone.model)}") from None
        # peft names a module it cannot adapt by its repr, which for a block (`attention`, `encoder`)
        # spans many lines: its first line alone said "Target module BertAttention(".
        blocks = sorted({f"{t} ({type(m).__name__})" for t in lora.target_modules for n, m in backbone.model.named_modules()
                         if (n == t or n.endswith("." + t)) and next(m.children(), None) is not None})
        cause = f"{', '.join(blocks)}: a block of layers, not a layer LoRA can adapt." if blocks else first_line(err)
        raise ConfigError(f"backbone.lora.target_modules={lora.target_modules}: {cause} "
                          f"Linear layers in this backbone: {linear_layers(backbone.model)}") from None
    backbone.has_lora = True
    freeze_unread(backbone)
    trainable_state_only(backbone)
    return backbone


def freeze_unread(backbone: FrozenBackbone) -> None:
    """Freeze the LoRA weights that the states backbone.layer reads never depend on: those in blocks past
    the layer read (`states` stops the forward pass there), and those off the path to it (BERT's pooler).
    Trainable, they stayed zero, yet took AdamW state and filled every checkpoint. Which they are is asked
    of autograd, for one short text: a weight the states depend on gets a gradient (lora_A's is zero while
    lora_B is, but not None). That text alone cannot clear a weight inside a block the states pass through:
    its path there may depend on the input (a mixture of experts' router sends it to some experts, not all),
    so such a weight stays trainable, and `lora_unreached` counts them (hybrid.launch.look_for_unused). Where
    the blocks are not one ModuleList, nothing tells a block read from one past it: the weights the text
    missed all stay trainable and counted (left to the text, a mixture of experts' unreached experts were
    frozen for the whole run), but where the layer read is the embeddings, which no block feeds. Weights a
    run trained before still load: they remain parameters."""
    from peft.tuners.lora import LoraLayer

    owned = [(m, p) for m in backbone.model.modules() if isinstance(m, LoraLayer)
             for p in m.parameters() if p.requires_grad]  # its LoRA weights, not the frozen layer it adapts
    weights = [p for _, p in owned]
    batch, modes = backbone.tokenizer(["a"], return_tensors="pt"), [(m, m.training) for m in backbone.model.modules()]
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if not ids.numel():  # a tokenizer with no token for "a" (and none it adds): the model refused a text of none
        ids, mask = torch.zeros(1, 1, dtype=torch.long), torch.ones(1, 1, dtype=torch.long)  # token 0, any will do
    with torch.enable_grad():
        backbone.model.eval()  # no dropout: no random numbers drawn, so the run's initial weights stay the seed's
        states = backbone.states(ids, mask)
        for module, training in modes:  # each as it was (peft's wrapper is in training mode, the model in eval)
            module.training = training
        grads = (torch.autograd.grad(states.float().sum(), weights, allow_unused=True)
                 if states.requires_grad else [None] * len(weights))  # backbone.layer=0 with no LoRA on the embeddings
    read = read_blocks(backbone)
    backbone.lora_unreached = 0
    for (module, p), grad in zip(owned, grads):
        if grad is not None:
            continue
        if read is None or id(module) in read:  # the text did not reach it; another may
            backbone.lora_unreached += 1
        else:
            p.requires_grad_(False)


def read_blocks(backbone: FrozenBackbone) -> set[int] | None:
    """The ids of the modules inside the blocks whose output the states backbone.layer reads depend on
    (block i's output is hidden state i + 1); None, not known, where the blocks are not one ModuleList and
    the layer read is past the embeddings."""
    read = backbone.layer_span().stop - 1
    if backbone.blocks is None:
        return set() if read == 0 else None
    return {id(m) for block in list(backbone.blocks)[:read] for m in block.modules()}


def linear_layers(model: nn.Module) -> str:
    """The names LoRA can target (Linear, and GPT-2's Conv1D), for error messages."""
    return ", ".join(sorted({name.rsplit(".", 1)[-1] for name, m in model.named_modules()
                             if isinstance(m, nn.Linear) or type(m).__name__ == "Conv1D"}))


def trainable_state_only(module: nn.Module) -> nn.Module:
    """Keep the module's frozen weights out of its state dicts (and so out of checkpoints and
    the EMA's saved state); on loading, take them from the module itself. Hooks act inside any
    container (the trained module, DDP, the EMA copy), since each is called with its prefix."""
    trainable = {name for name, p in module.named_parameters() if p.requires_grad}
    frozen = {name for name in module.state_dict() if name not in trainable}

    def drop_frozen(module, state_dict, prefix, local_metadata):
        for name in frozen:
            state_dict.pop(prefix + name, None)

    def fill_frozen(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        tensors = dict(module.named_parameters(remove_duplicate=False)) | dict(module.named_buffers(remove_duplicate=False))
        for name in frozen:
            state_dict.setdefault(prefix + name, tensors[name].detach())

    module.register_state_dict_post_hook(drop_frozen)
    module.register_load_state_dict_pre_hook(fill_frozen)
    return module


class LoraHybrid(nn.Module):
    """The hybrid with its LoRA-tuned backbone in front: token ids in, the same outputs out."""

    def __init__(self, backbone: FrozenBackbone, hybrid: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.hybrid = hybrid

    def initial_carry(self, *args, **kwargs):
        return self.hybrid.initial_carry(*args, **kwargs)

    @property
    def _no_split_modules(self) -> list[str] | None:
        """The backbone's layer classes (transformers' name for them), which FSDP's
        TRANSFORMER_BASED_WRAP shards one by one (configs/accelerate/fsdp.yaml)."""
        return getattr(self.backbone.model, "_no_split_modules", None)

    def read(self, input_ids, mask, token_slot) -> tuple:
        """Training: the token ids as they are, since the states change with every LoRA update.
        Evaluating (eval mode, no gradient) the LoRA weights stay fixed over a batch's N_sup
        steps: the backbone runs once, here, and `forward` starts each step from what the hybrid
        read of its states, as from a frozen backbone's cached ones (not N_sup backbone passes)."""
        if self.training or torch.is_grad_enabled():
            return input_ids, mask, token_slot
        return self.hybrid.read(*self.backbone_states(input_ids, mask, token_slot))

    def backbone_states(self, input_ids, mask, token_slot) -> tuple:
        # The loop and the evaluation runner cast this slot to float, as they do cached fp16
        # states; token ids stay exact in float32 below 2**24, so casting back loses nothing.
        # Drop the columns that are padding in every row still supervised (the longest puzzles may
        # have halted). Finding them reads the mask on the host, so it is done once: positions,
        # unlike a boolean mask, index the three tensors without a wait each.
        keep = mask.bool().any(0).nonzero().squeeze(1)
        ids, mask, token_slot = input_ids[:, keep].round().long(), mask[:, keep], token_slot[:, keep]
        with self.own_precision(ids.device.type):
            states = self.backbone.states(ids, mask.long())
        return states.float(), mask, token_slot  # (B, L, H), with gradient to LoRA

    def own_precision(self, device_type: str):
        """A backbone loaded in 16 bits (backbone.dtype) computes in them. Under autocast to the other
        16-bit type (train.mixed_precision) its layers' results came out in that type, their sum with the
        residual in float32, and LayerNorm refused it beside its own 16-bit weights ("mixed dtype")."""
        own = DTYPES[self.backbone.config.dtype]
        other = (own != torch.float32 and torch.is_autocast_enabled(device_type)
                 and torch.get_autocast_dtype(device_type) != own)
        return torch.autocast(device_type, enabled=False) if other else nullcontext()

    def forward(self, input_ids, mask, token_slot, y, z):
        if input_ids.dim() == 3:  # not ids (B, L) but what `read` made of the states when evaluating
            return self.hybrid(input_ids, mask, token_slot, y, z)
        return self.hybrid(*self.backbone_states(input_ids, mask, token_slot), y, z)


def with_backbone(model: nn.Module, backbone: nn.Module, config, training: bool = False) -> nn.Module:
    """The module to train: `model` itself, or with `backbone.lora` set, the model with a
    LoRA-tuned backbone in front (it then reads token ids; see hybrid/cache.py). `training`: also
    refuse LoRA that cannot train (`check_lora_is_read`); weights already trained so still load."""
    if config.lora is None:
        return model
    tuned = add_lora(backbone, config.lora)
    if training:
        check_lora_is_read(tuned)
    return LoraHybrid(tuned, model)


def check_lora_is_read(backbone: FrozenBackbone) -> None:
    """A ConfigError where no module LoRA adapts feeds the states backbone.layer reads (`freeze_unread`
    froze the LoRA weights of every one): modules in blocks past the layer read, or off the path to it (BERT's
    pooler). No LoRA weight would train, and the run would be a frozen backbone's without its cache, saying
    nothing. Where some do, the others stay frozen without a word: they could change nothing."""
    weights = lora_weights(backbone.model)
    if weights and not any(p.requires_grad for p in weights.values()):
        names = ", ".join(sorted({name.split(".lora_")[0].rsplit(".", 1)[-1] for name in weights}))
        span, config = backbone.layer_span(), backbone.config
        later = "read a later layer (backbone.layer=last), " if span.stop <= backbone.num_layers else ""
        raise ConfigError(f"backbone.layer={config.layer} reads hidden state {span.stop - 1} of {config.path} (0 is "
                          f"the embeddings), and every module LoRA adapts ({names}) comes after it or off the path to "
                          f"it (as BERT's pooler does), so backbone.lora would train nothing: {later}adapt modules "
                          f"that feed it (backbone.lora.target_modules), or set backbone.lora=null")


def lora_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The LoRA weights of a module, by name (for tests and inspection)."""
    return {name: p for name, p in model.named_parameters() if "lora_" in name}
