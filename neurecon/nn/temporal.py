"""Temporal kernel-predicting denoiser (Vogels et al. 2018 §3.3, Fig. 3) on a frozen U-Net backbone.

    frame j ──frozen backbone.features──▶ f_j (one list per kernel scale, computed once per frame)
    centre c: flow c→j by chaining motion vectors; f_j, colour_j gathered along it (bilinear),
              masked where the chain is invalid (disocclusion, off-screen, missing frame)
    per scale: [g_{c−M} … g_{c+M}, masks] → 1×1 fuse → residual blocks → + f_c (residual on the
              centre's features) → one kernel predictor per frame → joint softmax over all 2M+1
              frames' k² taps → Σ_j kernel_j ∗ colour_j(motion-compensated), per-tap validity
              renormalised → the backbone's frozen scale compositor

`features()` is the frozen single-frame part; a stream (`neurecon.infer.temporal`) computes it once
per frame and reuses it in every window containing the frame. Frames outside the sequence (window
clipped at its ends) or in the future (causal mode) are simply absent: their masks are 0 and their
kernels get no weight, so one model serves symmetric, clipped and past-only windows (training
drops frames at random so that it has seen them all).

Flows are offsets in pixels (x right, y down) from each centre pixel's centre to where its surface
point is in frame j (the convention of :mod:`neurecon.render.sequence`): ``motion`` of frame t
points to t−1, ``motion_next`` to t+1; further frames are reached by chaining (:func:`chain_flows`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ResBlock, conv3x3, pointwise_planar, xavier_init
from .kernels import apply_kernels
from .multiscale import down2, pad_to_multiple
from .precision import fp32, widen
from .unet import UNetConfig, UNetKPCN

VALID_MIN = 0.999  # a bilinearly gathered validity counts as valid when all its taps are
WARP_CHUNK = 4  # channels per grid_sample call (see warp)
RENORM_EPS = 1e-6  # keeps the per-tap renormalisation finite where valid taps carry no weight


# -------------------------------------------------------------------------------------------
# warping


def _grid(flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    N, _, H, W = flow.shape
    xs = torch.arange(W, dtype=flow.dtype, device=flow.device).view(1, 1, W)
    ys = torch.arange(H, dtype=flow.dtype, device=flow.device).view(1, H, 1)
    return xs + flow[:, 0], ys + flow[:, 1]


def in_frame(flow: torch.Tensor) -> torch.Tensor:
    """N×1×H×W: 1 where pixel centre + flow lies inside the frame's pixel-centre grid (every
    bilinear tap a real pixel), else 0."""
    H, W = flow.shape[2:]
    px, py = _grid(flow)
    return ((px >= 0) & (px <= W - 1) & (py >= 0) & (py <= H - 1)).to(flow.dtype)[:, None]


def warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample `x` (N×C×H×W) bilinearly at each pixel centre + `flow` (N×2×H×W, pixels, x right,
    y down); the border is repeated outside. A zero flow returns `x` itself."""
    N, C, H, W = x.shape
    if not bool(flow.any()):  # a static camera and scene: exactly the input (and no resampling cost)
        return x
    px, py = _grid(flow.to(x.dtype))
    grid = torch.stack([(2 * px + 1) / W - 1, (2 * py + 1) / H - 1], -1)
    # a few channels at a time: grid_sample reads every channel of a pixel's taps, and once C·H·W
    # falls out of cache it slows down ~5× (256², one thread: 4 channels 1.0 ms, 16 at once 20 ms)
    parts = [
        F.grid_sample(x[:, i : i + WARP_CHUNK], grid, mode="bilinear", padding_mode="border", align_corners=False)
        for i in range(0, C, WARP_CHUNK)
    ]
    return parts[0] if len(parts) == 1 else torch.cat(parts, 1)


