"""The online path of the optional cells, tested offline: fetch from a 'hub' on the local disk,
load a GPT-2 folder written here from random weights, and fail clearly without a network."""

from __future__ import annotations

import json

import pytest
import torch

from nnanatomy import models, published
from nnanatomy.data.bpe import BytePairTokenizer, gpt2_byte_alphabet
from nnanatomy.models.gpt import _hf_gpt2_names, config_from_hf_gpt2

HF_CONFIG = {"vocab_size": 300, "n_positions": 32, "n_embd": 32, "n_layer": 2, "n_head": 4, "activation_function": "gelu_new"}


def _write_gpt2_folder(folder, fmt="bin"):
    config = config_from_hf_gpt2(HF_CONFIG)
    torch.manual_seed(0)
    model = models.GPT(config)
    ours = dict(model.named_parameters())
    state = {"transformer." + hf: (ours[n].detach().t() if t else ours[n].detach()).contiguous().clone()
             for n, (hf, t) in _hf_gpt2_names(config).items()}
    state["lm_head.weight"] = state["transformer.wte.weight"]
    if fmt == "bin":
        torch.save(state, folder / "pytorch_model.bin")
    else:
        from safetensors.torch import save_file
        save_file({k: v.clone() for k, v in state.items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(HF_CONFIG))
    tok = BytePairTokenizer.train("the cat sat on the mat and the cat ate " * 10, 299)
    alphabet = gpt2_byte_alphabet()
    names = ["".join(alphabet[b] for b in t) for t in tok.vocab]
    (folder / "vocab.json").write_text(json.dumps({**{n: i for i, n in enumerate(names)}, "<|endoftext|>": len(names)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{names[a]} {names[b]}\n" for a, b in sorted(tok.ranks, key=tok.ranks.get)))
    return model, tok


@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
def test_load_gpt2_reads_the_hub_layout(tmp_path, fmt):
    if fmt == "safetensors":
        pytest.importorskip("safetensors")
    model, tok = _write_gpt2_folder(tmp_path, fmt)
    loaded, loaded_tok = published.load_gpt2(tmp_path)
    ids = torch.tensor([loaded_tok.encode("the cat sat on the mat")])
    assert ids.tolist()[0] == tok.encode("the cat sat on the mat")
    with torch.no_grad():
        assert torch.equal(loaded(ids)[0], model.eval()(ids)[0])
    assert loaded_tok.special == {"<|endoftext|>": tok.vocab_size}


def test_load_gpt2_names_what_is_missing(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        published.load_gpt2(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="lacks"):
        published.load_gpt2(tmp_path)
    _write_gpt2_folder(tmp_path)
    (tmp_path / "pytorch_model.bin").unlink()
    with pytest.raises(ValueError, match="neither model.safetensors nor pytorch_model.bin"):
        published.load_gpt2(tmp_path)


def test_fetch_downloads_once_and_atomically(tmp_path):
    hub = tmp_path / "hub" / "someone" / "model"
    hub.mkdir(parents=True)
    (hub / "a.txt").write_text("first")
    url = (tmp_path / "hub").as_uri() + "/{repo}/{file}"
    folder = published.fetch("someone/model", ("a.txt",), tmp_path / "cache", url=url)
    assert (folder / "a.txt").read_text() == "first"
    (hub / "a.txt").write_text("second")
    published.fetch("someone/model", ("a.txt",), tmp_path / "cache", url=url)
    assert (folder / "a.txt").read_text() == "first"  # already there: not downloaded again
    with pytest.raises(published.OfflineError, match="needs a network"):
        published.fetch("someone/model", ("missing.txt",), tmp_path / "cache", url=url)
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt"]  # no half-written file left behind


def test_fetch_without_a_network_says_so(tmp_path):
    with pytest.raises(published.OfflineError, match="optional step"):
        published.fetch("someone/model", ("a.txt",), tmp_path, url="http://127.0.0.1:9/{repo}/{file}", timeout=2.0)
    with pytest.raises(ValueError, match="size must be one of"):
        published.gpt2("117M")
    with pytest.raises(ValueError, match="files"):
        published.fetch("someone/model", ("../escape",), tmp_path)
