"""Every loss `train segmenter --loss` accepts has words for the model card (`export segmenter`)."""

from brainscan.training.export_segmenter import LOSS_WORDS
from brainscan.training.losses import LOSSES


def test_every_training_loss_is_worded_for_the_card():
    assert set(LOSS_WORDS) == set(LOSSES)
