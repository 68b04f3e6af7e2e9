"""Metrics of generated samples. toy.py: the PacGAN/VEEGAN mode scores for 2-D toys."""
from .toy import ToyScore, toy_scores

__all__ = ["ToyScore", "toy_scores"]
