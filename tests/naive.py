"""Naive references that materialise the full (N, Nk) attention matrix (and, for the additive kind,
the full (N, Nk, d) tensor). Written apart from models/attention.py on purpose. Tests only."""
import torch
import torch.nn.functional as F


def naive_attention_matrix(module, x):
    """softmax over keys of the layer's scores: (B, heads, Nq, Nk); rows are query pixels."""
    q, k = module.queries_keys(x)
    if getattr(module, "kind", "dot") == "additive":
        scores = torch.einsum("bhqkd,hd->bhqk", torch.tanh(q[:, :, :, None, :] + k[:, :, None, :, :]), module.w)
    else:
        scores = q @ k.transpose(-1, -2) * module.scale
    return torch.softmax(scores, dim=-1)


def naive_attention_forward(module, x):
    b, c, h, w = x.shape
    attn = naive_attention_matrix(module, x)                          # (B, heads, Nq, Nk)
    v = module.value(x)
    if module.pool:
        v = F.max_pool2d(v, 2)
    v = v.reshape(b, module.heads, module.v_dim, -1).transpose(2, 3)  # (B, heads, Nk, dv)
    o = (attn @ v).transpose(2, 3).reshape(b, module.heads * module.v_dim, h, w)
    return x + module.gamma * module.out(o)
