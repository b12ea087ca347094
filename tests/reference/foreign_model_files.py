"""Writes, into DIR, the model files users hand xai that it cannot explain as they are, each as its own tool writes it.

tests/model/test_model_file.cpp checks that xai names each one. Files from torch are written by torch itself
(torch.save in its formats, torch.export.save, AOTInductor with --aoti); the other frameworks' files, whose
packages are not installed here, are built from their published layouts: ONNX's ModelProto fields, HDF5's
format signature, safetensors' length-prefixed JSON header, Keras 3's zip of config.json and model.weights.h5,
and a TensorFlow SavedModel's saved_model.pb. A scripted model and its first half (a cut-short copy), models
traced in training mode, models whose forward() returns a tuple or a dictionary, and models whose forward pass
cannot run on float32 CPU inputs (float16 weights, tensors created on a GPU, one input channel), whose scores
are random (dropout asked for in forward(), noise) or depend on the batch (batch statistics, a batch's mean
subtracted) complete the set.

    foreign_model_files.py DIR [--aoti]
"""
import json
import os
import struct
import sys
import zipfile

import torch
import torch.nn as nn


def tiny_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()


def norm_and_dropout_model(track_running_stats=True):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8, track_running_stats=track_running_stats), nn.ReLU(),
                         nn.Dropout(0.5), nn.Conv2d(8, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 2))


class ReturnsTuple(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x), x.mean()


class ReturnsFeaturesThenLogits(nn.Module):
    """The features first: explaining the first value would explain 8 "classes"."""

    def __init__(self, inner):
        super().__init__()
        self.features = inner[:-1]
        self.classifier = inner[-1]

    def forward(self, x):
        features = self.features(x)
        return features, self.classifier(features)


class CreatesOnTheGpu(nn.Module):
    """What a trace on a GPU records for torch.zeros(..., device=x.device): the device, as a constant."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x) + torch.zeros(2, device=torch.device("cuda:0"))


class ReturnsDict(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return {"logits": self.inner(x)}


class MonteCarloDropout(nn.Module):
    """Dropout asked for explicitly (Monte Carlo dropout): on whatever eval() says."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(torch.nn.functional.dropout(x, 0.2, training=True))


class NoiseInForward(nn.Module):
    """Noise on the scores, drawn after every other operation (the input's dropout above is the first)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        scores = self.inner(x)
        return scores + 0.01 * torch.randn_like(scores)


class DrawsUnusedRandomNumbers(nn.Module):
    """Draws a random number that cannot reach its scores: deterministic."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x + 0 * torch.rand(1))


class NoiseOnBrightImages(nn.Module):
    """Noise only where the batch's mean is above 0.9: blank, textured and xai's probe images draw nothing."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        if bool(x.mean() > 0.9):
            x = x + 0.5 * torch.randn_like(x)
        return self.inner(x)


class CentresOnItsBatch(nn.Module):
    """Subtracts the batch's mean image: each image's scores depend on the others beside it."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x - x.mean(0, keepdim=True))


def depends_on_batch(model, example):
    pair = torch.cat([example, example * 0.2 + 0.8])
    with torch.no_grad():
        return (torch.softmax(model(pair), 1)[0] - torch.softmax(model(example), 1)[0]).abs().max().item() > 1e-3


