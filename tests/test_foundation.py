"""Device choice, architecture table, model loading, hooks, tokens, network defaults, app options."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

from kuda_core.model.architectures import ARCHITECTURES, get_module, spec_for, spec_for_type
from kuda_core.model.device import pick_device
from kuda_core.model.generation import greedy_continuation, top_next_tokens
from kuda_core.model.hooks import Hooks, first_tensor, hook_count, replace_first
from kuda_core.model.loading import load_model
from kuda_core.model.tokens import answer_ids, answer_token_id, find_subject, subject_match_note, subject_range
from kuda_core.model.tiny import tiny_model

PROMPT = "The Eiffel Tower is located in the city of"


def test_pick_device_cpu_and_errors():
    assert pick_device("cpu") == (torch.device("cpu"), torch.float32)
    device, dtype = pick_device("auto")
    assert dtype == (torch.bfloat16 if device.type == "cuda" else torch.float32)
    with pytest.raises(ValueError, match="Unknown device"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            pick_device("cuda")


def test_architecture_table_names_resolve(tiny_lm):
    spec = tiny_lm.spec
    for template in (spec.block, spec.attn, spec.mlp, spec.mlp_out, *spec.mlp_in):
        get_module(tiny_lm.model, template.format(0))
    for name in (spec.embed, spec.final_norm, spec.lm_head, spec.layers):
        get_module(tiny_lm.model, name)
    weight = get_module(tiny_lm.model, spec.mlp_out.format(0)).weight
    d_model = tiny_lm.model.config.hidden_size
    # GPT-2's Conv1D stores (in, out); nn.Linear stores (out, in)
    assert (weight.shape[1] if spec.out_transposed else weight.shape[0]) == d_model


def test_unsupported_architecture_names_supported_ones(tmp_path):
    model = GPTNeoXForCausalLM(GPTNeoXConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1,
                                             num_attention_heads=2, intermediate_size=64))
    with pytest.raises(LookupError, match="supported model types: gpt2, llama, mistral, qwen2, qwen3"):
        spec_for(model)
    model.save_pretrained(tmp_path / "neox")
    with pytest.raises(LookupError, match="gpt_neox"):
        load_model(str(tmp_path / "neox"), device="cpu")
    assert set(ARCHITECTURES) >= {"gpt2", "llama", "mistral", "qwen2", "qwen3"}
    assert spec_for_type("mistral") is spec_for_type("llama")


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_load_model_from_local_folder_and_pickle_refusal(tmp_path, family):
    lm = tiny_model(family)
    folder = tmp_path / family
    lm.model.save_pretrained(folder)
    lm.tokenizer.save_pretrained(folder)
    loaded = load_model(str(folder), device="cpu")
    ids = lm.tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.allclose(loaded.model(ids).logits, lm.model(ids).logits, atol=1e-6)
    assert loaded.n_layers == 4 and loaded.spec.family == family
    # a pickle-only checkpoint is refused unless allowed
    pickled = tmp_path / f"{family}-pickle"
    lm.model.save_pretrained(pickled)
    lm.tokenizer.save_pretrained(pickled)
    (pickled / "model.safetensors").rename(pickled / "weights.moved")
    torch.save(lm.model.state_dict(), pickled / "pytorch_model.bin")
    with pytest.raises(OSError, match="pickle"):
        load_model(str(pickled), device="cpu")
    allowed = load_model(str(pickled), device="cpu", allow_pickle=True)
    with torch.no_grad():
        assert torch.allclose(allowed.model(ids).logits, lm.model(ids).logits, atol=1e-6)


def test_missing_model_gives_clear_error(tmp_path):
    with pytest.raises(OSError, match="Could not load model"):
        load_model(str(tmp_path / "nothing-here"), device="cpu")
    with pytest.raises(FileNotFoundError, match="GGUF file not found"):
        load_model(str(tmp_path / "missing.gguf"), device="cpu")


def test_hooks_capture_and_edit(tiny_lm):
    model, spec = tiny_lm.model, tiny_lm.spec
    ids = tiny_lm.tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    block, mlp, attn = spec.block.format(1), spec.mlp.format(1), spec.attn.format(1)
    with Hooks(model, capture_outputs=[block, mlp, attn], capture_inputs=[spec.mlp_out.format(1)]) as rec:
        clean = model(ids).logits
    assert rec.outputs[block].shape == (1, ids.shape[1], model.config.hidden_size)
    assert rec.outputs[attn].dim() == 3 and rec.inputs[spec.mlp_out.format(1)].dim() == 3
    assert hook_count(model) == 0

    def zero_mlp(x, name):
        return torch.zeros_like(x)

    with Hooks(model, edit_outputs={mlp: zero_mlp}, capture_outputs=[mlp]) as rec:
        edited = model(ids).logits
    assert torch.count_nonzero(rec.outputs[mlp]) == 0
    assert not torch.allclose(clean, edited)
    assert hook_count(model) == 0


def test_hooks_removed_on_exception_and_generator_close(tiny_lm):
    model = tiny_lm.model
    with pytest.raises(RuntimeError):
        with Hooks(model, capture_outputs=[tiny_lm.spec.mlp.format(0)]):
            assert hook_count(model) == 1
            raise RuntimeError("boom")
    assert hook_count(model) == 0

    def streaming():
        with Hooks(model, capture_outputs=[tiny_lm.spec.mlp.format(0)]):
            for i in range(10):
                yield i

    iterator = streaming()
    next(iterator)
    assert hook_count(model) == 1
    iterator.close()
    assert hook_count(model) == 0
    with pytest.raises(AttributeError):
        with Hooks(model, capture_outputs=["no.such.module"]):
            pass
    assert hook_count(model) == 0


def test_first_tensor_and_replace_first():
    t, u = torch.ones(2), torch.zeros(2)
    assert first_tensor(t) is t and replace_first(t, u) is u
    packed = (t, "cache")
    assert first_tensor(packed) is t and replace_first(packed, u) == (u, "cache")
    with pytest.raises(TypeError):
        first_tensor("not a tensor")


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_subject_range(family):
    tokenizer = tiny_model(family).tokenizer
    start, end = subject_range(tokenizer, PROMPT, "Eiffel Tower")
    tokens = tokenizer.convert_ids_to_tokens(tokenizer(PROMPT)["input_ids"])
    text = "".join(tokens[start:end]).replace("Ġ", " ").replace("▁", " ").strip()
    assert text == "Eiffel Tower"
    # a leading space in the subject does not pull in the previous token
    assert subject_range(tokenizer, PROMPT, " Eiffel Tower") == (start, end)
    assert subject_range(tokenizer, PROMPT, "The") == (1 if family == "llama" else 0, 2 if family == "llama" else 1)
    with pytest.raises(LookupError, match="does not occur"):
        subject_range(tokenizer, PROMPT, "Colosseum")
    with pytest.raises(ValueError, match="empty"):
        subject_range(tokenizer, PROMPT, "  ")


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_one_definition_of_an_answers_tokens(family):
    tokenizer = tiny_model(family).tokenizer
    prompt = "The Eiffel Tower is located in the city of"
    with_space = answer_ids(tokenizer, prompt, " Paris")
    assert answer_ids(tokenizer, prompt, "Paris") == with_space               # a missing space is added
    assert answer_ids(tokenizer, prompt + " ", "Paris") == tokenizer("Paris", add_special_tokens=False)["input_ids"]
    assert answer_token_id(tokenizer, prompt, "Paris") == with_space[0]
    assert tokenizer.decode(with_space).strip() == "Paris"
    long = answer_ids(tokenizer, prompt, "the city of lights and rivers")
    assert len(long) > 1 and tokenizer.decode(long).strip() == "the city of lights and rivers"
    with pytest.raises(ValueError, match="tokenizes to nothing"):
        answer_token_id(tokenizer, prompt, "")


def test_subjects_match_ignoring_case_when_unique():
    assert find_subject("The Colosseum is located in the city of", "the Colosseum") == (0, 13)
    assert find_subject("The Colosseum is located in the city of", "Colosseum") == (4, 13)
    with pytest.raises(LookupError, match="2 times"):
        find_subject("the cat saw The Cat", "THE CAT")
    with pytest.raises(LookupError, match="did you mean 'Eiffel Tower'"):
        find_subject(PROMPT, "Eifel Tower")
    tokenizer = tiny_model("gpt2").tokenizer
    assert subject_range(tokenizer, PROMPT, "eiffel tower") == subject_range(tokenizer, PROMPT, "Eiffel Tower")
    # which span was used is said only when it differs from what was typed
    assert subject_match_note(PROMPT, "Eiffel Tower") == ""
    assert subject_match_note(PROMPT, "eiffel TOWER") == "Subject 'eiffel TOWER' matched as 'Eiffel Tower' (capitals ignored)."


def test_generate_helpers(tiny_lm):
    pairs = top_next_tokens(tiny_lm, PROMPT, k=10)
    assert len(pairs) == 10 and abs(sum(p for _, p in pairs)) <= 1.0 + 1e-6
    assert [p for _, p in pairs] == sorted((p for _, p in pairs), reverse=True)
    assert isinstance(greedy_continuation(tiny_lm, PROMPT, max_new_tokens=3), str)
    with pytest.raises(ValueError, match="empty"):
        top_next_tokens(tiny_lm, "   ")
    with pytest.raises(ValueError, match="context"):
        top_next_tokens(tiny_lm, "word " * 400)


def test_offline_by_default():
    code = (
        "import os, kuda_core, huggingface_hub.constants as c;"
        "print(os.environ['HF_HUB_OFFLINE'], os.environ['HF_DATASETS_OFFLINE'],"
        " os.environ['GRADIO_ANALYTICS_ENABLED'], c.HF_HUB_OFFLINE)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "KUDA_", "GRADIO_", "TRANSFORMERS_"))}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1", "False", "True"]
    out = subprocess.run([sys.executable, "-c", code], env={**env, "KUDA_ONLINE": "1"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.split()[:2] == ["0", "0"]


def test_app_refuses_public_host_without_credentials():
    import app

    assert app.parse_args([]).host == "127.0.0.1"
    with pytest.raises(SystemExit):
        app.parse_args(["--host", "0.0.0.0"])
    args = app.parse_args(["--host", "0.0.0.0", "--username", "u", "--password", "p"])
    assert args.username == "u"


def test_the_upload_limit_is_one_gradio_reads():
    """`--max-upload-mb 20` once crashed the app at launch: gradio does not read "20.0mb"."""
    import app
    from gradio.utils import _parse_file_size

    for given, expected in (("20", 20 * 2**20), ("2.5", int(2.5 * 2**20))):
        assert _parse_file_size(app.upload_limit(app.parse_args(["--max-upload-mb", given]))) == expected
    assert _parse_file_size(app.upload_limit(app.parse_args([]))) == 50 * 2**20
    with pytest.raises(SystemExit):
        app.parse_args(["--max-upload-mb", "0"])


@pytest.mark.slow
def test_default_model_answers_paris(default_lm):
    assert default_lm.n_layers == 30 and default_lm.spec.family == "llama"
    assert round(default_lm.n_params / 1e6, 1) == 134.5
    token, prob = top_next_tokens(default_lm, "The capital of France is", k=1)[0]
    assert token == " Paris" and prob > 0.5
    assert greedy_continuation(default_lm, "The capital of France is", 3).startswith(" Paris")


@pytest.mark.slow
def test_default_model_loads_from_gguf_file():
    from kuda_core.model.loading import default_gguf_path

    lm = load_model(str(default_gguf_path()), device="cpu")
    assert lm.n_layers == 30
    assert top_next_tokens(lm, "The capital of France is", k=1)[0][0] == " Paris"
