"""Architectures used to test xai, with seeded random weights.

Imported by export_models.py (writes TorchScript files and model cards) and
reference_cam.py (eager Grad-CAM reference). Nothing here downloads weights:
every model is built from scratch and given deterministic random weights by
`create_model(arch, seed)`.
"""

from collections import OrderedDict
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
GRAY_MEAN = [0.5]
GRAY_STD = [0.5]

BIG_ARCHS = ["resnet50", "densenet121", "densenet201", "efficientnet_b0", "xception"]
TINY_ARCHS = ["tiny", "tiny_binary"]
# Vision transformers (torchvision's classes): the real ViT-B/16 and Swin-T for the gradient CAMs, and
# small configurations of the same classes for the probe CAMs (Score-CAM and Ablation-CAM run one
# pass per channel: 768 passes of ViT-B/16 would take minutes).
TRANSFORMER_ARCHS = ["vit_b_16", "swin_t", "vit_mini", "swin_mini"]
ALL_ARCHS = BIG_ARCHS + TINY_ARCHS + TRANSFORMER_ARCHS


# --------------------------------------------------------------------------
# TinyNet: a ResNet-like toy for fast unit tests (C++ tests rely on its names)
# --------------------------------------------------------------------------


class TinyBlock(nn.Module):
    """Basic residual block written like torchvision's: one ReLU module used
    twice and an in-place residual add right after bn2."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: Optional[nn.Module] = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_ch),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity  # in-place on bn2's output: deliberate (as in torchvision)
        out = self.relu(out)
        return out


class TinyNet(nn.Module):
    """64x64 input; `in_ch`=1 and `num_classes`=1 give the grayscale
    single-logit (sigmoid) variant."""

    def __init__(self, in_ch: int = 3, num_classes: int = 3):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_ch, 16, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(inplace=True),
        )
        self.layer1 = nn.Sequential(TinyBlock(16, 16), TinyBlock(16, 16))
        self.layer2 = nn.Sequential(TinyBlock(16, 32, stride=2))
        self.drop = nn.Dropout(0.2)
        self.head = nn.Sequential(nn.Conv2d(32, 32, 1), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.drop(x)
        x = self.head(x)
        x = self.pool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


# --------------------------------------------------------------------------
# Xception (Chollet 2017, "Xception: Deep Learning with Depthwise Separable
# Convolutions"), 299x299 input.
# --------------------------------------------------------------------------


class SeparableConv2d(nn.Module):
    """Depthwise 3x3 (groups=in_ch) followed by pointwise 1x1; no BN/ReLU
    in between, as in the paper."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.depthwise = nn.Conv2d(in_ch, in_ch, 3, padding=1, groups=in_ch, bias=False)
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class XceptionBlock(nn.Module):
    """`reps` x (ReLU, SeparableConv2d, BN), then an optional 3x3 stride-2
    max pool, plus a residual: identity, or 1x1 stride-2 conv + BN when the
    block downsamples.

    `widths` lists the output channels of each separable conv. The first
    ReLU is not in-place because the block input is also the residual; the
    first block of the network starts without a ReLU (`start_with_relu`).
    """

    def __init__(self, in_ch: int, widths: List[int], downsample: bool, start_with_relu: bool = True):
        super().__init__()
        layers: "OrderedDict[str, nn.Module]" = OrderedDict()
        ch = in_ch
        for i, width in enumerate(widths, start=1):
            if i > 1 or start_with_relu:
                layers[f"relu{i}"] = nn.ReLU(inplace=i > 1)
            layers[f"sep{i}"] = SeparableConv2d(ch, width)
            layers[f"bn{i}"] = nn.BatchNorm2d(width)
            ch = width
        if downsample:
            layers["pool"] = nn.MaxPool2d(3, stride=2, padding=1)
        self.body = nn.Sequential(layers)

        self.shortcut: Optional[nn.Module] = None
        if downsample or in_ch != ch:
            self.shortcut = nn.Sequential(
                OrderedDict(
                    conv=nn.Conv2d(in_ch, ch, 1, stride=2 if downsample else 1, bias=False),
                    bn=nn.BatchNorm2d(ch),
                )
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        else:
            out = out + x
        return out


def _conv_bn_relu(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    # Unpadded like the paper: 299 -> 149 -> 147.
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(in_ch, out_ch, 3, stride=stride, bias=False),
            bn=nn.BatchNorm2d(out_ch),
            relu=nn.ReLU(inplace=True),
        )
    )


