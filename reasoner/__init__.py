"""The tiny recursive reasoner (TRM) and the network it reapplies."""

from reasoner.losses import halting_loss, stablemax_cross_entropy
from reasoner.net import TinyNet
from reasoner.trm import TRM, Carry, ReasonerOutput

__all__ = ["TRM", "Carry", "ReasonerOutput", "TinyNet", "stablemax_cross_entropy", "halting_loss"]
