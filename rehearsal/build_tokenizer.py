"""Build the small tokenizer directory the mocker workers and frontends load.

Why: the rehearsal has no hub access, so it cannot fetch Llama 3.1's tokenizer.
Dynamo only needs *a* tokenizer (to count tokens, hash KV blocks and render the
chat template), so we train a small byte-level BPE on original text shipped in
the repo plus the most frequent English words (from the `wordfreq` package, a
build-time-only dependency), so English prose costs about as many tokens as it
does with Llama 3's tokenizer, and give it Llama-3-style special tokens and chat
template. The output is committed under rehearsal/tokenizer/; run this module
only to regenerate it:

    pip install wordfreq==3.1.1 && python -m rehearsal.build_tokenizer
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from rehearsal.settings import MODEL_NAME

HERE = Path(__file__).parent
CORPUS = HERE / "tokenizer_corpus.txt"
OUT_DIR = HERE / "tokenizer"
VOCAB_SIZE = 8000
TOP_WORDS = 20000

BOS, EOS, START_HEADER, END_HEADER = (
    "<|begin_of_text|>",
    "<|eot_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
)
SPECIAL_TOKENS = [BOS, "<|end_of_text|>", START_HEADER, END_HEADER, EOS]

# Llama 3 chat layout: a header per message, each message closed by <|eot_id|>,
# and an open assistant header when a reply is wanted.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}"
    "{{ message['content'] | trim }}{{ '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)

# Shape of Llama 3.1 70B, so anything Dynamo derives from config.json (KV bytes
# per token, context length) matches the model the cloud stacks serve.
MODEL_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 8192,
    "intermediate_size": 28672,
    "num_hidden_layers": 80,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-05,
    "torch_dtype": "bfloat16",
}


def training_text():
    """Our prose, then common words repeated by frequency so BPE learns them whole."""
    import wordfreq  # build-time only

    yield from CORPUS.read_text().splitlines()
    for word in wordfreq.top_n_list("en", TOP_WORDS):
        # A flattened weight (frequency ** 0.3) spreads merges over many words.
        repeats = max(2, int((wordfreq.word_frequency(word, "en") * 1e8) ** 0.3))
        yield (" " + word) * repeats
        yield (" " + word.capitalize()) * max(1, repeats // 4)


def train() -> Tokenizer:
    """Train the byte-level BPE; byte-level means any text still encodes."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_text(), trainer)
    return tokenizer


def write(out_dir: Path = OUT_DIR) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = train()
    tokenizer.save(str(out_dir / "tokenizer.json"))
    vocab_size = tokenizer.get_vocab_size()
    eos_id = tokenizer.token_to_id(EOS)
    bos_id = tokenizer.token_to_id(BOS)
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": EOS,
        "model_max_length": MODEL_CONFIG["max_position_embeddings"],
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    }
    config = dict(MODEL_CONFIG, vocab_size=vocab_size, bos_token_id=bos_id, eos_token_id=eos_id,
                  _name_or_path=MODEL_NAME)
    generation_config = {"bos_token_id": bos_id, "eos_token_id": eos_id}
    for name, payload in (
        ("tokenizer_config.json", tokenizer_config),
        ("config.json", config),
        ("generation_config.json", generation_config),
        ("special_tokens_map.json", {"bos_token": BOS, "eos_token": EOS, "pad_token": EOS}),
    ):
        (out_dir / name).write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    write()
    print(f"wrote {OUT_DIR}")