def _sep_bn_relu(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(
            sep=SeparableConv2d(in_ch, out_ch),
            bn=nn.BatchNorm2d(out_ch),
            relu=nn.ReLU(inplace=True),
        )
    )


class Xception(nn.Module):
    """Spatial sizes for a 299x299 input: entry 149/147 -> 74 -> 37 -> 19,
    middle 19, exit 10, then global average pool and `fc`."""

    def __init__(self, num_classes: int = 4, in_ch: int = 3):
        super().__init__()
        self.entry = nn.Sequential(
            OrderedDict(
                conv1=_conv_bn_relu(in_ch, 32, stride=2),
                conv2=_conv_bn_relu(32, 64, stride=1),
                block1=XceptionBlock(64, [128, 128], downsample=True, start_with_relu=False),
                block2=XceptionBlock(128, [256, 256], downsample=True),
                block3=XceptionBlock(256, [728, 728], downsample=True),
            )
        )
        self.middle = nn.Sequential(
            OrderedDict((f"block{i}", XceptionBlock(728, [728, 728, 728], downsample=False)) for i in range(1, 9))
        )
        self.exit = nn.Sequential(
            OrderedDict(
                block=XceptionBlock(728, [728, 1024], downsample=True),
                conv3=_sep_bn_relu(1024, 1536),
                conv4=_sep_bn_relu(1536, 2048),
            )
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.entry(x)
        x = self.middle(x)
        x = self.exit(x)
        x = self.pool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


def _kaiming_init(model: nn.Module) -> None:
    # Same scheme torchvision's ResNet uses, for the models written here.
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------

_SPECS: Dict[str, dict] = {
    "resnet50": dict(
        input_size=[224, 224], channels="rgb", labels=["benign", "malignant"], output="softmax", target_layer="layer4"
    ),
    "densenet121": dict(
        input_size=[224, 224],
        channels="rgb",
        labels=["benign", "malignant", "normal"],
        output="softmax",
        target_layer="features",
    ),
    "densenet201": dict(
        input_size=[224, 224], channels="rgb", labels=["normal", "pneumonia"], output="softmax", target_layer="features"
    ),
    # Single-logit binary model: labels are [negative, positive].
    "efficientnet_b0": dict(
        input_size=[224, 224], channels="rgb", labels=["benign", "malignant"], output="sigmoid", target_layer="features"
    ),
    # No target_layer: xai chooses (the last encoder block's first norm; Swin's last stage).
    "vit_b_16": dict(input_size=[224, 224], channels="rgb", labels=["benign", "malignant", "other"], output="softmax",
                     target_layer=None),
    "swin_t": dict(input_size=[224, 224], channels="rgb", labels=["glioma", "meningioma", "notumor", "pituitary"],
                   output="softmax", target_layer=None),
    "vit_mini": dict(input_size=[64, 64], channels="rgb", labels=["benign", "malignant", "other"], output="softmax",
                     target_layer=None),
    "swin_mini": dict(input_size=[96, 96], channels="rgb", labels=["normal", "pneumonia"], output="softmax",
                      target_layer=None),
    "xception": dict(
        input_size=[299, 299],
        channels="rgb",
        labels=["glioma", "meningioma", "notumor", "pituitary"],
        output="softmax",
        target_layer="exit",
    ),
    "tiny": dict(
        input_size=[64, 64],
        channels="rgb",
        labels=["benign", "malignant", "other"],
        output="softmax",
        target_layer="layer2",
    ),
    "tiny_binary": dict(
        input_size=[64, 64], channels="gray", labels=["benign", "malignant"], output="sigmoid", target_layer="layer2"
    ),
}


def input_spec(arch: str) -> dict:
    """What the model expects and what its output means (the model card's
    content): input_size [H, W], channels, mean, std, labels, output,
    target_layer."""
    if arch not in _SPECS:
        raise ValueError(f"unknown arch '{arch}'; known: {', '.join(ALL_ARCHS)}")
    spec = dict(_SPECS[arch])
    gray = spec["channels"] == "gray"
    spec["mean"] = list(GRAY_MEAN if gray else IMAGENET_MEAN)
    spec["std"] = list(GRAY_STD if gray else IMAGENET_STD)
    return spec


def num_outputs(arch: str) -> int:
    spec = input_spec(arch)
    # A sigmoid model with two labels is a single-logit binary model.
    if spec["output"] == "sigmoid" and len(spec["labels"]) == 2:
        return 1
    return len(spec["labels"])


def num_channels(arch: str) -> int:
    return 1 if input_spec(arch)["channels"] == "gray" else 3


def file_stem(arch: str) -> str:
    """Base name of exported files: `{stem}-{mode}.pt` / `.json`."""
    return "tiny-binary" if arch == "tiny_binary" else arch


def build_model(arch: str, seed: Optional[int] = None) -> nn.Module:
    """Constructs `arch` with freshly initialised weights (seeded first when
    `seed` is given). Never downloads anything."""
    if seed is not None:
        torch.manual_seed(seed)
    n = num_outputs(arch)
    if arch == "resnet50":
        return torchvision.models.resnet50(weights=None, num_classes=n)
    if arch == "densenet121":
        return torchvision.models.densenet121(weights=None, num_classes=n)
    if arch == "densenet201":
        return torchvision.models.densenet201(weights=None, num_classes=n)
    if arch == "efficientnet_b0":
        return torchvision.models.efficientnet_b0(weights=None, num_classes=n)
    if arch in TRANSFORMER_ARCHS:
        return _transformer(arch, n)
    if arch == "xception":
        model: nn.Module = Xception(num_classes=n, in_ch=num_channels(arch))
    elif arch in ("tiny", "tiny_binary"):
        model = TinyNet(in_ch=num_channels(arch), num_classes=n)
    else:
        raise ValueError(f"unknown arch '{arch}'; known: {', '.join(ALL_ARCHS)}")
    _kaiming_init(model)
    return model


def _transformer(arch: str, n: int) -> nn.Module:
    from torchvision.models.swin_transformer import SwinTransformer
    from torchvision.models.vision_transformer import VisionTransformer

    if arch == "vit_b_16":
        model: nn.Module = torchvision.models.vit_b_16(weights=None, num_classes=n)
    elif arch == "swin_t":
        model = torchvision.models.swin_t(weights=None, num_classes=n)
    elif arch == "vit_mini":  # 8x8 patches of 8 px, a class token: 65 tokens of 64 channels
        model = VisionTransformer(image_size=64, patch_size=8, num_layers=3, num_heads=4, hidden_dim=64, mlp_dim=128,
                                  num_classes=n)
    else:  # swin_mini: 96 px -> 24, 12, 6, 3 positions per side; 16 to 128 channels
        model = SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2, 2, 2], num_heads=[2, 2, 4, 4],
                                window_size=[3, 3], stochastic_depth_prob=0.0, num_classes=n)
    # torchvision zero-initialises ViT's head: every logit 0 and every gradient 0 until trained.
    for module in model.modules():
        if isinstance(module, nn.Linear) and module.out_features == n:
            nn.init.normal_(module.weight, std=0.5)
            nn.init.normal_(module.bias, std=0.1)
    return model


