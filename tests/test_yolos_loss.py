"""YOLOS's training loss (DETR's Hungarian-matched set loss) against transformers' on the same weights and batch.

A tiny random YolosForObjectDetection is saved by transformers and loaded by hfexplain; both get the
same images and labels (images with 2, 0, 6 and 1 objects: none, and more objects than the 5
detection tokens) and must agree on the matching, ``loss``, every ``loss_dict`` entry and every
parameter's gradient within 1e-5, for the default costs and for other costs and weights; a batch
with no objects at all too. Then the labels hfexplain refuses, each with its message.
"""
from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")
pytest.importorskip("scipy")

import parity  # noqa: E402

from hfexplain.models.yolos import YolosConfig, YolosForObjectDetection, hungarian_match  # noqa: E402

parity.quiet_transformers()

TINY = dict(image_size=[32, 32], patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, num_detection_tokens=5, num_labels=3)
OTHER_COSTS = dict(class_cost=2, bbox_cost=3, giou_cost=1, bbox_loss_coefficient=3,  # transformers wants ints
                   giou_loss_coefficient=4, eos_coefficient=0.3)
ATOL = 1e-5
LOSS_DIFF, GRAD_DIFF = [0.0], [0.0]  # printed, for the record


def random_labels(counts, num_labels: int, seed: int = 3) -> list[dict]:
    """One dict per image with ``count`` objects: class ids and (cx, cy, w, h) boxes inside the image."""
    generator = torch.Generator().manual_seed(seed)
    labels = []
    for count in counts:
        size = 0.05 + 0.4 * torch.rand(count, 2, generator=generator)  # (n, 2) w, h
        center = size / 2 + (1 - size) * torch.rand(count, 2, generator=generator)  # (n, 2) keeps the box inside
        labels.append({"class_labels": torch.randint(0, num_labels, (count,), generator=generator),
                       "boxes": torch.cat([center, size], dim=1)})
    return labels


def pair(tmp_path, **overrides):
    folder, _ = parity.save_reference(transformers.YolosForObjectDetection, {**TINY, **overrides}, tmp_path, perturb=0.5)
    reference = transformers.YolosForObjectDetection.from_pretrained(folder).train()
    ours = YolosForObjectDetection.from_pretrained(folder).train()
    return ours, reference


def losses_and_grads(model, pixel_values, labels):
    model.zero_grad()
    output = model(pixel_values=pixel_values, labels=[dict(target) for target in labels])
    output.loss.backward()
    grads = {name.replace("encoder.interpolation.", "encoder."): param.grad.clone()  # transformers 5's in-memory name
             for name, param in model.named_parameters() if param.grad is not None}
    return output, grads


@pytest.mark.parametrize("costs", [{}, OTHER_COSTS], ids=["default", "other_costs"])
@pytest.mark.parametrize("counts", [(2, 0, 6, 1), (0, 0)], ids=["mixed", "no_objects"])
def test_loss_and_gradients_match_transformers(tmp_path, costs, counts):
    ours, reference = pair(tmp_path, **costs)
    pixel_values = torch.randn(len(counts), 3, 32, 32, generator=torch.Generator().manual_seed(1))
    labels = random_labels(counts, TINY["num_labels"])

    mine, my_grads = losses_and_grads(ours, pixel_values, labels)
    theirs, their_grads = losses_and_grads(reference, pixel_values, labels)

    assert mine.loss_dict.keys() == theirs.loss_dict.keys() == {"loss_ce", "loss_bbox", "loss_giou",
                                                                "cardinality_error"}
    parity.assert_close(mine.loss, theirs.loss, "loss", atol=ATOL)
    for key in theirs.loss_dict:
        parity.assert_close(mine.loss_dict[key], theirs.loss_dict[key], key, atol=ATOL)
    if any(counts):  # the box terms are not all zero: something was matched and regressed
        assert mine.loss_dict["loss_bbox"] > 0 and mine.loss_dict["loss_giou"] > 0
    assert my_grads.keys() == their_grads.keys()
    assert set(my_grads) == {name for name, _ in ours.named_parameters()} - {"vit.pooler.dense.weight",
                                                                             "vit.pooler.dense.bias"}
    for name, grad in their_grads.items():
        parity.assert_close(my_grads[name], grad, f"grad {name}", atol=ATOL)
        GRAD_DIFF[0] = max(GRAD_DIFF[0], (my_grads[name] - grad).abs().max().item())
    LOSS_DIFF[0] = max([LOSS_DIFF[0], (mine.loss - theirs.loss).abs().item()]
                       + [(mine.loss_dict[k] - theirs.loss_dict[k]).abs().item() for k in theirs.loss_dict])
    print(f"largest differences so far: loss/loss_dict {LOSS_DIFF[0]:.2e}, gradients {GRAD_DIFF[0]:.2e}")
    assert sum(grad.abs().sum() for grad in my_grads.values()) > 0


