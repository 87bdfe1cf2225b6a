"""SAGAN self-attention over a 2-D feature map, with three ways to score a query against a key.

    q = Wq x   (C/8 channels)        one query per pixel, raster order
    k = Wk x   (C/8), max-pooled 2x2  one key per key cell
    v = Wv x   (C/2), max-pooled 2x2
    y = x + gamma * Wo softmax_keys(score(q, k)) v

    score(q, k) = q.k                 "dot" (SAGAN's own: no 1/sqrt(d) factor)
                = q.k / sqrt(d)       "scaled-dot" (Transformer attention)
                = w^T tanh(q + k)     "additive" (Bahdanau-style; w learned, one per head)

gamma is a learnable scalar that starts at 0, so a fresh block is the identity
and the network learns how much non-local evidence to mix in. With several
heads the q/k/v channels are split between them (multi-head attention), each
head with its own map.

Options that free the map from carrying one summary for every pixel (docs/ATTENTION.md,
"Query-dependent maps"; all off by default, so older models load unchanged):

    registers R   R learned key/value slots per head with no position (Darcet et al. 2024):
                  a query can put attention there instead of on a background cell
    null          one extra slot whose logit is 0 and whose value is 0 ("off-by-one"
                  softmax): a query can attend to nothing
    whiten        queries minus their mean over the image (the whitened pairwise term of
                  Yin et al. 2020's disentangled non-local block): what every query shares
                  no longer decides the map; keys need no whitening (a per-query constant
                  leaves a softmax row unchanged)
    context       a global-context path beside the attention (GCNet, Cao et al. 2019; the
                  unary term of the disentangled block): one softmax over key cells, the
                  same for every pixel, pools the values; its own gamma_ctx mixes it in:
                  y = x + gamma * Wo A v + gamma_ctx * Wc softmax(m) v

A query's softmax runs over the Nk key cells, then the R registers, then the null slot.

The dot kinds call `scaled_dot_product_attention`, which never builds the
(N, Nk) matrix when a fused kernel applies. Additive attention has no such
kernel: `attention_logits` computes it in query chunks of bounded memory
(never the (N, Nk, d) tensor at once), and the forward pass runs chunk by
chunk, recomputing each chunk in the backward pass instead of keeping it.
The probe (serving/probe.py) recomputes single rows or columns of the matrix
from `queries_keys` and `attention_logits` when a user clicks a pixel.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .config import ATTENTION_KINDS
from .layers import sn_conv

CHUNK_ELEMENTS = 1 << 22     # additive scores: (queries x keys x head dim) per chunk, 16 MiB in fp32
SDPA_MAX_LOGITS = 1 << 26    # dot scores in one fused call (the math kernel may hold them all: 256 MiB)


def attention_logits(q: torch.Tensor, k: torch.Tensor, kind: str, scale: float = 1.0,
                     w: torch.Tensor | None = None) -> torch.Tensor:
    """Scores of queries against keys: q (..., heads, Nq, d), k (..., heads, Nk, d) ->
    (..., heads, Nq, Nk); rows are queries. `w` (heads, d) is the additive kind's vector."""
    if kind != "additive":
        return (q @ k.transpose(-1, -2)) * scale
    heads, nk, d = k.shape[-3], k.shape[-2], k.shape[-1]
    step = max(1, CHUNK_ELEMENTS // max(1, nk * d * q[..., :1, :].numel() // d))
    w = w.view(heads, 1, d, 1)
    rows = [(torch.tanh(q[..., s:s + step, None, :] + k[..., None, :, :]) @ w).squeeze(-1)   # (..., c, Nk)
            for s in range(0, q.shape[-2], step)]
    return torch.cat(rows, dim=-2)


def _additive_rows(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, w: torch.Tensor,
                   null: bool = False) -> torch.Tensor:
    """softmax_keys(w^T tanh(q + k)) v for a chunk of queries: (B, heads, c, dv). With `null`, one
    more logit of 0 whose value is 0 joins each row's softmax."""
    logits = attention_logits(q, k, "additive", w=w)
    if null:
        logits = F.pad(logits, (0, 1))             # (..., c, Nk + 1): the null slot's logit 0
    p = torch.softmax(logits, dim=-1)
    return (p[..., :-1] if null else p) @ v


class SelfAttention2d(nn.Module):
    def __init__(self, channels: int, heads: int = 1, pool: bool = True, kind: str = "dot",
                 registers: int = 0, null: bool = False, whiten: bool = False, context: bool = False):
        super().__init__()
        if channels % 8 or (channels // 8) % heads or (channels // 2) % heads:
            raise ValueError(f"{channels} channels do not split into {heads} heads")
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"attention kind must be one of {ATTENTION_KINDS}, got {kind!r}")
        self.channels, self.heads, self.pool, self.kind = channels, heads, pool, kind
        self.qk_dim = channels // 8 // heads  # per head
        self.v_dim = channels // 2 // heads
        # SAGAN's softmax has no 1/sqrt(d) factor; Transformer attention has.
        self.scale = self.qk_dim ** -0.5 if kind == "scaled-dot" else 1.0
        self.query = sn_conv(channels, channels // 8, kernel=1, bias=False)
        self.key = sn_conv(channels, channels // 8, kernel=1, bias=False)
        self.value = sn_conv(channels, channels // 2, kernel=1, bias=False)
        self.out = sn_conv(channels // 2, channels, kernel=1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))
        # additive: the vector w of w^T tanh(q + k), one per head (given, not drawn: ones / sqrt(d))
        self.w = nn.Parameter(torch.full((heads, self.qk_dim), self.qk_dim ** -0.5)) if kind == "additive" else None
        self.registers, self.null, self.whiten, self.context = int(registers), bool(null), bool(whiten), bool(context)
        if self.registers:
            # (heads, R, d): slots with no position, appended after the key cells
            self.reg_k = nn.Parameter(torch.randn(heads, self.registers, self.qk_dim) * self.qk_dim ** -0.5)
            self.reg_v = nn.Parameter(torch.randn(heads, self.registers, self.v_dim) * 0.1)
        if self.context:
            self.ctx_logit = sn_conv(channels, heads, kernel=1, bias=False)   # one salience per key cell and head
            self.ctx_out = sn_conv(channels // 2, channels, kernel=1, bias=False)
            self.gamma_ctx = nn.Parameter(torch.zeros(()))

    @property
    def fusable(self) -> bool:
        """Whether inference may fuse this layer's projections (models/folding.py): the plain dot kinds."""
        return self.kind != "additive" and not (self.registers or self.null or self.whiten or self.context)

    @property
    def extra_slots(self) -> int:
        """Slots after the key cells in each softmax row: the registers, then the null slot."""
        return self.registers + int(self.null)

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
        """q: (B, heads, Nq, dk) rows are query pixels (whitened if the layer whitens);
        k: (B, heads, Nk, dk) key cells."""
        q = self._heads(self.query(x))
        if self.whiten:
            q = q - q.mean(dim=2, keepdim=True)     # each image's mean query, per head
        return q, self._heads(self._pool(self.key(x)))

    def unary(self, x: torch.Tensor) -> torch.Tensor:
        """The global-context path's softmax over key cells, the same for every query: (B, heads, Nk)."""
        m = self._heads(self._pool(self.ctx_logit(x)))          # (B, heads, Nk, 1)
        return torch.softmax(m.squeeze(-1).float(), dim=-1).to(m.dtype)

    def _with_slots(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values with the registers appended (and, for the dot kinds, the null slot as a
        zero key with a zero value: its logit q.0 is exactly 0): (B, heads, Nk + extra, d)."""
        b = k.shape[0]
        ks, vs = [k], [v]
        if self.registers:
            ks.append(self.reg_k.to(k.dtype).expand(b, -1, -1, -1))
            vs.append(self.reg_v.to(v.dtype).expand(b, -1, -1, -1))
        if self.null and self.kind != "additive":
            ks.append(k.new_zeros(b, self.heads, 1, k.shape[-1]))
            vs.append(v.new_zeros(b, self.heads, 1, v.shape[-1]))
        return (torch.cat(ks, dim=2), torch.cat(vs, dim=2)) if len(ks) > 1 else (k, v)

    def logits(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """This layer's scores of queries q against keys k (from `queries_keys`): (..., Nq, Nk)."""
        return attention_logits(q, k, self.kind, self.scale, self.w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k = self.queries_keys(x)                # (B, heads, Nq, dk), (B, heads, Nk, dk)
        v_cells = self._heads(self._pool(self.value(x)))  # (B, heads, Nk, dv)
        k, v = self._with_slots(k, v_cells)        # (B, heads, Nk + extra, d)
        if self.kind == "additive":
            o = self._additive(q, k, v)
        else:
            if self.qk_dim != self.v_dim:
                # Fused kernels need equal head sizes. Zero-padding q and k leaves
                # every dot product unchanged; the scale is passed explicitly.
                pad = self.v_dim - self.qk_dim
                q, k = F.pad(q, (0, pad)), F.pad(k, (0, pad))
            o = self._dot(q, k, v)                                          # (B, heads, Nq, dv)
        o = o.transpose(2, 3).reshape(b, self.heads * self.v_dim, h, w)
        y = x + self.gamma * self.out(o)
        if self.context:
            u = self.unary(x)                                              # (B, heads, Nk)
            c = (u.unsqueeze(-2) @ v_cells).reshape(b, self.heads * self.v_dim, 1, 1)   # pooled values
            y = y + self.gamma_ctx * self.ctx_out(c)                       # the same for every pixel
        return y

    def _dot(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """The fused kernel; on a large canvas (more than SDPA_MAX_LOGITS scores) in query chunks,
        so memory stays bounded at any size (each row's softmax is its own: the same rows)."""
        b, heads, nq, _ = q.shape
        nk = k.shape[2]
        if b * heads * nq * nk <= SDPA_MAX_LOGITS:
            return F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        step = max(1, CHUNK_ELEMENTS * 4 // (b * heads * nk))
        return torch.cat([F.scaled_dot_product_attention(q[:, :, s:s + step], k, v, scale=self.scale)
                          for s in range(0, nq, step)], dim=2)

    def _additive(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Additive attention in query chunks; with autograd on, each chunk is recomputed in the
        backward pass (torch.utils.checkpoint), so training keeps no (N, Nk, d) tensor either."""
        nk = k.shape[2]
        step = max(1, CHUNK_ELEMENTS // max(1, nk * self.qk_dim * q.shape[0] * self.heads))
        out = []
        for s in range(0, q.shape[2], step):
            chunk = q[:, :, s:s + step]
            if torch.is_grad_enabled() and (chunk.requires_grad or k.requires_grad):
                out.append(checkpoint(_additive_rows, chunk, k, v, self.w, self.null, use_reentrant=False))
            else:
                out.append(_additive_rows(chunk, k, v, self.w, self.null))
        return torch.cat(out, dim=2)                # (B, heads, Nq, dv)