# --------------------------------------------------------------------------
# Deterministic weights: random affine BN parameters + BN calibration
# --------------------------------------------------------------------------


def random_images(arch: str, n: int, generator: torch.Generator) -> torch.Tensor:
    """Seeded random images for `arch`, already normalised with the card's
    mean/std: [n, C, H, W] float32.

    Pixels in [0, 1] are a sum of Gaussian noise octaves (1/16, 1/4 and full
    resolution, bilinearly upsampled, amplitude falling with frequency, like
    natural images), so models calibrated on them also behave on sharp edges.
    """
    spec = input_spec(arch)
    height, width = spec["input_size"]
    channels = num_channels(arch)
    pixels = torch.zeros(n, channels, height, width)
    for factor, amplitude in ((16, 1.0), (4, 0.5), (1, 0.25)):
        low = torch.randn(n, channels, -(-height // factor), -(-width // factor), generator=generator)
        pixels += amplitude * F.interpolate(low, size=(height, width), mode="bilinear", align_corners=False)
    pixels = (0.5 + 0.25 * pixels).clamp(0.0, 1.0)
    mean = torch.tensor(spec["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(spec["std"]).view(1, -1, 1, 1)
    return (pixels - mean) / std


def _batchnorms(model: nn.Module) -> List[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def init_weights(model: nn.Module, seed: int, arch: Optional[str] = None, batches: int = 4, batch_size: int = 8) -> None:
    """Makes a randomly initialised model behave like a trained one enough
    for Grad-CAM tests to be meaningful, deterministically for `seed`.

    1. BN affine parameters get random values (gamma in [0.5, 1.5], beta ~
       N(0, 0.1)), so a C++ implementation that mishandled them would show.
    2. BN calibration: running statistics are set to the cumulative average
       over a few batches of seeded random images (`random_images`), so activations in
       eval mode are normalised rather than exploding or vanishing with depth.

    Only BN layers are put in training mode during calibration: dropout and
    stochastic depth (EfficientNet) stay off so the statistics match
    inference. `arch` gives the input shape (default: guessed from the model).
    """
    gen = torch.Generator().manual_seed(seed)
    bns = _batchnorms(model)
    for bn in bns:
        if bn.affine:
            bn.weight.copy_(torch.rand(bn.weight.shape, generator=gen) + 0.5)
            bn.bias.copy_(torch.randn(bn.bias.shape, generator=gen) * 0.1)

    if not bns:
        return  # transformers: LayerNorm only, nothing to calibrate
    if arch is None:
        arch = _guess_arch(model)
    saved_momentum = [bn.momentum for bn in bns]
    model.eval()
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average over the calibration batches
        bn.train()
    for _ in range(batches):
        model(random_images(arch, batch_size, gen))
    for bn, momentum in zip(bns, saved_momentum):
        bn.momentum = momentum
    model.eval()


def _guess_arch(model: nn.Module) -> str:
    if isinstance(model, Xception):
        return "xception"
    if isinstance(model, TinyNet):
        return "tiny" if model.fc.out_features > 1 else "tiny_binary"
    raise ValueError("pass arch= to init_weights for this model")


def create_model(arch: str, seed: int = 0) -> nn.Module:
    """build_model + init_weights: the eval-mode model whose weights get
    exported. Same seed, same weights."""
    model = build_model(arch, seed=seed)
    init_weights(model, seed, arch=arch, batch_size=_calibration_batch(arch))
    return model


def _calibration_batch(arch: str) -> int:
    # BN statistics pool over batch and space, so a few images suffice;
    # small batches keep the big models' calibration to seconds on 2 cores.
    if arch in TINY_ARCHS:
        return 8
    return 2 if arch in ("densenet201", "xception") else 4


def load_model(arch: str, weights_path: str) -> nn.Module:
    """Eager model with weights saved by export_models.py, in eval mode."""
    model = build_model(arch)
    model.load_state_dict(torch.load(weights_path, map_location="cpu"))
    model.eval()
    return model
