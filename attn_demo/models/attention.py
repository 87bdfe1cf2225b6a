"""SAGAN self-attention over a 2-D feature map.

    q = Wq x   (C/8 channels)        one query per pixel, raster order
    k = Wk x   (C/8), max-pooled 2x2  one key per key cell
    v = Wv x   (C/2), max-pooled 2x2
    y = x + gamma * Wo softmax_keys(q k^T * scale) v

gamma is a learnable scalar that starts at 0, so a fresh block is the identity
and the network learns how much non-local evidence to mix in. With several
heads the q/k/v channels are split between them (multi-head attention).

The forward pass calls `scaled_dot_product_attention`, which never builds the
(N, Nk) matrix when a fused kernel applies. The probe (serving/probe.py)
recomputes single rows or columns of that matrix from `queries_keys` when a
user clicks a pixel. The served generator runs the same function with its
projections fused (`folding.FusedSelfAttention2d`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import sn_conv


class SelfAttention2d(nn.Module):
    def __init__(self, channels: int, heads: int = 1, pool: bool = True, scaled: bool = False):
        super().__init__()
        if channels % 8 or (channels // 8) % heads or (channels // 2) % heads:
            raise ValueError(f"{channels} channels do not split into {heads} heads")
        self.channels, self.heads, self.pool = channels, heads, pool
        self.qk_dim = channels // 8 // heads  # per head
        self.v_dim = channels // 2 // heads
        # SAGAN's softmax has no 1/sqrt(d) factor; Transformer attention has.
        self.scale = self.qk_dim ** -0.5 if scaled else 1.0
        self.query = sn_conv(channels, channels // 8, kernel=1, bias=False)
        self.key = sn_conv(channels, channels // 8, kernel=1, bias=False)
        self.value = sn_conv(channels, channels // 2, kernel=1, bias=False)
        self.out = sn_conv(channels // 2, channels, kernel=1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def key_grid(self, height: int, width: int) -> tuple[int, int]:
        """Size of the key/value grid for a (height, width) feature map."""
        return (height // 2, width // 2) if self.pool else (height, width)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        # (B, heads*d, h, w) -> (B, heads, h*w, d); position index = row * w + col
        b, c, h, w = t.shape
        return t.reshape(b, self.heads, c // self.heads, h * w).transpose(2, 3)

    def _pool(self, t: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(t, 2) if self.pool else t

    def queries_keys(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q: (B, heads, Nq, dk) rows are query pixels; k: (B, heads, Nk, dk) key cells."""
        return self._heads(self.query(x)), self._heads(self._pool(self.key(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k = self.queries_keys(x)                # (B, heads, Nq, dk), (B, heads, Nk, dk)
        v = self._heads(self._pool(self.value(x)))  # (B, heads, Nk, dv)
        if self.qk_dim != self.v_dim:
            # Fused kernels need equal head sizes. Zero-padding q and k leaves
            # every dot product unchanged; the scale is passed explicitly.
            pad = self.v_dim - self.qk_dim
            q, k = F.pad(q, (0, pad)), F.pad(k, (0, pad))
        o = F.scaled_dot_product_attention(q, k, v, scale=self.scale)  # (B, heads, Nq, dv)
        o = o.transpose(2, 3).reshape(b, self.heads * self.v_dim, h, w)
        return x + self.gamma * self.out(o)
