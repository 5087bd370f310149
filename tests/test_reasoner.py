import pytest
import torch
from torch.autograd.graph import saved_tensors_hooks

from reasoner import TRM, TinyNet, stablemax_cross_entropy


def make_trm(T=3, n=2, hidden=16, slots=9, mixer="mlp"):
    torch.manual_seed(0)
    return TRM(TinyNet(hidden, slots, layers=2, mixer=mixer, heads=2, expansion=2.0), hidden, n=n, T=T)


def test_gradient_flows_only_through_the_last_deep_step():
    trm = make_trm(T=3, n=2)
    grad_enabled = []
    trm.net.register_forward_hook(lambda *_: grad_enabled.append(torch.is_grad_enabled()))
    x = torch.randn(4, 9, 16, requires_grad=True)
    out = trm(x, trm.initial_carry(x))
    calls_per_recursion = trm.n + 1  # n latent updates of z, one update of y
    assert len(grad_enabled) == trm.T * calls_per_recursion
    assert grad_enabled == [False] * (trm.T - 1) * calls_per_recursion + [True] * calls_per_recursion
    out.y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not out.carry.y.requires_grad and not out.carry.z.requires_grad


def test_forward_is_the_papers_recursion_written_out():
    """The same weights through the paper's pseudocode, spelt out here, give the same answer latent,
    halting logit and gradients: a reordered update or a gradient leaking into the first T-1
    recursions would not."""
    trm = make_trm(T=3, n=3, mixer="attention")
    # A trained halting head, not the initial zero weight, through which no gradient reaches y:
    # the halting loss must train the net too (y, not a detached copy, feeds the head).
    torch.nn.init.normal_(trm.halt_head.weight)
    x = torch.randn(2, 9, 16, requires_grad=True)
    carry = trm.initial_carry(x)
    out = trm(x, carry)
    (out.y.pow(2).sum() + out.q_halt.sum()).backward()
    ours = [p.grad.clone() for p in trm.parameters()] + [x.grad.clone()]
    trm.zero_grad()
    x.grad = None

    net, (y, z) = trm.net, (carry.y, carry.z)
    with torch.no_grad():
        for _ in range(trm.T - 1):
            for _ in range(trm.n):
                z = net(x + y + z)
            y = net(y + z)
    for _ in range(trm.n):
        z = net(x + y + z)
    y = net(y + z)
    q_halt = trm.halt_head(y.mean(dim=1)).squeeze(-1)
    (y.pow(2).sum() + q_halt.sum()).backward()
    assert torch.allclose(out.y, y, atol=1e-6) and torch.allclose(out.q_halt, q_halt, atol=1e-6)
    assert torch.allclose(out.carry.z, z, atol=1e-6)
    for a, b in zip(ours, [p.grad for p in trm.parameters()] + [x.grad]):
        assert torch.allclose(a, b, atol=1e-6)


def test_the_input_is_reread_at_every_latent_step():
    trm = make_trm(T=1, n=3)
    inputs = []
    trm.net.register_forward_pre_hook(lambda _, args: inputs.append(args[0]))
    x = torch.randn(2, 9, 16)
    carry = trm.initial_carry(x)
    trm(x, carry)
    # z-updates see x + y + z; perturbing x must change each of them
    inputs_b = []
    trm.net._forward_pre_hooks.clear()
    trm.net.register_forward_pre_hook(lambda _, args: inputs_b.append(args[0]))
    trm(x + 1.0, carry)
    for a, b in zip(inputs[: trm.n], inputs_b[: trm.n]):
        assert not torch.allclose(a, b)


def test_y_and_z_start_from_their_own_fixed_latents():
    trm = make_trm()
    carry = trm.initial_carry(torch.randn(4, 9, 16))
    assert not torch.equal(trm.y_init, trm.z_init)
    assert torch.equal(carry.y, trm.y_init.expand(4, 9, 16)) and torch.equal(carry.z, trm.z_init.expand(4, 9, 16))


@pytest.mark.parametrize("mixer", ["mlp", "attention"])
def test_every_slot_sees_every_other_slot_both_ways(mixer):
    """Token mixing is bidirectional (a Sudoku cell depends on cells before and after it): changing
    the last slot changes the first slot's output, and the other way round."""
    torch.manual_seed(0)
    net = TinyNet(16, 9, layers=2, mixer=mixer, heads=2, expansion=2.0)
    h = torch.randn(1, 9, 16)
    for changed, watched in ((-1, 0), (0, -1)):
        other = h.clone()
        other[:, changed] += 1.0
        assert not torch.allclose(net(h)[:, watched], net(other)[:, watched])


def test_tiny_net_stacks_the_blocks_it_is_asked_for():
    for layers in (1, 2, 4):
        net = TinyNet(16, 9, layers=layers)
        assert len(net) == layers
        block = sum(p.numel() for p in net[0].parameters())
        assert sum(p.numel() for p in net.parameters()) == layers * block


@pytest.mark.parametrize("n, T", [(0, 2), (2, 0), (-1, 1)])
def test_a_recursion_of_no_steps_is_refused(n, T):
    """Used on its own (the config checks its own values): T=0 ran as T=1, n=0 never updated z."""
    with pytest.raises(ValueError, match=rf"n and T must be >= 1 \(got n={n}, T={T}\)"):
        TRM(TinyNet(16, 9), 16, n=n, T=T)


