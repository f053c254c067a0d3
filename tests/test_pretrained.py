"""Published ImageNet weights: fetched once, verified by the SHA-256 prefix in their name, cached, loaded.

No test touches the real network. Checkpoints are written by the test in the published format (a
``torch.save``'d state_dict named ``<model>-<first 8 hex digits of its SHA-256>.pth``) and served from a
``file://`` folder, or through a monkeypatched ``urlopen`` that cuts the body short or has no network.
"""
from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

from cnnkit import models
from cnnkit.data import download
from cnnkit.models import pretrained


def _checkpoint(model_name: str, folder, *, seed: int = 0, wrong_hash: bool = False):
    """Write a freshly initialised ``model_name``'s state_dict in torchvision's format; return (path, state)."""
    torch.manual_seed(seed)
    model = {"resnet18": models.resnet18, "alexnet": models.alexnet, "vgg16": models.vgg16}[model_name]()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    blob = buffer.getvalue()
    prefix = hashlib.sha256(blob).hexdigest()[:8]
    if wrong_hash:
        prefix = f"{(int(prefix, 16) + 1) % 16**8:08x}"
    path = folder / f"{model_name}-{prefix}.pth"
    path.write_bytes(blob)
    return path, model.state_dict()


@pytest.fixture
def published(tmp_path, monkeypatch):
    """Serve checkpoints from a local folder; cache into another; downloads allowed."""
    served, cache = tmp_path / "served", tmp_path / "cache"
    served.mkdir()
    monkeypatch.setattr(pretrained, "_BASE", served.as_uri() + "/")
    monkeypatch.setenv("CNNKIT_DATA", str(cache))
    monkeypatch.delenv("CNNKIT_OFFLINE", raising=False)

    def publish(model_name: str, **options):
        path, state = _checkpoint(model_name, served, **options)
        monkeypatch.setitem(pretrained.PUBLISHED, model_name, pretrained.PublishedWeights(model_name, path.name))
        return path, state

    publish.cache = cache / "weights"
    return publish


def _cached_files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_load_pretrained_downloads_verifies_caches_and_loads(published):
    path, state = published("resnet18", seed=3)
    net = models.load_pretrained("resnet18", progress=False)
    assert not net.training, "a pretrained model comes back in eval mode"
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert _cached_files(published.cache) == [path.name], "exactly the checkpoint is cached, no partial file"
    path.unlink()                                           # the server is gone: the cache serves
    again = models.resnet18(weights="imagenet")
    assert torch.equal(again.fc.weight, state["fc.weight"])


def test_the_constructor_option_and_models_get_load_the_same(published):
    _, state = published("resnet18", seed=1)
    net = models.get("resnet18", weights="imagenet")
    assert torch.equal(net.conv1.weight, state["conv1.weight"])


def test_checksum_mismatch_is_one_line_and_caches_nothing(published):
    published("resnet18", wrong_hash=True)
    with pytest.raises(models.WeightsUnavailable) as err:
        models.load_pretrained("resnet18", progress=False)
    message = str(err.value)
    assert "\n" not in message and "checksum mismatch" in message and "SHA-256" in message, message
    assert _cached_files(published.cache) == [], "a file with the wrong checksum must not be cached, not even in part"


class _ShortResponse(io.BytesIO):
    """A response that announces ``length`` bytes and delivers fewer: a dropped connection."""

    def __init__(self, body: bytes, length: int):
        super().__init__(body)
        self.headers = {"Content-Length": str(length)}


