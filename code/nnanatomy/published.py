"""Published weights, for readers who are online (the optional cells of the chapters).

Nothing in the book's executed path calls the network: CI and the site build run offline, and the
optional cells that call :func:`fetch` are marked and skipped there. What happens after a download
is tested offline: :func:`load_gpt2` and :func:`load_hubert` read a folder in the layout of the
Hugging Face Hub, and :func:`load_vocal_remover` a checkpoint file of Ultimate Vocal Remover, which
the tests write themselves from random weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import torch

from ._checks import check_real, check_str
from .data.bpe import BytePairTokenizer
from .models.gpt import GPT, from_hf_gpt2
from .models.hubert import PublishedHuBERT, from_hf_hubert
from .models.uvr5 import CascadedASPPNet
from .separation import UVR_SETTINGS, PublishedSetting, VocalRemover

__all__ = ["GPT2_REPOS", "HUBERT_REPOS", "HUB", "UVR_MODELS", "VOCAL_REMOVERS", "OfflineError", "fetch", "gpt2", "hubert",
           "load_gpt2", "load_hubert", "load_vocal_remover", "uvr_hash", "vocal_remover"]

#: where the Hugging Face Hub serves a repository's files
HUB = "https://huggingface.co/{repo}/resolve/main/{file}"

#: GPT-2's sizes → the repositories of OpenAI's published weights on the Hub
GPT2_REPOS = {"124M": "openai-community/gpt2", "355M": "openai-community/gpt2-medium",
              "774M": "openai-community/gpt2-large", "1558M": "openai-community/gpt2-xl"}

_GPT2_FILES = ("config.json", "vocab.json", "merges.txt")

#: HuBERT's published encoders (pre-trained on LibriSpeech 960 h; LARGE on Libri-Light 60k h)
HUBERT_REPOS = {"base": "facebook/hubert-base-ls960", "large": "facebook/hubert-large-ll60k"}


#: where Ultimate Vocal Remover's application downloads its public models (a release of a GitHub repository)
UVR_MODELS = "https://github.com/{repo}/releases/download/all_public_uvr_models/{file}"
_UVR_REPO = "TRvlvr/model_repo"

#: published checkpoints of chapter 12's network: the file, the setting Ultimate Vocal Remover's
#: registry (``models/VR_Models/model_data/model_data.json``) gives its hash, and that hash
VOCAL_REMOVERS = {
    "MGM_MAIN_v4": {"file": "MGM_MAIN_v4.pth", "setting": "1band_sr44100_hl512", "uvr_hash": "5a6e24c1b530f2dab045a522ef89b751"},
}


class OfflineError(RuntimeError):
    """A download failed (no network, or the server refused): the optional cell says so and stops."""


def _cache_root() -> Path:
    return Path(os.environ.get("NNANATOMY_CACHE", Path.home() / ".cache" / "nnanatomy"))


def fetch(repo: str, files: tuple[str, ...], folder: str | Path | None = None, url: str = HUB, timeout: float = 30.0) -> Path:
    """Download ``files`` of the Hub repository ``repo`` into ``folder`` (default
    ``~/.cache/nnanatomy/<repo>``, or ``$NNANATOMY_CACHE``) unless they are already there, and
    return the folder. Each file is written under a temporary name and renamed when complete, so
    an interrupted download leaves no half file. Raises :class:`OfflineError` when a file cannot
    be downloaded."""
    repo = check_str("repo", repo)
    if repo.count("/") != 1 or not all(repo.split("/")) or ".." in repo:
        raise ValueError(f"repo must be 'owner/name', got {repo!r}")
    if not isinstance(files, tuple) or not files or not all(isinstance(f, str) and f and "/" not in f for f in files):
        raise ValueError("files must be a non-empty tuple of file names")
    if folder is not None and not isinstance(folder, (str, Path)):
        raise TypeError(f"folder must be a str, a Path or None, got {type(folder).__name__}")
    url = check_str("url", url)
    if "{repo}" not in url or "{file}" not in url:
        raise ValueError(f"url must contain {{repo}} and {{file}}, got {url!r}")
    timeout = check_real("timeout", timeout, 0.0, 3600.0, low_open=True)
    target = Path(folder) if folder is not None else _cache_root() / repo
    target.mkdir(parents=True, exist_ok=True)
    for name in files:
        path = target / name
        if path.exists():
            continue
        address = url.format(repo=repo, file=name)
        handle, partial = tempfile.mkstemp(dir=target, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out, urllib.request.urlopen(address, timeout=timeout) as response:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
            os.replace(partial, path)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise OfflineError(f"could not download {address} ({exc}); this optional step needs a network "
                               f"(for example Colab). Nothing else in the chapter depends on it.") from exc
        finally:
            if os.path.exists(partial):
                os.remove(partial)
    return target


def load_gpt2(folder: str | Path) -> tuple[GPT, BytePairTokenizer]:
    """GPT-2 from a folder in the Hub's layout: ``config.json``, ``vocab.json``, ``merges.txt``
    and the weights as ``model.safetensors`` (needs the ``safetensors`` package) or
    ``pytorch_model.bin``. Returns the chapter's :class:`~nnanatomy.models.GPT` with the weights
    (eval mode, float32) and GPT-2's tokenizer."""
    if not isinstance(folder, (str, Path)):
        raise TypeError(f"folder must be a str or a Path, got {type(folder).__name__}")
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder {str(folder)!r} does not exist")
    missing = [f for f in _GPT2_FILES if not (folder / f).exists()]
    if missing:
        raise ValueError(f"folder {str(folder)!r} lacks {missing}")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    model = from_hf_gpt2({k: v.float() for k, v in _weights(folder).items()}, config)
    encoder = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    merges = (folder / "merges.txt").read_text(encoding="utf-8").splitlines()
    return model, BytePairTokenizer.from_gpt2(encoder, merges)