def test_attention_heads_that_do_not_divide_the_width_are_refused():
    """Used on its own: the first forward failed on a reshape of an invalid shape."""
    with pytest.raises(ValueError, match=r"heads=4 must divide the width 30"):
        TinyNet(30, 9, mixer="attention", heads=4)


def test_the_mlp_mixer_given_another_slot_count_names_both():
    """mixer=mlp is an MLP over the slot axis, built for one slot count: another count was torch's
    "mat1 and mat2 shapes cannot be multiplied (32x10 and 9x24)"."""
    net = TinyNet(dim=16, num_slots=9, mixer="mlp")
    with pytest.raises(ValueError, match=r"built for 9, the input has 10; .*reasoner.mixer=attention"):
        net(torch.randn(2, 10, 16))
    assert net(torch.randn(2, 9, 16)).shape == (2, 9, 16)


def test_an_expansion_that_leaves_a_layer_no_width_is_refused():
    """int(dim * expansion * 2/3) = 0 built a SwiGLU of width 0: a net without weights, no error."""
    with pytest.raises(ValueError, match=r"expansion=0.5 leaves the SwiGLU over 2 features no width"):
        TinyNet(16, 2, mixer="mlp", expansion=0.5)  # the slot MLP: 2 slots
    with pytest.raises(ValueError, match=r"expansion=0.05 leaves the SwiGLU over 16 features no width"):
        TinyNet(16, 9, mixer="attention", expansion=0.05)


def test_halting_head_does_not_fire_at_initialisation():
    for mixer in ("mlp", "attention"):
        trm = make_trm(mixer=mixer)
        x = torch.randn(64, 9, 16) * 3
        assert (trm(x, trm.initial_carry(x)).q_halt < 0).all()
        # as in the published code: zero weight, bias -5, so every puzzle starts at sigmoid(-5)
        assert torch.equal(trm(x, trm.initial_carry(x)).q_halt, torch.full((64,), -5.0))


def saved_activation_bytes(trm, x):
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with saved_tensors_hooks(pack, lambda t: t):
        trm(x, trm.initial_carry(x)).y.sum()
    return total


def test_activation_memory_does_not_grow_with_T():
    x = torch.randn(8, 9, 16, requires_grad=True)
    small, large = saved_activation_bytes(make_trm(T=1), x), saved_activation_bytes(make_trm(T=8), x)
    assert small > 0
    assert abs(large - small) / small < 0.05
    assert saved_activation_bytes(make_trm(T=1, n=4), x) > 1.5 * small  # but it does grow with n


def test_stablemax_is_a_distribution_and_loss_ignores_padding():
    logits = torch.randn(3, 5, 7) * 10
    every_label = torch.stack([stablemax_cross_entropy(logits, torch.full((3, 5), k)) for k in range(7)], -1)
    assert torch.allclose((-every_label).exp().sum(-1), torch.ones(3, 5), atol=1e-5)  # exp(-loss): probabilities
    labels = torch.randint(0, 7, (3, 5))
    labels[:, -1] = -100
    loss = stablemax_cross_entropy(logits, labels)
    assert (loss[:, -1] == 0).all() and (loss[:, :-1] > 0).all()


def test_stablemax_loss_matches_its_definition():
    # s(x) = x + 1 for x >= 0, 1 / (1 - x) below; loss = -log(s[label] / sum s)
    logits = torch.tensor([[[2.0, 0.0, -1.0]]])
    s = torch.tensor([3.0, 1.0, 0.5])
    for label in range(3):
        expected = -torch.log(s[label] / s.sum())
        assert torch.allclose(stablemax_cross_entropy(logits, torch.tensor([[label]])), expected)


def test_stablemax_works_in_float32_under_bfloat16_logits():
    """Under bf16 autocast the logits arrive in bfloat16, whose 8-bit mantissa cannot hold
    s(1000) = 1001; the stand-in for exp is computed in float32, so the loss is the float32 one."""
    from reasoner.losses import stable_exp

    logits = torch.tensor([[[1000.0, 0.0, -3.0]]])
    s = stable_exp(logits.bfloat16())
    assert s.dtype == torch.float32 and s[0, 0].tolist() == [1001.0, 1.0, 0.25]
    labels = torch.tensor([[1]])
    assert torch.allclose(stablemax_cross_entropy(logits.bfloat16(), labels), stablemax_cross_entropy(logits, labels))


def test_halting_loss_teaches_the_head_to_say_stop_exactly_when_the_answer_is_right():
    """The target of the halting logit is "the current answer is fully correct": a confident stop
    costs little on a solved puzzle and much on an unsolved one."""
    from reasoner.losses import halting_loss

    q_halt = torch.tensor([3.0, 3.0, -3.0])
    loss = halting_loss(q_halt, torch.tensor([True, False, False]))
    assert torch.allclose(loss, torch.nn.functional.softplus(torch.tensor([-3.0, 3.0, -3.0])))
    assert loss[0] < loss[1]
