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


def naive_rows_with_slots(module, x):
    """Every query's whole softmax row over the key cells, then the registers, then the null slot:
    (B, heads, Nq, Nk + R + null). Scores written out by hand for each kind."""
    q, k = module.queries_keys(x)
    b = q.shape[0]
    keys = [k]
    if module.registers:
        keys.append(module.reg_k.expand(b, -1, -1, -1))
    k = torch.cat(keys, dim=2)
    if module.kind == "additive":
        scores = torch.einsum("bhqkd,hd->bhqk", torch.tanh(q[:, :, :, None, :] + k[:, :, None, :, :]), module.w)
    else:
        scores = q @ k.transpose(-1, -2) * module.scale
    if module.null:
        scores = torch.cat([scores, torch.zeros_like(scores[..., :1])], dim=-1)
    return torch.softmax(scores, dim=-1)


def naive_forward_with_slots(module, x, attn=None):
    """y = x + gamma Wo A v (+ gamma_ctx Wc softmax(m) v), A from `naive_rows_with_slots` unless a
    (hand-edited) matrix `attn` (B, heads, Nq, Nk + R + null) is given."""
    b, c, h, w = x.shape
    if attn is None:
        attn = naive_rows_with_slots(module, x)
    v = module.value(x)
    if module.pool:
        v = F.max_pool2d(v, 2)
    v = v.reshape(b, module.heads, module.v_dim, -1).transpose(2, 3)    # (B, heads, Nk, dv)
    vs = [v]
    if module.registers:
        vs.append(module.reg_v.expand(b, -1, -1, -1))
    if module.null:
        vs.append(torch.zeros_like(v[:, :, :1]))
    o = (attn @ torch.cat(vs, dim=2)).transpose(2, 3).reshape(b, module.heads * module.v_dim, h, w)
    y = x + module.gamma * module.out(o)
    if module.context:
        m = module.ctx_logit(x)
        if module.pool:
            m = F.max_pool2d(m, 2)
        u = torch.softmax(m.reshape(b, module.heads, -1), dim=-1)        # (B, heads, Nk)
        ctx = torch.einsum("bhk,bhkd->bhd", u, v).reshape(b, -1, 1, 1)
        y = y + module.gamma_ctx * module.ctx_out(ctx)
    return y