def scores_vary(model, example):
    with torch.no_grad():
        return not torch.equal(model(example), model(example))


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def onnx_model_proto():
    # ModelProto: ir_version (1, varint), producer_name (2, string), graph (7, GraphProto with a name (2)).
    graph = b"\x12" + varint(len(b"main_graph")) + b"main_graph"
    return (b"\x08" + varint(8) + b"\x12" + varint(len(b"pytorch")) + b"pytorch" +
            b"\x3a" + varint(len(graph)) + graph)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    model = tiny_model()
    path = lambda name: os.path.join(out, name)

    torch.save(model.state_dict(), path("state_dict.pt"))
    torch.save(model, path("pickled.pt"))
    torch.save(model, path("pickled_protocol4.pt"), pickle_protocol=4)
    torch.save({"model": model.state_dict(), "epoch": 3}, path("checkpoint.pth"))
    torch.save(torch.zeros(3), path("tensor.pt"))
    torch.save(model.state_dict(), path("legacy.pt"), _use_new_zipfile_serialization=False)
    inputs = (torch.rand(1, 3, 32, 32),)
    torch.export.save(torch.export.export(model, inputs), path("exported.pt2"))
    if "--aoti" in sys.argv:
        torch._inductor.aoti_compile_and_package(torch.export.export(model, inputs), package_path=path("aoti.pt2"))

    scripted = path("scripted.pt")
    torch.jit.script(model).save(scripted)
    with open(scripted, "rb") as f:
        whole = f.read()
    with open(path("cut_short.pt"), "wb") as f:
        f.write(whole[: len(whole) // 2])

    # Traced in training mode: the trace keeps batch statistics and dropout whatever eval() says later.
    example = torch.rand(1, 3, 32, 32)
    torch.jit.trace(norm_and_dropout_model().train(), example, check_trace=False).save(path("traced_in_training_mode.pt"))
    # The same model scripted in training mode reads self.training: eval() on load makes it an eval model.
    torch.jit.script(norm_and_dropout_model().train()).save(path("scripted_in_training_mode.pt"))
    # Batch norms without running statistics use the batch's in eval mode too (the model's design), and a
    # model that centres its batch: an image's scores depend on its batch (checked here, in eager PyTorch).
    batch_statistics = torch.jit.trace(norm_and_dropout_model(track_running_stats=False).eval(), example)
    centres = torch.jit.script(CentresOnItsBatch(norm_and_dropout_model().eval()))
    assert depends_on_batch(batch_statistics, example) and depends_on_batch(centres, example)
    assert not depends_on_batch(torch.jit.script(norm_and_dropout_model().eval()), example)
    batch_statistics.save(path("traced_batch_statistics_by_design.pt"))
    centres.save(path("centres_on_its_batch.pt"))
    torch.jit.script(ReturnsTuple(norm_and_dropout_model().eval())).save(path("returns_tuple.pt"))
    torch.jit.script(ReturnsDict(norm_and_dropout_model().eval())).save(path("returns_dict.pt"))
    torch.jit.script(ReturnsFeaturesThenLogits(norm_and_dropout_model().eval())).save(
        path("returns_features_then_logits.pt"))
    # Scores that change from run to run whatever eval() says (checked here, in eager PyTorch), and a
    # model that draws a random number its scores never see.
    for name, wrapper, varies in (("monte_carlo_dropout.pt", MonteCarloDropout, True),
                                  ("noise_in_forward.pt", NoiseInForward, True),
                                  ("draws_unused_random_numbers.pt", DrawsUnusedRandomNumbers, False)):
        model_with_draws = wrapper(norm_and_dropout_model().eval()).eval()
        assert scores_vary(model_with_draws, example) == varies, name
        torch.jit.script(model_with_draws).save(path(name))
    noise_on_bright = NoiseOnBrightImages(norm_and_dropout_model().eval()).eval()
    assert not scores_vary(noise_on_bright, torch.zeros_like(example))
    textured = torch.rand_like(example) * 2 - 1  # as xai's textured image, and its probe pair
    assert not scores_vary(noise_on_bright, textured)
    assert not scores_vary(noise_on_bright, torch.cat([textured, textured * 0.2 + 0.8]))
    assert scores_vary(noise_on_bright, torch.ones_like(example))
    torch.jit.script(noise_on_bright).save(path("noise_on_bright_images.pt"))
    # Forward passes that cannot run here: weights in float16, tensors created on a GPU.
    torch.jit.script(tiny_model().half()).save(path("half_weights.pt"))
    torch.jit.script(CreatesOnTheGpu(tiny_model())).save(path("creates_on_cuda.pt"))
    # A grayscale model: its first convolution takes one channel, not the three xai assumes without a card.
    torch.jit.script(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                   nn.Linear(4, 2)).eval()).save(path("gray_input.pt"))

    with open(path("model.onnx"), "wb") as f:
        f.write(onnx_model_proto())
    with open(path("onnx_without_extension.bin"), "wb") as f:
        f.write(onnx_model_proto())
    with open(path("model.h5"), "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n" + bytes(504))
    header = json.dumps({"weight": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    with open(path("model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, 2.0))
    with zipfile.ZipFile(path("model.keras"), "w", zipfile.ZIP_DEFLATED) as keras:
        keras.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        keras.writestr("config.json", json.dumps({"class_name": "Sequential"}))
        keras.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(504))
    os.makedirs(path("saved_model"), exist_ok=True)
    with open(os.path.join(path("saved_model"), "saved_model.pb"), "wb") as f:
        f.write(b"\x08\x01")
    print("ok")


if __name__ == "__main__":
    main()