def test_matching_equals_transformers(tmp_path):
    from transformers.loss.loss_for_object_detection import HungarianMatcher

    ours, _ = pair(tmp_path)
    counts = (2, 0, 6, 1, 5)
    pixel_values = torch.randn(len(counts), 3, 32, 32, generator=torch.Generator().manual_seed(2))
    labels = random_labels(counts, TINY["num_labels"], seed=4)
    with torch.no_grad():
        output = ours(pixel_values=pixel_values)
    config = ours.config
    mine = hungarian_match(output.logits, output.pred_boxes, labels, config.class_cost, config.bbox_cost,
                           config.giou_cost)
    theirs = HungarianMatcher(config.class_cost, config.bbox_cost, config.giou_cost)(
        {"logits": output.logits, "pred_boxes": output.pred_boxes}, labels)
    for count, (tokens, objects), (their_tokens, their_objects) in zip(counts, mine, theirs):
        assert len(tokens) == min(count, config.num_detection_tokens)
        assert torch.equal(tokens, their_tokens) and torch.equal(objects, their_objects)


def test_bad_labels_name_the_fix():
    model = YolosForObjectDetection(YolosConfig(**TINY))
    pixel_values = torch.randn(2, 3, 32, 32)
    good = random_labels((1, 2), TINY["num_labels"])

    def refuses(error, pattern, labels, pixels=pixel_values):
        with pytest.raises(error, match=pattern):
            model(pixel_values=pixels, labels=labels)

    refuses(TypeError, "one dict per image.*Got dict", good[0])
    refuses(ValueError, "labels has 1 dicts but pixel_values has 2 images", good[:1])
    refuses(ValueError, r"labels\[1\] has no \['boxes'\]", [good[0], {"class_labels": torch.tensor([0])}])
    wrong_shape = {"class_labels": torch.tensor([0, 1]), "boxes": torch.rand(2, 5)}
    refuses(ValueError, r"labels\[1\]\['boxes'\] must have shape \(2, 4\).*got \(2, 5\)", [good[0], wrong_shape])
    flat = {"class_labels": torch.tensor([0]), "boxes": torch.rand(4)}
    refuses(ValueError, r"must have shape \(1, 4\).*got \(4,\)", [good[0], flat])
    fewer_classes = {"class_labels": torch.tensor([0]), "boxes": torch.rand(2, 4)}
    refuses(ValueError, r"must have shape \(1, 4\).*got \(2, 4\)", [good[0], fewer_classes])
    pixels = {"class_labels": torch.tensor([0]), "boxes": torch.tensor([[16.0, 12.0, 8.0, 8.0]])}
    refuses(ValueError, r"must lie in \[0, 1\].*Divide center_x and width by the image width", [good[0], pixels])
    negative = {"class_labels": torch.tensor([0]), "boxes": torch.tensor([[0.5, 0.5, -0.1, 0.2]])}
    refuses(ValueError, r"must lie in \[0, 1\]", [good[0], negative])
    not_finite = {"class_labels": torch.tensor([0]), "boxes": torch.tensor([[0.5, float("nan"), 0.1, 0.2]])}
    refuses(ValueError, r"must lie in \[0, 1\]", [good[0], not_finite])
    too_large_class = {"class_labels": torch.tensor([3]), "boxes": torch.rand(1, 4)}
    refuses(ValueError, r"holds \[3\], but this model has num_labels=3 classes \(ids 0..2", [good[0], too_large_class])
    float_classes = {"class_labels": torch.tensor([0.0]), "boxes": torch.rand(1, 4)}
    refuses(ValueError, "1-D tensor of integer class ids, got dtype torch.float32", [good[0], float_classes])
    refuses(TypeError, "pixel_values must be a torch.Tensor", good, pixels=None)

    with_auxiliary = YolosForObjectDetection(YolosConfig(**TINY, auxiliary_loss=True))
    with pytest.raises(NotImplementedError, match="auxiliary_loss=True.*Set auxiliary_loss=False"):
        with_auxiliary(pixel_values=pixel_values, labels=good)
    assert with_auxiliary(pixel_values=pixel_values).loss is None  # inference is unaffected