def chain_flows(
    steps: Sequence[torch.Tensor], valids: Sequence[torch.Tensor]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Compose one-frame motions into flows from the centre to 1, 2, … frames away.

    `steps[k]` is the motion of the frame k steps from the centre towards the next one further
    away (for the past: frame c−k's `motion`; for the future: frame c+k's `motion_next`), `valids`
    its validity. Returns flows and validities from the centre to the frames 1 … len(steps) away:
    f_1 = s_0, f_{k+1} = f_k + s_k(p + f_k), valid while every link is."""
    flows, masks = [], []
    flow, valid = None, None
    for step, v in zip(steps, valids):
        if flow is None or valid is None:
            flow, valid = step, v * in_frame(step)
        else:  # the next link is read where the chain has arrived so far
            link_ok = (warp(v, flow) >= VALID_MIN).to(v.dtype)
            flow = flow + warp(step, flow)
            valid = valid * link_ok * in_frame(flow)
        flows.append(flow)
        masks.append(valid)
    return flows, masks


def downsample_flow(flow: torch.Tensor, valid: torch.Tensor, levels: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(flow, valid) at H, H/2, …: flows averaged over 2×2 and halved, valid where all four are."""
    out = [(flow, valid)]
    for _ in range(levels - 1):
        f, v = out[-1]
        out.append((down2(f) / 2, (down2(v) >= VALID_MIN).to(v.dtype)))
    return out


# -------------------------------------------------------------------------------------------
# the combiner


class TemporalCombiner(nn.Module):
    """One kernel scale's temporal feature extractor and its 2M+1 kernel predictors: k×k for the
    centre frame (the backbone's kernel size), `neighbour_kernel`² taps for every other frame."""

    def __init__(self, width: int, frames: int, kernel: int, neighbour_kernel: int, blocks: int = 1, proj: int = 8):
        super().__init__()
        if neighbour_kernel % 2 == 0 or neighbour_kernel > kernel:
            raise ValueError(f"neighbour_kernel must be odd and ≤ kernel ({kernel}), got {neighbour_kernel}")
        self.frames, self.kernel, self.neighbour_kernel, self.proj = frames, kernel, neighbour_kernel, proj
        self.taps = [kernel**2 if j == frames // 2 else neighbour_kernel**2 for j in range(frames)]
        # per frame, once: the backbone's features narrowed to `proj` channels (what is gathered)
        self.project = nn.Conv2d(width, proj, 1)
        self.fuse = nn.Conv2d(frames * (proj + 1), width, 1)
        self.blocks = nn.Sequential(*[ResBlock(width) for _ in range(blocks)])
        self.out = conv3x3(width, width)
        self.logits = nn.Conv2d(width, sum(self.taps), 1)
        xavier_init(self)
        nn.init.zeros_(self.out.weight)  # starts as the centre frame's own features
        nn.init.zeros_(self.out.bias)  # type: ignore[arg-type]

    def start_from(self, head_logits: nn.Conv2d, neighbour_bias: float = 0.0) -> None:
        """Every frame's kernel predictor starts as the backbone head (a neighbour's as the head's
        central taps), neighbours' logits shifted by `neighbour_bias` (0: as the centre's)."""
        k, kn = self.kernel, self.neighbour_kernel
        r = (k - kn) // 2
        inner = torch.arange(k * k).view(k, k)[r : r + kn, r : r + kn].reshape(-1)
        b = head_logits.bias if head_logits.bias is not None else torch.zeros(k * k)
        with torch.no_grad():
            at = 0
            for j, n in enumerate(self.taps):
                rows = slice(None) if n == k * k else inner
                self.logits.weight[at : at + n] = head_logits.weight[rows]
                self.logits.bias[at : at + n] = b[rows] + (0.0 if j == self.frames // 2 else neighbour_bias)  # type: ignore[index]
                at += n

    def frame_features(self, feats: torch.Tensor) -> torch.Tensor:
        """What one frame contributes to every window it is in (computed once per frame)."""
        return torch.relu(self.project(feats))

    def features(
        self, gathered: Sequence[torch.Tensor | None], masks: Sequence[torch.Tensor | None], centre: torch.Tensor
    ):
        """[g_0 … g_T, v_0 … v_T] (absent slots: zeros) → 1×1 fusion → residual blocks, added to
        the centre frame's own (backbone) features."""
        like = next(g for g in gathered if g is not None)
        zero_g, zero_m = torch.zeros_like(like), torch.zeros_like(like[:, :1])
        parts = [zero_g if g is None else g for g in gathered]
        parts += [zero_m if m is None else m.to(like.dtype) for m in masks]
        x = torch.relu(self.fuse(torch.cat(parts, 1)))
        return centre + self.out(torch.relu(self.blocks(x)))

    def exp_logits(self, feats: torch.Tensor, masks: Sequence[torch.Tensor | None]) -> list[torch.Tensor]:
        """Per frame, exp(logit − m) with m the largest logit of the valid frames at the pixel and
        0 for invalid or absent (None) frames: the joint softmax before its normalisation, which `apply_window`
        folds into its per-tap validity renormalisation (the result is the same)."""
        with fp32():
            logits = pointwise_planar(self.logits, widen(feats)).split(self.taps, 1)
            present = [j for j, m in enumerate(masks) if m is not None]
            peak = None
            for j in present:
                p = logits[j].amax(1, keepdim=True).masked_fill(masks[j] <= 0.5, float("-inf"))  # type: ignore[operator]
                peak = p if peak is None else torch.maximum(peak, p)
            out = [torch.zeros_like(lg) for lg in logits]
            for j in present:
                out[j] = (logits[j] - peak).exp_() * masks[j].float()  # type: ignore[union-attr]
            return out

    def weights(self, feats: torch.Tensor, masks: Sequence[torch.Tensor | None]) -> list[torch.Tensor]:
        """The jointly normalised kernels, one N×k_j²×H×W tensor per frame: a softmax over all
        frames' taps (invalid or absent frames get none) that sums to one per pixel across the
        window."""
        e = self.exp_logits(feats, masks)
        total = sum(x.sum(1, keepdim=True) for x in e)
        return [x / total for x in e]


def apply_window(
    weights: Sequence[torch.Tensor],
    colors: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    centre: torch.Tensor | None = None,
):
    """Σ_j kernel_j ∗ colour_j over the window, restricted to valid taps and renormalised:
    d = Σ w·v·c / Σ w·v. With jointly normalised weights and every tap valid, Σ w·v = 1 and this
    is the plain sum; the weights may also come unnormalised (exp_logits), which it cancels. A tiny
    pull towards the centre frame's colour keeps a pixel whose weighted taps are all invalid finite."""
    num = den = None
    for w, c, m in zip(weights, colors, masks):
        if not bool((m > 0).any()):
            continue
        part = apply_kernels(torch.cat([c * m, m], 1), w)
        num = part[:, :3] if num is None else num + part[:, :3]
        den = part[:, 3:] if den is None else den + part[:, 3:]
    assert num is not None and den is not None, "the centre frame is always present"
    centre = colors[len(colors) // 2] if centre is None else centre
    return (num + RENORM_EPS * centre) / (den + RENORM_EPS)


# -------------------------------------------------------------------------------------------
# the model


@dataclass
class Frame:
    """One frame of a window as the combiner needs it: the backbone's features (per scale), the
    padded colour, and the flow and validity from the centre frame to this one (None: centre)."""

    features: list[torch.Tensor]
    color: torch.Tensor
    flow: torch.Tensor | None = None
    valid: torch.Tensor | None = None
    projected: list[torch.Tensor] | None = None  # TemporalUNet.frame_features (computed if None)


class TemporalUNet(nn.Module):
    """Frozen U-Net kernel predictor (`backbone`) + one TemporalCombiner per kernel scale over a
    window of 2·radius + 1 frames. Backbones with kernel heads, without demodulation or the albedo
    ratio (the shipped `fast` and `balanced` presets)."""

    def __init__(
        self,
        backbone: dict,
        radius: int = 1,
        blocks: int = 1,
        neighbour_kernel: int = 3,
        neighbour_bias: float = 0.0,
        proj: int = 8,
    ):
        super().__init__()
        spec = {**backbone, "widths": tuple(backbone.get("widths", UNetConfig().widths))}
        self.backbone = UNetKPCN(UNetConfig(**spec))
        c = self.backbone.config
        if c.head != "kernel" or c.demodulate or c.albedo_ratio:
            raise ValueError(
                "the temporal combiner sits on a kernel-predicting U-Net without demodulation or albedo ratio "
                f"(e.g. the shipped fast or balanced presets); got {self.backbone.spec()}"
            )
        if radius < 1:
            raise ValueError(f"radius M must be ≥ 1 (a window of 2M+1 frames), got {radius}")
        self.radius, self.frames, self.blocks = radius, 2 * radius + 1, blocks
        self.neighbour_kernel, self.neighbour_bias, self.proj = neighbour_kernel, neighbour_bias, proj
        self.config = c
        self.stride = self.backbone.stride
        self.combiners = nn.ModuleList(
            [TemporalCombiner(w, self.frames, c.kernel, neighbour_kernel, blocks, proj) for w in c.widths[: c.levels]]
        )

    def start_from_backbone(self) -> None:
        for comb, head in zip(self.combiners, self.backbone.heads):
            comb.start_from(head.logits, self.neighbour_bias)  # type: ignore[operator]

    @property
    def default_source(self) -> str:
        return self.backbone.default_source

    def receptive_radius(self) -> int:
        return self.backbone.receptive_radius() + 2 ** (self.config.levels - 1) * (2 + 2 * self.blocks)

    def features(self, inputs: Mapping[str, torch.Tensor], source: str | None = None) -> list[torch.Tensor]:
        """The frozen single-frame part, on inputs padded to the backbone's stride."""
        padded, _ = pad_to_multiple(inputs, self.stride)
        return self.backbone.features(padded, source)

    def frame_features(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The temporal part's per-frame work (each scale's projection): cached with the features."""
        return [comb.frame_features(f) for comb, f in zip(self.combiners, feats)]  # type: ignore[operator]

    def combine(self, window: Sequence[Frame | None]) -> torch.Tensor:
        """Denoise the centre of `window` (2M+1 slots, None = absent) at the padded size."""
        if len(window) != self.frames:
            raise ValueError(f"a window of this model has {self.frames} slots, got {len(window)}")
        centre = window[self.radius]
        if centre is None:
            raise ValueError("the centre frame of a window cannot be absent")
        levels = self.config.levels
        pyr: list = []  # per slot: [(flow, valid)] per scale, None for the centre and absent slots
        for j, fr in enumerate(window):
            if fr is None or j == self.radius:
                pyr.append(None)
            else:
                assert fr.flow is not None and fr.valid is not None, "a neighbour needs its flow and validity"
                pyr.append(downsample_flow(fr.flow, fr.valid, levels))
        colors = [None if fr is None else [fr.color] for fr in window]
        projected = [None if fr is None else fr.projected or self.frame_features(fr.features) for fr in window]
        outs = []
        for lv, comb in enumerate(self.combiners):
            f_c = centre.features[lv]
            gathered: list[torch.Tensor | None] = []
            masks: list[torch.Tensor | None] = []
            cols: list[torch.Tensor | None] = []
            for j, fr in enumerate(window):
                col_list = colors[j]
                if col_list is not None and len(col_list) <= lv:
                    col_list.append(down2(col_list[-1]))
                if fr is None:
                    gathered.append(None)
                    masks.append(None)
                    cols.append(None)
                elif j == self.radius:
                    gathered.append(projected[j][lv])  # type: ignore[index]
                    masks.append(torch.ones_like(f_c[:, :1]))
                    cols.append(col_list[lv])  # type: ignore[index]
                else:
                    flow, valid = pyr[j][lv]
                    col = col_list[lv]  # type: ignore[index]
                    pj = projected[j][lv]  # type: ignore[index]
                    both = warp(torch.cat([pj, widen(col).to(pj.dtype)], 1), flow)
                    w = pj.shape[1]
                    gathered.append(both[:, :w] * valid.to(both.dtype))
                    cols.append(both[:, w:])
                    masks.append(valid)
            feats = comb.features(gathered, masks, f_c)  # type: ignore[operator]
            e = comb.exp_logits(feats, masks)  # type: ignore[operator]
            keep = [
                (e[j], widen(c), m.float())
                for j, (c, m) in enumerate(zip(cols, masks))
                if c is not None and m is not None
            ]
            centre_col = cols[self.radius]
            assert centre_col is not None
            with fp32():
                outs.append(
                    apply_window([k[0] for k in keep], [k[1] for k in keep], [k[2] for k in keep], widen(centre_col))
                )
        result = outs[-1]
        bb = self.backbone
        for i in reversed(range(len(outs) - 1)):
            gain = bb.coarsest_gate if i == 2 and levels == 4 else None
            result = bb.compositor(outs[i], result, gain)
        return result

    def forward(self, batch: Mapping[str, torch.Tensor], source: str | None = None) -> torch.Tensor:
        """Training/testing entry on stacked windows: every buffer N×T×C×H×W (T = 2M+1 slots,
        centre in the middle), `motion`, `motion_next` (N×T×2×H×W), their `_valid` masks and
        `present` (N×T: 0 for absent slots). Returns the denoised centre, N×3×H×W."""
        if batch["color"].ndim != 5:
            raise ValueError(
                "a temporal model denoises sequences, not single frames: `neurecon denoise FRAMES -o DIR "
                "--temporal N` (Python: neurecon.infer.temporal.TemporalDenoiser)"
            )
        return self.forward_frames(window_frames(self, batch, source), batch["color"].shape[-2:])

    def forward_frames(self, window: Sequence[Frame | None], size) -> torch.Tensor:
        H, W = size
        return self.combine(window)[..., :H, :W]

    def spec(self) -> dict:
        b = self.backbone.spec()
        b.pop("arch")
        return {
            "arch": "unet_temporal",
            "backbone": b,
            "radius": self.radius,
            "blocks": self.blocks,
            "neighbour_kernel": self.neighbour_kernel,
            "neighbour_bias": self.neighbour_bias,
            "proj": self.proj,
        }


MOTION_KEYS = ("motion", "motion_valid", "motion_next", "motion_next_valid")


def window_flows(batch: Mapping[str, torch.Tensor], centre: int) -> tuple[list, list]:
    """Flows and validities from the centre slot to every slot of stacked windows (see
    TemporalUNet.forward); None for the centre. Absent slots (and chains through them) are invalid."""
    T = batch["motion"].shape[1]
    present = batch["present"].to(batch["motion"].dtype) if "present" in batch else None
    flows: list = [None] * T
    valids: list = [None] * T
    for direction, key in ((-1, "motion"), (1, "motion_next")):
        slots = list(range(centre, -1, -1)) if direction < 0 else list(range(centre, T))
        slots = slots[:-1]  # the frame a step starts from: centre, centre∓1, …
        steps = [batch[key][:, s] for s in slots]
        vs = [batch[f"{key}_valid"][:, s] for s in slots]
        if present is not None:  # a link into an absent frame, or out of one, is not valid
            both = [present[:, s] * present[:, s + direction] for s in slots]
            vs = [v * b[:, None, None, None] for v, b in zip(vs, both)]
        fl, ms = chain_flows(steps, vs) if steps else ([], [])
        for k, (f, m) in enumerate(zip(fl, ms)):
            flows[centre + direction * (k + 1)] = f
            valids[centre + direction * (k + 1)] = m
    return flows, valids


def slot_features(
    model: TemporalUNet, batch: Mapping[str, torch.Tensor], source: str | None = None
) -> list[list[torch.Tensor] | None]:
    """The frozen backbone's features of every slot of stacked windows (None: absent everywhere)."""
    src = source or model.default_source
    needed = set(model.config.sources[src]) | {"color"}
    present = batch.get("present")
    out: list[list[torch.Tensor] | None] = []
    for j in range(batch["color"].shape[1]):
        if present is not None and not bool(present[:, j].any()):
            out.append(None)
            continue
        with torch.no_grad():
            out.append(model.features({k: batch[k][:, j] for k in needed}, src))
    return out


def window_frames(
    model: TemporalUNet,
    batch: Mapping[str, torch.Tensor],
    source: str | None,
    features: Sequence[list[torch.Tensor] | None] | None = None,
) -> list[Frame | None]:
    """Backbone features per slot (no gradient: the backbone is frozen; `features` passes them in
    precomputed) and the flows from the centre slot to them."""
    T = batch["color"].shape[1]
    c = model.radius
    if T != model.frames:
        raise ValueError(f"windows of this model have {model.frames} slots, got {T}")
    flows, valids = window_flows(batch, c)
    present = batch.get("present")
    frames: list[Frame | None] = []
    features = slot_features(model, batch, source) if features is None else features
    for j in range(T):
        feats = features[j]
        if feats is None or (present is not None and j != c and not bool(present[:, j].any())):
            frames.append(None)
            continue
        inputs = {"color": batch["color"][:, j]}
        padded, _ = pad_to_multiple({"color": inputs["color"]}, model.stride)
        if j == c:
            frames.append(Frame(feats, padded["color"]))
            continue
        flow, valid = flows[j], valids[j]
        if present is not None:
            valid = valid * present[:, j, None, None, None].to(valid.dtype)
        fv, _ = pad_to_multiple({"f": flow, "v": valid}, model.stride)
        frames.append(Frame(feats, padded["color"], fv["f"], fv["v"]))
    return frames
