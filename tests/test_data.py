"""cnnkit.data: the bundled digits, MNIST and CIFAR-10 read from files written here in their
published formats and served over HTTP from 127.0.0.1 (the real download path: progress bar,
checksum, retry, atomic rename), and the device-resident loader."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import pickle
import struct
import tarfile
import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnkit import data as cdata
from cnnkit.data import ChecksumError, DataBundle, DeviceLoader, DownloadError, Resource, ensure, load
from cnnkit.data import cifar, mnist
from cnnkit.data.mnist import read_idx


# ----------------------------------------------------------------------------- a tiny web server
class _Server:
    """Serves ``files`` (path -> bytes); ``faults`` (path -> list) makes the next requests fail.

    A fault is an HTTP status (answered with that error) or "short" (announces the full
    length, sends half and closes: a dropped connection).
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, list] = {}
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                server.hits.append(self.path)
                pending = server.faults.get(self.path)
                fault = pending.pop(0) if pending else None
                body = server.files.get(self.path)
                if isinstance(fault, int) or body is None:
                    self.send_error(fault if isinstance(fault, int) else 404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if fault == "short" else body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = _Server()
    yield srv
    srv.close()


def _md5(blob: bytes) -> str:
    return hashlib.md5(blob).hexdigest()


# ----------------------------------------------------------------------------- published formats
def idx_bytes(array: np.ndarray) -> bytes:
    """An array of uint8 in the IDX format (LeCun's MNIST page), gzip-compressed."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def fake_mnist(rng: np.random.Generator, n_train: int = 12, n_test: int = 5):
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    return arrays, {key: idx_bytes(a) for key, a in arrays.items()}


def serve_mnist(server: _Server, monkeypatch, blobs: dict[str, bytes]) -> None:
    resources = {}
    for key, res in mnist.RESOURCES.items():
        server.files[f"/mnist/{res.filename}"] = blobs[key]
        urls = (f"{server.url}/missing/{res.filename}", f"{server.url}/mnist/{res.filename}")
        resources[key] = Resource(res.filename, _md5(blobs[key]), urls)
    monkeypatch.setattr(mnist, "RESOURCES", resources)


def cifar_tar_bytes(rng: np.random.Generator, per_batch: int = 3):
    """cifar-10-python.tar.gz in miniature: the same members, pickles with bytes keys."""
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {n: (rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                   rng.integers(0, 10, per_batch).tolist()) for n in names}
    label_names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship",
                   b"truck"]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name: str, obj) -> None:
            blob = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
        for n, (d, labels) in batches.items():
            add(n, {b"batch_label": n.encode(), b"labels": labels, b"data": d, b"filenames": []})
        add("batches.meta", {b"label_names": label_names, b"num_cases_per_batch": per_batch, b"num_vis": 3072})
    return batches, buf.getvalue()


# ----------------------------------------------------------------------------- digits
def test_digits_split_shapes_range_and_stratification():
    bundle = load("digits")
    (xtr, ytr), (xte, yte) = bundle.train, bundle.test
    assert isinstance(bundle, DataBundle) and bundle.name == "digits"
    assert xtr.shape == (1437, 1, 8, 8) and xte.shape == (360, 1, 8, 8)
    assert xtr.dtype == torch.float32 and ytr.dtype == torch.int64
    assert float(xtr.min()) == 0.0 and float(xtr.max()) == 1.0  # 0..16 ink levels / 16
    assert bundle.classes == [str(d) for d in range(10)]
    # stratified: each digit has 35-37 test images (sklearn has 174-183 of each)
    assert torch.bincount(yte, minlength=10).min() >= 35
    # the train mean/std are per channel and describe the train split
    assert bundle.mean == pytest.approx((float(xtr.mean()),), rel=1e-5)
    assert bundle.std == pytest.approx((float(xtr.std(unbiased=False)),), rel=1e-5)
    # the split is fixed: a second load gives the same tensors
    again = load("digits")
    assert torch.equal(again.train[0], xtr) and torch.equal(again.test[1], yte)


def test_digits_upscaled_and_limited():
    small = load("digits", size=32, limit=50)
    assert small.train[0].shape == (50, 1, 32, 32) and small.test[0].shape == (50, 1, 32, 32)
    assert small.in_channels == 1 and small.num_classes == 10 and small.image_size == (32, 32)
    assert 0.0 <= float(small.train[0].min()) and float(small.train[0].max()) <= 1.0
    full = load("digits")
    assert torch.equal(small.train[1], full.train[1][:50])
    # bilinear upscaling keeps the mean ink roughly (edges are clamped)
    assert abs(float(small.train[0].mean()) - float(full.train[0][:50].mean())) < 0.02
    assert "digits" in repr(small) and "(50, 1, 32, 32)" in repr(small)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"name": "imagenet"}, ValueError, "name must be one of"),
    ({"name": "digits", "size": 0}, ValueError, "size must be >= 1, got 0"),
    ({"name": "digits", "limit": -3}, ValueError, "limit must be >= 1, got -3"),
    ({"name": "digits", "limit": 2.5}, TypeError, "limit must be an int, got 2.5"),
])
def test_load_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load(**kwargs)


# ----------------------------------------------------------------------------- MNIST
def test_mnist_downloads_verifies_and_reads_idx(server, monkeypatch, tmp_path, capsys):
    arrays, blobs = fake_mnist(np.random.default_rng(0))
    serve_mnist(server, monkeypatch, blobs)
    bundle = load("mnist", root=tmp_path)
    x, y = bundle.train
    assert x.shape == (12, 1, 28, 28) and y.dtype == torch.int64
    np.testing.assert_allclose(x[:, 0].numpy(), arrays["train_images"] / 255.0, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(bundle.test[1].numpy(), arrays["test_labels"])
    # the first mirror 404s, the second serves: every file came from the second
    assert sum("/missing/" in h for h in server.hits) == 4 and sum("/mnist/" in h for h in server.hits) == 4
    # a progress bar was shown, and nothing but the four files was left in the cache
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(r.filename for r in
                                                                            mnist.RESOURCES.values())
    # cached: a second load needs no server at all
    server.close()
    again = load("mnist", root=tmp_path, download=False, size=32)
    assert again.train[0].shape == (12, 1, 32, 32)


def test_mnist_cache_folder_comes_from_env(server, monkeypatch, tmp_path):
    _, blobs = fake_mnist(np.random.default_rng(1))
    serve_mnist(server, monkeypatch, blobs)
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path / "cache"))
    load("mnist")
    assert (tmp_path / "cache" / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()


def test_missing_file_without_download_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=False"):
        load("mnist", root=tmp_path, download=False)


def test_offline_switch_forbids_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"missing(.|\n)*downloads are off because \$CNNKIT_OFFLINE"):
        load("cifar10", root=tmp_path)


def test_read_idx_rejects_bad_magic_and_truncated_files(tmp_path):
    good = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "ok.gz"
    path.write_bytes(idx_bytes(good))
    np.testing.assert_array_equal(read_idx(path), good)
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x1f\x00\x08\x01" + b"\x00" * 8))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad.gz")
    (tmp_path / "short.gz").write_bytes(gzip.compress(gzip.decompress(idx_bytes(good))[:-5]))
    with pytest.raises(ValueError, match="header promises shape"):
        read_idx(tmp_path / "short.gz")


# ----------------------------------------------------------------------------- the download path
def test_wrong_checksum_fails_clearly_and_leaves_nothing(server, tmp_path):
    server.files["/f.bin"] = b"payload" * 100
    res = Resource("f.bin", "0" * 32, (f"{server.url}/f.bin",))
    with pytest.raises(ChecksumError, match=r"MD5 is [0-9a-f]{32}, the published MD5 of f.bin is 0{32}"):
        ensure(res, tmp_path, retries=2, backoff_s=0, progress=False)
    assert list(tmp_path.iterdir()) == []  # no partial or temporary file is left behind
    assert len(server.hits) == 2  # tried again before giving up


def test_retry_after_server_error_and_dropped_connection(server, tmp_path):
    blob = bytes(range(256)) * 64
    server.files["/f.bin"] = blob
    server.faults["/f.bin"] = [503, "short"]
    res = Resource("f.bin", _md5(blob), (f"{server.url}/f.bin",))
    path = ensure(res, tmp_path, retries=3, backoff_s=0, progress=False)
    assert path.read_bytes() == blob and len(server.hits) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_dropped_connection_is_never_used(server, tmp_path):
    blob = b"x" * 5000
    server.files["/f.bin"] = blob
    server.faults["/f.bin"] = ["short", "short"]
    res = Resource("f.bin", _md5(blob), (f"{server.url}/f.bin",))
    with pytest.raises(DownloadError, match="announced 5000"):
        ensure(res, tmp_path, retries=2, backoff_s=0, progress=False)
    assert not (tmp_path / "f.bin").exists() and list(tmp_path.iterdir()) == []


def test_corrupted_cache_is_detected_and_fetched_again(server, tmp_path):
    blob = b"the real bytes" * 50
    server.files["/f.bin"] = blob
    res = Resource("f.bin", _md5(blob), (f"{server.url}/f.bin",))
    (tmp_path / "f.bin").write_bytes(blob[:100])  # a partial copy left by some other tool
    with pytest.raises(ChecksumError, match="damaged"):
        ensure(res, tmp_path, download=False)
    with pytest.warns(RuntimeWarning, match="damaged.*fetching it again"):
        assert ensure(res, tmp_path, progress=False).read_bytes() == blob


def test_resource_and_retries_validation():
    with pytest.raises(ValueError, match="at least one URL"):
        Resource("a", "0" * 32, ())
    with pytest.raises(ValueError, match="32 hex digits"):
        Resource("a", "abc", ("http://x/a",))
    with pytest.raises(ValueError, match="retries must be >= 1"):
        ensure(Resource("a", "0" * 32, ("http://x/a",)), ".", retries=0)


# ----------------------------------------------------------------------------- CIFAR-10
def test_cifar10_reads_pickle_batches_from_the_archive(server, monkeypatch, tmp_path):
    batches, blob = cifar_tar_bytes(np.random.default_rng(2))
    server.files["/cifar-10-python.tar.gz"] = blob
    monkeypatch.setattr(cifar, "RESOURCE", Resource("cifar-10-python.tar.gz", _md5(blob),
                                                    (f"{server.url}/cifar-10-python.tar.gz",)))
    bundle = load("cifar10", root=tmp_path, limit=14)
    (x, y), (xt, yt) = bundle.train, bundle.test
    assert x.shape == (14, 3, 32, 32) and xt.shape == (3, 3, 32, 32) and len(bundle.mean) == 3
    assert bundle.classes[0] == "airplane" and bundle.classes[9] == "truck"
    # each row is 1024 red, 1024 green, 1024 blue values in row-major order
    d1, labels1 = batches["data_batch_1"]
    assert float(x[1, 2, 3, 4]) == pytest.approx(d1[1, 2 * 1024 + 3 * 32 + 4] / 255.0)
    d2, labels2 = batches["data_batch_2"]
    assert float(x[4, 0, 31, 0]) == pytest.approx(d2[1, 31 * 32] / 255.0)  # batches in order 1..5
    assert y[:6].tolist() == labels1 + labels2[:3]
    assert yt.tolist() == batches["test_batch"][1]


def test_cifar10_archive_without_batches_is_rejected(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("README")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    path = tmp_path / "x.tar.gz"
    path.write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="lacks"):
        cifar.read_cifar10(path)


# ----------------------------------------------------------------------------- sample image
def test_sample_image_gray_is_the_luma_of_the_colour_image():
    rgb = cdata.sample_image(gray=False, size=48)
    gray = cdata.sample_image(gray=True, size=48)
    assert rgb.shape == (48, 48, 3) and gray.shape == (48, 48)
    assert rgb.dtype == np.float32 and 0.0 <= gray.min() and gray.max() <= 1.0
    np.testing.assert_allclose(gray, rgb @ np.array([0.299, 0.587, 0.114]), atol=1e-5)
    full = cdata.sample_image()
    assert full.ndim == 2 and min(full.shape) > 100 and full.std() > 0.1  # a real photo, not a blank
    with pytest.raises(ValueError, match="size"):
        cdata.sample_image(size=0)


# ----------------------------------------------------------------------------- the device loader
def _images(n: int, c: int = 1, h: int = 6, w: int = 6) -> torch.Tensor:
    return torch.arange(n * c * h * w, dtype=torch.float32).reshape(n, c, h, w) / (n * c * h * w)


def test_loader_covers_each_image_once_and_reshuffles_by_epoch():
    x, y = _images(23), torch.arange(23)
    loader = DeviceLoader(x, y, batch_size=5, device="cpu", seed=3)
    assert len(loader) == 5
    first = torch.cat([yb for _, yb in loader])
    assert sorted(first.tolist()) == list(range(23))
    assert torch.equal(torch.cat([yb for _, yb in loader]), first)  # same epoch -> same order
    loader.set_epoch(1)
    second = torch.cat([yb for _, yb in loader])
    assert not torch.equal(second, first) and sorted(second.tolist()) == list(range(23))
    for xb, yb in loader:  # images travel with their labels
        assert torch.equal(xb, x[yb])
    drop = DeviceLoader(x, y, batch_size=5, shuffle=False, device="cpu", drop_last=True)
    assert len(drop) == 4 and torch.equal(torch.cat([yb for _, yb in drop]), torch.arange(20))


def test_loader_shards_partition_the_epoch():
    x, y = _images(11), torch.arange(11)
    shards = [torch.cat([yb for _, yb in DeviceLoader(x, y, 4, device="cpu", rank=r, world_size=3)])
              for r in range(3)]
    assert all(len(s) == 4 for s in shards)  # padded to 12 so every rank takes the same steps
    assert set(torch.cat(shards).tolist()) == set(range(11))


def test_loader_normalizes_per_channel():
    x = torch.rand(8, 3, 4, 4)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    xb, _ = next(iter(DeviceLoader(x, torch.zeros(8, dtype=torch.long), 8, shuffle=False, device="cpu",
                                   normalize=(mean, std))))
    expected = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    assert torch.allclose(xb, expected, rtol=1e-6, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       seed=st.integers(0, 2**16), flip=st.booleans())
def test_crop_flip_gives_a_shifted_window_of_the_zero_padded_image(n, c, h, w, seed, flip):
    x = torch.rand(n, c, h, w) + 0.5  # strictly positive, so padding zeros are recognisable
    loader = DeviceLoader(x, torch.arange(n), n, shuffle=False, device="cpu", seed=seed,
                          augment="crop_flip" if flip else "crop")
    (out, _), = list(loader)
    assert out.shape == x.shape
    p = 4
    padded = torch.nn.functional.pad(x, (p, p, p, p))
    for i in range(n):
        windows = [padded[i, :, t:t + h, l:l + w] for t in range(2 * p + 1) for l in range(2 * p + 1)]
        candidates = windows + ([win.flip(-1) for win in windows] if flip else [])
        assert any(torch.equal(out[i], win) for win in candidates)


def test_crop_flip_is_random_but_reproducible():
    x = torch.rand(64, 3, 8, 8)
    y = torch.arange(64)
    a = next(iter(DeviceLoader(x, y, 64, shuffle=False, augment="crop_flip", device="cpu", seed=1)))[0]
    b = next(iter(DeviceLoader(x, y, 64, shuffle=False, augment="crop_flip", device="cpu", seed=1)))[0]
    c = next(iter(DeviceLoader(x, y, 64, shuffle=False, augment="crop_flip", device="cpu", seed=2)))[0]
    assert torch.equal(a, b) and not torch.equal(a, c)
    unchanged = sum(torch.equal(a[i], x[i]) for i in range(64))
    assert unchanged < 16  # 1 in 81 offsets is (4, 4), and then half are flipped


@pytest.mark.parametrize("kwargs, error, match", [
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
    ({"augment": "rotate"}, ValueError, "augment must be one of"),
    ({"normalize": ((0.5, 0.5), (1.0, 1.0))}, ValueError, "normalize must be"),
    ({"normalize": ((0.5,), (0.0,))}, ValueError, "std must be positive"),
    ({"rank": 2, "world_size": 2}, ValueError, "rank < world_size"),
    ({"seed": "a"}, TypeError, "seed must be an int"),
])
def test_loader_validates_arguments(kwargs, error, match):
    args = {"batch_size": 4, "device": "cpu", **kwargs}
    with pytest.raises(error, match=match):
        DeviceLoader(torch.rand(5, 3, 4, 4), torch.zeros(5, dtype=torch.long), **args)


def test_loader_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="one label per image"):
        DeviceLoader(torch.rand(5, 1, 4, 4), torch.zeros(4, dtype=torch.long), 2, device="cpu")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        DeviceLoader(torch.rand(5, 4, 4), torch.zeros(5, dtype=torch.long), 2, device="cpu")
