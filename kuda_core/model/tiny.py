"""Tiny random GPT-2 and Llama models with in-memory tokenizers (no downloads).

Used by the fast tests and by device smoke checks; real enough to exercise every code path.

    >>> lm = tiny_model("gpt2")      # LoadedModel: 4 layers, d=64, byte-level BPE tokenizer
    >>> lm = tiny_model("llama")     # LoadedModel: 4 layers, d=64, SentencePiece-style tokenizer
"""
from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from kuda_core.model.architectures import spec_for
from kuda_core.model.loading import LoadedModel

CORPUS = [
    "The Eiffel Tower is located in the city of Paris.",
    "The capital of France is Paris. The capital of Japan is Tokyo.",
    "The Colosseum is in Rome. Big Ben is in London.",
    "Microsoft was founded by Bill Gates. Apple makes the iPhone.",
    "The official language of Brazil is Portuguese.",
    "Albert Einstein developed the theory of relativity.",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "A cup of tea in the morning helps many people start their day.",
    "Water boils at one hundred degrees at sea level.",
    "The river flows through the old town and into the sea.",
] * 4


def tiny_tokenizer(style: str) -> PreTrainedTokenizerFast:
    """A BPE tokenizer trained in memory: "byte_level" (GPT-2 style) or "metaspace" (Llama style)."""
    special = ["<unk>", "<s>", "</s>"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>" if style == "metaspace" else None))
    if style == "byte_level":
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    elif style == "metaspace":
        tokenizer.normalizer = normalizers.NFKC()
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
        tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
        alphabet = []
    else:
        raise ValueError(f"Unknown tokenizer style {style!r}")
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=special, initial_alphabet=alphabet)
    tokenizer.train_from_iterator(CORPUS, trainer)
    if style == "metaspace":  # Llama prepends BOS to every prompt
        bos = tokenizer.token_to_id("<s>")
        tokenizer.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
        )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="</s>"
    )
    return wrapped


def tiny_model(family: str, seed: int = 0, n_layers: int = 4) -> LoadedModel:
    """A randomly initialised model of `family` ("gpt2" or "llama") on the CPU in float32."""
    torch.manual_seed(seed)
    if family == "gpt2":
        tokenizer = tiny_tokenizer("byte_level")
        config = GPT2Config(
            vocab_size=len(tokenizer), n_positions=128, n_embd=64, n_layer=n_layers, n_head=4,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        )
        model = GPT2LMHeadModel(config)
    elif family == "llama":
        tokenizer = tiny_tokenizer("metaspace")
        config = LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=n_layers,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        model = LlamaForCausalLM(config)
    else:
        raise ValueError(f"Unknown family {family!r}; use 'gpt2' or 'llama'")
    model.eval()
    return LoadedModel(
        model=model, tokenizer=tokenizer, spec=spec_for(model), name=f"tiny-{family}",
        device=torch.device("cpu"), dtype=torch.float32,
    )