def gpt2(size: str = "124M", folder: str | Path | None = None) -> tuple[GPT, BytePairTokenizer]:
    """Download (once) OpenAI's published GPT-2 of ``size`` and load it into the chapter's GPT.
    124M is about 550 MB."""
    if size not in GPT2_REPOS:
        raise ValueError(f"size must be one of {sorted(GPT2_REPOS)}, got {size!r}")
    import importlib.util

    weights = "model.safetensors" if importlib.util.find_spec("safetensors") else "pytorch_model.bin"
    return load_gpt2(fetch(GPT2_REPOS[size], (*_GPT2_FILES, weights), folder))


def _weights(folder: Path) -> dict:
    if (folder / "model.safetensors").exists():
        try:
            from safetensors.torch import load_file
        except ImportError as exc:
            raise ImportError("reading model.safetensors needs the safetensors package (pip install safetensors)") from exc
        return load_file(str(folder / "model.safetensors"))
    if (folder / "pytorch_model.bin").exists():
        return torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise ValueError(f"folder {str(folder)!r} has neither model.safetensors nor pytorch_model.bin")


def load_hubert(folder: str | Path) -> PublishedHuBERT:
    """The published HuBERT from a folder in the Hub's layout (``config.json`` and the weights as
    ``model.safetensors`` or ``pytorch_model.bin``), in eval mode, float32."""
    if not isinstance(folder, (str, Path)):
        raise TypeError(f"folder must be a str or a Path, got {type(folder).__name__}")
    folder = Path(folder)
    if not (folder / "config.json").exists():
        raise ValueError(f"folder {str(folder)!r} lacks config.json")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return from_hf_hubert({k: v.float() for k, v in _weights(folder).items()}, config)


def hubert(size: str = "base", folder: str | Path | None = None) -> PublishedHuBERT:
    """Download (once) the published HuBERT encoder and load it. BASE is about 380 MB."""
    if size not in HUBERT_REPOS:
        raise ValueError(f"size must be one of {sorted(HUBERT_REPOS)}, got {size!r}")
    return load_hubert(fetch(HUBERT_REPOS[size], ("config.json", "pytorch_model.bin"), folder))


def uvr_hash(path: str | Path) -> str:
    """The hash Ultimate Vocal Remover identifies a checkpoint by: the MD5 of the file's last
    10,000 KiB (of the whole file when it is smaller)."""
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or a Path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no file at {str(path)!r}")
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 10_000 * 1024))
        return hashlib.md5(f.read()).hexdigest()


_WIDTH_KEY = "stg1_low_band_net.enc1.conv1.conv.0.weight"


def load_vocal_remover(path: str | Path, setting: str | PublishedSetting = "1band_sr44100_hl512") -> VocalRemover:
    """A checkpoint of the cascaded ASPP network (a state dict saved by ``torch.save``, as Ultimate
    Vocal Remover and tsurumeso's vocal-remover ship them) loaded strictly into chapter 12's
    :class:`~nnanatomy.models.uvr5.CascadedASPPNet`, with the setting it was trained at.

    The width is read from the file: 32 channels in the first encoder is the published
    ``nets_123812KB`` width (31,618,944 parameters), 16 the v4 width of tsurumeso's network
    (7,921,856). Any other key set — UVR's 5.1 ``CascadedNet`` with LSTMs, or its variants with a
    fifth encoder or more ASPP branches — raises ``ValueError``."""
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or a Path, got {type(path).__name__}")
    if isinstance(setting, str):
        if setting not in UVR_SETTINGS:
            raise ValueError(f"setting must be one of {sorted(UVR_SETTINGS)} or a PublishedSetting, got {setting!r}")
        setting = UVR_SETTINGS[setting]
    elif not isinstance(setting, PublishedSetting):
        raise TypeError(f"setting must be a name or a PublishedSetting, got {type(setting).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no file at {str(path)!r}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch's own errors
        raise ValueError(f"could not read {str(path)!r} as a PyTorch state dict ({exc})") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{str(path)!r} does not hold a state dict (a dict of tensors)")
    if _WIDTH_KEY not in state or state[_WIDTH_KEY].ndim != 4:
        raise ValueError(f"{str(path)!r} is not a CascadedASPPNet checkpoint: it has no {_WIDTH_KEY!r} "
                         f"(UVR's 5.1 models are another network)")
    channels = state[_WIDTH_KEY].shape[0]
    model = CascadedASPPNet(setting.config.n_fft, width=channels / 32)
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{str(path)!r} does not match CascadedASPPNet at width {channels}/32: {exc}") from exc
    return VocalRemover(model.eval(), setting, path.stem)


def vocal_remover(name: str = "MGM_MAIN_v4", folder: str | Path | None = None) -> VocalRemover:
    """Download (once) a published checkpoint of chapter 12's network from Ultimate Vocal
    Remover's model repository, check its hash against UVR's registry and load it.
    ``MGM_MAIN_v4`` is about 30 MB."""
    if name not in VOCAL_REMOVERS:
        raise ValueError(f"name must be one of {sorted(VOCAL_REMOVERS)}, got {name!r}")
    entry = VOCAL_REMOVERS[name]
    path = fetch(_UVR_REPO, (entry["file"],), folder, url=UVR_MODELS) / entry["file"]
    found = uvr_hash(path)
    if found != entry["uvr_hash"]:
        raise ValueError(f"{str(path)!r} has UVR hash {found}, not {entry['uvr_hash']}: another or a damaged file. "
                         f"Delete it and run again to download it anew.")
    return load_vocal_remover(path, entry["setting"])