def test_truncated_download_is_reported_and_leaves_no_partial_file(published, monkeypatch):
    path, _ = published("resnet18")
    blob = path.read_bytes()
    calls = []

    def cut_short(url, timeout):
        calls.append(url)
        return _ShortResponse(blob[: len(blob) // 3], len(blob))

    monkeypatch.setattr(download.urllib.request, "urlopen", cut_short)
    with pytest.raises(models.WeightsUnavailable) as err:
        models.load_pretrained("resnet18", progress=False, retries=2)
    assert "\n" not in str(err.value) and "bytes" in str(err.value), str(err.value)
    assert len(calls) == 2, "each of the retries should have tried once"
    assert _cached_files(published.cache) == []


def test_no_network_is_one_line_and_caches_nothing(published, monkeypatch):
    published("resnet18")

    def unreachable(url, timeout):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(download.urllib.request, "urlopen", unreachable)
    with pytest.raises(models.WeightsUnavailable) as err:
        models.load_pretrained("resnet18", progress=False, retries=1)
    message = str(err.value)
    assert "\n" not in message and "offline" in message and "Name or service not known" in message, message
    assert _cached_files(published.cache) == []


def test_offline_switch_forbids_downloads_but_reads_the_cache(published, monkeypatch):
    published("resnet18", seed=2)
    monkeypatch.setenv("CNNKIT_OFFLINE", "1")
    monkeypatch.setattr(download.urllib.request, "urlopen", lambda *a, **k: pytest.fail("no download when offline"))
    with pytest.raises(models.WeightsUnavailable, match=r"CNNKIT_OFFLINE is set"):
        models.load_pretrained("resnet18")
    assert _cached_files(published.cache) == []


def test_cache_is_used_offline_and_a_damaged_copy_is_refused(published, monkeypatch):
    path, state = published("resnet18", seed=4)
    models.load_pretrained("resnet18", progress=False)
    monkeypatch.setenv("CNNKIT_OFFLINE", "1")
    net = models.load_pretrained("resnet18")                 # cached: no network needed
    assert torch.equal(net.fc.bias, state["fc.bias"])
    cached = published.cache / path.name
    cached.write_bytes(cached.read_bytes()[:1000])           # damaged on disk later
    with pytest.raises(models.WeightsUnavailable) as err:
        models.load_pretrained("resnet18")
    assert "\n" not in str(err.value) and "checksum mismatch" in str(err.value), str(err.value)


def test_a_verified_file_that_is_no_checkpoint_is_refused(published, monkeypatch, tmp_path):
    junk = b"not a checkpoint"
    name = f"resnet18-{hashlib.sha256(junk).hexdigest()[:8]}.pth"
    (tmp_path / "served" / name).write_bytes(junk)
    monkeypatch.setitem(pretrained.PUBLISHED, "resnet18", pretrained.PublishedWeights("resnet18", name))
    with pytest.raises(models.WeightsUnavailable, match="not a readable checkpoint"):
        models.load_pretrained("resnet18", progress=False)


def test_published_table_names_torchvision_files_and_hash_prefixes():
    assert models.pretrained_names() == ["alexnet", "vgg16", "resnet18"]
    alex = models.PUBLISHED["alexnet"]
    assert alex.sha256 == "7be5be79"
    assert alex.resource.urls == ("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",)
    assert all(len(w.sha256) == 8 and w.filename.startswith(w.model) for w in models.PUBLISHED.values())


@pytest.mark.parametrize("call, match", [
    (lambda: models.load_pretrained("lenet5"), "name must be one of"),
    (lambda: models.alexnet(weights="cifar"), "weights must be None or one of"),
    (lambda: models.resnet18(num_classes=10, weights="imagenet"), "num_classes=10"),
    (lambda: models.alexnet(variant="original", weights="imagenet"), "variant='torchvision' only"),
])
def test_bad_arguments_name_what_is_allowed(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_resource_checks_its_sha256_prefix():
    with pytest.raises(ValueError, match="sha256"):
        download.Resource("a.pth", "", ("file:///a.pth",), sha256="XYZ")
    with pytest.raises(ValueError, match="md5 empty"):
        download.Resource("a.pth", "0" * 32, ("file:///a.pth",), sha256="0" * 8)


def test_imagenet_batch_resizes_crops_and_normalises():
    rng = np.random.default_rng(0)
    photos = [rng.random((300, 400, 3)), np.full((224, 224, 3), 0.5)]
    x = models.imagenet_batch(photos)
    assert x.shape == (2, 3, 224, 224) and x.dtype == torch.float32
    expected = (0.5 - torch.tensor(models.IMAGENET_MEAN)) / torch.tensor(models.IMAGENET_STD)
    assert torch.allclose(x[1, :, 100, 100], expected, atol=1e-5), "a grey image becomes (0.5 - mean) / std"
    assert np.allclose(models.unnormalize(x[1:])[0], 0.5, atol=1e-5), "unnormalize undoes the normalisation"
    with pytest.raises(ValueError, match="images\\[0\\]"):
        models.imagenet_batch([np.zeros((8, 8))])


def test_sample_photos_are_the_shipped_colour_photographs():
    from cnnkit import data

    photos = data.sample_photos()
    assert list(photos) == ["grace_hopper", "china", "flower"]
    for name, photo in photos.items():
        assert photo.ndim == 3 and photo.shape[2] == 3 and min(photo.shape[:2]) >= 400, name
        assert photo.dtype == np.float32 and 0.0 <= photo.min() and photo.max() <= 1.0 and photo.std() > 0.1, name
    assert models.imagenet_batch(list(photos.values())).shape == (3, 3, 224, 224)
